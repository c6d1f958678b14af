/*
 * test_optim.c - the optimisers, regularisation and schedules (trainer/optim.h): two steps of
 * each optimiser on a tiny net against its formula written out per parameter in double, the
 * update split into column slices equal to the whole, the L2 term against finite differences of
 * the penalised loss, each schedule against its formula at chosen positions, the options'
 * checks, checkpoints of format 2 (adam resumed bit for bit; sgd still writing format 1, which
 * still resumes, also into a `momentum` run; mismatched optimisers refused) and Adam learning the
 * blobs.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlpt_err.h"
#include "optim.h"
#include "rng.h"
#include "trainer_fixtures.h"

#define ROWS 8
#define IN 6
#define OUT 3

static trainer_arch_t tiny_arch(void) {
    return (trainer_arch_t){.inputs = IN,
                            .outputs = OUT,
                            .n_hidden = 2,
                            .hidden = {5, 4},
                            .activation = TRAINER_ACT_TANH};
}

static void tiny_batch(float *x, int32_t *y) {
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 31, 31);
    fx_fill_uniform(x, ROWS * IN, &rng, -2.0f, 2.0f);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = (int32_t)(i % OUT);
}

static trainer_model_t *tiny_model(uint64_t seed) {
    trainer_arch_t a = tiny_arch();
    trainer_model_t *m = trainer_model_new(&a, seed);
    assert_non_null(m);
    m->gemm = TRAINER_GEMM_NAIVE;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 1000);
    for (size_t l = 0; l < m->n_layers; l++)
        fx_fill_uniform(trainer_layer_bias(&a, m->params, l), trainer_layer_width(&a, l), &rng,
                        -0.5f, 0.5f);
    return m;
}

/* Forward with labels (gradient scaled by 1/ROWS); returns the mean cross-entropy. */
static double forward(const trainer_model_t *m, trainer_scratch_t *s, const float *x,
                      const int32_t *y) {
    memcpy(trainer_scratch_input(s), x, sizeof(float) * ROWS * IN);
    double loss = 0.0;
    size_t correct = 0;
    trainer_mlp_forward(m, s, ROWS, y, &loss, &correct);
    return loss / ROWS;
}

/* One step of the run's update stage on the whole batch: backward, then every layer in `slices`
 * column slices through trainer_optim_update. */
static void optim_step(trainer_model_t *m, trainer_scratch_t *s, const float *x, const int32_t *y,
                       const trainer_options_t *o, float lr, uint64_t t,
                       const trainer_optim_state_t *st, size_t slices) {
    forward(m, s, x, y);
    for (size_t l = m->n_layers - 1; l > 0; l--)
        trainer_mlp_backward_slice(m, s, l, ROWS, 0, trainer_layer_width(&m->arch, l - 1));
    trainer_optim_step_t k;
    trainer_optim_prepare(o, lr, t, &k);
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t w = trainer_layer_width(&m->arch, l);
        for (size_t p = 0; p < slices; p++)
            trainer_optim_update(m, s, ROWS, l, w * p / slices, w * (p + 1) / slices, &k, st);
    }
}

/* Whether parameter i is a weight (else a bias). */
static int is_weight(const trainer_model_t *m, size_t i) {
    size_t off = 0;
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t in, out;
        trainer_layer_weights(&m->arch, m->params, l, &in, &out);
        if (i < off + in * out)
            return 1;
        if (i < off + (in + 1) * out)
            return 0;
        off += (in + 1) * out;
    }
    return 0;
}

