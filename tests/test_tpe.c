/* test_tpe.c - the tree-structured Parzen estimator (scheduler/tpe.h) as pure functions, against
 * cases computed by hand (the Parzen estimators' kernels, bandwidths and densities, written out
 * with erfc in a few lines of Python and pasted here), and the proposal's contract: the random
 * draw during startup, a pure function of (seed, k, observations), and proposals that gather
 * where the good observations are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "params.h"
#include "space.h"
#include "tpe.h"

static size_t row(const char *name) {
    return (size_t)(sched_param_find(name) - sched_param_table);
}

static void test_gamma_and_weights(void **state) {
    (void)state;
    assert_int_equal(sched_tpe_gamma(0), 0);
    assert_int_equal(sched_tpe_gamma(1), 1);
    assert_int_equal(sched_tpe_gamma(10), 1);
    assert_int_equal(sched_tpe_gamma(11), 2);
    assert_int_equal(sched_tpe_gamma(249), 25);
    assert_int_equal(sched_tpe_gamma(1000), 25);
    double w[30];
    sched_tpe_weights(3, w);
    assert_true(w[0] == 1.0 && w[1] == 1.0 && w[2] == 1.0);
    /* 27: linspace(1/27, 1, 2) = {1/27, 1}, then 25 ones */
    sched_tpe_weights(27, w);
    assert_true(fabs(w[0] - 1.0 / 27) < 1e-15);
    assert_true(w[1] == 1.0 && w[26] == 1.0);
    /* 30: linspace(1/30, 1, 5): steps of (1 - 1/30) / 4 */
    sched_tpe_weights(30, w);
    assert_true(fabs(w[1] - (1.0 / 30 + (29.0 / 30) / 4)) < 1e-15);
    assert_true(w[4] == 1.0 && w[5] == 1.0);
}

static sched_tpe_obs_t ob(uint64_t number, int pruned, int64_t step, double value) {
    sched_tpe_obs_t o;
    memset(&o, 0, sizeof o);
    o.number = number;
    o.pruned = pruned;
    o.step = step;
    o.value = value;
    return o;
}

static void test_split(void **state) {
    (void)state;
    /* completed by value; then pruned by furthest step, then value; NaN last of its kind */
    sched_tpe_obs_t o[] = {ob(0, 0, 0, 0.5),  ob(1, 1, 9, 0.9), ob(2, 0, 0, 0.7),
                           ob(3, 1, 3, 0.95), ob(4, 1, 9, 0.8), ob(5, 0, 0, NAN)};
    int good[6];
    sched_tpe_split(o, 6, 2, good);
    assert_int_equal(good[0] + good[2], 2); /* the two completed with values */
    assert_int_equal(good[1] + good[3] + good[4] + good[5], 0);
    sched_tpe_split(o, 6, 4, good); /* + the pruned that went furthest: 1 (0.9) before 4 (0.8) */
    assert_true(good[0] && good[2] && good[5] && good[1]);
    assert_false(good[4] || good[3]);
    sched_tpe_split(o, 6, 5, good);
    assert_true(good[4] && !good[3]);
    /* equal values: the older first */
    sched_tpe_obs_t e[] = {ob(7, 0, 0, 0.5), ob(3, 0, 0, 0.5)};
    sched_tpe_split(e, 2, 1, good);
    assert_true(!good[0] && good[1]);
}

static void test_categorical_estimator(void **state) {
    (void)state;
    /* choices {0, 1, 2}, observed 0, 0, 2: 4 kernels of weight 1/4; an observation's kernel is
     * (1/4 + [its choice]) / (3/4 + 1), the prior's uniform: P(0) = (5/7 + 5/7 + 1/7 + 1/3) / 4
     * = 10/21, P(1) = (3/7 + 1/3) / 4 = 4/21, P(2) = 1 - 14/21 = 7/21. */
    size_t x[] = {0, 0, 2};
    sched_tpe_pe_t pe;
    assert_int_equal(sched_tpe_pe_categorical(&pe, x, 3, 3), 0);
    assert_true(fabs(exp(sched_tpe_pe_log_pdf(&pe, 0)) - 10.0 / 21) < 1e-12);
    assert_true(fabs(exp(sched_tpe_pe_log_pdf(&pe, 1)) - 4.0 / 21) < 1e-12);
    assert_true(fabs(exp(sched_tpe_pe_log_pdf(&pe, 2)) - 7.0 / 21) < 1e-12);
    assert_true(isinf(sched_tpe_pe_log_pdf(&pe, 3)));
    /* draws follow the probabilities: kernel by u0, choice by u1 */
    assert_true(sched_tpe_pe_sample(&pe, 0.1, 0.1) == 0.0); /* kernel 0: 5/7 on choice 0 */
    assert_true(sched_tpe_pe_sample(&pe, 0.6, 0.9) == 2.0); /* kernel 2: 5/7 on choice 2 */
    assert_true(sched_tpe_pe_sample(&pe, 0.9, 0.5) == 1.0); /* the prior: 1/3 each */
    sched_tpe_pe_free(&pe);
    /* no observation: the prior alone */
    assert_int_equal(sched_tpe_pe_categorical(&pe, NULL, 0, 4), 0);
    assert_true(fabs(exp(sched_tpe_pe_log_pdf(&pe, 3)) - 0.25) < 1e-12);
    sched_tpe_pe_free(&pe);
}

