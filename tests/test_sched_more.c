/* test_sched_more.c - a sweep that goes on (sched.h): extend (more iterations for ended trials,
 * the continued history and model bit for bit those of a run of the new length from the start,
 * shared prefixes included), retry (failed and lost trials re-queued, resuming from their rows),
 * warm start (explicit trials added to a finished sweep, within max_trials) and their refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "sched.h"
#include "sched_fixtures.h"
#include "sched_live_fixtures.h"

static json_t *trial_of_length(store_t *r, int64_t sweep, json_int_t iterations) {
    store_error_t err;
    json_t *list = store_trial_list(r, sweep, "ordinal", 100, NULL, &err);
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

static int64_t id_of(const json_t *t) {
    return json_integer_value(json_object_get(t, "id"));
}

static int64_t grid_sweep(fixture_t *f, int64_t ds, sched_spec_t spec) {
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &id, &err), 0);
    free(t);
    return id;
}

/* Trial a's history and model are trial b's (figures bit for bit; seconds are measured anew). */
static void assert_same_run(store_t *r, int64_t a, int64_t b) {
    json_t *ra = rows_of(r, a, 0), *rb = rows_of(r, b, 0);
    assert_true(json_array_size(ra) > 0);
    if (!json_equal(ra, rb)) { /* say where */
        char *x = json_dumps(ra, JSON_COMPACT), *y = json_dumps(rb, JSON_COMPACT);
        print_error("trial %lld: %s\ntrial %lld: %s\n", (long long)a, x, (long long)b, y);
        free(x);
        free(y);
    }
    assert_true(json_equal(ra, rb));
    json_decref(ra);
    json_decref(rb);
    assert_same_model(r, a, b);
}

/* A finished grid of a shared prefix (3 following 6) is extended to 9 and 12: both continue
 * (the follower on its own now), and equal a fresh grid of 9 and 12; the rows they had keep
 * their seconds (recomputed and checked, not written again); with momentum, so the velocity
 * matters. */
static void test_extend_continues_bit_for_bit(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(1, 2, (const size_t[]){3, 6});
    spec.momentum[0] = 0.9;
    int64_t sw = grid_sweep(f, ds, spec);
    json_decref(wait_sweep(f, sw, "completed", 60));
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *t3 = trial_of_length(r, sw, 3), *t6 = trial_of_length(r, sw, 6);
    json_t *before3 = rows_of(r, id_of(t3), 1);
    sched_extend_trial_t more[] = {{.trial_id = id_of(t3), .iterations = 9},
                                   {.trial_id = id_of(t6), .iterations = 12}};
    sched_sweep_extend_t x = {.trials = more, .n_trials = 2};
    assert_int_equal(sched_sweep_extend(f->s, sw, &x, &err), 0);
    /* the sweep is open again until the extension ran: completed only with its iterations (on
     * a loaded machine the few iterations may already have run when it is read) */
    json_t *sweep = store_sweep_get(r, sw, &err);
    if (strcmp(json_string_value(json_object_get(sweep, "status")), "completed") == 0) {
        json_t *x3 = store_trial_get(r, id_of(t3), &err), *x6 = store_trial_get(r, id_of(t6), &err);
        assert_int_equal(json_integer_value(json_object_get(x3, "iterations_done")), 9);
        assert_int_equal(json_integer_value(json_object_get(x6, "iterations_done")), 12);
        json_decref(x3);
        json_decref(x6);
    }
    json_decref(sweep);
    json_decref(wait_sweep(f, sw, "completed", 60));

    sched_spec_t rs = small_spec(1, 2, (const size_t[]){9, 12});
    rs.momentum[0] = 0.9;
    int64_t ref2 = grid_sweep(f, ds, rs);
    json_decref(wait_sweep(f, ref2, "completed", 60));
    json_t *e9 = trial_of_length(r, sw, 9), *e12 = trial_of_length(r, sw, 12);
    assert_int_equal(id_of(e9), id_of(t3));
    assert_int_equal(id_of(e12), id_of(t6));
    json_t *r9 = trial_of_length(r, ref2, 9), *r12 = trial_of_length(r, ref2, 12);
    assert_same_run(r, id_of(e9), id_of(r9));
    assert_same_run(r, id_of(e12), id_of(r12));
    json_t *a9 = store_trial_get(r, id_of(e9), &err);
    assert_string_equal(json_string_value(json_object_get(a9, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(a9, "iterations_done")), 9);
    assert_int_equal(json_integer_value(json_object_get(a9, "attempt")), 2);
    json_t *rb9 = store_trial_get(r, id_of(r9), &err);
    assert_true(json_equal(json_object_get(a9, "best_val_accuracy"),
                           json_object_get(rb9, "best_val_accuracy")));
    assert_true(json_equal(json_object_get(a9, "final_val_accuracy"),
                           json_object_get(rb9, "final_val_accuracy")));
    json_decref(a9);
    json_decref(rb9);
    /* the first three rows are the ones stored before, seconds included */
    json_t *after = rows_of(r, id_of(e9), 1);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_equal(json_array_get(before3, i), json_array_get(after, i)));
    json_decref(after);
    json_decref(before3);
    json_decref(t3);
    json_decref(t6);
    json_decref(e9);
    json_decref(e12);
    json_decref(r9);
    json_decref(r12);
    store_close(r);
}

