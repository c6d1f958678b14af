/*
 * test_train_sync.c - one run trained by several ranks (trainer_sync_t, train.h), with an
 * in-process stand-in for MPI: R threads, one per rank, whose averaging callback meets at a
 * barrier and replaces each rank's vector by the mean (summed in rank order in float, then
 * divided, as MPI_Allreduce's sum then a division gives for two ranks).
 *
 * Checked: two runs of R ranks give the same history bit for bit, the same on every rank; one
 * rank through the hook is the plain run, callback never called; a run resumed on every rank
 * from rank 0's checkpoint ends as the uninterrupted one (momentum included); a stop flag on
 * one rank, or one rank's callback saying stop, stops every rank at the same point; a failing
 * callback ends every rank with its code; dropout's masks the same on every run and after a
 * resume; shares and options refused; and on tests/data/digits
 * two ranks reach the single process's validation accuracy within 0.01.
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

#include <cmocka.h>

#include "ingest.h"
#include "kernels.h"
#include "mlpt_err.h"
#include "train.h"
#include "trainer_fixtures.h"

#define MAX_RANKS 4
#define MAX_EPOCHS 64
#define MAX_CKPTS 16

/* ---- the stand-in for MPI ---- */

typedef struct group {
    int ranks;
    pthread_barrier_t bar;
    float *slot[MAX_RANKS];
    size_t n[MAX_RANKS];
    float *mean;
    size_t cap;
    atomic_int calls;     /* callbacks, every rank */
    atomic_size_t floats; /* floats averaged, every rank */
    int fail_at;          /* > 0: the fail_at-th call of rank 0 answers MLPT_EIO on every rank */
    int calls0;
    int failing;
} group_t;

static void group_init(group_t *g, int ranks) {
    memset(g, 0, sizeof *g);
    g->ranks = ranks;
    assert_int_equal(pthread_barrier_init(&g->bar, NULL, (unsigned)ranks), 0);
    atomic_init(&g->calls, 0);
    atomic_init(&g->floats, 0);
}

static void group_deinit(group_t *g) {
    pthread_barrier_destroy(&g->bar);
    free(g->mean);
}

typedef struct rank_ctx {
    group_t *g;
    int rank;
} rank_ctx_t;

static int fake_average(void *user, float *v, size_t n) {
    rank_ctx_t *c = user;
    group_t *g = c->g;
    g->slot[c->rank] = v;
    g->n[c->rank] = n;
    pthread_barrier_wait(&g->bar);
    if (c->rank == 0) {
        for (int r = 1; r < g->ranks; r++)
            if (g->n[r] != n) /* every rank must call at the same points with the same n */
                abort();
        if (n > g->cap) {
            float *tmp = realloc(g->mean, n * sizeof *tmp);
            if (!tmp)
                abort();
            g->mean = tmp;
            g->cap = n;
        }
        for (size_t i = 0; i < n; i++) {
            float sum = 0.0f;
            for (int r = 0; r < g->ranks; r++)
                sum += g->slot[r][i];
            g->mean[i] = sum / (float)g->ranks;
        }
        g->failing = g->fail_at > 0 && ++g->calls0 >= g->fail_at;
    }
    pthread_barrier_wait(&g->bar);
    int failing = g->failing;
    if (!failing)
        memcpy(v, g->mean, n * sizeof *v);
    atomic_fetch_add(&g->calls, 1);
    atomic_fetch_add(&g->floats, n);
    pthread_barrier_wait(&g->bar); /* nobody reuses mean before everyone copied it */
    return failing ? MLPT_EIO : 0;
}

/* ---- a rank's run ---- */

typedef struct record {
    double f[MAX_EPOCHS][4]; /* train loss, train accuracy, val loss, val accuracy */
    size_t n;
    size_t first; /* the first iteration reported */
    unsigned char *ck[MAX_CKPTS];
    size_t ck_len[MAX_CKPTS], ck_it[MAX_CKPTS];
    size_t n_ck;
    int stop_after; /* the callback says stop after this iteration (0: never) */
} record_t;

