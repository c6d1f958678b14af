/*
 * store/trials.c - the scheduler's trial writes: start, metric rows, finish, cancel what is
 * queued, crash recovery, and the walk over queued trials that rebuilds the queue at start-up.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_private.h"

static int is_trial_end(const char *status) {
    static const char *const ends[] = {"completed", "failed",  "diverged",
                                       "pruned",    "stopped", "canceled"};
    for (size_t i = 0; status && i < sizeof(ends) / sizeof(ends[0]); i++)
        if (strcmp(status, ends[i]) == 0)
            return 1;
    return 0;
}

/* ENOTFOUND or ESTATE for an update of trial id that changed nothing. */
static int explain_no_change(store_t *st, int64_t id, const char *action, store_error_t *err) {
    return store_explain_no_change(st, "SELECT status FROM trials WHERE id = ?1", "trial", id,
                                   action, err);
}

int store_trial_start(store_t *st, int64_t trial_id, double now, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_require_writer(st, "store_trial_start", err);
    if (!rc && !isfinite(now))
        rc = store_error_set(err, MLPT_EINVAL, 0, "now is not finite");
    if (!rc)
        rc = store_prepare(st,
                           "UPDATE trials SET status = 'running', attempt = attempt + 1, "
                           "started_at = ?2 WHERE id = ?1 AND status = 'queued'",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_real(s, 2, now, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "starting a trial")
            : store_step_done(st, s, "starting a trial", err);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = explain_no_change(st, trial_id, "start", err);
out:
    store_release(st, s);
    return rc;
}

int store_trial_set_params(store_t *st, int64_t trial_id, const char *params_json,
                           store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_require_writer(st, "store_trial_set_params", err);
    json_t *o = !rc && params_json ? json_loads(params_json, 0, NULL) : NULL;
    if (!rc && !json_is_object(o))
        rc = store_error_set(err, MLPT_EINVAL, 0, "params must be a JSON object");
    json_decref(o);
    if (!rc)
        rc = store_prepare(st, "UPDATE trials SET params = ?2 WHERE id = ?1 AND status = 'queued'",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_text(s, 2, params_json, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "recording a trial's params")
            : store_step_done(st, s, "recording a trial's params", err);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = explain_no_change(st, trial_id, "record the params of", err);
out:
    store_release(st, s);
    return rc;
}

int store_trial_set_placement(store_t *st, int64_t trial_id, const store_placement_t *where,
                              store_error_t *err) {
    sqlite3_stmt *s = NULL;
    char *text = NULL;
    int rc = store_require_writer(st, "store_trial_set_placement", err);
    if (!rc && (!where || where->rank < 0 || where->workers < 1 ||
                !memchr(where->host, '\0', sizeof where->host) || !where->host[0]))
        rc = store_error_set(err, MLPT_EINVAL, 0,
                             "a placement needs rank >= 0, workers >= 1 and a host name");
    if (rc)
        return rc;
    json_t *obj = json_pack("{s:i, s:s, s:i}", "rank", where->rank, "host", where->host, "workers",
                            where->workers);
    text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return store_error_set(err, MLPT_EFORMAT, 0, "the placement's host is not UTF-8 text");
    rc = store_prepare(st, "UPDATE trials SET placement = ?2 WHERE id = ?1 AND status = 'running'",
                       &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_text(s, 2, text, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "recording a trial's placement")
            : store_step_done(st, s, "recording a trial's placement", err);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = explain_no_change(st, trial_id, "place", err);
out:
    store_release(st, s);
    free(text);
    return rc;
}

/* Inserts one metric row, raises its trial's iterations_done and adds to its seconds. */
static int metric_insert(store_t *st, const store_metric_t *m, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    char what[96];
    snprintf(what, sizeof(what), "metrics of trial %lld, iteration %lld", (long long)m->trial_id,
             (long long)m->iteration);
    if (m->iteration < 1)
        return store_error_set(err, MLPT_EINVAL, 0, "%s: iterations start at 1", what);
    if (!isfinite(m->seconds))
        return store_error_set(err, MLPT_EINVAL, 0, "%s: seconds is not finite", what);
    int rc = store_cached(st, STMT_METRIC_INSERT, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, m->trial_id, &rc);
    store_bind_i64(s, 2, m->iteration, &rc);
    store_bind_real(s, 3, m->train_loss, &rc);
    store_bind_real(s, 4, m->train_accuracy, &rc);
    store_bind_real(s, 5, m->val_loss, &rc);
    store_bind_real(s, 6, m->val_accuracy, &rc);
    store_bind_real(s, 7, m->seconds, &rc);
    rc = rc ? store_fail_sql(st, err, rc, what) : store_step_done(st, s, what, err);
    if (rc == MLPT_ENOTFOUND) /* the foreign key: no such trial */
        rc = store_error_set(err, MLPT_ENOTFOUND, SQLITE_CONSTRAINT_FOREIGNKEY,
                             "trial %lld not found", (long long)m->trial_id);
    else if (rc == MLPT_ESTATE) /* the primary key: the row exists */
        rc = store_error_set(err, MLPT_ESTATE, SQLITE_CONSTRAINT_PRIMARYKEY, "%s: already recorded",
                             what);
    if (rc)
        goto out;
    store_release(st, s);
    rc = store_cached(st, STMT_TRIAL_ITERATIONS, &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, m->trial_id, &rc);
    store_bind_i64(s, 2, m->iteration, &rc);
    store_bind_real(s, 3, m->seconds, &rc);
    store_bind_real(s, 4, m->val_accuracy, &rc);
    rc = rc ? store_fail_sql(st, err, rc, what) : store_step_done(st, s, what, err);
out:
    store_release(st, s);
    return rc;
}

int store_metrics_insert(store_t *st, const store_metric_t *rows, size_t n, store_error_t *err) {
    int rc = store_require_writer(st, "store_metrics_insert", err);
    if (!rc && n && !rows)
        rc = store_error_set(err, MLPT_EINVAL, 0, "store_metrics_insert: no rows");
    if (rc || n == 0)
        return rc;
    rc = store_op_begin(st, err);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < n; i++)
        rc = metric_insert(st, &rows[i], err);
    return store_op_end(st, rc, err);
}

/* A finished trial's model row: naming the file the caller wrote, or a file written here from
 * the bytes (removed again if the row cannot be written), or, without a data dir, a blob. */
static int model_put(store_t *st, int64_t id, const store_trial_end_t *end, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    char *written = NULL;
    const char *path = end->model_path;
    int rc = 0;
    if (!path && st->data_dir) {
        rc = store_file_write(st->data_dir, STORE_FILE_MODEL, id, end->model, end->model_len,
                              &written, err);
        path = written;
    }
    if (!rc)
        rc = store_prepare(st,
                           "INSERT OR REPLACE INTO trial_models (trial_id, model, path) "
                           "VALUES (?1, ?2, ?3)",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    /* SQLITE_STATIC: the statement runs before the caller's buffer goes away. A file-backed
     * row keeps an empty blob (the column predates the files). */
    if (!rc)
        rc = path ? sqlite3_bind_zeroblob(s, 2, 0)
                  : sqlite3_bind_blob64(s, 2, end->model, end->model_len, SQLITE_STATIC);
    store_bind_text(s, 3, path, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "storing a model")
            : store_step_done(st, s, "storing a model", err);
out:
    store_release(st, s);
    if (written) {
        if (rc == 0)
            rc = store_files_pending_add(st, written)
                     ? store_error_set(err, MLPT_ENOMEM, 0, "out of memory")
                     : 0;
        if (rc != 0) {
            char *abs = store_file_abs(st, written);
            if (abs)
                unlink(abs);
            free(abs);
        }
    }
    free(written);
    return rc;
}

/* The body of store_trial_finish, inside its savepoint. */
static int trial_finish(store_t *st, int64_t id, const store_trial_end_t *end, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st,
                           "UPDATE trials SET status = ?2, best_val_accuracy = ?3, "
                           "final_val_accuracy = ?4, test_accuracy = ?5, best_iteration = ?6, "
                           "error = ?7, finished_at = ?8 "
                           "WHERE id = ?1 AND status IN ('queued', 'running')",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    store_bind_text(s, 2, end->status, &rc);
    store_bind_real(s, 3, end->best_val_accuracy, &rc);
    store_bind_real(s, 4, end->final_val_accuracy, &rc);
    store_bind_real(s, 5, end->test_accuracy, &rc);
    store_bind_id0(s, 6, end->best_iteration, &rc);
    store_bind_text(s, 7, end->error, &rc);
    store_bind_real(s, 8, end->now, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "finishing a trial")
            : store_step_done(st, s, "finishing a trial", err);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = explain_no_change(st, id, "finish", err);
    if (rc)
        goto out;
    store_release(st, s);
    s = NULL;
    /* A canceled trial keeps its last checkpoint: a retry resumes it from there. */
    rc = store_prepare(st, "DELETE FROM trial_checkpoints WHERE trial_id = ?1 AND ?2 <> 'canceled'",
                       &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    store_bind_text(s, 2, end->status, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "deleting a checkpoint")
            : store_step_done(st, s, "deleting a checkpoint", err);
    if (rc || (!end->model && !end->model_path))
        goto out;
    store_release(st, s);
    s = NULL;
    rc = model_put(st, id, end, err);
out:
    store_release(st, s);
    return rc;
}

int store_trial_finish(store_t *st, int64_t trial_id, const store_trial_end_t *end,
                       store_error_t *err) {
    int rc = store_require_writer(st, "store_trial_finish", err);
    if (!rc && (!end || !is_trial_end(end->status)))
        rc = store_error_set(err, MLPT_EINVAL, 0,
                             "trial end status must be completed, failed, diverged, pruned, "
                             "stopped or canceled");
    if (!rc && !isfinite(end->now))
        rc = store_error_set(err, MLPT_EINVAL, 0, "now is not finite");
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(st, trial_finish(st, trial_id, end, err), err);
}

/* The body of store_trial_mark_pruned, inside its savepoint. */
static int mark_pruned(store_t *st, int64_t trial_id, const char *note, store_error_t *err) {
    char status[16];
    sqlite3_stmt *s = NULL;
    int rc = store_lookup_status(st, "SELECT status FROM trials WHERE id = ?1", trial_id, "trial",
                                 status, sizeof(status), err);
    if (!rc && strcmp(status, "completed") != 0)
        rc = store_error_set(err, MLPT_ESTATE, 0, "trial %lld is %s, not completed",
                             (long long)trial_id, status);
    if (!rc)
        rc = store_prepare(st,
                           "UPDATE trials SET status = 'pruned', error = ?2 "
                           "WHERE id = ?1 AND status = 'completed'",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    store_bind_text(s, 2, note ? note : "", &rc);
    rc = rc ? store_fail_sql(st, err, rc, "marking a trial pruned")
            : store_step_done(st, s, "marking a trial pruned", err);
out:
    store_release(st, s);
    return rc;
}

int store_trial_mark_pruned(store_t *st, int64_t trial_id, const char *note, store_error_t *err) {
    int rc = store_require_writer(st, "store_trial_mark_pruned", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(st, mark_pruned(st, trial_id, note, err), err);
}

/* The body of store_sweep_cancel_queued, inside its savepoint. */
static int cancel_queued(store_t *st, int64_t sweep_id, double now, int64_t *n,
                         store_error_t *err) {
    char status[16];
    sqlite3_stmt *s = NULL;
    int rc = store_lookup_status(st, "SELECT status FROM sweeps WHERE id = ?1", sweep_id, "sweep",
                                 status, sizeof(status), err);
    if (!rc)
        rc = store_prepare(st,
                           "UPDATE trials SET status = 'canceled', finished_at = ?2 "
                           "WHERE sweep_id = ?1 AND status = 'queued'",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, sweep_id, &rc);
    store_bind_real(s, 2, now, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "canceling trials")
            : store_step_done(st, s, "canceling trials", err);
    if (!rc)
        *n = sqlite3_changes(st->db);
out:
    store_release(st, s);
    return rc;
}

int store_sweep_cancel_queued(store_t *st, int64_t sweep_id, double now, int64_t *n_canceled,
                              store_error_t *err) {
    int64_t n = 0;
    int rc = store_require_writer(st, "store_sweep_cancel_queued", err);
    if (!rc && !isfinite(now))
        rc = store_error_set(err, MLPT_EINVAL, 0, "now is not finite");
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = store_op_end(st, cancel_queued(st, sweep_id, now, &n, err), err);
    if (!rc && n_canceled)
        *n_canceled = n;
    return rc;
}

/* The body of store_recover, inside its savepoint. */
static int recover(store_t *st, int64_t *n, store_error_t *err) {
    /* A sweep canceled while its trials ran: they stopped with it, history kept. */
    int rc = store_exec(st,
                        "UPDATE trials SET status = 'canceled', finished_at = "
                        "(SELECT finished_at FROM sweeps WHERE sweeps.id = trials.sweep_id) "
                        "WHERE status IN ('queued', 'running') AND sweep_id IN "
                        "(SELECT id FROM sweeps WHERE status IN ('completed', 'failed', "
                        "'canceled'))",
                        "ending the trials of finished sweeps", err);
    /* Every committed row stays: a client may have read it. A checkpoint past the rows cannot be
     * resumed from without a gap in the history (it cannot happen, since a checkpoint is saved
     * after the rows it covers, but a gap would never be filled): such a trial recomputes from
     * iteration 1 like one without a checkpoint. */
    if (!rc)
        rc = store_exec(st,
                        "UPDATE trials SET checkpoint_iteration = 0 WHERE status = 'running' "
                        "AND checkpoint_iteration > (SELECT coalesce(max(iteration), 0) "
                        "FROM trial_metrics m WHERE m.trial_id = trials.id)",
                        "dropping checkpoints past the rows of interrupted trials", err);
    if (!rc)
        rc = store_exec(st,
                        "DELETE FROM trial_checkpoints WHERE trial_id IN "
                        "(SELECT id FROM trials WHERE status = 'running' "
                        "AND checkpoint_iteration = 0)",
                        "deleting unusable checkpoints", err);
    if (!rc)
        rc = store_exec(
            st,
            "UPDATE trials SET status = 'queued', "
            "iterations_done = (SELECT coalesce(max(iteration), 0) FROM trial_metrics m "
            "WHERE m.trial_id = trials.id), "
            "seconds = (SELECT coalesce(sum(seconds), 0) FROM trial_metrics m "
            "WHERE m.trial_id = trials.id), "
            "started_at = CASE WHEN EXISTS (SELECT 1 FROM trial_metrics m "
            "WHERE m.trial_id = trials.id) THEN started_at END, "
            "best_val_accuracy = (SELECT max(val_accuracy) FROM trial_metrics m "
            "WHERE m.trial_id = trials.id), "
            "best_iteration = (SELECT iteration FROM trial_metrics m WHERE m.trial_id = trials.id "
            "AND val_accuracy IS NOT NULL ORDER BY val_accuracy DESC, iteration LIMIT 1), "
            "final_val_accuracy = (SELECT val_accuracy FROM trial_metrics m "
            "WHERE m.trial_id = trials.id ORDER BY iteration DESC LIMIT 1) "
            "WHERE status = 'running'",
            "requeueing interrupted trials", err);
    if (!rc)
        *n = sqlite3_changes(st->db);
    return rc;
}

int store_recover(store_t *st, int64_t *requeued, store_error_t *err) {
    int64_t n = 0;
    int rc = store_require_writer(st, "store_recover", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = store_op_end(st, recover(st, &n, err), err);
    if (!rc && requeued)
        *requeued = n;
    return rc;
}

/* One queued trial, copied out of the statement so fn may use the store. */
typedef struct queued {
    int64_t sweep_id, trial_id, dataset_id, test_dataset_id;
    char *params;
} queued_t;

/* Reads every queued trial into a malloc'd array. */
static int read_queued(store_t *st, queued_t **out, size_t *count, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    queued_t *q = NULL;
    size_t n = 0, cap = 0;
    int rc = store_prepare(st,
                           "SELECT t.sweep_id, t.id, s.dataset_id, "
                           "coalesce(s.test_dataset_id, 0), t.params FROM trials t "
                           "JOIN sweeps s ON s.id = t.sweep_id WHERE t.status = 'queued' "
                           "AND s.status IN ('queued', 'running') ORDER BY t.sweep_id, t.ordinal",
                           &s, err);
    while (!rc && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = 0;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            queued_t *tmp = realloc(q, ncap * sizeof(*q));
            if (!tmp) {
                rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
                break;
            }
            q = tmp;
            cap = ncap;
        }
        const char *params = (const char *)sqlite3_column_text(s, 4);
        size_t len = (size_t)sqlite3_column_bytes(s, 4);
        queued_t *e = &q[n];
        e->sweep_id = sqlite3_column_int64(s, 0);
        e->trial_id = sqlite3_column_int64(s, 1);
        e->dataset_id = sqlite3_column_int64(s, 2);
        e->test_dataset_id = sqlite3_column_int64(s, 3);
        e->params = params ? malloc(len + 1) : NULL;
        if (!e->params) {
            rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
            break;
        }
        memcpy(e->params, params, len + 1);
        n++;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = store_fail_sql(st, err, rc, "reading queued trials");
    store_release(st, s);
    *out = q;
    *count = n;
    return rc;
}

int store_queued_trials(store_t *st, store_trial_fn fn, void *user, store_error_t *err) {
    queued_t *q = NULL;
    size_t n = 0;
    int rc = st && fn ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_queued_trials: no fn");
    if (!rc)
        rc = read_queued(st, &q, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = fn(q[i].sweep_id, q[i].trial_id, q[i].dataset_id, q[i].test_dataset_id, q[i].params,
                user);
    for (size_t i = 0; i < n; i++)
        free(q[i].params);
    free(q);
    return rc;
}
