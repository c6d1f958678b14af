/*
 * test_run.c - runs shared by threads, and checkpoints: a run's history and weights are the same
 * bit for bit whether helpers join it or not (with or without momentum, adamw and rmsprop with a
 * schedule and regularisation, with validation
 * overlapped on a helper), and a run resumed from any checkpoint (periodic, or taken when it was
 * stopped mid-iteration at a random moment) ends exactly as the uninterrupted run. Torn and
 * foreign checkpoints are refused.
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

#include "mlpt_err.h"
#include "train.h"
#include "trainer_fixtures.h"

#define ROWS 900
#define FEATURES 24
#define CLASSES 4
#define MAX_EPOCHS 64
#define MAX_CKPTS 64

/* Gaussian-ish blobs: class c centred at a per-class random point; noisy enough that training
 * keeps moving for many iterations. */
static trainer_dataset_t *blobs(uint64_t seed) {
    return fx_blobs(ROWS, FEATURES, CLASSES, seed, 10.0f, 2.0f);
}

typedef struct {
    trainer_epoch_t ep[MAX_EPOCHS];
    size_t n;
    trainer_checkpoint_t ck[MAX_CKPTS];
    size_t n_ck;
    double model_sum[MAX_EPOCHS]; /* checksum of the weights each epoch reported */
    size_t helper_tasks, overlapped;
} record_t;

static int on_epoch(const trainer_epoch_t *e, void *user) {
    record_t *r = user;
    assert_true(r->n < MAX_EPOCHS);
    assert_non_null(e->model);
    double sum = 0.0;
    for (size_t i = 0; i < e->model->n_params; i++)
        sum += (double)e->model->params[i] * (double)(i % 7 + 1);
    r->model_sum[r->n] = sum;
    r->ep[r->n++] = *e;
    return 0;
}

static void on_ckpt(const trainer_checkpoint_t *c, void *user) {
    record_t *r = user;
    assert_true(r->n_ck < MAX_CKPTS);
    r->ck[r->n_ck++] = *c;
}

static void record_free(record_t *r) {
    for (size_t i = 0; i < r->n_ck; i++)
        free(r->ck[i].bytes);
}

typedef struct {
    trainer_dataset_t *ds;
    trainer_split_t split;
    trainer_arch_t arch;
    trainer_options_t opt;
} setup_t;

static void setup(setup_t *su, float momentum, size_t parts) {
    su->ds = blobs(7);
    assert_int_equal(trainer_split_stratified(su->ds, 0.25, 7, &su->split), 0);
    su->arch = (trainer_arch_t){.inputs = FEATURES,
                                .outputs = CLASSES,
                                .n_hidden = 2,
                                .hidden = {48, 40},
                                .activation = TRAINER_ACT_TANH};
    su->opt = (trainer_options_t){.learning_rate = 0.05f,
                                  .momentum = momentum,
                                  .batch_size = 32,
                                  .iterations = 12,
                                  .seed = 11,
                                  .partitions = parts,
                                  .checkpoint_every = 3};
}

static void teardown(setup_t *su) {
    trainer_split_deinit(&su->split);
    trainer_dataset_free(su->ds);
}

typedef struct {
    trainer_run_t *run;
    atomic_int *leave;
} helper_arg_t;

static void *helper_main(void *p) {
    helper_arg_t *h = p;
    /* Joined before the thread started; then keeps offering help until the run ends. */
    do
        trainer_run_help(h->run, h->leave);
    while (trainer_run_join(h->run) == 0);
    return NULL;
}

/* Trains from scratch (or from ckpt) with `helpers` threads lending a hand. Returns the model. */
static trainer_model_t *train(setup_t *su, int helpers, const trainer_checkpoint_t *from,
                              const atomic_int *stop, record_t *rec, int expect_rc) {
    trainer_model_t *m = trainer_model_new(&su->arch, su->opt.seed);
    assert_non_null(m);
    trainer_options_t opt = su->opt;
    opt.stop = stop;
    trainer_run_t *run;
    assert_int_equal(trainer_run_new(m, su->ds, &su->split, &opt, &run), 0);
    if (from)
        assert_int_equal(trainer_run_resume(run, from->bytes, from->len, NULL), 0);
    pthread_t th[4];
    atomic_int leave;
    atomic_init(&leave, 0);
    helper_arg_t arg = {run, &leave};
    for (int i = 0; i < helpers; i++) {
        assert_int_equal(trainer_run_join(run), 0);
        assert_int_equal(pthread_create(&th[i], NULL, helper_main, &arg), 0);
    }
    trainer_result_t res;
    assert_int_equal(trainer_run_go(run, on_epoch, on_ckpt, rec, &res), expect_rc);
    rec->helper_tasks = res.helper_tasks;
    rec->overlapped = res.overlapped;
    for (int i = 0; i < helpers; i++)
        pthread_join(th[i], NULL);
    trainer_run_free(run);
    return m;
}