/* Log lines of the scheduler, kept for the test to read. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static void keep_log(void *user, const char *line) {
    (void)user;
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}

static int checkpoint_rows(fixture_t *f, int64_t trial_id) {
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT iteration FROM trial_checkpoints WHERE "
                                        "trial_id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, trial_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A trial that ended keeps its final state (a checkpoint at its last iteration): extended, it
 * goes on from there without recomputing anything, momentum's velocity included, and equals a
 * run of the new length from the start bit for bit, model included. */
static void test_extend_from_final_checkpoint(void **state) {
    fixture_t *f = *state;
    log_text[0] = '\0';
    start_with(f,
               (sched_config_t){.workers = 1, .cores = 2, .checkpoint_every = 25, .log = keep_log});
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(1, 1, (const size_t[]){4});
    spec.momentum[0] = 0.9;
    int64_t sw = grid_sweep(f, ds, spec);
    json_decref(wait_sweep(f, sw, "completed", 60));
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *t = trial_of_length(r, sw, 4);
    int64_t id = id_of(t);
    json_decref(t);
    assert_int_equal(checkpoint_rows(f, id), 4);
    sched_extend_trial_t more = {.trial_id = id, .iterations = 9};
    sched_sweep_extend_t x = {.trials = &more, .n_trials = 1};
    assert_int_equal(sched_sweep_extend(f->s, sw, &x, &err), 0);
    json_decref(wait_sweep(f, sw, "completed", 60));
    assert_int_equal(checkpoint_rows(f, id), 9);
    spec.iterations[0] = 9;
    int64_t ref = grid_sweep(f, ds, spec);
    json_decref(wait_sweep(f, ref, "completed", 60));
    t = trial_of_length(r, ref, 9);
    assert_same_run(r, id, id_of(t));
    json_decref(t);
    store_close(r);
    char want[96];
    snprintf(want, sizeof want, "trial %lld: resumes after iteration", (long long)id);
    pthread_mutex_lock(&log_lock);
    assert_null(strstr(log_text, want)); /* nothing recomputed */
    pthread_mutex_unlock(&log_lock);
}

/* What extend refuses, with the trial named. */
static void test_extend_refusals(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    int64_t a = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){3}));
    int64_t b = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){2}));
    json_decref(wait_sweep(f, a, "completed", 60));
    json_decref(wait_sweep(f, b, "completed", 60));
    store_error_t err;
    store_t *r = open_reader(f, &err);
    json_t *ta = trial_of_length(r, a, 3), *tb = trial_of_length(r, b, 2);
    sched_extend_trial_t one = {.trial_id = id_of(tb), .iterations = 5};
    sched_sweep_extend_t x = {.trials = &one, .n_trials = 1};
    assert_int_equal(sched_sweep_extend(f->s, a, &x, &err), MLPT_ENOTFOUND); /* b's trial */
    assert_non_null(strstr(err.message, "trials[0]"));
    assert_int_equal(sched_sweep_extend(f->s, 999, &x, &err), MLPT_ENOTFOUND);
    one = (sched_extend_trial_t){.trial_id = id_of(ta), .iterations = 3};
    assert_int_equal(sched_sweep_extend(f->s, a, &x, &err), MLPT_EINVAL); /* not more */
    sched_extend_trial_t twice[] = {{.trial_id = id_of(ta), .iterations = 4},
                                    {.trial_id = id_of(ta), .iterations = 5}};
    x = (sched_sweep_extend_t){.trials = twice, .n_trials = 2};
    assert_int_equal(sched_sweep_extend(f->s, a, &x, &err), MLPT_EINVAL);
    /* nothing changed: the sweep is still completed, the trial still 3 iterations */
    json_t *sw = store_sweep_get(r, a, &err);
    assert_string_equal(json_string_value(json_object_get(sw, "status")), "completed");
    json_decref(sw);
    json_decref(ta);
    ta = trial_of_length(r, a, 3);
    json_decref(ta);
    json_decref(tb);
    store_close(r);
}