/* The formula of optim.h for parameter value w with gradient g, in double; v and s the state. */
static double direct(const trainer_options_t *o, double lr, uint64_t t, int weight, double w,
                     double g, double *v, double *s) {
    double mu = trainer_optim_momentum(o), c = weight ? o->l2 / (double)o->batch_size : 0.0;
    double d = 1.0 - lr * o->weight_decay;
    switch (o->optimizer) {
    case TRAINER_OPT_SGD:
    case TRAINER_OPT_MOMENTUM:
        *v = mu * *v + g + c * w;
        return d * w - lr * (mu > 0 ? *v : g + c * w);
    case TRAINER_OPT_NESTEROV: {
        double gp = g + c * w;
        *v = mu * *v + gp;
        return d * w - lr * (gp + mu * *v);
    }
    case TRAINER_OPT_RMSPROP: {
        double gp = g + c * w;
        *s = o->rho * *s + (1 - o->rho) * gp * gp;
        double u = gp / (sqrt(*s) + o->epsilon);
        if (mu > 0) {
            *v = mu * *v + u;
            u = *v;
        }
        return d * w - lr * u;
    }
    case TRAINER_OPT_ADAM:
    case TRAINER_OPT_ADAMW: {
        int coupled = o->optimizer == TRAINER_OPT_ADAM;
        double gp = g + c * w + (coupled ? o->weight_decay * w : 0.0);
        *v = o->beta1 * *v + (1 - o->beta1) * gp;
        *s = o->beta2 * *s + (1 - o->beta2) * gp * gp;
        double ah = *v / (1 - pow(o->beta1, (double)t)), sh = *s / (1 - pow(o->beta2, (double)t));
        return (coupled ? w : d * w) - lr * ah / (sqrt(sh) + o->epsilon);
    }
    }
    return NAN;
}

static trainer_options_t base_options(trainer_optimizer_t kind) {
    return (trainer_options_t){.learning_rate = 0.05f,
                               .batch_size = ROWS,
                               .iterations = 1,
                               .optimizer = kind,
                               .beta1 = 0.9f,
                               .beta2 = 0.999f,
                               .epsilon = 1e-8f,
                               .rho = 0.99f};
}

/* Two steps of o against the direct formula, and the same in 3 column slices bit for bit. */
static void check_steps(const trainer_options_t *o) {
    float x[ROWS * IN];
    int32_t y[ROWS];
    tiny_batch(x, y);
    trainer_arch_t a = tiny_arch();
    trainer_model_t *m = tiny_model(5), *e = trainer_model_clone(m), *m3 = trainer_model_clone(m);
    assert_non_null(e);
    assert_non_null(m3);
    trainer_scratch_t *s = trainer_scratch_new(&a, ROWS);
    assert_non_null(s);
    size_t n = m->n_params;
    int want_v, want_s, want_g;
    trainer_optim_buffers(o, &want_v, &want_s, &want_g);
    float *buf = fx_calloc(6 * n, sizeof(float)), *g = fx_calloc(n, sizeof(float));
    trainer_optim_state_t st = {want_v ? buf : NULL, want_s ? buf + n : NULL,
                                want_g ? buf + 2 * n : NULL};
    trainer_optim_state_t st3 = {want_v ? buf + 3 * n : NULL, want_s ? buf + 4 * n : NULL,
                                 want_g ? buf + 5 * n : NULL};
    double *v = fx_calloc(n, sizeof(double)), *sq = fx_calloc(n, sizeof(double));
    const float lr = o->learning_rate;
    double moved = 0.0;
    for (uint64_t t = 1; t <= 2; t++) {
        forward(e, s, x, y);
        trainer_mlp_gradient(e, s, ROWS, g);
        for (size_t i = 0; i < n; i++)
            e->params[i] =
                (float)direct(o, lr, t, is_weight(e, i), e->params[i], g[i], &v[i], &sq[i]);
        float before = m->params[0];
        optim_step(m, s, x, y, o, lr, t, &st, 1);
        optim_step(m3, s, x, y, o, lr, t, &st3, 3);
        moved = fmax(moved, fabs(m->params[0] - before));
        for (size_t i = 0; i < n; i++)
            fx_assert_close(m->params[i], e->params[i], 2e-5 * (1.0 + fabs(e->params[i])));
        /* column slices: the same numbers (the naive GEMM sums each column alike) */
        assert_memory_equal(m->params, m3->params, n * sizeof(float));
    }
    fx_assert_lt(1e-4, moved);
    free(buf);
    free(g);
    free(v);
    free(sq);
    trainer_scratch_free(s);
    trainer_model_free(m);
    trainer_model_free(e);
    trainer_model_free(m3);
}

