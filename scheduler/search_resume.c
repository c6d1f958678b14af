/*
 * search_resume.c - a sweep's stored trials and rows handed to its strategy when the service
 * restarts with the sweep unfinished (strategy.h, resume): what the strategy decides on is
 * rebuilt from stored state, so a restarted sweep decides as an uninterrupted one would have.
 * Reads only the store.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

/* Whether any trial of the sweep has started (else there is nothing to rebuild). */
static int started(sched_t *s, int64_t sweep_id, store_error_t *err) {
    store_trial_info_t *info = NULL;
    size_t n = 0;
    int any = 0;
    if (store_sweep_trials(s->writer, sweep_id, &info, &n, err) != 0)
        return 0;
    for (size_t i = 0; i < n && !any; i++)
        any = info[i].has_started_at || info[i].state != STORE_TRIAL_QUEUED;
    free(info);
    return any;
}

static double num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One stored trial of the history JSON into *t (rows malloc'd into *rows). */
static int stored_of(sched_t *s, const json_t *tr, int64_t sweep_id, sched_strategy_stored_t *t,
                     store_metric_t **rows, json_t **trial_row) {
    const json_t *params = json_object_get(tr, "params");
    const json_t *hist = json_object_get(tr, "history");
    const json_t *parts = json_object_get(params, "partitions");
    memset(t, 0, sizeof *t);
    t->trial.trial_id = json_integer_value(json_object_get(tr, "trial_id"));
    if (!params || sched_params_from_json(params, &t->trial.params) != 0)
        return MLPT_EFORMAT;
    t->trial.partitions = json_is_integer(parts) && json_integer_value(parts) >= 1
                              ? (size_t)json_integer_value(parts)
                              : s->default_partitions;
    sched_ranks_from_json(params, &t->trial.ranks);
    t->status = json_string_value(json_object_get(tr, "status"));
    if (t->status && !strcmp(t->status, "pruned")) {
        store_error_t err;
        *trial_row = store_trial_get(s->writer, t->trial.trial_id, &err);
        t->error = json_string_value(json_object_get(*trial_row, "error"));
    }
    size_t n = json_array_size(hist);
    *rows = n ? calloc(n, sizeof **rows) : NULL;
    if (n && !*rows)
        return MLPT_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        const json_t *h = json_array_get(hist, k);
        (*rows)[k] =
            (store_metric_t){.trial_id = t->trial.trial_id,
                             .iteration = json_integer_value(json_object_get(h, "iteration")),
                             .train_loss = num(h, "train_loss"),
                             .train_accuracy = num(h, "train_accuracy"),
                             .val_loss = num(h, "val_loss"),
                             .val_accuracy = num(h, "val_accuracy"),
                             .seconds = num(h, "seconds")};
    }
    t->rows = *rows;
    t->n_rows = n;
    (void)sweep_id;
    return 0;
}

int sched_search_resume(sched_t *s, sched_strategy_t *st, int64_t sweep_id, store_error_t *err) {
    if (!st->ops->resume || !started(s, sweep_id, err))
        return 0;
    json_t *h = store_sweep_history(s->writer, sweep_id, err);
    if (!h)
        return err->code ? err->code : MLPT_ENOMEM;
    const json_t *trials = json_object_get(h, "trials");
    size_t n = json_array_size(trials);
    sched_strategy_stored_t *t = calloc(n ? n : 1, sizeof *t);
    store_metric_t **rows = calloc(n ? n : 1, sizeof *rows);
    json_t **extra = calloc(n ? n : 1, sizeof *extra);
    int rc = t && rows && extra ? 0 : MLPT_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int one = stored_of(s, json_array_get(trials, i), sweep_id, &t[m], &rows[m], &extra[m]);
        if (one == MLPT_EFORMAT) /* unreadable parameters: skipped, as the queue does */
            continue;
        rc = one;
        m += rc == 0;
    }
    if (rc == 0)
        rc = st->ops->resume(st, t, m);

    if (rc != 0)
        sched_logf(s, "sweep %lld: its strategy cannot rebuild its state: %s", (long long)sweep_id,
                   mlpt_strerror(rc));
    for (size_t i = 0; i < n && rows && extra; i++) {
        free(rows[i]);
        json_decref(extra[i]);
    }
    free(rows);
    free(extra);
    free(t);
    json_decref(h);
    return rc;
}
