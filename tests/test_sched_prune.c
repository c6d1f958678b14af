/* test_sched_prune.c - a sweep with a pruner, end to end on a real store and iris: the grid
 * strategy reads the stored request's "pruner", feeds its jobs' rows to ASHA, and the trials
 * ASHA stops end pruned with the reason, their history, figures and model kept; the others run
 * to the end. One worker: the jobs run one after another, so the decisions are fixed. */
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
#include "mlpt_err.h"
#include "sched.h"
#include "sched_fixtures.h"
#include "sched_live_fixtures.h"

#define ITERATIONS 2000

static void test_asha_grid_on_iris(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 1, .cores = 1, .checkpoint_every = 25});
    int64_t ds = add_iris(f);
    /* nine learning rates, from hopeless to good */
    static const double lr[] = {0.0001, 0.3, 0.0003, 0.1, 0.001, 0.03, 0.003, 1.0, 0.01};
    sched_spec_t spec = small_spec(9, 1, (const size_t[]){ITERATIONS});
    for (size_t i = 0; i < 9; i++)
        spec.learning_rate[i] = lr[i];
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 9);
    sched_sweep_request_t req = {.dataset_id = ds,
                                 .spec_json =
                                     "{\"pruner\": {\"type\": \"asha\", \"min_iterations\": 1, "
                                     "\"reduction_factor\": 3}}",
                                 .trials = t,
                                 .n_trials = n};
    int64_t sweep;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    free(t);
    json_t *sw = wait_sweep(f, sweep, "completed", 120);
    json_t *counts = json_object_get(sw, "trials");
    json_int_t pruned = json_integer_value(json_object_get(counts, "pruned"));
    json_int_t completed = json_integer_value(json_object_get(counts, "completed"));
    assert_true(pruned >= 1);
    assert_true(completed >= 1);
    assert_int_equal(pruned + completed, 9);
    json_decref(sw);

    store_t *r = open_reader(f, &err);
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    assert_non_null(list);
    json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 9);
    double best_completed = -1, best_pruned = -1;
    for (size_t i = 0; i < 9; i++) {
        json_t *it = json_array_get(items, i);
        int64_t id = json_integer_value(json_object_get(it, "id"));
        json_t *tr = store_trial_get(r, id, &err);
        assert_non_null(tr);
        const char *status = json_string_value(json_object_get(tr, "status"));
        if (getenv("PRUNE_DEBUG"))
            fprintf(stderr, "%s %lld %s\n", status,
                    (long long)json_integer_value(json_object_get(tr, "iterations_done")),
                    json_string_value(json_object_get(tr, "error")));
        json_int_t done = json_integer_value(json_object_get(tr, "iterations_done"));
        double best = json_number_value(json_object_get(tr, "best_val_accuracy"));
        json_t *rows = rows_of(r, id, 0);
        assert_int_equal(json_array_size(rows), (size_t)done); /* the whole history */
        json_decref(rows);
        assert_true(json_is_true(json_object_get(tr, "has_model")));
        if (!strcmp(status, "pruned")) {
            const char *why = json_string_value(json_object_get(tr, "error"));
            assert_non_null(why);
            assert_non_null(strstr(why, "pruned at rung "));
            assert_true(done >= 1 && done < ITERATIONS);
            assert_true(json_is_number(json_object_get(tr, "final_val_accuracy")));
            if (best > best_pruned)
                best_pruned = best;
        } else {
            assert_string_equal(status, "completed");
            assert_int_equal(done, ITERATIONS);
            assert_true(json_is_null(json_object_get(tr, "error")));
            if (best > best_completed)
                best_completed = best;
        }
        json_decref(tr);
    }
    /* the best of the sweep ran to the end */
    assert_true(best_completed >= best_pruned);
    json_decref(list);
    store_close(r);
}

/* The statuses and errors of a sweep's trials, by ordinal, as one string. */
static char *decisions(store_t *r, int64_t sweep) {
    store_error_t err;
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    assert_non_null(list);
    json_t *out = json_array();
    json_t *items = json_object_get(list, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        json_array_append_new(
            out, json_pack("[O, O]", json_object_get(it, "status"), json_object_get(it, "error")));
    }
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    json_decref(list);
    return text;
}

/* Restart: a sweep stopped (the service going down) after some of its trials were decided and
 * started again decides exactly as the same sweep run without a stop: the ASHA tables are
 * rebuilt from the stored rows (the ended runs' as they were, a pruned run's up to the iteration
 * its reason names). */