static int same(double a, double b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* got's epochs are iterations from, from + 1, ... and equal want's in every figure but the wall
 * time; with `all`, got also reaches want's last iteration. */
static void assert_same_history(const record_t *want, const record_t *got, size_t from, int all) {
    for (size_t k = 0; k < got->n; k++) {
        size_t i = from - 1 + k;
        assert_true(i < want->n);
        const trainer_epoch_t *a = &want->ep[i], *b = &got->ep[k];
        assert_int_equal(a->iteration, from + k);
        assert_int_equal(b->iteration, from + k);
        assert_true(same(a->train_loss, b->train_loss));
        assert_true(same(a->train_accuracy, b->train_accuracy));
        assert_true(same(a->val_loss, b->val_loss));
        assert_true(same(a->val_accuracy, b->val_accuracy));
        assert_true(same(want->model_sum[i], got->model_sum[k]));
    }
    if (all)
        assert_int_equal(from - 1 + got->n, want->n);
}

static void assert_same_weights(const trainer_model_t *a, const trainer_model_t *b) {
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
}

/* ------------------------------------------------------------------------------------------ */
/* Issue 16: another optimizer, with regularisation and a cosine schedule after a warmup. */
static void use_optimizer(setup_t *su, trainer_optimizer_t optimizer) {
    if (optimizer == TRAINER_OPT_SGD)
        return;
    su->opt.optimizer = optimizer;
    su->opt.learning_rate = 0.003f;
    su->opt.beta1 = 0.9f, su->opt.beta2 = 0.999f, su->opt.epsilon = 1e-8f, su->opt.rho = 0.9f;
    su->opt.l2 = 0.01f, su->opt.weight_decay = 0.01f;
    su->opt.schedule = TRAINER_SCHED_COSINE, su->opt.warmup = 1;
}

static void helpers_change_nothing(float momentum, trainer_optimizer_t optimizer) {
    setup_t su;
    setup(&su, momentum, 4);
    use_optimizer(&su, optimizer); /* the moments' update shares out the same */
    record_t alone = {0}, two = {0}, four = {0};
    trainer_model_t *m0 = train(&su, 0, NULL, NULL, &alone, 0);
    trainer_model_t *m1 = train(&su, 1, NULL, NULL, &two, 0);
    trainer_model_t *m3 = NULL;
    /* Helpers are threads the OS schedules when it likes: try until they have both taken
     * partitions and validated a copy (any attempt must give the same numbers). */
    for (int attempt = 0; attempt < 20; attempt++) {
        record_free(&four);
        trainer_model_free(m3);
        memset(&four, 0, sizeof four);
        m3 = train(&su, 3, NULL, NULL, &four, 0);
        assert_same_history(&alone, &four, 1, 1);
        if (four.helper_tasks > 0 && four.overlapped > 0)
            break;
    }
    assert_true(four.helper_tasks > 0);
    assert_true(four.overlapped > 0);
    assert_int_equal(alone.helper_tasks, 0);
    assert_int_equal(alone.n, su.opt.iterations);
    assert_same_history(&alone, &two, 1, 1);
    assert_same_history(&alone, &four, 1, 1);
    assert_same_weights(m0, m1);
    assert_same_weights(m0, m3);
    /* Training moved: the last iteration is better than the first. */
    assert_true(alone.ep[alone.n - 1].train_loss < alone.ep[0].train_loss);
    /* Checkpoints every 3 iterations, none at the end: 3, 6, 9. */
    assert_int_equal(alone.n_ck, 3);
    /* ... unless they must be further apart in time than the whole run takes. */
    record_t sparse = {0};
    su.opt.checkpoint_seconds = 3600.0;
    trainer_model_free(train(&su, 0, NULL, NULL, &sparse, 0));
    su.opt.checkpoint_seconds = 0.0;
    assert_int_equal(sparse.n_ck, 0);
    assert_same_history(&alone, &sparse, 1, 1);
    assert_int_equal(alone.ck[0].iteration, 3);
    assert_int_equal(alone.ck[2].iteration, 9);
    for (size_t i = 0; i < alone.n_ck; i++) {
        assert_int_equal(alone.ck[i].len, two.ck[i].len);
        assert_memory_equal(alone.ck[i].bytes, two.ck[i].bytes, alone.ck[i].len);
    }
    record_free(&alone);
    record_free(&two);
    record_free(&four);
    trainer_model_free(m0);
    trainer_model_free(m1);
    trainer_model_free(m3);
    teardown(&su);
}

static void test_helpers_change_nothing_sgd(void **state) {
    (void)state;
    helpers_change_nothing(0.0f, TRAINER_OPT_SGD);
}

static void test_helpers_change_nothing_momentum(void **state) {
    (void)state;
    helpers_change_nothing(0.9f, TRAINER_OPT_SGD);
}

static void test_helpers_change_nothing_adamw(void **state) {
    (void)state;
    helpers_change_nothing(0.0f, TRAINER_OPT_ADAMW);
}

static void test_helpers_change_nothing_rmsprop(void **state) {
    (void)state;
    helpers_change_nothing(0.5f, TRAINER_OPT_RMSPROP);
}

/* The partition count is part of the numbers, but one partition is the plain step: a run of
 * partitions 1 equals trainer_train's. */
static void test_one_partition_is_trainer_train(void **state) {
    (void)state;
    setup_t su;
    setup(&su, 0.0f, 1);
    record_t a = {0}, b = {0};
    trainer_model_t *m0 = train(&su, 0, NULL, NULL, &a, 0);
    trainer_model_t *m1 = trainer_model_new(&su.arch, su.opt.seed);
    assert_int_equal(trainer_train(m1, su.ds, &su.split, &su.opt, on_epoch, &b, NULL), 0);
    assert_same_history(&a, &b, 1, 1);
    assert_same_weights(m0, m1);
    record_free(&a);
    trainer_model_free(m0);
    trainer_model_free(m1);
    teardown(&su);
}

/* Partitions change only the rounding: 1, 2 and 3 partitions (and momentum) train the same
 * network to within float noise, so the slices compute the same step as the plain one. */
static void test_partitions_compute_the_same_step(void **state) {
    (void)state;
    for (int mom = 0; mom < 2; mom++) {
        static record_t rec[3];
        memset(rec, 0, sizeof rec);
        trainer_model_t *m[3];
        for (size_t p = 1; p <= 3; p++) {
            setup_t su;
            setup(&su, mom ? 0.9f : 0.0f, p);
            su.opt.iterations = 4;
            m[p - 1] = train(&su, (int)(p - 1), NULL, NULL, &rec[p - 1], 0);
            teardown(&su);
        }
        for (size_t p = 1; p < 3; p++) {
            assert_int_equal(rec[p].n, rec[0].n);
            for (size_t i = 0; i < rec[0].n; i++) {
                double a = rec[0].ep[i].train_loss, b = rec[p].ep[i].train_loss;
                assert_true(fabs(a - b) <= 1e-4 * fabs(a));
                assert_true(fabs(rec[0].ep[i].val_loss - rec[p].ep[i].val_loss) <=
                            1e-4 * fabs(rec[0].ep[i].val_loss));
            }
            double worst = 0.0;
            for (size_t k = 0; k < m[0]->n_params; k++) {
                double d = fabs((double)m[0]->params[k] - (double)m[p]->params[k]);
                worst = d > worst ? d : worst;
            }
            assert_true(worst < 1e-4);
        }
        for (int p = 0; p < 3; p++) {
            record_free(&rec[p]);
            trainer_model_free(m[p]);
        }
    }
}

/* A short last batch steps in proportion to its rows. B + 1 identical rows (so the shuffle
 * cannot matter), batch B: the run must equal a full step on B rows, then lr/B times one row's
 * gradient (a mean over the last batch's own row would take a step B times larger). */
static void test_short_last_batch_steps_in_proportion(void **state) {
    (void)state;
    enum { B = 16, N = B + 1, F = 5 };
    trainer_dataset_t *ds = fx_dataset_new(N, F, 2, TRAINER_SCALE_UNIT);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < F; j++)
            ds->x[i * F + j] = 0.2f * (float)j - 0.3f;
    ds->y[0] = 1; /* one row of class 1 so the dataset has two classes; it is not trained on */
    fx_dataset_recount(ds);
    /* B + 1 training rows, all copies of row 1 (row 0 is the class-1 row, not trained on) */
    size_t train[N];
    for (size_t i = 0; i < N; i++)
        train[i] = 1 + i % (N - 1);
    trainer_split_t split = {.train = train, .n_train = N};
    trainer_arch_t arch = {
        .inputs = F, .outputs = 2, .n_hidden = 1, .hidden = {7}, .activation = TRAINER_ACT_TANH};
    const float lr = 0.7f;
    trainer_options_t opt = {
        .learning_rate = lr, .batch_size = B, .iterations = 1, .seed = 3, .partitions = 2};
    trainer_model_t *run_m = trainer_model_new(&arch, 3);
    assert_int_equal(trainer_train(run_m, ds, &split, &opt, NULL, NULL, NULL), 0);

    trainer_model_t *want = trainer_model_new(&arch, 3);
    trainer_scratch_t *s = trainer_scratch_new(&arch, B);
    float *g = calloc(want->n_params, sizeof *g);
    int32_t y[B] = {0};
    for (size_t i = 0; i < B; i++)
        memcpy(trainer_scratch_input(s) + i * F, ds->x + F, F * sizeof(float));
    trainer_mlp_forward(want, s, B, y, &(double){0}, &(size_t){0});
    trainer_mlp_sgd_step(want, s, B, lr, 0.0f, NULL);
    trainer_mlp_forward(want, s, 1, y, &(double){0}, &(size_t){0});
    trainer_mlp_gradient(want, s, 1, g);
    for (size_t k = 0; k < want->n_params; k++)
        want->params[k] -= lr / (float)B * g[k];
    double worst = 0.0;
    for (size_t k = 0; k < want->n_params; k++) {
        double d = fabs((double)want->params[k] - (double)run_m->params[k]);
        worst = d > worst ? d : worst;
    }
    assert_true(worst < 1e-5);
    free(g);
    trainer_scratch_free(s);
    trainer_model_free(want);
    trainer_model_free(run_m);
    trainer_dataset_free(ds);
}

