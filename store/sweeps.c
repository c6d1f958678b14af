/*
 * store/sweeps.c - sweeps: insert with their trials, status changes, delete, one as JSON (with
 * per-state trial counts, progress and the best trial), the list, and the whole history.
 */
#include <math.h>
#include <string.h>

#include "store_private.h"

/* A trial's planned iterations: its params' "iterations" when that is a positive integer, else
 * 1. Finished trials count their whole plan as done. */
#define TRIAL_PLAN                                                                                 \
    "CASE WHEN json_type(params, '$.iterations') = 'integer' AND "                                 \
    "json_extract(params, '$.iterations') > 0 THEN json_extract(params, '$.iterations') ELSE 1 "   \
    "END"

/* Columns: 0 id, 1 name, 2 dataset_id, 3 test_dataset_id, 4 status, 5 trials_total, 6 stats
 * (JSON: per-state counts, done, planned), 7..9 best trial, 10 spec, 11..13 times, 14 error,
 * 15 and 16 the list key and id, 17 the best trial's best_iteration. The best trial is
 * best_trial_id once the sweep is finished, the current leader before. */
#define SWEEP_SELECT                                                                               \
    "SELECT s.id, s.name, s.dataset_id, s.test_dataset_id, s.status, s.trials_total, "             \
    "(SELECT json_object('queued', count(*) FILTER (WHERE status = 'queued'), "                    \
    "'running', count(*) FILTER (WHERE status = 'running'), "                                      \
    "'completed', count(*) FILTER (WHERE status = 'completed'), "                                  \
    "'failed', count(*) FILTER (WHERE status = 'failed'), "                                        \
    "'diverged', count(*) FILTER (WHERE status = 'diverged'), "                                    \
    "'pruned', count(*) FILTER (WHERE status = 'pruned'), "                                        \
    "'stopped', count(*) FILTER (WHERE status = 'stopped'), "                                      \
    "'canceled', count(*) FILTER (WHERE status = 'canceled'), "                                    \
    "'done', coalesce(sum(CASE WHEN status IN ('queued', 'running') "                              \
    "THEN min(iterations_done, plan) ELSE plan END), 0), "                                         \
    "'planned', coalesce(sum(plan), 0)) "                                                          \
    "FROM (SELECT status, iterations_done, " TRIAL_PLAN " AS plan "                                \
    "FROM trials WHERE sweep_id = s.id)), "                                                        \
    "b.id, b.params, b.best_val_accuracy, "                                                        \
    "s.spec, s.created_at, s.started_at, s.finished_at, s.error, s.id, s.id, b.best_iteration "    \
    "FROM sweeps s LEFT JOIN trials b ON b.id = coalesce(s.best_trial_id, "                        \
    "(SELECT id FROM trials WHERE sweep_id = s.id AND best_val_accuracy IS NOT NULL "              \
    "ORDER BY best_val_accuracy DESC, id LIMIT 1)) "

static const store_col_t sweep_head[] = {
    {"id", COL_INT},         {"name", COL_TEXT},
    {"dataset_id", COL_INT}, {"test_dataset_id", COL_INT},
    {"status", COL_TEXT},    {"trials_total", COL_INT},
};
static const store_col_t sweep_best[] = {
    {"id", COL_INT}, {"params", COL_JSON}, {"best_val_accuracy", COL_REAL}};
static const store_col_t sweep_tail[] = {
    {"spec", COL_JSON},        {"created_at", COL_TIME}, {"started_at", COL_TIME},
    {"finished_at", COL_TIME}, {"error", COL_TEXT},
};
#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))
#define SWEEP_KEY_COL 15

static int is_finished(const char *status) {
    return strcmp(status, "queued") != 0 && strcmp(status, "running") != 0;
}

static int is_sweep_status(const char *status) {
    static const char *const states[] = {"queued", "running", "completed", "failed", "canceled"};
    for (size_t i = 0; status && i < NCOLS(states); i++)
        if (strcmp(status, states[i]) == 0)
            return 1;
    return 0;
}