static int on_epoch(const trainer_epoch_t *e, void *user) {
    record_t *r = user;
    if (r->n == 0)
        r->first = e->iteration;
    if (r->n < MAX_EPOCHS) {
        r->f[r->n][0] = e->train_loss;
        r->f[r->n][1] = e->train_accuracy;
        r->f[r->n][2] = e->val_loss;
        r->f[r->n][3] = e->val_accuracy;
        r->n++;
    }
    return r->stop_after && e->iteration >= (size_t)r->stop_after;
}

static void on_ckpt(const trainer_checkpoint_t *c, void *user) {
    record_t *r = user;
    if (r->n_ck < MAX_CKPTS) {
        r->ck[r->n_ck] = c->bytes;
        r->ck_len[r->n_ck] = c->len;
        r->ck_it[r->n_ck] = c->iteration;
        r->n_ck++;
    } else {
        free(c->bytes);
    }
}

static void record_free(record_t *r) {
    for (size_t i = 0; i < r->n_ck; i++)
        free(r->ck[i]);
}

/* One rank's job: everything it needs, and what it got. */
typedef struct job {
    const trainer_dataset_t *ds;
    const trainer_split_t *sp;
    trainer_arch_t arch;
    uint64_t seed;
    trainer_options_t opt;
    trainer_sync_t sync;
    rank_ctx_t ctx;
    const atomic_int *stop;
    const unsigned char *resume; /* a checkpoint to start from, or NULL */
    size_t resume_len;
    record_t rec;
    trainer_result_t res;
    int rc;
    float *params; /* the final weights (malloc'd) */
    size_t n_params;
} job_t;

static void *rank_main(void *p) {
    job_t *j = p;
    trainer_model_t *m = trainer_model_new(&j->arch, j->seed);
    if (!m)
        abort();
    trainer_options_t opt = j->opt;
    opt.sync = &j->sync;
    opt.stop = j->stop;
    trainer_run_t *run = NULL;
    j->rc = trainer_run_new(m, j->ds, j->sp, &opt, &run);
    if (j->rc == 0 && j->resume)
        j->rc = trainer_run_resume(run, j->resume, j->resume_len, NULL);
    if (j->rc == 0)
        j->rc = trainer_run_go(run, on_epoch, on_ckpt, &j->rec, &j->res);
    trainer_run_free(run);
    j->n_params = m->n_params;
    j->params = malloc(m->n_params * sizeof(float));
    if (!j->params)
        abort();
    memcpy(j->params, m->params, m->n_params * sizeof(float));
    trainer_model_free(m);
    return NULL;
}

/* Runs `ranks` ranks of the same run (ranks 1 without a group: sync_ranks1 says whether the
 * hook is given at all) into jobs[0 .. ranks). */
static void run_ranks(job_t *jobs, int ranks, group_t *g, const job_t *tmpl) {
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < ranks; r++) {
        jobs[r] = *tmpl;
        jobs[r].ctx = (rank_ctx_t){g, r};
        jobs[r].sync = (trainer_sync_t){.rank = r,
                                        .ranks = ranks,
                                        .every = tmpl->sync.every,
                                        .average = fake_average,
                                        .user = &jobs[r].ctx};
        assert_int_equal(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < ranks; r++)
        pthread_join(th[r], NULL);
}

static void jobs_free(job_t *jobs, int ranks) {
    for (int r = 0; r < ranks; r++) {
        record_free(&jobs[r].rec);
        free(jobs[r].params);
    }
}

/* The same figures, bit for bit. */
static void assert_same_history(const record_t *a, const record_t *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->first, b->first);
    assert_memory_equal(a->f, b->f, a->n * sizeof a->f[0]);
}

/* ---- data ---- */

