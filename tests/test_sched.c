/* test_sched.c - the scheduler end to end on a real store and dataset (grid expansion:
 * test_grid.c; crashes and resume with stored rows: test_sched_resume.c; fixtures:
 * support/sched_live_fixtures.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "sched.h"
#include "sched_fixtures.h"
#include "sched_live_fixtures.h"

/* ---- the scheduler on a real store ---------------------------------------------------------- */

static int64_t create_sweep(fixture_t *f, int64_t dataset_id, size_t iterations, size_t n_lr) {
    sched_spec_t spec = fx_seed_grid();
    spec.neurons[0] = 8;
    spec.neurons[1] = 16;
    spec.n_learning_rate = n_lr;
    spec.iterations[0] = iterations;
    spec.batch_size[0] = 16;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {
        .name = "test", .dataset_id = dataset_id, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &id, &err), 0);
    free(t);
    return id;
}

/* sched_sweep_create's answer for a small sweep. */
static int create_sweep_rc(fixture_t *f, int64_t dataset_id) {
    sched_spec_t spec = fx_seed_grid();
    spec.iterations[0] = 2;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {
        .name = "x", .dataset_id = dataset_id, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t id = 0;
    store_error_t err;
    int rc = sched_sweep_create(f->s, &req, &id, &err);
    free(t);
    return rc;
}

static void test_sweep_runs_to_completion(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    int64_t sweep = create_sweep(f, ds, 5, 2);
    json_t *sw = wait_sweep(f, sweep, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 8);
    assert_true(json_is_object(json_object_get(sw, "best_trial")));
    json_decref(sw);
    /* every trial has one history row per iteration, contiguous from 1 */
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *h = store_sweep_history(r, sweep, &err);
    assert_non_null(h);
    json_t *trials = json_object_get(h, "trials");
    assert_int_equal(json_array_size(trials), 8);
    for (size_t i = 0; i < 8; i++) {
        json_t *t = json_array_get(trials, i);
        json_t *rows = json_object_get(t, "history");
        assert_int_equal(json_array_size(rows), 5);
        for (size_t k = 0; k < 5; k++)
            assert_int_equal(
                json_integer_value(json_object_get(json_array_get(rows, k), "iteration")),
                (json_int_t)k + 1);
        assert_string_equal(json_string_value(json_object_get(t, "status")), "completed");
    }
    json_decref(h);
    /* each ran here: rank 0, this host, the pool's 2 workers */
    char host[64] = {0};
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    assert_non_null(list);
    for (size_t i = 0; i < 8; i++) {
        json_t *where =
            json_object_get(json_array_get(json_object_get(list, "items"), i), "placement");
        assert_true(json_is_object(where));
        assert_int_equal(json_integer_value(json_object_get(where, "rank")), 0);
        assert_string_equal(json_string_value(json_object_get(where, "host")), host);
        assert_int_equal(json_integer_value(json_object_get(where, "workers")), 2);
    }
    json_decref(list);
    store_close(r);
    pthread_mutex_lock(&f->ev.lock);
    assert_int_equal(f->ev.started, 8);
    assert_int_equal(f->ev.iterations, 40);
    assert_int_equal(f->ev.finished, 8);
    assert_int_equal(f->ev.sweeps_finished, 1);
    assert_string_equal(f->ev.last_sweep_status, "completed");
    pthread_mutex_unlock(&f->ev.lock);
    sched_stats_t st;
    sched_stats(f->s, &st);
    assert_int_equal(st.iterations_trained, 40);
    assert_int_equal(st.running_trials, 0);
    assert_int_equal(st.queued_trials, 0);
    /* a finished sweep can be deleted; the dataset then too */
    assert_int_equal(sched_sweep_delete(f->s, sweep, &err), 0);
    assert_int_equal(sched_sweep_delete(f->s, sweep, &err), MLPT_ENOTFOUND);
    assert_int_equal(sched_dataset_delete(f->s, ds, &err), 0);
}

static void test_cancel_and_conflicts(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    int64_t sweep = create_sweep(f, ds, 20000, 2); /* long enough to cancel mid-run */
    store_error_t err;
    assert_int_equal(sched_dataset_delete(f->s, ds, &err), MLPT_ESTATE);
    assert_int_equal(sched_sweep_delete(f->s, sweep, &err), MLPT_ESTATE);
    /* wait for the first trial to report an iteration, then cancel */
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&f->ev.lock);
        int it = f->ev.iterations;
        pthread_mutex_unlock(&f->ev.lock);
        if (it > 0)
            break;
        sleep_us(5000);
    }
    assert_int_equal(sched_sweep_cancel(f->s, sweep, &err), 0);
    json_t *sw = wait_sweep(f, sweep, "canceled", 30);
    json_decref(sw);
    for (int i = 0; i < 1000; i++) {
        sched_stats_t st;
        sched_stats(f->s, &st);
        if (st.running_trials == 0)
            break;
        sleep_us(10000);
    }
    assert_int_equal(sched_sweep_cancel(f->s, sweep, &err), MLPT_ESTATE);
    assert_int_equal(sched_sweep_cancel(f->s, 999999, &err), MLPT_ENOTFOUND);
    /* the canceled trial kept its history */
    store_t *r = open_reader(f, &err);
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    assert_non_null(list);
    int canceled = 0, with_history = 0;
    json_t *items = json_object_get(list, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *t = json_array_get(items, i);
        canceled += !strcmp(json_string_value(json_object_get(t, "status")), "canceled");
        with_history += json_integer_value(json_object_get(t, "iterations_done")) > 0;
        /* placed once it ran; a trial canceled while queued never ran: null */
        int ran = json_integer_value(json_object_get(t, "attempt")) > 0;
        assert_int_equal(json_is_object(json_object_get(t, "placement")), ran);
    }
    assert_int_equal(canceled, 8);
    assert_true(with_history >= 1);
    json_decref(list);
    store_close(r);
}

