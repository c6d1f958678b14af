/*
 * rungs.c - ASHA and Hyperband decided in the order runs were added (rungs.h). Each rung of
 * each bracket keeps a frontier: the runs before it are resolved at the rung and their values
 * there are kept; the frontier moves on over a run once that run is resolved, deciding it then
 * when the rung is one of its own. Resolution only ever moves forward, so every row or end
 * settles in time proportional to what moves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "rungs.h"

#define MAX_RUNGS 64 /* rf >= 2 and iterations <= SCHED_PRUNER_MAX_ITERATIONS: fewer than 20 */

typedef struct run {
    int64_t id, planned;
    int bracket;
    int64_t last;  /* the last iteration reported */
    int ended;     /* reports no more */
    int stop_rung; /* the rung it was stopped at, -1: none */
    int decided;   /* its rungs 0 .. decided - 1 went on */
    int n_rungs;   /* its rungs: those below planned */
    double val[MAX_RUNGS];
} run_t;

typedef struct rung {
    size_t frontier; /* runs[0 .. frontier) are resolved here */
    double *v;       /* their values here */
    size_t n, cap;
} rung_t;

struct sched_rungs {
    sched_pruner_cfg_t cfg;
    int n_brackets;
    rung_t (*rung)[MAX_RUNGS]; /* [bracket][k] */
    run_t *runs;
    size_t n, cap;
    sched_rungs_go_fn go; /* may be NULL */
};

/* The iteration of bracket b's rung k, or -1 past the largest. */
static int64_t rung_iteration(const sched_rungs_t *r, int b, int k) {
    int64_t at = r->cfg.min_iterations;
    for (int i = 0; i < b + k; i++) {
        if (at > SCHED_PRUNER_MAX_ITERATIONS)
            return -1;
        at *= r->cfg.reduction_factor;
    }
    return at;
}

sched_rungs_t *sched_rungs_new(const sched_pruner_cfg_t *cfg) {
    if (cfg->type != SCHED_PRUNER_ASHA && cfg->type != SCHED_PRUNER_HYPERBAND)
        return NULL;
    if (cfg->min_iterations < 1 || cfg->reduction_factor < 2)
        return NULL;
    sched_rungs_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = *cfg;
    r->n_brackets = cfg->type == SCHED_PRUNER_HYPERBAND ? sched_hyperband_brackets(cfg) : 1;
    if (!(r->rung = calloc((size_t)r->n_brackets, sizeof *r->rung))) {
        free(r);
        return NULL;
    }
    return r;
}

void sched_rungs_free(sched_rungs_t *r) {
    if (!r)
        return;
    for (int b = 0; b < r->n_brackets; b++)
        for (int k = 0; k < MAX_RUNGS; k++)
            free(r->rung[b][k].v);
    free(r->rung);
    free(r->runs);
    free(r);
}

static run_t *find(const sched_rungs_t *r, int64_t id) {
    for (size_t i = r->n; i-- > 0;) /* the latest runs report most */
        if (r->runs[i].id == id)
            return &r->runs[i];
    return NULL;
}

int sched_rungs_add(sched_rungs_t *r, int64_t id, int64_t planned) {
    if (find(r, id))
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        run_t *t = realloc(r->runs, cap * sizeof *t);
        if (!t)
            return MLPT_ENOMEM;
        r->runs = t;
        r->cap = cap;
    }
    run_t *x = &r->runs[r->n];
    memset(x, 0, sizeof *x);
    x->id = id;
    x->planned = planned;
    x->stop_rung = -1;
    x->bracket = r->cfg.type == SCHED_PRUNER_HYPERBAND
                     ? sched_hyperband_bracket(&r->cfg, (uint64_t)r->n)
                     : 0;
    for (int k = 0; k < MAX_RUNGS; k++) {
        int64_t at = rung_iteration(r, x->bracket, k);
        x->val[k] = NAN;
        if (at > 0 && at < planned)
            x->n_rungs = k + 1;
    }
    r->n++;
    return 0;
}

/* Whether x is resolved at its bracket's rung k; *value receives its value there (NaN: none
 * that counts). */
static int resolved(const sched_rungs_t *r, const run_t *x, int k, double *value) {
    *value = NAN;
    if (k >= x->n_rungs || (x->stop_rung >= 0 && x->stop_rung < k))
        return 1;
    int reached = x->last >= rung_iteration(r, x->bracket, k);
    if (x->decided < k) /* an earlier rung of its own waits */
        return x->ended && !reached;
    if (reached) {
        *value = x->val[k];
        return 1;
    }
    return x->ended;
}

