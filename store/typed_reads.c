/*
 * store/typed_reads.c - what internal callers (the scheduler, the event hub's replay, the
 * service's start-up) read, as plain structs: a dataset's shape, every dataset's matrix file, a
 * sweep's state and per-state trial counts, its trials' ids and states, one trial's state with
 * its metric rows. JSON is built only for HTTP answers (datasets.c, sweeps.c, trial_reads.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

static const char *const trial_states[STORE_TRIAL_NSTATES] = {
    "queued", "running", "completed", "failed", "diverged", "pruned", "stopped", "canceled"};
static const char *const sweep_states[STORE_SWEEP_NSTATES] = {"queued", "running", "completed",
                                                              "failed", "canceled"};

const char *store_trial_state_name(store_trial_state_t s) {
    return (unsigned)s < STORE_TRIAL_NSTATES ? trial_states[s] : "unknown";
}

int store_trial_state_final(store_trial_state_t s) {
    return s != STORE_TRIAL_QUEUED && s != STORE_TRIAL_RUNNING;
}

const char *store_sweep_state_name(store_sweep_state_t s) {
    return (unsigned)s < STORE_SWEEP_NSTATES ? sweep_states[s] : "unknown";
}

int store_sweep_state_final(store_sweep_state_t s) {
    return s != STORE_SWEEP_QUEUED && s != STORE_SWEEP_RUNNING;
}

/* The index of column col's text in names[0..n), or -1 (the schema's CHECKs allow no other). */
static int column_state(sqlite3_stmt *s, int col, const char *const *names, int n) {
    const char *text = (const char *)sqlite3_column_text(s, col);
    for (int i = 0; text && i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    return -1;
}

static double column_real(sqlite3_stmt *s, int col) {
    return sqlite3_column_type(s, col) == SQLITE_NULL ? NAN : sqlite3_column_double(s, col);
}

/* Prepares sql and binds id as ?1. */
/* Room for one more element of `size` bytes in *list (count used, *cap allocated): 0, or
 * MLPT_ENOMEM in err with *list untouched. */
static int grow(void **list, size_t count, size_t *cap, size_t size, store_error_t *err) {
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 64;
    void *tmp = realloc(*list, ncap * size);
    if (!tmp)
        return store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    *list = tmp;
    *cap = ncap;
    return 0;
}

static int prepare_id(store_t *st, const char *sql, int64_t id, sqlite3_stmt **s,
                      store_error_t *err) {
    int rc = st ? store_prepare(st, sql, s, err)
                : store_error_set(err, MLPT_EINVAL, 0, "typed read: no store");
    if (rc)
        return rc;
    store_bind_i64(*s, 1, id, &rc);
    return rc ? store_fail_sql(st, err, rc, "binding") : 0;
}

/* ---- datasets ---- */

int store_dataset_shape(store_t *st, int64_t id, store_dataset_shape_t *out, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof(*out));
    int rc = prepare_id(st, "SELECT rows, features, classes, kind FROM datasets WHERE id = ?1", id,
                        &s, err);
    if (rc)
        goto out;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->rows = sqlite3_column_int64(s, 0);
        out->features = sqlite3_column_int64(s, 1);
        out->classes = sqlite3_column_int64(s, 2);
        const char *kind = (const char *)sqlite3_column_text(s, 3);
        snprintf(out->kind, sizeof out->kind, "%s", kind ? kind : "table");
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "dataset %lld not found", (long long)id);
    } else {
        rc = store_fail_sql(st, err, rc, "reading a dataset's shape");
    }
out:
    store_release(st, s);
    return rc;
}

int store_dataset_subjects(store_t *st, int64_t id, int32_t **ids, size_t *n, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    *ids = NULL;
    *n = 0;
    int rc = prepare_id(st, "SELECT details FROM datasets WHERE id = ?1", id, &s, err);
    if (rc)
        goto out;
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "dataset %lld not found", (long long)id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, "reading a dataset's subjects");
        goto out;
    }
    rc = 0;
    const char *text = (const char *)sqlite3_column_text(s, 0);
    json_t *d = text ? json_loads(text, 0, NULL) : NULL;
    json_t *list = json_object_get(d, "subjects");
    size_t k = json_array_size(list);
    if (k) {
        *ids = malloc(k * sizeof **ids);
        if (!*ids)
            rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        for (size_t i = 0; *ids && i < k; i++) {
            json_t *sid = json_object_get(json_array_get(list, i), "id");
            if (json_is_integer(sid))
                (*ids)[(*n)++] = (int32_t)json_integer_value(sid);
        }
    }
    json_decref(d);