static void test_asha_restart_decides_the_same(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 1, .cores = 1, .checkpoint_every = 25});
    int64_t ds = add_iris(f);
    static const double lr[] = {0.0001, 0.3, 0.0003, 0.1, 0.001, 0.03, 0.003, 1.0, 0.01};
    sched_spec_t spec = small_spec(9, 1, (const size_t[]){ITERATIONS});
    for (size_t i = 0; i < 9; i++)
        spec.learning_rate[i] = lr[i];
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds,
                                 .spec_json =
                                     "{\"pruner\": {\"type\": \"asha\", \"reduction_factor\": 3}}",
                                 .trials = t,
                                 .n_trials = n};
    int64_t whole, cut;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &whole, &err), 0);
    json_decref(wait_sweep(f, whole, "completed", 120));
    pthread_mutex_lock(&f->ev.lock);
    int before = f->ev.finished;
    pthread_mutex_unlock(&f->ev.lock);
    assert_int_equal(sched_sweep_create(f->s, &req, &cut, &err), 0);
    free(t);
    for (int i = 0; i < 20000; i++) { /* stop once a few of its trials have ended */
        pthread_mutex_lock(&f->ev.lock);
        int ended = f->ev.finished - before;
        pthread_mutex_unlock(&f->ev.lock);
        if (ended >= 4)
            break;
        sleep_us(500);
    }
    sched_stop(f->s);
    f->s = NULL;
    store_t *r = open_reader(f, &err);
    json_t *mid = store_sweep_get(r, cut, &err);
    assert_string_equal(json_string_value(json_object_get(mid, "status")), "running");
    json_decref(mid);
    store_close(r);
    start_with(f, (sched_config_t){.workers = 1, .cores = 1, .checkpoint_every = 25});
    json_decref(wait_sweep(f, cut, "completed", 120));
    r = open_reader(f, &err);
    char *a = decisions(r, whole), *b = decisions(r, cut);
    assert_non_null(strstr(a, "pruned at rung"));
    assert_string_equal(a, b);
    free(a);
    free(b);
    store_close(r);
}

/* Early stopping per trial: training.early_stopping on val_accuracy with a patience of 5 ends
 * the trials whose accuracy stopped improving early, `completed` with the reason, their whole
 * history and model kept. */
static void test_early_stopping_on_iris(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 1, .cores = 1, .checkpoint_every = 25});
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(2, 1, (const size_t[]){ITERATIONS});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds,
                                 .spec_json = "{\"training\": {\"early_stopping\": "
                                              "{\"metric\": \"val_accuracy\", \"patience\": 5}}}",
                                 .trials = t,
                                 .n_trials = n};
    int64_t sweep;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    free(t);
    json_t *sw = wait_sweep(f, sweep, "completed", 120);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(sw, "trials"), "completed")), 2);
    json_decref(sw);
    store_t *r = open_reader(f, &err);
    json_t *list = store_trial_list(r, sweep, NULL, 100, NULL, &err);
    json_t *items = json_object_get(list, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        int64_t id = json_integer_value(json_object_get(json_array_get(items, i), "id"));
        json_t *tr = store_trial_get(r, id, &err);
        json_int_t done = json_integer_value(json_object_get(tr, "iterations_done"));
        const char *why = json_string_value(json_object_get(tr, "error"));
        assert_true(done > 5 && done < ITERATIONS);
        assert_non_null(why);
        assert_non_null(strstr(why, "early stopped at iteration "));
        json_t *rows = rows_of(r, id, 0);
        assert_int_equal(json_array_size(rows), (size_t)done);
        json_decref(rows);
        assert_true(json_is_true(json_object_get(tr, "has_model")));
        json_decref(tr);
    }
    json_decref(list);
    store_close(r);
}

/* The order a sweep's trials run in: costliest first without a pruner (the sweep ends sooner),
 * cheapest first with one, so that the rungs' first results come from cheap runs and a costly
 * trial is judged against them rather than passing every rung because it got there first. One
 * worker: the first iteration event names the first trial run. */
static int64_t first_trial_run(fixture_t *f, const char *spec_json) {
    sched_spec_t spec = small_spec(1, 1, (const size_t[]){20});
    spec.n_neurons = 2;
    spec.neurons[0] = 64; /* ordinal 0: the costlier */
    spec.neurons[1] = 4;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].shape.hidden[0], 64);
    sched_sweep_request_t req = {
        .dataset_id = f->dataset_id, .spec_json = spec_json, .trials = t, .n_trials = n};
    int64_t sweep;
    store_error_t err;
    pthread_mutex_lock(&f->ev.lock);
    int before = f->ev.n_seen;
    pthread_mutex_unlock(&f->ev.lock);
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    free(t);
    json_decref(wait_sweep(f, sweep, "completed", 60));
    pthread_mutex_lock(&f->ev.lock);
    assert_true(f->ev.n_seen > before);
    int64_t first = f->ev.seen_trial[before];
    pthread_mutex_unlock(&f->ev.lock);
    store_t *r = open_reader(f, &err);
    json_t *tr = store_trial_get(r, first, &err);
    assert_non_null(tr);
    json_int_t neurons = json_integer_value(
        json_array_get(json_object_get(json_object_get(tr, "params"), "layers"), 0));
    json_decref(tr);
    store_close(r);
    return neurons;
}

static void test_pruned_grid_runs_cheapest_first(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 1, .cores = 1});
    f->dataset_id = add_iris(f);
    assert_int_equal(first_trial_run(f, "{}"), 64);
    assert_int_equal(first_trial_run(f, "{\"pruner\": {\"type\": \"asha\", \"min_iterations\": 1, "
                                        "\"reduction_factor\": 3}}"),
                     4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_asha_grid_on_iris, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_asha_restart_decides_the_same, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_early_stopping_on_iris, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_pruned_grid_runs_cheapest_first, fixture_up,
                                        fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