static void test_numeric_estimator(void **state) {
    (void)state;
    /* [0, 1], observed 0.1, 0.3, 0.9; the prior at 0.5 sits among them: sorted 0.1 0.3 0.5 0.9
     * with the ends 0 and 1. Sigma: the larger neighbour distance, the first and last taking
     * their inner one: 0.1 -> 0.2, 0.3 -> 0.2, 0.9 -> 0.9 - 0.5 = 0.4; clipped to
     * [1 / min(100, 5), 1] = [0.2, 1]; the prior's sigma is 1. */
    double x[] = {0.1, 0.3, 0.9};
    sched_tpe_pe_t pe;
    assert_int_equal(sched_tpe_pe_numeric(&pe, x, 3, 0.0, 1.0, 0.0), 0);
    assert_int_equal(pe.n, 4);
    assert_true(fabs(pe.sigma[0] - 0.2) < 1e-12 && fabs(pe.sigma[1] - 0.2) < 1e-12);
    assert_true(fabs(pe.sigma[2] - 0.4) < 1e-12 && pe.sigma[3] == 1.0 && pe.mu[3] == 0.5);
    /* sum of w_k phi((x - mu_k) / s_k) / s_k / (Phi((1 - mu_k) / s_k) - Phi(-mu_k / s_k)) */
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 0.0) - 0.07107433382306474) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 0.25) - 0.3565780733732923) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 0.7) - -0.34131120845282165) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 1.0) - -0.441433248844369) < 1e-9);
    /* a kernel's draws stay in [low, high] and its median is its mean when untruncated */
    for (int i = 0; i < 100; i++) {
        double v = sched_tpe_pe_sample(&pe, i / 100.0, (i * 37 % 100) / 100.0);
        assert_true(v >= 0.0 && v <= 1.0);
    }
    assert_true(fabs(sched_tpe_pe_sample(&pe, 0.8, 0.5) - 0.5) < 1e-9); /* prior, symmetric */
    sched_tpe_pe_free(&pe);

    /* integers 1..5 (step 1), observed 2, 2, 5, the prior at 3: sorted 2 2 3 5 with the ends
     * 0.5 and 5.5; sigmas 0 (clipped to 5 / 5 = 1), 1, 2; the prior's 5. Masses on
     * [x - 0.5, x + 0.5] over [0.5, 5.5]. */
    double y[] = {2, 2, 5};
    assert_int_equal(sched_tpe_pe_numeric(&pe, y, 3, 1.0, 5.0, 1.0), 0);
    assert_true(pe.sigma[0] == 1.0 && pe.sigma[1] == 1.0 && pe.sigma[2] == 2.0);
    assert_true(pe.sigma[3] == 5.0);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 1) - -1.6637118018553323) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 2) - -1.2582243384579441) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 3) - -1.4561841672447402) < 1e-9);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 5) - -1.9997160806645295) < 1e-9);
    double total = 0;
    for (int v = 1; v <= 5; v++)
        total += exp(sched_tpe_pe_log_pdf(&pe, v));
    assert_true(fabs(total - 1.0) < 1e-12);
    sched_tpe_pe_free(&pe);

    /* Checked against Optuna's _ParzenEstimator (3.1 with its truncnorm.logpdf given the
     * -log(scale) term later releases have): a log range, a log integer range (bounds
     * log(low - 0.5), log(high + 0.5)), and 30 observations (ramped weights). */
    double lf[] = {log(0.002), log(0.01), log(0.5)};
    assert_int_equal(sched_tpe_pe_numeric(&pe, lf, 3, log(0.001), log(1.0), 0.0), 0);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(0.001)) - -1.91695996) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(0.05)) - -2.00652385) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(1.0)) - -2.36348726) < 1e-7);
    sched_tpe_pe_free(&pe);
    double li[] = {log(4), log(9), log(60)};
    assert_int_equal(sched_tpe_pe_numeric(&pe, li, 3, log(3.5), log(64.5), 0.0), 0);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(4)) - -0.90331427) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(16)) - -1.07611464) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, log(64)) - -1.46585096) < 1e-7);
    sched_tpe_pe_free(&pe);
    double many[30];
    for (int i = 0; i < 30; i++)
        many[i] = 0.05 + 0.9 * i / 29.0;
    assert_int_equal(sched_tpe_pe_numeric(&pe, many, 30, 0.0, 1.0, 0.0), 0);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 0.0) - -3.18920713) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 0.5) - 0.15165347) < 1e-7);
    assert_true(fabs(sched_tpe_pe_log_pdf(&pe, 1.0) - -1.71572711) < 1e-7);
    sched_tpe_pe_free(&pe);

    /* far in a tail the density stays finite (the prior covers the range) */
    double z[] = {0.001, 0.002};
    assert_int_equal(sched_tpe_pe_numeric(&pe, z, 2, 0.0, 1000.0, 0.0), 0);
    assert_true(isfinite(sched_tpe_pe_log_pdf(&pe, 999.0)));
    sched_tpe_pe_free(&pe);
}