/* Resuming from each periodic checkpoint, with or without helpers, gives the rest of the
 * uninterrupted history and its final weights. */
static void test_resume_from_every_checkpoint(void **state) {
    (void)state;
    setup_t su;
    setup(&su, 0.5f, 2);
    record_t full = {0};
    trainer_model_t *want = train(&su, 1, NULL, NULL, &full, 0);
    assert_int_equal(full.n_ck, 3);
    for (size_t i = 0; i < full.n_ck; i++) {
        record_t rest = {0};
        trainer_model_t *got = train(&su, (int)(i % 2), &full.ck[i], NULL, &rest, 0);
        assert_same_history(&full, &rest, full.ck[i].iteration + 1, 1);
        assert_same_weights(want, got);
        record_free(&rest);
        trainer_model_free(got);
    }
    record_free(&full);
    trainer_model_free(want);
    teardown(&su);
}

/* A run paused at an iteration (opt.pause_at) ends there, whole, with its final checkpoint even
 * while helpers overlap validation; going on from it, in segments, gives the uninterrupted
 * history and weights; momentum included. */
static void test_pause_then_go_on(void **state) {
    (void)state;
    setup_t su;
    setup(&su, 0.5f, 2);
    su.opt.final_checkpoint = 1;
    record_t full = {0};
    trainer_model_t *want = train(&su, 1, NULL, NULL, &full, 0);
    static const size_t gates[] = {1, 3, 9};
    trainer_checkpoint_t from = {0};
    size_t done = 0;
    for (size_t g = 0; g <= 3; g++) {
        record_t part = {0};
        su.opt.pause_at = g < 3 ? gates[g] : 0;
        trainer_model_t *m =
            train(&su, 1, from.bytes ? &from : NULL, NULL, &part, g < 3 ? MLPT_ESTOPPED : 0);
        assert_same_history(&full, &part, done + 1, g == 3);
        done += part.n;
        free(from.bytes);
        memset(&from, 0, sizeof from);
        for (size_t i = 0; g < 3 && i < part.n_ck; i++) /* the final one is taken last */
            if (part.ck[i].final) {
                assert_int_equal(part.ck[i].iteration, gates[g]);
                free(from.bytes);
                from = part.ck[i];
                part.ck[i].bytes = NULL;
            }
        if (g < 3) {
            assert_int_equal(done, gates[g]);
            assert_non_null(from.bytes);
        } else {
            assert_same_weights(want, m);
        }
        record_free(&part);
        trainer_model_free(m);
    }
    free(from.bytes);
    /* a gate at or past the end is no gate */
    su.opt.pause_at = su.opt.iterations;
    assert_int_equal(trainer_options_check(&su.opt), MLPT_EINVAL);
    record_free(&full);
    trainer_model_free(want);
    teardown(&su);
}