/* The best trial of the current SWEEP_SELECT row, or null. */
static json_t *sweep_best_json(sqlite3_stmt *s, int *rc) {
    if (sqlite3_column_type(s, 7) == SQLITE_NULL)
        return json_null();
    json_t *best = store_row_json(s, 7, sweep_best, NCOLS(sweep_best), rc);
    if (best && store_obj_set(best, "best_iteration", store_col_json(s, 17, COL_INT, rc))) {
        json_decref(best);
        return NULL;
    }
    return best;
}

/* Builds the sweep object of the current SWEEP_SELECT row. */
static json_t *sweep_row(sqlite3_stmt *s, int *rc) {
    json_t *obj = store_row_json(s, 0, sweep_head, NCOLS(sweep_head), rc);
    if (!obj)
        return NULL;
    json_t *stats = store_col_json(s, 6, COL_JSON, rc);
    if (!json_is_object(stats)) {
        if (stats)
            *rc = MLPT_EDB;
        json_decref(stats);
        goto fail;
    }
    json_int_t done = json_integer_value(json_object_get(stats, "done"));
    json_int_t planned = json_integer_value(json_object_get(stats, "planned"));
    json_object_del(stats, "done");
    json_object_del(stats, "planned");
    const char *status = json_string_value(json_object_get(obj, "status"));
    double progress = planned > 0 ? (double)done / (double)planned : 0.0;
    if (status && is_finished(status))
        progress = 1.0;
    if (store_obj_set(obj, "trials", stats) ||
        store_obj_set(obj, "progress", json_real(progress)) ||
        store_obj_set(obj, "best_trial", sweep_best_json(s, rc)) ||
        store_row_into(obj, s, 10, sweep_tail, NCOLS(sweep_tail), rc))
        goto fail;
    return obj;
fail:
    if (!*rc)
        *rc = MLPT_ENOMEM;
    json_decref(obj);
    return NULL;
}

static int check_sweep(const store_sweep_new_t *sw, const char *const *params_json, size_t n,
                       store_error_t *err) {
    if (!sw)
        return store_error_set(err, MLPT_EINVAL, 0, "sweep: missing");
    if (!sw->search || (strcmp(sw->search, "grid") != 0 && strcmp(sw->search, "random") != 0 &&
                        strcmp(sw->search, "tpe") != 0))
        return store_error_set(err, MLPT_EINVAL, 0, "sweep: search must be grid, random or tpe");
    if (!isfinite(sw->created_at))
        return store_error_set(err, MLPT_EINVAL, 0, "sweep: created_at is not finite");
    if (n && !params_json)
        return store_error_set(err, MLPT_EINVAL, 0, "sweep: params_json is missing");
    int rc = store_check_json(sw->spec_json, JSON_OBJECT, "sweep: spec_json", err);
    for (size_t i = 0; !rc && i < n; i++) {
        char what[48];
        snprintf(what, sizeof(what), "sweep: params_json[%zu]", i);
        rc = store_check_json(params_json[i], JSON_OBJECT, what, err);
    }
    return rc;
}

/* The body of store_sweep_insert, inside its savepoint. */
static int sweep_insert(store_t *st, const store_sweep_new_t *sw, const char *const *params_json,
                        size_t n, int64_t *sweep_id, int64_t *trial_ids, store_error_t *err) {
    static const char *const dataset_sql = "SELECT status FROM datasets WHERE id = ?1";
    sqlite3_stmt *s = NULL;
    char status[16];
    int rc = store_lookup_status(st, dataset_sql, sw->dataset_id, "dataset", status, sizeof(status),
                                 err);
    if (!rc && sw->test_dataset_id)
        rc = store_lookup_status(st, dataset_sql, sw->test_dataset_id, "test dataset", status,
                                 sizeof(status), err);
    if (!rc)
        rc = store_prepare(st,
                           "INSERT INTO sweeps (name, dataset_id, test_dataset_id, spec, search, "
                           "status, trials_total, created_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
                           &s, err);
    if (rc)
        goto out;
    store_bind_text(s, 1, sw->name ? sw->name : "", &rc);
    store_bind_i64(s, 2, sw->dataset_id, &rc);
    store_bind_id0(s, 3, sw->test_dataset_id, &rc);
    store_bind_text(s, 4, sw->spec_json, &rc);
    store_bind_text(s, 5, sw->search, &rc);
    store_bind_i64(s, 6, (int64_t)n, &rc);
    store_bind_real(s, 7, sw->created_at, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "inserting a sweep")
            : store_step_done(st, s, "inserting a sweep", err);
    if (rc)
        goto out;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    store_release(st, s);
    rc = store_prepare(st,
                       "INSERT INTO trials (sweep_id, ordinal, params, created_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
                       &s, err);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(s);
        store_bind_i64(s, 1, id, &rc);
        store_bind_i64(s, 2, (int64_t)i, &rc);
        store_bind_text(s, 3, params_json[i], &rc);
        store_bind_real(s, 4, sw->created_at, &rc);
        rc = rc ? store_fail_sql(st, err, rc, "inserting a trial")
                : store_step_done(st, s, "inserting a trial", err);
        if (!rc && trial_ids)
            trial_ids[i] = sqlite3_last_insert_rowid(st->db);
    }
    if (!rc)
        *sweep_id = id;
