/*
 * store/trial_reads.c - trials as JSON: one, a sweep's list (sorted and paged), a history, and
 * the model bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* 18 columns, in the order of trial_cols. */
#define TRIAL_COLS                                                                                 \
    "t.id, t.sweep_id, t.ordinal, t.status, t.attempt, t.params, t.iterations_done, "              \
    "t.best_val_accuracy, t.best_iteration, t.final_val_accuracy, t.test_accuracy, t.error, "      \
    "EXISTS (SELECT 1 FROM trial_models WHERE trial_id = t.id), t.created_at, t.started_at, "      \
    "t.finished_at, t.seconds, t.placement"

static const store_col_t trial_cols[] = {
    {"id", COL_INT},
    {"sweep_id", COL_INT},
    {"ordinal", COL_INT},
    {"status", COL_TEXT},
    {"attempt", COL_INT},
    {"params", COL_JSON},
    {"iterations_done", COL_INT},
    {"best_val_accuracy", COL_REAL},
    {"best_iteration", COL_INT},
    {"final_val_accuracy", COL_REAL},
    {"test_accuracy", COL_REAL},
    {"error", COL_TEXT},
    {"has_model", COL_BOOL},
    {"created_at", COL_TIME},
    {"started_at", COL_TIME},
    {"finished_at", COL_TIME},
    {"seconds", COL_REAL},
    {"placement", COL_JSON},
};
#define TRIAL_NCOLS (sizeof(trial_cols) / sizeof(trial_cols[0]))

/* A page of a sweep's trials in the order of `key` (cmp and dir say which way), nulls last,
 * ties by id. ?1 sweep; ?2 non-NULL when a cursor is given, ?3 1 when its key is NULL, ?4 its
 * key, ?5 its id; ?6 limit + 1. The key and the id close each row for the next cursor. */
#define TRIAL_LIST(key, cmp, dir)                                                                  \
    "SELECT " TRIAL_COLS ", " key ", t.id FROM trials t WHERE t.sweep_id = ?1 AND (?2 IS NULL "    \
    "OR (?3 = 0 AND (" key " IS NULL OR " key " " cmp " ?4 OR (" key " = ?4 AND t.id > ?5))) "     \
    "OR (?3 = 1 AND " key " IS NULL AND t.id > ?5)) "                                              \
    "ORDER BY " key " IS NULL, " key " " dir ", t.id LIMIT ?6"

/* The sort whitelist: SQL is chosen from here, never built from the request. */
static const struct {
    const char *name;
    const char *sql;
} trial_sorts[] = {
    {"ordinal", TRIAL_LIST("t.ordinal", ">", "ASC")},
    {"-ordinal", TRIAL_LIST("t.ordinal", "<", "DESC")},
    {"best_val_accuracy", TRIAL_LIST("t.best_val_accuracy", ">", "ASC")},
    {"-best_val_accuracy", TRIAL_LIST("t.best_val_accuracy", "<", "DESC")},
    {"final_val_accuracy", TRIAL_LIST("t.final_val_accuracy", ">", "ASC")},
    {"-final_val_accuracy", TRIAL_LIST("t.final_val_accuracy", "<", "DESC")},
    {"id", TRIAL_LIST("t.id", ">", "ASC")},
    {"-id", TRIAL_LIST("t.id", "<", "DESC")},
    {"started_at", TRIAL_LIST("t.started_at", ">", "ASC")},
    {"-started_at", TRIAL_LIST("t.started_at", "<", "DESC")},
};
#define TRIAL_NSORTS ((int)(sizeof(trial_sorts) / sizeof(trial_sorts[0])))

static json_t *trial_row(sqlite3_stmt *s, int *rc) {
    return store_row_json(s, 0, trial_cols, TRIAL_NCOLS, rc);
}

json_t *store_trial_get(store_t *st, int64_t id, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *obj = NULL;
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_trial_get: no store");
    if (!rc)
        rc = store_prepare(st, "SELECT " TRIAL_COLS " FROM trials t WHERE t.id = ?1", &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    rc = rc ? rc : sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld not found", (long long)id);
    } else if (rc != SQLITE_ROW) {
        store_fail_sql(st, err, rc, "reading a trial");
    } else {
        rc = 0;
        obj = trial_row(s, &rc);
        if (!obj)
            store_row_failed(err, rc);
    }
out:
    store_release(st, s);
    return obj;
}

