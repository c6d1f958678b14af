/*
 * strategy_grid.c - grid search with shared prefixes, the first search strategy: every trial
 * of the grid (already expanded, see grid.h) is queued; trials that differ only in
 * `iterations` form one job, the longest leading and the shorter ones following its history
 * (each length once; a second trial of the same length gets a job of its own). It adds nothing
 * while the sweep runs; with a pruner (the request's "pruner"), it stops the jobs the pruner
 * says to (strategy_prune.c).
 */
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "params.h"
#include "strategy.h"

/* Equal but for the number of iterations (and so one run serves both: the trainer's weights,
 * split and shuffles never depend on how many iterations are planned, and the learning rate is
 * constant). */
static int same_but_iterations(const sched_params_t *a, const sched_params_t *b) {
    return sched_params_same(a, b, SCHED_PARAM_RUN_LENGTH);
}

/* One job being formed: members[0] leads (the longest), the rest ascend. */
typedef struct group {
    sched_strategy_trial_t *members;
    size_t n;
} group_t;

static int by_iterations(const void *a, const void *b) {
    const sched_strategy_trial_t *x = a, *y = b;
    return x->params.iterations < y->params.iterations
               ? -1
               : x->params.iterations > y->params.iterations;
}

/* Whether t may join g: same trial but for a length g has not got yet. */
static int joins(const group_t *g, const sched_strategy_trial_t *t) {
    const sched_strategy_trial_t *lead = &g->members[0];
    if (lead->partitions != t->partitions || lead->ranks.ranks != t->ranks.ranks ||
        lead->ranks.sync_every != t->ranks.sync_every ||
        !same_but_iterations(&lead->params, &t->params))
        return 0;
    for (size_t i = 0; i < g->n; i++)
        if (g->members[i].params.iterations == t->params.iterations)
            return 0; /* two trials of the same length: keep them apart */
    return 1;
}

/* Groups t[0..n) into jobs: *groups (calloc'd, each members' array too; groups_free) and
 * *n_groups, each group's members by iterations ascending (the last leads). */
static int group_trials(const sched_strategy_trial_t *t, size_t n, group_t **out, size_t *n_out) {
    int rc = 0;
    group_t *groups = calloc(n ? n : 1, sizeof *groups);
    size_t n_groups = 0;
    if (!groups)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        group_t *g = NULL;
        for (size_t k = 0; k < n_groups && !g; k++)
            if (joins(&groups[k], &t[i]))
                g = &groups[k];
        if (!g) {
            g = &groups[n_groups++];
            g->members = calloc(1, sizeof *g->members);
            if (!g->members) {
                rc = MLPT_ENOMEM;
                break;
            }
        } else {
            sched_strategy_trial_t *tmp = realloc(g->members, (g->n + 1) * sizeof *tmp);
            if (!tmp) {
                rc = MLPT_ENOMEM;
                break;
            }
            g->members = tmp;
        }
        g->members[g->n++] = t[i];
    }
    for (size_t k = 0; k < n_groups; k++)
        if (groups[k].n)
            qsort(groups[k].members, groups[k].n, sizeof *groups[k].members, by_iterations);
    *out = groups;
    *n_out = n_groups;
    return rc;
}

static void groups_free(group_t *groups, size_t n_groups) {
    for (size_t k = 0; k < n_groups; k++)
        free(groups[k].members);
    free(groups);
}

/* The longest of t[0..n) (Hyperband's default max_iterations). */
static int64_t longest(const sched_strategy_trial_t *t, size_t n) {
    int64_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((int64_t)t[i].params.iterations > m)
            m = (int64_t)t[i].params.iterations;
    return m;
}

static int grid_plan(sched_strategy_t *st, sched_search_ctl_t *ctl, const sched_strategy_trial_t *t,
                     size_t n) {
    sched_prune_t *prune = st->user;
    group_t *groups = NULL;
    size_t n_groups = 0;
    sched_prune_longest(prune, longest(t, n));
    int rc = group_trials(t, n, &groups, &n_groups);
    for (size_t k = 0; k < n_groups && rc == 0; k++) {
        group_t *g = &groups[k];
        /* the longest leads; the others follow in ascending order */
        rc = ctl->queue(ctl, &g->members[g->n - 1], g->members, g->n - 1);
        if (rc == 0)
            rc = sched_prune_job(prune, &g->members[g->n - 1], g->members, g->n - 1);
    }
    groups_free(groups, n_groups);
    return rc;
}

/* At a restart: the jobs every stored trial formed (the same grouping as when the sweep was
 * planned), then the stored rows into the pruner. */
static int grid_resume(sched_strategy_t *st, const sched_strategy_stored_t *t, size_t n) {
    sched_prune_t *prune = st->user;
    if (!prune)
        return 0;
    sched_strategy_trial_t *all = calloc(n ? n : 1, sizeof *all);
    if (!all)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        all[i] = t[i].trial;
    group_t *groups = NULL;
    size_t n_groups = 0;
    sched_prune_longest(prune, longest(all, n));
    int rc = group_trials(all, n, &groups, &n_groups);
    for (size_t k = 0; k < n_groups && rc == 0; k++)
        rc = sched_prune_job(prune, &groups[k].members[groups[k].n - 1], groups[k].members,
                             groups[k].n - 1);
    groups_free(groups, n_groups);
    free(all);
    return rc == 0 ? sched_prune_resume(prune, t, n) : rc;
}

static void grid_iteration(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                           const store_metric_t *m) {
    sched_prune_iteration(st->user, ctl, trial_id, m);
}

static void grid_free(sched_strategy_t *st) {
    sched_prune_free(st->user);
    free(st);
}

static const sched_strategy_ops_t grid_ops = {
    .plan = grid_plan, .resume = grid_resume, .on_iteration = grid_iteration, .free = grid_free};

sched_strategy_t *sched_strategy_grid_new_pruned(const sched_pruner_cfg_t *pruner,
                                                 const sched_early_stop_t *es) {
    sched_strategy_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->ops = &grid_ops;
    int any = (pruner && pruner->type != SCHED_PRUNER_NONE) || (es && es->metric != SCHED_ES_NONE);
    if (any && !(st->user = sched_prune_new(pruner, es))) {
        free(st);
        return NULL;
    }
    return st;
}

sched_strategy_t *sched_strategy_grid_new(void) {
    return sched_strategy_grid_new_pruned(NULL, NULL);
}
