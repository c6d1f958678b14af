/*
 * test_dropout.c - inverted dropout's masks and kernels (trainer/dropout.h): the share of dropped
 * units is p within a statistical bound, kept units are act(z) / (1 - p), masks are keyed by
 * seed, iteration and position and follow the reference keep function, column slices draw the
 * same masks, the backward pass matches finite differences of the loss under the same masks, a
 * zero probability is the plain pass bit for bit, and the options are checked. Runs with dropout:
 * test_dropout_run.c.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dropout.h"
#include "mlpt_err.h"
#include "train.h"
#include "trainer_fixtures.h"

/* ------------------------------------------------------------------------------------------ */
/* The masks themselves */

/* A wide layer whose every pre-activation is 1 (relu: act = 1): each output is 0 or exactly
 * 1 / (1 - p), the stored keep byte says which and agrees with trainer_dropout_keep, and the
 * dropped share is p within 5 standard deviations (N = 256 x 4096 units: sd <= 5e-4). */
static void test_drop_share_and_scale(void **state) {
    (void)state;
    enum { R = 256, W = 4096 };
    trainer_arch_t a = {
        .inputs = 3, .outputs = 2, .n_hidden = 1, .hidden = {W}, .activation = TRAINER_ACT_RELU};
    const float ps[] = {0.1f, 0.5f, 0.8f};
    float *Y = fx_calloc((size_t)R * W, sizeof *Y);
    float *bias = fx_calloc(W, sizeof *bias);
    for (size_t j = 0; j < W; j++)
        bias[j] = 1.0f;
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        trainer_dropout_t *d = trainer_dropout_new(&a, R, 0.0f, ps[k], 5);
        assert_non_null(d);
        trainer_dropout_at(d, 3, 1000);
        memset(Y, 0, (size_t)R * W * sizeof *Y);
        trainer_dropout_bias_act(d, 0, Y, W, bias, 0, R, 0, W, TRAINER_ACT_RELU);
        float inv = 1.0f / (1.0f - ps[k]);
        size_t dropped = 0, col0 = 0, row0 = 0;
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < W; j++) {
                float v = Y[r * W + j];
                int keep = trainer_dropout_keep(d, 1, 1000 + r, j);
                assert_int_equal(d->mask[0][r * W + j], keep);
                assert_true(keep ? v == inv : v == 0.0f);
                dropped += !keep;
                col0 += j == 0 && !keep;
                row0 += r == 0 && !keep;
            }
        double share = (double)dropped / ((double)R * W);
        double sd = sqrt(ps[k] * (1.0 - ps[k]) / ((double)R * W));
        fx_assert_lt(fabs(share - ps[k]), 5.0 * sd);
        /* neither one unit across rows nor one row across units is stuck */
        assert_true(col0 > 0 && col0 < R);
        assert_true(row0 > 0 && row0 < W);
        trainer_dropout_free(d);
    }
    free(Y);
    free(bias);
}

/* Masks change with the iteration, the row's position and the seed, and stay put for the same
 * (seed, iteration, position). */
static void test_masks_are_keyed(void **state) {
    (void)state;
    trainer_arch_t a = {
        .inputs = 64, .outputs = 2, .n_hidden = 1, .hidden = {64}, .activation = TRAINER_ACT_RELU};
    trainer_dropout_t *d = trainer_dropout_new(&a, 4, 0.5f, 0.5f, 9);
    trainer_dropout_t *e = trainer_dropout_new(&a, 4, 0.5f, 0.5f, 10);
    assert_non_null(d);
    assert_non_null(e);
    uint64_t m[4] = {0}; /* 64 units: iteration 1 pos 7, iteration 2 pos 7, pos 8, seed 10 */
    trainer_dropout_at(d, 1, 0);
    trainer_dropout_at(e, 1, 0);
    for (size_t u = 0; u < 64; u++) {
        m[0] |= (uint64_t)trainer_dropout_keep(d, 1, 7, u) << u;
        m[2] |= (uint64_t)trainer_dropout_keep(d, 1, 8, u) << u;
        m[3] |= (uint64_t)trainer_dropout_keep(e, 1, 7, u) << u;
    }
    trainer_dropout_at(d, 2, 0);
    for (size_t u = 0; u < 64; u++)
        m[1] |= (uint64_t)trainer_dropout_keep(d, 1, 7, u) << u;
    assert_true(m[0] != m[1] && m[0] != m[2] && m[0] != m[3]);
    trainer_dropout_at(d, 1, 0);
    uint64_t again = 0, input = 0;
    for (size_t u = 0; u < 64; u++) {
        again |= (uint64_t)trainer_dropout_keep(d, 1, 7, u) << u;
        input |= (uint64_t)trainer_dropout_keep(d, 0, 7, u) << u;
    }
    assert_true(again == m[0]);
    assert_true(input != m[0]); /* the input and the hidden layer draw apart */
    trainer_dropout_free(d);
    trainer_dropout_free(e);
}

