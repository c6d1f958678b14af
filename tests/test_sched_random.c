/* test_sched_random.c - random search (scheduler/space.h, strategy_random.c) and TPE on it
 * (strategy_tpe.c: its trials are the proposals from the stored trials): the seeded draw is a
 * pure function of (seed, k) within the space; a random sweep of iris with max_trials 6 stores 6
 * distinct trials equal to the draws, the same seed the same ones; a sweep stopped mid-way and
 * resumed continues with the same proposals; max_iterations_total ends it early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include <math.h>
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
#include "params.h"
#include "sched.h"
#include "sched_fixtures.h"
#include "sched_live_fixtures.h"
#include "space.h"
#include "tpe.h"

static size_t row(const char *name) {
    return (size_t)(sched_param_find(name) - sched_param_table);
}

/* hidden_layers [1, 2] x neurons [4, 8] x learning_rate log-uniform in [0.01, 1] x batch_size
 * in [8, 32] (integers), `iterations` each. */
static sched_space_t iris_space(size_t iterations, size_t max_trials, uint64_t seed) {
    sched_space_t sp;
    memset(&sp, 0, sizeof sp);
    sp.type = SCHED_SEARCH_RANDOM;
    sp.seed = seed;
    sp.max_trials = max_trials;
    sched_params_defaults(&sp.base);
    sp.hidden_layers = (sched_dim_t){.kind = SCHED_DIM_LIST, .n = 2, .list = {{.i = 1}, {.i = 2}}};
    sp.neurons = (sched_dim_t){.kind = SCHED_DIM_LIST, .n = 2, .list = {{.i = 4}, {.i = 8}}};
    sp.dim[row("learning_rate")] =
        (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 0.01, .high = 1.0, .log = 1};
    sp.dim[row("batch_size")] = (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 8, .high = 32};
    sp.dim[row("iterations")] =
        (sched_dim_t){.kind = SCHED_DIM_LIST, .n = 1, .list = {{.i = iterations}}};
    return sp;
}

static void test_draw_is_pure_and_in_range(void **state) {
    (void)state;
    sched_space_t sp = iris_space(3, 100, 5);
    int seen_lo = 0, seen_hi = 0;
    for (uint64_t k = 0; k < 400; k++) {
        sched_params_t a, b, c;
        sched_space_draw(&sp, 5, k, &a);
        sched_space_draw(&sp, 5, k, &b);
        sched_space_draw(&sp, 6, k, &c);
        assert_true(sched_params_same(&a, &b, 0));
        assert_false(a.learning_rate == c.learning_rate);
        assert_true(a.learning_rate >= 0.01 && a.learning_rate <= 1.0);
        assert_true(a.batch_size >= 8 && a.batch_size <= 32);
        seen_lo |= a.batch_size == 8;
        seen_hi |= a.batch_size == 32;
        assert_true(a.shape.n_hidden == 1 || a.shape.n_hidden == 2);
        assert_true(a.shape.hidden[0] == 4 || a.shape.hidden[0] == 8);
        assert_int_equal(a.iterations, 3);
        assert_true(a.momentum == sp.base.momentum);
    }
    assert_true(seen_lo && seen_hi); /* both ends of an integer range are drawn */
    /* log-uniform: about as many draws below 0.1 as above */
    size_t below = 0;
    for (uint64_t k = 0; k < 1000; k++) {
        sched_params_t a;
        sched_space_draw(&sp, 9, k, &a);
        below += a.learning_rate < 0.1;
    }
    assert_true(below > 400 && below < 600);
}

/* max_seconds counts from the sweep's creation: a resumed strategy is handed the time spent. */
static void test_max_seconds_counts_from_creation(void **state) {
    (void)state;
    sched_space_t sp = iris_space(3, 50, 1);
    sp.max_seconds = 600;
    sched_strategy_t *fresh = sched_strategy_random_new(&sp, 2, NULL);
    sched_strategy_t *late =
        sched_strategy_random_new(&sp, 2, &(sched_random_spent_t){.stored = 4, .elapsed = 601.0});
    assert_false(fresh->ops->exhausted(fresh));
    assert_true(late->ops->exhausted(late));
    fresh->ops->free(fresh);
    late->ops->free(late);
    sp.max_seconds = 0; /* and max_trials: exhausted once that many are stored */
    sp.max_trials = 4;
    sched_strategy_t *full =
        sched_strategy_random_new(&sp, 2, &(sched_random_spent_t){.stored = 4});
    assert_true(full->ops->exhausted(full));
    full->ops->free(full);
    sp.max_trials = 50; /* and max_iterations_total with the iterations stored before */
    sp.max_iterations_total = 100;
    sched_strategy_t *it =
        sched_strategy_random_new(&sp, 2, &(sched_random_spent_t){.iterations = 100});
    assert_true(it->ops->exhausted(it));
    it->ops->free(it);
}