/* learning_rate log in [0.001, 1], batch_size integers 8..64, activation a list */
static sched_space_t tpe_space(void) {
    sched_space_t sp;
    memset(&sp, 0, sizeof sp);
    sp.type = SCHED_SEARCH_TPE;
    sp.seed = 3;
    sp.max_trials = 100;
    sp.n_startup_trials = 10;
    sched_params_defaults(&sp.base);
    sp.hidden_layers = (sched_dim_t){.kind = SCHED_DIM_LIST, .n = 2, .list = {{.i = 1}, {.i = 2}}};
    sp.neurons = (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 4, .high = 64, .log = 1};
    sp.dim[row("learning_rate")] =
        (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 0.001, .high = 1.0, .log = 1};
    sp.dim[row("batch_size")] = (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 8, .high = 64};
    sched_dim_t *act = &sp.dim[row("activation")];
    act->kind = SCHED_DIM_LIST;
    act->n = 3;
    for (int i = 0; i < 3; i++)
        act->list[i].e = i;
    return sp;
}

/* An objective peaking at learning_rate 0.05, batch_size 16 and activation choice 1. */
static double objective(const sched_params_t *p) {
    double a = log10(p->learning_rate) - log10(0.05), b = ((double)p->batch_size - 16) / 48;
    return 1.0 - a * a - b * b - (p->activation == 1 ? 0.0 : 0.3);
}

/* Observations of the first n draws of the space. */
static sched_tpe_obs_t *observe_draws(const sched_space_t *sp, size_t n) {
    sched_tpe_obs_t *o = calloc(n, sizeof *o);
    for (size_t k = 0; k < n; k++) {
        sched_space_draw(sp, sp->seed, k, &o[k].params);
        o[k].number = k;
        o[k].value = objective(&o[k].params);
    }
    return o;
}

static void test_propose_startup_and_purity(void **state) {
    (void)state;
    sched_space_t sp = tpe_space();
    sched_tpe_obs_t *o = observe_draws(&sp, 40);
    sched_params_t a, b, d;
    /* fewer than n_startup observations: the random draw of k */
    assert_int_equal(sched_tpe_propose(&sp, 3, 9, 10, o, 9, &a), 0);
    sched_space_draw(&sp, 3, 9, &d);
    assert_true(sched_params_same(&a, &d, 0));
    /* observations without a value do not count */
    for (size_t i = 0; i < 12; i++)
        o[20 + i].value = NAN;
    assert_int_equal(sched_tpe_propose(&sp, 3, 12, 10, o + 20, 12, &a), 0);
    sched_space_draw(&sp, 3, 12, &d);
    assert_true(sched_params_same(&a, &d, 0));
    free(o);
    o = observe_draws(&sp, 40);
    /* past startup: not the draw, within the space, the same for the same inputs */
    int differ = 0;
    for (uint64_t k = 10; k < 40; k++) {
        assert_int_equal(sched_tpe_propose(&sp, 3, k, 10, o, k, &a), 0);
        assert_int_equal(sched_tpe_propose(&sp, 3, k, 10, o, k, &b), 0);
        assert_true(sched_params_same(&a, &b, 0));
        sched_space_draw(&sp, 3, k, &d);
        differ += !sched_params_same(&a, &d, 0);
        assert_true(a.learning_rate >= 0.001 && a.learning_rate <= 1.0);
        assert_true(a.batch_size >= 8 && a.batch_size <= 64);
        assert_true(a.shape.n_hidden == 1 || a.shape.n_hidden == 2);
        assert_true(a.shape.hidden[0] >= 4 && a.shape.hidden[0] <= 64);
        assert_true(a.activation <= 2);
        assert_true(a.momentum == sp.base.momentum); /* not in the space: the base's */
    }
    assert_true(differ > 20);
    /* another seed, another proposal; the observations matter */
    assert_int_equal(sched_tpe_propose(&sp, 4, 30, 10, o, 30, &b), 0);
    assert_int_equal(sched_tpe_propose(&sp, 3, 30, 10, o, 30, &a), 0);
    assert_false(sched_params_same(&a, &b, 0));
    o[3].value = 5.0; /* a new best */
    assert_int_equal(sched_tpe_propose(&sp, 3, 30, 10, o, 30, &b), 0);
    assert_false(sched_params_same(&a, &b, 0));
    free(o);
}

