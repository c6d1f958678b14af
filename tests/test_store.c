/*
 * test_store.c - the SQLite store: migrations (empty database, re-open, a database from every
 * earlier version, one from a newer binary), readers and their limits, every function of
 * store.h with its failures, paging with cursors, NaN/Inf as null, injected statement failures,
 * and one writer thread committing metric batches while two reader threads poll histories.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlpt_err.h"
#include "store.h"
#include "store_fixtures.h"

#define NOW 1795408200.0 /* 2026-11-23T04:30:00Z */

/* Each test gets a fresh directory and the path of a database in it. */
typedef struct env {
    fx_dir_t dir;
    const char *db;
} env_t;

static int env_setup(void **state) {
    env_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    fx_dir_make(&e->dir);
    e->db = fx_dir_path(&e->dir, "mlptune.db");
    *state = e;
    return 0;
}

static int env_teardown(void **state) {
    env_t *e = *state;
    fx_dir_remove(&e->dir);
    free(e);
    return 0;
}

static int64_t json_int(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    return (int64_t)json_integer_value(v);
}

static const char *json_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

/* Writes SQL by hand the way a binary that knew only migrations 0..last would have. */
static void build_version(const char *path, size_t last) {
    sqlite3 *db = fx_raw_open(path);
    fx_raw_exec(db, "PRAGMA journal_mode = WAL");
    fx_raw_exec(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at REAL NOT NULL)");
    for (size_t i = 0; i <= last; i++) {
        char sql[256];
        fx_raw_exec(db, "BEGIN");
        fx_raw_exec(db, store_migration_sql(i));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_migrations VALUES (%zu, '%s', 1000.0); "
                 "PRAGMA user_version = %zu; COMMIT",
                 i + 1, store_migration_name(i), i + 1);
        fx_raw_exec(db, sql);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

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
    env_t *e = *state;
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
    env_t *e = *state;
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
    env_t *e = *state;
    size_t n = store_migration_count();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "v%zu.db", i + 1);
        const char *path = fx_dir_path(&e->dir, name);
        build_version(path, i);
        fx_sql_exec(path, "INSERT INTO datasets (name, format, created_at) "
                          "VALUES ('old', 'csv', 1000.0)");

        store_t *st = fx_open(path, STORE_WRITER);
        int version = 0;
        assert_int_equal(store_schema_version(st, &version), 0);
        assert_int_equal(version, (int)n);
        store_error_t err = {0};
        json_t *d = store_dataset_get(st, 1, &err);
        assert_non_null(d);
        assert_string_equal(json_str(d, "name"), "old");
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
    env_t *e = *state;
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
    env_t *e = *state;
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
    env_t *e = *state;
    store_error_t err = {0};
    store_t *wr = fx_open(e->db, STORE_WRITER);
    int64_t trials[1];
    int64_t ds = fx_dataset(wr, "iris");
    int64_t sw = fx_sweep(wr, ds, 1, NULL, trials);
    store_t *rd = fx_open(e->db, STORE_READER);

    store_dataset_new_t d = {.name = "x", .format = "csv", .scaling = "unit"};
    int64_t id = 0, n = 0;
    store_metric_t m = fx_metric(trials[0], 1);
    store_trial_end_t end = {.status = "completed", .now = NOW};
    const char *params[] = {"{}"};
    store_sweep_new_t s = {.dataset_id = ds, .spec_json = "{}", .search = "grid"};
    fx_assert_rc(store_dataset_insert(rd, &d, &id, &err), MLPT_EINVAL, err);
    assert_non_null(strstr(err.message, "writer"));
    fx_assert_rc(store_dataset_delete(rd, ds, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_insert(rd, &s, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(rd, sw, "running", NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_delete(rd, sw, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_start(rd, trials[0], NOW, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_metrics_insert(rd, &m, 1, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_finish(rd, trials[0], &end, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_cancel_queued(rd, sw, NOW, &n, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_recover(rd, &n, &err), MLPT_EINVAL, err);

    /* A reader's transaction is a read snapshot: the writer's commit is not seen inside it. */
    fx_assert_rc(store_begin(rd, &err), 0, err);
    json_t *before = store_sweep_get(rd, sw, &err);
    fx_assert_rc(store_sweep_set_status(wr, sw, "running", NOW, NULL, &err), 0, err);
    json_t *during = store_sweep_get(rd, sw, &err);
    fx_assert_rc(store_commit(rd, &err), 0, err);
    json_t *after = store_sweep_get(rd, sw, &err);
    assert_string_equal(json_str(before, "status"), "queued");
    assert_string_equal(json_str(during, "status"), "queued");
    assert_string_equal(json_str(after, "status"), "running");
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
    env_t *e = *state;
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
    env_t *e = *state;
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
    env_t *e = *state;
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
    env_t *e = *state;
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
                              "\"created_at\":\"2026-11-23T04:30:00.123Z\"}");
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
                               .created_at = NOW};
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
    bad.created_at = NOW;
    bad.scaling = NULL;
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_dataset_insert(st, NULL, &other, &err), MLPT_EINVAL, err);
    bad.scaling = "unit";
    fx_assert_rc(store_dataset_insert(st, &bad, &other, &err), 0, err);
    assert_int_equal(other, 2);
    store_close(rd);
    store_close(st);
}

/* Pages through the dataset list limit at a time; returns the ids seen (count in *n). */
static void list_all_datasets(store_t *st, size_t limit, int64_t *ids, size_t *n) {
    store_error_t err = {0};
    char cursor[64] = "";
    *n = 0;
    for (int pages = 0; pages < 100; pages++) {
        json_t *page = store_dataset_list(st, limit, *cursor ? cursor : NULL, &err);
        if (!page)
            fail_msg("store_dataset_list: %s", err.message);
        json_t *items = json_object_get(page, "items"), *item;
        size_t i;
        assert_true(json_array_size(items) <= limit);
        json_array_foreach(items, i, item) ids[(*n)++] = json_int(item, "id");
        json_t *next = json_object_get(page, "next_cursor");
        if (json_is_null(next)) {
            json_decref(page);
            return;
        }
        assert_int_equal(json_array_size(items), limit);
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(page);
    }
    fail_msg("the list never ended");
}

static void test_dataset_list_paging(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    for (int i = 0; i < 7; i++)
        fx_dataset(st, "d");
    size_t limits[] = {1, 2, 3, 6, 7, 8, 1000};
    for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
        int64_t ids[16];
        size_t n = 0;
        list_all_datasets(st, limits[l], ids, &n);
        assert_int_equal(n, 7);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ids[i], 7 - (int64_t)i);
    }

    /* Cursors: garbage, tampered, and from another list are refused. */
    json_t *page = store_dataset_list(st, 3, NULL, &err);
    const char *good = json_string_value(json_object_get(page, "next_cursor"));
    assert_non_null(good);
    char tampered[64];
    snprintf(tampered, sizeof(tampered), "%s", good);
    tampered[1] = tampered[1] == 'A' ? 'B' : 'A'; /* the tag byte */
    char shorter[64];
    snprintf(shorter, sizeof(shorter), "%s", good);
    shorter[strlen(shorter) - 1] = '\0';
    const char *bad[] = {"",
                         "garbage",
                         "7",
                         tampered,
                         shorter,
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_null(store_dataset_list(st, 3, bad[i], &err));
        assert_int_equal(err.code, MLPT_EINVAL);
        assert_non_null(strstr(err.message, "cursor"));
    }
    int64_t trials[1];
    int64_t sw = fx_sweep(st, 1, 1, NULL, trials);
    (void)sw;
    assert_null(store_sweep_list(st, NULL, 3, good, &err)); /* a dataset cursor */
    assert_int_equal(err.code, MLPT_EINVAL);
    json_decref(page);

    assert_null(store_dataset_list(st, 0, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_dataset_list(st, 1001, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(st);
}

static void test_dataset_delete(void **state) {
    env_t *e = *state;
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
    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_dataset_delete(st, a, NULL, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "running"));
    fx_assert_rc(store_sweep_set_status(st, sw, "completed", NOW + 5, NULL, &err), 0, err);

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
    fx_assert_rc(store_sweep_set_status(st, sw2, "canceled", NOW, "user", &err), 0, err);
    fx_assert_rc(store_dataset_delete(st, b, NULL, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM datasets"), 1);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Sweeps. */

static void test_sweep_insert_and_get(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t trials[3] = {0};
    int iters[3] = {10, 20, 30};
    int64_t sw = fx_sweep(st, ds, 3, iters, trials);
    assert_true(trials[0] > 0 && trials[1] == trials[0] + 1 && trials[2] == trials[0] + 2);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *s = store_sweep_get(rd, sw, &err);
    assert_non_null(s);
    char *text = json_dumps(s, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"id\":1,\"name\":\"grid\",\"dataset_id\":1,\"test_dataset_id\":null,"
                        "\"status\":\"queued\",\"trials_total\":3,\"trials\":{\"queued\":3,"
                        "\"running\":0,\"completed\":0,\"failed\":0,\"diverged\":0,\"pruned\":0,"
                        "\"canceled\":0},\"progress\":0.0,\"best_trial\":null,\"spec\":"
                        "{\"dataset_id\":1,\"grid\":{\"neurons\":[10,20]}},\"created_at\":"
                        "\"2026-11-23T04:31:40.000Z\",\"started_at\":null,\"finished_at\":null,"
                        "\"error\":null}");
    free(text);
    json_decref(s);

    /* Refusals leave nothing behind. */
    const char *params[] = {"{\"iterations\":1}", "[1]"};
    store_sweep_new_t bad = {.dataset_id = 42, .spec_json = "{}", .search = "grid"};
    int64_t id = 0;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_ENOTFOUND, err);
    assert_non_null(strstr(err.message, "dataset 42"));
    bad.dataset_id = ds;
    bad.test_dataset_id = 43;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_ENOTFOUND, err);
    bad.test_dataset_id = 0;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 2, &id, NULL, &err), MLPT_EINVAL, err);
    assert_non_null(strstr(err.message, "params_json[1]"));
    bad.search = "bayes";
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    bad.search = "grid";
    bad.spec_json = "not json";
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 3);

    assert_null(store_sweep_get(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    store_close(rd);
    store_close(st);
}

static void test_sweep_status_progress_and_best(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[4];
    int iters[4] = {10, 10, 20, 0}; /* the last plans 1 iteration (0 is not a plan) */
    int64_t sw = fx_sweep(st, ds, 4, iters, t);

    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW + 60, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    fx_metrics(st, t[0], 1, 4);
    fx_trial_end(st, t[1], "completed", 0.9, 0.85, NOW);
    json_t *s = store_sweep_get(st, sw, &err);
    assert_string_equal(json_str(s, "started_at"), "2026-11-23T04:30:00.000Z");
    json_t *counts = json_object_get(s, "trials");
    assert_int_equal(json_int(counts, "running"), 1);
    assert_int_equal(json_int(counts, "completed"), 1);
    assert_int_equal(json_int(counts, "queued"), 2);
    /* done: 4 + 10 + 0 + 0 of 10 + 10 + 20 + 1 */
    assert_float_equal(json_real_value(json_object_get(s, "progress")), 14.0 / 41.0, 1e-12);
    json_t *best = json_object_get(s, "best_trial"); /* the leader while running */
    assert_int_equal(json_int(best, "id"), t[1]);
    assert_int_equal(json_int(json_object_get(best, "params"), "neurons"), 20);
    assert_float_equal(json_real_value(json_object_get(best, "best_val_accuracy")), 0.9, 0);
    json_decref(s);

    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.9,
                             .final_val_accuracy = 0.9,
                             .test_accuracy = 0.88,
                             .best_iteration = 4,
                             .now = NOW + 10};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err); /* ties t[1]; t[0] is lower */
    fx_trial_end(st, t[2], "diverged", NAN, NAN, NOW);
    fx_assert_rc(store_sweep_set_status(st, sw, "completed", NOW + 100, NULL, &err), 0, err);
    s = store_sweep_get(st, sw, &err);
    assert_string_equal(json_str(s, "status"), "completed");
    assert_string_equal(json_str(s, "started_at"), "2026-11-23T04:30:00.000Z"); /* first time */
    assert_string_equal(json_str(s, "finished_at"), "2026-11-23T04:31:40.000Z");
    assert_float_equal(json_real_value(json_object_get(s, "progress")), 1.0, 0);
    assert_int_equal(json_int(json_object_get(s, "best_trial"), "id"), t[0]);
    assert_int_equal(json_int(json_object_get(s, "trials"), "diverged"), 1);
    json_decref(s);
    assert_int_equal(fx_sql_int(e->db, "SELECT best_trial_id FROM sweeps"), t[0]);

    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW, NULL, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "failed", NOW, NULL, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "completed"));
    fx_assert_rc(store_sweep_set_status(st, 99, "failed", NOW, NULL, &err), MLPT_ENOTFOUND, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "queued", NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "done", NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "failed", INFINITY, NULL, &err), MLPT_EINVAL, err);

    /* A failed sweep keeps its error; no trial with an accuracy -> no best. */
    int64_t t2[1];
    int64_t sw2 = fx_sweep(st, ds, 1, NULL, t2);
    fx_assert_rc(store_sweep_delete(st, sw2, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_sweep_set_status(st, sw2, "failed", NOW, "dataset file missing", &err), 0,
                 err);
    s = store_sweep_get(st, sw2, &err);
    assert_string_equal(json_str(s, "error"), "dataset file missing");
    assert_true(json_is_null(json_object_get(s, "best_trial")));
    assert_true(json_is_null(json_object_get(s, "started_at")));
    json_decref(s);

    fx_assert_rc(store_sweep_delete(st, sw, &err), 0, err);
    fx_assert_rc(store_sweep_delete(st, sw, &err), MLPT_ENOTFOUND, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_models"), 0);
    store_close(st);
}

static void test_sweep_list(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t sw[5];
    for (int i = 0; i < 5; i++)
        sw[i] = fx_sweep(st, ds, 2, NULL, NULL);
    fx_assert_rc(store_sweep_set_status(st, sw[1], "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_set_status(st, sw[3], "running", NOW, NULL, &err), 0, err);

    json_t *page = store_sweep_list(st, NULL, 3, NULL, &err);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(json_int(json_array_get(items, 0), "id"), sw[4]);
    assert_int_equal(json_int(json_array_get(items, 2), "id"), sw[2]);
    assert_int_equal(json_int(json_array_get(items, 0), "trials_total"), 2);
    json_t *next = store_sweep_list(st, NULL, 3,
                                    json_string_value(json_object_get(page, "next_cursor")), &err);
    assert_non_null(next);
    assert_int_equal(json_array_size(json_object_get(next, "items")), 2);
    assert_true(json_is_null(json_object_get(next, "next_cursor")));
    json_decref(next);
    json_decref(page);

    page = store_sweep_list(st, "running", 1, NULL, &err);
    items = json_object_get(page, "items");
    assert_int_equal(json_int(json_array_get(items, 0), "id"), sw[3]);
    next = store_sweep_list(st, "running", 1,
                            json_string_value(json_object_get(page, "next_cursor")), &err);
    assert_int_equal(json_int(json_array_get(json_object_get(next, "items"), 0), "id"), sw[1]);
    assert_true(json_is_null(json_object_get(next, "next_cursor")));
    json_decref(next);
    json_decref(page);

    assert_null(store_sweep_list(st, "finished", 10, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(st);
}

static void test_sweep_history(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    int64_t sw = fx_sweep(st, ds, 3, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[2], NOW, &err), 0, err);
    fx_metrics(st, t[2], 1, 2);
    fx_metrics(st, t[0], 1, 3);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *h = store_sweep_history(rd, sw, &err);
    assert_non_null(h);
    assert_int_equal(json_int(h, "sweep_id"), sw);
    assert_string_equal(json_str(h, "status"), "queued");
    json_t *trials = json_object_get(h, "trials");
    assert_int_equal(json_array_size(trials), 3);
    size_t want[3] = {3, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        json_t *tr = json_array_get(trials, i);
        assert_int_equal(json_int(tr, "trial_id"), t[i]);
        assert_string_equal(json_str(tr, "status"), i == 1 ? "queued" : "running");
        assert_int_equal(json_int(json_object_get(tr, "params"), "neurons"), 10 * (i + 1));
        json_t *hist = json_object_get(tr, "history");
        assert_int_equal(json_array_size(hist), want[i]);
        for (size_t k = 0; k < want[i]; k++)
            assert_int_equal(json_int(json_array_get(hist, k), "iteration"), k + 1);
    }
    json_t *p = json_array_get(json_object_get(json_array_get(trials, 0), "history"), 1);
    assert_float_equal(json_real_value(json_object_get(p, "train_loss")), 0.5, 0);
    assert_float_equal(json_real_value(json_object_get(p, "val_loss")), 1.0, 0);
    assert_float_equal(json_real_value(json_object_get(p, "seconds")), 0.5, 0);
    json_decref(h);

    /* A sweep without trials has an empty list; an unknown one is not found. */
    int64_t empty = fx_sweep(st, ds, 0, NULL, NULL);
    h = store_sweep_history(rd, empty, &err);
    assert_non_null(h);
    assert_int_equal(json_array_size(json_object_get(h, "trials")), 0);
    json_decref(h);
    assert_null(store_sweep_history(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    store_close(rd);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Trials. */

static void test_trial_lifecycle_and_model(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    fx_sweep(st, ds, 2, NULL, t);

    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "running"));
    fx_assert_rc(store_trial_start(st, 99, NOW, &err), MLPT_ENOTFOUND, err);
    fx_metrics(st, t[0], 1, 4);
    unsigned char model[3000];
    for (size_t i = 0; i < sizeof(model); i++)
        model[i] = (unsigned char)(i * 7 % 256); /* zeros included */
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.75,
                             .final_val_accuracy = 0.5,
                             .test_accuracy = 0.625,
                             .best_iteration = 3,
                             .error = NULL,
                             .model = model,
                             .model_len = sizeof(model),
                             .now = NOW + 2.5};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_trial_finish(st, 99, &end, &err), MLPT_ENOTFOUND, err);
    end.status = "running";
    fx_assert_rc(store_trial_finish(st, t[1], &end, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_finish(st, t[1], NULL, &err), MLPT_EINVAL, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_non_null(tr);
    char *text = json_dumps(tr, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"id\":1,\"sweep_id\":1,\"ordinal\":0,\"status\":\"completed\","
                        "\"attempt\":1,\"params\":{\"hidden_layers\":1,\"neurons\":10,"
                        "\"iterations\":10},\"iterations_done\":4,\"best_val_accuracy\":0.75,"
                        "\"best_iteration\":3,\"final_val_accuracy\":0.5,\"test_accuracy\":0.625,"
                        "\"error\":null,\"has_model\":true,\"created_at\":"
                        "\"2026-11-23T04:31:40.000Z\",\"started_at\":\"2026-11-23T04:30:00.000Z\","
                        "\"finished_at\":\"2026-11-23T04:30:02.500Z\",\"seconds\":2.0}");
    free(text);
    json_decref(tr);

    void *blob = NULL;
    size_t len = 0;
    fx_assert_rc(store_trial_model(rd, t[0], &blob, &len, &err), 0, err);
    assert_int_equal(len, sizeof(model));
    assert_memory_equal(blob, model, sizeof(model));
    free(blob);
    fx_assert_rc(store_trial_model(rd, t[1], &blob, &len, &err), MLPT_ENOTFOUND, err);
    assert_non_null(strstr(err.message, "no model"));
    fx_assert_rc(store_trial_model(rd, 99, &blob, &len, &err), MLPT_ENOTFOUND, err);
    assert_null(store_trial_get(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);

    /* A trial that failed before it ran: queued -> failed with its error, no model. */
    store_trial_end_t failed = {.status = "failed",
                                .best_val_accuracy = NAN,
                                .final_val_accuracy = NAN,
                                .test_accuracy = NAN,
                                .error = "out of memory",
                                .now = NOW};
    fx_assert_rc(store_trial_finish(st, t[1], &failed, &err), 0, err);
    tr = store_trial_get(rd, t[1], &err);
    assert_string_equal(json_str(tr, "error"), "out of memory");
    assert_int_equal(json_int(tr, "attempt"), 0);
    assert_false(json_is_true(json_object_get(tr, "has_model")));
    assert_true(json_is_null(json_object_get(tr, "started_at")));
    assert_true(json_is_null(json_object_get(tr, "best_iteration")));
    assert_float_equal(json_real_value(json_object_get(tr, "seconds")), 0.0, 0);
    json_decref(tr);
    store_close(rd);
    store_close(st);
}

static void test_metrics_and_history(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    fx_sweep(st, ds, 2, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    store_metric_t rows[5];
    for (int i = 0; i < 5; i++)
        rows[i] = fx_metric(t[0], i + 1);
    fx_assert_rc(store_metrics_insert(st, rows, 5, &err), 0, err);
    fx_assert_rc(store_metrics_insert(st, rows, 0, &err), 0, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *h = store_trial_history(rd, t[0], 0, &err);
    assert_non_null(h);
    assert_int_equal(json_int(h, "trial_id"), t[0]);
    assert_string_equal(json_str(h, "status"), "running");
    assert_int_equal(json_array_size(json_object_get(h, "history")), 5);
    char *text = json_dumps(json_array_get(json_object_get(h, "history"), 1), JSON_COMPACT);
    assert_string_equal(text, "{\"iteration\":2,\"train_loss\":0.5,\"train_accuracy\":0.5,"
                              "\"val_loss\":1.0,\"val_accuracy\":0.25,\"seconds\":0.5}");
    free(text);
    json_decref(h);
    h = store_trial_history(rd, t[0], 3, &err);
    json_t *hist = json_object_get(h, "history");
    assert_int_equal(json_array_size(hist), 2);
    assert_int_equal(json_int(json_array_get(hist, 0), "iteration"), 4);
    assert_int_equal(json_int(json_array_get(hist, 1), "iteration"), 5);
    json_decref(h);
    h = store_trial_history(rd, t[0], 5, &err);
    assert_int_equal(json_array_size(json_object_get(h, "history")), 0);
    json_decref(h);
    h = store_trial_history(rd, t[1], 0, &err); /* no metrics yet */
    assert_non_null(h);
    assert_string_equal(json_str(h, "status"), "queued");
    assert_int_equal(json_array_size(json_object_get(h, "history")), 0);
    json_decref(h);
    assert_null(store_trial_history(rd, 99, 0, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);

    /* A batch with one duplicate keeps none of its rows. */
    store_metric_t batch[3] = {fx_metric(t[0], 6), fx_metric(t[0], 7), fx_metric(t[0], 3)};
    fx_assert_rc(store_metrics_insert(st, batch, 3, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "iteration 3"));
    assert_int_equal(fx_sql_int(e->db, "SELECT max(iteration) FROM trial_metrics"), 5);
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials WHERE id = 1"), 5);
    store_metric_t m = fx_metric(99, 1);
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_ENOTFOUND, err);
    m = fx_metric(t[0], 0);
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_EINVAL, err);
    m = fx_metric(t[0], 6);
    m.seconds = NAN;
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_metrics_insert(st, NULL, 1, &err), MLPT_EINVAL, err);

    /* A running trial shows its best and latest validation accuracy as rows arrive: the first
     * best is kept on ties, a row without validation leaves them as they were. */
    double acc[4] = {0.5, 0.75, 0.75, 0.6};
    for (int i = 0; i < 4; i++) {
        store_metric_t row = fx_metric(t[0], 6 + i);
        row.val_accuracy = acc[i];
        fx_assert_rc(store_metrics_insert(st, &row, 1, &err), 0, err);
    }
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_non_null(tr);
    assert_string_equal(json_str(tr, "status"), "running");
    assert_true(json_real_value(json_object_get(tr, "best_val_accuracy")) == 0.75);
    assert_int_equal(json_int(tr, "best_iteration"), 7);
    assert_true(json_real_value(json_object_get(tr, "final_val_accuracy")) == 0.6);
    json_decref(tr);
    store_metric_t nan_row = fx_metric(t[0], 10);
    nan_row.val_accuracy = NAN;
    fx_assert_rc(store_metrics_insert(st, &nan_row, 1, &err), 0, err);
    tr = store_trial_get(rd, t[0], &err);
    assert_true(json_real_value(json_object_get(tr, "best_val_accuracy")) == 0.75);
    assert_int_equal(json_int(tr, "best_iteration"), 7);
    json_decref(tr);
    store_close(rd);
    store_close(st);
}

static void test_nonfinite_numbers_are_null(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[1];
    int64_t sw = fx_sweep(st, ds, 1, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    store_metric_t m = fx_metric(t[0], 1);
    m.train_loss = NAN;
    m.train_accuracy = INFINITY;
    m.val_loss = -INFINITY;
    m.val_accuracy = NAN;
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), 0, err);
    store_trial_end_t end = {.status = "diverged",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = INFINITY,
                             .test_accuracy = -INFINITY,
                             .now = NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE train_loss IS "
                                       "NULL AND train_accuracy IS NULL AND val_loss IS NULL "
                                       "AND val_accuracy IS NULL"),
                     1);

    json_t *h = store_trial_history(st, t[0], 0, &err);
    char *text = json_dumps(json_array_get(json_object_get(h, "history"), 0), JSON_COMPACT);
    assert_string_equal(text, "{\"iteration\":1,\"train_loss\":null,\"train_accuracy\":null,"
                              "\"val_loss\":null,\"val_accuracy\":null,\"seconds\":0.5}");
    free(text);
    json_decref(h);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_true(json_is_null(json_object_get(tr, "best_val_accuracy")));
    assert_true(json_is_null(json_object_get(tr, "final_val_accuracy")));
    assert_true(json_is_null(json_object_get(tr, "test_accuracy")));
    json_decref(tr);
    json_t *sh = store_sweep_history(st, sw, &err);
    text = json_dumps(sh, JSON_COMPACT);
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    free(text);
    json_decref(sh);
    store_close(st);
}

/* One trial of the sort test and what it was given. */
typedef struct sort_row {
    int64_t id, ordinal;
    double best, final, started; /* NAN: null */
} sort_row_t;

static const char *sort_key;
static int sort_desc;

static double sort_value(const sort_row_t *r) {
    if (strcmp(sort_key, "ordinal") == 0)
        return (double)r->ordinal;
    if (strcmp(sort_key, "id") == 0)
        return (double)r->id;
    if (strcmp(sort_key, "best_val_accuracy") == 0)
        return r->best;
    if (strcmp(sort_key, "final_val_accuracy") == 0)
        return r->final;
    return r->started;
}

/* The documented order: nulls last, then by the key, ties by id ascending. */
static int sort_cmp(const void *pa, const void *pb) {
    const sort_row_t *a = pa, *b = pb;
    double va = sort_value(a), vb = sort_value(b);
    if (isnan(va) != isnan(vb))
        return isnan(va) ? 1 : -1;
    if (!isnan(va) && va != vb)
        return (va < vb) != sort_desc ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void test_trial_list_sorting_and_paging(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    enum { N = 8 };
    int64_t t[N];
    int64_t sw = fx_sweep(st, ds, N, NULL, t);
    int64_t other = fx_sweep(st, ds, 2, NULL, NULL);
    const double best[N] = {0.9, NAN, 0.8, 0.9, NAN, 0.95, 0.8, 0.1};
    const double final[N] = {0.5, 0.6, NAN, 0.5, 0.7, NAN, 0.2, 0.3};
    const double started[N] = {5, 1, 3, 1, 9, 2, NAN, NAN};
    sort_row_t rows[N];
    for (int i = 0; i < N; i++) {
        rows[i] = (sort_row_t){t[i], i, best[i], final[i], NOW + started[i]};
        if (isnan(started[i])) { /* finished straight from the queue: never started */
            store_trial_end_t end = {.status = "canceled",
                                     .best_val_accuracy = best[i],
                                     .final_val_accuracy = final[i],
                                     .test_accuracy = NAN,
                                     .now = NOW};
            fx_assert_rc(store_trial_finish(st, t[i], &end, &err), 0, err);
        } else {
            fx_trial_end(st, t[i], "completed", best[i], final[i], NOW + started[i]);
        }
    }

    const char *keys[] = {"ordinal", "best_val_accuracy", "final_val_accuracy", "id", "started_at"};
    const size_t limits[] = {1, 2, 3, 7, 8, 1000};
    store_t *rd = fx_open(e->db, STORE_READER);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (int desc = 0; desc < 2; desc++) {
            char sort[32];
            snprintf(sort, sizeof(sort), "%s%s", desc ? "-" : "", keys[k]);
            sort_key = keys[k];
            sort_desc = desc;
            sort_row_t want[N];
            memcpy(want, rows, sizeof(rows));
            qsort(want, N, sizeof(want[0]), sort_cmp);
            for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
                char cursor[64] = "";
                size_t seen = 0;
                for (;;) {
                    json_t *page =
                        store_trial_list(rd, sw, sort, limits[l], *cursor ? cursor : NULL, &err);
                    if (!page)
                        fail_msg("%s limit %zu: %s", sort, limits[l], err.message);
                    json_t *items = json_object_get(page, "items"), *item;
                    size_t i;
                    json_array_foreach(items, i, item) {
                        assert_true(seen < N);
                        if (json_int(item, "id") != want[seen].id)
                            fail_msg("%s limit %zu: position %zu is trial %lld, want %lld", sort,
                                     limits[l], seen, (long long)json_int(item, "id"),
                                     (long long)want[seen].id);
                        seen++;
                    }
                    json_t *next = json_object_get(page, "next_cursor");
                    int last = json_is_null(next);
                    if (!last)
                        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
                    json_decref(page);
                    if (last)
                        break;
                }
                assert_int_equal(seen, N);
            }
        }
    }
    /* NULL is ordinal; a NULL-keyed cursor (best is null at the end) pages on. */
    json_t *page = store_trial_list(rd, sw, NULL, 3, NULL, &err);
    assert_int_equal(json_int(json_array_get(json_object_get(page, "items"), 0), "ordinal"), 0);
    char cursor[64];
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(json_object_get(page, "next_cursor")));
    json_decref(page);
    page = store_trial_list(rd, sw, "ordinal", 3, cursor, &err); /* same sort, spelled out */
    assert_int_equal(json_int(json_array_get(json_object_get(page, "items"), 0), "ordinal"), 3);
    json_decref(page);

    /* A cursor belongs to its sweep and sort. */
    assert_null(store_trial_list(rd, sw, "-ordinal", 3, cursor, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, other, NULL, 3, cursor, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "accuracy", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "--id", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, 99, NULL, 3, NULL, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_null(store_trial_list(rd, sw, NULL, 0, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(rd);
    store_close(st);
}

static void test_cancel_queued(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[4];
    int64_t sw = fx_sweep(st, ds, 4, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[1], NOW, &err), 0, err);
    fx_trial_end(st, t[3], "completed", 0.5, 0.5, NOW);
    int64_t n = -1;
    fx_assert_rc(store_sweep_cancel_queued(st, sw, NOW + 1, &n, &err), 0, err);
    assert_int_equal(n, 2);
    json_t *s = store_sweep_get(st, sw, &err);
    json_t *counts = json_object_get(s, "trials");
    assert_int_equal(json_int(counts, "canceled"), 2);
    assert_int_equal(json_int(counts, "running"), 1);
    assert_int_equal(json_int(counts, "completed"), 1);
    assert_int_equal(json_int(counts, "queued"), 0);
    json_decref(s);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_string_equal(json_str(tr, "status"), "canceled");
    assert_string_equal(json_str(tr, "finished_at"), "2026-11-23T04:30:01.000Z");
    json_decref(tr);
    fx_assert_rc(store_sweep_cancel_queued(st, sw, NOW, NULL, &err), 0, err); /* nothing left */
    fx_assert_rc(store_sweep_cancel_queued(st, 99, NOW, &n, &err), MLPT_ENOTFOUND, err);
    store_close(st);
}

static void test_recover(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    int64_t sw = fx_sweep(st, ds, 3, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[1], NOW, &err), 0, err);
    fx_metrics(st, t[0], 1, 4);
    fx_metrics(st, t[1], 1, 2);
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.5,
                             .final_val_accuracy = 0.5,
                             .test_accuracy = NAN,
                             .now = NOW};
    fx_assert_rc(store_trial_finish(st, t[1], &end, &err), 0, err);
    store_close(st); /* "crash" */

    st = fx_open(e->db, STORE_WRITER);
    int64_t n = -1;
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 1);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_string_equal(json_str(tr, "status"), "queued");
    assert_int_equal(json_int(tr, "iterations_done"), 0);
    assert_float_equal(json_real_value(json_object_get(tr, "seconds")), 0.0, 0);
    assert_int_equal(json_int(tr, "attempt"), 1);
    json_decref(tr);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE trial_id = 1"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE trial_id = 2"),
                     2); /* a finished trial keeps its history */
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 0);
    fx_assert_rc(store_trial_start(st, t[0], NOW + 60, &err), 0, err);
    fx_metrics(st, t[0], 1, 1); /* the history restarts at 1 */
    tr = store_trial_get(st, t[0], &err);
    assert_int_equal(json_int(tr, "attempt"), 2);
    assert_string_equal(json_str(tr, "started_at"), "2026-11-23T04:31:00.000Z");
    json_decref(tr);
    store_close(st);
}

