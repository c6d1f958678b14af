/*
 * store/datasets.c - the datasets table: insert, delete (with the finished sweeps that used the
 * dataset), one as JSON, the list by id descending.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

#define DATASET_COLS                                                                               \
    "id, name, format, rows, features, class_names, class_counts, scaling, size_bytes, sha256, "   \
    "created_at, kind, details"

static const store_col_t dataset_cols[] = {
    {"id", COL_INT},
    {"name", COL_TEXT},
    {"format", COL_TEXT},
    {"rows", COL_INT},
    {"features", COL_INT},
    {"classes", COL_JSON},
    {"class_counts", COL_JSON},
    {"scaling", COL_TEXT},
    {"size_bytes", COL_INT},
    {"sha256", COL_TEXT},
    {"created_at", COL_TIME},
    {"kind", COL_TEXT},
    {"details", COL_JSON}, /* merged into the object (details_merge) */
};
#define DATASET_NCOLS (sizeof(dataset_cols) / sizeof(dataset_cols[0]))

static int one_of(const char *s, const char *a, const char *b) {
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static int check_dataset(const store_dataset_new_t *d, store_error_t *err) {
    if (!d)
        return store_error_set(err, MLPT_EINVAL, 0, "dataset: missing");
    if (!d->name || !d->sha256 || !d->storage_path)
        return store_error_set(err, MLPT_EINVAL, 0,
                               "dataset: name, sha256 and storage_path "
                               "are required");
    /* the ingest registry's names (ingest/formats.c), and windows derived from a recording */
    static const char *const formats[] = {"csv", "idx", "wisdm", "timeseries", "windows"};
    int known = 0;
    for (size_t i = 0; d->format && i < sizeof formats / sizeof formats[0]; i++)
        known |= strcmp(d->format, formats[i]) == 0;
    if (!known)
        return store_error_set(err, MLPT_EINVAL, 0,
                               "dataset: format must be csv, idx, wisdm, timeseries or windows");
    if (d->kind && !one_of(d->kind, "table", "recording") && strcmp(d->kind, "windows") != 0)
        return store_error_set(err, MLPT_EINVAL, 0,
                               "dataset: kind must be table, recording or windows");
    if (!one_of(d->scaling, "standardize", "unit"))
        return store_error_set(err, MLPT_EINVAL, 0, "dataset: scaling must be standardize or unit");
    if (d->rows < 0 || d->features < 0 || d->classes < 0 || d->size_bytes < 0)
        return store_error_set(err, MLPT_EINVAL, 0, "dataset: negative count");
    if (!isfinite(d->created_at))
        return store_error_set(err, MLPT_EINVAL, 0, "dataset: created_at is not finite");
    int rc = store_check_json(d->class_names_json, JSON_ARRAY, "dataset: class_names_json", err);
    if (!rc)
        rc = store_check_json(d->class_counts_json, JSON_ARRAY, "dataset: class_counts_json", err);
    if (!rc && d->details_json)
        rc = store_check_json(d->details_json, JSON_OBJECT, "dataset: details_json", err);
    return rc;
}

int store_dataset_insert(store_t *st, const store_dataset_new_t *d, int64_t *id,
                         store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_require_writer(st, "store_dataset_insert", err);
    if (!rc)
        rc = check_dataset(d, err);
    if (!rc)
        rc = store_prepare(st,
                           "INSERT INTO datasets (name, format, status, rows, features, classes, "
                           "class_names, class_counts, scaling, size_bytes, sha256, storage_path, "
                           "created_at, kind, details) VALUES (?1, ?2, 'ready', ?3, ?4, ?5, ?6, "
                           "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                           &s, err);
    if (rc)
        goto out;
    store_bind_text(s, 1, d->name, &rc);
    store_bind_text(s, 2, d->format, &rc);
    store_bind_i64(s, 3, d->rows, &rc);
    store_bind_i64(s, 4, d->features, &rc);
    store_bind_i64(s, 5, d->classes, &rc);
    store_bind_text(s, 6, d->class_names_json, &rc);
    store_bind_text(s, 7, d->class_counts_json, &rc);
    store_bind_text(s, 8, d->scaling, &rc);
    store_bind_i64(s, 9, d->size_bytes, &rc);
    store_bind_text(s, 10, d->sha256, &rc);
    store_bind_text(s, 11, d->storage_path, &rc);
    store_bind_real(s, 12, d->created_at, &rc);
    store_bind_text(s, 13, d->kind ? d->kind : "table", &rc);
    if (d->details_json)
        store_bind_text(s, 14, d->details_json, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "inserting a dataset")
            : store_step_done(st, s, "inserting a dataset", err);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(st->db);
out:
    store_release(st, s);
    return rc;
}

/* The storage path of dataset id into *path (malloc'd). */
static int read_path(store_t *st, int64_t id, char **path, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    *path = NULL;
    int rc = store_prepare(st, "SELECT storage_path FROM datasets WHERE id = ?1", &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    rc = rc ? rc : sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "dataset %lld not found", (long long)id);
    } else if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, "reading a dataset");
    } else {
        const char *text = (const char *)sqlite3_column_text(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        *path = text ? malloc(len + 1) : NULL;
        if (*path) {
            memcpy(*path, text, len + 1);
            rc = 0;
        } else {
            rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        }
    }
out:
    store_release(st, s);
    return rc;
}