static void test_unknown_dataset_and_stop_requeues(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    store_error_t err;
    sched_spec_t spec = fx_seed_grid();
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = 4242, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t id;
    assert_int_equal(sched_sweep_create(f->s, &req, &id, &err), MLPT_ENOTFOUND);
    free(t);
    /* A long sweep, stopped gracefully mid-run, runs again after a restart. */
    int64_t ds = add_iris(f);
    int64_t sweep = create_sweep(f, ds, 5000, 1);
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&f->ev.lock);
        int it = f->ev.iterations;
        pthread_mutex_unlock(&f->ev.lock);
        if (it > 0)
            break;
        sleep_us(5000);
    }
    sched_stop(f->s);
    f->s = NULL;
    {
        /* It really stopped mid-sweep: the sweep is still running. */
        store_t *r0 = open_reader(f, &err);
        json_t *mid = store_sweep_get(r0, sweep, &err);
        assert_string_equal(json_string_value(json_object_get(mid, "status")), "running");
        json_decref(mid);
        store_close(r0);
    }
    start(f, 2);
    json_t *sw = wait_sweep(f, sweep, "completed", 120);
    json_decref(sw);
    store_t *r = open_reader(f, &err);
    json_t *h = store_sweep_history(r, sweep, &err);
    json_t *trials = json_object_get(h, "trials");
    for (size_t i = 0; i < json_array_size(trials); i++) {
        json_t *rows = json_object_get(json_array_get(trials, i), "history");
        assert_int_equal(json_array_size(rows), 5000);
        for (size_t k = 0; k < 5000; k++)
            assert_int_equal(
                json_integer_value(json_object_get(json_array_get(rows, k), "iteration")),
                (json_int_t)k + 1);
    }
    json_decref(h);
    store_close(r);
}

static json_t *trial_of_length(store_t *r, int64_t sweep, json_int_t iterations) {
    store_error_t err;
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    json_t *items = json_object_get(list, "items"), *found = NULL;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *t = json_array_get(items, i);
        if (json_integer_value(json_object_get(json_object_get(t, "params"), "iterations")) ==
            iterations)
            found = json_incref(t);
    }
    json_decref(list);
    assert_non_null(found);
    return found;
}

/* Trials that differ only in iterations run once: the shorter ones take the first rows of the
 * longest (the same rows, seconds included), end with their own model and figures, and equal a
 * run of their own. */