json_t *store_trial_list(store_t *st, int64_t sweep_id, const char *sort, size_t limit,
                         const char *cursor, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *page = NULL;
    store_cursor_t c = {0};
    char status[16];
    int k = 0;
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_trial_list: no store");
    if (!rc && sort) {
        while (k < TRIAL_NSORTS && strcmp(sort, trial_sorts[k].name) != 0)
            k++;
        if (k == TRIAL_NSORTS)
            rc = store_error_set(err, MLPT_EINVAL, 0, "unknown trial sort \"%.40s\"", sort);
    }
    if (!rc)
        rc = store_check_limit(limit, err);
    if (!rc && cursor)
        rc = store_cursor_decode(cursor, CURSOR_TRIALS, k, sweep_id, &c, err);
    if (!rc)
        rc = store_lookup_status(st, "SELECT status FROM sweeps WHERE id = ?1", sweep_id, "sweep",
                                 status, sizeof(status), err);
    if (!rc)
        rc = store_prepare(st, trial_sorts[k].sql, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, sweep_id, &rc);
    if (cursor) {
        store_bind_i64(s, 2, 1, &rc);
        store_bind_i64(s, 3, c.kind == KEY_NULL, &rc);
        store_bind_cursor_key(s, 4, &c, &rc);
        store_bind_i64(s, 5, c.id, &rc);
    }
    store_bind_i64(s, 6, (int64_t)limit + 1, &rc);
    if (rc) {
        store_fail_sql(st, err, rc, "listing trials");
        goto out;
    }
    page = store_page(st, s, trial_row, limit, (int)TRIAL_NCOLS, CURSOR_TRIALS, k, sweep_id, err);
out:
    store_release(st, s);
    return page;
}

json_t *store_trial_history(store_t *st, int64_t trial_id, int64_t since, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *obj = NULL, *history = NULL;
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_trial_history: no store");
    int step = SQLITE_DONE;
    if (!rc)
        rc = store_cached(st, STMT_TRIAL_HISTORY, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_i64(s, 2, since, &rc);
    if (rc) {
        rc = store_fail_sql(st, err, rc, "reading a trial history");
        goto out;
    }
    /* One statement, one snapshot: a batch committed meanwhile is either all in or all out. */
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (!obj) {
            obj = json_object();
            history = json_array();
            if (!obj || store_obj_set(obj, "trial_id", json_integer((json_int_t)trial_id)) ||
                store_obj_set(obj, "status", store_col_json(s, 0, COL_TEXT, &rc)) ||
                store_obj_set(obj, "history", json_incref(history))) {
                rc = store_row_failed(err, rc);
                goto out;
            }
        }
        if (sqlite3_column_type(s, 1) == SQLITE_NULL) /* no metrics after since */
            continue;
        json_t *point = store_row_json(s, 1, store_point_cols, STORE_POINT_NCOLS, &rc);
        if (!point || json_array_append_new(history, point)) {
            rc = store_row_failed(err, rc);
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = store_fail_sql(st, err, step, "reading a trial history");
    else if (!obj)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld not found", (long long)trial_id);
out:
    store_release(st, s);
    json_decref(history);
    if (rc) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

/* The model row of a trial: *path (relative, malloc'd) for a file, else *blob and *len. */
static int model_row(store_t *st, int64_t trial_id, char **path, void **blob, size_t *len,
                     store_error_t *err) {
    sqlite3_stmt *s = NULL;
    *path = NULL;
    *blob = NULL;
    *len = 0;
    int rc = store_prepare(st,
                           "SELECT m.trial_id, m.path, m.model FROM trials t "
                           "LEFT JOIN trial_models m ON m.trial_id = t.id WHERE t.id = ?1",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    rc = rc ? rc : sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld not found", (long long)trial_id);
    } else if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, "reading a model");
    } else if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        rc =
            store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld has no model", (long long)trial_id);
    } else if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
        const char *p = (const char *)sqlite3_column_text(s, 1);
        rc = p && (*path = strdup(p)) ? 0 : store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    } else {
        rc = store_column_blob(s, 2, blob, len, err);
    }
out:
    store_release(st, s);
    return rc;
}

int store_trial_model(store_t *st, int64_t trial_id, void **blob, size_t *len, store_error_t *err) {
    char *path = NULL;
    int rc = st && blob && len ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_trial_model");
    if (!rc)
        rc = model_row(st, trial_id, &path, blob, len, err);
    if (!rc && path) {
        rc = store_file_read(st, path, blob, len, err);
        if (rc == MLPT_ENOTFOUND)
            store_error_set(err, rc, 0, "trial %lld: its model file is missing",
                            (long long)trial_id);
    }
    free(path);
    return rc;
}

int store_trial_model_ref(store_t *st, int64_t trial_id, char **path, void **blob, size_t *len,
                          store_error_t *err) {
    char *rel = NULL;
    int rc = st && path && blob && len
                 ? 0
                 : store_error_set(err, MLPT_EINVAL, 0, "store_trial_model_ref");
    if (!rc)
        rc = model_row(st, trial_id, &rel, blob, len, err);
    if (!rc && rel && !store_file_rel_ok(rel))
        rc = store_error_set(err, MLPT_EDB, 0,
                             "trial %lld: the database names a model file outside models/",
                             (long long)trial_id);
    if (!rc && rel && !(*path = store_file_abs(st, rel)))
        rc = store_error_set(err, st->data_dir ? MLPT_ENOMEM : MLPT_EINVAL, 0,
                             "trial %lld: its model is a file and the store has no data dir",
                             (long long)trial_id);
    free(rel);
    return rc;
}
