/* test_sched_resume.c - what a client saw stays: the scheduler after a crash (simulated from
 * graceful stops and database edits) keeps every committed row, recomputes the stored iterations
 * and checks them, writes and announces only new ones, and fails a trial whose recomputation
 * differs. Fixtures: support/sched_live_fixtures.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <math.h>

#include "mlpt_err.h"
#include "sched_live_fixtures.h"

/* Waits until `more` iteration events have come since `from` (at most 4 s). */
static void wait_iterations(fixture_t *f, int from, int more) {
    for (int i = 0; i < 4000; i++) {
        pthread_mutex_lock(&f->ev.lock);
        int it = f->ev.iterations - from;
        pthread_mutex_unlock(&f->ev.lock);
        if (it > more)
            return;
        sleep_us(1000);
    }
}

static int iterations_now(fixture_t *f) {
    pthread_mutex_lock(&f->ev.lock);
    int n = f->ev.iterations;
    pthread_mutex_unlock(&f->ev.lock);
    return n;
}

/* Runs SQL on the database behind the store's back (the scheduler is stopped). */
static void sql_exec(const char *path, const char *sql) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The ids of a sweep's trials in `status` (NULL: all), by id (at most cap). */
static size_t trials_in(const char *path, int64_t sweep, const char *status, int64_t *ids,
                        size_t cap) {
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id FROM trials WHERE sweep_id = ?1 AND "
                                        "(?2 IS NULL OR status = ?2) ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, sweep);
    if (status)
        sqlite3_bind_text(q, 2, status, -1, SQLITE_STATIC);
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n < cap)
        ids[n++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* No trial's checkpoint covers more iterations than it has rows, and iterations_done is its
 * last row (the checkpoint is saved after the rows it covers). */
static void assert_checkpoints_behind_rows(const char *path) {
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM trials t WHERE "
                                        "t.checkpoint_iteration > t.iterations_done OR "
                                        "t.iterations_done <> (SELECT coalesce(max(iteration), 0) "
                                        "FROM trial_metrics m WHERE m.trial_id = t.id)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* rows starts with every row of seen, seconds included. */
static void assert_prefix(const json_t *rows, const json_t *seen) {
    assert_true(json_array_size(rows) >= json_array_size(seen));
    for (size_t k = 0; k < json_array_size(seen); k++)
        assert_true(json_equal(json_array_get(rows, k), json_array_get(seen, k)));
}

/* A kill -9 leaves rows past the checkpoint (it is saved after the rows it covers, in the next
 * transaction) or rows and no checkpoint at all. Made here from two graceful stops: the first
 * stop's checkpoint is put back after the second, so one trial's checkpoint lags its rows; the
 * others lose theirs. After the restart no row a client had read is gone or changed (seconds
 * included), no iteration event repeats a stored row, and the sweep ends exactly like an
 * uninterrupted one. */
static void test_crash_keeps_every_row(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(2, 2, (const size_t[]){40, 1500});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t whole, cut;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &whole, &err), 0);
    json_decref(wait_sweep(f, whole, "completed", 120));
    int before = iterations_now(f);
    assert_int_equal(sched_sweep_create(f->s, &req, &cut, &err), 0);
    free(t);
    wait_iterations(f, before, 150);
    sched_stop(f->s);
    f->s = NULL;
    assert_checkpoints_behind_rows(f->db);

    /* The first stop's checkpoint of a running trial (a follower has none of its own). */
    int64_t running[4];
    size_t n_running = trials_in(f->db, cut, "running", running, 4);
    store_t *w = store_open(f->db, STORE_WRITER, &err);
    assert_non_null(w);
    assert_int_equal(store_set_data_dir(w, f->dir, &err), 0); /* checkpoints are files */
    store_resume_t old = {0};
    size_t c = 0;
    while (c < n_running && store_checkpoint_get(w, running[c], &old, &err) != 0)
        c++;
    assert_true(c < n_running && old.iteration > 0);
    int64_t lead = running[c];
    store_close(w);

    start(f, 2);
    wait_iterations(f, iterations_now(f), 150);
    sched_stop(f->s);
    f->s = NULL;
    assert_checkpoints_behind_rows(f->db);

    /* The crash: `lead` has rows past its checkpoint; the other running trials have no
     * checkpoint (as after a kill before their first one committed). */
    w = store_open(f->db, STORE_WRITER, &err);
    assert_non_null(w);
    assert_int_equal(store_set_data_dir(w, f->dir, &err), 0);
    json_t *tr = store_trial_get(w, lead, &err);
    assert_non_null(tr);
    int lagging = !strcmp(json_string_value(json_object_get(tr, "status")), "running") &&
                  json_integer_value(json_object_get(tr, "iterations_done")) > old.iteration;
    json_decref(tr);
    if (lagging)
        assert_int_equal(
            store_checkpoint_put(w, lead, old.iteration, old.state, old.len, NULL, 0, &err), 0);
    free(old.state);
    store_close(w);
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE trials SET checkpoint_iteration = 0 WHERE sweep_id = %lld AND "
             "status = 'running' AND id <> %lld",
             (long long)cut, lagging ? (long long)lead : 0LL);
    sql_exec(f->db, sql);
    assert_checkpoints_behind_rows(f->db);

    /* What clients had read. */
    store_t *r = open_reader(f, &err);
    int64_t ids[4];
    json_t *seen[4];
    size_t n_ids = trials_in(f->db, cut, "running", ids, 4), seen_rows = 0;
    n_ids += trials_in(f->db, cut, "completed", ids + n_ids, 4 - n_ids);
    assert_int_equal(n_ids, 4);
    for (size_t i = 0; i < n_ids; i++) {
        seen[i] = rows_of(r, ids[i], 1);
        seen_rows += json_array_size(seen[i]);
    }
    store_close(r);

    pthread_mutex_lock(&f->ev.lock);
    f->ev.n_seen = 0;
    pthread_mutex_unlock(&f->ev.lock);
    start(f, 2); /* recovery: nothing is deleted */
    r = open_reader(f, &err);
    for (size_t i = 0; i < n_ids; i++) {
        json_t *rows = rows_of(r, ids[i], 1);
        assert_prefix(rows, seen[i]);
        json_decref(rows);
    }
    store_close(r);
    json_decref(wait_sweep(f, cut, "completed", 120));

    r = open_reader(f, &err);
    assert_same_histories(r, whole, cut);
    size_t end_rows = 0;
    for (size_t i = 0; i < n_ids; i++) {
        json_t *rows = rows_of(r, ids[i], 1);
        assert_prefix(rows, seen[i]);
        end_rows += json_array_size(rows);
        json_decref(rows);
    }
    store_close(r);
    /* No event for a stored row; one per new row (some may come before start() sets the
     * listener, so at most that many are counted). */
    pthread_mutex_lock(&f->ev.lock);
    size_t events = 0;
    for (int k = 0; k < f->ev.n_seen; k++)
        for (size_t i = 0; i < n_ids; i++)
            if (f->ev.seen_trial[k] == ids[i]) {
                assert_true(f->ev.seen_iteration[k] > (int64_t)json_array_size(seen[i]));
                events++;
            }
    pthread_mutex_unlock(&f->ev.lock);
    assert_true(events > 0 && events <= end_rows - seen_rows);
    for (size_t i = 0; i < n_ids; i++)
        json_decref(seen[i]);
}

