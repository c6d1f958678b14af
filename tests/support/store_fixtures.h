/*
 * tests/support/store_fixtures.h - helpers for the store tests (test_store*.c): a temporary
 * directory removed with everything in it, the per-test environment (cmocka setup/teardown: a
 * fresh directory and a database path in it), typed JSON member checks, raw SQLite access to a
 * database file (to build old versions by hand and to look behind the store's back), and
 * ready-made datasets, sweeps and metric rows.
 *
 * Header-only (static inline) because each test executable is built from its one .c file.
 * Include after <cmocka.h>.
 */
#ifndef STORE_FIXTURES_H
#define STORE_FIXTURES_H

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlpt_err.h"
#include "store.h"

/* A mkdtemp() directory; fx_dir_remove() deletes it and whatever the test left inside. */
typedef struct fx_dir {
    char dir[256];
    char path[8][320]; /* fx_dir_path() results, round robin */
    int next;
} fx_dir_t;

static inline void fx_dir_make(fx_dir_t *d) {
    const char *base = getenv("TMPDIR");
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "%s/mlpt-store-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(d->dir));
}

/* "<dir>/<name>"; valid until 8 more calls. */
static inline const char *fx_dir_path(fx_dir_t *d, const char *name) {
    char tmp[sizeof(d->path[0])]; /* not straight into *d: -Wrestrict */
    int n = snprintf(tmp, sizeof(tmp), "%s/%s", d->dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(tmp));
    char *p = d->path[d->next++ % 8];
    memcpy(p, tmp, sizeof(tmp));
    return p;
}

static inline void fx_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        DIR *dir = opendir(path);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[1024];
            int n = snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
            assert_true(n > 0 && (size_t)n < sizeof(child));
            fx_remove_tree(child);
        }
        if (dir)
            closedir(dir);
        assert_int_equal(rmdir(path), 0);
    } else {
        assert_int_equal(unlink(path), 0);
    }
}

static inline void fx_dir_remove(fx_dir_t *d) {
    fx_remove_tree(d->dir);
}

/* ---- the per-test environment and JSON checks ---- */

#define FX_NOW 1795408200.0 /* 2026-11-23T04:30:00Z */

/* Each test gets a fresh directory and the path of a database in it. */
typedef struct fx_env {
    fx_dir_t dir;
    const char *db;
} fx_env_t;

/* cmocka setup: *state becomes a new fx_env_t. */
static inline int fx_env_setup(void **state) {
    fx_env_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    fx_dir_make(&e->dir);
    e->db = fx_dir_path(&e->dir, "mlptune.db");
    *state = e;
    return 0;
}

/* cmocka teardown: removes the directory with everything in it and frees the environment. */
static inline int fx_env_teardown(void **state) {
    fx_env_t *e = *state;
    fx_dir_remove(&e->dir);
    free(e);
    return 0;
}

/* obj's member key, which must be an integer. */
static inline int64_t fx_json_int(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    return (int64_t)json_integer_value(v);
}

/* obj's member key, which must be a string. */
static inline const char *fx_json_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

/* ---- raw SQLite, behind the store's back ---- */

static inline sqlite3 *fx_raw_open(const char *path) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        fail_msg("sqlite3_open_v2(%s): %s", path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static inline void fx_raw_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

/* The first column of the first row of sql as an integer (0 when there is no row). */
static inline int64_t fx_raw_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return v;
}

