/* test_sched.c - the scheduler end to end on a real store and dataset (grid expansion:
 * test_grid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

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

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ---- the scheduler on a real store ---------------------------------------------------------- */

typedef struct events {
    pthread_mutex_t lock;
    int started, iterations, finished, sweeps_finished;
    char last_sweep_status[16];
} events_t;

static void on_event(const sched_event_t *ev, void *user) {
    events_t *e = user;
    pthread_mutex_lock(&e->lock);
    switch (ev->type) {
    case SCHED_EVENT_TRIAL_STARTED:
        e->started++;
        break;
    case SCHED_EVENT_ITERATION:
        e->iterations++;
        break;
    case SCHED_EVENT_TRIAL_FINISHED:
        e->finished++;
        break;
    case SCHED_EVENT_SWEEP_FINISHED:
        e->sweeps_finished++;
        snprintf(e->last_sweep_status, sizeof e->last_sweep_status, "%s", ev->status);
        break;
    }
    pthread_mutex_unlock(&e->lock);
}

typedef struct fixture {
    char dir[64];
    char db[96];
    sched_t *s;
    events_t ev;
    int64_t dataset_id;
} fixture_t;

static int fixture_up(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mlpt-sched-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/mlptune.db", f->dir);
    pthread_mutex_init(&f->ev.lock, NULL);
    /* iris as the service keeps it: a matrix file under the data dir */
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(MLPT_TEST_DATA_DIR "/iris.csv", NULL, &ds, NULL), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/iris.mlds", f->dir);
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    trainer_dataset_free(ds);
    *state = f;
    return 0;
}

/* A reader that finds the models and checkpoints the scheduler keeps as files. */
static store_t *open_reader(fixture_t *f, store_error_t *err) {
    store_t *r = store_open(f->db, STORE_READER, err);
    assert_non_null(r);
    assert_int_equal(store_set_data_dir(r, f->dir, err), 0);
    return r;
}

static void start(fixture_t *f, int workers) {
    sched_config_t cfg = {.data_dir = f->dir,
                          .db_path = f->db,
                          .workers = workers,
                          .cores = 2,
                          .checkpoint_every = 25};
    store_error_t err;
    f->s = sched_start(&cfg, &err);
    assert_non_null(f->s);
    sched_set_listener(f->s, on_event, &f->ev);
}

static int fixture_down(void **state) {
    fixture_t *f = *state;
    sched_stop(f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&f->ev.lock);
    free(f);
    return 0;
}

static int64_t add_iris(fixture_t *f) {
    store_dataset_new_t d = {.name = "iris",
                             .format = "csv",
                             .scaling = "standardize",
                             .rows = 150,
                             .features = 4,
                             .classes = 3,
                             .class_names_json = "[\"setosa\",\"versicolor\",\"virginica\"]",
                             .class_counts_json = "[50,50,50]",
                             .size_bytes = 1,
                             .sha256 = "00",
                             .storage_path = "iris.mlds",
                             .created_at = 1.0};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_dataset_create(f->s, &d, &id, &err), 0);
    assert_true(id > 0);
    return id;
}

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

static json_t *wait_sweep(fixture_t *f, int64_t id, const char *status, double seconds) {
    store_error_t err;
    store_t *r = open_reader(f, &err);
    assert_non_null(r);
    json_t *sw = NULL;
    for (int i = 0; i < (int)(seconds * 100); i++) {
        json_decref(sw);
        sw = store_sweep_get(r, id, &err);
        assert_non_null(sw);
        if (!strcmp(json_string_value(json_object_get(sw, "status")), status))
            break;
        sleep_us(10000);
    }
    store_close(r);
    assert_string_equal(json_string_value(json_object_get(sw, "status")), status);
    return sw;
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

/* The rows of one trial without the seconds (which a separate run measures anew). */
static json_t *rows_of(store_t *r, int64_t trial_id, int keep_seconds) {
    store_error_t err;
    json_t *h = store_trial_history(r, trial_id, 0, &err);
    assert_non_null(h);
    json_t *rows = json_deep_copy(json_object_get(h, "history"));
    json_decref(h);
    for (size_t i = 0; !keep_seconds && i < json_array_size(rows); i++)
        json_object_del(json_array_get(rows, i), "seconds");
    return rows;
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

/* One hidden layer of 8, batch 16, the seed grid's learning rates (n_lr of them), and the
 * given iteration counts: a small sweep that shares prefixes. */
static sched_spec_t small_spec(size_t n_lr, size_t n_it, const size_t *its) {
    sched_spec_t spec = fx_seed_grid();
    spec.n_hidden_layers = 1;
    spec.n_neurons = 1;
    spec.neurons[0] = 8;
    spec.n_learning_rate = n_lr;
    spec.batch_size[0] = 16;
    spec.n_iterations = n_it;
    for (size_t i = 0; i < n_it; i++)
        spec.iterations[i] = its[i];
    return spec;
}

/* Two trials' models are the same bytes. */
static void assert_same_model(store_t *r, int64_t a, int64_t b) {
    store_error_t err;
    void *m1, *m2;
    size_t l1, l2;
    assert_int_equal(store_trial_model(r, a, &m1, &l1, &err), 0);
    assert_int_equal(store_trial_model(r, b, &m2, &l2, &err), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(m1, m2, l1);
    free(m1);
    free(m2);
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

/* Two sweeps' histories, trial by trial (by ordinal), without the seconds. */
static void assert_same_histories(store_t *r, int64_t a, int64_t b) {
    store_error_t err;
    json_t *ha = store_sweep_history(r, a, &err), *hb = store_sweep_history(r, b, &err);
    json_t *ta = json_object_get(ha, "trials"), *tb = json_object_get(hb, "trials");
    assert_int_equal(json_array_size(ta), json_array_size(tb));
    for (size_t i = 0; i < json_array_size(ta); i++) {
        int64_t ia = json_integer_value(json_object_get(json_array_get(ta, i), "trial_id"));
        int64_t ib = json_integer_value(json_object_get(json_array_get(tb, i), "trial_id"));
        json_t *ra = rows_of(r, ia, 0), *rb = rows_of(r, ib, 0);
        assert_true(json_array_size(ra) > 0);
        assert_true(json_equal(ra, rb));
        json_decref(ra);
        json_decref(rb);
        assert_same_model(r, ia, ib);
    }
    json_decref(ha);
    json_decref(hb);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_runs_to_completion, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_cancel_and_conflicts, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_unknown_dataset_and_stop_requeues, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_shared_prefixes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_resume_is_exact, fixture_up, fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
