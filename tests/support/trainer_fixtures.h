/*
 * tests/support/trainer_fixtures.h - shared helpers of the trainer's test executables.
 *
 * Header-only (every helper is static inline), so a test links nothing but mlpt_trainer and
 * cmocka. It offers:
 *   - hand-built datasets (fx_dataset_new, fx_dataset_recount) and two problems that no linear
 *     model solves: XOR quadrants and concentric rings;
 *   - an independent double-precision forward pass of an MLP (fx_ref_forward), the oracle for
 *     trainer_mlp_forward and the tool that tells when a finite-difference step crosses a ReLU
 *     kink;
 *   - comparisons that print the numbers when they fail (fx_assert_lt, fx_assert_close).
 * Helpers that allocate abort the test through cmocka's assertions when memory runs out.
 */
#ifndef TRAINER_FIXTURES_H
#define TRAINER_FIXTURES_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataset.h"
#include "mlp.h"
#include "rng.h"

/* Fails the test, printing both sides, unless a < b. */
#define fx_assert_lt(a, b)                                                                         \
    do {                                                                                           \
        double fx_a_ = (double)(a), fx_b_ = (double)(b);                                           \
        if (!(fx_a_ < fx_b_)) {                                                                    \
            print_error("%s = %.9g is not < %s = %.9g\n", #a, fx_a_, #b, fx_b_);                   \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Fails the test, printing both sides, unless |a - b| <= tol. */
#define fx_assert_close(a, b, tol)                                                                 \
    do {                                                                                           \
        double fx_a_ = (double)(a), fx_b_ = (double)(b), fx_t_ = (double)(tol);                    \
        if (!(fabs(fx_a_ - fx_b_) <= fx_t_)) {                                                     \
            print_error("%s = %.9g and %s = %.9g differ by more than %.3g\n", #a, fx_a_, #b,       \
                        fx_b_, fx_t_);                                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Allocation that fails the test instead of returning NULL. */
static inline void *fx_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    assert_non_null(p);
    return p;
}

/* A dataset of rows x features zeros, labels 0, classes named "c0", "c1", ... with zero counts.
 * Fill x and y, then call fx_dataset_recount. Free with trainer_dataset_free. */
static inline trainer_dataset_t *fx_dataset_new(size_t rows, size_t features, size_t classes,
                                                trainer_scaling_t scaling) {
    trainer_dataset_t *ds = fx_calloc(1, sizeof *ds);
    ds->rows = rows;
    ds->features = features;
    ds->classes = classes;
    ds->scaling = scaling;
    ds->x = fx_calloc(rows * features, sizeof *ds->x);
    ds->y = fx_calloc(rows, sizeof *ds->y);
    ds->class_counts = fx_calloc(classes, sizeof *ds->class_counts);
    ds->class_names = fx_calloc(classes, sizeof *ds->class_names);
    for (size_t c = 0; c < classes; c++) {
        ds->class_names[c] = fx_calloc(24, 1);
        snprintf(ds->class_names[c], 24, "c%zu", c);
    }
    return ds;
}

/* Replaces class c's name with a copy of name. */
static inline void fx_dataset_name(trainer_dataset_t *ds, size_t c, const char *name) {
    free(ds->class_names[c]);
    ds->class_names[c] = fx_calloc(strlen(name) + 1, 1);
    memcpy(ds->class_names[c], name, strlen(name) + 1);
}

/* Recomputes class_counts from y (labels must be in range). */
static inline void fx_dataset_recount(trainer_dataset_t *ds) {
    memset(ds->class_counts, 0, ds->classes * sizeof *ds->class_counts);
    for (size_t i = 0; i < ds->rows; i++)
        ds->class_counts[ds->y[i]]++;
}

/* XOR quadrants: row i lies in quadrant i % 4 of the square [-1, 1]^2, at least `margin` away
 * from both axes; its class is 1 when x and y have opposite signs. The features are then mapped
 * to offset + spread * v so that only a model with standardised inputs sees a friendly scale.
 * Balanced by construction; deterministic in seed. */
static inline trainer_dataset_t *fx_xor_dataset(size_t rows, uint64_t seed, float margin,
                                                float offset, float spread) {
    trainer_dataset_t *ds = fx_dataset_new(rows, 2, 2, TRAINER_SCALE_STANDARDIZE);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 99);
    for (size_t i = 0; i < rows; i++) {
        float sx = (i & 1) ? -1.0f : 1.0f, sy = (i & 2) ? -1.0f : 1.0f;
        float u = margin + (1.0f - margin) * trainer_rng_uniform(&rng);
        float v = margin + (1.0f - margin) * trainer_rng_uniform(&rng);
        ds->x[2 * i] = offset + spread * sx * u;
        ds->x[2 * i + 1] = offset + spread * sy * v;
        ds->y[i] = sx * sy < 0.0f ? 1 : 0;
    }
    fx_dataset_name(ds, 0, "same-sign");
    fx_dataset_name(ds, 1, "opposite-sign");
    fx_dataset_recount(ds);
    return ds;
}

/* Concentric rings: row i belongs to class i % classes and lies at a radius uniform in
 * [k + gap/2, k + 1 - gap/2] for class k (class 0 is a disc around the origin), at a uniform
 * angle. No straight line separates a disc from the ring around it. */
static inline trainer_dataset_t *fx_rings_dataset(size_t rows, size_t classes, uint64_t seed,
                                                  float gap) {
    trainer_dataset_t *ds = fx_dataset_new(rows, 2, classes, TRAINER_SCALE_STANDARDIZE);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 98);
    for (size_t i = 0; i < rows; i++) {
        size_t k = i % classes;
        float lo = k == 0 ? 0.0f : (float)k + 0.5f * gap;
        float r = lo + ((float)k + 1.0f - 0.5f * gap - lo) * trainer_rng_uniform(&rng);
        float t = 6.28318530718f * trainer_rng_uniform(&rng);
        ds->x[2 * i] = r * cosf(t);
        ds->x[2 * i + 1] = r * sinf(t);
        ds->y[i] = (int32_t)k;
    }
    fx_dataset_recount(ds);
    return ds;
}

/* Fills a[0..n) with floats uniform in [lo, hi). */
static inline void fx_fill_uniform(float *a, size_t n, trainer_rng_t *rng, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * trainer_rng_uniform(rng);
}

/* Noisy blobs: class c (row i has class i % classes) centred at a random point of [-1, 1)^f
 * shifted by `offset`, each feature spread uniformly over `spread` around it; standardised
 * scaling. Noisy enough that training keeps moving for many iterations. */
static inline trainer_dataset_t *fx_blobs(size_t rows, size_t features, size_t classes,
                                          uint64_t seed, float offset, float spread) {
    trainer_dataset_t *ds = fx_dataset_new(rows, features, classes, TRAINER_SCALE_STANDARDIZE);
    float *centre = (float *)fx_calloc(classes * features, sizeof(float));
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 99);
    fx_fill_uniform(centre, classes * features, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < rows; i++) {
        size_t c = i % classes;
        ds->y[i] = (int32_t)c;
        for (size_t j = 0; j < features; j++)
            ds->x[i * features + j] =
                offset + centre[c * features + j] + spread * (trainer_rng_uniform(&rng) - 0.5f);
    }
    free(centre);
    fx_dataset_recount(ds);
    return ds;
}

/* ||a - b|| / max(||a||, ||b||): 0 for equal vectors, 2 for a sign flip, and small only when the
 * two agree in every large component. skip (may be NULL) marks components to leave out. */
static inline double fx_rel_err(const float *a, const double *b, const unsigned char *skip,
                                size_t n) {
    double d = 0.0, na = 0.0, nb = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        na += (double)a[i] * a[i];
        nb += b[i] * b[i];
    }
    double den = sqrt(na > nb ? na : nb);
    return den > 0.0 ? sqrt(d) / den : sqrt(d);
}