#define ROWS 601 /* odd, so two ranks leave a row out of each pass */
#define FEATURES 12
#define CLASSES 3

static trainer_dataset_t *blobs(void) {
    return fx_blobs(ROWS, FEATURES, CLASSES, 7, 0.0f, 2.5f);
}

typedef struct fixture {
    trainer_dataset_t *ds;
    trainer_split_t sp;
    job_t tmpl;
} fixture_t;

static int setup(void **state) {
    trainer_blas_set_threads(1);
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->ds = blobs();
    if (trainer_split_stratified(f->ds, 0.25, 11, &f->sp) != 0)
        return -1;
    f->tmpl = (job_t){.ds = f->ds,
                      .sp = &f->sp,
                      .arch = {.inputs = FEATURES,
                               .outputs = CLASSES,
                               .n_hidden = 1,
                               .hidden = {16},
                               .activation = TRAINER_ACT_TANH},
                      .seed = 11,
                      .opt = {.learning_rate = 0.05f,
                              .batch_size = 16,
                              .iterations = 8,
                              .seed = 11,
                              .partitions = 2,
                              .checkpoint_every = 2},
                      .sync = {.every = 3}};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    trainer_split_deinit(&f->sp);
    trainer_dataset_free(f->ds);
    free(f);
    return 0;
}

/* ---- tests ---- */

/* Two runs of 2 (and of 3) ranks: the same history twice, on every rank, and the same weights;
 * the ranks averaged at the expected points. */
static void test_deterministic(void **state) {
    fixture_t *f = *state;
    for (int ranks = 2; ranks <= 3; ranks++) {
        job_t a[MAX_RANKS], b[MAX_RANKS];
        group_t ga, gb;
        group_init(&ga, ranks);
        group_init(&gb, ranks);
        run_ranks(a, ranks, &ga, &f->tmpl);
        run_ranks(b, ranks, &gb, &f->tmpl);
        for (int r = 0; r < ranks; r++) {
            assert_int_equal(a[r].rc, 0);
            assert_int_equal(b[r].rc, 0);
            assert_int_equal(a[r].rec.n, f->tmpl.opt.iterations);
            assert_same_history(&a[0].rec, &a[r].rec);
            assert_same_history(&a[r].rec, &b[r].rec);
            assert_memory_equal(a[0].params, a[r].params, a[0].n_params * sizeof(float));
            assert_memory_equal(a[r].params, b[r].params, a[0].n_params * sizeof(float));
        }
        /* Each pass: share / batch mini-batches, an averaging after every 3 and after the
         * last; per averaging a vote and the weights; per pass one vote on stopping. */
        size_t share = f->sp.n_train / (size_t)ranks;
        size_t batches = (share + 15) / 16;
        size_t avg = batches / 3 + (batches % 3 != 0);
        assert_int_equal(a[0].res.averagings, avg * f->tmpl.opt.iterations);
        assert_int_equal(atomic_load(&ga.calls),
                         ranks * (int)((2 * avg + 1) * f->tmpl.opt.iterations));
        for (size_t e = 0; e < a[0].rec.n; e++) /* validated, on the averaged weights */
            assert_true(isfinite(a[0].rec.f[e][3]) && a[0].rec.f[e][3] > 0.0);
        jobs_free(a, ranks);
        jobs_free(b, ranks);
        group_deinit(&ga);
        group_deinit(&gb);
    }
}

/* The ranks really average: with one mini-batch between averagings the history differs from
 * every 3, and a rank alone with the same share would differ too (each rank sees half). */
