/*
 * strategy_random.c - random search (space.h): the k-th trial of the sweep is
 * sched_space_draw(space, seed, k), so the proposals depend only on the seed and on how many
 * trials the sweep has stored, never on state kept in memory. It keeps `slots` trials (the
 * workers) queued or running: plan adds the first ones, and each end adds the next, one by one,
 * until max_trials are stored or a budget is spent (max_seconds from the sweep's creation,
 * max_iterations_total over the iterations its trials store). A spent budget adds no more
 * trials and stops its running trials at the end of the iteration they train
 * (SCHED_STOP_STOPPED: kept, `stopped`, with their history and model, the budget named in their
 * error); a trial still queued then runs to its end. plan is called again for trials stored from
 * outside while the sweep runs (warm start, retry, extend), and set_budget takes an extend's
 * larger budgets. With a pruner or early stopping it holds their state
 * (sched_prune_new_ordered: ASHA and Hyperband decided in trial order, so from stored rows) and
 * rebuilds it at a restart (resume). TPE (strategy_tpe.c) is this strategy with another
 * proposal (sched_propose_fn).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"
#include "params.h"
#include "space.h"
#include "strategy.h"

typedef struct random_st {
    sched_strategy_t base; /* first */
    sched_space_t space;
    size_t slots;        /* trials kept queued or running */
    uint64_t next;       /* the next trial's k: trials stored so far */
    size_t active;       /* its trials queued or running */
    uint64_t iterations; /* iterations its trials stored (seen by on_iteration) */
    double started;      /* monotonic seconds at its start */
    int failed;          /* an add failed: it adds no more */
    int planned;         /* plan ran once: later calls bring trials from outside */
    int64_t max_id;      /* the highest trial id it has seen (ids only grow) */
    int64_t *ids;        /* its active trials' ids (cap of them) */
    size_t cap;
    sched_prune_t *prune;     /* its pruner and early stopping (ordered), NULL for none */
    sched_propose_fn propose; /* the k-th trial (TPE's), NULL: sched_space_draw */
    void *propose_user;
} random_st_t;

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether max_iterations_total or max_seconds is spent (running trials stop then); when note
 * is not NULL it receives the reason the stopped trials keep. */
static int budget_spent_note(const random_st_t *r, char *note, size_t len) {
    const sched_space_t *sp = &r->space;
    if (sp->max_iterations_total && r->iterations >= sp->max_iterations_total) {
        if (note)
            snprintf(note, len,
                     "stopped: the sweep's max_iterations_total budget (%llu iterations) was "
                     "spent",
                     (unsigned long long)sp->max_iterations_total);
        return 1;
    }
    if (sp->max_seconds > 0 && mono_now() - r->started >= sp->max_seconds) {
        if (note)
            snprintf(note, len, "stopped: the sweep's max_seconds budget (%g s) was spent",
                     sp->max_seconds);
        return 1;
    }
    return 0;
}

static int budget_spent(const random_st_t *r) {
    return budget_spent_note(r, NULL, 0);
}

static int spent(const random_st_t *r) {
    return r->failed || r->next >= r->space.max_trials || budget_spent(r);
}

static int active_add(random_st_t *r, int64_t id) {
    if (r->active == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 4;
        int64_t *ids = realloc(r->ids, cap * sizeof *ids);
        if (!ids)
            return MLPT_ENOMEM;
        r->ids = ids;
        r->cap = cap;
    }
    r->ids[r->active++] = id;
    if (id > r->max_id)
        r->max_id = id;
    return 0;
}

static void active_remove(random_st_t *r, int64_t id) {
    for (size_t i = 0; i < r->active; i++)
        if (r->ids[i] == id) {
            r->ids[i] = r->ids[--r->active];
            return;
        }
}

/* Adds trials until `slots` are active or the budget is spent. */
static int top_up(random_st_t *r, sched_search_ctl_t *ctl) {
    while (r->active - sched_prune_n_paused(r->prune) < r->slots && !spent(r)) {
        sched_params_t p;
        int64_t id = 0;
        if (r->propose)
            r->propose(r->propose_user, r->next, &p);
        else
            sched_space_draw(&r->space, r->space.seed, r->next, &p);
        int rc = ctl->add(ctl, &p, 1, &id);
        if (rc == 0) {
            sched_strategy_trial_t t = {.trial_id = id, .params = p};
            rc = sched_prune_job(r->prune, &t, NULL, 0);
        }
        if (rc != 0) {
            r->failed = 1;
            return rc;
        }
        r->next++;
        if ((rc = active_add(r, id)) != 0) {
            r->failed = 1;
            return rc;
        }
    }
    return 0;
}

static int random_plan(sched_strategy_t *st, sched_search_ctl_t *ctl,
                       const sched_strategy_trial_t *t, size_t n) {
    random_st_t *r = (random_st_t *)st;
    sched_prune_flush(r->prune, ctl);
    /* Later calls bring trials stored from outside (a warm start's count against max_trials,
     * as a restart's k counts every stored trial; retried and extended ones were counted). */
    for (size_t i = 0; i < n; i++) {
        if (r->planned && t[i].trial_id > r->max_id)
            r->next++; /* stored after everything it knew: new to the sweep */
        int rc = ctl->queue(ctl, &t[i], NULL, 0);
        if (rc == 0) /* told already when resumed */
            rc = sched_prune_job(r->prune, &t[i], NULL, 0);
        if (rc == 0)
            rc = active_add(r, t[i].trial_id);
        if (rc != 0)
            return rc;
    }
    r->planned = 1;
    return top_up(r, ctl);
}