static int push(rung_t *g, double v) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        double *t = realloc(g->v, cap * sizeof *t);
        if (!t)
            return MLPT_ENOMEM;
        g->v = t;
        g->cap = cap;
    }
    g->v[g->n++] = v;
    return 0;
}

/* Moves bracket b's rung k's frontier as far as it goes, deciding the runs it passes.
 * *moved is set when it moved. */
static int advance(sched_rungs_t *r, int b, int k, int *moved, sched_rungs_stop_fn stop,
                   void *user) {
    rung_t *g = &r->rung[b][k];
    while (g->frontier < r->n) {
        run_t *x = &r->runs[g->frontier];
        double v;
        if (x->bracket == b) {
            if (!resolved(r, x, k, &v))
                break;
            if (isfinite(v) && push(g, v) != 0)
                return MLPT_ENOMEM;
            if (k < x->n_rungs && x->decided == k && x->stop_rung < 0 &&
                x->last >= rung_iteration(r, b, k)) {
                double cutoff;
                if (!isfinite(v) ||
                    sched_asha_promote(g->v, g->n, v, r->cfg.reduction_factor, &cutoff)) {
                    x->decided = k + 1;
                    if (r->go)
                        r->go(user, x->id, rung_iteration(r, b, k));
                } else {
                    char note[192];
                    int64_t it = rung_iteration(r, b, k);
                    x->stop_rung = k;
                    if (r->n_brackets > 1)
                        snprintf(note, sizeof note,
                                 "pruned at rung %d of bracket %d (iteration %lld): %.4g < %.4g", k,
                                 b, (long long)it, v, cutoff);
                    else
                        snprintf(note, sizeof note,
                                 "pruned at rung %d (iteration %lld): %.4g < %.4g", k,
                                 (long long)it, v, cutoff);
                    if (stop)
                        stop(user, x->id, it, note);
                }
            }
        }
        g->frontier++;
        *moved = 1;
    }
    return 0;
}

static int settle(sched_rungs_t *r, sched_rungs_stop_fn stop, void *user) {
    int moved = 1;
    while (moved) {
        moved = 0;
        for (int b = 0; b < r->n_brackets; b++)
            for (int k = 0; k < MAX_RUNGS && rung_iteration(r, b, k) > 0; k++) {
                int rc = advance(r, b, k, &moved, stop, user);
                if (rc != 0)
                    return rc;
            }
    }
    return 0;
}

int sched_rungs_row(sched_rungs_t *r, int64_t run, int64_t iteration, double value,
                    sched_rungs_stop_fn stop, void *user) {
    run_t *x = find(r, run);
    if (!x || x->ended || iteration <= x->last)
        return 0;
    x->last = iteration;
    for (int k = 0; k < x->n_rungs; k++)
        if (rung_iteration(r, x->bracket, k) == iteration)
            x->val[k] = isfinite(value) ? value : NAN;
    return settle(r, stop, user);
}

int sched_rungs_end(sched_rungs_t *r, int64_t run, sched_rungs_stop_fn stop, void *user) {
    run_t *x = find(r, run);
    if (!x || x->ended)
        return 0;
    x->ended = 1;
    return settle(r, stop, user);
}

int sched_rungs_stopped(const sched_rungs_t *r, int64_t run, int64_t *iteration) {
    const run_t *x = find(r, run);
    if (!x || x->stop_rung < 0)
        return 0;
    if (iteration)
        *iteration = rung_iteration(r, x->bracket, x->stop_rung);
    return 1;
}

void sched_rungs_on_go(sched_rungs_t *r, sched_rungs_go_fn go) {
    r->go = go;
}

int64_t sched_rungs_gate(const sched_rungs_t *r, int64_t run, int64_t from) {
    const run_t *x = find(r, run);
    if (!x || x->stop_rung >= 0)
        return 0;
    for (int k = 0; k < x->n_rungs; k++) {
        int64_t at = rung_iteration(r, x->bracket, k);
        if (at > from && k >= x->decided) /* one it went past already is no gate */
            return at;
    }
    return 0;
}

int sched_rungs_passed(const sched_rungs_t *r, int64_t run, int64_t iteration) {
    const run_t *x = find(r, run);
    if (!x)
        return 1;
    for (int k = 0; k < x->n_rungs; k++)
        if (rung_iteration(r, x->bracket, k) == iteration) {
            if (x->stop_rung >= 0 && x->stop_rung <= k)
                return -1;
            return x->decided > k ? 1 : 0;
        }
    return x->stop_rung >= 0 && rung_iteration(r, x->bracket, x->stop_rung) < iteration ? -1 : 1;
}
