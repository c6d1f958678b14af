/*
 * test_store.c - the SQLite store, part 1 of 3: migrations (empty database, re-open, a database
 * from every earlier version, one from a newer binary), opening writers and readers and their
 * limits, transactions and injected statement failures, and writing datasets.
 * test_store_sweeps.c has sweeps, trials and checkpoints, test_store_recover.c recovery after a
 * crash; test_store_reads.c lists, cursors, metric rows and histories, and concurrent readers.
 * Shared fixtures: tests/support/store_fixtures.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "mlpt_err.h"
#include "store.h"
#include "store_fixtures.h"

/* ------------------------------------------------------------------------------------------ */
/* Migrations. */

static void test_migration_table(void **state) {
    (void)state;
    size_t n = store_migration_count();
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        char prefix[24];
        snprintf(prefix, sizeof(prefix), "%04zu_", i + 1);
        assert_non_null(store_migration_name(i));
        assert_memory_equal(store_migration_name(i), prefix, 5);
        assert_true(strlen(store_migration_sql(i)) > 0);
    }
    assert_string_equal(store_migration_name(0), "0001_init");
    assert_non_null(strstr(store_migration_sql(0), "CREATE TABLE trial_metrics"));
    assert_null(store_migration_name(n));
    assert_null(store_migration_sql(n));
}

static void test_migrate_empty_database(void **state) {
    fx_env_t *e = *state;
    int version = -1;
    store_t *st = fx_open(e->db, STORE_WRITER);
    assert_int_equal(store_schema_version(st, &version), 0);
    assert_int_equal(version, (int)store_migration_count());
    store_close(st);

    int64_t n = (int64_t)store_migration_count();
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM schema_migrations"), n);
    assert_int_equal(fx_sql_int(e->db, "SELECT max(version) FROM schema_migrations"), n);
    assert_int_equal(fx_sql_int(e->db, "PRAGMA user_version"), n);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM schema_migrations "
                                       "WHERE version = 1 AND name = '0001_init' "
                                       "AND applied_at > 1.7e9"),
                     1);
    assert_int_equal(fx_sql_int(e->db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                       "('datasets', 'sweeps', 'trials', 'trial_metrics', "
                                       "'trial_models')"),
                     5);
}

static void test_reopen_is_a_noop(void **state) {
    fx_env_t *e = *state;
    store_close(fx_open(e->db, STORE_WRITER));
    double applied = 0;
    {
        sqlite3 *db = fx_raw_open(e->db);
        sqlite3_stmt *s = NULL;
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT applied_at FROM schema_migrations", -1, &s, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        applied = sqlite3_column_double(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    for (int k = 0; k < 3; k++) {
        store_t *st = fx_open(e->db, k == 1 ? STORE_READER : STORE_WRITER);
        int version = 0;
        assert_int_equal(store_schema_version(st, &version), 0);
        assert_int_equal(version, (int)store_migration_count());
        store_close(st);
    }
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM schema_migrations"),
                     (int64_t)store_migration_count());
    sqlite3 *db = fx_raw_open(e->db);
    sqlite3_stmt *s = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT applied_at FROM schema_migrations", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_true(sqlite3_column_double(s, 0) == applied);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* A database left by every earlier binary (migrations 0..i applied) comes up to the latest, and
 * what it held survives. */
static void test_upgrade_from_each_version(void **state) {
    fx_env_t *e = *state;
    size_t n = store_migration_count();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "v%zu.db", i + 1);
        const char *path = fx_dir_path(&e->dir, name);
        fx_build_version(path, i);
        fx_sql_exec(path, "INSERT INTO datasets (name, format, created_at) "
                          "VALUES ('old', 'csv', 1000.0)");

        store_t *st = fx_open(path, STORE_WRITER);
        int version = 0;
        assert_int_equal(store_schema_version(st, &version), 0);
        assert_int_equal(version, (int)n);
        store_error_t err = {0};
        json_t *d = store_dataset_get(st, 1, &err);
        assert_non_null(d);
        assert_string_equal(fx_json_str(d, "name"), "old");
        json_decref(d);
        store_close(st);

        assert_int_equal(fx_sql_int(path, "SELECT count(*) FROM schema_migrations"), (int64_t)n);
        assert_int_equal(fx_sql_int(path, "PRAGMA user_version"), (int64_t)n);
        /* The versions recorded by the old binary are kept as they were. */
        assert_int_equal(
            fx_sql_int(path, "SELECT count(*) FROM schema_migrations WHERE applied_at = 1000.0"),
            (int64_t)i + 1);
    }
}