/* A recomputed iteration that does not match its stored row (here: a row changed behind the
 * store's back) fails the trial with the iteration and the figure named, and keeps every stored
 * row as it was; the other trials go on. */
static void test_resume_mismatch_fails_visibly(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(2, 1, (const size_t[]){1500});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t sw;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sw, &err), 0);
    free(t);
    wait_iterations(f, 0, 60);
    sched_stop(f->s);
    f->s = NULL;
    /* ids[0]: the running trial with the most rows (the one to tamper with); ids[1]: the
     * other one, whatever it is doing. */
    int64_t ids[2] = {0}, all[2] = {0}, running[2] = {0};
    assert_int_equal(trials_in(f->db, sw, NULL, all, 2), 2);
    size_t n_running = trials_in(f->db, sw, "running", running, 2), most = 0;
    store_t *r = open_reader(f, &err);
    for (size_t i = 0; i < n_running; i++) {
        json_t *rows = rows_of(r, running[i], 1);
        if (json_array_size(rows) > most) {
            most = json_array_size(rows);
            ids[0] = running[i];
        }
        json_decref(rows);
    }
    store_close(r);
    assert_true(most >= 2);
    ids[1] = all[0] == ids[0] ? all[1] : all[0];
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE trial_metrics SET val_accuracy = val_accuracy / 2 WHERE trial_id = %lld "
             "AND iteration = 2",
             (long long)ids[0]);
    sql_exec(f->db, sql);
    sql_exec(f->db, "UPDATE trials SET checkpoint_iteration = 0"); /* recompute from 1 */
    r = open_reader(f, &err);
    json_t *seen = rows_of(r, ids[0], 1);
    assert_true(json_array_size(seen) >= 2);
    store_close(r);

    start(f, 2);
    json_decref(wait_sweep(f, sw, "completed", 120));
    r = open_reader(f, &err);
    json_t *rows = rows_of(r, ids[0], 1);
    assert_true(json_equal(rows, seen)); /* nothing deleted, nothing added */
    json_decref(rows);
    json_t *bad = store_trial_get(r, ids[0], &err), *good = store_trial_get(r, ids[1], &err);
    assert_string_equal(json_string_value(json_object_get(bad, "status")), "failed");
    const char *why = json_string_value(json_object_get(bad, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "iteration 2 val_accuracy"));
    assert_int_equal(json_integer_value(json_object_get(bad, "iterations_done")),
                     json_array_size(seen));
    /* Its figures are those of its rows. */
    double best = -1.0;
    for (size_t k = 0; k < json_array_size(seen); k++) {
        double v = json_real_value(json_object_get(json_array_get(seen, k), "val_accuracy"));
        best = v > best ? v : best;
    }
    assert_true(json_real_value(json_object_get(bad, "best_val_accuracy")) == best);
    assert_string_equal(json_string_value(json_object_get(good, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(good, "iterations_done")), 1500);
    json_decref(bad);
    json_decref(good);
    json_decref(seen);
    store_close(r);
}