static void test_every_matters(void **state) {
    fixture_t *f = *state;
    job_t a[2], b[2];
    group_t ga, gb;
    group_init(&ga, 2);
    group_init(&gb, 2);
    job_t t = f->tmpl;
    run_ranks(a, 2, &ga, &t);
    t.sync.every = 1;
    run_ranks(b, 2, &gb, &t);
    assert_int_equal(a[0].rc, 0);
    assert_int_equal(b[0].rc, 0);
    assert_memory_not_equal(a[0].rec.f, b[0].rec.f, a[0].rec.n * sizeof a[0].rec.f[0]);
    jobs_free(a, 2);
    jobs_free(b, 2);
    group_deinit(&ga);
    group_deinit(&gb);
}

/* One rank through the hook is the plain run bit for bit, and never calls back. */
static void test_one_rank_is_plain(void **state) {
    fixture_t *f = *state;
    job_t plain = f->tmpl, hooked[1];
    group_t g;
    group_init(&g, 1);
    run_ranks(hooked, 1, &g, &f->tmpl);
    /* The plain run: no sync at all. */
    trainer_model_t *m = trainer_model_new(&plain.arch, plain.seed);
    assert_non_null(m);
    trainer_run_t *run = NULL;
    assert_int_equal(trainer_run_new(m, f->ds, &f->sp, &plain.opt, &run), 0);
    assert_int_equal(trainer_run_go(run, on_epoch, on_ckpt, &plain.rec, &plain.res), 0);
    trainer_run_free(run);
    assert_int_equal(hooked[0].rc, 0);
    assert_same_history(&plain.rec, &hooked[0].rec);
    assert_memory_equal(m->params, hooked[0].params, m->n_params * sizeof(float));
    assert_int_equal(plain.rec.n_ck, hooked[0].rec.n_ck);
    for (size_t i = 0; i < plain.rec.n_ck; i++) { /* checkpoints: the same bytes as ever */
        assert_int_equal(plain.rec.ck_len[i], hooked[0].rec.ck_len[i]);
        assert_memory_equal(plain.rec.ck[i], hooked[0].rec.ck[i], plain.rec.ck_len[i]);
    }
    assert_int_equal(atomic_load(&g.calls), 0);
    assert_int_equal(hooked[0].res.averagings, 0);
    trainer_model_free(m);
    record_free(&plain.rec);
    jobs_free(hooked, 1);
    group_deinit(&g);
}

/* Every rank resumed from rank 0's checkpoint (with momentum: velocities are averaged at the
 * pass's end; with adam its two moments) continues the uninterrupted history exactly; a plain run
 * refuses it, and a run of another rank count or interval too. */
