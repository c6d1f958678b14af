/*
 * test_mlp.c - the MLP: architecture rules, parameter layout and initialisation, the forward
 * pass against a double-precision reference, finite-difference gradient checks for every
 * activation at depths 1 to 3, the SGD and momentum updates, BLAS against the naive GEMM for a
 * whole step, and prediction with input scaling.
 *
 * Gradient checks run the naive GEMM (the oracle) and compare trainer_mlp_gradient with two
 * central differences: one of trainer_mlp_forward's float32 loss (the contract as a caller sees
 * it; loose tolerance), one of the double reference (tight tolerance, so a small missing term
 * shows). ReLU parameters whose step flips the sign of any hidden pre-activation (a kink, seen
 * by the reference) are left out of the comparison, and there must be few of them.
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

#include "mlp.h"
#include "mlpt_err.h"
#include "rng.h"
#include "trainer_fixtures.h"

/* A model from seed with biases drawn from [-0.5, 0.5) (the initial zeros would hide a forward
 * pass that ignores them), using the given GEMM. */
static trainer_model_t *model_with_biases(const trainer_arch_t *arch, uint64_t seed,
                                          trainer_gemm_impl_t gemm) {
    trainer_model_t *m = trainer_model_new(arch, seed);
    assert_non_null(m);
    m->gemm = gemm;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 1000);
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t out;
        trainer_layer_weights(arch, m->params, l, NULL, &out);
        fx_fill_uniform(trainer_layer_bias(arch, m->params, l), out, &rng, -0.5f, 0.5f);
    }
    return m;
}

/* Copies x into the scratch and runs a forward pass with labels; returns the mean loss. */
static double forward_loss(const trainer_model_t *m, trainer_scratch_t *s, const float *x,
                           const int32_t *y, size_t rows) {
    memcpy(trainer_scratch_input(s), x, rows * m->arch.inputs * sizeof *x);
    double loss = 0.0;
    size_t correct = 0;
    trainer_mlp_forward(m, s, rows, y, &loss, &correct);
    return loss / (double)rows;
}

/* ------------------------------------------------------------------------------------------ */
/* Architecture and layout */

static void test_arch_check(void **state) {
    (void)state;
    trainer_arch_t ok = {.inputs = 6, .outputs = 3, .n_hidden = 2, .hidden = {5, 4}};
    assert_int_equal(trainer_arch_check(&ok), 0);
    assert_int_equal(trainer_arch_check(NULL), MLPT_EINVAL);

    trainer_arch_t a = ok;
    a.outputs = 1;
    assert_int_equal(trainer_arch_check(&a), MLPT_EINVAL);
    a = ok;
    a.inputs = 0;
    assert_int_equal(trainer_arch_check(&a), MLPT_EINVAL);
    a = ok;
    a.hidden[1] = 0;
    assert_int_equal(trainer_arch_check(&a), MLPT_EINVAL);
    a = ok;
    a.activation = (trainer_activation_t)3;
    assert_int_equal(trainer_arch_check(&a), MLPT_EINVAL);
    a = ok;
    a.n_hidden = TRAINER_MAX_HIDDEN + 1;
    assert_int_equal(trainer_arch_check(&a), MLPT_ELIMIT);
    a = ok;
    a.hidden[0] = TRAINER_MAX_WIDTH + 1;
    assert_int_equal(trainer_arch_check(&a), MLPT_ELIMIT);
    a = ok;
    a.inputs = TRAINER_MAX_WIDTH + 1;
    assert_int_equal(trainer_arch_check(&a), MLPT_ELIMIT);
    a = ok; /* each width allowed, but (65536 + 1) * 65536 weights are too many */
    a.inputs = TRAINER_MAX_WIDTH;
    a.n_hidden = 1;
    a.hidden[0] = TRAINER_MAX_WIDTH;
    assert_int_equal(trainer_arch_check(&a), MLPT_ELIMIT);
    a = ok;
    a.n_hidden = TRAINER_MAX_HIDDEN;
    for (size_t l = 0; l < TRAINER_MAX_HIDDEN; l++)
        a.hidden[l] = 3;
    assert_int_equal(trainer_arch_check(&a), 0);
}

