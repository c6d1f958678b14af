/*
 * test_kernels.c - the float32 kernels against double-precision references computed here.
 *
 * trainer_gemm: both implementations, every transpose combination, several alpha/beta pairs,
 * odd sizes and padded leading dimensions (the padding holds NaN, so a kernel that reads it
 * produces NaN, and C's padding holds a sentinel that must survive). The elementwise kernels:
 * activations over [-100, 100] against libm in double, their backward passes against the
 * analytic derivatives, softmax with cross-entropy against a double reference. The elementwise
 * kernels again on every code path this CPU runs (baseline, AVX2+FMA, AVX-512), at every
 * remainder length, against libm and against one another.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels.h"
#include "rng.h"
#include "trainer_fixtures.h"

/* ------------------------------------------------------------------------------------------ */
/* GEMM */

typedef struct {
    int ta, tb;
    size_t M, N, K;
    size_t pad; /* extra columns in every leading dimension */
    float alpha, beta;
} gemm_case_t;

/* Runs one case with impl and checks C (and its padding) against a double reference. When
 * nan_c is set, C starts as NaN, which only a kernel that reads C with beta == 0 can see. */
static void check_gemm_case(trainer_gemm_impl_t impl, const gemm_case_t *g, int nan_c,
                            uint64_t seed) {
    const float sentinel = -12345.0f;
    size_t a_rows = g->ta ? g->K : g->M, a_cols = g->ta ? g->M : g->K;
    size_t b_rows = g->tb ? g->N : g->K, b_cols = g->tb ? g->K : g->N;
    size_t lda = a_cols + g->pad, ldb = b_cols + g->pad, ldc = g->N + g->pad;
    float *A = fx_calloc(a_rows * lda, sizeof *A);
    float *B = fx_calloc(b_rows * ldb, sizeof *B);
    float *C = fx_calloc(g->M * ldc, sizeof *C);
    float *C0 = fx_calloc(g->M * ldc, sizeof *C0);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 7);
    for (size_t i = 0; i < a_rows * lda; i++)
        A[i] = i % lda < a_cols ? 2.0f * trainer_rng_uniform(&rng) - 1.0f : NAN;
    for (size_t i = 0; i < b_rows * ldb; i++)
        B[i] = i % ldb < b_cols ? 2.0f * trainer_rng_uniform(&rng) - 1.0f : NAN;
    for (size_t i = 0; i < g->M * ldc; i++)
        C[i] = i % ldc < g->N ? (nan_c ? NAN : 2.0f * trainer_rng_uniform(&rng) - 1.0f) : sentinel;
    memcpy(C0, C, g->M * ldc * sizeof *C);

    trainer_gemm(impl, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, ldc);

    for (size_t i = 0; i < g->M; i++) {
        for (size_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j];
            if (j >= g->N) {
                assert_true(got == sentinel);
                continue;
            }
            double acc = 0.0, mag = 0.0;
            for (size_t k = 0; k < g->K; k++) {
                double a = g->ta ? A[k * lda + i] : A[i * lda + k];
                double b = g->tb ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
                mag += fabs(a * b);
            }
            double c0 = g->beta == 0.0f ? 0.0 : C0[i * ldc + j];
            double want = g->alpha * acc + g->beta * c0;
            /* float accumulation over K terms, plus the roundings of alpha, beta and the sum */
            double tol = (2.0 * (double)g->K + 4.0) * FLT_EPSILON *
                         (fabs(g->alpha) * mag + fabs(g->beta * c0) + 1e-30);
            if (!(fabs(got - want) <= tol)) {
                print_error("impl %d ta %d tb %d M %zu N %zu K %zu pad %zu alpha %g beta %g: "
                            "C[%zu][%zu] = %.9g, want %.9g\n",
                            (int)impl, g->ta, g->tb, g->M, g->N, g->K, g->pad, g->alpha, g->beta, i,
                            j, got, want);
                fail();
            }
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

static const size_t gemm_sizes[][3] = {
    {1, 1, 1}, {7, 5, 9}, {13, 17, 3}, {31, 33, 35}, {64, 1, 100}, {1, 40, 2}, {70, 9, 67},
};

static const float gemm_scalars[][2] = {
    {1.0f, 0.0f}, {0.5f, 2.0f}, {-1.5f, 1.0f}, {2.0f, -0.5f}, {1.0f, 1.0f},
};

static void run_gemm_matrix(trainer_gemm_impl_t impl) {
    uint64_t seed = 1;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof gemm_sizes / sizeof gemm_sizes[0]; s++)
                for (size_t k = 0; k < sizeof gemm_scalars / sizeof gemm_scalars[0]; k++)
                    for (size_t pad = 0; pad <= 3; pad += 3) {
                        gemm_case_t g = {ta,
                                         tb,
                                         gemm_sizes[s][0],
                                         gemm_sizes[s][1],
                                         gemm_sizes[s][2],
                                         pad,
                                         gemm_scalars[k][0],
                                         gemm_scalars[k][1]};
                        check_gemm_case(impl, &g, 0, seed++);
                    }
}

