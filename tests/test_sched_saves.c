/*
 * test_sched_saves.c - what the scheduler does when the store refuses a worker's report
 * (issue 11, item 1): the classification of save failures (retry the whole batch, or fail the
 * one trial whose report can never be stored), and, end to end on a real store, a trial whose
 * rows SQLite refuses (a trigger raising on its third row) fails with the reason while the
 * other trials of the batch land and complete, and the scheduler stays healthy; a placement
 * (where a trial runs) SQLite refuses is dropped and fails nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "save_class.h"
#include "sched.h"
#include "sched_fixtures.h"

static store_error_t error_of(int code, int sqlite_code) {
    store_error_t e = {.code = code, .sqlite_code = sqlite_code};
    snprintf(e.message, sizeof e.message, "test");
    return e;
}

static void test_classify(void **state) {
    (void)state;
    static const struct {
        int code, sqlite_code;
        sched_save_class_t want;
    } cases[] = {
        /* the database or the disk: retried, nothing dropped */
        {MLPT_ENOSPC, SQLITE_FULL, SCHED_SAVE_RETRY},
        {MLPT_ENOSPC, 0, SCHED_SAVE_RETRY}, /* a model file on a full disk */
        {MLPT_EBUSY, SQLITE_BUSY, SCHED_SAVE_RETRY},
        {MLPT_EBUSY, SQLITE_LOCKED, SCHED_SAVE_RETRY},
        {MLPT_ENOMEM, SQLITE_NOMEM, SCHED_SAVE_RETRY},
        {MLPT_EIO, 0, SCHED_SAVE_RETRY},
        {MLPT_EDB, SQLITE_IOERR_WRITE, SCHED_SAVE_RETRY},
        {MLPT_EDB, SQLITE_IOERR_FSYNC, SCHED_SAVE_RETRY},
        {MLPT_EDB, SQLITE_CORRUPT, SCHED_SAVE_RETRY},
        {MLPT_EDB, SQLITE_READONLY, SCHED_SAVE_RETRY},
        {MLPT_EDB, SQLITE_CANTOPEN, SCHED_SAVE_RETRY},
        {MLPT_EDB, 0, SCHED_SAVE_RETRY}, /* "rolled back by an earlier error" */
        /* this report: it would fail the same way at every retry */
        {MLPT_ELIMIT, SQLITE_TOOBIG, SCHED_SAVE_PERMANENT},
        {MLPT_ELIMIT, 0, SCHED_SAVE_PERMANENT}, /* a model file over the size limit (EFBIG) */
        {MLPT_EINVAL, SQLITE_CONSTRAINT_NOTNULL, SCHED_SAVE_PERMANENT},
        {MLPT_ESTATE, SQLITE_CONSTRAINT_PRIMARYKEY, SCHED_SAVE_PERMANENT},
        {MLPT_ENOTFOUND, SQLITE_CONSTRAINT_FOREIGNKEY, SCHED_SAVE_PERMANENT},
        {MLPT_EDB, SQLITE_CONSTRAINT_TRIGGER, SCHED_SAVE_PERMANENT},
        {MLPT_EDB, SQLITE_TOOBIG, SCHED_SAVE_PERMANENT},
        {MLPT_EDB, SQLITE_MISMATCH, SCHED_SAVE_PERMANENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_error_t e = error_of(cases[i].code, cases[i].sqlite_code);
        if (sched_save_classify(&e) != cases[i].want)
            fail_msg("case %zu: code %d, sqlite %d: want %d", i, cases[i].code,
                     cases[i].sqlite_code, (int)cases[i].want);
    }
    assert_int_equal(sched_save_classify(NULL), SCHED_SAVE_RETRY);
}