static void test_shared_prefixes(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(1, 3, (const size_t[]){3, 12, 6});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 3);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t shared, alone;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &shared, &err), 0);
    json_decref(wait_sweep(f, shared, "completed", 60));
    pthread_mutex_lock(&f->ev.lock);
    assert_int_equal(f->ev.started, 3);
    assert_int_equal(f->ev.iterations, 3 + 6 + 12);
    assert_int_equal(f->ev.finished, 3);
    pthread_mutex_unlock(&f->ev.lock);
    /* the same 6-iteration trial alone */
    spec.n_iterations = 1;
    spec.iterations[0] = 6;
    free(t);
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    req.trials = t;
    req.n_trials = n;
    assert_int_equal(sched_sweep_create(f->s, &req, &alone, &err), 0);
    json_decref(wait_sweep(f, alone, "completed", 60));
    free(t);

    store_t *r = open_reader(f, &err);
    json_t *t3 = trial_of_length(r, shared, 3), *t6 = trial_of_length(r, shared, 6),
           *t12 = trial_of_length(r, shared, 12), *a6 = trial_of_length(r, alone, 6);
    json_t *r12 = rows_of(r, json_integer_value(json_object_get(t12, "id")), 1);
    json_t *r3 = rows_of(r, json_integer_value(json_object_get(t3, "id")), 1);
    assert_int_equal(json_array_size(r12), 12);
    assert_int_equal(json_array_size(r3), 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_equal(json_array_get(r3, i), json_array_get(r12, i)));
    json_t *r6 = rows_of(r, json_integer_value(json_object_get(t6, "id")), 0);
    json_t *ra6 = rows_of(r, json_integer_value(json_object_get(a6, "id")), 0);
    assert_true(json_equal(r6, ra6));
    json_t *trials[3] = {t3, t6, t12};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(json_string_value(json_object_get(trials[i], "status")), "completed");
        assert_true(json_is_true(json_object_get(trials[i], "has_model")));
    }
    /* the follower's figures are its own, not the leader's */
    assert_true(json_real_value(json_object_get(t6, "best_val_accuracy")) ==
                json_real_value(json_object_get(a6, "best_val_accuracy")));
    assert_true(json_real_value(json_object_get(t6, "final_val_accuracy")) ==
                json_real_value(json_object_get(a6, "final_val_accuracy")));
    assert_same_model(r, json_integer_value(json_object_get(t6, "id")),
                      json_integer_value(json_object_get(a6, "id")));
    json_decref(r3);
    json_decref(r6);
    json_decref(ra6);
    json_decref(r12);
    for (int i = 0; i < 3; i++)
        json_decref(trials[i]);
    json_decref(a6);
    store_close(r);
}

/* A sweep stopped mid-run (each running trial checkpoints as it stops, and every 25 iterations)
 * resumes after the restart and ends with exactly the histories and models of the same sweep
 * run without a stop: shared prefixes, helpers and overlapped validation included. */
static void test_resume_is_exact(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(2, 2, (const size_t[]){40, 1500});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 4);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t whole, cut;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &whole, &err), 0);
    json_decref(wait_sweep(f, whole, "completed", 120));
    pthread_mutex_lock(&f->ev.lock);
    int before = f->ev.iterations;
    pthread_mutex_unlock(&f->ev.lock);
    assert_int_equal(sched_sweep_create(f->s, &req, &cut, &err), 0);
    free(t);
    for (int i = 0; i < 4000; i++) { /* past the followers' ends and a few checkpoints */
        pthread_mutex_lock(&f->ev.lock);
        int it = f->ev.iterations - before;
        pthread_mutex_unlock(&f->ev.lock);
        if (it > 400)
            break;
        sleep_us(1000);
    }
    sched_stop(f->s);
    f->s = NULL;
    store_t *r = open_reader(f, &err);
    json_t *mid = store_sweep_get(r, cut, &err);
    assert_string_equal(json_string_value(json_object_get(mid, "status")), "running");
    json_decref(mid);
    /* The stop left checkpoints: the trials that ran keep their rows up to them (seconds and
     * all) instead of starting over. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT t.id, t.checkpoint_iteration FROM trials t JOIN "
                                        "trial_checkpoints c ON c.trial_id = t.id WHERE "
                                        "t.sweep_id = ?1 AND t.status = 'running' AND "
                                        "c.iteration = t.checkpoint_iteration",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, cut);
    int64_t ids[4];
    json_t *kept[4];
    size_t n_kept = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n_kept < 4) {
        ids[n_kept] = sqlite3_column_int64(q, 0);
        json_int_t k = sqlite3_column_int64(q, 1);
        assert_true(k > 0);
        json_t *rows = rows_of(r, ids[n_kept], 1);
        assert_true(json_array_size(rows) >= (size_t)k);
        while (json_array_size(rows) > (size_t)k)
            json_array_remove(rows, json_array_size(rows) - 1);
        kept[n_kept++] = rows;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_true(n_kept > 0);
    store_close(r);
    start(f, 2);
    json_decref(wait_sweep(f, cut, "completed", 120));
    r = open_reader(f, &err);
    assert_same_histories(r, whole, cut);
    for (size_t i = 0; i < n_kept; i++) {
        json_t *rows = rows_of(r, ids[i], 1);
        for (size_t k = 0; k < json_array_size(kept[i]); k++)
            assert_true(json_equal(json_array_get(rows, k), json_array_get(kept[i], k)));
        json_decref(rows);
        json_decref(kept[i]);
    }
    store_close(r);
}

/* The database file deleted under a running sweep: within 2 s the scheduler says so (for good),
 * training stops (no trial left running), and every command answers MLPT_EBUSY saying why; a
 * stop still finishes. */
