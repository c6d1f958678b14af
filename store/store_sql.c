/*
 * store/store_sql.c - the SQLite plumbing every store source uses: error filling and code
 * mapping, the checks a write starts with (a writer, still attached), the per-connection
 * statement cache and bind helpers. The lowest file of store/: it calls no other.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* The cached statements, by store_stmt_id_t. */
static const char *const cached_sql[STMT_COUNT] = {
    [STMT_SAVEPOINT] = "SAVEPOINT store_op",
    [STMT_RELEASE] = "RELEASE store_op",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO store_op",
    [STMT_METRIC_INSERT] = "INSERT INTO trial_metrics (trial_id, iteration, train_loss, "
                           "train_accuracy, val_loss, val_accuracy, seconds) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Live figures: a running trial shows its best and latest validation accuracy as it goes
     * (SQLite evaluates every SET expression on the row as it was). */
    [STMT_TRIAL_ITERATIONS] =
        "UPDATE trials SET iterations_done = max(iterations_done, ?2), "
        "seconds = seconds + ?3, final_val_accuracy = ?4, "
        "best_iteration = CASE WHEN ?4 IS NOT NULL AND (best_val_accuracy IS NULL OR "
        "?4 > best_val_accuracy) THEN ?2 ELSE best_iteration END, "
        "best_val_accuracy = CASE WHEN ?4 IS NOT NULL AND (best_val_accuracy IS NULL OR "
        "?4 > best_val_accuracy) THEN ?4 ELSE best_val_accuracy END WHERE id = ?1",
    [STMT_TRIAL_HISTORY] =
        "SELECT t.status, m.iteration, m.train_loss, m.train_accuracy, m.val_loss, "
        "m.val_accuracy, m.seconds FROM trials t LEFT JOIN trial_metrics m "
        "ON m.trial_id = t.id AND m.iteration > ?2 WHERE t.id = ?1 ORDER BY m.iteration",
};

int store_error_set(store_error_t *err, int code, int sqlite_code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        err->code = code;
        err->sqlite_code = sqlite_code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

int store_code_from_sqlite(int sqlite_rc) {
    switch (sqlite_rc) {
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return MLPT_EINVAL;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return MLPT_ENOTFOUND;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return MLPT_ESTATE;
    default:
        break;
    }
    switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM:
        return MLPT_ENOMEM;
    case SQLITE_FULL:
        return MLPT_ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MLPT_EBUSY;
    case SQLITE_TOOBIG:
        return MLPT_ELIMIT;
    default:
        return MLPT_EDB;
    }
}

int store_fail_sql(store_t *st, store_error_t *err, int sqlite_rc, const char *what) {
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(sqlite_rc);
    return store_error_set(err, store_code_from_sqlite(sqlite_rc), sqlite_rc, "%s: %s", what, msg);
}

int store_require_attached(store_t *st, store_error_t *err) {
    if (!st->detached)
        return 0;
    return store_error_set(err, MLPT_EBUSY, 0,
                           "the database file was deleted or replaced while the service had it "
                           "open: nothing more is written to it until a restart");
}

int store_require_writer(store_t *st, const char *fn, store_error_t *err) {
    if (!st)
        return store_error_set(err, MLPT_EINVAL, 0, "%s: no store", fn);
    if (st->mode != STORE_WRITER)
        return store_error_set(err, MLPT_EINVAL, 0, "%s needs the writer connection", fn);
    return store_require_attached(st, err);
}

int store_prepare(store_t *st, const char *sql, sqlite3_stmt **out, store_error_t *err) {
    *out = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, 0, out, NULL);
    if (rc != SQLITE_OK)
        return store_fail_sql(st, err, rc, "preparing a statement");
    return 0;
}

int store_cached(store_t *st, store_stmt_id_t id, sqlite3_stmt **out, store_error_t *err) {
    *out = NULL;
    if (!st->cache[id]) {
        int rc = sqlite3_prepare_v3(st->db, cached_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->cache[id], NULL);
        if (rc != SQLITE_OK)
            return store_fail_sql(st, err, rc, "preparing a statement");
    }
    *out = st->cache[id];
    return 0;
}

void store_release(store_t *st, sqlite3_stmt *s) {
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++) {
        if (st->cache[i] == s) {
            sqlite3_reset(s); /* its error, if any, was reported by the step that failed */
            sqlite3_clear_bindings(s);
            return;
        }
    }
    sqlite3_finalize(s);
}

void store_cache_clear(store_t *st) {
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(st->cache[i]);
        st->cache[i] = NULL;
    }
}

int store_step_done(store_t *st, sqlite3_stmt *s, const char *what, store_error_t *err) {
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        return store_fail_sql(st, err, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, what);
    return 0;
}

int store_exec(store_t *st, const char *sql, const char *what, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, 0, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = store_fail_sql(st, err, rc, what);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    rc = rc == SQLITE_DONE ? 0 : store_fail_sql(st, err, rc, what);
out:
    sqlite3_finalize(s);
    return rc;
}

int store_column_blob(sqlite3_stmt *s, int col, void **out, size_t *len, store_error_t *err) {
    const void *bytes = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    void *copy = malloc(n ? n : 1);
    if (!copy || (n && !bytes)) {
        free(copy);
        return store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    }
    if (n)
        memcpy(copy, bytes, n);
    *out = copy;
    *len = n;
    return 0;
}

void store_bind_i64(sqlite3_stmt *s, int i, int64_t v, int *rc) {
    if (!*rc)
        *rc = sqlite3_bind_int64(s, i, v);
}

void store_bind_id0(sqlite3_stmt *s, int i, int64_t v, int *rc) {
    if (!*rc)
        *rc = v ? sqlite3_bind_int64(s, i, v) : sqlite3_bind_null(s, i);
}

void store_bind_real(sqlite3_stmt *s, int i, double v, int *rc) {
    if (!*rc)
        *rc = isfinite(v) ? sqlite3_bind_double(s, i, v) : sqlite3_bind_null(s, i);
}

void store_bind_text(sqlite3_stmt *s, int i, const char *v, int *rc) {
    /* SQLITE_STATIC: every statement is stepped before the caller's strings go away. */
    if (!*rc)
        *rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

void store_bind_null(sqlite3_stmt *s, int i, int *rc) {
    if (!*rc)
        *rc = sqlite3_bind_null(s, i);
}

int store_lookup_status(store_t *st, const char *sql, int64_t id, const char *what, char *out,
                        size_t outsz, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    if (rc) {
        rc = store_fail_sql(st, err, rc, "binding");
        goto out;
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "%s %lld not found", what, (long long)id);
    } else if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, what);
    } else {
        const char *text = (const char *)sqlite3_column_text(s, 0);
        snprintf(out, outsz, "%s", text ? text : "");
        rc = 0;
    }
out:
    store_release(st, s);
    return rc;
}

int store_explain_no_change(store_t *st, const char *status_sql, const char *kind, int64_t id,
                            const char *action, store_error_t *err) {
    char status[16];
    int rc = store_lookup_status(st, status_sql, id, kind, status, sizeof(status), err);
    if (rc)
        return rc;
    return store_error_set(err, MLPT_ESTATE, 0, "cannot %s %s %lld: it is %s", action, kind,
                           (long long)id, status);
}