/* Runs sql with ?1 = id (a statement without results). */
static int exec_id(store_t *st, const char *sql, int64_t id, const char *what, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    rc = rc ? store_fail_sql(st, err, rc, what) : store_step_done(st, s, what, err);
out:
    store_release(st, s);
    return rc;
}

/* The body of store_dataset_delete, inside its savepoint. */
static int dataset_delete(store_t *st, int64_t id, char **path, store_error_t *err) {
    char busy[16];
    store_error_t lookup = {0};
    int rc = read_path(st, id, path, err);
    if (rc)
        return rc;
    rc = store_lookup_status(st,
                             "SELECT status FROM sweeps WHERE (dataset_id = ?1 OR "
                             "test_dataset_id = ?1) AND status IN ('queued', 'running') LIMIT 1",
                             id, "sweep", busy, sizeof(busy), &lookup);
    if (rc == 0)
        return store_error_set(err, MLPT_ESTATE, 0, "dataset %lld is used by a %s sweep",
                               (long long)id, busy);
    if (rc != MLPT_ENOTFOUND) {
        if (err)
            *err = lookup;
        return rc;
    }
    /* Trials and their metrics and models go with their sweeps (ON DELETE CASCADE). */
    rc = exec_id(st, "DELETE FROM sweeps WHERE dataset_id = ?1 OR test_dataset_id = ?1", id,
                 "deleting the sweeps of a dataset", err);
    if (!rc)
        rc = exec_id(st, "DELETE FROM datasets WHERE id = ?1", id, "deleting a dataset", err);
    return rc;
}

int store_dataset_delete(store_t *st, int64_t id, char **storage_path, store_error_t *err) {
    int rc = store_require_writer(st, "store_dataset_delete", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    char *path = NULL;
    rc = store_op_end(st, dataset_delete(st, id, &path, err), err);
    if (!rc && storage_path)
        *storage_path = path;
    else
        free(path);
    return rc;
}

/* A dataset row as JSON: its details' members join the object's (never replacing one). */
static json_t *dataset_json(sqlite3_stmt *s, int *rc) {
    json_t *obj = store_row_json(s, 0, dataset_cols, DATASET_NCOLS, rc);
    json_t *details = obj ? json_object_get(obj, "details") : NULL;
    if (json_is_object(details)) {
        const char *key;
        json_t *v;
        json_object_foreach(details, key, v) {
            if (!json_object_get(obj, key))
                json_object_set(obj, key, v);
        }
    }
    if (obj)
        json_object_del(obj, "details");
    return obj;
}

/* Runs sql (?1 = id) expecting one row of the dataset columns. */
static json_t *get_one(store_t *st, const char *sql, int64_t id, const char *what,
                       store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *obj = NULL;
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    if (rc) {
        store_fail_sql(st, err, rc, what);
        goto out;
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        store_error_set(err, MLPT_ENOTFOUND, 0, "%s %lld not found", what, (long long)id);
    } else if (rc != SQLITE_ROW) {
        store_fail_sql(st, err, rc, what);
    } else {
        rc = 0;
        obj = dataset_json(s, &rc);
        if (!obj)
            store_row_failed(err, rc);
    }
out:
    store_release(st, s);
    return obj;
}

json_t *store_dataset_get(store_t *st, int64_t id, store_error_t *err) {
    if (!st) {
        store_error_set(err, MLPT_EINVAL, 0, "store_dataset_get: no store");
        return NULL;
    }
    return get_one(st, "SELECT " DATASET_COLS " FROM datasets WHERE id = ?1", id, "dataset", err);
}

char *store_dataset_storage_path(store_t *st, int64_t id, store_error_t *err) {
    char *path = NULL;
    if (!st)
        store_error_set(err, MLPT_EINVAL, 0, "store_dataset_storage_path: no store");
    else
        read_path(st, id, &path, err);
    return path;
}

static json_t *dataset_row(sqlite3_stmt *s, int *rc) {
    return dataset_json(s, rc);
}

json_t *store_dataset_list(store_t *st, size_t limit, const char *cursor, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *page = NULL;
    store_cursor_t c = {0};
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_dataset_list: no store");
    if (!rc)
        rc = store_check_limit(limit, err);
    if (!rc && cursor)
        rc = store_cursor_decode(cursor, CURSOR_DATASETS, 0, 0, &c, err);
    if (!rc)
        rc = store_prepare(st,
                           "SELECT " DATASET_COLS ", id, id FROM datasets "
                           "WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
                           &s, err);
    if (rc)
        goto out;
    if (cursor)
        store_bind_i64(s, 1, c.id, &rc);
    store_bind_i64(s, 2, (int64_t)limit + 1, &rc);
    if (rc) {
        store_fail_sql(st, err, rc, "listing datasets");
        goto out;
    }
    page = store_page(st, s, dataset_row, limit, (int)DATASET_NCOLS, CURSOR_DATASETS, 0, 0, err);
out:
    store_release(st, s);
    return page;
}