static void random_iteration(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                             const store_metric_t *m) {
    random_st_t *r = (random_st_t *)st;
    sched_prune_iteration(r->prune, ctl, trial_id, m);
    r->iterations++;
    char note[128];
    if (!budget_spent_note(r, note, sizeof note))
        return;
    for (size_t i = 0; i < r->active; i++) /* a queued or already stopping one: MLPT_ESTATE */
        ctl->stop_note(ctl, r->ids[i], SCHED_STOP_STOPPED, note);
}

static void random_end(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                       const char *status) {
    random_st_t *r = (random_st_t *)st;
    sched_prune_end(r->prune, ctl, trial_id, status);
    active_remove(r, trial_id);
    top_up(r, ctl); /* a failure is final: the sweep then ends with its trials */
}

static int64_t random_gate(sched_strategy_t *st, int64_t trial_id, int64_t from) {
    return sched_prune_gate(((random_st_t *)st)->prune, trial_id, from);
}

/* A trial paused at a rung holds no worker: another takes it while its decision waits. */
static void random_pause(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                         int64_t iteration) {
    random_st_t *r = (random_st_t *)st;
    if (sched_prune_paused(r->prune, ctl, trial_id, iteration))
        top_up(r, ctl);
}

/* At a restart: every stored trial's job, in ordinal order, then their rows into the pruner. */
static int random_resume(sched_strategy_t *st, const sched_strategy_stored_t *t, size_t n) {
    random_st_t *r = (random_st_t *)st;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sched_prune_job(r->prune, &t[i].trial, NULL, 0);
    return rc == 0 ? sched_prune_resume(r->prune, t, n) : rc;
}

static int random_set_budget(sched_strategy_t *st, sched_search_ctl_t *ctl, size_t max_trials,
                             double max_seconds, uint64_t max_iterations_total) {
    random_st_t *r = (random_st_t *)st;
    if (max_trials)
        r->space.max_trials = max_trials;
    if (max_seconds > 0)
        r->space.max_seconds = max_seconds;
    if (max_iterations_total)
        r->space.max_iterations_total = max_iterations_total;
    r->failed = 0;
    return top_up(r, ctl);
}

static int random_exhausted(sched_strategy_t *st) {
    return spent((random_st_t *)st);
}

static void random_free(sched_strategy_t *st) {
    sched_prune_free(((random_st_t *)st)->prune);
    free(((random_st_t *)st)->ids);
    free(st);
}

static const sched_strategy_ops_t random_ops = {.plan = random_plan,
                                                .resume = random_resume,
                                                .on_iteration = random_iteration,
                                                .on_end = random_end,
                                                .exhausted = random_exhausted,
                                                .set_budget = random_set_budget,
                                                .gate = random_gate,
                                                .on_pause = random_pause,
                                                .free = random_free};

sched_strategy_t *sched_strategy_random_new(const sched_space_t *space, size_t slots,
                                            const sched_random_spent_t *spent) {
    sched_sampling_cfg_t cfg = {.space = space, .slots = slots, .spent = spent};
    return sched_strategy_random_new_with(&cfg, NULL, NULL);
}

/* The longest trial the space draws (Hyperband's default max_iterations). */
static int64_t longest(const sched_space_t *sp) {
    const sched_dim_t *d = &sp->dim[sched_param_find("iterations") - sched_param_table];
    if (d->kind == SCHED_DIM_RANGE)
        return (int64_t)d->high;
    if (d->kind != SCHED_DIM_LIST)
        return (int64_t)sp->base.iterations;
    uint64_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        m = d->list[i].i > m ? d->list[i].i : m;
    return (int64_t)m;
}

sched_strategy_t *sched_strategy_random_new_with(const sched_sampling_cfg_t *cfg,
                                                 sched_propose_fn propose, void *propose_user) {
    const sched_space_t *space = cfg->space;
    size_t slots = cfg->slots;
    const sched_random_spent_t *spent = cfg->spent;
    random_st_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->propose = propose;
    r->propose_user = propose_user;
    int pruned = (cfg->pruner && cfg->pruner->type != SCHED_PRUNER_NONE) ||
                 (cfg->es && cfg->es->metric != SCHED_ES_NONE);
    if (pruned && !(r->prune = sched_prune_new_ordered(cfg->pruner, cfg->es))) {
        free(r);
        return NULL;
    }
    sched_prune_longest(r->prune, longest(space));
    r->base.ops = &random_ops;
    r->space = *space;
    r->slots = slots ? slots : 1;
    r->cap = r->slots;
    if (!(r->ids = calloc(r->cap, sizeof *r->ids))) {
        sched_prune_free(r->prune);
        free(r);
        return NULL;
    }
    sched_random_spent_t none = {0};
    if (!spent)
        spent = &none;
    r->next = spent->stored;
    r->iterations = spent->iterations;
    r->max_id = spent->max_trial_id;
    r->started = mono_now() - (spent->elapsed > 0 ? spent->elapsed : 0);
    return &r->base;
}