static void test_adam_step(void **state) {
    (void)state;
    trainer_options_t o = base_options(TRAINER_OPT_ADAM);
    check_steps(&o);
    o.weight_decay = 0.3f; /* coupled: into the gradient */
    o.l2 = 0.8f;
    check_steps(&o);
}

static void test_adamw_step(void **state) {
    (void)state;
    trainer_options_t o = base_options(TRAINER_OPT_ADAMW);
    o.weight_decay = 0.5f;
    check_steps(&o);
    o.beta1 = 0.5f, o.beta2 = 0.8f, o.epsilon = 1e-3f;
    check_steps(&o);
}

static void test_rmsprop_step(void **state) {
    (void)state;
    trainer_options_t o = base_options(TRAINER_OPT_RMSPROP);
    o.learning_rate = 0.01f;
    check_steps(&o);
    o.momentum = 0.5f;
    o.weight_decay = 0.2f;
    check_steps(&o);
}

static void test_nesterov_step(void **state) {
    (void)state;
    trainer_options_t o = base_options(TRAINER_OPT_NESTEROV); /* momentum 0: 0.9 */
    assert_true(trainer_optim_momentum(&o) == 0.9f);
    check_steps(&o);
    o.momentum = 0.5f;
    o.l2 = 0.4f;
    o.weight_decay = 0.1f;
    check_steps(&o);
}

/* sgd and momentum with l2 and weight_decay (the GEMM's folded beta, and the velocity pass). */
static void test_sgd_regularised_step(void **state) {
    (void)state;
    trainer_options_t o = base_options(TRAINER_OPT_SGD);
    o.learning_rate = 0.3f;
    o.l2 = 2.0f;
    o.weight_decay = 0.1f;
    check_steps(&o);
    o.momentum = 0.7f;
    check_steps(&o);
    o = base_options(TRAINER_OPT_MOMENTUM);
    o.l2 = 1.0f;
    check_steps(&o);
    o.l2 = 0.0f; /* the folded path of before */
    check_steps(&o);
}

/* The L2 term: the step plain SGD takes at lr 1 is the gradient of the penalised loss
 * mean xent + 0.5 * l2 * sum(W^2) / batch; compared with its central differences. */
static double penalised_loss(const trainer_model_t *m, trainer_scratch_t *s, const float *x,
                             const int32_t *y, double l2) {
    double sum = 0.0;
    for (size_t i = 0; i < m->n_params; i++)
        if (is_weight(m, i))
            sum += (double)m->params[i] * m->params[i];
    return forward(m, s, x, y) + 0.5 * l2 * sum / ROWS;
}

static void test_l2_finite_differences(void **state) {
    (void)state;
    float x[ROWS * IN];
    int32_t y[ROWS];
    tiny_batch(x, y);
    trainer_arch_t a = tiny_arch();
    trainer_model_t *m = tiny_model(9), *stepped = trainer_model_clone(m);
    assert_non_null(stepped);
    trainer_scratch_t *s = trainer_scratch_new(&a, ROWS);
    assert_non_null(s);
    trainer_options_t o = base_options(TRAINER_OPT_SGD);
    o.l2 = 3.0f;
    trainer_optim_state_t none = {0};
    optim_step(stepped, s, x, y, &o, 1.0f, 1, &none, 1);
    const double h = 1e-2;
    double worst = 0.0, penalty = 0.0;
    for (size_t i = 0; i < m->n_params; i++) {
        double got = (double)m->params[i] - stepped->params[i];
        float keep = m->params[i];
        m->params[i] = (float)(keep + h);
        double up = penalised_loss(m, s, x, y, o.l2);
        m->params[i] = (float)(keep - h);
        double down = penalised_loss(m, s, x, y, o.l2);
        double dx = (double)(float)(keep + h) - (double)(float)(keep - h);
        m->params[i] = keep;
        double want = (up - down) / dx;
        worst = fmax(worst, fabs(got - want) / (1e-3 + fabs(want)));
        if (is_weight(m, i))
            penalty = fmax(penalty, fabs(o.l2 / ROWS * keep));
    }
    fx_assert_lt(worst, 2e-3);
    fx_assert_lt(0.05, penalty); /* the penalty's share is large enough to show */
    trainer_scratch_free(s);
    trainer_model_free(m);
    trainer_model_free(stepped);
}

