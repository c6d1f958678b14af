/*
 * strategy_tpe.c - TPE search (tpe.h) on the random search's engine (strategy_random.c: the
 * slots, budgets, pruning and early stopping are its): the random strategy asks this one for
 * its k-th trial, which is TPE's proposal from the observations at that moment, the ended trials
 * of the sweep with their stored rows. Every callback first updates the observations, then goes
 * to the random strategy, whose control is wrapped so that the trials it adds are recorded with
 * their parameters. At a restart the observations are rebuilt from the stored trials and rows,
 * so a proposal made after it is the one an uninterrupted sweep makes from the same trials.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "strategy.h"
#include "tpe.h"

typedef enum tstate { T_ACTIVE = 0, T_COMPLETE, T_PRUNED, T_OUT } tstate_t;

typedef struct trial {
    int64_t id;
    uint64_t number;
    sched_params_t params;
    tstate_t state;
    int64_t last;    /* its last iteration stored */
    double best;     /* best validation accuracy (NaN: none) */
    int64_t stop_at; /* pruned: the iteration its note names (0: none) */
    double *vals;    /* validation accuracy by iteration - 1, `last` of them */
} trial_t;

typedef struct tpe_st {
    sched_strategy_t base; /* first */
    sched_strategy_t *inner;
    sched_space_t space;
    trial_t *t;
    size_t n, cap;
} tpe_st_t;

/* The control handed to the random strategy: its adds are recorded. */
typedef struct wctl {
    sched_search_ctl_t base; /* first */
    sched_search_ctl_t *real;
    tpe_st_t *tpe;
} wctl_t;

static trial_t *trial_of(tpe_st_t *s, int64_t id) {
    for (size_t i = s->n; i-- > 0;)
        if (s->t[i].id == id)
            return &s->t[i];
    return NULL;
}

static int trial_add(tpe_st_t *s, int64_t id, const sched_params_t *p) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        trial_t *t = realloc(s->t, cap * sizeof *t);
        if (!t)
            return MLPT_ENOMEM;
        s->t = t;
        s->cap = cap;
    }
    s->t[s->n] = (trial_t){.id = id, .number = s->n, .params = *p, .best = NAN};
    s->n++;
    return 0;
}

static int trial_row(trial_t *t, const store_metric_t *m) {
    if (m->iteration <= t->last)
        return 0;
    double *v = realloc(t->vals, (size_t)m->iteration * sizeof *v);
    if (!v)
        return MLPT_ENOMEM;
    for (int64_t i = t->last; i < m->iteration; i++)
        v[i] = NAN; /* a gap: no value */
    v[m->iteration - 1] = m->val_accuracy;
    t->vals = v;
    t->last = m->iteration;
    if (isfinite(m->val_accuracy) && (isnan(t->best) || m->val_accuracy > t->best))
        t->best = m->val_accuracy;
    return 0;
}

/* A pruned trial as Optuna sees one: its intermediate values end where it was pruned (the
 * iteration its note names; the rows it trained while the stop took effect are left out, so
 * the observation does not depend on timing), else at its last row. */
static sched_tpe_obs_t obs_of(const trial_t *t) {
    sched_tpe_obs_t o = {.params = t->params, .number = t->number};
    if (t->state == T_COMPLETE) {
        o.value = t->best;
        return o;
    }
    o.pruned = 1;
    o.step = t->stop_at > 0 && t->stop_at <= t->last ? t->stop_at : t->last;
    o.value = o.step > 0 ? t->vals[o.step - 1] : NAN;
    return o;
}

/* What an ended trial is to TPE: completed (early-stopped ones too) with its best value;
 * pruned or stopped with its furthest iteration; failed, diverged, canceled, lost: nothing. */
static tstate_t state_of(const char *status) {
    if (!status || !strcmp(status, "queued") || !strcmp(status, "running"))
        return T_ACTIVE;
    if (!strcmp(status, "completed"))
        return T_COMPLETE;
    if (!strcmp(status, "pruned") || !strcmp(status, "stopped"))
        return T_PRUNED;
    return T_OUT;
}