static void resume_from_rank0(void **state, trainer_optimizer_t optimizer) {
    fixture_t *f = *state;
    job_t t = f->tmpl;
    t.opt.momentum = 0.9f;
    if (optimizer != TRAINER_OPT_SGD) { /* issue 16: the second moment is averaged too */
        t.opt.optimizer = optimizer;
        t.opt.momentum = 0.0f;
        t.opt.learning_rate = 0.003f;
        t.opt.beta1 = 0.9f, t.opt.beta2 = 0.999f, t.opt.epsilon = 1e-8f;
    }
    job_t full[2];
    group_t g;
    group_init(&g, 2);
    run_ranks(full, 2, &g, &t);
    assert_int_equal(full[0].rc, 0);
    assert_int_equal(full[0].rec.n_ck, 3); /* after iterations 2, 4, 6 */
    for (size_t c = 0; c < full[0].rec.n_ck; c++) {
        /* every rank's checkpoint is the same bytes (the position aside: all the same) */
        assert_int_equal(full[0].rec.ck_len[c], full[1].rec.ck_len[c]);
        assert_memory_equal(full[0].rec.ck[c], full[1].rec.ck[c], full[0].rec.ck_len[c]);
        size_t it = full[0].rec.ck_it[c];
        job_t again[2];
        group_t g2;
        group_init(&g2, 2);
        t.resume = full[0].rec.ck[c];
        t.resume_len = full[0].rec.ck_len[c];
        run_ranks(again, 2, &g2, &t);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(again[r].rc, 0);
            assert_int_equal(again[r].rec.first, it + 1);
            assert_int_equal(again[r].rec.n, t.opt.iterations - it);
            assert_memory_equal(again[r].rec.f, full[0].rec.f[it],
                                again[r].rec.n * sizeof again[r].rec.f[0]);
            assert_memory_equal(again[r].params, full[0].params, full[0].n_params * sizeof(float));
        }
        jobs_free(again, 2);
        group_deinit(&g2);
    }
    /* Refused: a plain run, three ranks, another interval. */
    const unsigned char *ck = full[0].rec.ck[0];
    size_t ck_len = full[0].rec.ck_len[0];
    trainer_model_t *m = trainer_model_new(&t.arch, t.seed);
    trainer_run_t *run = NULL;
    assert_int_equal(trainer_run_new(m, f->ds, &f->sp, &t.opt, &run), 0);
    assert_int_equal(trainer_run_resume(run, ck, ck_len, NULL), MLPT_EINVAL);
    trainer_run_free(run);
    trainer_sync_t y = {.rank = 0, .ranks = 3, .every = 3, .average = fake_average};
    trainer_options_t o = t.opt;
    o.sync = &y;
    assert_int_equal(trainer_run_new(m, f->ds, &f->sp, &o, &run), 0);
    assert_int_equal(trainer_run_resume(run, ck, ck_len, NULL), MLPT_EINVAL);
    trainer_run_free(run);
    y.ranks = 2;
    y.every = 4;
    assert_int_equal(trainer_run_new(m, f->ds, &f->sp, &o, &run), 0);
    assert_int_equal(trainer_run_resume(run, ck, ck_len, NULL), MLPT_EINVAL);
    trainer_run_free(run);
    trainer_model_free(m);
    jobs_free(full, 2);
    group_deinit(&g);
}

/* Dropout across ranks (issue 16): each rank draws the masks of its rows by their positions in
 * the pass's shared order, so two runs of 2 ranks agree bit for bit on every rank, a resume from
 * rank 0's checkpoint continues the history exactly, and the masks do change the run. */
static void test_dropout_across_ranks(void **state) {
    fixture_t *f = *state;
    job_t t = f->tmpl;
    t.opt.dropout_input = 0.1f;
    t.opt.dropout_hidden = 0.3f;
    job_t a[2], b[2], plain[2], again[2];
    group_t ga, gb, gp, g2;
    group_init(&ga, 2);
    group_init(&gb, 2);
    group_init(&gp, 2);
    group_init(&g2, 2);
    run_ranks(a, 2, &ga, &t);
    run_ranks(b, 2, &gb, &t);
    run_ranks(plain, 2, &gp, &f->tmpl);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(a[r].rc, 0);
        assert_int_equal(b[r].rc, 0);
        assert_same_history(&a[0].rec, &a[r].rec);
        assert_same_history(&a[r].rec, &b[r].rec);
        assert_memory_equal(a[r].params, b[r].params, a[0].n_params * sizeof(float));
    }
    assert_true(memcmp(a[0].params, plain[0].params, a[0].n_params * sizeof(float)) != 0);
    assert_true(a[0].rec.n_ck >= 2);
    size_t it = a[0].rec.ck_it[1]; /* after iteration 4 */
    t.resume = a[0].rec.ck[1];
    t.resume_len = a[0].rec.ck_len[1];
    run_ranks(again, 2, &g2, &t);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(again[r].rc, 0);
        assert_int_equal(again[r].rec.first, it + 1);
        assert_memory_equal(again[r].rec.f, a[0].rec.f[it],
                            again[r].rec.n * sizeof again[r].rec.f[0]);
        assert_memory_equal(again[r].params, a[0].params, a[0].n_params * sizeof(float));
    }
    jobs_free(a, 2);
    jobs_free(b, 2);
    jobs_free(plain, 2);
    jobs_free(again, 2);
    group_deinit(&ga);
    group_deinit(&gb);
    group_deinit(&gp);
    group_deinit(&g2);
}