/* ------------------------------------------------------------------------------------------ */
/* Schedules */

static void test_schedules(void **state) {
    (void)state;
    trainer_options_t o = {.learning_rate = 0.2f, .iterations = 10, .batch_size = 8};
    /* constant: the rate itself, bit for bit */
    assert_true(trainer_schedule_lr(&o, 7, 3, 5, 40) == 0.2f);
    o.schedule = TRAINER_SCHED_STEP;
    o.lr_gamma = 0.5f, o.lr_step = 3;
    fx_assert_close(trainer_schedule_lr(&o, 1, 0, 5, 40), 0.2, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 3, 4, 5, 40), 0.2, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 4, 0, 5, 40), 0.1, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 7, 2, 5, 40), 0.05, 1e-7);
    o.schedule = TRAINER_SCHED_COSINE;
    o.lr_min = 0.02f;
    fx_assert_close(trainer_schedule_lr(&o, 1, 0, 5, 40), 0.2, 1e-7);
    /* halfway: k = 25 of 50 */
    fx_assert_close(trainer_schedule_lr(&o, 6, 0, 5, 40), 0.11, 1e-6);
    double x = 37.0 / 50.0, want = 0.02 + 0.18 * 0.5 * (1 + cos(3.14159265358979 * x));
    fx_assert_close(trainer_schedule_lr(&o, 8, 2, 5, 40), want, 1e-6);
    o.schedule = TRAINER_SCHED_INVSCALING;
    o.power_t = 0.5f;
    fx_assert_close(trainer_schedule_lr(&o, 1, 3, 5, 40), 0.2, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 3, 0, 5, 40), 0.2 / sqrt(81.0), 1e-7);
    /* warmup of 2 iterations (10 mini-batches), then the schedule */
    o.schedule = TRAINER_SCHED_CONSTANT;
    o.warmup = 2;
    fx_assert_close(trainer_schedule_lr(&o, 1, 0, 5, 40), 0.02, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 2, 2, 5, 40), 0.2 * 8 / 10, 1e-7);
    fx_assert_close(trainer_schedule_lr(&o, 3, 0, 5, 40), 0.2, 1e-7);
    o.schedule = TRAINER_SCHED_COSINE; /* the cosine starts after the warmup */
    fx_assert_close(trainer_schedule_lr(&o, 3, 0, 5, 40), 0.2, 1e-7);
    want = 0.02 + 0.18 * 0.5 * (1 + cos(3.14159265358979 * 20.0 / 40.0));
    fx_assert_close(trainer_schedule_lr(&o, 7, 0, 5, 40), want, 1e-6);
}

/* ------------------------------------------------------------------------------------------ */
/* Options */