/* ---- end to end -------------------------------------------------------------------------- */

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void sql(const char *db, const char *text) {
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    if (sqlite3_exec(h, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(h);
}

/* A service on a fresh data dir with iris, and a trigger (SQL) in its database: *s, *ds_id. */
typedef struct saves_env {
    char dir[32], db[96];
    sched_t *s;
    int64_t ds_id;
    store_t *r;
} saves_env_t;

static void saves_start(saves_env_t *e, const char *trigger) {
    char path[96];
    snprintf(e->dir, sizeof e->dir, "/tmp/mlpt-saves-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->db, sizeof e->db, "%s/mlptune.db", e->dir);
    snprintf(path, sizeof path, "%s/iris.mlds", e->dir);
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(MLPT_TEST_DATA_DIR "/iris.csv", NULL, &ds, NULL), 0);
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    trainer_dataset_free(ds);

    sched_config_t cfg = {.data_dir = e->dir, .db_path = e->db, .workers = 2, .cores = 2};
    store_error_t err;
    e->s = sched_start(&cfg, &err);
    assert_non_null(e->s);
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
    e->ds_id = 0;
    assert_int_equal(sched_dataset_create(e->s, &d, &e->ds_id, &err), 0);
    sql(e->db, trigger);
    e->r = store_open(e->db, STORE_READER, &err);
    assert_non_null(e->r);
    assert_int_equal(store_set_data_dir(e->r, e->dir, &err), 0);
}

/* Two trials of 40 iterations (8 and 16 neurons), run to the sweep's end: its resource. */
static json_t *saves_sweep(saves_env_t *e) {
    sched_spec_t spec = fx_seed_grid();
    spec.n_hidden_layers = 1;
    spec.n_neurons = 2;
    spec.neurons[0] = 8;
    spec.neurons[1] = 16;
    spec.n_learning_rate = 1;
    spec.iterations[0] = 40;
    spec.batch_size[0] = 16;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 2);
    sched_sweep_request_t req = {
        .name = "saves", .dataset_id = e->ds_id, .spec_json = "{}", .trials = t, .n_trials = n};
    int64_t sweep = 0;
    store_error_t err;
    assert_int_equal(sched_sweep_create(e->s, &req, &sweep, &err), 0);
    free(t);
    json_t *sw = NULL;
    for (int i = 0; i < 6000; i++) {
        json_decref(sw);
        sw = store_sweep_get(e->r, sweep, &err);
        assert_non_null(sw);
        const char *st = json_string_value(json_object_get(sw, "status"));
        if (strcmp(st, "queued") && strcmp(st, "running"))
            break;
        sleep_ms(10);
    }
    return sw;
}

static void saves_end(saves_env_t *e) {
    sched_health_t h;
    sched_health(e->s, &h);
    assert_int_equal(h.db_error, 0);
    assert_int_equal(h.unsaved, 0);
    store_close(e->r);
    sched_stop(e->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_unsavable_rows_fail_their_trial(void **state) {
    (void)state;
    saves_env_t e;
    /* SQLite refuses trial 1's third row, whatever the batch it comes in */
    saves_start(&e, "CREATE TRIGGER poison BEFORE INSERT ON trial_metrics "
                    "WHEN new.trial_id = 1 AND new.iteration = 3 "
                    "BEGIN SELECT RAISE(ABORT, 'this row can never be stored'); END");
    json_t *sw = saves_sweep(&e);
    /* one trial failed, the other is a result: the sweep completed */
    assert_string_equal(json_string_value(json_object_get(sw, "status")), "completed");
    json_decref(sw);
    store_error_t err;
    json_t *t1 = store_trial_get(e.r, 1, &err), *t2 = store_trial_get(e.r, 2, &err);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_string_equal(json_string_value(json_object_get(t1, "status")), "failed");
    const char *why = json_string_value(json_object_get(t1, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "this row can never be stored"));
    assert_false(json_is_true(json_object_get(t1, "has_model")));
    assert_int_equal(json_integer_value(json_object_get(t1, "iterations_done")), 2);
    assert_string_equal(json_string_value(json_object_get(t2, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(t2, "iterations_done")), 40);
    assert_true(json_is_true(json_object_get(t2, "has_model")));
    json_decref(t1);
    json_decref(t2);
    saves_end(&e);
}

/* A placement SQLite refuses is only a note: the trial runs and completes without it, its rows
 * and model stored; the other trial's placement is recorded. */
static void test_unsavable_placement_is_dropped(void **state) {
    (void)state;
    saves_env_t e;
    saves_start(&e, "CREATE TRIGGER poison BEFORE UPDATE OF placement ON trials "
                    "WHEN new.id = 1 BEGIN SELECT RAISE(ABORT, 'no placement here'); END");
    json_t *sw = saves_sweep(&e);
    assert_string_equal(json_string_value(json_object_get(sw, "status")), "completed");
    json_decref(sw);
    store_error_t err;
    json_t *t1 = store_trial_get(e.r, 1, &err), *t2 = store_trial_get(e.r, 2, &err);
    assert_non_null(t1);
    assert_non_null(t2);
    for (int i = 0; i < 2; i++) {
        json_t *t = i ? t2 : t1;
        assert_string_equal(json_string_value(json_object_get(t, "status")), "completed");
        assert_int_equal(json_integer_value(json_object_get(t, "iterations_done")), 40);
        assert_true(json_is_true(json_object_get(t, "has_model")));
    }
    assert_true(json_is_null(json_object_get(t1, "error")));
    assert_true(json_is_null(json_object_get(t1, "placement")));
    json_t *where = json_object_get(t2, "placement");
    assert_int_equal(json_integer_value(json_object_get(where, "rank")), 0);
    assert_int_equal(json_integer_value(json_object_get(where, "workers")), 2);
    json_decref(t1);
    json_decref(t2);
    saves_end(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_unsavable_rows_fail_their_trial),
        cmocka_unit_test(test_unsavable_placement_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