static void test_database_deleted(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    int64_t sweep = create_sweep(f, ds, 20000, 2);
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&f->ev.lock);
        int it = f->ev.iterations;
        pthread_mutex_unlock(&f->ev.lock);
        if (it > 0)
            break;
        sleep_us(5000);
    }
    sched_health_t h;
    sched_health(f->s, &h);
    assert_int_equal(h.db_lost, 0);
    assert_int_equal(unlink(f->db), 0);
    int waited_ms = 0;
    for (; waited_ms < 5000; waited_ms += 10) {
        sched_health(f->s, &h);
        if (h.db_lost)
            break;
        sleep_us(10000);
    }
    assert_int_equal(h.db_lost, MLPT_ENOTFOUND);
    assert_true(waited_ms < 2000);
    store_error_t err;
    assert_int_equal(sched_sweep_cancel(f->s, sweep, &err), MLPT_EBUSY);
    assert_non_null(strstr(err.message, "deleted"));
    assert_int_equal(sched_dataset_delete(f->s, ds, &err), MLPT_EBUSY);
    assert_int_equal(create_sweep_rc(f, ds), MLPT_EBUSY);
    sched_stats_t st;
    for (int i = 0; i < 1000; i++) {
        sched_stats(f->s, &st);
        if (st.running_trials == 0)
            break;
        sleep_us(10000);
    }
    assert_int_equal(st.running_trials, 0);
    sched_health(f->s, &h);
    assert_int_equal(h.db_lost, MLPT_ENOTFOUND); /* sticky */
}

/* ---- a search strategy that grows its sweep and prunes a trial ------------------------------ */

/* Plans each trial as a job of its own; when trial A reports iteration 1 it adds a trial C (A's
 * parameters, 3 iterations); when trial B reports iteration 2 it prunes B. It stays
 * unexhausted until C is added, so the sweep cannot finish before. Written on the loop thread,
 * read by the test once the sweep has finished (atomics: no other order between them). */
typedef struct grow_prune {
    sched_strategy_t base;
    int64_t a, b;
    sched_params_t a_params;
    atomic_llong added;      /* C's id once added */
    atomic_int add_rc;       /* ctl->add's answer */
    atomic_int prune_rc;     /* ctl->stop(B, PRUNED) */
    atomic_int again_rc;     /* ctl->stop(B, PRUNED) a second time */
    atomic_int unknown_rc;   /* ctl->stop(unknown trial) */
    atomic_int reason_rc;    /* ctl->stop(B, CANCEL): not a strategy's reason */
    atomic_int ends;         /* on_end calls */
    atomic_int b_pruned_end; /* on_end(B) said "pruned" */
} grow_prune_t;