static int64_t create_random(fixture_t *f, int64_t ds, const sched_space_t *sp) {
    sched_sweep_request_t req = {
        .dataset_id = ds, .spec_json = "{\"search\": {\"type\": \"random\"}}", .space = sp};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &id, &err), 0);
    return id;
}

/* Asserts the sweep's trials, by ordinal, are the draws 0 .. n-1 of sp. */
static void assert_draws(fixture_t *f, int64_t sweep, const sched_space_t *sp, size_t n) {
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *page = store_trial_list(r, sweep, "ordinal", 100, NULL, &err);
    assert_non_null(page);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), n);
    for (size_t k = 0; k < n; k++) {
        sched_params_t want, got;
        sched_space_draw(sp, sp->seed, k, &want);
        json_t *t = json_array_get(items, k);
        assert_int_equal(sched_params_from_json(json_object_get(t, "params"), &got), 0);
        assert_true(sched_params_same(&want, &got, 0));
        for (size_t j = 0; j < k; j++) {
            sched_params_t other;
            sched_space_draw(sp, sp->seed, j, &other);
            assert_false(sched_params_same(&other, &got, 0));
        }
    }
    json_decref(page);
    store_close(r);
}

static void test_random_sweep_of_iris(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_space_t sp = iris_space(3, 6, 1);
    int64_t a = create_random(f, ds, &sp);
    json_t *sw = wait_sweep(f, a, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 6);
    json_decref(sw);
    assert_draws(f, a, &sp, 6);
    int64_t b = create_random(f, ds, &sp); /* the same seed: the same trials */
    json_decref(wait_sweep(f, b, "completed", 60));
    assert_draws(f, b, &sp, 6);
}

/* The resumed sweep's strategy as the service makes it: k continues at the trials stored. */
static sched_space_t resume_space;
static sched_strategy_t *resume_new(void *user, int64_t sweep_id) {
    fixture_t *f = user;
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *sw = store_sweep_get(r, sweep_id, &err);
    uint64_t stored = (uint64_t)json_integer_value(json_object_get(sw, "trials_total"));
    json_decref(sw);
    store_close(r);
    return sched_strategy_random_new(&resume_space, 1, &(sched_random_spent_t){.stored = stored});
}

static void test_restart_continues_the_draws(void **state) {
    fixture_t *f = *state;
    resume_space = iris_space(300, 6, 3);
    start_with(f, (sched_config_t){.workers = 1,
                                   .cores = 2,
                                   .checkpoint_every = 25,
                                   .strategy_new = resume_new,
                                   .strategy_user = f});
    int64_t ds = add_iris(f);
    int64_t sweep = create_random(f, ds, &resume_space);
    store_error_t err;
    store_t *r = open_reader(f, &err);
    int64_t total = 0;
    for (int i = 0; i < 6000 && total < 3; i++) {
        json_t *sw = store_sweep_get(r, sweep, &err);
        total = json_integer_value(json_object_get(sw, "trials_total"));
        json_decref(sw);
        sleep_us(1000);
    }
    store_close(r);
    sched_stop(f->s); /* mid-sweep */
    f->s = NULL;
    assert_true(total >= 3 && total < 6);
    start_with(f, (sched_config_t){.workers = 1,
                                   .cores = 2,
                                   .checkpoint_every = 25,
                                   .strategy_new = resume_new,
                                   .strategy_user = f});
    json_t *sw = wait_sweep(f, sweep, "completed", 120);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 6);
    json_decref(sw);
    assert_draws(f, sweep, &resume_space, 6);
}

/* A random sweep whose trials had all ended when the service died, itself left running: the
 * start-up begins it, its strategy adds nothing (max_trials stored), and it finishes. */
static void test_resumed_idle_sweep_finishes(void **state) {
    fixture_t *f = *state;
    resume_space = iris_space(2, 2, 8);
    start_with(f, (sched_config_t){
                      .workers = 1, .cores = 2, .strategy_new = resume_new, .strategy_user = f});
    int64_t ds = add_iris(f);
    int64_t sweep = create_random(f, ds, &resume_space);
    json_decref(wait_sweep(f, sweep, "completed", 60));
    sched_stop(f->s);
    f->s = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE sweeps SET status = 'running', finished_at = NULL, "
                                  "best_trial_id = NULL",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    start_with(f, (sched_config_t){
                      .workers = 1, .cores = 2, .strategy_new = resume_new, .strategy_user = f});
    json_t *sw = wait_sweep(f, sweep, "completed", 30);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 2);
    json_decref(sw);
}

