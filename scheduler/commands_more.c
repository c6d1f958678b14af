/*
 * commands_more.c - a sweep that goes on (sched.h): a warm start's trials added, failed and
 * lost trials re-queued (retry), new budgets and more iterations for ended trials (extend).
 * Each stores its change in one transaction (reopening a finished sweep), then hands the
 * trials to the sweep's strategy (search.c). Called by commands.c; calls search.c and below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

static int fail(store_error_t *err, int code, const char *fmt, long long a, long long b) {
    memset(err, 0, sizeof *err);
    err->code = code;
    snprintf(err->message, sizeof err->message, fmt, a, b);
    return code;
}

/* The sweep's stored state, checked for more trials: not canceled (unless allow_canceled), nor
 * being canceled or finishing in memory. *w: its state when in flight, else NULL. */
static int check_sweep(sched_t *s, command_t *c, int allow_canceled, store_sweep_info_t *info,
                       sweep_state_t **w) {
    int rc = store_sweep_info(s->writer, c->id, info, &c->err);
    if (rc != 0)
        return rc;
    *w = sched_sweep_find(s, c->id);
    if (*w && ((*w)->canceled || (*w)->finishing))
        return fail(&c->err, MLPT_ESTATE, "sweep %lld is being canceled or is finishing", c->id, 0);
    if (!*w && info->state == STORE_SWEEP_CANCELED && !allow_canceled)
        return fail(&c->err, MLPT_ESTATE, "sweep %lld was canceled", c->id, 0);
    return 0;
}

/* Opens the transaction, reopening the sweep when it has finished (nothing open on failure). */
static int begin(sched_t *s, command_t *c, const store_sweep_info_t *info) {
    int rc = store_begin(s->writer, &c->err);
    if (rc == 0 && store_sweep_state_final(info->state) &&
        (rc = store_sweep_reopen(s->writer, c->id, &c->err)) != 0)
        store_rollback(s->writer);
    return rc;
}

/* Commits the transaction begin opened, or rolls it back when rc says the writes failed. */
static int commit(sched_t *s, command_t *c, int rc) {
    if (rc == 0)
        rc = store_commit(s->writer, &c->err);
    if (rc != 0)
        store_rollback(s->writer);
    return rc;
}

/* A stored trial as its strategy plans it. */
static int queued_of(sched_t *s, int64_t trial_id, sched_queued_trial_t *t, store_error_t *err) {
    json_t *tr = store_trial_get(s->writer, trial_id, err);
    if (!tr)
        return err->code ? err->code : MLPT_ENOMEM;
    const json_t *params = json_object_get(tr, "params");
    const json_t *parts = json_object_get(params, "partitions");
    memset(t, 0, sizeof *t);
    t->trial_id = trial_id;
    int rc = sched_params_from_json(params, &t->params);
    t->partitions = json_is_integer(parts) && json_integer_value(parts) >= 1 &&
                            json_integer_value(parts) <= TRAINER_MAX_PARTITIONS
                        ? (size_t)json_integer_value(parts)
                        : s->default_partitions;
    sched_ranks_from_json(params, &t->ranks);
    json_decref(tr);
    return rc == 0 ? 0 : fail(err, MLPT_EFORMAT, "trial %lld: unreadable parameters", trial_id, 0);
}

/* After the commit: the trials go to the sweep's strategy. A failure leaves them queued in the
 * store (the next start plans them). */
static int hand_over(sched_t *s, command_t *c, const store_sweep_info_t *info, const int64_t *ids,
                     size_t n) {
    sched_queued_trial_t *t = calloc(n ? n : 1, sizeof *t);
    int rc = t ? 0 : MLPT_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = queued_of(s, ids[i], &t[i], &c->err);
    if (rc == 0)
        rc = sched_search_more(s, c->id, info->dataset_id, info->test_dataset_id, t, n, &c->err);
    if (rc != 0)
        sched_logf(s, "sweep %lld: cannot queue its trials now (%s); they run after a restart",
                   (long long)c->id, c->err.message);
    free(t);
    return rc;
}