/* A sweep whose trials all failed (its dataset file missing) is retried once the file is back:
 * every trial re-queued, the sweep completes; a second retry finds nothing. */
static void test_retry_failed(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    char path[160], moved[170];
    snprintf(path, sizeof path, "%s/iris.mlds", f->dir);
    snprintf(moved, sizeof moved, "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    int64_t sw = grid_sweep(f, ds, small_spec(2, 1, (const size_t[]){4}));
    json_decref(wait_sweep(f, sw, "failed", 60));
    assert_int_equal(rename(moved, path), 0);
    int64_t *ids = NULL;
    size_t n = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_retry(f->s, sw, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    free(ids);
    json_t *done = wait_sweep(f, sw, "completed", 60);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(done, "trials"), "completed")), 2);
    assert_true(json_is_null(json_object_get(done, "error")));
    json_decref(done);
    assert_int_equal(sched_sweep_retry(f->s, sw, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(ids);
    json_decref(wait_sweep(f, sw, "completed", 5));
    assert_int_equal(sched_sweep_retry(f->s, 999, &ids, &n, &err), MLPT_ENOTFOUND);
}

/* A canceled sweep's trials that were cut short are lost: a retry runs them on from their rows
 * and their histories equal an uninterrupted run's. 3000 iterations (about 0.1 s here): the
 * cancel must land before the run ends, also when this thread waits for a core. */
static void test_retry_lost(void **state) {
    fixture_t *f = *state;
    start(f, 1);
    int64_t ds = add_iris(f);
    int64_t sw = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){3000}));
    store_error_t err;
    store_t *r = open_reader(f, &err);
    for (int i = 0; i < 20000; i++) {
        json_t *t = trial_of_length(r, sw, 3000);
        json_int_t done = json_integer_value(json_object_get(t, "iterations_done"));
        json_decref(t);
        if (done >= 5)
            break;
        sleep_us(500);
    }
    assert_int_equal(sched_sweep_cancel(f->s, sw, &err), 0);
    json_decref(wait_sweep(f, sw, "canceled", 30));
    for (int i = 0; i < 3000; i++) { /* the running trial records its end */
        json_t *t = trial_of_length(r, sw, 3000);
        int ended = strcmp(json_string_value(json_object_get(t, "status")), "canceled") == 0;
        json_decref(t);
        if (ended)
            break;
        sleep_us(1000);
    }
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(sched_sweep_retry(f->s, sw, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    free(ids);
    json_decref(wait_sweep(f, sw, "completed", 120));
    int64_t ref = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){3000}));
    json_decref(wait_sweep(f, ref, "completed", 120));
    json_t *a = trial_of_length(r, sw, 3000), *b = trial_of_length(r, ref, 3000);
    assert_same_run(r, id_of(a), id_of(b));
    json_decref(a);
    json_decref(b);
    store_close(r);
    /* the throughput a dry run uses: calibrated at start-up, learned from what trained since */
    sched_throughput_t tp;
    sched_throughput(f->s, &tp);
    assert_true(tp.calibrated_gflops > 0);
    assert_true(tp.learned_seconds > 0 && tp.learned_gflops > 0);
    assert_int_equal(tp.workers, 1);
    assert_true(tp.gflops_per_worker == (tp.learned_seconds >= SCHED_LEARNED_MIN_SECONDS
                                             ? tp.learned_gflops
                                             : tp.calibrated_gflops));
}