/* max_iterations_total: no trial is added once the sweep's trials stored that many iterations. */
static void test_iterations_budget_ends_the_sweep(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    sched_space_t sp = iris_space(4, 50, 2);
    sp.max_iterations_total = 10; /* reached during the third trial */
    int64_t sweep = create_random(f, ds, &sp);
    json_t *sw = wait_sweep(f, sweep, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 3);
    json_decref(sw);
    assert_draws(f, sweep, &sp, 3);
}

/* A spent budget stops the running trials at the end of an iteration, kept as `stopped` (their
 * history and model, the budget named in their error). */
static void test_budget_stops_running_trials(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_space_t sp = iris_space(1000000, 50, 4);
    sp.max_iterations_total = 40;
    int64_t sweep = create_random(f, ds, &sp);
    json_t *sw = wait_sweep(f, sweep, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 2);
    json_decref(sw);
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *page = store_trial_list(r, sweep, "ordinal", 100, NULL, &err);
    json_t *items = json_object_get(page, "items");
    json_int_t total = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *t = json_array_get(items, i);
        json_int_t done = json_integer_value(json_object_get(t, "iterations_done"));
        assert_true(done >= 1 && done < 1000000);
        json_t *rows = rows_of(r, json_integer_value(json_object_get(t, "id")), 0);
        assert_int_equal(json_array_size(rows), (size_t)done);
        json_decref(rows);
        assert_true(json_is_true(json_object_get(t, "has_model")));
        assert_string_equal(json_string_value(json_object_get(t, "status")), "stopped");
        assert_string_equal(json_string_value(json_object_get(t, "error")),
                            "stopped: the sweep's max_iterations_total budget (40 iterations) "
                            "was spent");
        assert_true(json_integer_value(json_object_get(t, "best_iteration")) >= 1);
        total += done;
    }
    assert_true(total >= 40);
    json_decref(page);
    sw = store_sweep_get(r, sweep, &err); /* counted as stopped */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sw, "trials"), "stopped")),
                     2);
    json_decref(sw);
    store_close(r);
}

/* TPE with one worker: trial k (past the startup ones) is sched_tpe_propose over the trials
 * 0 .. k-1 as stored (completed, with their best validation accuracy): the strategy's
 * observations are the stored state. */
static void test_tpe_sweep_proposes_from_stored_trials(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    sched_space_t sp = iris_space(4, 9, 6);
    sp.type = SCHED_SEARCH_TPE;
    sp.n_startup_trials = 3;
    sched_sweep_request_t req = {
        .dataset_id = ds, .spec_json = "{\"search\": {\"type\": \"tpe\"}}", .space = &sp};
    int64_t sweep = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    json_t *sw = wait_sweep(f, sweep, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(sw, "trials_total")), 9);
    json_decref(sw);
    sqlite3 *db; /* stored as a tpe search (the resource does not show it) */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT search FROM sweeps WHERE id = ?1", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_int64(q, 1, sweep);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "tpe");
    sqlite3_finalize(q);
    sqlite3_close(db);
    store_t *r = open_reader(f, &err);
    json_t *page = store_trial_list(r, sweep, "ordinal", 100, NULL, &err);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 9);
    sched_tpe_obs_t obs[9];
    size_t differ = 0;
    for (size_t k = 0; k < 9; k++) {
        json_t *t = json_array_get(items, k);
        sched_params_t got, want;
        assert_int_equal(sched_params_from_json(json_object_get(t, "params"), &got), 0);
        assert_int_equal(sched_tpe_propose(&sp, sp.seed, k, 3, obs, k, &want), 0);
        assert_true(sched_params_same(&want, &got, 0));
        sched_space_draw(&sp, sp.seed, k, &want);
        if (k < 3)
            assert_true(sched_params_same(&want, &got, 0)); /* startup: the random draws */
        else
            differ += !sched_params_same(&want, &got, 0);
        assert_string_equal(json_string_value(json_object_get(t, "status")), "completed");
        memset(&obs[k], 0, sizeof obs[k]);
        obs[k].params = got;
        obs[k].number = k;
        obs[k].value = json_real_value(json_object_get(t, "best_val_accuracy"));
    }
    assert_true(differ >= 4);
    json_decref(page);
    store_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw_is_pure_and_in_range),
        cmocka_unit_test(test_max_seconds_counts_from_creation),
        cmocka_unit_test_setup_teardown(test_random_sweep_of_iris, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_restart_continues_the_draws, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_iterations_budget_ends_the_sweep, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_budget_stops_running_trials, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_resumed_idle_sweep_finishes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_tpe_sweep_proposes_from_stored_trials, fixture_up,
                                        fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