out:
    store_release(st, s);
    return rc;
}

int store_sweep_insert(store_t *st, const store_sweep_new_t *s, const char *const *params_json,
                       size_t n, int64_t *sweep_id, int64_t *trial_ids, store_error_t *err) {
    int64_t id = 0;
    int rc = store_require_writer(st, "store_sweep_insert", err);
    if (!rc)
        rc = check_sweep(s, params_json, n, err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    rc = store_op_end(st, sweep_insert(st, s, params_json, n, &id, trial_ids, err), err);
    if (!rc && sweep_id)
        *sweep_id = id;
    return rc;
}

/* The body of store_sweep_add_trials, inside its savepoint. */
static int trials_add(store_t *st, int64_t sweep_id, const char *const *params_json, size_t n,
                      double now, int64_t *trial_ids, store_error_t *err) {
    char status[16];
    sqlite3_stmt *s = NULL;
    int rc = store_lookup_status(st, "SELECT status FROM sweeps WHERE id = ?1", sweep_id, "sweep",
                                 status, sizeof(status), err);
    if (!rc && is_finished(status))
        rc = store_error_set(err, MLPT_ESTATE, 0, "sweep %lld has finished", (long long)sweep_id);
    if (!rc)
        rc = store_prepare(st,
                           "INSERT INTO trials (sweep_id, ordinal, params, created_at) "
                           "VALUES (?1, (SELECT coalesce(max(ordinal), -1) + 1 FROM trials "
                           "WHERE sweep_id = ?1), ?2, ?3)",
                           &s, err);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(s);
        store_bind_i64(s, 1, sweep_id, &rc);
        store_bind_text(s, 2, params_json[i], &rc);
        store_bind_real(s, 3, now, &rc);
        rc = rc ? store_fail_sql(st, err, rc, "inserting a trial")
                : store_step_done(st, s, "inserting a trial", err);
        if (!rc && trial_ids)
            trial_ids[i] = sqlite3_last_insert_rowid(st->db);
    }
    store_release(st, s);
    s = NULL;
    if (!rc)
        rc = store_prepare(st, "UPDATE sweeps SET trials_total = trials_total + ?2 WHERE id = ?1",
                           &s, err);
    if (!rc) {
        store_bind_i64(s, 1, sweep_id, &rc);
        store_bind_i64(s, 2, (int64_t)n, &rc);
        rc = rc ? store_fail_sql(st, err, rc, "counting a sweep's trials")
                : store_step_done(st, s, "counting a sweep's trials", err);
    }
    store_release(st, s);
    return rc;
}

int store_sweep_add_trials(store_t *st, int64_t sweep_id, const char *const *params_json, size_t n,
                           double now, int64_t *trial_ids, store_error_t *err) {
    int rc = store_require_writer(st, "store_sweep_add_trials", err);
    if (!rc && !isfinite(now))
        rc = store_error_set(err, MLPT_EINVAL, 0, "now is not finite");
    if (!rc && n && !params_json)
        rc = store_error_set(err, MLPT_EINVAL, 0, "params_json is missing");
    for (size_t i = 0; !rc && i < n; i++) {
        char what[48];
        snprintf(what, sizeof(what), "params_json[%zu]", i);
        rc = store_check_json(params_json[i], JSON_OBJECT, what, err);
    }
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(st, trials_add(st, sweep_id, params_json, n, now, trial_ids, err), err);
}