out:
    store_release(st, s);
    return rc;
}

int store_dataset_paths(store_t *st, int (*fn)(int64_t id, const char *storage_path, void *user),
                        void *user, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int64_t *ids = NULL;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int rc = st ? store_prepare(st, "SELECT id, storage_path FROM datasets ORDER BY id", &s, err)
                : store_error_set(err, MLPT_EINVAL, 0, "store_dataset_paths: no store");
    if (rc)
        goto out;
    /* Read every row first: fn may use the connection. */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            int64_t *ti = realloc(ids, ncap * sizeof(*ti));
            if (ti)
                ids = ti;
            char **tp = ti ? realloc(paths, ncap * sizeof(*tp)) : NULL;
            if (!tp) {
                rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
                goto out;
            }
            paths = tp;
            cap = ncap;
        }
        const char *p = (const char *)sqlite3_column_text(s, 1);
        ids[n] = sqlite3_column_int64(s, 0);
        if (!(paths[n] = strdup(p ? p : ""))) {
            rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
            goto out;
        }
        n++;
    }
    rc = rc == SQLITE_DONE ? 0 : store_fail_sql(st, err, rc, "listing datasets");
    store_release(st, s);
    s = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = fn(ids[i], paths[i], user);
out:
    store_release(st, s);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(ids);
    return rc;
}

/* ---- sweeps ---- */

int store_sweep_info(store_t *st, int64_t id, store_sweep_info_t *out, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof(*out));
    /* One statement: the sweep and its trial counts from one snapshot. */
    int rc = prepare_id(st,
                        "SELECT s.id, s.dataset_id, s.test_dataset_id, s.status, s.trials_total, "
                        "t.status, count(t.id) FROM sweeps s LEFT JOIN trials t "
                        "ON t.sweep_id = s.id WHERE s.id = ?1 GROUP BY t.status",
                        id, &s, err);
    if (rc)
        goto out;
    int rows = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int state = column_state(s, 3, sweep_states, STORE_SWEEP_NSTATES);
        if (state < 0) {
            rc = store_error_set(err, MLPT_EDB, 0, "sweep %lld has an unknown status",
                                 (long long)id);
            goto out;
        }
        out->id = sqlite3_column_int64(s, 0);
        out->dataset_id = sqlite3_column_int64(s, 1);
        out->test_dataset_id = sqlite3_column_int64(s, 2); /* NULL reads as 0: none */
        out->state = (store_sweep_state_t)state;
        out->trials_total = sqlite3_column_int64(s, 4);
        rows++;
        if (sqlite3_column_type(s, 5) == SQLITE_NULL) /* no trials */
            continue;
        int ts = column_state(s, 5, trial_states, STORE_TRIAL_NSTATES);
        if (ts < 0) {
            rc = store_error_set(err, MLPT_EDB, 0, "a trial of sweep %lld has an unknown status",
                                 (long long)id);
            goto out;
        }
        out->trials[ts] = sqlite3_column_int64(s, 6);
    }
    if (rc != SQLITE_DONE)
        rc = store_fail_sql(st, err, rc, "reading a sweep");
    else if (!rows)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "sweep %lld not found", (long long)id);
    else
        rc = 0;
out:
    store_release(st, s);
    return rc;
}

/* The trial info of the current row, columns first .. first + 6: id, sweep_id, ordinal, status,
 * attempt, iterations_done, started_at IS NOT NULL. 0 or MLPT_EDB. */