/* Kept units are exactly the plain activation times 1 / (1 - p), for each activation, a row
 * slice at any column offset; the gathered input likewise. p = 0 is the plain pass. */
static void test_kept_units_scaled(void **state) {
    (void)state;
    enum { R = 5, W = 37 };
    trainer_arch_t a = {.inputs = W, .outputs = 2, .n_hidden = 1, .hidden = {W}};
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 4, 4);
    float z[R * W], bias[W], plain[R * W], got[R * W];
    fx_fill_uniform(z, R * W, &rng, -3.0f, 3.0f);
    fx_fill_uniform(bias, W, &rng, -1.0f, 1.0f);
    for (int act = 0; act < 3; act++) {
        const float ps[] = {0.0f, 0.3f};
        for (size_t k = 0; k < 2; k++) {
            trainer_dropout_t *d = trainer_dropout_new(&a, R, ps[k], ps[k], 77);
            assert_non_null(d);
            trainer_dropout_at(d, 2, 40);
            memcpy(plain, z, sizeof z);
            memcpy(got, z, sizeof z);
            trainer_bias_act_forward(plain, bias, R, W, (trainer_activation_t)act);
            /* columns 11 .. 11 + 20 of rows 1 .. 4, as a forward slice would */
            trainer_dropout_bias_act(d, 0, got + 1 * W + 11, W, bias + 11, 1, 3, 11, 20,
                                     (trainer_activation_t)act);
            float inv = 1.0f / (1.0f - ps[k]);
            size_t dropped = 0;
            for (size_t r = 0; r < R; r++)
                for (size_t j = 0; j < W; j++) {
                    size_t i = r * W + j;
                    if (r < 1 || r >= 4 || j < 11 || j >= 31) {
                        assert_true(memcmp(&got[i], &z[i], sizeof(float)) == 0); /* untouched */
                        continue;
                    }
                    int keep = trainer_dropout_keep(d, 1, 40 + r, j);
                    float want = keep ? plain[i] * inv : 0.0f;
                    assert_true(memcmp(&got[i], &want, sizeof(float)) == 0);
                    dropped += !keep;
                }
            assert_true(ps[k] == 0.0f ? dropped == 0 : dropped > 0);
            /* the input: (x - shift) * scale, then kept and scaled */
            float shift[W], scale[W], row[W];
            fx_fill_uniform(shift, W, &rng, -1.0f, 1.0f);
            fx_fill_uniform(scale, W, &rng, 0.5f, 2.0f);
            trainer_dropout_gather_row(d, row, z, shift, scale, W, 42);
            for (size_t j = 0; j < W; j++) {
                float v = (z[j] - shift[j]) * scale[j];
                float want = trainer_dropout_keep(d, 0, 42, j) ? v * inv : 0.0f;
                assert_true(memcmp(&row[j], &want, sizeof(float)) == 0);
            }
            trainer_dropout_free(d);
        }
    }
}

/* One mini-batch's forward by 1, 2 and 4 column slices per layer (as partitions cut it):
 * the same activations and keep bytes, bit for bit. */