int sched_cmd_sweep_add(sched_t *s, command_t *c) {
    store_sweep_info_t info;
    sweep_state_t *w;
    int rc = check_sweep(s, c, 0, &info, &w);
    if (rc != 0)
        return rc;
    if ((uint64_t)info.trials_total + c->n > s->cfg.max_trials)
        return fail(&c->err, MLPT_ELIMIT,
                    "sweep %lld would have %lld trials: over the limit max_trials", c->id,
                    (long long)((uint64_t)info.trials_total + c->n));
    size_t partitions = w ? w->partitions : s->default_partitions;
    /* the ranks of the sweep's own trials: its request's training.ranks (one when it does not
     * read) */
    sched_ranks_t ranks = SCHED_RANKS_DEFAULT;
    if (w) {
        ranks = w->ranks;
    } else {
        store_error_t e;
        json_t *sw = store_sweep_get(s->writer, c->id, &e);
        const json_t *tr = json_object_get(json_object_get(sw, "spec"), "training");
        if (sw && sched_ranks_parse(tr, 0, &ranks, NULL, NULL) != 0)
            ranks = SCHED_RANKS_DEFAULT;
        json_decref(sw);
    }
    char **json = calloc(c->n ? c->n : 1, sizeof *json);
    int64_t *ids = calloc(c->n ? c->n : 1, sizeof *ids);
    rc = json && ids ? 0 : MLPT_ENOMEM;
    for (size_t i = 0; i < c->n && rc == 0; i++)
        if (!(json[i] = sched_trial_spec_json(&c->params[i], partitions, &ranks)))
            rc = MLPT_ENOMEM;
    if (rc == 0 && (rc = begin(s, c, &info)) == 0)
        rc = commit(s, c,
                    store_sweep_add_trials(s->writer, c->id, (const char *const *)json, c->n,
                                           sched_now(), ids, &c->err));
    if (rc == 0) {
        sched_logf(s, "sweep %lld: %zu trials added (warm start)", (long long)c->id, c->n);
        if (c->ids)
            memcpy(c->ids, ids, c->n * sizeof *ids);
        hand_over(s, c, &info, ids, c->n);
    } else if (rc == MLPT_ENOMEM && !c->err.message[0]) {
        fail(&c->err, rc, "out of memory adding trials to sweep %lld", c->id, 0);
    }
    for (size_t i = 0; json && i < c->n; i++)
        free(json[i]);
    free(json);
    free(ids);
    return rc;
}

int sched_cmd_sweep_retry(sched_t *s, command_t *c) {
    store_sweep_info_t info;
    sweep_state_t *w;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = check_sweep(s, c, 1, &info, &w);
    if (rc == 0)
        rc = store_sweep_lost_trials(s->writer, c->id, &ids, &n, &c->err);
    if (rc != 0 || n == 0) {
        free(ids);
        c->requeued = NULL;
        c->n = 0;
        return rc;
    }
    if ((rc = begin(s, c, &info)) == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = store_trial_requeue(s->writer, ids[i], NULL, &c->err);
        rc = commit(s, c, rc);
    }
    if (rc != 0) {
        free(ids);
        return rc;
    }
    sched_logf(s, "sweep %lld: %zu failed or lost trials re-queued", (long long)c->id, n);
    hand_over(s, c, &info, ids, n);
    c->requeued = ids;
    c->n = n;
    return 0;
}

/* Checks that trial t of the extend may continue to its new length; *params receives its
 * parameters with that length, as stored (with its partitions). */
