/*
 * api/store_reads.c - the store as the HTTP threads see it: one read-only connection per
 * thread, opened on first use and closed when the thread ends (a pthread key's destructor), and
 * the reads the SSE replay needs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "server.h"
#include "validate.h"

store_t *api_reader(api_t *a, store_error_t *err) {
    store_t *st = pthread_getspecific(a->reader_key);
    if (st)
        return st;
    st = store_open(a->db_path, STORE_READER, err);
    if (st && store_set_data_dir(st, a->data_dir, err) != 0) { /* models are files there */
        store_close(st);
        return NULL;
    }
    if (st && pthread_setspecific(a->reader_key, st) != 0) {
        store_close(st);
        st = NULL;
        if (err) {
            memset(err, 0, sizeof(*err));
            err->code = MLPT_ENOMEM;
        }
    }
    return st;
}

/* ---- SSE replay --------------------------------------------------------------------------- */

static int replay_reader(api_t *a, store_t **st) {
    store_error_t err;
    *st = api_reader(a, &err);
    if (!*st) {
        api_logf(a, "sse: cannot open the database: %s", err.message);
        return err.code ? err.code : MLPT_EDB;
    }
    return 0;
}

static int replay_trial_ids(void *user, int64_t sweep_id, int64_t **ids, size_t *n) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    char *cursor = NULL;
    size_t count = 0, cap = 0;
    int64_t *list = NULL;
    int rc = replay_reader(a, &st);
    *ids = NULL;
    *n = 0;
    while (rc == 0) {
        json_t *page = store_trial_list(st, sweep_id, "ordinal", API_MAX_LIMIT, cursor, &err);
        free(cursor);
        cursor = NULL;
        if (!page) {
            rc = err.code ? err.code : MLPT_EDB;
            break;
        }
        json_t *items = json_object_get(page, "items"), *it;
        size_t i;
        json_array_foreach(items, i, it) {
            if (count == cap) {
                size_t c2 = cap ? 2 * cap : 64;
                int64_t *tmp = realloc(list, c2 * sizeof(*tmp));
                if (!tmp) {
                    rc = MLPT_ENOMEM;
                    break;
                }
                list = tmp;
                cap = c2;
            }
            list[count++] = json_integer_value(json_object_get(it, "id"));
        }
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (rc == 0 && next && !(cursor = strdup(next)))
            rc = MLPT_ENOMEM;
        json_decref(page);
        if (!cursor)
            break;
    }
    free(cursor);
    if (rc) {
        free(list);
        return rc;
    }
    *ids = list;
    *n = count;
    return 0;
}

static int is_final_trial(const char *s) {
    return s &&
           (strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "diverged") == 0 ||
            strcmp(s, "pruned") == 0 || strcmp(s, "canceled") == 0);
}

static double num_or_nan(const json_t *j) {
    if (json_is_integer(j))
        return (double)json_integer_value(j);
    return json_is_real(j) ? json_real_value(j) : NAN;
}

static int replay_trial(void *user, int64_t trial_id, api_sse_trial_t *out) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    int rc = replay_reader(a, &st);
    if (rc)
        return rc;
    json_t *trial = store_trial_get(st, trial_id, &err);
    json_t *hist = trial ? store_trial_history(st, trial_id, 0, &err) : NULL;
    if (!trial || !hist) {
        json_decref(trial);
        return err.code ? err.code : MLPT_EDB;
    }
    const char *status = json_string_value(json_object_get(hist, "status"));
    json_t *rows = json_object_get(hist, "history"), *row;
    size_t n = json_array_size(rows), i;
    memset(out, 0, sizeof(*out));
    snprintf(out->status, sizeof(out->status), "%s", status ? status : "unknown");
    out->finished = is_final_trial(status);
    /* A re-queued trial (after a crash) is not started, whatever its old start time says. */
    out->started = status && strcmp(status, "queued") != 0 &&
                   (!json_is_null(json_object_get(trial, "started_at")) || n > 0 ||
                    strcmp(status, "running") == 0);
    if (n && !(out->history = calloc(n, sizeof(*out->history))))
        rc = MLPT_ENOMEM;
    json_array_foreach(rows, i, row) {
        if (rc)
            break;
        store_metric_t *m = &out->history[i];
        m->trial_id = trial_id;
        m->iteration = json_integer_value(json_object_get(row, "iteration"));
        m->train_loss = num_or_nan(json_object_get(row, "train_loss"));
        m->train_accuracy = num_or_nan(json_object_get(row, "train_accuracy"));
        m->val_loss = num_or_nan(json_object_get(row, "val_loss"));
        m->val_accuracy = num_or_nan(json_object_get(row, "val_accuracy"));
        m->seconds = num_or_nan(json_object_get(row, "seconds"));
        out->n_history++;
    }
    json_decref(trial);
    json_decref(hist);
    if (rc) {
        free(out->history);
        out->history = NULL;
        out->n_history = 0;
    }
    return rc;
}

static int replay_sweep_status(void *user, int64_t sweep_id, char status[16], int *finished) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    int rc = replay_reader(a, &st);
    if (rc)
        return rc;
    json_t *sweep = store_sweep_get(st, sweep_id, &err);
    if (!sweep)
        return err.code ? err.code : MLPT_EDB;
    const char *s = json_string_value(json_object_get(sweep, "status"));
    snprintf(status, 16, "%s", s ? s : "unknown");
    *finished = s && (strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 ||
                      strcmp(s, "canceled") == 0);
    json_decref(sweep);
    return 0;
}

void api_sse_store_ops(api_t *a, api_sse_ops_t *ops) {
    ops->trial_ids = replay_trial_ids;
    ops->trial = replay_trial;
    ops->sweep_status = replay_sweep_status;
    ops->user = a;
}