static void test_resume_from_rank0(void **state) {
    resume_from_rank0(state, TRAINER_OPT_SGD);
}

static void test_resume_from_rank0_adam(void **state) {
    resume_from_rank0(state, TRAINER_OPT_ADAM);
}

/* A stop flag raised on rank 1 only stops both ranks at the same averaging (no rank left
 * waiting), with no stop checkpoint; a stop asked by rank 0's callback after iteration 3 ends
 * both ranks after that iteration with its weights. */
static void test_stop_reaches_every_rank(void **state) {
    fixture_t *f = *state;
    static atomic_int raised;
    atomic_init(&raised, 1);
    job_t t = f->tmpl;
    job_t j[2];
    group_t g;
    group_init(&g, 2);
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        j[r] = t;
        j[r].ctx = (rank_ctx_t){&g, r};
        j[r].sync = (trainer_sync_t){
            .rank = r, .ranks = 2, .every = 3, .average = fake_average, .user = &j[r].ctx};
        j[r].stop = r == 1 ? &raised : NULL;
        assert_int_equal(pthread_create(&th[r], NULL, rank_main, &j[r]), 0);
    }
    for (int r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(j[r].rc, MLPT_ESTOPPED);
        assert_int_equal(j[r].rec.n, 0);
        assert_int_equal(j[r].rec.n_ck, 0);
    }
    assert_int_equal(atomic_load(&g.calls), 2); /* the first vote, on both ranks */
    jobs_free(j, 2);
    group_deinit(&g);

    group_t g2, g3;
    group_init(&g2, 2);
    group_init(&g3, 2);
    job_t full[2], cut[2];
    run_ranks(full, 2, &g2, &t);
    t.rec.stop_after = 3;
    pthread_t th2[2];
    for (int r = 0; r < 2; r++) {
        cut[r] = t;
        cut[r].rec.stop_after = r == 0 ? 3 : 0;
        cut[r].ctx = (rank_ctx_t){&g3, r};
        cut[r].sync = (trainer_sync_t){
            .rank = r, .ranks = 2, .every = 3, .average = fake_average, .user = &cut[r].ctx};
        assert_int_equal(pthread_create(&th2[r], NULL, rank_main, &cut[r]), 0);
    }
    for (int r = 0; r < 2; r++)
        pthread_join(th2[r], NULL);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(cut[r].rc, MLPT_ESTOPPED);
        assert_int_equal(cut[r].rec.n, 3);
        assert_memory_equal(cut[r].rec.f, full[0].rec.f, 3 * sizeof full[0].rec.f[0]);
        assert_memory_equal(cut[r].params, cut[0].params, cut[0].n_params * sizeof(float));
    }
    jobs_free(full, 2);
    jobs_free(cut, 2);
    group_deinit(&g2);
    group_deinit(&g3);
}

/* A callback that fails ends every rank with its code. */
static void test_failing_callback(void **state) {
    fixture_t *f = *state;
    job_t j[2];
    group_t g;
    group_init(&g, 2);
    g.fail_at = 5;
    run_ranks(j, 2, &g, &f->tmpl);
    for (int r = 0; r < 2; r++)
        assert_int_equal(j[r].rc, MLPT_EIO);
    jobs_free(j, 2);
    group_deinit(&g);
}

/* Options and shares refused: a rank outside the count, no callback, every 0, too many ranks,
 * more ranks than training rows. */