/* ENOTFOUND or ESTATE for an update of sweep id that changed nothing. */
static int explain_no_change(store_t *st, int64_t id, const char *action, store_error_t *err) {
    return store_explain_no_change(st, "SELECT status FROM sweeps WHERE id = ?1", "sweep", id,
                                   action, err);
}

/* The body of store_sweep_set_status, inside its savepoint. */
static int set_status(store_t *st, int64_t id, const char *status, double now, const char *error,
                      store_error_t *err) {
    int running = strcmp(status, "running") == 0;
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st,
                           running ? "UPDATE sweeps SET status = 'running', "
                                     "started_at = coalesce(started_at, ?2), error = ?3 "
                                     "WHERE id = ?1 AND status IN ('queued', 'running')"
                                   : "UPDATE sweeps SET status = ?4, finished_at = ?2, "
                                     "error = ?3, best_trial_id = (SELECT id FROM trials "
                                     "WHERE sweep_id = ?1 AND best_val_accuracy IS NOT NULL "
                                     "ORDER BY best_val_accuracy DESC, id LIMIT 1) "
                                     "WHERE id = ?1 AND status IN ('queued', 'running')",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    store_bind_real(s, 2, now, &rc);
    store_bind_text(s, 3, error, &rc);
    if (!running)
        store_bind_text(s, 4, status, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "updating a sweep")
            : store_step_done(st, s, "updating a sweep", err);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = explain_no_change(st, id, running ? "start" : "finish", err);
out:
    store_release(st, s);
    return rc;
}

int store_sweep_set_status(store_t *st, int64_t id, const char *status, double now,
                           const char *error, store_error_t *err) {
    int rc = store_require_writer(st, "store_sweep_set_status", err);
    if (!rc && (!is_sweep_status(status) || strcmp(status, "queued") == 0))
        rc = store_error_set(err, MLPT_EINVAL, 0,
                             "sweep status must be running, completed, failed or canceled");
    if (!rc && !isfinite(now))
        rc = store_error_set(err, MLPT_EINVAL, 0, "now is not finite");
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(st, set_status(st, id, status, now, error, err), err);
}

/* The body of store_sweep_delete, inside its savepoint. */
static int sweep_delete(store_t *st, int64_t id, store_error_t *err) {
    char status[16];
    sqlite3_stmt *s = NULL;
    int rc = store_lookup_status(st, "SELECT status FROM sweeps WHERE id = ?1", id, "sweep", status,
                                 sizeof(status), err);
    if (rc)
        return rc;
    if (!is_finished(status))
        return store_error_set(err, MLPT_ESTATE, 0, "cannot delete sweep %lld: it is %s",
                               (long long)id, status);
    rc = store_prepare(st, "DELETE FROM sweeps WHERE id = ?1", &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    rc = rc ? store_fail_sql(st, err, rc, "deleting a sweep")
            : store_step_done(st, s, "deleting a sweep", err);
out:
    store_release(st, s);
    return rc;
}

int store_sweep_delete(store_t *st, int64_t id, store_error_t *err) {
    int rc = store_require_writer(st, "store_sweep_delete", err);
    if (!rc)
        rc = store_op_begin(st, err);
    if (rc)
        return rc;
    return store_op_end(st, sweep_delete(st, id, err), err);
}

json_t *store_sweep_get(store_t *st, int64_t id, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *obj = NULL;
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_sweep_get: no store");
    if (!rc)
        rc = store_prepare(st, SWEEP_SELECT "WHERE s.id = ?1", &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, id, &rc);
    rc = rc ? rc : sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        store_error_set(err, MLPT_ENOTFOUND, 0, "sweep %lld not found", (long long)id);
    } else if (rc != SQLITE_ROW) {
        store_fail_sql(st, err, rc, "reading a sweep");
    } else {
        rc = 0;
        obj = sweep_row(s, &rc);
        if (!obj)
            store_row_failed(err, rc);
    }
out:
    store_release(st, s);
    return obj;
}