/* Largest |a[i] - b[i]|. */
static inline double fx_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN wins, so a NaN on either side fails a "< tol" check */
    }
    return m;
}

/* Number of hidden units over all hidden layers (the length of one row of a sign pattern). */
static inline size_t fx_hidden_units(const trainer_arch_t *a) {
    size_t n = 0;
    for (size_t l = 0; l < a->n_hidden; l++)
        n += a->hidden[l];
    return n;
}

/* Reference forward pass in double over rows x[rows][inputs] (already scaled), with parameters
 * `params` in the trainer's layout (W_l [IN][OUT] then b_l [OUT]). Returns the mean
 * cross-entropy over the rows when y is given (0 otherwise). When probs is not NULL it receives
 * softmax probabilities [rows][outputs]; when signs is not NULL it receives, for every row and
 * hidden unit, whether the unit's pre-activation is > 0 ([rows][fx_hidden_units]); when
 * min_abs_pre is not NULL it receives the smallest |pre-activation| of any hidden unit. */
static inline double fx_ref_forward(const trainer_arch_t *a, const double *params, const float *x,
                                    const int32_t *y, size_t rows, double *probs,
                                    unsigned char *signs, double *min_abs_pre) {
    size_t widest = a->inputs > a->outputs ? a->inputs : a->outputs;
    for (size_t l = 0; l < a->n_hidden; l++)
        widest = a->hidden[l] > widest ? a->hidden[l] : widest;
    double *cur = fx_calloc(widest, sizeof *cur), *nxt = fx_calloc(widest, sizeof *nxt);
    size_t units = fx_hidden_units(a);
    double loss = 0.0, min_pre = INFINITY;
    for (size_t r = 0; r < rows; r++) {
        size_t in = a->inputs, off = 0, unit = 0;
        for (size_t j = 0; j < in; j++)
            cur[j] = x[r * in + j];
        for (size_t l = 0; l <= a->n_hidden; l++) {
            size_t out = l < a->n_hidden ? a->hidden[l] : a->outputs;
            const double *W = params + off, *b = params + off + in * out;
            for (size_t o = 0; o < out; o++) {
                double z = b[o];
                for (size_t i = 0; i < in; i++)
                    z += cur[i] * W[i * out + o];
                if (l < a->n_hidden) {
                    if (signs)
                        signs[r * units + unit] = z > 0.0;
                    unit++;
                    min_pre = fabs(z) < min_pre ? fabs(z) : min_pre;
                    switch (a->activation) {
                    case TRAINER_ACT_SIGMOID:
                        z = 1.0 / (1.0 + exp(-z));
                        break;
                    case TRAINER_ACT_TANH:
                        z = tanh(z);
                        break;
                    case TRAINER_ACT_RELU:
                        z = z > 0.0 ? z : 0.0;
                        break;
                    }
                }
                nxt[o] = z;
            }
            off += (in + 1) * out;
            in = out;
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
        double zmax = cur[0], sum = 0.0;
        for (size_t c = 1; c < a->outputs; c++)
            zmax = cur[c] > zmax ? cur[c] : zmax;
        for (size_t c = 0; c < a->outputs; c++)
            sum += exp(cur[c] - zmax);
        if (y)
            loss += log(sum) - (cur[y[r]] - zmax);
        if (probs)
            for (size_t c = 0; c < a->outputs; c++)
                probs[r * a->outputs + c] = exp(cur[c] - zmax) / sum;
    }
    free(cur);
    free(nxt);
    if (min_abs_pre)
        *min_abs_pre = min_pre;
    return y ? loss / (double)rows : 0.0;
}

/* A double copy of a float block (free with free()). */
static inline double *fx_to_double(const float *a, size_t n) {
    double *d = fx_calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

#endif