typedef struct walk {
    int64_t sweep[16], trial[16], dataset[16], test_dataset[16];
    char params[16][96];
    int n, stop_after;
    store_t *st;
} walk_t;

static int walk_fn(int64_t sweep_id, int64_t trial_id, int64_t dataset_id, int64_t test_dataset_id,
                   const char *params_json, void *user) {
    walk_t *w = user;
    if (w->n == w->stop_after)
        return -1234;
    w->sweep[w->n] = sweep_id;
    w->trial[w->n] = trial_id;
    w->dataset[w->n] = dataset_id;
    w->test_dataset[w->n] = test_dataset_id;
    snprintf(w->params[w->n], sizeof(w->params[0]), "%s", params_json);
    w->n++;
    if (w->st) /* the callback may use the store: the rows were read before */
        return store_trial_start(w->st, trial_id, NOW, NULL);
    return 0;
}

static void test_queued_trials(void **state) {
    env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris"), test_ds = fx_dataset(st, "test");
    int64_t a[3], b[2], c[2], d[1];
    int64_t sa = fx_sweep(st, ds, 3, NULL, a);
    const char *params[] = {"{\"iterations\":5}", "{\"iterations\":6}"};
    store_sweep_new_t with_test = {
        .dataset_id = ds, .test_dataset_id = test_ds, .spec_json = "{}", .search = "grid"};
    int64_t sb = 0;
    fx_assert_rc(store_sweep_insert(st, &with_test, params, 2, &sb, b, &err), 0, err);
    int64_t sc = fx_sweep(st, ds, 2, NULL, c);
    int64_t sd = fx_sweep(st, ds, 1, NULL, d);
    fx_assert_rc(store_sweep_set_status(st, sa, "running", NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, a[1], NOW, &err), 0, err); /* running: not queued */
    fx_assert_rc(store_sweep_set_status(st, sc, "canceled", NOW, NULL, &err), 0, err);
    (void)sd;

    walk_t w = {.stop_after = -1};
    fx_assert_rc(store_queued_trials(st, walk_fn, &w, &err), 0, err);
    int64_t want[] = {a[0], a[2], b[0], b[1], d[0]};
    assert_int_equal(w.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(w.trial[i], want[i]);
    assert_int_equal(w.sweep[2], sb);
    assert_int_equal(w.dataset[2], ds);
    assert_int_equal(w.test_dataset[2], test_ds);
    assert_int_equal(w.test_dataset[0], 0);
    assert_string_equal(w.params[3], "{\"iterations\":6}");

    walk_t stop = {.stop_after = 2};
    assert_int_equal(store_queued_trials(st, walk_fn, &stop, &err), -1234);
    assert_int_equal(stop.n, 2);

    walk_t use = {.stop_after = -1, .st = st};
    fx_assert_rc(store_queued_trials(st, walk_fn, &use, &err), 0, err);
    assert_int_equal(use.n, 5);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE status = 'running'"), 6);
    fx_assert_rc(store_queued_trials(st, NULL, NULL, &err), MLPT_EINVAL, err);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* One writer thread, two reader threads. */

enum { CONC_BATCHES = 150, CONC_BATCH = 7 };

typedef struct conc {
    const char *path;
    int64_t trial_id;
    atomic_int done;
    int writer_rc;
    char writer_msg[256];
} conc_t;

typedef struct reader {
    conc_t *c;
    int incremental; /* poll with since = the last iteration seen */
    int failures;
    int64_t polls, last;
    char msg[256];
} reader_t;

static void *writer_main(void *arg) {
    conc_t *c = arg;
    store_error_t err = {0};
    store_t *st = store_open(c->path, STORE_WRITER, &err);
    int rc = st ? 0 : err.code;
    for (int b = 0; !rc && b < CONC_BATCHES; b++) {
        store_metric_t rows[CONC_BATCH];
        for (int i = 0; i < CONC_BATCH; i++)
            rows[i] = fx_metric(c->trial_id, (int64_t)b * CONC_BATCH + i + 1);
        rc = store_begin(st, &err);
        /* Two inserts per batch: a reader must never see the first without the second. */
        if (!rc)
            rc = store_metrics_insert(st, rows, 3, &err);
        if (!rc)
            rc = store_metrics_insert(st, rows + 3, CONC_BATCH - 3, &err);
        if (!rc)
            rc = store_commit(st, &err);
    }
    c->writer_rc = rc;
    snprintf(c->writer_msg, sizeof(c->writer_msg), "%s", rc ? err.message : "");
    store_close(st);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Checks one poll: iterations since+1, since+2, ... with whole batches only. */
static int reader_poll(reader_t *r, store_t *st) {
    store_error_t err = {0};
    int64_t since = r->incremental ? r->last : 0;
    json_t *h = store_trial_history(st, r->c->trial_id, since, &err);
    if (!h) {
        snprintf(r->msg, sizeof(r->msg), "poll %lld: %d %.200s", (long long)r->polls, err.code,
                 err.message);
        return -1;
    }
    json_t *hist = json_object_get(h, "history"), *p;
    size_t i;
    int64_t expect = since + 1;
    json_array_foreach(hist, i, p) {
        if (json_integer_value(json_object_get(p, "iteration")) != expect++) {
            snprintf(r->msg, sizeof(r->msg), "poll %lld: gap at %lld", (long long)r->polls,
                     (long long)(expect - 1));
            json_decref(h);
            return -1;
        }
    }
    int64_t last = expect - 1;
    json_decref(h);
    if (last % CONC_BATCH != 0 || last < r->last) {
        snprintf(r->msg, sizeof(r->msg), "poll %lld: saw %lld rows (after %lld)",
                 (long long)r->polls, (long long)last, (long long)r->last);
        return -1;
    }
    r->last = last;
    r->polls++;
    return 0;
}

static void *reader_main(void *arg) {
    reader_t *r = arg;
    store_error_t err = {0};
    store_t *st = store_open(r->c->path, STORE_READER, &err);
    if (!st) {
        snprintf(r->msg, sizeof(r->msg), "open: %.200s", err.message);
        r->failures++;
        return NULL;
    }
    while (!atomic_load(&r->c->done))
        if (reader_poll(r, st))
            r->failures++;
    if (reader_poll(r, st)) /* after the last commit: everything */
        r->failures++;
    store_close(st);
    return NULL;
}

static void test_concurrent_writer_and_readers(void **state) {
    env_t *e = *state;
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t t[1];
    fx_sweep(st, fx_dataset(st, "iris"), 1, NULL, t);
    store_error_t err = {0};
    fx_assert_rc(store_trial_start(st, t[0], NOW, &err), 0, err);
    store_close(st);

    conc_t c = {.path = e->db, .trial_id = t[0]};
    atomic_init(&c.done, 0);
    reader_t readers[2] = {{.c = &c, .incremental = 0}, {.c = &c, .incremental = 1}};
    pthread_t wt, rt[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &readers[i]), 0);
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &c), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(rt[i], NULL), 0);

    if (c.writer_rc)
        fail_msg("writer: %d %s", c.writer_rc, c.writer_msg);
    for (int i = 0; i < 2; i++) {
        if (readers[i].failures)
            fail_msg("reader %d: %d failures, last: %s", i, readers[i].failures, readers[i].msg);
        assert_int_equal(readers[i].last, CONC_BATCHES * CONC_BATCH);
        assert_true(readers[i].polls >= 1);
    }
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials"),
                     CONC_BATCHES * CONC_BATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migration_table),
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
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
        T(test_dataset_list_paging),
        T(test_dataset_delete),
        T(test_sweep_insert_and_get),
        T(test_sweep_status_progress_and_best),
        T(test_sweep_list),
        T(test_sweep_history),
        T(test_trial_lifecycle_and_model),
        T(test_metrics_and_history),
        T(test_nonfinite_numbers_are_null),
        T(test_trial_list_sorting_and_paging),
        T(test_cancel_queued),
        T(test_recover),
        T(test_queued_trials),
        T(test_concurrent_writer_and_readers),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