static int extend_one(sched_t *s, command_t *c, size_t i, char **params) {
    const sched_extend_trial_t *x = &c->extend->trials[i];
    store_error_t err;
    json_t *tr = store_trial_get(s->writer, x->trial_id, &err);
    if (!tr)
        return err.code == MLPT_ENOTFOUND
                   ? fail(&c->err, MLPT_ENOTFOUND, "trials[%lld]: trial %lld not found",
                          (long long)i, x->trial_id)
                   : (c->err = err, err.code);
    int rc = 0;
    const char *status = json_string_value(json_object_get(tr, "status"));
    json_t *p = json_object_get(tr, "params");
    json_int_t planned = json_integer_value(json_object_get(p, "iterations"));
    if (json_integer_value(json_object_get(tr, "sweep_id")) != c->id)
        rc = fail(&c->err, MLPT_ENOTFOUND, "trials[%lld]: trial %lld is not of this sweep",
                  (long long)i, x->trial_id);
    else if (!status ||
             (strcmp(status, "completed") && strcmp(status, "pruned") && strcmp(status, "stopped")))
        rc = fail(&c->err, MLPT_ESTATE,
                  "trials[%lld]: trial %lld has not ended completed, pruned or stopped",
                  (long long)i, x->trial_id);
    else if (json_is_string(json_object_get(p, "schedule")) &&
             !strcmp(json_string_value(json_object_get(p, "schedule")), "cosine"))
        /* its rates follow the planned iterations: more of them would not continue its run */
        rc = fail(&c->err, MLPT_EINVAL,
                  "trials[%lld]: trial %lld has schedule cosine, whose rates depend on the "
                  "planned iterations: it cannot be extended",
                  (long long)i, x->trial_id);
    else if ((json_int_t)x->iterations <= planned)
        rc = fail(&c->err, MLPT_EINVAL, "trials[%lld]: more than %lld iterations are needed",
                  (long long)i, (long long)planned);
    else if (json_object_set_new(p, "iterations", json_integer((json_int_t)x->iterations)) ||
             !(*params = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS)))
        rc = MLPT_ENOMEM;
    json_decref(tr);
    return rc;
}

int sched_cmd_sweep_extend(sched_t *s, command_t *c) {
    const sched_sweep_extend_t *x = c->extend;
    store_sweep_info_t info;
    sweep_state_t *w;
    int rc = check_sweep(s, c, 0, &info, &w);
    if (rc != 0)
        return rc;
    if (x->spec_json && w && !(w->strategy && w->strategy->ops->set_budget))
        return fail(&c->err, MLPT_ESTATE, "sweep %lld has no budget to extend", c->id, 0);
    char **params = calloc(x->n_trials ? x->n_trials : 1, sizeof *params);
    int64_t *ids = calloc(x->n_trials ? x->n_trials : 1, sizeof *ids);
    rc = params && ids ? 0 : MLPT_ENOMEM;
    for (size_t i = 0; i < x->n_trials && rc == 0; i++) {
        rc = extend_one(s, c, i, &params[i]);
        ids[i] = x->trials[i].trial_id;
        for (size_t k = 0; k < i && rc == 0; k++)
            if (ids[k] == ids[i])
                rc = fail(&c->err, MLPT_EINVAL, "trials[%lld]: trial %lld is named twice",
                          (long long)i, ids[i]);
    }
    if (rc == 0 && (rc = begin(s, c, &info)) == 0) {
        if (x->spec_json)
            rc = store_sweep_set_spec(s->writer, c->id, x->spec_json, &c->err);
        for (size_t i = 0; i < x->n_trials && rc == 0; i++)
            rc = store_trial_requeue(s->writer, ids[i], params[i], &c->err);
        rc = commit(s, c, rc);
    }
    if (rc == 0) {
        sched_logf(s, "sweep %lld extended: %zu trials continue%s", (long long)c->id, x->n_trials,
                   x->spec_json ? ", new budgets" : "");
        if (w && x->spec_json)
            sched_search_budget(s, c->id, x->max_trials, x->max_seconds, x->max_iterations_total);
        hand_over(s, c, &info, ids, x->n_trials);
    } else if (rc == MLPT_ENOMEM && !c->err.message[0]) {
        fail(&c->err, rc, "out of memory extending sweep %lld", c->id, 0);
    }
    for (size_t i = 0; params && i < x->n_trials; i++)
        free(params[i]);
    free(params);
    free(ids);
    return rc;
}