static int gp_plan(sched_strategy_t *st, sched_search_ctl_t *ctl, const sched_strategy_trial_t *t,
                   size_t n) {
    grow_prune_t *g = (grow_prune_t *)st;
    assert_int_equal(n, 2);
    g->a = t[0].trial_id;
    g->b = t[1].trial_id;
    g->a_params = t[0].params;
    for (size_t i = 0; i < n; i++) {
        int rc = ctl->queue(ctl, &t[i], NULL, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void gp_iteration(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                         const store_metric_t *m) {
    grow_prune_t *g = (grow_prune_t *)st;
    if (trial_id == g->a && m->iteration == 1 && atomic_load(&g->added) == 0) {
        sched_params_t c = g->a_params;
        c.iterations = 3;
        int64_t id = 0;
        atomic_store(&g->add_rc, ctl->add(ctl, &c, 1, &id));
        atomic_store(&g->added, (long long)id);
    }
    if (trial_id == g->b && m->iteration == 2) {
        atomic_store(&g->reason_rc, ctl->stop(ctl, g->b, SCHED_STOP_CANCEL));
        atomic_store(&g->unknown_rc, ctl->stop(ctl, 999999, SCHED_STOP_PRUNED));
        atomic_store(&g->prune_rc, ctl->stop(ctl, g->b, SCHED_STOP_PRUNED));
        atomic_store(&g->again_rc, ctl->stop(ctl, g->b, SCHED_STOP_PRUNED));
    }
}

static void gp_end(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                   const char *status) {
    (void)ctl;
    grow_prune_t *g = (grow_prune_t *)st;
    atomic_fetch_add(&g->ends, 1);
    if (trial_id == g->b && !strcmp(status, "pruned"))
        atomic_store(&g->b_pruned_end, 1);
}

static int gp_exhausted(sched_strategy_t *st) {
    return atomic_load(&((grow_prune_t *)st)->added) != 0;
}

static void gp_free(sched_strategy_t *st) {
    (void)st; /* the test reads it afterwards and frees it */
}

static const sched_strategy_ops_t gp_ops = {.plan = gp_plan,
                                            .on_iteration = gp_iteration,
                                            .on_end = gp_end,
                                            .exhausted = gp_exhausted,
                                            .free = gp_free};

static sched_strategy_t *gp_new(void *user, int64_t sweep_id) {
    (void)sweep_id;
    grow_prune_t *g = user;
    g->base.ops = &gp_ops;
    return &g->base;
}

static json_t *trial_by_id(store_t *r, int64_t id) {
    store_error_t err;
    json_t *t = store_trial_get(r, id, &err);
    assert_non_null(t);
    return t;
}

/* The strategy seam: a sweep that grows while it runs (ordinals continue, trials_total grows,
 * the new trial runs and completes) and a running trial pruned by its strategy (state pruned,
 * its history, best figures and model kept). */
static void test_strategy_grows_and_prunes(void **state) {
    fixture_t *f = *state;
    grow_prune_t *g = calloc(1, sizeof *g);
    start_with(f, (sched_config_t){.workers = 2,
                                   .cores = 2,
                                   .checkpoint_every = 25,
                                   .strategy_new = gp_new,
                                   .strategy_user = g});
    int64_t ds = add_iris(f);
    /* A: 5 iterations; B: far too many to finish before it is pruned */
    sched_spec_t spec = small_spec(2, 1, (const size_t[]){5});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 2);
    t[1].iterations = 1000000;
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t sweep;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    free(t);
    json_t *sw = wait_sweep(f, sweep, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 3);
    json_t *counts = json_object_get(sw, "trials");
    assert_int_equal(json_integer_value(json_object_get(counts, "completed")), 2);
    assert_int_equal(json_integer_value(json_object_get(counts, "pruned")), 1);
    json_decref(sw);

    assert_int_equal(atomic_load(&g->add_rc), 0);
    assert_int_equal(atomic_load(&g->prune_rc), 0);
    assert_int_equal(atomic_load(&g->again_rc), MLPT_ESTATE);
    assert_int_equal(atomic_load(&g->unknown_rc), MLPT_ESTATE);
    assert_int_equal(atomic_load(&g->reason_rc), MLPT_EINVAL);
    assert_int_equal(atomic_load(&g->ends), 3);
    assert_int_equal(atomic_load(&g->b_pruned_end), 1);
    int64_t c = (int64_t)atomic_load(&g->added);
    assert_true(c > g->b);

    store_t *r = open_reader(f, &err);
    json_t *tc = trial_by_id(r, c);
    assert_int_equal(json_integer_value(json_object_get(tc, "ordinal")), 2);
    assert_string_equal(json_string_value(json_object_get(tc, "status")), "completed");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(tc, "params"), "iterations")), 3);
    json_t *rc_rows = rows_of(r, c, 0);
    assert_int_equal(json_array_size(rc_rows), 3);
    json_decref(rc_rows);
    json_decref(tc);

    json_t *tb = trial_by_id(r, g->b);
    assert_string_equal(json_string_value(json_object_get(tb, "status")), "pruned");
    json_int_t done = json_integer_value(json_object_get(tb, "iterations_done"));
    assert_true(done >= 2 && done < 1000000);
    json_t *rb = rows_of(r, g->b, 0);
    assert_int_equal(json_array_size(rb), (size_t)done); /* its whole history is kept */
    json_decref(rb);
    assert_true(json_is_number(json_object_get(tb, "best_val_accuracy")));
    assert_true(json_is_number(json_object_get(tb, "final_val_accuracy")));
    assert_true(json_is_true(json_object_get(tb, "has_model")));
    json_decref(tb);
    void *model;
    size_t len;
    assert_int_equal(store_trial_model(r, g->b, &model, &len, &err), 0);
    assert_true(len > 0);
    free(model);
    store_close(r);

    pthread_mutex_lock(&f->ev.lock);
    assert_int_equal(f->ev.started, 3); /* C announced like the others */
    assert_int_equal(f->ev.finished, 3);
    assert_int_equal(f->ev.sweeps_finished, 1);
    pthread_mutex_unlock(&f->ev.lock);
    sched_stop(f->s);
    f->s = NULL;
    free(g);
}