static int trial_info_row(sqlite3_stmt *s, int first, store_trial_info_t *t, store_error_t *err) {
    int state = column_state(s, first + 3, trial_states, STORE_TRIAL_NSTATES);
    if (state < 0)
        return store_error_set(err, MLPT_EDB, 0, "trial %lld has an unknown status",
                               (long long)sqlite3_column_int64(s, first));
    *t = (store_trial_info_t){.id = sqlite3_column_int64(s, first),
                              .sweep_id = sqlite3_column_int64(s, first + 1),
                              .ordinal = sqlite3_column_int64(s, first + 2),
                              .state = (store_trial_state_t)state,
                              .attempt = sqlite3_column_int64(s, first + 4),
                              .iterations_done = sqlite3_column_int64(s, first + 5),
                              .has_started_at = sqlite3_column_int(s, first + 6) != 0};
    return 0;
}

#define TRIAL_INFO_COLS                                                                            \
    "t.id, t.sweep_id, t.ordinal, t.status, t.attempt, t.iterations_done, "                        \
    "t.started_at IS NOT NULL"

int store_sweep_trials(store_t *st, int64_t sweep_id, store_trial_info_t **out, size_t *n,
                       store_error_t *err) {
    sqlite3_stmt *s = NULL;
    store_trial_info_t *list = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    /* The sweep's row comes first (LEFT JOIN: a sweep without trials still has one), so an
     * unknown sweep is told from an empty one in the same snapshot. */
    int rc = prepare_id(st,
                        "SELECT s.id, " TRIAL_INFO_COLS " FROM sweeps s LEFT JOIN trials t "
                        "ON t.sweep_id = s.id WHERE s.id = ?1 ORDER BY t.ordinal",
                        sweep_id, &s, err);
    if (rc)
        goto out;
    int found = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        found = 1;
        if (sqlite3_column_type(s, 1) == SQLITE_NULL)
            continue;
        if ((rc = grow((void **)&list, count, &cap, sizeof(*list), err)) != 0)
            goto out;
        if ((rc = trial_info_row(s, 1, &list[count], err)) != 0)
            goto out;
        count++;
    }
    if (rc != SQLITE_DONE)
        rc = store_fail_sql(st, err, rc, "reading a sweep's trials");
    else if (!found)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "sweep %lld not found", (long long)sweep_id);
    else
        rc = 0;
out:
    store_release(st, s);
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* ---- trials ---- */

int store_trial_snapshot(store_t *st, int64_t trial_id, store_trial_info_t *info,
                         store_metric_t **rows, size_t *n, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    store_metric_t *list = NULL;
    size_t count = 0, cap = 0;
    memset(info, 0, sizeof(*info));
    *rows = NULL;
    *n = 0;
    /* One statement, one snapshot: a batch of rows committed meanwhile is all in or all out,
     * and the state is the one those rows go with. */
    int rc = prepare_id(st,
                        "SELECT " TRIAL_INFO_COLS ", m.iteration, m.train_loss, "
                        "m.train_accuracy, m.val_loss, m.val_accuracy, m.seconds FROM trials t "
                        "LEFT JOIN trial_metrics m ON m.trial_id = t.id WHERE t.id = ?1 "
                        "ORDER BY m.iteration",
                        trial_id, &s, err);
    if (rc)
        goto out;
    int found = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!found && (rc = trial_info_row(s, 0, info, err)) != 0)
            goto out;
        found = 1;
        if (sqlite3_column_type(s, 7) == SQLITE_NULL) /* no rows */
            continue;
        if ((rc = grow((void **)&list, count, &cap, sizeof(*list), err)) != 0)
            goto out;
        list[count++] = (store_metric_t){.trial_id = trial_id,
                                         .iteration = sqlite3_column_int64(s, 7),
                                         .train_loss = column_real(s, 8),
                                         .train_accuracy = column_real(s, 9),
                                         .val_loss = column_real(s, 10),
                                         .val_accuracy = column_real(s, 11),
                                         .seconds = column_real(s, 12)};
    }
    if (rc != SQLITE_DONE)
        rc = store_fail_sql(st, err, rc, "reading a trial");
    else if (!found)
        rc = store_error_set(err, MLPT_ENOTFOUND, 0, "trial %lld not found", (long long)trial_id);
    else
        rc = 0;
out:
    store_release(st, s);
    if (rc) {
        free(list);
        memset(info, 0, sizeof(*info));
        return rc;
    }
    *rows = list;
    *n = count;
    return 0;
}