static void test_options_check(void **state) {
    (void)state;
    trainer_options_t ok = {.learning_rate = 0.1f, .batch_size = 4, .iterations = 2};
    assert_int_equal(trainer_options_check(&ok), 0); /* zero tail: plain SGD */
    trainer_options_t adam = base_options(TRAINER_OPT_ADAM);
    assert_int_equal(trainer_options_check(&adam), 0);
    trainer_options_t o;
#define BAD(stmt)                                                                                  \
    do {                                                                                           \
        o = adam;                                                                                  \
        stmt;                                                                                      \
        assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);                                  \
    } while (0)
    BAD(o.optimizer = (trainer_optimizer_t)6);
    BAD(o.optimizer = (trainer_optimizer_t)-1);
    BAD(o.beta1 = 1.0f);
    BAD(o.beta2 = -0.1f);
    BAD(o.beta1 = NAN);
    BAD(o.epsilon = 0.0f);
    BAD(o.epsilon = INFINITY);
    BAD(o.rho = 1.0f);
    BAD(o.l2 = -1.0f);
    BAD(o.l2 = NAN);
    BAD(o.weight_decay = -0.5f);
    BAD(o.schedule = (trainer_schedule_t)4);
    BAD((o.schedule = TRAINER_SCHED_STEP, o.lr_gamma = 0.0f, o.lr_step = 1));
    BAD((o.schedule = TRAINER_SCHED_STEP, o.lr_gamma = 1.5f, o.lr_step = 1));
    BAD((o.schedule = TRAINER_SCHED_STEP, o.lr_gamma = 0.5f, o.lr_step = 0));
    BAD(o.lr_min = -1.0f);
    BAD(o.power_t = NAN);
    BAD(o.warmup = TRAINER_MAX_ITERATIONS + 1);
    BAD((o.optimizer = TRAINER_OPT_RMSPROP, o.epsilon = 0.0f));
#undef BAD
    o = adam;
    o.schedule = TRAINER_SCHED_STEP, o.lr_gamma = 1.0f, o.lr_step = 2;
    assert_int_equal(trainer_options_check(&o), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Runs and checkpoints */

#define BROWS 600
#define BFEAT 12
#define BCLASSES 3
#define MAX_CK 16

static trainer_dataset_t *blobs(void) {
    return fx_blobs(BROWS, BFEAT, BCLASSES, 3, 5.0f, 2.5f);
}

typedef struct {
    double acc[32];
    size_t n;
    trainer_checkpoint_t ck[MAX_CK];
    size_t n_ck;
} rec_t;

static int on_epoch(const trainer_epoch_t *e, void *user) {
    rec_t *r = user;
    r->acc[r->n++] = e->val_accuracy;
    return 0;
}

static void on_ckpt(const trainer_checkpoint_t *c, void *user) {
    rec_t *r = user;
    assert_true(r->n_ck < MAX_CK);
    r->ck[r->n_ck++] = *c;
}

static void rec_free(rec_t *r) {
    for (size_t i = 0; i < r->n_ck; i++)
        free(r->ck[i].bytes);
}

/* Trains (from `from` when given) and returns the model; rc the run's resume answer. */
static trainer_model_t *run(const trainer_dataset_t *ds, const trainer_split_t *sp,
                            const trainer_options_t *o, const trainer_checkpoint_t *from,
                            rec_t *rec, int *resume_rc) {
    trainer_arch_t a = {.inputs = BFEAT,
                        .outputs = BCLASSES,
                        .n_hidden = 1,
                        .hidden = {16},
                        .activation = TRAINER_ACT_RELU};
    trainer_model_t *m = trainer_model_new(&a, 4);
    assert_non_null(m);
    trainer_run_t *r;
    assert_int_equal(trainer_run_new(m, ds, sp, o, &r), 0);
    if (from) {
        *resume_rc = trainer_run_resume(r, from->bytes, from->len, NULL);
        if (*resume_rc != 0) {
            trainer_run_free(r);
            trainer_model_free(m);
            return NULL;
        }
    }
    trainer_result_t res;
    assert_int_equal(trainer_run_go(r, on_epoch, on_ckpt, rec, &res), 0);
    trainer_run_free(r);
    return m;
}

static trainer_options_t run_options(trainer_optimizer_t kind) {
    trainer_options_t o = base_options(kind);
    o.learning_rate = 0.01f;
    o.batch_size = 32;
    o.iterations = 8;
    o.seed = 3;
    o.partitions = 2;
    o.checkpoint_every = 3;
    return o;
}

/* Adam (and AdamW with a cosine schedule, warmup and L2) resumed from a checkpoint of format 2
 * ends bit for bit where the uninterrupted run does; Adam learns the blobs. */
static void test_adam_resume(void **state) {
    (void)state;
    trainer_dataset_t *ds = blobs();
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, 0.25, 3, &sp), 0);
    for (int variant = 0; variant < 2; variant++) {
        trainer_options_t o = run_options(variant ? TRAINER_OPT_ADAMW : TRAINER_OPT_ADAM);
        if (variant) {
            o.schedule = TRAINER_SCHED_COSINE, o.warmup = 2, o.lr_min = 0.001f;
            o.l2 = 0.1f, o.weight_decay = 0.01f;
        }
        rec_t whole = {0}, part = {0};
        trainer_model_t *m = run(ds, &sp, &o, NULL, &whole, NULL);
        assert_int_equal(whole.n, 8);
        fx_assert_lt(0.9, whole.acc[7]);
        assert_int_equal(whole.n_ck, 2);           /* after iterations 3 and 6 */
        assert_int_equal(whole.ck[0].bytes[8], 2); /* format 2 */
        int rc = 0;
        trainer_model_t *r = run(ds, &sp, &o, &whole.ck[1], &part, &rc);
        assert_non_null(r);
        assert_int_equal(part.n, 2);
        assert_memory_equal(m->params, r->params, m->n_params * sizeof(float));
        trainer_checkpoint_t other = whole.ck[1];
        other.bytes = malloc(other.len);
        memcpy(other.bytes, whole.ck[1].bytes, other.len);
        /* an sgd run refuses adam's state */
        trainer_options_t sgd = o;
        sgd.optimizer = TRAINER_OPT_SGD;
        rec_t none = {0};
        assert_null(run(ds, &sp, &sgd, &other, &none, &rc));
        assert_int_equal(rc, MLPT_EINVAL);
        /* a torn byte: refused */
        other.bytes[other.len / 2] ^= 1;
        assert_null(run(ds, &sp, &o, &other, &none, &rc));
        assert_int_equal(rc, MLPT_EFORMAT);
        free(other.bytes);
        trainer_model_free(m);
        trainer_model_free(r);
        rec_free(&whole);
        rec_free(&part);
    }
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds);
}