static int w_queue(sched_search_ctl_t *c, const sched_strategy_trial_t *lead,
                   const sched_strategy_trial_t *followers, size_t n_followers) {
    wctl_t *w = (wctl_t *)c;
    return w->real->queue(w->real, lead, followers, n_followers);
}

static int w_add(sched_search_ctl_t *c, const sched_params_t *params, size_t n, int64_t *ids) {
    wctl_t *w = (wctl_t *)c;
    int64_t one[1], *got = ids ? ids : (n == 1 ? one : NULL);
    if (!got) /* the random strategy adds one at a time, with ids */
        return MLPT_EINVAL;
    int rc = w->real->add(w->real, params, n, got);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = trial_add(w->tpe, got[i], &params[i]);
    return rc;
}

static int w_stop(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why) {
    wctl_t *w = (wctl_t *)c;
    return w->real->stop(w->real, trial_id, why);
}

static int w_stop_note(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why,
                       const char *note) {
    wctl_t *w = (wctl_t *)c;
    int rc = w->real->stop_note(w->real, trial_id, why, note);
    trial_t *t = rc == 0 && why == SCHED_STOP_PRUNED ? trial_of(w->tpe, trial_id) : NULL;
    if (t)
        t->stop_at = sched_pruner_note_iteration(note);
    return rc;
}

static int w_proceed(sched_search_ctl_t *c, int64_t trial_id) {
    wctl_t *w = (wctl_t *)c;
    return w->real->proceed(w->real, trial_id);
}

static int w_mark_pruned(sched_search_ctl_t *c, int64_t trial_id, const char *note) {
    wctl_t *w = (wctl_t *)c;
    int rc = w->real->mark_pruned(w->real, trial_id, note);
    trial_t *t = rc == 0 ? trial_of(w->tpe, trial_id) : NULL;
    if (t) { /* an observation pruned where its note says */
        t->state = T_PRUNED;
        t->stop_at = sched_pruner_note_iteration(note);
    }
    return rc;
}

static wctl_t wrap(tpe_st_t *s, sched_search_ctl_t *real) {
    return (wctl_t){.base = {.sweep_id = real->sweep_id,
                             .queue = w_queue,
                             .add = w_add,
                             .stop = w_stop,
                             .stop_note = w_stop_note,
                             .mark_pruned = w_mark_pruned,
                             .proceed = w_proceed},
                    .real = real,
                    .tpe = s};
}

/* The random strategy's k-th trial: TPE's proposal from the ended trials. */
static void propose(void *user, uint64_t k, sched_params_t *out) {
    tpe_st_t *s = user;
    sched_tpe_obs_t *obs = malloc((s->n ? s->n : 1) * sizeof *obs);
    size_t m = 0;
    for (size_t i = 0; obs && i < s->n; i++) {
        const trial_t *t = &s->t[i];
        if (t->state != T_COMPLETE && t->state != T_PRUNED)
            continue;
        obs[m++] = obs_of(t);
    }
    if (!obs) /* without memory: the random draw */
        sched_space_draw(&s->space, s->space.seed, k, out);
    else
        sched_tpe_propose(&s->space, s->space.seed, k, s->space.n_startup_trials, obs, m, out);
    free(obs);
}

static int tpe_plan(sched_strategy_t *st, sched_search_ctl_t *ctl, const sched_strategy_trial_t *t,
                    size_t n) {
    tpe_st_t *s = (tpe_st_t *)st;
    wctl_t w = wrap(s, ctl);
    for (size_t i = 0; i < n; i++) { /* queued at a restart: known from resume, else new */
        trial_t *x = trial_of(s, t[i].trial_id);
        if (x) { /* a retried or extended trial runs again: no observation until it ends */
            x->state = T_ACTIVE;
            x->params = t[i].params;
            x->stop_at = 0;
        } else if (trial_add(s, t[i].trial_id, &t[i].params) != 0) {
            return MLPT_ENOMEM;
        }
    }
    return s->inner->ops->plan(s->inner, &w.base, t, n);
}

