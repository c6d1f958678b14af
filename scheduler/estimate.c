/*
 * estimate.c - a sweep's cost before it exists (estimate.h): GEMM FLOPs from the shapes, and
 * the short sgemm calibration the scheduler runs once at start-up.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimate.h"
#include "kernels.h"
#include "mlp.h"
#include "params.h"

static size_t val_rows(const sched_params_t *p, size_t rows) {
    double v = (double)rows * p->validation_split + 0.5;
    size_t n = (size_t)v;
    return n < rows ? n : rows;
}

double sched_estimate_iteration_flops(const sched_params_t *p, const sched_estimate_shape_t *d) {
    trainer_arch_t arch;
    sched_params_arch(p, d->features ? d->features : 1, d->classes < 2 ? 2 : d->classes, &arch);
    size_t n_val = val_rows(p, d->rows);
    double weights = 0.0;
    for (size_t l = 0; l <= arch.n_hidden; l++) {
        size_t in = l == 0 ? arch.inputs : arch.hidden[l - 1];
        size_t out = l == arch.n_hidden ? arch.outputs : arch.hidden[l];
        weights += (double)in * (double)out;
    }
    return trainer_arch_train_flops(&arch, d->rows - n_val) + 2.0 * weights * (double)n_val;
}

/* The test set's forward pass at a run's end. */
static double test_flops(const sched_params_t *p, const sched_estimate_shape_t *d) {
    if (!d->test_rows)
        return 0.0;
    sched_estimate_shape_t t = *d;
    t.rows = d->test_rows;
    sched_params_t q = *p;
    q.validation_split = 1.0; /* every row forward only */
    return sched_estimate_iteration_flops(&q, &t);
}

void sched_estimate_trials(const sched_params_t *t, size_t n, const sched_estimate_shape_t *d,
                           sched_estimate_t *out) {
    memset(out, 0, sizeof *out);
    out->trials = n;
    out->trials_known = 1;
    out->bounded = 1;
    for (size_t i = 0; i < n; i++) {
        /* a trial a longer one answers (same but for iterations) trains nothing of its own */
        int shared = 0;
        for (size_t k = 0; k < n && !shared; k++)
            shared = k != i && sched_params_same(&t[i], &t[k], SCHED_PARAM_RUN_LENGTH) &&
                     (t[k].iterations > t[i].iterations ||
                      (t[k].iterations == t[i].iterations && k < i));
        out->gemm_flops += test_flops(&t[i], d);
        if (shared)
            continue;
        out->iterations += t[i].iterations;
        out->gemm_flops += sched_estimate_iteration_flops(&t[i], d) * (double)t[i].iterations;
    }
}

void sched_estimate_space(const sched_space_t *sp, const sched_estimate_shape_t *d,
                          sched_estimate_t *out) {
    memset(out, 0, sizeof *out);
    out->trials = sp->max_trials;
    out->trials_known = sp->max_trials > 0;
    out->bounded = sp->max_trials > 0 || sp->max_iterations_total > 0;
    if (!out->bounded)
        return;
    uint64_t cap = sp->max_iterations_total ? sp->max_iterations_total : UINT64_MAX;
    /* without max_trials, max_iterations_total bounds the trials too (one iteration each) */
    uint64_t n = sp->max_trials ? sp->max_trials : cap;
    for (uint64_t k = 0; k < n && out->iterations < cap; k++) {
        sched_params_t p;
        sched_space_draw(sp, sp->seed, k, &p);
        uint64_t it = p.iterations;
        if (it > cap - out->iterations)
            it = cap - out->iterations;
        out->iterations += it;
        out->gemm_flops += sched_estimate_iteration_flops(&p, d) * (double)it + test_flops(&p, d);
    }
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double sched_calibrate_sgemm(double seconds) {
    enum { M = 64, N = 512, K = 784 };
    float *a = calloc((size_t)M * K, sizeof *a), *b = calloc((size_t)K * N, sizeof *b),
          *c = calloc((size_t)M * N, sizeof *c);
    double gflops = 0.0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)M * K; i++)
            a[i] = (float)(i % 17) * 0.01f;
        for (size_t i = 0; i < (size_t)K * N; i++)
            b[i] = (float)(i % 13) * 0.01f;
        trainer_gemm(TRAINER_GEMM_BLAS, 0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N); /* warm */
        double t0 = mono(), t = t0;
        size_t reps = 0;
        while (t - t0 < seconds || reps < 4) {
            trainer_gemm(TRAINER_GEMM_BLAS, 0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
            reps++;
            t = mono();
        }
        gflops = 2.0 * M * N * K * (double)reps / (t - t0) / 1e9;
    }
    free(a);
    free(b);
    free(c);
    return gflops;
}