static void test_activation_names(void **state) {
    (void)state;
    const trainer_activation_t acts[] = {TRAINER_ACT_SIGMOID, TRAINER_ACT_RELU, TRAINER_ACT_TANH};
    const char *names[] = {"sigmoid", "relu", "tanh"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(trainer_activation_name(acts[i]), names[i]);
        trainer_activation_t got = (trainer_activation_t)99;
        assert_int_equal(trainer_activation_parse(names[i], &got), 0);
        assert_int_equal(got, acts[i]);
    }
    trainer_activation_t got = TRAINER_ACT_RELU;
    assert_int_equal(trainer_activation_parse("logistic", &got), 0);
    assert_int_equal(got, TRAINER_ACT_SIGMOID);
    assert_int_equal(trainer_activation_parse("ReLU", &got), MLPT_EINVAL);
    assert_int_equal(trainer_activation_parse("", &got), MLPT_EINVAL);
    assert_int_equal(trainer_activation_parse(NULL, &got), MLPT_EINVAL);
    assert_int_equal(got, TRAINER_ACT_SIGMOID); /* untouched on failure */
}

/* W_l [IN][OUT] then b_l [OUT], layer after layer. */
static void test_param_layout(void **state) {
    (void)state;
    trainer_arch_t a = {.inputs = 6, .outputs = 3, .n_hidden = 2, .hidden = {5, 4}};
    assert_int_equal(trainer_arch_param_count(&a), 7 * 5 + 6 * 4 + 5 * 3);
    float block[74];
    const size_t w_off[] = {0, 35, 59}, b_off[] = {30, 55, 71}, ins[] = {6, 5, 4},
                 outs[] = {5, 4, 3};
    for (size_t l = 0; l < 3; l++) {
        size_t in = 0, out = 0;
        assert_ptr_equal(trainer_layer_weights(&a, block, l, &in, &out), block + w_off[l]);
        assert_int_equal(in, ins[l]);
        assert_int_equal(out, outs[l]);
        assert_ptr_equal(trainer_layer_bias(&a, block, l), block + b_off[l]);
    }
    trainer_arch_t linear = {.inputs = 6, .outputs = 3};
    assert_int_equal(trainer_arch_param_count(&linear), 21);
    /* weights: 30 + 20 + 12 = 62, of which 30 in the input layer: 6 * 62 - 2 * 30 per row */
    fx_assert_close(trainer_arch_train_flops(&a, 10), 3120.0, 0.0);
    fx_assert_close(trainer_arch_train_flops(&linear, 1), 4.0 * 18.0, 0.0);
}