static void test_gemm_naive_matches_reference(void **state) {
    (void)state;
    run_gemm_matrix(TRAINER_GEMM_NAIVE);
}

static void test_gemm_blas_matches_reference(void **state) {
    (void)state;
    run_gemm_matrix(TRAINER_GEMM_BLAS);
}

/* With beta == 0 the contract says C is not read: NaN in C must not leak into the result. */
static void test_gemm_beta_zero_ignores_c(void **state) {
    (void)state;
    for (int impl = 0; impl < 2; impl++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                gemm_case_t g = {ta, tb, 9, 11, 6, 2, 0.75f, 0.0f};
                check_gemm_case((trainer_gemm_impl_t)impl, &g, 1, 100u + (unsigned)ta * 2u + tb);
            }
}

/* Both implementations agree with each other elementwise on a product of the sizes a layer has. */
static void test_gemm_blas_matches_naive(void **state) {
    (void)state;
    const size_t M = 45, N = 29, K = 37;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 5, 5);
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            float *A = fx_calloc(M * K, sizeof *A), *B = fx_calloc(K * N, sizeof *B);
            float *C1 = fx_calloc(M * N, sizeof *C1), *C2 = fx_calloc(M * N, sizeof *C2);
            fx_fill_uniform(A, M * K, &rng, -1.0f, 1.0f);
            fx_fill_uniform(B, K * N, &rng, -1.0f, 1.0f);
            fx_fill_uniform(C1, M * N, &rng, -1.0f, 1.0f);
            memcpy(C2, C1, M * N * sizeof *C1);
            size_t lda = ta ? M : K, ldb = tb ? K : N;
            trainer_gemm(TRAINER_GEMM_BLAS, ta, tb, M, N, K, -0.5f, A, lda, B, ldb, 0.25f, C1, N);
            trainer_gemm(TRAINER_GEMM_NAIVE, ta, tb, M, N, K, -0.5f, A, lda, B, ldb, 0.25f, C2, N);
            fx_assert_lt(fx_max_abs_diff(C1, C2, M * N), 1e-5);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
}

