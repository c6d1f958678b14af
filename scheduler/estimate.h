/*
 * scheduler/estimate.h - what a sweep would cost before it exists (POST /api/v1/sweeps?dry_run=
 * true), and this server's measured throughput to turn that into seconds.
 *
 * The cost model counts the GEMM floating-point operations from the shapes: per iteration, a
 * training pass over the training split (forward 2W, weight gradients 2W, input gradients
 * 2(W - W_first) per row: trainer_arch_train_flops) and the validation forward pass (2W per
 * validation row), W the weights of the network; a test dataset adds one forward pass at the
 * end. Trials that differ only in `iterations` share one run (a grid's shared prefixes), so
 * they count once, at their longest. Pruners are not anticipated: the figures are upper bounds.
 *
 * Pure functions: any thread.
 */
#ifndef SCHED_ESTIMATE_H
#define SCHED_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "space.h"

typedef struct sched_estimate_shape {
    size_t rows, features, classes; /* the training dataset's */
    size_t test_rows;               /* 0 without a test dataset */
} sched_estimate_shape_t;

typedef struct sched_estimate {
    size_t trials;       /* the grid's trials, or the sampling sweep's max_trials */
    int trials_known;    /* 0: a sampling sweep bounded by time only */
    uint64_t iterations; /* upper bound of the iterations trained (runs, not trials) */
    double gemm_flops;   /* upper bound of the GEMM FLOPs */
    int bounded;         /* 0: no bound on iterations or FLOPs (time-bounded sampling) */
} sched_estimate_t;

/* GEMM FLOPs of one iteration of a trial with parameters p on a dataset of that shape. */
double sched_estimate_iteration_flops(const sched_params_t *p, const sched_estimate_shape_t *d);

/* A grid's expanded trials (t[0..n)). */
void sched_estimate_trials(const sched_params_t *t, size_t n, const sched_estimate_shape_t *d,
                           sched_estimate_t *out);

/* A sampling sweep: its first max_trials draws (the ones it would propose, sched_space_draw),
 * capped by max_iterations_total; with neither max_trials nor max_iterations_total, unbounded. */
void sched_estimate_space(const sched_space_t *sp, const sched_estimate_shape_t *d,
                          sched_estimate_t *out);

/* Measures single-precision GEMM throughput with the calling thread's BLAS settings, on the
 * shape of a mini-batch product (64 x 512 x 784), for about `seconds`: GFLOP/s. */
double sched_calibrate_sgemm(double seconds);

#endif