static void test_slices_draw_same_masks(void **state) {
    (void)state;
    enum { R = 13 };
    trainer_arch_t a = {.inputs = 10,
                        .outputs = 3,
                        .n_hidden = 2,
                        .hidden = {37, 21},
                        .activation = TRAINER_ACT_SIGMOID};
    trainer_model_t *m = trainer_model_new(&a, 8);
    assert_non_null(m);
    m->gemm = TRAINER_GEMM_NAIVE; /* BLAS rounds a slice by its shape */
    float acts[3][R * 37], masks[3][R * 37];
    for (size_t k = 0; k < 3; k++) {
        size_t parts = (size_t)1 << k;
        trainer_scratch_t *s = trainer_scratch_new(&a, R);
        trainer_dropout_t *d = trainer_dropout_new(&a, R, 0.0f, 0.5f, 21);
        assert_non_null(s);
        assert_non_null(d);
        trainer_dropout_at(d, 5, 300);
        trainer_scratch_set_dropout(s, d);
        trainer_rng_t rng;
        trainer_rng_seed(&rng, 2, 2);
        fx_fill_uniform(trainer_scratch_input(s), R * a.inputs, &rng, -1.0f, 1.0f);
        for (size_t l = 0; l < m->n_layers; l++) {
            size_t w = trainer_layer_width(&a, l);
            for (size_t p = 0; p < parts; p++)
                trainer_mlp_forward_slice(m, s, l, R, w * p / parts, w * (p + 1) / parts);
        }
        /* layer 0's mask and the output (which went through both hidden layers' masks) */
        for (size_t i = 0; i < R * 37; i++)
            masks[k][i] = d->mask[0][i];
        memcpy(acts[k], trainer_scratch_output(s), R * a.outputs * sizeof(float));
        if (k > 0) {
            assert_memory_equal(masks[k], masks[0], sizeof masks[0]);
            assert_memory_equal(acts[k], acts[0], R * a.outputs * sizeof(float));
        }
        trainer_dropout_free(d);
        trainer_scratch_free(s);
    }
    trainer_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Gradient under fixed masks */

enum { GC_IN = 6, GC_OUT = 3, GC_ROWS = 9 };

/* The loss of the rows x under d's masks: x gathered with input dropout, the forward with the
 * hidden masks (redrawn the same each time: they are a function of the position). */
static double masked_loss(const trainer_model_t *m, trainer_scratch_t *s, trainer_dropout_t *d,
                          const float *x, const int32_t *y) {
    float *in = trainer_scratch_input(s);
    for (size_t r = 0; r < GC_ROWS; r++)
        trainer_dropout_gather_row(d, in + r * GC_IN, x + r * GC_IN, NULL, NULL, GC_IN,
                                   d->row0 + r);
    double loss = 0.0;
    size_t correct = 0;
    trainer_mlp_forward(m, s, GC_ROWS, y, &loss, &correct);
    return loss / GC_ROWS;
}

/* Central differences of the masked loss against trainer_mlp_gradient with the dropout attached,
 * for each activation over two hidden layers. ReLU's kinks: a parameter whose difference
 * quotients at h and h/4 disagree is left out (at most a fifth of them). The check has teeth:
 * the gradient taken without the masks in the backward pass fails it. */
static void test_gradient_with_dropout(void **state) {
    (void)state;
    for (int act = 0; act < 3; act++) {
        trainer_arch_t a = {.inputs = GC_IN,
                            .outputs = GC_OUT,
                            .n_hidden = 2,
                            .hidden = {7, 5},
                            .activation = (trainer_activation_t)act};
        trainer_model_t *m = trainer_model_new(&a, 31 + (uint64_t)act);
        assert_non_null(m);
        m->gemm = TRAINER_GEMM_NAIVE;
        trainer_rng_t rng;
        trainer_rng_seed(&rng, 8, (uint64_t)act);
        for (size_t l = 0; l < m->n_layers; l++) {
            size_t out;
            trainer_layer_weights(&a, m->params, l, NULL, &out);
            fx_fill_uniform(trainer_layer_bias(&a, m->params, l), out, &rng, -0.5f, 0.5f);
        }
        trainer_scratch_t *s = trainer_scratch_new(&a, GC_ROWS);
        trainer_dropout_t *d = trainer_dropout_new(&a, GC_ROWS, 0.25f, 0.4f, 123);
        assert_non_null(s);
        assert_non_null(d);
        trainer_dropout_at(d, 4, 250);
        trainer_scratch_set_dropout(s, d);
        float x[GC_ROWS * GC_IN];
        int32_t y[GC_ROWS];
        fx_fill_uniform(x, GC_ROWS * GC_IN, &rng, -2.0f, 2.0f);
        for (size_t i = 0; i < GC_ROWS; i++)
            y[i] = (int32_t)(i % GC_OUT);

        const size_t n = m->n_params;
        float *g = fx_calloc(n, sizeof *g), *g_unmasked = fx_calloc(n, sizeof *g_unmasked);
        masked_loss(m, s, d, x, y);
        trainer_mlp_gradient(m, s, GC_ROWS, g);
        masked_loss(m, s, d, x, y);
        trainer_scratch_set_dropout(s, NULL); /* the backward pass without the masks */
        trainer_mlp_gradient(m, s, GC_ROWS, g_unmasked);
        trainer_scratch_set_dropout(s, d);

        double *fd = fx_calloc(n, sizeof *fd);
        unsigned char *skip = fx_calloc(n, 1);
        size_t skipped = 0;
        const float h = act == TRAINER_ACT_RELU ? 1e-3f : 1e-2f;
        for (size_t p = 0; p < n; p++) {
            float saved = m->params[p];
            double q[2];
            for (int k = 0; k < 2; k++) {
                float step = k == 0 ? h : h / 4.0f;
                float up = saved + step, down = saved - step;
                m->params[p] = up;
                double lp = masked_loss(m, s, d, x, y);
                m->params[p] = down;
                double lm = masked_loss(m, s, d, x, y);
                q[k] = (lp - lm) / ((double)up - (double)down);
            }
            m->params[p] = saved;
            fd[p] = q[0];
            if (act == TRAINER_ACT_RELU && fabs(q[0] - q[1]) > 1e-2 * (fabs(q[0]) + 1e-3)) {
                skip[p] = 1;
                skipped++;
            }
        }
        assert_true(skipped <= n / 5);
        fx_assert_lt(fx_rel_err(g, fd, skip, n), 2e-3);
        fx_assert_lt(2e-2, fx_rel_err(g_unmasked, fd, skip, n));
        free(g);
        free(g_unmasked);
        free(fd);
        free(skip);
        trainer_dropout_free(d);
        trainer_scratch_free(s);
        trainer_model_free(m);
    }
}

/* A step with a p = 0 dropout attached (input and hidden) is the plain step bit for bit. */
static void test_zero_probability_is_plain(void **state) {
    (void)state;
    enum { R = 8 };
    for (int act = 0; act < 3; act++) {
        trainer_arch_t a = {.inputs = GC_IN,
                            .outputs = GC_OUT,
                            .n_hidden = 2,
                            .hidden = {9, 6},
                            .activation = (trainer_activation_t)act};
        trainer_model_t *m0 = trainer_model_new(&a, 3), *m1 = trainer_model_new(&a, 3);
        trainer_scratch_t *s0 = trainer_scratch_new(&a, R), *s1 = trainer_scratch_new(&a, R);
        trainer_dropout_t *d = trainer_dropout_new(&a, R, 0.0f, 0.0f, 3);
        assert_true(m0 && m1 && s0 && s1 && d);
        trainer_scratch_set_dropout(s1, d);
        float x[R * GC_IN];
        int32_t y[R];
        trainer_rng_t rng;
        trainer_rng_seed(&rng, 6, 6);
        fx_fill_uniform(x, R * GC_IN, &rng, -2.0f, 2.0f);
        for (size_t i = 0; i < R; i++)
            y[i] = (int32_t)(i % GC_OUT);
        memcpy(trainer_scratch_input(s0), x, sizeof x);
        for (size_t r = 0; r < R; r++)
            trainer_dropout_gather_row(d, trainer_scratch_input(s1) + r * GC_IN, x + r * GC_IN,
                                       NULL, NULL, GC_IN, r);
        assert_memory_equal(trainer_scratch_input(s0), trainer_scratch_input(s1), sizeof x);
        double l0 = 0.0, l1 = 0.0;
        size_t c0 = 0, c1 = 0;
        trainer_mlp_forward(m0, s0, R, y, &l0, &c0);
        trainer_mlp_forward(m1, s1, R, y, &l1, &c1);
        assert_memory_equal(&l0, &l1, sizeof l0);
        trainer_mlp_sgd_step(m0, s0, R, 0.3f, 0.0f, NULL);
        trainer_mlp_sgd_step(m1, s1, R, 0.3f, 0.0f, NULL);
        assert_memory_equal(m0->params, m1->params, m0->n_params * sizeof(float));
        trainer_dropout_free(d);
        trainer_scratch_free(s0);
        trainer_scratch_free(s1);
        trainer_model_free(m0);
        trainer_model_free(m1);
    }
}

static void test_options_checked(void **state) {
    (void)state;
    trainer_options_t ok = {.learning_rate = 0.1f, .batch_size = 8, .iterations = 1};
    assert_int_equal(trainer_options_check(&ok), 0);
    const float bad[] = {-0.1f, 1.0f, 1.5f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trainer_options_t o = ok;
        o.dropout_input = bad[i];
        assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
        o = ok;
        o.dropout_hidden = bad[i];
        assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    }
    trainer_options_t o = ok;
    o.dropout_input = 0.0f;
    o.dropout_hidden = nextafterf(1.0f, 0.0f);
    assert_int_equal(trainer_options_check(&o), 0);
    trainer_arch_t a = {.inputs = 2, .outputs = 2, .n_hidden = 1, .hidden = {3}};
    assert_null(trainer_dropout_new(&a, 4, 1.0f, 0.0f, 1));
    assert_null(trainer_dropout_new(&a, 4, 0.0f, NAN, 1));
    assert_null(trainer_dropout_new(&a, 0, 0.1f, 0.1f, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_share_and_scale),
        cmocka_unit_test(test_masks_are_keyed),
        cmocka_unit_test(test_kept_units_scaled),
        cmocka_unit_test(test_slices_draw_same_masks),
        cmocka_unit_test(test_gradient_with_dropout),
        cmocka_unit_test(test_zero_probability_is_plain),
        cmocka_unit_test(test_options_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