/* M == 0 or N == 0 is a no-op for both implementations. */
static void test_gemm_empty_is_noop(void **state) {
    (void)state;
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 2, 3, 4}, C[4] = {9, 9, 9, 9};
    for (int impl = 0; impl < 2; impl++) {
        trainer_gemm((trainer_gemm_impl_t)impl, 0, 0, 0, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        trainer_gemm((trainer_gemm_impl_t)impl, 0, 0, 2, 0, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    }
    for (int i = 0; i < 4; i++)
        assert_true(C[i] == 9.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* Activations */

static double act_ref(trainer_activation_t act, double z) {
    switch (act) {
    case TRAINER_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case TRAINER_ACT_TANH:
        return tanh(z);
    case TRAINER_ACT_RELU:
        return z > 0.0 ? z : 0.0;
    }
    return NAN;
}

/* act(x + bias) over a grid of 401 x 50 values spanning [-100, 100], with a different bias per
 * column (so a bias broadcast along the wrong axis fails), against libm in double. */
static void check_act_forward_range(trainer_activation_t act, double max_abs_err) {
    const size_t rows = 401, cols = 50, n = rows * cols;
    float *Y = fx_calloc(n, sizeof *Y), *pre = fx_calloc(n, sizeof *pre);
    float bias[50];
    for (size_t j = 0; j < cols; j++)
        bias[j] = (float)j * 0.01f - 0.25f;
    for (size_t k = 0; k < n; k++) {
        Y[k] = (float)(-100.0 + 200.0 * (double)k / (double)(n - 1));
        pre[k] = Y[k] + bias[k % cols]; /* the same float sum the kernel forms */
    }
    trainer_bias_act_forward(Y, bias, rows, cols, act);
    double worst = 0.0, worst_rel = 0.0;
    size_t worst_at = 0;
    for (size_t k = 0; k < n; k++) {
        double want = act_ref(act, pre[k]);
        double err = fabs((double)Y[k] - want);
        if (!(err <= worst)) {
            worst = err;
            worst_at = k;
        }
        /* Relative accuracy too, where the values allow it: the sigmoid far into its lower tail
         * (tiny values), tanh away from 0 (where 1 - 2/(e^2x + 1) cancels). A correct kernel
         * shows ~1.4e-7 and ~2.8e-7; an exp polynomial missing one term shows ~2e-6. */
        if ((act == TRAINER_ACT_SIGMOID && pre[k] > -80.0f) ||
            (act == TRAINER_ACT_TANH && fabsf(pre[k]) > 0.5f))
            worst_rel = fmax(worst_rel, err / fabs(want));
    }
    if (!(worst <= max_abs_err)) {
        print_error("%s: |act(%.9g) - ref| = %.3g\n", trainer_activation_name(act),
                    (double)pre[worst_at], worst);
        fail();
    }
    fx_assert_lt(worst_rel, 1e-6);
    free(Y);
    free(pre);
}

static void test_sigmoid_forward_matches_libm(void **state) {
    (void)state;
    check_act_forward_range(TRAINER_ACT_SIGMOID, 1e-6);
}

static void test_tanh_forward_matches_libm(void **state) {
    (void)state;
    check_act_forward_range(TRAINER_ACT_TANH, 1e-6);
}

static void test_relu_forward_is_exact(void **state) {
    (void)state;
    check_act_forward_range(TRAINER_ACT_RELU, 0.0);
}

/* Saturation and non-finite inputs: infinities saturate, NaN propagates (the loop must see a
 * diverged network, not a quietly zeroed one). */
static void test_act_forward_special_values(void **state) {
    (void)state;
    const trainer_activation_t acts[] = {TRAINER_ACT_SIGMOID, TRAINER_ACT_TANH, TRAINER_ACT_RELU};
    const float lo[] = {0.0f, -1.0f, 0.0f}, hi[] = {1.0f, 1.0f, INFINITY};
    for (int a = 0; a < 3; a++) {
        float Y[6] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 0.0f};
        float bias[6] = {0, 0, 0, 0, 0, 0};
        trainer_bias_act_forward(Y, bias, 1, 6, acts[a]);
        /* the sigmoid's lower tail ends at exp's clamp, ~1e-38 above 0 */
        assert_true(Y[0] == hi[a]);
        fx_assert_close(Y[1], lo[a], 1e-37);
        if (!isnan(Y[2])) {
            print_error("%s(NaN) = %g, want NaN\n", trainer_activation_name(acts[a]), Y[2]);
            fail();
        }
        assert_true(Y[3] == (acts[a] == TRAINER_ACT_RELU ? 1e30f : hi[a]));
        fx_assert_close(Y[4], lo[a], 1e-37);
        assert_true(Y[5] == (float)act_ref(acts[a], 0.0));
    }
}

/* dA *= act'(z), the derivative taken from A = act(z): against the analytic derivative of the
 * double-precision function at z, so both the formula and its use of A are checked. */
static void check_act_backward(trainer_activation_t act) {
    const size_t n = 241;
    float z[241], A[241], dA[241], bias[1] = {0.0f};
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 11, (uint64_t)act);
    for (size_t k = 0; k < n; k++) {
        z[k] = (float)(-6.0 + 12.0 * (double)k / (double)(n - 1)) + 0.0137f;
        A[k] = z[k];
        dA[k] = 4.0f * trainer_rng_uniform(&rng) - 2.0f;
    }
    trainer_bias_act_forward(A, bias, n, 1, act);
    float dA0[241];
    memcpy(dA0, dA, sizeof dA);
    trainer_act_backward(dA, A, n, act);
    for (size_t k = 0; k < n; k++) {
        double s = act_ref(act, z[k]), d = 0.0;
        switch (act) {
        case TRAINER_ACT_SIGMOID:
            d = s * (1.0 - s);
            break;
        case TRAINER_ACT_TANH:
            d = 1.0 - s * s;
            break;
        case TRAINER_ACT_RELU:
            d = z[k] > 0.0f ? 1.0 : 0.0;
            break;
        }
        fx_assert_close(dA[k], dA0[k] * d, 2e-6 * fabs(dA0[k]));
    }
}

static void test_sigmoid_backward(void **state) {
    (void)state;
    check_act_backward(TRAINER_ACT_SIGMOID);
}

static void test_tanh_backward(void **state) {
    (void)state;
    check_act_backward(TRAINER_ACT_TANH);
}

static void test_relu_backward(void **state) {
    (void)state;
    check_act_backward(TRAINER_ACT_RELU);
    /* at the kink the output is 0 and so is the gradient passed down */
    float dA[2] = {3.0f, -2.0f}, A[2] = {0.0f, 0.0f};
    trainer_act_backward(dA, A, 2, TRAINER_ACT_RELU);
    assert_true(dA[0] == 0.0f && dA[1] == 0.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* Softmax and cross-entropy */

/* Reference per row in double: loss, probabilities, arg-max. */
static double softmax_ref(const float *z, size_t cols, int32_t y, double *p, size_t *arg) {
    double zmax = z[0], sum = 0.0;
    *arg = 0;
    for (size_t j = 1; j < cols; j++)
        if (z[j] > zmax) {
            zmax = z[j];
            *arg = j;
        }
    for (size_t j = 0; j < cols; j++)
        sum += exp((double)z[j] - zmax);
    for (size_t j = 0; j < cols; j++)
        p[j] = exp((double)z[j] - zmax) / sum;
    return log(sum) - ((double)z[y] - zmax);
}

static void test_softmax_xent_matches_reference(void **state) {
    (void)state;
    enum { ROWS = 9, COLS = 5 };
    float Z[ROWS * COLS], Z0[ROWS * COLS], probs[ROWS * COLS];
    int32_t y[ROWS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 21, 1);
    fx_fill_uniform(Z, ROWS * COLS, &rng, -4.0f, 4.0f);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = (int32_t)(i % COLS);
    /* rows far from zero: the max-shift must keep them finite and exact */
    for (size_t j = 0; j < COLS; j++) {
        Z[6 * COLS + j] += 1000.0f;
        Z[7 * COLS + j] -= 1000.0f;
        Z[8 * COLS + j] = 80.0f + 3.0f * (float)j; /* exp would overflow without the shift */
    }
    memcpy(Z0, Z, sizeof Z);
    double loss_sum = 0.25; /* the kernel adds to what is there */
    size_t correct = 5;
    const float scale = 1.0f / ROWS;
    trainer_softmax_xent(Z, probs, y, ROWS, COLS, scale, &loss_sum, &correct);

    double want_loss = 0.25;
    size_t want_correct = 5;
    for (size_t i = 0; i < ROWS; i++) {
        double p[COLS];
        size_t arg;
        want_loss += softmax_ref(Z0 + i * COLS, COLS, y[i], p, &arg);
        want_correct += arg == (size_t)y[i];
        for (size_t j = 0; j < COLS; j++) {
            fx_assert_close(probs[i * COLS + j], p[j], 1e-6);
            double dz = (p[j] - (j == (size_t)y[i] ? 1.0 : 0.0)) * scale;
            fx_assert_close(Z[i * COLS + j], dz, 2e-7);
        }
    }
    fx_assert_close(loss_sum, want_loss, 1e-5);
    assert_int_equal(correct, want_correct);
    assert_true(want_correct > 5 && want_correct < 5 + ROWS); /* the count means something */

    /* probs is optional and dZ does not depend on it */
    float Z2[ROWS * COLS];
    memcpy(Z2, Z0, sizeof Z0);
    double l2 = 0.0;
    size_t c2 = 0;
    trainer_softmax_xent(Z2, NULL, y, ROWS, COLS, scale, &l2, &c2);
    assert_memory_equal(Z2, Z, sizeof Z);
    fx_assert_close(l2, loss_sum - 0.25, 1e-9);
}

/* Hand-checked numbers: logits (0, ln 3) for label 0: p = (1/4, 3/4), loss = ln 4, wrong. */
static void test_softmax_xent_known_values(void **state) {
    (void)state;
    float Z[2] = {0.0f, (float)log(3.0)};
    int32_t y[1] = {0};
    double loss = 0.0;
    size_t correct = 0;
    trainer_softmax_xent(Z, NULL, y, 1, 2, 2.0f, &loss, &correct);
    fx_assert_close(loss, log(4.0), 1e-6);
    assert_int_equal(correct, 0);
    fx_assert_close(Z[0], (0.25 - 1.0) * 2.0, 1e-6);
    fx_assert_close(Z[1], 0.75 * 2.0, 1e-6);
}

/* A row with any non-finite logit adds a non-finite loss, whatever the label. */
static void test_softmax_xent_nonfinite_logits(void **state) {
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++) {
        for (size_t pos = 0; pos < 3; pos++) {
            for (int32_t label = 0; label < 3; label++) {
                /* one finite row first: its loss must not hide the bad one */
                float Z[6] = {0.5f, -0.25f, 1.0f, 0.1f, 0.2f, 0.3f};
                Z[3 + pos] = bad[b];
                int32_t y[2] = {1, label};
                double loss = 0.0;
                size_t correct = 0;
                trainer_softmax_xent(Z, NULL, y, 2, 3, 0.5f, &loss, &correct);
                if (isfinite(loss)) {
                    print_error("logit %g at %zu, label %d: loss %g is finite\n", bad[b], pos,
                                label, loss);
                    fail();
                }
            }
        }
    }
}

static void test_softmax_matches_reference(void **state) {
    (void)state;
    enum { ROWS = 4, COLS = 7 };
    float Z[ROWS * COLS], Z0[ROWS * COLS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 22, 1);
    fx_fill_uniform(Z, ROWS * COLS, &rng, -5.0f, 5.0f);
    for (size_t j = 0; j < COLS; j++)
        Z[3 * COLS + j] += 500.0f; /* stable for large logits */
    memcpy(Z0, Z, sizeof Z);
    trainer_softmax(Z, ROWS, COLS);
    for (size_t i = 0; i < ROWS; i++) {
        double p[COLS], sum = 0.0;
        size_t arg;
        softmax_ref(Z0 + i * COLS, COLS, 0, p, &arg);
        for (size_t j = 0; j < COLS; j++) {
            fx_assert_close(Z[i * COLS + j], p[j], 1e-6);
            sum += Z[i * COLS + j];
        }
        fx_assert_close(sum, 1.0, 1e-6);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Bias, column sums, axpy */

static void test_bias_add(void **state) {
    (void)state;
    enum { ROWS = 3, COLS = 37 };
    float Y[ROWS * COLS], Y0[ROWS * COLS], bias[COLS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 23, 1);
    fx_fill_uniform(Y, ROWS * COLS, &rng, -1.0f, 1.0f);
    fx_fill_uniform(bias, COLS, &rng, -1.0f, 1.0f);
    memcpy(Y0, Y, sizeof Y);
    trainer_bias_add(Y, bias, ROWS, COLS);
    for (size_t i = 0; i < ROWS; i++)
        for (size_t j = 0; j < COLS; j++)
            assert_true(Y[i * COLS + j] == Y0[i * COLS + j] + bias[j]);
}

static void test_colsum(void **state) {
    (void)state;
    enum { ROWS = 5, COLS = 19 };
    float D[ROWS * COLS], out[COLS + 1], start[COLS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 24, 1);
    fx_fill_uniform(D, ROWS * COLS, &rng, -1.0f, 1.0f);
    fx_fill_uniform(start, COLS, &rng, -1.0f, 1.0f);
    const float alphas[] = {1.0f, 0.5f, -2.0f, 1.0f}, betas[] = {0.0f, 1.0f, 0.25f, -1.0f};
    for (int k = 0; k < 4; k++) {
        for (size_t j = 0; j < COLS; j++)
            out[j] = betas[k] == 0.0f ? NAN : start[j]; /* beta 0: out is not read */
        out[COLS] = 77.0f;
        trainer_colsum(out, D, ROWS, COLS, COLS, alphas[k], betas[k]);
        for (size_t j = 0; j < COLS; j++) {
            double s = 0.0;
            for (size_t i = 0; i < ROWS; i++)
                s += D[i * COLS + j];
            double want = alphas[k] * s + (betas[k] == 0.0f ? 0.0 : betas[k] * start[j]);
            fx_assert_close(out[j], want, 1e-5);
        }
        assert_true(out[COLS] == 77.0f);
    }
}

static void test_axpy(void **state) {
    (void)state;
    enum { N = 37 };
    float x[N], y[N + 1], y0[N];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 25, 1);
    fx_fill_uniform(x, N, &rng, -1.0f, 1.0f);
    fx_fill_uniform(y, N, &rng, -1.0f, 1.0f);
    y[N] = 55.0f;
    memcpy(y0, y, sizeof y0);
    trainer_axpy(y, x, N, -0.375f);
    for (size_t i = 0; i < N; i++)
        fx_assert_close(y[i], (double)y0[i] - 0.375 * x[i], 1e-6);
    assert_true(y[N] == 55.0f);
    trainer_axpy(y, x, 0, 1.0f); /* n == 0 touches nothing */
    assert_true(y[N] == 55.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* Code paths (trainer_kernels_isa): every path this CPU has, through the same checks. */

/* Runs fn once per path the CPU supports (the cap lifted again afterwards); returns how many. */
static int for_each_isa(void (*fn)(trainer_isa_t)) {
    trainer_kernels_isa_limit(TRAINER_ISA_AVX512);
    trainer_isa_t top = trainer_kernels_isa();
    for (int isa = TRAINER_ISA_BASE; isa <= (int)top; isa++) {
        trainer_kernels_isa_limit((trainer_isa_t)isa);
        assert_int_equal(trainer_kernels_isa(), isa);
        fn((trainer_isa_t)isa);
    }
    trainer_kernels_isa_limit(TRAINER_ISA_AVX512);
    return (int)top + 1;
}

static void isa_wide_range(trainer_isa_t isa) {
    (void)isa;
    check_act_forward_range(TRAINER_ACT_SIGMOID, 1e-6);
    check_act_forward_range(TRAINER_ACT_TANH, 1e-6);
    check_act_forward_range(TRAINER_ACT_RELU, 0.0);
    test_act_forward_special_values(NULL);
    check_act_backward(TRAINER_ACT_SIGMOID);
    check_act_backward(TRAINER_ACT_TANH);
    check_act_backward(TRAINER_ACT_RELU);
}

/* sigmoid and tanh over [-1e4, 1e4] (log-spaced magnitudes, both signs) on every path, against
 * libm in double: the clamps at -87 and 88 must hold in the vector loops as in the scalar tail. */
static void test_act_every_isa_wide_range(void **state) {
    (void)state;
    assert_true(for_each_isa(isa_wide_range) >= 1);
}

/* The same inputs at every length 1 .. 67 (vector bodies, masked and scalar tails) and offset:
 * each element's result must not depend on its position, and must stay within float rounding of
 * libm. Inputs cover |z| from 1e-6 to 1e4, NaN and the infinities. */
static float scratch_in[80], scratch_out[80], scratch_ref[80];

static void isa_lengths(trainer_isa_t isa) {
    const trainer_activation_t acts[] = {TRAINER_ACT_SIGMOID, TRAINER_ACT_TANH, TRAINER_ACT_RELU};
    float bias[80] = {0};
    for (int a = 0; a < 3; a++) {
        for (size_t k = 0; k < 80; k++)
            scratch_ref[k] = scratch_in[k];
        trainer_bias_act_forward(scratch_ref, bias, 80, 1, acts[a]); /* one element per row */
        for (size_t n = 1; n <= 67; n++) {
            for (size_t off = 0; off + n <= 80; off += 13) {
                memcpy(scratch_out, scratch_in, sizeof scratch_out);
                trainer_bias_act_forward(scratch_out + off, bias, 1, n, acts[a]);
                for (size_t k = off; k < off + n; k++) {
                    int same = memcmp(&scratch_out[k], &scratch_ref[k], sizeof(float)) == 0 ||
                               (isnan(scratch_out[k]) && isnan(scratch_ref[k]));
                    if (!same) {
                        print_error("%s on %s: z=%.9g at %zu of %zu gives %.9g, alone %.9g\n",
                                    trainer_activation_name(acts[a]), trainer_isa_name(isa),
                                    (double)scratch_in[k], k - off, n, (double)scratch_out[k],
                                    (double)scratch_ref[k]);
                        fail();
                    }
                    double want = act_ref(acts[a], scratch_in[k]);
                    if (isnan(scratch_in[k]) || isnan(want)) /* NaN stays NaN, relu's too */
                        assert_true(isnan(scratch_out[k]));
                    else if (isinf(want))
                        assert_true(scratch_out[k] == (float)want);
                    else
                        fx_assert_close(scratch_out[k], want, 1e-6 + 3e-7 * fabs(want));
                }
            }
        }
    }
}

static void test_act_every_isa_lengths(void **state) {
    (void)state;
    for (size_t k = 0; k < 80; k++) {
        double mag = pow(10.0, -6.0 + 10.0 * (double)(k / 2) / 40.0); /* 1e-6 .. 1e4 */
        scratch_in[k] = (float)(k % 2 ? -mag : mag);
    }
    scratch_in[5] = NAN;
    scratch_in[17] = INFINITY;
    scratch_in[30] = -INFINITY;
    scratch_in[44] = 87.5f;
    scratch_in[45] = -88.5f;
    scratch_in[61] = 0.0f;
    for_each_isa(isa_lengths);
}

/* Every elementwise kernel on every path against the baseline path, at lengths that leave every
 * kind of remainder: within float rounding (the paths with FMA round some sums once where the
 * baseline rounds twice, and the compiler fuses the tails' arithmetic its own way). */
enum { PATH_ROWS = 3, PATH_COLS = 43, PATH_N = PATH_ROWS * PATH_COLS };
typedef struct {
    float act[3][PATH_N], back[3][PATH_N], colsum[PATH_COLS], axpy[PATH_N], bias[PATH_N],
        scaled[PATH_N];
} path_out_t;
static path_out_t path_out[3];

static void isa_all_kernels(trainer_isa_t isa) {
    path_out_t *o = &path_out[isa];
    float x[PATH_N], d[PATH_N], b[PATH_COLS], shift[PATH_N], scale[PATH_N];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 31, 2);
    fx_fill_uniform(x, PATH_N, &rng, -9.0f, 9.0f);
    fx_fill_uniform(d, PATH_N, &rng, -1.0f, 1.0f);
    fx_fill_uniform(b, PATH_COLS, &rng, -1.0f, 1.0f);
    fx_fill_uniform(shift, PATH_N, &rng, -1.0f, 1.0f);
    fx_fill_uniform(scale, PATH_N, &rng, 0.0f, 2.0f);
    for (int a = 0; a < 3; a++) {
        memcpy(o->act[a], x, sizeof x);
        trainer_bias_act_forward(o->act[a], b, PATH_ROWS, PATH_COLS, (trainer_activation_t)a);
        memcpy(o->back[a], d, sizeof d);
        trainer_act_backward(o->back[a], o->act[a], PATH_N - 1, (trainer_activation_t)a);
    }
    memcpy(o->colsum, b, sizeof b);
    trainer_colsum(o->colsum, d, PATH_ROWS, PATH_COLS - 2, PATH_COLS, -0.3f, 0.9f);
    memcpy(o->axpy, x, sizeof x);
    trainer_axpy(o->axpy, d, PATH_N - 3, -0.1f);
    memcpy(o->bias, x, sizeof x);
    trainer_bias_add(o->bias, b, PATH_ROWS, PATH_COLS);
    trainer_scale_row(o->scaled, x, shift, scale, PATH_N - 5);
}

static void test_kernels_paths_agree(void **state) {
    (void)state;
    memset(path_out, 0, sizeof path_out);
    int paths = for_each_isa(isa_all_kernels);
    const float *base = (const float *)&path_out[TRAINER_ISA_BASE];
    size_t n = sizeof(path_out_t) / sizeof(float);
    for (int isa = 1; isa < paths; isa++) {
        const float *got = (const float *)&path_out[isa];
        for (size_t k = 0; k < n; k++)
            fx_assert_close(got[k], base[k], 4e-7 * fabs(base[k]) + 1e-7);
    }
}

static void test_kernels_isa_limit(void **state) {
    (void)state;
    trainer_kernels_isa_limit(TRAINER_ISA_BASE);
    assert_int_equal(trainer_kernels_isa(), TRAINER_ISA_BASE);
    trainer_kernels_isa_limit(TRAINER_ISA_AVX512);
    assert_true(trainer_kernels_isa() >= TRAINER_ISA_BASE &&
                trainer_kernels_isa() <= TRAINER_ISA_AVX512);
    assert_string_equal(trainer_isa_name(TRAINER_ISA_BASE), "x86-64");
    assert_string_equal(trainer_isa_name(TRAINER_ISA_AVX2), "avx2");
    assert_string_equal(trainer_isa_name(TRAINER_ISA_AVX512), "avx512");
}

static void test_scale_row(void **state) {
    (void)state;
    enum { N = 37 };
    float src[N], shift[N], scale[N], dst[N + 1];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 26, 1);
    fx_fill_uniform(src, N, &rng, 0.0f, 255.0f);
    fx_fill_uniform(shift, N, &rng, -1.0f, 1.0f);
    fx_fill_uniform(scale, N, &rng, 0.0f, 1.0f);
    dst[N] = 66.0f;
    trainer_scale_row(dst, src, shift, scale, N);
    for (size_t j = 0; j < N; j++)
        assert_true(dst[j] == (src[j] - shift[j]) * scale[j]);
    assert_true(dst[N] == 66.0f);
}

static void test_blas_threads(void **state) {
    (void)state;
    trainer_blas_set_threads(1);
    assert_int_equal(trainer_blas_threads(), 1);
    trainer_blas_set_threads(0); /* clamped to 1 */
    assert_int_equal(trainer_blas_threads(), 1);
    const char *core = trainer_blas_core();
    assert_non_null(core);
    assert_true(strlen(core) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_naive_matches_reference),
        cmocka_unit_test(test_gemm_blas_matches_reference),
        cmocka_unit_test(test_gemm_beta_zero_ignores_c),
        cmocka_unit_test(test_gemm_blas_matches_naive),
        cmocka_unit_test(test_gemm_empty_is_noop),
        cmocka_unit_test(test_sigmoid_forward_matches_libm),
        cmocka_unit_test(test_tanh_forward_matches_libm),
        cmocka_unit_test(test_relu_forward_is_exact),
        cmocka_unit_test(test_act_forward_special_values),
        cmocka_unit_test(test_sigmoid_backward),
        cmocka_unit_test(test_tanh_backward),
        cmocka_unit_test(test_relu_backward),
        cmocka_unit_test(test_softmax_xent_matches_reference),
        cmocka_unit_test(test_softmax_xent_known_values),
        cmocka_unit_test(test_softmax_xent_nonfinite_logits),
        cmocka_unit_test(test_softmax_matches_reference),
        cmocka_unit_test(test_bias_add),
        cmocka_unit_test(test_colsum),
        cmocka_unit_test(test_axpy),
        cmocka_unit_test(test_scale_row),
        cmocka_unit_test(test_act_every_isa_wide_range),
        cmocka_unit_test(test_act_every_isa_lengths),
        cmocka_unit_test(test_kernels_paths_agree),
        cmocka_unit_test(test_kernels_isa_limit),
        cmocka_unit_test(test_blas_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