/* A dimension with one value (a one-element list, a range with low == high) keeps the draw's
 * value: no estimator over an empty range (no NaN). */
static void test_propose_single_valued(void **state) {
    (void)state;
    sched_space_t sp = tpe_space();
    sp.dim[row("momentum")] = (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 0.5, .high = 0.5};
    sp.dim[row("batch_size")] = (sched_dim_t){.kind = SCHED_DIM_RANGE, .low = 16, .high = 16};
    sp.hidden_layers = (sched_dim_t){.kind = SCHED_DIM_LIST, .n = 1, .list = {{.i = 2}}};
    sched_tpe_obs_t *o = observe_draws(&sp, 20);
    sched_params_t a;
    for (uint64_t k = 20; k < 30; k++) {
        assert_int_equal(sched_tpe_propose(&sp, 3, k, 10, o, 20, &a), 0);
        assert_true(a.momentum == 0.5);
        assert_int_equal(a.batch_size, 16);
        assert_int_equal(a.shape.n_hidden, 2);
        assert_true(isfinite(a.learning_rate) && a.learning_rate >= 0.001);
    }
    free(o);
}

/* Sequential TPE on the objective does better than the random draws of the same count. */
static void test_propose_finds_the_good_region(void **state) {
    (void)state;
    sched_space_t sp = tpe_space();
    size_t n = 60;
    sched_tpe_obs_t *o = calloc(n, sizeof *o);
    double tpe_late = 0, rnd_late = 0;
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(sched_tpe_propose(&sp, sp.seed, k, 10, o, k, &o[k].params), 0);
        o[k].number = k;
        o[k].value = objective(&o[k].params);
        sched_params_t r;
        sched_space_draw(&sp, sp.seed, k, &r);
        if (k >= 30) {
            tpe_late += o[k].value;
            rnd_late += objective(&r);
        }
    }
    /* the last 30 proposals average far above the last 30 random draws */
    assert_true(tpe_late / 30 > rnd_late / 30 + 0.2);
    size_t act1 = 0;
    for (size_t k = 30; k < n; k++)
        act1 += o[k].params.activation == 1;
    assert_true(act1 > 20);
    free(o);
}

/* Pruned observations count: a trial pruned at the furthest step ranks above one pruned early,
 * whatever their values, and a good completed one pulls proposals to it. */
static void test_propose_with_pruned(void **state) {
    (void)state;
    sched_space_t sp = tpe_space();
    sched_tpe_obs_t *o = observe_draws(&sp, 30);
    for (size_t k = 0; k < 30; k++) { /* every trial pruned early with a high value ... */
        o[k].pruned = 1;
        o[k].step = 1;
        o[k].value = 0.99;
    }
    o[17].step = 9; /* ... but 17 went furthest, with a low value: it is the good one */
    o[17].value = 0.1;
    int good[30];
    sched_tpe_split(o, 30, sched_tpe_gamma(30), good);
    assert_true(good[17]);
    sched_params_t a;
    size_t near = 0;
    for (uint64_t k = 30; k < 50; k++) {
        assert_int_equal(sched_tpe_propose(&sp, 3, k, 10, o, 30, &a), 0);
        near += a.activation == o[17].params.activation;
    }
    assert_true(near >= 12);
    free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gamma_and_weights),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_categorical_estimator),
        cmocka_unit_test(test_numeric_estimator),
        cmocka_unit_test(test_propose_startup_and_purity),
        cmocka_unit_test(test_propose_single_valued),
        cmocka_unit_test(test_propose_finds_the_good_region),
        cmocka_unit_test(test_propose_with_pruned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
