/*
 * pruner_rules.c - the pruners' decisions as pure functions of the values recorded (see
 * pruner.h for the rules and the semantics chosen): the ASHA rung of an iteration, whether a
 * value goes past its rung, the median and whether a run stays above it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pruner.h"

int sched_asha_rung(const sched_pruner_cfg_t *cfg, int64_t iteration, int64_t planned) {
    if (cfg->min_iterations < 1 || cfg->reduction_factor < 2 || iteration >= planned)
        return -1;
    int64_t at = cfg->min_iterations;
    for (int k = 0; at <= iteration; k++) {
        if (at == iteration)
            return k;
        if (at > INT64_MAX / cfg->reduction_factor)
            break;
        at *= cfg->reduction_factor;
    }
    return -1;
}

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

int sched_asha_promote(const double *values, size_t n, double value, int64_t reduction_factor,
                       double *cutoff) {
    if (cutoff)
        *cutoff = NAN;
    if (reduction_factor < 2 || !isfinite(value))
        return 1;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return 1; /* without memory, prune nothing */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]))
            sorted[m++] = values[i];
    int keep = 1;
    size_t top = m / (size_t)reduction_factor;
    if (top == 0 && m > 0) /* fewer than rf values: the best of them (Optuna's rule) */
        top = 1;
    if (top >= 1) {
        qsort(sorted, m, sizeof *sorted, descending);
        if (cutoff)
            *cutoff = sorted[top - 1];
        keep = value >= sorted[top - 1];
    }
    free(sorted);
    return keep;
}

static int ascending(const void *a, const void *b) {
    return -descending(a, b);
}

double sched_median_of(double *values, size_t n) {
    if (n == 0)
        return NAN;
    qsort(values, n, sizeof *values, ascending);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

int sched_median_keep(const sched_pruner_cfg_t *cfg, int64_t iteration, double best, double *others,
                      size_t n, double *median) {
    if (median)
        *median = NAN;
    if (iteration <= cfg->warmup_iterations ||
        n < (size_t)(cfg->min_trials > 0 ? cfg->min_trials : 1) || !isfinite(best))
        return 1;
    double m = sched_median_of(others, n);
    if (median)
        *median = m;
    return !(best < m);
}

int sched_early_stop_step(const sched_early_stop_t *cfg, sched_es_state_t *st, int64_t iteration,
                          double value, char *note, size_t note_len) {
    if (cfg->metric == SCHED_ES_NONE)
        return 0;
    int lower = cfg->metric == SCHED_ES_VAL_LOSS;
    if (isfinite(value)) {
        int better = !st->set || (lower ? value < st->best - cfg->min_delta
                                        : value > st->best + cfg->min_delta);
        if (better) {
            st->set = 1;
            st->best = value;
            st->best_iteration = iteration;
            return 0;
        }
    }
    int64_t since = iteration - st->best_iteration; /* iterations without an improvement */
    if (since < cfg->patience)
        return 0;
    if (note && note_len)
        snprintf(note, note_len,
                 "early stopped at iteration %lld: %s did not improve by more than %g for %lld "
                 "iterations (best %.4g at iteration %lld)",
                 (long long)iteration, lower ? "val_loss" : "val_accuracy", cfg->min_delta,
                 (long long)since, st->set ? st->best : NAN, (long long)st->best_iteration);
    return 1;
}

int sched_hyperband_brackets(const sched_pruner_cfg_t *cfg) {
    if (cfg->min_iterations < 1 || cfg->reduction_factor < 2)
        return 1;
    int64_t max =
        cfg->max_iterations > cfg->min_iterations ? cfg->max_iterations : cfg->min_iterations;
    /* floor(log_rf(max / min)) + 1, in integers: the largest s with min x rf^s <= max */
    int n = 1;
    int64_t at = cfg->min_iterations;
    while (at <= max / cfg->reduction_factor) {
        at *= cfg->reduction_factor;
        n++;
    }
    return n;
}

/* Bracket b's trial budget: ceil(n x rf^s / (s + 1)), s = n - 1 - b (Optuna's), saturating. */
static uint64_t bracket_budget(const sched_pruner_cfg_t *cfg, int n, int b) {
    int s = n - 1 - b;
    uint64_t num = (uint64_t)n;
    for (int i = 0; i < s; i++)
        num = num > UINT64_MAX / 1024 ? UINT64_MAX / 1024 : num * (uint64_t)cfg->reduction_factor;
    return (num + (uint64_t)s) / (uint64_t)(s + 1);
}

/* SplitMix64's finaliser. */
static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int sched_hyperband_bracket(const sched_pruner_cfg_t *cfg, uint64_t key) {
    int n = sched_hyperband_brackets(cfg);
    uint64_t total = 0;
    for (int b = 0; b < n; b++)
        total += bracket_budget(cfg, n, b);
    uint64_t x = mix64(key) % (total ? total : 1);
    for (int b = 0; b < n; b++) {
        uint64_t w = bracket_budget(cfg, n, b);
        if (x < w)
            return b;
        x -= w;
    }
    return n - 1;
}

sched_pruner_cfg_t sched_hyperband_asha(const sched_pruner_cfg_t *cfg, int bracket) {
    sched_pruner_cfg_t a = *cfg;
    a.type = SCHED_PRUNER_ASHA;
    for (int i = 0; i < bracket && a.min_iterations <= INT64_MAX / a.reduction_factor; i++)
        a.min_iterations *= a.reduction_factor;
    return a;
}