/* One-shot versions on a file. */
static inline void fx_sql_exec(const char *path, const char *sql) {
    sqlite3 *db = fx_raw_open(path);
    fx_raw_exec(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static inline int64_t fx_sql_int(const char *path, const char *sql) {
    sqlite3 *db = fx_raw_open(path);
    int64_t v = fx_raw_int(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

/* 1 when sql runs on the file, 0 when SQLite refuses it (a constraint, say). */
static inline int fx_sql_try(const char *path, const char *sql) {
    sqlite3 *db = fx_raw_open(path);
    int ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return ok;
}

/* Writes SQL by hand the way a binary that knew only migrations 0..last would have. */
static inline void fx_build_version(const char *path, size_t last) {
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

/* ---- stores, datasets, sweeps ---- */

static inline store_t *fx_open(const char *path, store_mode_t mode) {
    store_error_t err = {0};
    store_t *st = store_open(path, mode, &err);
    if (!st)
        fail_msg("store_open(%s): %d %s", path, err.code, err.message);
    return st;
}

/* Asserts rc == want, printing the store's message when it is not. */
#define fx_assert_rc(rc, want, err)                                                                \
    do {                                                                                           \
        int fx_rc_ = (rc);                                                                         \
        if (fx_rc_ != (want))                                                                      \
            fail_msg("%s = %d, want %d (%s)", #rc, fx_rc_, (int)(want), (err).message);            \
    } while (0)

static inline int64_t fx_dataset(store_t *st, const char *name) {
    store_error_t err = {0};
    store_dataset_new_t d = {
        .name = name,
        .format = "csv",
        .scaling = "standardize",
        .rows = 150,
        .features = 4,
        .classes = 3,
        .class_names_json = "[\"setosa\",\"versicolor\",\"virginica\"]",
        .class_counts_json = "[50,50,50]",
        .size_bytes = 4551,
        .sha256 = "00ff",
        .storage_path = "datasets/iris.f32",
        .created_at = 1795408200.123,
    };
    int64_t id = 0;
    fx_assert_rc(store_dataset_insert(st, &d, &id, &err), 0, err);
    assert_true(id > 0);
    return id;
}

/* A sweep of n trials; trial i plans iterations[i] (or 10 when iterations is NULL). The trial
 * ids go to trial_ids when not NULL. */
static inline int64_t fx_sweep(store_t *st, int64_t dataset_id, size_t n, const int *iterations,
                               int64_t *trial_ids) {
    store_error_t err = {0};
    char(*params)[96] = calloc(n ? n : 1, sizeof(*params));
    const char **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    assert_non_null(params);
    assert_non_null(ptrs);
    for (size_t i = 0; i < n; i++) {
        snprintf(params[i], sizeof(params[i]),
                 "{\"hidden_layers\":1,\"neurons\":%zu,\"iterations\":%d}", 10 * (i + 1),
                 iterations ? iterations[i] : 10);
        ptrs[i] = params[i];
    }
    store_sweep_new_t s = {
        .name = "grid",
        .dataset_id = dataset_id,
        .spec_json = "{\"dataset_id\":1,\"grid\":{\"neurons\":[10,20]}}",
        .search = "grid",
        .created_at = 1795408300.0,
    };
    int64_t id = 0;
    fx_assert_rc(store_sweep_insert(st, &s, ptrs, n, &id, trial_ids, &err), 0, err);
    free(ptrs);
    free(params);
    return id;
}

/* A metric row with simple, recognisable values. */
static inline store_metric_t fx_metric(int64_t trial_id, int64_t iteration) {
    store_metric_t m = {
        .trial_id = trial_id,
        .iteration = iteration,
        .train_loss = 1.0 / (double)iteration,
        .train_accuracy = 0.5,
        .val_loss = 2.0 / (double)iteration,
        .val_accuracy = 0.25,
        .seconds = 0.5,
    };
    return m;
}

/* Inserts metric rows first .. last of a trial. */
static inline void fx_metrics(store_t *st, int64_t trial_id, int64_t first, int64_t last) {
    store_error_t err = {0};
    for (int64_t it = first; it <= last; it++) {
        store_metric_t m = fx_metric(trial_id, it);
        fx_assert_rc(store_metrics_insert(st, &m, 1, &err), 0, err);
    }
}

/* Starts and finishes a trial with the given accuracies (NAN for none). */
static inline void fx_trial_end(store_t *st, int64_t trial_id, const char *status, double best,
                                double final, double now) {
    store_error_t err = {0};
    fx_assert_rc(store_trial_start(st, trial_id, now, &err), 0, err);
    store_trial_end_t end = {.status = status,
                             .best_val_accuracy = best,
                             .final_val_accuracy = final,
                             .test_accuracy = NAN,
                             .now = now + 1};
    fx_assert_rc(store_trial_finish(st, trial_id, &end, &err), 0, err);
}

/* ---- metric rows, live figures and checkpoints ---- */

/* Metric rows first .. last of a trial with val_accuracy acc[iteration - 1] and seconds
 * 0.25 * iteration, so that sums and maxima say which rows they came from. */
static inline void fx_metric_rows(store_t *st, int64_t trial_id, int64_t first, int64_t last,
                                  const double *acc) {
    store_error_t err = {0};
    for (int64_t it = first; it <= last; it++) {
        store_metric_t m = fx_metric(trial_id, it);
        m.val_accuracy = acc[it - 1];
        m.seconds = 0.25 * (double)it;
        fx_assert_rc(store_metrics_insert(st, &m, 1, &err), 0, err);
    }
}

/* What a trial shows of its history (store_trial_get): NAN and 0 stand for null. */
typedef struct fx_figures {
    int64_t done, best_iteration;
    double seconds, best, final;
} fx_figures_t;

/* A JSON real, or NAN for null. */
static inline double fx_real_or_nan(const json_t *v) {
    if (json_is_null(v))
        return NAN;
    assert_true(json_is_real(v));
    return json_real_value(v);
}

/* A trial's figures, read through st. */
static inline fx_figures_t fx_trial_figures(store_t *st, int64_t trial_id) {
    store_error_t err = {0};
    json_t *tr = store_trial_get(st, trial_id, &err);
    if (!tr)
        fail_msg("store_trial_get(%lld): %s", (long long)trial_id, err.message);
    json_t *bi = json_object_get(tr, "best_iteration");
    fx_figures_t f = {.done = fx_json_int(tr, "iterations_done"),
                      .best_iteration = json_is_null(bi) ? 0 : fx_json_int(tr, "best_iteration"),
                      .seconds = fx_real_or_nan(json_object_get(tr, "seconds")),
                      .best = fx_real_or_nan(json_object_get(tr, "best_val_accuracy")),
                      .final = fx_real_or_nan(json_object_get(tr, "final_val_accuracy"))};
    json_decref(tr);
    return f;
}

/* Equal, or both NaN. */
static inline int fx_same_real(double a, double b) {
    return (isnan(a) && isnan(b)) || a == b;
}

/* Asserts that two fx_figures_t are equal, printing both when they are not. */
#define fx_assert_figures(got, want)                                                               \
    do {                                                                                           \
        fx_figures_t g_ = (got), w_ = (want);                                                      \
        if (g_.done != w_.done || g_.best_iteration != w_.best_iteration ||                        \
            !fx_same_real(g_.seconds, w_.seconds) || !fx_same_real(g_.best, w_.best) ||            \
            !fx_same_real(g_.final, w_.final))                                                     \
            fail_msg("%s: done %lld best %g at %lld final %g seconds %g; want done %lld best %g "  \
                     "at %lld final %g seconds %g",                                                \
                     #got, (long long)g_.done, g_.best, (long long)g_.best_iteration, g_.final,    \
                     g_.seconds, (long long)w_.done, w_.best, (long long)w_.best_iteration,        \
                     w_.final, w_.seconds);                                                        \
    } while (0)

/* A trial's checkpoint_iteration, behind the store's back. */
static inline int64_t fx_checkpoint_iteration(const char *db, int64_t trial_id) {
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT checkpoint_iteration FROM trials WHERE id = %lld",
             (long long)trial_id);
    return fx_sql_int(db, sql);
}

#endif