static void test_newer_version_is_refused(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_close(fx_open(e->db, STORE_WRITER));
    char sql[160];
    snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%zu, '9999_future', 2000.0)",
             store_migration_count() + 1);
    fx_sql_exec(e->db, sql);

    assert_null(store_open(e->db, STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EVERSION);
    assert_non_null(strstr(err.message, "schema version"));
    memset(&err, 0, sizeof(err));
    assert_null(store_open(e->db, STORE_READER, &err));
    assert_int_equal(err.code, MLPT_EVERSION);
    assert_null(store_open(e->db, STORE_WRITER, NULL)); /* err is optional */

    /* user_version alone says newer too. */
    const char *other = fx_dir_path(&e->dir, "other.db");
    store_close(fx_open(other, STORE_WRITER));
    fx_sql_exec(other, "PRAGMA user_version = 77");
    assert_null(store_open(other, STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EVERSION);
}

static void test_reader_needs_a_migrated_database(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    assert_null(store_open(e->db, STORE_READER, &err));
    assert_int_equal(err.code, MLPT_EDB);
    assert_int_equal(err.sqlite_code & 0xff, SQLITE_CANTOPEN);
    assert_non_null(strstr(err.message, "cannot open database"));
    assert_int_equal(access(e->db, F_OK), -1); /* a reader never creates the file */

    fx_sql_exec(e->db, "CREATE TABLE unrelated (x)");
    memset(&err, 0, sizeof(err));
    assert_null(store_open(e->db, STORE_READER, &err));
    assert_int_equal(err.code, MLPT_EDB);
    assert_non_null(strstr(err.message, "not migrated"));

    /* Migrated, written and closed (the WAL file is gone): a reader opens. */
    store_close(fx_open(e->db, STORE_WRITER));
    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *page = store_dataset_list(rd, 10, NULL, &err);
    assert_non_null(page);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    json_decref(page);
    store_close(rd);
}

static void test_reader_cannot_write(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *wr = fx_open(e->db, STORE_WRITER);
    int64_t trials[1];
    int64_t ds = fx_dataset(wr, "iris");
    int64_t sw = fx_sweep(wr, ds, 1, NULL, trials);
    store_t *rd = fx_open(e->db, STORE_READER);

    store_dataset_new_t d = {.name = "x", .format = "csv", .scaling = "unit"};
    int64_t id = 0, n = 0;
    store_metric_t m = fx_metric(trials[0], 1);
    store_trial_end_t end = {.status = "completed", .now = FX_NOW};
    const char *params[] = {"{}"};
    store_sweep_new_t s = {.dataset_id = ds, .spec_json = "{}", .search = "grid"};
    fx_assert_rc(store_dataset_insert(rd, &d, &id, &err), MLPT_EINVAL, err);
    assert_non_null(strstr(err.message, "writer"));
    fx_assert_rc(store_dataset_delete(rd, ds, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_insert(rd, &s, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(rd, sw, "running", FX_NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_delete(rd, sw, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_start(rd, trials[0], FX_NOW, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_metrics_insert(rd, &m, 1, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_finish(rd, trials[0], &end, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_cancel_queued(rd, sw, FX_NOW, &n, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_recover(rd, &n, &err), MLPT_EINVAL, err);

    /* A reader's transaction is a read snapshot: the writer's commit is not seen inside it. */
    fx_assert_rc(store_begin(rd, &err), 0, err);
    json_t *before = store_sweep_get(rd, sw, &err);
    fx_assert_rc(store_sweep_set_status(wr, sw, "running", FX_NOW, NULL, &err), 0, err);
    json_t *during = store_sweep_get(rd, sw, &err);
    fx_assert_rc(store_commit(rd, &err), 0, err);
    json_t *after = store_sweep_get(rd, sw, &err);
    assert_string_equal(fx_json_str(before, "status"), "queued");
    assert_string_equal(fx_json_str(during, "status"), "queued");
    assert_string_equal(fx_json_str(after, "status"), "running");
    json_decref(before);
    json_decref(during);
    json_decref(after);

    /* Nothing the reader tried is there. */
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM datasets"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT attempt FROM trials"), 0);
    store_close(rd);
    store_close(wr);
}

static void test_open_faults(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    assert_null(store_open(fx_dir_path(&e->dir, "missing/dir/x.db"), STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EDB);
    assert_non_null(strstr(err.message, "cannot open database"));
    assert_null(store_open(NULL, STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EINVAL);

    /* A directory we may not write to (root may write anywhere: skipped then). */
    const char *ro = fx_dir_path(&e->dir, "readonly");
    assert_int_equal(mkdir(ro, 0500), 0);
    if (geteuid() != 0) {
        char path[400];
        snprintf(path, sizeof(path), "%s/x.db", ro);
        memset(&err, 0, sizeof(err));
        assert_null(store_open(path, STORE_WRITER, &err));
        assert_int_equal(err.code, MLPT_EDB);
        assert_true(err.sqlite_code != 0);
        assert_true(strlen(err.message) > 0);
    }

    /* Not a database at all. */
    const char *junk = fx_dir_path(&e->dir, "junk.db");
    FILE *f = fopen(junk, "wb");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not sqlite ", f);
    fclose(f);
    memset(&err, 0, sizeof(err));
    assert_null(store_open(junk, STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EDB);
    assert_int_equal(err.sqlite_code, SQLITE_NOTADB);

    /* A migration that fails leaves the database at the last good version (here: none). */
    const char *clash = fx_dir_path(&e->dir, "clash.db");
    fx_sql_exec(clash, "CREATE TABLE trial_metrics (x)");
    memset(&err, 0, sizeof(err));
    assert_null(store_open(clash, STORE_WRITER, &err));
    assert_int_equal(err.code, MLPT_EDB);
    assert_non_null(strstr(err.message, "0001_init"));
    assert_non_null(strstr(err.message, "already exists"));
    assert_int_equal(fx_sql_int(clash, "SELECT count(*) FROM schema_migrations"), 0);
    assert_int_equal(fx_sql_int(clash, "PRAGMA user_version"), 0);
    assert_int_equal(fx_sql_int(clash, "SELECT count(*) FROM sqlite_schema "
                                       "WHERE name IN ('datasets', 'sweeps')"),
                     0);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions and injected failures. */

static void test_transactions(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t trials[1];
    int64_t ds = fx_dataset(st, "iris");
    fx_sweep(st, ds, 1, NULL, trials);

    fx_assert_rc(store_commit(st, &err), MLPT_ESTATE, err);
    assert_int_equal(store_rollback(st), MLPT_ESTATE);
    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_assert_rc(store_begin(st, &err), MLPT_ESTATE, err);
    fx_metrics(st, trials[0], 1, 3);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);

    /* A failing write inside a transaction undoes only itself. */
    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_metrics(st, trials[0], 1, 3);
    store_metric_t dup[2] = {fx_metric(trials[0], 4), fx_metric(trials[0], 2)};
    fx_assert_rc(store_metrics_insert(st, dup, 2, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_commit(st, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 3);
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials"), 3);
    store_close(st);
}

static void test_injected_step_failures(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t trials[1];
    int64_t ds = fx_dataset(st, "iris");
    fx_sweep(st, ds, 1, NULL, trials);
    store_close(st);
    /* sqlite3_step fails on iteration 13 (ABORT: the statement) and 20 (ROLLBACK: everything). */
    fx_sql_exec(e->db, "CREATE TRIGGER fail13 BEFORE INSERT ON trial_metrics "
                       "WHEN NEW.iteration = 13 BEGIN SELECT RAISE(ABORT, 'injected'); END; "
                       "CREATE TRIGGER fail20 BEFORE INSERT ON trial_metrics "
                       "WHEN NEW.iteration = 20 BEGIN SELECT RAISE(ROLLBACK, 'rolled'); END");
    st = fx_open(e->db, STORE_WRITER);
    store_metric_t rows[13];
    for (int i = 0; i < 13; i++)
        rows[i] = fx_metric(trials[0], i + 1);
    fx_assert_rc(store_metrics_insert(st, rows, 13, &err), MLPT_EDB, err);
    assert_non_null(strstr(err.message, "injected"));
    assert_int_equal(err.sqlite_code, SQLITE_CONSTRAINT_TRIGGER);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials"), 0);
    fx_assert_rc(store_metrics_insert(st, rows, 12, &err), 0, err);

    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_metrics(st, trials[0], 14, 19);
    store_metric_t twenty = fx_metric(trials[0], 20);
    fx_assert_rc(store_metrics_insert(st, &twenty, 1, &err), MLPT_EDB, err);
    /* The whole transaction is gone; the next write and the commit say so. */
    fx_assert_rc(store_metrics_insert(st, rows, 1, &err), MLPT_EDB, err);
    assert_non_null(strstr(err.message, "rolled back"));
    fx_assert_rc(store_commit(st, &err), MLPT_EDB, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT max(iteration) FROM trial_metrics"), 12);
    /* The connection is usable again. */
    fx_metrics(st, trials[0], 14, 14);
    store_close(st);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 13);
}

/* ------------------------------------------------------------------------------------------ */
/* Datasets. */

static void test_dataset_insert_get(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t id = fx_dataset(st, "iris");
    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *d = store_dataset_get(rd, id, &err);
    assert_non_null(d);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_string_equal(text, "{\"id\":1,\"name\":\"iris\",\"format\":\"csv\",\"rows\":150,"
                              "\"features\":4,\"classes\":[\"setosa\",\"versicolor\","
                              "\"virginica\"],\"class_counts\":[50,50,50],\"scaling\":"
                              "\"standardize\",\"size_bytes\":4551,\"sha256\":\"00ff\","
                              "\"created_at\":\"2026-11-23T04:30:00.123Z\",\"kind\":\"table\"}");
    free(text);
    json_decref(d);

    char *path = store_dataset_storage_path(rd, id, &err);
    assert_string_equal(path, "datasets/iris.f32");
    free(path);
    assert_null(store_dataset_storage_path(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_null(store_dataset_get(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_non_null(strstr(err.message, "99"));

    store_dataset_new_t bad = {.name = "x",
                               .format = "parquet",
                               .scaling = "unit",
                               .class_names_json = "[]",
                               .class_counts_json = "[]",
                               .sha256 = "",
                               .storage_path = "",
                               .created_at = FX_NOW};
    int64_t other = 0;
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    bad.format = "idx";
    bad.class_names_json = "[\"a\",";
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    bad.class_names_json = "{}";
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    bad.class_names_json = "[]";
    bad.created_at = NAN;
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    bad.created_at = FX_NOW;
    bad.scaling = NULL;
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_dataset_insert(st, NULL, &other, &err), MLPT_EINVAL, err);
    bad.scaling = "unit";
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), 0, err);
    assert_int_equal(other, 2);
    store_close(rd);
    store_close(st);
}

static void test_dataset_delete(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t a = fx_dataset(st, "a"), b = fx_dataset(st, "b"), c = fx_dataset(st, "c");
    int64_t trials[2];
    int64_t sw = fx_sweep(st, a, 2, NULL, trials);
    const char *params[] = {"{\"iterations\":3}"};
    store_sweep_new_t with_test = {
        .dataset_id = c, .test_dataset_id = b, .spec_json = "{}", .search = "random"};
    int64_t sw2 = 0;
    fx_assert_rc(store_sweep_insert(st, &with_test, params, 1, &sw2, NULL, &err), 0, err);
    fx_metrics(st, trials[0], 1, 2);

    char *path = (char *)"untouched";
    fx_assert_rc(store_dataset_delete(st, a, &path, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "queued"));
    assert_string_equal(path, "untouched");
    fx_assert_rc(store_dataset_delete(st, b, NULL, &err), MLPT_ESTATE, err); /* test dataset */
    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_dataset_delete(st, a, NULL, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "running"));
    fx_assert_rc(store_sweep_set_status(st, sw, "completed", FX_NOW + 5, NULL, &err), 0, err);

    fx_assert_rc(store_dataset_delete(st, a, &path, &err), 0, err);
    assert_string_equal(path, "datasets/iris.f32");
    free(path);
    assert_null(store_sweep_get(st, sw, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_null(store_trial_history(st, trials[0], 0, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 1);
    fx_assert_rc(store_dataset_delete(st, a, NULL, &err), MLPT_ENOTFOUND, err);

    /* A finished sweep that used b as its test dataset goes with b. */
    fx_assert_rc(store_sweep_set_status(st, sw2, "canceled", FX_NOW, "user", &err), 0, err);
    fx_assert_rc(store_dataset_delete(st, b, NULL, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM datasets"), 1);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* The file under the connection. */

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* A database moved away, moved back, then replaced by another file: the writer notices each
 * change (device and inode), and once detached writes nothing more, to either file; its log is
 * emptied into the file it has open, which is then whole on its own. */
static void test_file_watch(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    char moved[320], wal[340];
    snprintf(moved, sizeof(moved), "%s", fx_dir_path(&e->dir, "moved.db"));
    snprintf(wal, sizeof(wal), "%s-wal", e->db);
    store_t *wr = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(wr, "iris");
    fx_assert_rc(store_file_check(wr, &err), 0, err);

    assert_int_equal(rename(e->db, moved), 0);
    fx_assert_rc(store_file_check(wr, &err), MLPT_ENOTFOUND, err);
    assert_int_equal(rename(moved, e->db), 0);
    fx_assert_rc(store_file_check(wr, &err), 0, err);

    /* Another database moved into its place (an older copy, say). */
    const char *copy = fx_dir_path(&e->dir, "copy.db");
    sqlite3 *other = fx_raw_open(copy);
    fx_raw_exec(other, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    assert_int_equal(sqlite3_close(other), SQLITE_OK);
    assert_int_equal(rename(e->db, moved), 0);
    assert_int_equal(rename(copy, e->db), 0);
    fx_assert_rc(store_file_check(wr, &err), MLPT_ESTATE, err);
    struct stat before;
    assert_int_equal(stat(e->db, &before), 0);
    long other_size = file_size(e->db);
    assert_true(file_size(wal) > 0); /* the dataset row is still in the log */

    fx_assert_rc(store_file_detach(wr, &err), 0, err);
    fx_assert_rc(store_file_detach(wr, &err), 0, err); /* again: nothing more to do */
    assert_int_equal(file_size(wal), 0);               /* nothing left to replay into the copy */
    /* No write starts any more; reads still work. */
    fx_assert_rc(store_begin(wr, &err), MLPT_EBUSY, err);
    assert_non_null(strstr(err.message, "replaced"));
    store_dataset_new_t d = {.name = "x",
                             .format = "csv",
                             .scaling = "unit",
                             .class_names_json = "[]",
                             .class_counts_json = "[]",
                             .sha256 = "00",
                             .storage_path = "datasets/x.mlds",
                             .created_at = FX_NOW};
    int64_t id = 0;
    fx_assert_rc(store_dataset_insert(wr, &d, &id, &err), MLPT_EBUSY, err);
    fx_assert_rc(store_dataset_delete(wr, ds, NULL, &err), MLPT_EBUSY, err);
    json_t *j = store_dataset_get(wr, ds, &err);
    assert_non_null(j);
    json_decref(j);
    store_close(wr);

    /* The other database was not touched; the moved one holds its row without any log. */
    struct stat after;
    assert_int_equal(stat(e->db, &after), 0);
    assert_int_equal(file_size(e->db), other_size);
    assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM t"), 1);
    assert_int_equal(fx_sql_int(moved, "SELECT count(*) FROM datasets"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migration_table),
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_migrate_empty_database),
        T(test_reopen_is_a_noop),
        T(test_upgrade_from_each_version),
        T(test_newer_version_is_refused),
        T(test_reader_needs_a_migrated_database),
        T(test_reader_cannot_write),
        T(test_open_faults),
        T(test_transactions),
        T(test_injected_step_failures),
        T(test_dataset_insert_get),
        T(test_dataset_delete),
        T(test_file_watch),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
