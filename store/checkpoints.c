/*
 * checkpoints.c - a running trial's latest checkpoint: written right after the metric rows it
 * covers have committed (in the scheduler's next transaction), read back when the trial runs
 * again after a crash or a restart, deleted when the trial ends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlpt_err.h"
#include "store_private.h"

/* The body of store_checkpoint_put and _put_file, inside its savepoint: the row names `given`
 * (a file the caller wrote), or a file written here from the bytes (with a data dir), or holds
 * the bytes. */
static int checkpoint_put(store_t *st, int64_t trial_id, int64_t iteration, const void *blob,
                          size_t len, const char *given, const int64_t *also, size_t n_also,
                          store_error_t *err) {
    sqlite3_stmt *s = NULL;
    char *path = NULL;
    int rc = !given && st->data_dir ? store_file_write(st->data_dir, STORE_FILE_CHECKPOINT,
                                                       trial_id, blob, len, &path, err)
                                    : 0;
    const char *named = given ? given : path;
    if (!rc)
        rc = store_prepare(st,
                           "INSERT OR REPLACE INTO trial_checkpoints (trial_id, iteration, state, "
                           "path) VALUES (?1, ?2, ?3, ?4)",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_i64(s, 2, iteration, &rc);
    /* SQLITE_STATIC: the statement runs before the caller's buffer goes away. A file-backed
     * row keeps an empty blob. */
    if (!rc)
        rc = named ? sqlite3_bind_zeroblob(s, 3, 0)
                   : sqlite3_bind_blob64(s, 3, blob, len, SQLITE_STATIC);
    store_bind_text(s, 4, named, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "storing a checkpoint")
            : store_step_done(st, s, "storing a checkpoint", err);
    for (size_t i = 0; i <= n_also && rc == 0; i++) {
        store_release(st, s);
        s = NULL;
        rc = store_prepare(st,
                           "UPDATE trials SET checkpoint_iteration = ?2 "
                           "WHERE id = ?1 AND status = 'running'",
                           &s, err);
        if (rc)
            break;
        store_bind_i64(s, 1, i == 0 ? trial_id : also[i - 1], &rc);
        store_bind_i64(s, 2, iteration, &rc);
        rc = rc ? store_fail_sql(st, err, rc, "recording a checkpoint")
                : store_step_done(st, s, "recording a checkpoint", err);
    }
out:
    store_release(st, s);
    if (path && rc == 0 && store_files_pending_add(st, path) != 0)
        rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    if (path && rc != 0) { /* no row names it */
        char *abs = store_file_abs(st, path);
        if (abs)
            unlink(abs);
        free(abs);
    }
    free(path);
    return rc;
}

int store_checkpoint_put(store_t *st, int64_t trial_id, int64_t iteration, const void *blob,
                         size_t len, const int64_t *also, size_t n_also, store_error_t *err) {
    int rc = store_require_writer(st, "store_checkpoint_put", err);
    if (!rc && (!blob || len == 0 || iteration < 0 || (n_also && !also)))
        rc = store_error_set(err, MLPT_EINVAL, 0, "store_checkpoint_put: bad arguments");
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(
        st, checkpoint_put(st, trial_id, iteration, blob, len, NULL, also, n_also, err), err);
}

int store_checkpoint_put_file(store_t *st, int64_t trial_id, int64_t iteration, const char *path,
                              const int64_t *also, size_t n_also, store_error_t *err) {
    int rc = store_require_writer(st, "store_checkpoint_put_file", err);
    if (!rc && (!path || iteration < 0 || (n_also && !also)))
        rc = store_error_set(err, MLPT_EINVAL, 0, "store_checkpoint_put_file: bad arguments");
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(
        st, checkpoint_put(st, trial_id, iteration, NULL, 0, path, also, n_also, err), err);
}

int store_checkpoint_get(store_t *st, int64_t trial_id, store_resume_t *out, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    out->best_val_accuracy = out->final_val_accuracy = NAN;
    int rc = store_prepare(st,
                           "SELECT c.iteration, c.state, t.best_val_accuracy, t.best_iteration, "
                           "t.final_val_accuracy, c.path FROM trials t JOIN trial_checkpoints c "
                           "ON c.trial_id = t.id WHERE t.id = ?1 "
                           "AND c.iteration = t.checkpoint_iteration AND c.iteration > 0",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    rc = rc ? rc : sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld has no checkpoint",
                             (long long)trial_id);
    } else if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, "reading a checkpoint");
    } else if ((rc = sqlite3_column_type(s, 5) == SQLITE_NULL
                         ? store_column_blob(s, 1, &out->state, &out->len, err)
                         : store_file_read(st, (const char *)sqlite3_column_text(s, 5), &out->state,
                                           &out->len, err)) == 0) {
        out->iteration = sqlite3_column_int64(s, 0);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            out->best_val_accuracy = sqlite3_column_double(s, 2);
        out->best_iteration = sqlite3_column_int64(s, 3);
        if (sqlite3_column_type(s, 4) != SQLITE_NULL)
            out->final_val_accuracy = sqlite3_column_double(s, 4);
        rc = 0;
    }
out:
    store_release(st, s);
    return rc;
}