/* An extend's larger budgets go to the random strategy it proposes through. */
static int tpe_set_budget(sched_strategy_t *st, sched_search_ctl_t *ctl, size_t max_trials,
                          double max_seconds, uint64_t max_iterations_total) {
    tpe_st_t *s = (tpe_st_t *)st;
    wctl_t w = wrap(s, ctl);
    return s->inner->ops->set_budget ? s->inner->ops->set_budget(s->inner, &w.base, max_trials,
                                                                 max_seconds, max_iterations_total)
                                     : MLPT_ESTATE;
}

static int tpe_resume(sched_strategy_t *st, const sched_strategy_stored_t *t, size_t n) {
    tpe_st_t *s = (tpe_st_t *)st;
    for (size_t i = 0; i < n; i++) {
        if (trial_add(s, t[i].trial.trial_id, &t[i].trial.params) != 0)
            return MLPT_ENOMEM;
        trial_t *x = &s->t[s->n - 1];
        for (size_t k = 0; k < t[i].n_rows; k++)
            if (trial_row(x, &t[i].rows[k]) != 0)
                return MLPT_ENOMEM;
        x->state = state_of(t[i].status);
        if (x->state == T_PRUNED)
            x->stop_at = sched_pruner_note_iteration(t[i].error);
    }
    return s->inner->ops->resume ? s->inner->ops->resume(s->inner, t, n) : 0;
}

static void tpe_iteration(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                          const store_metric_t *m) {
    tpe_st_t *s = (tpe_st_t *)st;
    trial_t *x = trial_of(s, trial_id);
    if (x && trial_row(x, m) != 0)
        x->state = T_OUT; /* without memory: no longer an observation */
    wctl_t w = wrap(s, ctl);
    if (s->inner->ops->on_iteration)
        s->inner->ops->on_iteration(s->inner, &w.base, trial_id, m);
}

static void tpe_end(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                    const char *status) {
    tpe_st_t *s = (tpe_st_t *)st;
    trial_t *x = trial_of(s, trial_id);
    if (x && x->state != T_OUT)
        x->state = state_of(status);
    wctl_t w = wrap(s, ctl);
    if (s->inner->ops->on_end)
        s->inner->ops->on_end(s->inner, &w.base, trial_id, status);
}

static int64_t tpe_gate(sched_strategy_t *st, int64_t trial_id, int64_t from) {
    tpe_st_t *s = (tpe_st_t *)st;
    return s->inner->ops->gate ? s->inner->ops->gate(s->inner, trial_id, from) : 0;
}

static void tpe_pause(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                      int64_t iteration) {
    tpe_st_t *s = (tpe_st_t *)st;
    wctl_t w = wrap(s, ctl);
    if (s->inner->ops->on_pause)
        s->inner->ops->on_pause(s->inner, &w.base, trial_id, iteration);
}

static int tpe_exhausted(sched_strategy_t *st) {
    tpe_st_t *s = (tpe_st_t *)st;
    return s->inner->ops->exhausted ? s->inner->ops->exhausted(s->inner) : 1;
}

static void tpe_free(sched_strategy_t *st) {
    tpe_st_t *s = (tpe_st_t *)st;
    if (s->inner)
        s->inner->ops->free(s->inner);
    for (size_t i = 0; i < s->n; i++)
        free(s->t[i].vals);
    free(s->t);
    free(s);
}

static const sched_strategy_ops_t tpe_ops = {.plan = tpe_plan,
                                             .resume = tpe_resume,
                                             .on_iteration = tpe_iteration,
                                             .on_end = tpe_end,
                                             .exhausted = tpe_exhausted,
                                             .set_budget = tpe_set_budget,
                                             .gate = tpe_gate,
                                             .on_pause = tpe_pause,
                                             .free = tpe_free};

sched_strategy_t *sched_strategy_tpe_new(const sched_sampling_cfg_t *cfg) {
    tpe_st_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &tpe_ops;
    s->space = *cfg->space;
    if (!(s->inner = sched_strategy_random_new_with(cfg, propose, s))) {
        free(s);
        return NULL;
    }
    return &s->base;
}

sched_strategy_t *sched_strategy_sampling_new(const sched_sampling_cfg_t *cfg) {
    if (cfg->space->type == SCHED_SEARCH_TPE)
        return sched_strategy_tpe_new(cfg);
    return sched_strategy_random_new_with(cfg, NULL, NULL);
}