static void test_scratch(void **state) {
    (void)state;
    trainer_arch_t a = {.inputs = 6, .outputs = 3, .n_hidden = 1, .hidden = {5}};
    assert_null(trainer_scratch_new(&a, 0));
    trainer_arch_t bad = a;
    bad.outputs = 0;
    assert_null(trainer_scratch_new(&bad, 4));
    trainer_scratch_t *s = trainer_scratch_new(&a, 4);
    assert_non_null(s);
    float *in = trainer_scratch_input(s), *out = trainer_scratch_output(s);
    assert_non_null(in);
    assert_non_null(out);
    /* the buffers do not overlap: every byte of both is writable (ASan) and separate */
    memset(in, 0, 4 * 6 * sizeof(float));
    for (size_t i = 0; i < 4 * 3; i++)
        out[i] = 1.0f;
    for (size_t i = 0; i < 4 * 6; i++)
        assert_true(in[i] == 0.0f);
    trainer_scratch_free(s);
    trainer_scratch_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Forward pass */

/* Probabilities (y NULL) and dLoss/dlogits (with y) against the double reference, for every
 * activation and with both GEMMs. */
static void test_forward_matches_reference(void **state) {
    (void)state;
    enum { ROWS = 11, IN = 7, OUT = 4 };
    trainer_arch_t a = {.inputs = IN, .outputs = OUT, .n_hidden = 2, .hidden = {6, 5}};
    float x[ROWS * IN];
    int32_t y[ROWS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 3, 3);
    fx_fill_uniform(x, ROWS * IN, &rng, -2.0f, 2.0f);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = (int32_t)((i * 7) % OUT);
    for (int act = 0; act < 3; act++) {
        for (int gemm = 0; gemm < 2; gemm++) {
            a.activation = (trainer_activation_t)act;
            trainer_model_t *m = model_with_biases(&a, 10 + act, (trainer_gemm_impl_t)gemm);
            trainer_scratch_t *s = trainer_scratch_new(&a, ROWS);
            assert_non_null(s);
            double *pd = fx_to_double(m->params, m->n_params);
            double probs[ROWS * OUT];
            double ref_loss = fx_ref_forward(&a, pd, x, y, ROWS, probs, NULL, NULL);

            memcpy(trainer_scratch_input(s), x, sizeof x);
            trainer_mlp_forward(m, s, ROWS, NULL, NULL, NULL);
            const float *out = trainer_scratch_output(s);
            for (size_t k = 0; k < ROWS * OUT; k++)
                fx_assert_close(out[k], probs[k], 2e-6);

            double loss = 1.0; /* added to */
            size_t correct = 2, want_correct = 2;
            trainer_mlp_forward(m, s, ROWS, y, &loss, &correct);
            fx_assert_close((loss - 1.0) / ROWS, ref_loss, 2e-6);
            for (size_t i = 0; i < ROWS; i++) {
                size_t arg = 0;
                for (size_t c = 0; c < OUT; c++) {
                    double want = (probs[i * OUT + c] - (c == (size_t)y[i])) / ROWS;
                    fx_assert_close(out[i * OUT + c], want, 2e-7);
                    arg = probs[i * OUT + c] > probs[i * OUT + arg] ? c : arg;
                }
                want_correct += arg == (size_t)y[i];
            }
            assert_int_equal(correct, want_correct);
            free(pd);
            trainer_scratch_free(s);
            trainer_model_free(m);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Finite-difference gradient checks */

typedef struct {
    trainer_activation_t act;
    size_t depth; /* hidden layers */
} grad_case_t;

enum { GC_IN = 6, GC_OUT = 3, GC_ROWS = 7 };

/* Tolerances: the float32 central difference carries ~1e-7 / h of rounding noise per
 * component (observed relative errors up to ~1.5e-4), the double one only its O(h^2) truncation
 * and the float32 rounding of the analytic gradient (observed up to ~2e-7). Both bounds sit
 * more than ten times above what a correct gradient shows and far below the error of a wrong
 * sign, a missing layer or a scaled term (see the mutations at the end). */
#define GC_TOL_FLOAT 2e-3
#define GC_TOL_DOUBLE 1e-5

static void test_gradient_fd(void **state) {
    const grad_case_t *gc = *state;
    const size_t widths[3] = {5, 4, 6};
    trainer_arch_t a = {
        .inputs = GC_IN, .outputs = GC_OUT, .n_hidden = gc->depth, .activation = gc->act};
    for (size_t l = 0; l < gc->depth; l++)
        a.hidden[l] = widths[l];
    trainer_model_t *m = model_with_biases(&a, 100 + 10 * gc->depth + gc->act, TRAINER_GEMM_NAIVE);
    trainer_scratch_t *s = trainer_scratch_new(&a, GC_ROWS);
    assert_non_null(s);
    float x[GC_ROWS * GC_IN];
    int32_t y[GC_ROWS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 200 + gc->depth, gc->act);
    fx_fill_uniform(x, GC_ROWS * GC_IN, &rng, -2.0f, 2.0f);
    for (size_t i = 0; i < GC_ROWS; i++)
        y[i] = (int32_t)(i % GC_OUT);

    const size_t n = m->n_params, units = fx_hidden_units(&a);
    float *g = fx_calloc(n, sizeof *g);
    float *p0 = fx_calloc(n, sizeof *p0);
    memcpy(p0, m->params, n * sizeof *p0);
    double loss = forward_loss(m, s, x, y, GC_ROWS);
    trainer_mlp_gradient(m, s, GC_ROWS, g);
    assert_memory_equal(m->params, p0, n * sizeof *p0); /* the gradient leaves the model be */

    double *pd = fx_to_double(m->params, n);
    unsigned char *sign0 = fx_calloc(GC_ROWS * units, 1), *sign1 = fx_calloc(GC_ROWS * units, 1);
    fx_assert_close(loss, fx_ref_forward(&a, pd, x, y, GC_ROWS, NULL, sign0, NULL), 1e-5);

    const float h = gc->act == TRAINER_ACT_RELU ? 1e-3f : 1e-2f;
    const double hd = 1e-5;
    double *fd = fx_calloc(n, sizeof *fd), *fd_ref = fx_calloc(n, sizeof *fd_ref);
    unsigned char *kink = fx_calloc(n, 1);
    size_t kinks = 0;
    for (size_t p = 0; p < n; p++) {
        const float saved = m->params[p];
        const float up = saved + h, down = saved - h;
        m->params[p] = up;
        double lp = forward_loss(m, s, x, y, GC_ROWS);
        m->params[p] = down;
        double lm = forward_loss(m, s, x, y, GC_ROWS);
        m->params[p] = saved;
        fd[p] = (lp - lm) / ((double)up - (double)down); /* the step float really took */

        const double steps[4] = {up, down, saved + hd, saved - hd};
        double l4[4];
        for (int k = 0; k < 4; k++) {
            pd[p] = steps[k];
            l4[k] = fx_ref_forward(&a, pd, x, y, GC_ROWS, NULL, sign1, NULL);
            if (memcmp(sign0, sign1, GC_ROWS * units) != 0 && gc->act == TRAINER_ACT_RELU)
                kink[p] = 1;
        }
        pd[p] = saved;
        fd_ref[p] = (l4[2] - l4[3]) / (2.0 * hd);
        kinks += kink[p];
    }
    assert_true(kinks <= n / 10);

    double err = fx_rel_err(g, fd, kink, n), err_ref = fx_rel_err(g, fd_ref, kink, n);
    fx_assert_lt(err, GC_TOL_FLOAT);
    fx_assert_lt(err_ref, GC_TOL_DOUBLE);

    /* The checker has teeth: it rejects a gradient with its largest component's sign flipped,
     * and one whose input layer (the end of the chain rule) is off by 10%. */
    size_t big = 0;
    for (size_t p = 0; p < n; p++)
        big = fabsf(g[p]) > fabsf(g[big]) ? p : big;
    g[big] = -g[big];
    fx_assert_lt(GC_TOL_FLOAT, fx_rel_err(g, fd, kink, n));
    g[big] = -g[big];
    size_t in0, out0;
    trainer_layer_weights(&a, g, 0, &in0, &out0);
    for (size_t p = 0; p < (in0 + 1) * out0; p++)
        g[p] *= 0.9f;
    fx_assert_lt(10 * GC_TOL_DOUBLE, fx_rel_err(g, fd_ref, kink, n));

    free(g);
    free(p0);
    free(pd);
    free(sign0);
    free(sign1);
    free(fd);
    free(fd_ref);
    free(kink);
    trainer_scratch_free(s);
    trainer_model_free(m);
}

static const grad_case_t grad_cases[] = {
    {TRAINER_ACT_SIGMOID, 1}, {TRAINER_ACT_SIGMOID, 2}, {TRAINER_ACT_SIGMOID, 3},
    {TRAINER_ACT_RELU, 1},    {TRAINER_ACT_RELU, 2},    {TRAINER_ACT_RELU, 3},
    {TRAINER_ACT_TANH, 1},    {TRAINER_ACT_TANH, 2},    {TRAINER_ACT_TANH, 3},
};

/* A model without hidden layers (multinomial regression) has the same check. */
static void test_gradient_fd_linear(void **state) {
    (void)state;
    grad_case_t gc = {TRAINER_ACT_TANH, 0};
    void *p = &gc;
    test_gradient_fd(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* Updates */

enum { UP_ROWS = 9 };

static trainer_arch_t update_arch(trainer_activation_t act) {
    trainer_arch_t a = {
        .inputs = 6, .outputs = 3, .n_hidden = 2, .hidden = {5, 4}, .activation = act};
    return a;
}

static void update_batch(float *x, int32_t *y) {
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 31, 31);
    fx_fill_uniform(x, UP_ROWS * 6, &rng, -2.0f, 2.0f);
    for (size_t i = 0; i < UP_ROWS; i++)
        y[i] = (int32_t)(i % 3);
}

/* momentum 0: params' = params - lr * gradient, for each activation. */
static void test_sgd_step_plain(void **state) {
    (void)state;
    float x[UP_ROWS * 6];
    int32_t y[UP_ROWS];
    update_batch(x, y);
    const float lr = 0.5f; /* large, so a layer updated before its input gradient would show */
    for (int act = 0; act < 3; act++) {
        trainer_arch_t a = update_arch((trainer_activation_t)act);
        trainer_model_t *m = model_with_biases(&a, 50 + act, TRAINER_GEMM_NAIVE);
        trainer_model_t *c = trainer_model_clone(m), *c2 = trainer_model_clone(m);
        assert_non_null(c);
        assert_non_null(c2);
        trainer_scratch_t *s = trainer_scratch_new(&a, UP_ROWS);
        assert_non_null(s);
        const size_t n = m->n_params;
        float *g = fx_calloc(n, sizeof *g), *vel = fx_calloc(n, sizeof *vel);
        forward_loss(m, s, x, y, UP_ROWS);
        trainer_mlp_gradient(m, s, UP_ROWS, g);

        forward_loss(c, s, x, y, UP_ROWS);
        trainer_mlp_sgd_step(c, s, UP_ROWS, lr, 0.0f, NULL);
        double moved = 0.0;
        for (size_t i = 0; i < n; i++) {
            double want = (double)m->params[i] - (double)lr * g[i];
            fx_assert_close(c->params[i], want, 1e-6 * (1.0 + fabs(want)));
            moved = fmax(moved, fabs(c->params[i] - m->params[i]));
        }
        fx_assert_lt(1e-3, moved);

        /* a velocity buffer with momentum 0 changes nothing */
        forward_loss(c2, s, x, y, UP_ROWS);
        trainer_mlp_sgd_step(c2, s, UP_ROWS, lr, 0.0f, vel);
        fx_assert_lt(fx_max_abs_diff(c2->params, c->params, n), 1e-6);
        free(g);
        free(vel);
        trainer_scratch_free(s);
        trainer_model_free(m);
        trainer_model_free(c);
        trainer_model_free(c2);
    }
}

/* Two momentum steps: v = mu * v + g; W -= lr * v, with the gradient of each step taken at the
 * parameters of that step. */
static void test_sgd_step_momentum(void **state) {
    (void)state;
    float x[UP_ROWS * 6];
    int32_t y[UP_ROWS];
    update_batch(x, y);
    const float lr = 0.3f, mu = 0.9f;
    for (int act = 0; act < 3; act++) {
        trainer_arch_t a = update_arch((trainer_activation_t)act);
        trainer_model_t *m = model_with_biases(&a, 60 + act, TRAINER_GEMM_NAIVE);
        trainer_model_t *e = trainer_model_clone(m); /* stepped by hand */
        assert_non_null(e);
        trainer_scratch_t *s = trainer_scratch_new(&a, UP_ROWS);
        assert_non_null(s);
        const size_t n = m->n_params;
        float *g = fx_calloc(n, sizeof *g), *vel = fx_calloc(n, sizeof *vel),
              *vel_e = fx_calloc(n, sizeof *vel_e), *g1 = fx_calloc(n, sizeof *g1);
        for (int step = 0; step < 2; step++) {
            forward_loss(e, s, x, y, UP_ROWS);
            trainer_mlp_gradient(e, s, UP_ROWS, g);
            if (step == 0)
                memcpy(g1, g, n * sizeof *g);
            for (size_t i = 0; i < n; i++) {
                vel_e[i] = mu * vel_e[i] + g[i];
                e->params[i] -= lr * vel_e[i];
            }
            forward_loss(m, s, x, y, UP_ROWS);
            trainer_mlp_sgd_step(m, s, UP_ROWS, lr, mu, vel);
            for (size_t i = 0; i < n; i++) {
                fx_assert_close(vel[i], vel_e[i], 1e-5 * (1.0 + fabs(vel_e[i])));
                fx_assert_close(m->params[i], e->params[i], 1e-5 * (1.0 + fabs(e->params[i])));
            }
        }
        /* the second velocity remembers the first gradient: it is not just the new one */
        double diff = 0.0;
        for (size_t i = 0; i < n; i++)
            diff = fmax(diff, fabs(vel[i] - g[i]));
        fx_assert_lt(1e-3, diff);
        for (size_t i = 0; i < n; i++)
            fx_assert_close(vel[i], mu * g1[i] + g[i], 1e-5 * (1.0 + fabs(vel[i])));
        free(g);
        free(g1);
        free(vel);
        free(vel_e);
        trainer_scratch_free(s);
        trainer_model_free(m);
        trainer_model_free(e);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* BLAS against the naive GEMM for a whole forward, gradient and momentum step */

static void test_blas_matches_naive_model(void **state) {
    (void)state;
    enum { ROWS = 45, IN = 37, OUT = 5 };
    trainer_arch_t a = {.inputs = IN, .outputs = OUT, .n_hidden = 2, .hidden = {29, 17}};
    float x[ROWS * IN];
    int32_t y[ROWS];
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 41, 41);
    fx_fill_uniform(x, ROWS * IN, &rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = (int32_t)(i % OUT);
    for (int act = 0; act < 3; act++) {
        a.activation = (trainer_activation_t)act;
        trainer_model_t *mb = model_with_biases(&a, 70 + act, TRAINER_GEMM_BLAS);
        trainer_model_t *mn = trainer_model_clone(mb);
        assert_non_null(mn);
        assert_int_equal(mn->gemm, TRAINER_GEMM_BLAS);
        mn->gemm = TRAINER_GEMM_NAIVE;
        trainer_scratch_t *sb = trainer_scratch_new(&a, ROWS), *sn = trainer_scratch_new(&a, ROWS);
        assert_non_null(sb);
        assert_non_null(sn);
        const size_t n = mb->n_params;
        float *gb = fx_calloc(n, sizeof *gb), *gn = fx_calloc(n, sizeof *gn);

        memcpy(trainer_scratch_input(sb), x, sizeof x);
        memcpy(trainer_scratch_input(sn), x, sizeof x);
        double lb = 0.0, ln = 0.0;
        size_t cb = 0, cn = 0;
        trainer_mlp_forward(mb, sb, ROWS, y, &lb, &cb);
        trainer_mlp_forward(mn, sn, ROWS, y, &ln, &cn);
        fx_assert_close(lb, ln, 1e-5 * ln);
        assert_int_equal(cb, cn);
        fx_assert_lt(
            fx_max_abs_diff(trainer_scratch_output(sb), trainer_scratch_output(sn), ROWS * OUT),
            1e-7);
        trainer_mlp_gradient(mb, sb, ROWS, gb);
        trainer_mlp_gradient(mn, sn, ROWS, gn);
        double *gnd = fx_to_double(gn, n);
        fx_assert_lt(fx_rel_err(gb, gnd, NULL, n), 1e-5);

        float *vb = fx_calloc(n, sizeof *vb), *vn = fx_calloc(n, sizeof *vn);
        for (int step = 0; step < 2; step++) {
            memcpy(trainer_scratch_input(sb), x, sizeof x);
            memcpy(trainer_scratch_input(sn), x, sizeof x);
            trainer_mlp_forward(mb, sb, ROWS, y, &lb, &cb);
            trainer_mlp_forward(mn, sn, ROWS, y, &ln, &cn);
            trainer_mlp_sgd_step(mb, sb, ROWS, 0.2f, 0.5f, vb);
            trainer_mlp_sgd_step(mn, sn, ROWS, 0.2f, 0.5f, vn);
        }
        fx_assert_lt(fx_max_abs_diff(mb->params, mn->params, n), 1e-5);
        fx_assert_lt(fx_max_abs_diff(vb, vn, n), 1e-5);
        free(gb);
        free(gn);
        free(gnd);
        free(vb);
        free(vn);
        trainer_scratch_free(sb);
        trainer_scratch_free(sn);
        trainer_model_free(mb);
        trainer_model_free(mn);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Prediction */

/* predict applies the model's input scaling and works in chunks: 300 rows span two. */
static void test_predict_scales_inputs(void **state) {
    (void)state;
    enum { ROWS = 300, IN = 4, OUT = 3 };
    trainer_arch_t a = {
        .inputs = IN, .outputs = OUT, .n_hidden = 1, .hidden = {8}, .activation = TRAINER_ACT_TANH};
    trainer_model_t *m = model_with_biases(&a, 80, TRAINER_GEMM_BLAS);
    const float shift[IN] = {10.0f, -3.0f, 0.5f, 7.0f}, scale[IN] = {0.1f, 2.0f, 1.0f, 0.0f};
    memcpy(m->input_shift, shift, sizeof shift);
    memcpy(m->input_scale, scale, sizeof scale);
    float *x = fx_calloc(ROWS * IN, sizeof *x), *xs = fx_calloc(ROWS * IN, sizeof *xs);
    float *probs = fx_calloc(ROWS * OUT, sizeof *probs);
    double *want = fx_calloc(ROWS * OUT, sizeof *want);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 81, 81);
    fx_fill_uniform(x, ROWS * IN, &rng, -20.0f, 20.0f);
    for (size_t k = 0; k < ROWS * IN; k++)
        xs[k] = (x[k] - shift[k % IN]) * scale[k % IN];
    double *pd = fx_to_double(m->params, m->n_params);
    fx_ref_forward(&a, pd, xs, NULL, ROWS, want, NULL, NULL);

    assert_int_equal(trainer_model_predict(m, x, ROWS, probs), 0);
    for (size_t i = 0; i < ROWS; i++) {
        double sum = 0.0;
        for (size_t c = 0; c < OUT; c++) {
            fx_assert_close(probs[i * OUT + c], want[i * OUT + c], 2e-6);
            sum += probs[i * OUT + c];
        }
        fx_assert_close(sum, 1.0, 1e-5);
    }
    /* the scaling matters: without it the answer is different */
    float *raw = fx_calloc(ROWS * OUT, sizeof *raw);
    for (size_t j = 0; j < IN; j++) {
        m->input_shift[j] = 0.0f;
        m->input_scale[j] = 1.0f;
    }
    assert_int_equal(trainer_model_predict(m, x, ROWS, raw), 0);
    fx_assert_lt(1e-2, fx_max_abs_diff(raw, probs, ROWS * OUT));
    assert_int_equal(trainer_model_predict(m, x, 0, probs), MLPT_EINVAL);
    free(x);
    free(xs);
    free(probs);
    free(raw);
    free(want);
    free(pd);
    trainer_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_check),
        cmocka_unit_test(test_activation_names),
        cmocka_unit_test(test_param_layout),
        cmocka_unit_test(test_scratch),
        cmocka_unit_test(test_forward_matches_reference),
        {"test_gradient_fd_sigmoid_1", test_gradient_fd, NULL, NULL, (void *)&grad_cases[0]},
        {"test_gradient_fd_sigmoid_2", test_gradient_fd, NULL, NULL, (void *)&grad_cases[1]},
        {"test_gradient_fd_sigmoid_3", test_gradient_fd, NULL, NULL, (void *)&grad_cases[2]},
        {"test_gradient_fd_relu_1", test_gradient_fd, NULL, NULL, (void *)&grad_cases[3]},
        {"test_gradient_fd_relu_2", test_gradient_fd, NULL, NULL, (void *)&grad_cases[4]},
        {"test_gradient_fd_relu_3", test_gradient_fd, NULL, NULL, (void *)&grad_cases[5]},
        {"test_gradient_fd_tanh_1", test_gradient_fd, NULL, NULL, (void *)&grad_cases[6]},
        {"test_gradient_fd_tanh_2", test_gradient_fd, NULL, NULL, (void *)&grad_cases[7]},
        {"test_gradient_fd_tanh_3", test_gradient_fd, NULL, NULL, (void *)&grad_cases[8]},
        cmocka_unit_test(test_gradient_fd_linear),
        cmocka_unit_test(test_sgd_step_plain),
        cmocka_unit_test(test_sgd_step_momentum),
        cmocka_unit_test(test_blas_matches_naive_model),
        cmocka_unit_test(test_predict_scales_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