/* A sweep's ranks (scheduler/ranks.h) go into every trial's params. "auto" is decided when the
 * trial starts and recorded: one rank on the local pool (its interval stays "auto": one rank
 * never averages). A trial stored with 2 ranks (a request the API would refuse here, or a
 * database from an MPI run) ends failed on the local pool, saying why, and keeps its spec. */
static json_t *sweep_with_ranks(fixture_t *f, int64_t ds, sched_ranks_t ranks, const char *status) {
    sched_spec_t spec = fx_seed_grid();
    spec.n_neurons = 1;
    spec.n_learning_rate = 1;
    spec.iterations[0] = 2;
    spec.batch_size[0] = 16;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.name = "ranks",
                                 .dataset_id = ds,
                                 .spec_json = "{}",
                                 .trials = t,
                                 .n_trials = n,
                                 .ranks = ranks};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &id, &err), 0);
    free(t);
    json_decref(wait_sweep(f, id, status, 60));
    store_t *r = open_reader(f, &err);
    json_t *list = store_trial_list(r, id, NULL, 100, NULL, &err);
    store_close(r);
    assert_non_null(list);
    assert_true(json_array_size(json_object_get(list, "items")) >= 1);
    return list;
}

static void test_ranks_in_trial_params(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    json_t *list = sweep_with_ranks(f, ds, (sched_ranks_t){0, 0}, "completed");
    size_t i;
    json_t *tr;
    json_array_foreach(json_object_get(list, "items"), i, tr) {
        const json_t *p = json_object_get(tr, "params");
        assert_int_equal(json_integer_value(json_object_get(p, "ranks")), 1);
        assert_string_equal(json_string_value(json_object_get(p, "sync_every")), "auto");
        assert_string_equal(json_string_value(json_object_get(tr, "status")), "completed");
    }
    json_decref(list);

    list = sweep_with_ranks(f, ds, (sched_ranks_t){2, 4}, "failed");
    json_array_foreach(json_object_get(list, "items"), i, tr) {
        const json_t *p = json_object_get(tr, "params");
        assert_int_equal(json_integer_value(json_object_get(p, "ranks")), 2);
        assert_int_equal(json_integer_value(json_object_get(p, "sync_every")), 4);
        assert_string_equal(json_string_value(json_object_get(tr, "status")), "failed");
        const char *why = json_string_value(json_object_get(tr, "error"));
        assert_non_null(why);
        if (!strstr(why, "across 2 ranks") || !strstr(why, "serve --mpi"))
            fail_msg("error: %s", why);
    }
    json_decref(list);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_runs_to_completion, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_cancel_and_conflicts, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_unknown_dataset_and_stop_requeues, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_shared_prefixes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_resume_is_exact, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_database_deleted, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_strategy_grows_and_prunes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_ranks_in_trial_params, fixture_up, fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