json_t *store_sweep_list(store_t *st, const char *status, size_t limit, const char *cursor,
                         store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *page = NULL;
    store_cursor_t c = {0};
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_sweep_list: no store");
    if (!rc)
        rc = store_check_limit(limit, err);
    if (!rc && status && !is_sweep_status(status))
        rc = store_error_set(err, MLPT_EINVAL, 0, "unknown sweep status");
    if (!rc && cursor)
        rc = store_cursor_decode(cursor, CURSOR_SWEEPS, 0, 0, &c, err);
    if (!rc)
        rc = store_prepare(st,
                           SWEEP_SELECT "WHERE (?1 IS NULL OR s.id < ?1) AND "
                                        "(?2 IS NULL OR s.status = ?2) ORDER BY s.id DESC LIMIT ?3",
                           &s, err);
    if (rc)
        goto out;
    if (cursor)
        store_bind_i64(s, 1, c.id, &rc);
    store_bind_text(s, 2, status, &rc);
    store_bind_i64(s, 3, (int64_t)limit + 1, &rc);
    if (rc) {
        store_fail_sql(st, err, rc, "listing sweeps");
        goto out;
    }
    page = store_page(st, s, sweep_row, limit, SWEEP_KEY_COL, CURSOR_SWEEPS, 0, 0, err);
out:
    store_release(st, s);
    return page;
}

/* Adds the trial of the current history row (columns 1..3) to trials; returns its history
 * array (borrowed: trials owns it). */
static json_t *history_trial(json_t *trials, sqlite3_stmt *s, int *rc) {
    static const store_col_t cols[] = {
        {"trial_id", COL_INT}, {"status", COL_TEXT}, {"params", COL_JSON}};
    json_t *t = store_row_json(s, 1, cols, NCOLS(cols), rc);
    if (!t)
        return NULL;
    json_t *h = json_array();
    if (json_object_set_new(t, "history", h)) {
        json_decref(t);
        return NULL;
    }
    if (json_array_append_new(trials, t))
        return NULL;
    return h;
}

/* Builds the sweep history object from the rows of s. */
static json_t *sweep_history(store_t *st, sqlite3_stmt *s, int64_t id, store_error_t *err) {
    json_t *obj = NULL, *trials = NULL, *history = NULL;
    int64_t current = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (!obj) {
            obj = json_object();
            trials = json_array();
            if (!obj || store_obj_set(obj, "sweep_id", json_integer((json_int_t)id)) ||
                store_obj_set(obj, "status", store_col_json(s, 0, COL_TEXT, &rc)) ||
                store_obj_set(obj, "trials", json_incref(trials))) {
                rc = store_row_failed(err, rc);
                goto out;
            }
        }
        if (sqlite3_column_type(s, 1) == SQLITE_NULL) /* a sweep without trials */
            continue;
        if (sqlite3_column_int64(s, 1) != current) {
            current = sqlite3_column_int64(s, 1);
            history = history_trial(trials, s, &rc);
            if (!history) {
                rc = store_row_failed(err, rc);
                goto out;
            }
        }
        if (sqlite3_column_type(s, 4) == SQLITE_NULL) /* a trial without metrics */
            continue;
        json_t *point = store_row_json(s, 4, store_point_cols, STORE_POINT_NCOLS, &rc);
        if (!point || json_array_append_new(history, point)) {
            rc = store_row_failed(err, rc);
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = store_fail_sql(st, err, step, "reading a sweep history");
    else if (!obj)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "sweep %lld not found", (long long)id);
out:
    json_decref(trials);
    if (rc) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

json_t *store_sweep_history(store_t *st, int64_t sweep_id, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    json_t *obj = NULL;
    int rc = st ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_sweep_history: no store");
    /* One statement, so one snapshot: every trial's history is whole as of the same commit. */
    if (!rc)
        rc = store_prepare(st,
                           "SELECT s.status, t.id, t.status, t.params, m.iteration, "
                           "m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, "
                           "m.seconds FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id "
                           "LEFT JOIN trial_metrics m ON m.trial_id = t.id "
                           "WHERE s.id = ?1 ORDER BY t.ordinal, m.iteration",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, sweep_id, &rc);
    if (rc) {
        store_fail_sql(st, err, rc, "reading a sweep history");
        goto out;
    }
    obj = sweep_history(st, s, sweep_id, err);
out:
    store_release(st, s);
    return obj;
}