/* A trial canceled while it recomputes its stored rows ends with the figures of every row it
 * keeps (best and final validation accuracy, iterations_done), not those of the part it had
 * recomputed. */
static void test_cancel_while_recomputing(void **state) {
    fixture_t *f = *state;
    start(f, 2);
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(2, 1, (const size_t[]){3000});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t sw;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sw, &err), 0);
    free(t);
    wait_iterations(f, 0, 400);
    sched_stop(f->s);
    f->s = NULL;
    sql_exec(f->db, "UPDATE trials SET checkpoint_iteration = 0"); /* recompute from 1 */
    int64_t ids[2];
    assert_int_equal(trials_in(f->db, sw, NULL, ids, 2), 2);
    store_t *r = open_reader(f, &err);
    json_t *seen[2] = {rows_of(r, ids[0], 1), rows_of(r, ids[1], 1)};
    store_close(r);
    start(f, 2);
    assert_int_equal(sched_sweep_cancel(f->s, sw, &err), 0);
    json_decref(wait_sweep(f, sw, "canceled", 60));
    for (int i = 0; i < 200; i++) { /* the running trials end within a mini-batch */
        int64_t open[2];
        if (trials_in(f->db, sw, "running", open, 2) == 0)
            break;
        sleep_us(10000);
    }
    r = open_reader(f, &err);
    for (int k = 0; k < 2; k++) {
        json_t *rows = rows_of(r, ids[k], 1);
        assert_prefix(rows, seen[k]);
        double best = NAN, last = NAN;
        for (size_t i = 0; i < json_array_size(rows); i++) {
            double v = json_real_value(json_object_get(json_array_get(rows, i), "val_accuracy"));
            best = isnan(best) || v > best ? v : best;
            last = v;
        }
        json_t *tr = store_trial_get(r, ids[k], &err);
        assert_string_equal(json_string_value(json_object_get(tr, "status")), "canceled");
        assert_int_equal(json_integer_value(json_object_get(tr, "iterations_done")),
                         json_array_size(rows));
        if (json_array_size(rows) > 0) {
            assert_true(json_real_value(json_object_get(tr, "best_val_accuracy")) == best);
            assert_true(json_real_value(json_object_get(tr, "final_val_accuracy")) == last);
        }
        json_decref(tr);
        json_decref(rows);
        json_decref(seen[k]);
    }
    store_close(r);
}

/* A trial's partition count is part of its stored spec: a trial that resumes without a
 * checkpoint (a crash before its first one) on a service restarted with other --workers
 * recomputes its stored rows with the partitions it was trained with, so they check and it
 * completes (before, it took the new worker count and failed as not reproducing its history).
 * BLAS threads stay at one in both runs: only the workers change. */
static void test_resume_with_other_workers(void **state) {
    fixture_t *f = *state;
    start_with(f, (sched_config_t){.workers = 2, .cores = 2, .checkpoint_every = 0});
    int64_t ds = add_iris(f);
    sched_spec_t spec = small_spec(1, 1, (const size_t[]){1500});
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    sched_sweep_request_t req = {.dataset_id = ds, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t sweep;
    store_error_t err;
    assert_int_equal(sched_sweep_create(f->s, &req, &sweep, &err), 0);
    free(t);
    wait_iterations(f, 0, 50);
    sched_stop(f->s);
    f->s = NULL;
    /* a crash before the first checkpoint: rows, no checkpoint */
    sql_exec(f->db, "DELETE FROM trial_checkpoints; UPDATE trials SET checkpoint_iteration = 0");
    int64_t id = 0;
    assert_int_equal(trials_in(f->db, sweep, NULL, &id, 1), 1);

    start_with(f, (sched_config_t){.workers = 1, .cores = 1, .checkpoint_every = 0});
    json_decref(wait_sweep(f, sweep, "completed", 120));
    store_t *r = open_reader(f, &err);
    json_t *tr = store_trial_get(r, id, &err);
    assert_non_null(tr);
    assert_string_equal(json_string_value(json_object_get(tr, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(tr, "iterations_done")), 1500);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(tr, "params"), "partitions")), 2);
    json_decref(tr);
    store_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resume_with_other_workers, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_crash_keeps_every_row, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_resume_mismatch_fails_visibly, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_cancel_while_recomputing, fixture_up, fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