typedef struct {
    atomic_int *stop;
    long after_us;
} stopper_t;

static void *stopper_main(void *p) {
    stopper_t *s = p;
    struct timespec ts = {s->after_us / 1000000, (s->after_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    atomic_store(s->stop, 1);
    return NULL;
}

/* Stopped at a random moment (usually mid-iteration), a run hands over a checkpoint covering the
 * iterations it reported; resuming from it completes the uninterrupted history exactly. */
static void stop_anywhere_then_resume(trainer_optimizer_t optimizer) {
    setup_t su;
    setup(&su, 0.0f, 2);
    use_optimizer(&su, optimizer); /* format 2: the moments and the mid-pass step count */
    su.opt.checkpoint_every = 0;   /* only the stop's checkpoint */
    record_t full = {0};
    trainer_model_t *want = train(&su, 0, NULL, NULL, &full, 0);
    double total = 0.0;
    for (size_t i = 0; i < full.n; i++)
        total += full.ep[i].seconds;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, (uint64_t)time(NULL), 5);
    /* Stop times are drawn within the reference run's duration; a round that ends before its stop
     * (a faster run than the reference) halves that range, so the test cannot pass vacuously and
     * never hinges on timing. */
    int mid = 0;
    double range = 0.9;
    for (int round = 0; round < 40 && mid < 4; round++) {
        atomic_int stop;
        atomic_init(&stop, 0);
        stopper_t st = {&stop, (long)(trainer_rng_uniform(&rng) * total * range * 1e6)};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stopper_main, &st), 0);
        record_t part = {0};
        trainer_model_t *m = trainer_model_new(&su.arch, su.opt.seed);
        trainer_options_t opt = su.opt;
        opt.stop = &stop;
        trainer_run_t *run;
        assert_int_equal(trainer_run_new(m, su.ds, &su.split, &opt, &run), 0);
        int rc = trainer_run_go(run, on_epoch, on_ckpt, &part, NULL);
        trainer_run_free(run);
        pthread_join(th, NULL);
        trainer_model_free(m);
        if (rc == 0) { /* finished before the stop: nothing to resume */
            record_free(&part);
            range *= 0.5;
            continue;
        }
        assert_int_equal(rc, MLPT_ESTOPPED);
        assert_int_equal(part.n_ck, 1);
        assert_int_equal(part.ck[0].iteration, part.n);
        assert_same_history(&full, &part, 1, 0); /* what it reported so far is the same */
        size_t kept;
        trainer_model_t *m2 = trainer_model_new(&su.arch, su.opt.seed);
        trainer_run_t *run2;
        assert_int_equal(trainer_run_new(m2, su.ds, &su.split, &su.opt, &run2), 0);
        assert_int_equal(trainer_run_resume(run2, part.ck[0].bytes, part.ck[0].len, &kept), 0);
        assert_int_equal(kept, part.n);
        record_t rest = {0};
        assert_int_equal(trainer_run_go(run2, on_epoch, NULL, &rest, NULL), 0);
        trainer_run_free(run2);
        assert_same_history(&full, &rest, kept + 1, 1);
        assert_same_weights(want, m2);
        mid++;
        trainer_model_free(m2);
        record_free(&part);
    }
    assert_true(mid > 0);
    record_free(&full);
    trainer_model_free(want);
    teardown(&su);
}

