/*
 * store/reopen.c - a sweep that goes on after it ended, and ended trials that run again: a
 * finished sweep reopened (extend, retry, warm start), its stored request replaced by one with
 * new budgets (extend), an ended trial re-queued with its rows (retry, extend), and the ids of
 * the trials a retry takes (failed and lost).
 */
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

static int sweep_status_sql(store_t *st, int64_t id, const char *action, store_error_t *err) {
    return store_explain_no_change(st, "SELECT status FROM sweeps WHERE id = ?1", "sweep", id,
                                   action, err);
}

/* Runs sql (?1 the id, ?2 an optional text) expecting it to change one row. */
static int update_one(store_t *st, const char *sql, int64_t id, const char *text, const char *what,
                      store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        return rc;
    store_bind_i64(s, 1, id, &rc);
    if (text)
        store_bind_text(s, 2, text, &rc);
    rc = rc ? store_fail_sql(st, err, rc, what) : store_step_done(st, s, what, err);
    int changed = rc == 0 && sqlite3_changes(st->db) > 0;
    store_release(st, s);
    return rc ? rc : changed ? 0 : 1;
}

int store_sweep_reopen(store_t *st, int64_t sweep_id, store_error_t *err) {
    int rc = store_require_writer(st, "store_sweep_reopen", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = update_one(st,
                    "UPDATE sweeps SET status = 'running', finished_at = NULL, "
                    "best_trial_id = NULL, error = NULL "
                    "WHERE id = ?1 AND status IN ('completed', 'failed', 'canceled')",
                    sweep_id, NULL, "reopening a sweep", err);
    if (rc == 1)
        rc = sweep_status_sql(st, sweep_id, "reopen", err);
    return store_op_end(st, rc, err);
}

int store_sweep_set_spec(store_t *st, int64_t sweep_id, const char *spec_json, store_error_t *err) {
    int rc = store_require_writer(st, "store_sweep_set_spec", err);
    if (!rc)
        rc = store_check_json(spec_json, JSON_OBJECT, "sweep: spec_json", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = update_one(st, "UPDATE sweeps SET spec = ?2 WHERE id = ?1", sweep_id, spec_json,
                    "replacing a sweep's request", err);
    if (rc == 1)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "sweep %lld not found", (long long)sweep_id);
    return store_op_end(st, rc, err);
}

int store_trial_requeue(store_t *st, int64_t trial_id, const char *params_json,
                        store_error_t *err) {
    int rc = store_require_writer(st, "store_trial_requeue", err);
    if (!rc && params_json)
        rc = store_check_json(params_json, JSON_OBJECT, "trial: params_json", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = update_one(
        st,
        "UPDATE trials SET status = 'queued', params = coalesce(?2, params), error = NULL, "
        "finished_at = NULL, test_accuracy = NULL, "
        "iterations_done = (SELECT coalesce(max(iteration), 0) FROM trial_metrics m "
        "WHERE m.trial_id = trials.id), "
        "seconds = (SELECT coalesce(sum(seconds), 0) FROM trial_metrics m "
        "WHERE m.trial_id = trials.id), "
        "best_val_accuracy = (SELECT max(val_accuracy) FROM trial_metrics m "
        "WHERE m.trial_id = trials.id), "
        "best_iteration = (SELECT iteration FROM trial_metrics m WHERE m.trial_id = trials.id "
        "AND val_accuracy IS NOT NULL ORDER BY val_accuracy DESC, iteration LIMIT 1), "
        "final_val_accuracy = (SELECT val_accuracy FROM trial_metrics m "
        "WHERE m.trial_id = trials.id ORDER BY iteration DESC LIMIT 1), "
        "checkpoint_iteration = coalesce((SELECT c.iteration FROM trial_checkpoints c "
        "WHERE c.trial_id = trials.id), 0) "
        "WHERE id = ?1 AND status NOT IN ('queued', 'running')",
        trial_id, params_json, "re-queueing a trial", err);
    if (rc == 1)
        rc = store_explain_no_change(st, "SELECT status FROM trials WHERE id = ?1", "trial",
                                     trial_id, "re-queue", err);
    return store_op_end(st, rc, err);
}

int store_sweep_lost_trials(store_t *st, int64_t sweep_id, int64_t **ids, size_t *n,
                            store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int64_t *out = NULL;
    size_t count = 0, cap = 0;
    *ids = NULL;
    *n = 0;
    char status[16];
    int rc = store_lookup_status(st, "SELECT status FROM sweeps WHERE id = ?1", sweep_id, "sweep",
                                 status, sizeof status, err);
    if (!rc)
        rc = store_prepare(st,
                           "SELECT id FROM trials WHERE sweep_id = ?1 AND (status = 'failed' OR "
                           "(status = 'canceled' AND iterations_done < CASE WHEN "
                           "json_type(params, '$.iterations') = 'integer' THEN "
                           "json_extract(params, '$.iterations') ELSE 1 END)) ORDER BY ordinal",
                           &s, err);
    if (rc)
        return rc;
    store_bind_i64(s, 1, sweep_id, &rc);
    while (rc == 0) {
        int step = sqlite3_step(s);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_fail_sql(st, err, step, "reading a sweep's failed trials");
            break;
        }
        if (count == cap) {
            size_t c2 = cap ? 2 * cap : 16;
            int64_t *tmp = realloc(out, c2 * sizeof *tmp);
            if (!tmp) {
                rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
                break;
            }
            out = tmp;
            cap = c2;
        }
        out[count++] = sqlite3_column_int64(s, 0);
    }
    store_release(st, s);
    if (rc) {
        free(out);
        return rc;
    }
    *ids = out;
    *n = count;
    return 0;
}
