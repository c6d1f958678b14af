/*
 * test_store_ids.c - ids are never handed out twice (migration 0004): deleting the newest
 * dataset, sweep or trial leaves its id unused, and a database built by the earlier migrations
 * keeps every row, id, index and trigger when it is rebuilt. Fixtures: support/store_fixtures.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlpt_err.h"
#include "store.h"
#include "store_fixtures.h"

/* Ends every trial of a sweep and the sweep itself, so that it may be deleted. */
static void finish_sweep(store_t *st, int64_t sweep, const int64_t *trials, size_t n) {
    store_error_t err = {0};
    fx_assert_rc(store_sweep_set_status(st, sweep, "running", 1795408400.0, NULL, &err), 0, err);
    for (size_t i = 0; i < n; i++)
        fx_trial_end(st, trials[i], "completed", 0.5, 0.5, 1795408401.0);
    fx_assert_rc(store_sweep_set_status(st, sweep, "completed", 1795408500.0, NULL, &err), 0, err);
}

/* The newest dataset, sweep and trials deleted: the next ones get new ids, also after the
 * writer is closed and the database opened again. */
static void test_deleted_ids_are_not_reused(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds1 = fx_dataset(st, "one");
    int64_t ds2 = fx_dataset(st, "two");
    assert_true(ds2 > ds1);

    int64_t trials[2] = {0};
    int64_t sw1 = fx_sweep(st, ds1, 2, NULL, trials);
    finish_sweep(st, sw1, trials, 2);
    int64_t last_trial = trials[1];
    fx_assert_rc(store_sweep_delete(st, sw1, &err), 0, err);
    int64_t sw2 = fx_sweep(st, ds1, 2, NULL, trials);
    assert_true(sw2 > sw1);
    assert_true(trials[0] > last_trial);
    assert_null(store_sweep_get(st, sw1, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);

    char *path = NULL;
    fx_assert_rc(store_dataset_delete(st, ds2, &path, &err), 0, err);
    free(path);
    int64_t ds3 = fx_dataset(st, "three");
    assert_true(ds3 > ds2);
    assert_null(store_dataset_get(st, ds2, &err));

    /* Again across a restart: the high-water mark is in the file. */
    finish_sweep(st, sw2, trials, 2);
    last_trial = trials[1];
    fx_assert_rc(store_sweep_delete(st, sw2, &err), 0, err);
    fx_assert_rc(store_dataset_delete(st, ds3, NULL, &err), 0, err);
    store_close(st);
    st = fx_open(e->db, STORE_WRITER);
    assert_true(fx_dataset(st, "four") > ds3);
    int64_t sw3 = fx_sweep(st, ds1, 2, NULL, trials);
    assert_true(sw3 > sw2);
    assert_true(trials[0] > last_trial);
    store_close(st);
}

/* Rows as a binary that knew migrations 0001..0003 left them: ids with gaps, metric rows, a
 * model and a checkpoint named by path. */
static const char OLD_ROWS[] =
    "INSERT INTO datasets (id, name, format, rows, features, classes, class_names, "
    "class_counts, created_at) VALUES (2, 'a', 'csv', 3, 1, 1, '[\"x\"]', '[3]', 1000.0), "
    "(9, 'b', 'idx', 4, 2, 1, '[\"y\"]', '[4]', 1001.0);"
    "INSERT INTO sweeps (id, dataset_id, test_dataset_id, spec, status, trials_total, "
    "best_trial_id, created_at) VALUES (4, 2, 9, '{}', 'completed', 1, 12, 1002.0), "
    "(6, 9, NULL, '{}', 'completed', 1, NULL, 1003.0);"
    "INSERT INTO trials (id, sweep_id, ordinal, params, status, iterations_done, created_at, "
    "checkpoint_iteration) VALUES (12, 4, 0, '{\"iterations\":2}', 'completed', 2, 1002.0, 0), "
    "(15, 6, 0, '{\"iterations\":5}', 'running', 1, 1003.0, 1);"
    "INSERT INTO trial_metrics VALUES (12, 1, 0.5, 0.5, 0.6, 0.4, 0.25), "
    "(12, 2, 0.4, 0.75, 0.5, 0.5, 0.25), (15, 1, 0.9, 0.25, 0.9, 0.25, 0.5);"
    "INSERT INTO trial_models (trial_id, model, path) VALUES (12, x'', 'models/trial-12.mlpm');"
    "INSERT INTO trial_checkpoints (trial_id, iteration, state, path) "
    "VALUES (15, 1, x'', 'checkpoints/trial-15.mlpc');";

static void test_old_database_keeps_its_ids(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    size_t n = store_migration_count();
    size_t v4 = 0;
    while (v4 < n && strcmp(store_migration_name(v4), "0004_ids_only_grow"))
        v4++;
    assert_true(v4 < n);
    fx_build_version(e->db, v4 - 1);
    fx_sql_exec(e->db, OLD_ROWS);

    store_t *st = fx_open(e->db, STORE_WRITER);
    int version = 0;
    assert_int_equal(store_schema_version(st, &version), 0);
    assert_int_equal(version, (int)n);

    /* Every row with its id and values. */
    assert_int_equal(fx_sql_int(e->db, "SELECT group_concat(id) = '2,9' FROM "
                                       "(SELECT id FROM datasets ORDER BY id)"),
                     1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps WHERE (id = 4 AND "
                                       "dataset_id = 2 AND test_dataset_id = 9 AND "
                                       "best_trial_id = 12) OR (id = 6 AND dataset_id = 9)"),
                     2);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE (id = 12 AND "
                                       "sweep_id = 4) OR (id = 15 AND sweep_id = 6 AND "
                                       "checkpoint_iteration = 1 AND status = 'running')"),
                     2);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 3);
    assert_int_equal(fx_sql_int(e->db, "SELECT sum(val_accuracy * 100) FROM trial_metrics "
                                       "WHERE trial_id = 12"),
                     90);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_models WHERE trial_id = 12 "
                                       "AND path = 'models/trial-12.mlpm'"),
                     1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints WHERE "
                                       "trial_id = 15 AND iteration = 1"),
                     1);
    /* The rebuild itself deleted nothing: no file was scheduled for removal. */
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM deleted_files"), 0);
    /* Indexes and triggers are back, and every table references the rebuilt ones. */
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE type = "
                                       "'trigger' AND name LIKE 'trial_%_file_%'"),
                     6);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                       "AND name IN ('sweeps_by_status', 'sweeps_by_dataset', "
                                       "'sweeps_by_test_dataset', 'trials_by_status')"),
                     4);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE "
                                       "instr(sql, '_new ') OR instr(sql, '_new\"')"),
                     0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

    json_t *d = store_dataset_get(st, 9, &err);
    assert_non_null(d);
    assert_string_equal(fx_json_str(d, "name"), "b");
    json_decref(d);

    /* Deleting the newest sweep cascades as before (its checkpoint file is recorded and then
     * removed by the writer) and its id stays unused. */
    fx_assert_rc(store_sweep_delete(st, 6, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE id = 15"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE trial_id = 15"),
                     0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 0);
    /* The newest dataset goes too, with the finished sweep that tested on it. */
    fx_assert_rc(store_dataset_delete(st, 9, NULL, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps"), 0);
    int64_t trials[1] = {0};
    int64_t sw = fx_sweep(st, 2, 1, NULL, trials);
    assert_true(sw > 6);
    assert_true(trials[0] > 15);
    assert_true(fx_dataset(st, "c") > 9);
    store_close(st);
}

/* Migration 0005 (trial states): a database at version 4 keeps every row, gains the placement
 * column, and takes the new 'stopped' state and strategy names it refused before. */
static void test_0005_keeps_rows_and_takes_new_states(void **state) {
    fx_env_t *e = *state;
    size_t n = store_migration_count();
    size_t v5 = 0;
    while (v5 < n && strcmp(store_migration_name(v5), "0005_trial_states"))
        v5++;
    assert_true(v5 < n);
    fx_build_version(e->db, v5 - 1);
    fx_sql_exec(e->db, OLD_ROWS);
    store_t *st = fx_open(e->db, STORE_WRITER);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 2);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 3);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_models"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM deleted_files"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE placement IS NULL"), 2);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE type = "
                                       "'trigger' AND name LIKE 'trial_%_file_%'"),
                     6);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE "
                                       "instr(sql, '_new ') OR instr(sql, '_new\"')"),
                     0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    fx_sql_exec(e->db, "UPDATE trials SET status = 'stopped', "
                       "placement = '{\"rank\":1,\"host\":\"h\",\"workers\":2}' WHERE id = 15;"
                       "UPDATE sweeps SET search = 'tpe' WHERE id = 6;");
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE status = 'stopped'"), 1);
    /* Names outside the pattern are still refused by the table itself. */
    assert_int_equal(fx_sql_try(e->db, "UPDATE sweeps SET search = 'Grid!' WHERE id = 6"), 0);
    assert_int_equal(fx_sql_try(e->db, "UPDATE trials SET status = 'lost' WHERE id = 15"), 0);
    store_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_deleted_ids_are_not_reused),
        T(test_old_database_keeps_its_ids),
        T(test_0005_keeps_rows_and_takes_new_states),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