static void test_stop_anywhere_then_resume(void **state) {
    (void)state;
    stop_anywhere_then_resume(TRAINER_OPT_SGD);
}

static void test_stop_anywhere_then_resume_adamw(void **state) {
    (void)state;
    stop_anywhere_then_resume(TRAINER_OPT_ADAMW);
}

static void test_bad_checkpoints_are_refused(void **state) {
    (void)state;
    setup_t su;
    setup(&su, 0.0f, 2);
    record_t full = {0};
    trainer_model_t *want = train(&su, 0, NULL, NULL, &full, 0);
    const trainer_checkpoint_t *c = &full.ck[0];
    trainer_model_t *m = trainer_model_new(&su.arch, su.opt.seed);
    trainer_run_t *run;
    assert_int_equal(trainer_run_new(m, su.ds, &su.split, &su.opt, &run), 0);
    /* Every truncation, and a flipped bit anywhere, is refused. */
    for (size_t len = 0; len < c->len; len += 1 + len / 8)
        assert_int_equal(trainer_run_resume(run, c->bytes, len, NULL), MLPT_EFORMAT);
    unsigned char *copy = malloc(c->len);
    for (size_t at = 0; at < c->len; at += 1 + at / 4) {
        memcpy(copy, c->bytes, c->len);
        copy[at] ^= 0x10;
        assert_int_not_equal(trainer_run_resume(run, copy, c->len, NULL), 0);
    }
    free(copy);
    trainer_run_free(run);
    /* Another batch size or partition count: a different run. */
    trainer_options_t other = su.opt;
    other.batch_size = 16;
    assert_int_equal(trainer_run_new(m, su.ds, &su.split, &other, &run), 0);
    assert_int_equal(trainer_run_resume(run, c->bytes, c->len, NULL), MLPT_EINVAL);
    trainer_run_free(run);
    other = su.opt;
    other.partitions = 3;
    assert_int_equal(trainer_run_new(m, su.ds, &su.split, &other, &run), 0);
    assert_int_equal(trainer_run_resume(run, c->bytes, c->len, NULL), MLPT_EINVAL);
    trainer_run_free(run);
    record_free(&full);
    trainer_model_free(m);
    trainer_model_free(want);
    teardown(&su);
}

