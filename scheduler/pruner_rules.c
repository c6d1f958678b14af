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
    if (reduction_factor < 2 || n < (size_t)reduction_factor || !isfinite(value))
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
