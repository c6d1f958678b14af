/*
 * strategy_random.c - random search (space.h): the k-th trial of the sweep is
 * sched_space_draw(space, seed, k), so the proposals depend only on the seed and on how many
 * trials the sweep has stored, never on state kept in memory. It keeps `slots` trials (the
 * workers) queued or running: plan adds the first ones, and each end adds the next, one by one,
 * until max_trials are stored or a budget is spent (max_seconds from the strategy's start,
 * max_iterations_total over the iterations its trials store). A budget spent adds no more
 * trials; the trials already running train to their end.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"
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
} random_st_t;

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int spent(const random_st_t *r) {
    const sched_space_t *sp = &r->space;
    if (r->failed || r->next >= sp->max_trials)
        return 1;
    if (sp->max_iterations_total && r->iterations >= sp->max_iterations_total)
        return 1;
    return sp->max_seconds > 0 && mono_now() - r->started >= sp->max_seconds;
}

/* Adds trials until `slots` are active or the budget is spent. */
static int top_up(random_st_t *r, sched_search_ctl_t *ctl) {
    while (r->active < r->slots && !spent(r)) {
        sched_params_t p;
        sched_space_draw(&r->space, r->space.seed, r->next, &p);
        int rc = ctl->add(ctl, &p, 1, NULL);
        if (rc != 0) {
            r->failed = 1;
            return rc;
        }
        r->next++;
        r->active++;
    }
    return 0;
}

static int random_plan(sched_strategy_t *st, sched_search_ctl_t *ctl,
                       const sched_strategy_trial_t *t, size_t n) {
    random_st_t *r = (random_st_t *)st;
    for (size_t i = 0; i < n; i++) {
        int rc = ctl->queue(ctl, &t[i], NULL, 0);
        if (rc != 0)
            return rc;
        r->active++;
    }
    return top_up(r, ctl);
}

static void random_iteration(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                             const store_metric_t *m) {
    (void)ctl;
    (void)trial_id;
    (void)m;
    ((random_st_t *)st)->iterations++;
}

static void random_end(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                       const char *status) {
    random_st_t *r = (random_st_t *)st;
    (void)trial_id;
    (void)status;
    if (r->active)
        r->active--;
    top_up(r, ctl); /* a failure is final: the sweep then ends with its trials */
}

static int random_exhausted(sched_strategy_t *st) {
    return spent((random_st_t *)st);
}

static void random_free(sched_strategy_t *st) {
    free(st);
}

static const sched_strategy_ops_t random_ops = {.plan = random_plan,
                                                .on_iteration = random_iteration,
                                                .on_end = random_end,
                                                .exhausted = random_exhausted,
                                                .free = random_free};

sched_strategy_t *sched_strategy_random_new(const sched_space_t *space, size_t slots,
                                            uint64_t stored) {
    random_st_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base.ops = &random_ops;
    r->space = *space;
    r->slots = slots ? slots : 1;
    r->next = stored;
    r->started = mono_now();
    return &r->base;
}