/* sgd still writes format 1 (today's bytes); they resume an sgd run and a `momentum` run with
 * the same momentum exactly, and are refused by adam. */
static void test_format1_resumes(void **state) {
    (void)state;
    trainer_dataset_t *ds = blobs();
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, 0.25, 3, &sp), 0);
    trainer_options_t o = run_options(TRAINER_OPT_SGD);
    o.learning_rate = 0.05f;
    o.momentum = 0.9f;
    rec_t whole = {0}, part = {0}, part2 = {0}, none = {0};
    trainer_model_t *m = run(ds, &sp, &o, NULL, &whole, NULL);
    assert_int_equal(whole.n_ck, 2);
    assert_int_equal(whole.ck[0].bytes[8], 1);
    int rc = 0;
    trainer_model_t *r = run(ds, &sp, &o, &whole.ck[0], &part, &rc);
    assert_non_null(r);
    assert_memory_equal(m->params, r->params, m->n_params * sizeof(float));
    trainer_options_t mo = o;
    mo.optimizer = TRAINER_OPT_MOMENTUM;
    trainer_model_t *r2 = run(ds, &sp, &mo, &whole.ck[0], &part2, &rc);
    assert_non_null(r2);
    assert_memory_equal(m->params, r2->params, m->n_params * sizeof(float));
    trainer_options_t ad = run_options(TRAINER_OPT_ADAM);
    assert_null(run(ds, &sp, &ad, &whole.ck[0], &none, &rc));
    assert_int_equal(rc, MLPT_EINVAL);
    trainer_model_free(m);
    trainer_model_free(r);
    trainer_model_free(r2);
    rec_free(&whole);
    rec_free(&part);
    rec_free(&part2);
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_step),
        cmocka_unit_test(test_adamw_step),
        cmocka_unit_test(test_rmsprop_step),
        cmocka_unit_test(test_nesterov_step),
        cmocka_unit_test(test_sgd_regularised_step),
        cmocka_unit_test(test_l2_finite_differences),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_options_check),
        cmocka_unit_test(test_adam_resume),
        cmocka_unit_test(test_format1_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