static void test_refused(void **state) {
    fixture_t *f = *state;
    trainer_options_t o = f->tmpl.opt;
    trainer_sync_t y = {.rank = 2, .ranks = 2, .every = 1, .average = fake_average};
    o.sync = &y;
    assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    y.rank = -1;
    assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    y.rank = 0;
    y.average = NULL;
    assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    y.average = fake_average;
    y.every = 0;
    assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    y.every = 1;
    y.ranks = 0;
    assert_int_equal(trainer_options_check(&o), MLPT_EINVAL);
    y.ranks = TRAINER_MAX_RANKS + 1;
    assert_int_equal(trainer_options_check(&o), MLPT_ELIMIT);
    y.ranks = 1; /* one rank needs neither callback nor interval */
    y.average = NULL;
    y.every = 0;
    assert_int_equal(trainer_options_check(&o), 0);

    trainer_dataset_t *tiny = fx_dataset_new(6, FEATURES, 2, TRAINER_SCALE_UNIT);
    for (size_t i = 0; i < 6; i++)
        tiny->y[i] = (int32_t)(i % 2);
    fx_dataset_recount(tiny);
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(tiny, 0.0, 1, &sp), 0);
    trainer_arch_t a = {.inputs = FEATURES, .outputs = 2, .activation = TRAINER_ACT_RELU};
    trainer_model_t *m = trainer_model_new(&a, 1);
    y = (trainer_sync_t){.rank = 0, .ranks = 7, .every = 1, .average = fake_average};
    trainer_run_t *run = NULL;
    assert_int_equal(trainer_run_new(m, tiny, &sp, &o, &run), MLPT_EINVAL);
    assert_null(run);
    y.ranks = 6;
    assert_int_equal(trainer_run_new(m, tiny, &sp, &o, &run), 0);
    trainer_run_free(run);
    trainer_model_free(m);
    trainer_split_deinit(&sp);
    trainer_dataset_free(tiny);
}

/* tests/data/digits.csv: two ranks averaging every 4 mini-batches reach the validation accuracy
 * of the single process within 0.01 (the acceptance for data parallelism). */
static void test_digits_two_ranks(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/digits.csv", MLPT_TEST_DATA_DIR);
    ingest_csv_options_t o;
    ingest_csv_options_init(&o);
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    if (ingest_load_csv_file(path, &o, &ds, &err) != 0)
        fail_msg("%s: %s", path, err.message);
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, 0.2, 5, &sp), 0);
    job_t t = {.ds = ds,
               .sp = &sp,
               .arch = {.inputs = ds->features,
                        .outputs = ds->classes,
                        .n_hidden = 1,
                        .hidden = {64},
                        .activation = TRAINER_ACT_RELU},
               .seed = 5,
               .opt = {.learning_rate = 0.05f,
                       .momentum = 0.9f,
                       .batch_size = 32,
                       .iterations = 30,
                       .seed = 5,
                       .partitions = 1},
               .sync = {.every = 4}};
    job_t one[1], two[2];
    group_t g1, g2;
    group_init(&g1, 1);
    group_init(&g2, 2);
    run_ranks(one, 1, &g1, &t);
    run_ranks(two, 2, &g2, &t);
    assert_int_equal(one[0].rc, 0);
    assert_int_equal(two[0].rc, 0);
    assert_int_equal(two[1].rc, 0);
    double single = one[0].rec.f[t.opt.iterations - 1][3];
    double dp = two[0].rec.f[t.opt.iterations - 1][3];
    print_message("digits: single process %.4f, 2 ranks %.4f (val accuracy, iteration %zu)\n",
                  single, dp, t.opt.iterations);
    fx_assert_lt(0.9, single);
    fx_assert_lt(single - 0.01, dp);
    jobs_free(one, 1);
    jobs_free(two, 2);
    group_deinit(&g1);
    group_deinit(&g2);
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_every_matters),
        cmocka_unit_test(test_one_rank_is_plain),
        cmocka_unit_test(test_resume_from_rank0),
        cmocka_unit_test(test_resume_from_rank0_adam),
        cmocka_unit_test(test_dropout_across_ranks),
        cmocka_unit_test(test_stop_reaches_every_rank),
        cmocka_unit_test(test_failing_callback),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_digits_two_ranks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
