/*
 * search.c - the sweeps' search strategies (strategy.h) as the loop sees them: each sweep in
 * flight gets its strategy when it begins (created, or resumed at start-up), which plans its
 * trials into jobs; after each commit it hears of the iterations and ends saved; and this file
 * is the control it acts through (queue a job, add trials, stop a running trial). Calls only
 * jobs.c and the store; the strategy is reached through its function pointers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

/* The control handed to a strategy's callbacks. */
typedef struct ctl {
    sched_search_ctl_t base; /* first */
    sched_t *s;
    store_error_t err; /* the last failure, for the log */
} ctl_t;

static int ctl_queue(sched_search_ctl_t *c, const sched_strategy_trial_t *lead,
                     const sched_strategy_trial_t *followers, size_t n_followers) {
    ctl_t *x = (ctl_t *)c;
    sweep_state_t *w = sched_sweep_find(x->s, c->sweep_id);
    if (!w)
        return MLPT_ESTATE;
    for (size_t i = 0; i < n_followers; i++)
        if (followers[i].params.iterations >= lead->params.iterations ||
            (i > 0 && followers[i].params.iterations <= followers[i - 1].params.iterations))
            return MLPT_EINVAL;
    return sched_job_enqueue(x->s, c->sweep_id, w->dataset_id, w->test_dataset_id, lead, followers,
                             n_followers, &x->err);
}

char *sched_trial_spec_json(const sched_params_t *p, size_t partitions,
                            const sched_ranks_t *ranks) {
    json_t *o = sched_params_to_json(p);
    char *text = NULL;
    if (o && json_object_set_new(o, "partitions", json_integer((json_int_t)partitions)) == 0 &&
        sched_ranks_to_json(ranks, o) == 0)
        text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static int ctl_add(sched_search_ctl_t *c, const sched_params_t *params, size_t n, int64_t *ids) {
    ctl_t *x = (ctl_t *)c;
    sched_t *s = x->s;
    sweep_state_t *w = sched_sweep_find(s, c->sweep_id);
    if (!w || w->canceled || w->finishing)
        return MLPT_ESTATE;
    int rc = MLPT_ENOMEM;
    char **json = calloc(n ? n : 1, sizeof *json);
    int64_t *got = calloc(n ? n : 1, sizeof *got);
    if (!json || !got)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (!(json[i] = sched_trial_spec_json(&params[i], w->partitions, &w->ranks)))
            goto done;
    rc = store_sweep_add_trials(s->writer, c->sweep_id, (const char *const *)json, n, sched_now(),
                                got, &x->err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sched_strategy_trial_t t = {.trial_id = got[i],
                                    .params = params[i],
                                    .partitions = w->partitions,
                                    .ranks = w->ranks};
        rc = sched_job_enqueue(s, c->sweep_id, w->dataset_id, w->test_dataset_id, &t, NULL, 0,
                               &x->err);
        if (ids)
            ids[i] = got[i];
    }
    if (rc == 0)
        sched_logf(s, "sweep %lld: its strategy added %zu trials", (long long)c->sweep_id, n);
done:
    if (json)
        for (size_t i = 0; i < n; i++)
            free(json[i]);
    free(json);
    free(got);
    return rc;
}

static int ctl_stop_note(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why,
                         const char *note) {
    ctl_t *x = (ctl_t *)c;
    if (why != SCHED_STOP_PRUNED && why != SCHED_STOP_EARLY && why != SCHED_STOP_STOPPED)
        return MLPT_EINVAL;
    job_t *j = sched_job_running(x->s, trial_id);
    if (!j || j->trial_id != trial_id || j->sweep_id != c->sweep_id || j->stop != SCHED_STOP_NONE)
        return MLPT_ESTATE;
    sched_logf(x->s, "trial %lld: its strategy stops it (%s)%s%s", (long long)trial_id,
               why == SCHED_STOP_PRUNED  ? "pruned"
               : why == SCHED_STOP_EARLY ? "early_stopped"
                                         : "stopped",
               note ? ": " : "", note ? note : "");
    snprintf(j->stop_note, sizeof j->stop_note, "%s", note ? note : "");
    sched_job_stop(x->s, j, why);
    return 0;
}

static int ctl_stop(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why) {
    return ctl_stop_note(c, trial_id, why, NULL);
}

static int ctl_mark_pruned(sched_search_ctl_t *c, int64_t trial_id, const char *note) {
    ctl_t *x = (ctl_t *)c;
    int rc = store_trial_mark_pruned(x->s->writer, trial_id, note, &x->err); /* its own trial */
    if (rc != 0)
        return rc;
    sched_logf(x->s,
               "trial %lld: pruned after its end (its decision waited for earlier trials): %s",
               (long long)trial_id, note ? note : "");
    sched_event_add(x->s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                           .sweep_id = c->sweep_id,
                                           .trial_id = trial_id,
                                           .status = "pruned"});
    return 0;
}

