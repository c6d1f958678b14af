/*
 * scheduler/tpe.h - the tree-structured Parzen estimator (as Optuna's TPESampler with its
 * defaults: univariate, prior on, prior_weight 1, magic clip on, endpoints off, 24 candidates),
 * as pure functions: a proposal is a function of (space, seed, trial number k, observations).
 *
 * The observations are the sweep's ended trials: completed ones with their value (higher is
 * better), pruned ones with the furthest iteration they reported and their value there (running
 * trials are not observations). They are split in two: the good ones, the top gamma(n) =
 * min(ceil(0.1 n), 25) (completed by value, then pruned by furthest iteration and value there),
 * and the rest. Each dimension of the space gets two Parzen estimators, l from the good and g
 * from the rest, each a mixture with one kernel per observation (weights: 1, or for more than
 * 25 observations a ramp from 1/n up for the oldest, by trial number) plus a prior kernel of
 * weight 1:
 *   - a list (categorical): kernel i puts prior_weight / (n + 1) on every choice and 1 more on
 *     its observed choice, normalised; the prior kernel is uniform;
 *   - a range: truncated Gaussians on [low, high] (log space where `log`; integers as Optuna's
 *     IntDistribution: step 1, discrete masses on [low - 0.5, high + 0.5], or continuous on
 *     [log(low - 0.5), log(high + 0.5)] when `log`); kernel i at the observation with sigma the
 *     larger distance to its sorted neighbours (the prior's mean, the middle, among them; the
 *     ends of the range as neighbours, the first and last kernels taking their inner distance),
 *     clipped to [range / min(100, n + 2), range]; the prior kernel at the middle with sigma =
 *     the range.
 * Then n_ei_candidates values are drawn from l and the one with the largest log l(x) - log g(x)
 * is taken (the first of equals), dimension by dimension.
 *
 * Random numbers come from a counter-based generator keyed by (seed, k, dimension, candidate):
 * no state is carried between proposals. Any thread.
 */
#ifndef SCHED_TPE_H
#define SCHED_TPE_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "space.h"

#define SCHED_TPE_N_EI_CANDIDATES 24
#define SCHED_TPE_DEFAULT_STARTUP 10
#define SCHED_TPE_MAX_STARTUP 100000

/* One observation: an ended trial. */
typedef struct sched_tpe_obs {
    sched_params_t params;
    uint64_t number; /* its ordinal in the sweep (older trials weigh less past 25) */
    int pruned;      /* 0: completed, value is its objective; 1: stopped early at `step` */
    int64_t step;    /* pruned: the furthest iteration it reported */
    double value;    /* higher is better; NaN: none (ranks last among its kind) */
} sched_tpe_obs_t;

/* gamma(n) = min(ceil(0.1 n), 25). */
size_t sched_tpe_gamma(size_t n);

/* Optuna's default weights of n observations (by trial number, oldest first) into w[0..n). */
void sched_tpe_weights(size_t n, double *w);

/* Marks good[i] = 1 for the n_good best of obs[0..n) (completed by value, descending; then
 * pruned by step, descending, then value, descending; equals by number), else 0. */
void sched_tpe_split(const sched_tpe_obs_t *obs, size_t n, size_t n_good, int *good);

/* ---- one dimension's Parzen estimator ----------------------------------------------------- */

typedef struct sched_tpe_pe {
    int categorical;    /* 1: choices; 0: truncated Gaussians */
    size_t n_choices;   /* categorical */
    double low, high;   /* numeric, in the transformed space */
    double step;        /* numeric: 1 for discrete masses, 0 continuous */
    size_t n;           /* kernels, the prior's last */
    double *w;          /* [n] mixture weights, summing to 1 */
    double *mu, *sigma; /* [n] numeric */
    double *p;          /* [n x n_choices] categorical, rows summing to 1 */
} sched_tpe_pe_t;

/* Fits a categorical estimator to the observed choice indices x[0..n) (weights by
 * sched_tpe_weights, in the order given). 0 or MLPT_ENOMEM; free with sched_tpe_pe_free. */
int sched_tpe_pe_categorical(sched_tpe_pe_t *pe, const size_t *x, size_t n, size_t n_choices);

/* Fits a numeric estimator to x[0..n) (already transformed) on [low, high] with step (0 or 1).
 * 0 or MLPT_ENOMEM. */
int sched_tpe_pe_numeric(sched_tpe_pe_t *pe, const double *x, size_t n, double low, double high,
                         double step);

void sched_tpe_pe_free(sched_tpe_pe_t *pe);

/* log of the estimator's density (numeric) or probability (categorical: x is the index). */
double sched_tpe_pe_log_pdf(const sched_tpe_pe_t *pe, double x);

/* A draw from the estimator with two uniform numbers in [0, 1): a kernel by u0, a value by u1
 * (numeric: continuous, in [low, high]; the caller rounds; categorical: the index). */
double sched_tpe_pe_sample(const sched_tpe_pe_t *pe, double u0, double u1);

/* ---- the proposal ------------------------------------------------------------------------- */

/* The k-th trial of a TPE sweep over sp: sched_space_draw(sp, seed, k) while fewer than
 * n_startup observations have a value, else TPE's choice for every dimension of the space
 * (the rest as the draw). MLPT_ENOMEM leaves the draw in *out. */
int sched_tpe_propose(const sched_space_t *sp, uint64_t seed, uint64_t k, size_t n_startup,
                      const sched_tpe_obs_t *obs, size_t n, sched_params_t *out);

#endif