/* A trial canceled after some checkpoints keeps its last one: the retry resumes from it
 * (recomputing only the rows past it) and ends as an uninterrupted run. */
static void test_retry_lost_from_checkpoint(void **state) {
    fixture_t *f = *state;
    log_text[0] = '\0';
    start_with(f, (sched_config_t){.workers = 1,
                                   .cores = 2,
                                   .checkpoint_every = 2,
                                   .checkpoint_seconds = 0,
                                   .log = keep_log});
    int64_t ds = add_iris(f);
    int64_t sw = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){3000}));
    store_error_t err;
    store_t *r = open_reader(f, &err);
    int64_t id = 0;
    for (int i = 0; i < 20000 && (id == 0 || checkpoint_rows(f, id) < 4); i++) {
        json_t *t = trial_of_length(r, sw, 3000);
        id = id_of(t);
        json_decref(t);
        sleep_us(500);
    }
    assert_int_equal(sched_sweep_cancel(f->s, sw, &err), 0);
    json_decref(wait_sweep(f, sw, "canceled", 30));
    for (int i = 0; i < 3000; i++) {
        json_t *t = trial_of_length(r, sw, 3000);
        int ended = strcmp(json_string_value(json_object_get(t, "status")), "canceled") == 0;
        json_decref(t);
        if (ended)
            break;
        sleep_us(1000);
    }
    int kept = checkpoint_rows(f, id);
    assert_true(kept >= 4);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(sched_sweep_retry(f->s, sw, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    free(ids);
    json_decref(wait_sweep(f, sw, "completed", 120));
    char want[96];
    snprintf(want, sizeof want, "trial %lld: resumes after iteration %d;", (long long)id, kept);
    pthread_mutex_lock(&log_lock);
    int resumed = strstr(log_text, want) != NULL;
    pthread_mutex_unlock(&log_lock);
    int64_t ref = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){3000}));
    json_decref(wait_sweep(f, ref, "completed", 120));
    json_t *b = trial_of_length(r, ref, 3000);
    assert_same_run(r, id, id_of(b));
    json_decref(b);
    store_close(r);
    /* from its checkpoint, or (when it had stored no row past it) nothing logged at all */
    char from1[96];
    snprintf(from1, sizeof from1, "trial %lld: resumes after iteration 0;", (long long)id);
    pthread_mutex_lock(&log_lock);
    assert_null(strstr(log_text, from1));
    pthread_mutex_unlock(&log_lock);
    (void)resumed;
}

/* Warm start: trials added to a finished sweep run; over max_trials is refused. */
static void test_add_trials(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 1, .cores = 2, .max_trials = 3});
    int64_t ds = add_iris(f);
    int64_t sw = grid_sweep(f, ds, small_spec(1, 1, (const size_t[]){2}));
    json_decref(wait_sweep(f, sw, "completed", 60));
    sched_spec_t spec = small_spec(2, 1, (const size_t[]){3});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 2);
    int64_t ids[3] = {0};
    store_error_t err;
    assert_int_equal(sched_sweep_add_trials(f->s, sw, t, 2, ids, &err), 0);
    assert_true(ids[0] > 0 && ids[1] > ids[0]);
    json_t *done = wait_sweep(f, sw, "completed", 60);
    assert_int_equal(json_integer_value(json_object_get(done, "trials_total")), 3);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(done, "trials"), "completed")), 3);
    json_decref(done);
    assert_int_equal(sched_sweep_add_trials(f->s, sw, t, 1, ids, &err), MLPT_ELIMIT);
    assert_int_equal(sched_sweep_add_trials(f->s, 999, t, 1, ids, &err), MLPT_ENOTFOUND);
    store_t *r = open_reader(f, &err);
    json_t *tr = store_trial_get(r, ids[1], &err);
    assert_int_equal(json_integer_value(json_object_get(tr, "iterations_done")), 3);
    json_decref(tr);
    store_close(r);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extend_continues_bit_for_bit, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_extend_from_final_checkpoint, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_extend_refusals, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_retry_failed, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_retry_lost, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_retry_lost_from_checkpoint, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_add_trials, fixture_up, fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