static int ctl_proceed(sched_search_ctl_t *c, int64_t trial_id) {
    ctl_t *x = (ctl_t *)c;
    job_t *j = sched_job_running(x->s, trial_id);
    if (!j || j->trial_id != trial_id || j->sweep_id != c->sweep_id || !j->parked ||
        j->stop != SCHED_STOP_NONE)
        return MLPT_ESTATE;
    sched_logf(x->s, "trial %lld: goes on past its rung (iteration %lld)", (long long)trial_id,
               (long long)j->pause_at);
    sched_job_unpark(x->s, j);
    return 0;
}

static ctl_t ctl_of(sched_t *s, int64_t sweep_id) {
    return (ctl_t){.base = {.sweep_id = sweep_id,
                            .queue = ctl_queue,
                            .add = ctl_add,
                            .stop = ctl_stop,
                            .stop_note = ctl_stop_note,
                            .mark_pruned = ctl_mark_pruned,
                            .proceed = ctl_proceed},
                   .s = s};
}

/* The ranks of the trials a sweep's strategy adds: its stored request's training.ranks and
 * sync_every ("auto" stays "auto" until each trial starts; one that no longer reads: one rank). */
static sched_ranks_t ranks_of(sched_t *s, int64_t sweep_id) {
    store_error_t err;
    sched_ranks_t r = SCHED_RANKS_DEFAULT;
    json_t *sw = store_sweep_get(s->writer, sweep_id, &err);
    const json_t *tr = json_object_get(json_object_get(sw, "spec"), "training");
    if (sw && sched_ranks_parse(tr, 0, &r, NULL, NULL) != 0)
        r = SCHED_RANKS_DEFAULT;
    json_decref(sw);
    return r;
}

/* The strategy a sweep's stored request asks for: grid search, with the pruner and the early
 * stopping it names (one that no longer reads is left out, and logged). *cheap_first: it has a
 * pruner (see sweep_state_t). */
static sched_strategy_t *strategy_of(sched_t *s, int64_t sweep_id, int *cheap_first) {
    store_error_t err;
    sched_pruner_cfg_t cfg = {0};
    sched_early_stop_t es = {0};
    json_t *sw = store_sweep_get(s->writer, sweep_id, &err);
    const json_t *spec = json_object_get(sw, "spec");
    if (sw && sched_pruner_parse(json_object_get(spec, "pruner"), &cfg, NULL, NULL) != 0) {
        sched_logf(s, "sweep %lld: its pruner does not read: none", (long long)sweep_id);
        memset(&cfg, 0, sizeof cfg);
    }
    if (sw &&
        sched_early_stop_parse(json_object_get(json_object_get(spec, "training"), "early_stopping"),
                               &es, NULL, NULL) != 0) {
        sched_logf(s, "sweep %lld: its early stopping does not read: none", (long long)sweep_id);
        memset(&es, 0, sizeof es);
    }
    json_decref(sw);
    *cheap_first = cfg.type != SCHED_PRUNER_NONE;
    return sched_strategy_grid_new_pruned(&cfg, &es);
}