/* A run accepts at most partitions - 1 helpers, and none once it has ended. */
static void test_join_limits(void **state) {
    (void)state;
    setup_t su;
    setup(&su, 0.0f, 3);
    trainer_model_t *m = trainer_model_new(&su.arch, su.opt.seed);
    trainer_run_t *run;
    assert_int_equal(trainer_run_new(m, su.ds, &su.split, &su.opt, &run), 0);
    assert_int_equal(trainer_run_join(run), 0);
    assert_int_equal(trainer_run_join(run), 0);
    assert_int_equal(trainer_run_join(run), -1);
    assert_int_equal(trainer_run_helpers(run), 2);
    atomic_int leave;
    atomic_init(&leave, 1);
    trainer_run_help(run, &leave); /* leaves at once */
    trainer_run_help(run, &leave);
    assert_int_equal(trainer_run_helpers(run), 0);
    record_t rec = {0};
    assert_int_equal(trainer_run_go(run, on_epoch, NULL, &rec, NULL), 0);
    assert_int_equal(trainer_run_join(run), -1);
    trainer_run_free(run);
    trainer_model_free(m);
    teardown(&su);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers_change_nothing_sgd),
        cmocka_unit_test(test_helpers_change_nothing_momentum),
        cmocka_unit_test(test_helpers_change_nothing_adamw),
        cmocka_unit_test(test_helpers_change_nothing_rmsprop),
        cmocka_unit_test(test_one_partition_is_trainer_train),
        cmocka_unit_test(test_partitions_compute_the_same_step),
        cmocka_unit_test(test_short_last_batch_steps_in_proportion),
        cmocka_unit_test(test_resume_from_every_checkpoint),
        cmocka_unit_test(test_stop_anywhere_then_resume),
        cmocka_unit_test(test_pause_then_go_on),
        cmocka_unit_test(test_stop_anywhere_then_resume_adamw),
        cmocka_unit_test(test_bad_checkpoints_are_refused),
        cmocka_unit_test(test_join_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