int sched_search_begin(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                       const sched_queued_trial_t *trials, size_t n, store_error_t *err) {
    sweep_state_t *w = sched_sweep_get(s, sweep_id);
    if (w && !w->strategy && s->cfg.strategy_new)
        w->strategy = s->cfg.strategy_new(s->cfg.strategy_user, sweep_id);
    if (w && !w->strategy) /* none configured, or not one of the configured kind's sweeps */
        w->strategy = strategy_of(s, sweep_id, &w->cheap_first);
    if (!w || !w->strategy) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = MLPT_ENOMEM;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return MLPT_ENOMEM;
    }
    w->dataset_id = dataset_id;
    w->test_dataset_id = test_dataset_id;
    w->partitions = n ? trials[0].partitions : s->default_partitions;
    w->ranks = ranks_of(s, sweep_id);
    ctl_t c = ctl_of(s, sweep_id);
    int rc = sched_search_resume(s, w->strategy, sweep_id, &c.err);
    if (rc == 0)
        rc = w->strategy->ops->plan(w->strategy, &c.base, trials, n);
    if (rc != 0 && err) {
        *err = c.err;
        if (!err->code) {
            err->code = rc;
            snprintf(err->message, sizeof err->message, "sweep %lld: its strategy cannot plan it",
                     (long long)sweep_id);
        }
    }
    return rc;
}

void sched_search_iteration(sched_t *s, int64_t sweep_id, int64_t trial_id,
                            const store_metric_t *m) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->on_iteration)
        return;
    ctl_t c = ctl_of(s, sweep_id);
    w->strategy->ops->on_iteration(w->strategy, &c.base, trial_id, m);
}

void sched_search_trial_end(sched_t *s, int64_t sweep_id, int64_t trial_id, const char *status) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->on_end)
        return;
    ctl_t c = ctl_of(s, sweep_id);
    w->strategy->ops->on_end(w->strategy, &c.base, trial_id, status);
}

int sched_search_more(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                      const sched_queued_trial_t *trials, size_t n, store_error_t *err) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy)
        return sched_search_begin(s, sweep_id, dataset_id, test_dataset_id, trials, n, err);
    ctl_t c = ctl_of(s, sweep_id);
    int rc = n ? w->strategy->ops->plan(w->strategy, &c.base, trials, n) : 0;
    if (rc != 0 && err) {
        *err = c.err;
        if (!err->code) {
            err->code = rc;
            snprintf(err->message, sizeof err->message,
                     "sweep %lld: its strategy cannot plan the trials", (long long)sweep_id);
        }
    }
    return rc;
}

int sched_search_budget(sched_t *s, int64_t sweep_id, size_t max_trials, double max_seconds,
                        uint64_t max_iterations_total) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->set_budget)
        return MLPT_ESTATE;
    ctl_t c = ctl_of(s, sweep_id);
    return w->strategy->ops->set_budget(w->strategy, &c.base, max_trials, max_seconds,
                                        max_iterations_total);
}

int64_t sched_search_gate(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t from) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->gate || !w->strategy->ops->on_pause || w->canceled)
        return 0;
    return w->strategy->ops->gate(w->strategy, trial_id, from);
}

void sched_search_paused(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t iteration) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->on_pause)
        return;
    ctl_t c = ctl_of(s, sweep_id);
    w->strategy->ops->on_pause(w->strategy, &c.base, trial_id, iteration);
}

int sched_search_exhausted(sched_t *s, int64_t sweep_id) {
    sweep_state_t *w = sched_sweep_find(s, sweep_id);
    if (!w || !w->strategy || !w->strategy->ops->exhausted || w->canceled)
        return 1;
    return w->strategy->ops->exhausted(w->strategy);
}
