/* test_wire.c - the rank messages (scheduler/wire.h): every message type round trips bit for
 * bit, and truncated, extended, corrupted or lying input is refused without a crash or a leak
 * (the ASan build checks the leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "sched_fixtures.h"
#include "wire.h"

/* MLPT_WIRE_SEEDS=<dir> writes the messages these tests encode as fuzz_wire's seed corpus
 * (tests/fuzz/corpus/fuzz_wire). */
static void seed(const char *name, const sched_wire_buf_t *b) {
    const char *dir = getenv("MLPT_WIRE_SEEDS");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
    fclose(f);
}

static sched_params_t some_params(void) {
    sched_spec_t spec = fx_seed_grid();
    sched_params_t *all = NULL;
    size_t n = 0;
    assert_int_equal(sched_grid_expand(&spec, 100, &all, &n), 0);
    assert_true(n >= 4);
    sched_params_t p = all[3];
    free(all);
    return p;
}

static int same_bits(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A job with every part: followers, a test set, a resume state, stored rows (one with NaN). */
typedef struct fixture {
    sched_exec_job_t job;
    sched_exec_follower_t followers[2];
    store_resume_t resume;
    unsigned char state[37];
    store_metric_t stored[3];
    sched_wire_ds_t ds, test;
} fixture_t;

static void fill(fixture_t *f) {
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < sizeof f->state; i++)
        f->state[i] = (unsigned char)(i * 7 + 1);
    f->followers[0] = (sched_exec_follower_t){.trial_id = 11, .iterations = 2};
    f->followers[1] = (sched_exec_follower_t){.trial_id = 12, .iterations = 3};
    f->resume = (store_resume_t){.state = f->state,
                                 .len = sizeof f->state,
                                 .iteration = 2,
                                 .best_val_accuracy = 0.75,
                                 .final_val_accuracy = NAN,
                                 .best_iteration = 1};
    for (int i = 0; i < 3; i++)
        f->stored[i] = (store_metric_t){.trial_id = 10,
                                        .iteration = i + 1,
                                        .train_loss = 1.0 / (i + 3),
                                        .train_accuracy = 0.5 + i * 0.1,
                                        .val_loss = i == 1 ? NAN : 0.3,
                                        .val_accuracy = -0.0,
                                        .seconds = 0.125};
    f->job = (sched_exec_job_t){.trial_id = 10,
                                .params = some_params(),
                                .partitions = 4,
                                .followers = f->followers,
                                .n_followers = 2,
                                .dataset = {5, "/x/datasets/5.mat"},
                                .test = {6, "/x/datasets/6.mat"},
                                .resume = &f->resume,
                                .stored = f->stored,
                                .n_stored = 3};
    f->ds = (sched_wire_ds_t){.id = 5, .path = "datasets/5.mat"};
    memset(f->ds.hash, 0xab, sizeof f->ds.hash);
    f->test = (sched_wire_ds_t){.id = 6, .path = "datasets/6.mat"};
    memset(f->test.hash, 0x11, sizeof f->test.hash);
}

static void job_round_trip(void **state) {
    (void)state;
    fixture_t f;
    fill(&f);
    sched_wire_buf_t b = {0};
    assert_int_equal(sched_wire_encode_job(&b, 77, &f.job, &f.ds, &f.test), 0);
    seed("job_full", &b);
    sched_wire_type_t type;
    uint64_t no;
    assert_int_equal(sched_wire_peek(b.p, b.len, &type, &no), 0);
    assert_int_equal(type, SCHED_WIRE_JOB);
    assert_int_equal(no, 77);
    sched_wire_job_t j;
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), 0);
    assert_int_equal(j.job.trial_id, 10);
    assert_memory_equal(&j.job.params, &f.job.params, sizeof j.job.params);
    assert_int_equal(j.job.partitions, 4);
    assert_int_equal(j.job.n_followers, 2);
    assert_int_equal(j.job.followers[1].trial_id, 12);
    assert_int_equal(j.job.followers[1].iterations, 3);
    assert_int_equal(j.ds.id, 5);
    assert_string_equal(j.ds.path, "datasets/5.mat");
    assert_memory_equal(j.ds.hash, f.ds.hash, SCHED_WIRE_HASH);
    assert_int_equal(j.test.id, 6);
    assert_memory_equal(j.test.hash, f.test.hash, SCHED_WIRE_HASH);
    assert_int_equal(j.job.dataset.id, 5);
    assert_non_null(j.job.resume);
    assert_int_equal(j.job.resume->len, sizeof f.state);
    assert_memory_equal(j.job.resume->state, f.state, sizeof f.state);
    assert_int_equal(j.job.resume->iteration, 2);
    assert_true(isnan(j.job.resume->final_val_accuracy));
    assert_int_equal(j.job.n_stored, 3);
    for (int i = 0; i < 3; i++) {
        const store_metric_t *a = &j.job.stored[i], *e = &f.stored[i];
        assert_int_equal(a->iteration, i + 1);
        assert_int_equal(a->trial_id, 10);
        assert_true(same_bits(a->train_loss, e->train_loss));
        assert_true(same_bits(a->val_loss, e->val_loss));
        assert_true(same_bits(a->val_accuracy, e->val_accuracy)); /* -0.0 stays -0.0 */
    }
    sched_wire_job_free(&j);

    /* without resume, followers, test or rows */
    f.job.resume = NULL;
    f.job.n_followers = 0;
    f.job.test.id = 0;
    f.job.n_stored = 0;
    assert_int_equal(sched_wire_encode_job(&b, 1, &f.job, &f.ds, NULL), 0);
    seed("job_plain", &b);
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), 0);
    assert_null(j.job.resume);
    assert_null(j.job.followers);
    assert_int_equal(j.job.test.id, 0);
    assert_int_equal(j.job.n_stored, 0);
    sched_wire_job_free(&j);
    free(b.p);
}

static void job_refused(void **state) {
    (void)state;
    fixture_t f;
    fill(&f);
    sched_wire_buf_t b = {0};
    assert_int_equal(sched_wire_encode_job(&b, 3, &f.job, &f.ds, &f.test), 0);
    sched_wire_job_t j;
    /* every truncation */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(sched_wire_decode_job(b.p, n, &j), MLPT_EFORMAT);
    /* a byte more */
    unsigned char *longer = malloc(b.len + 1);
    memcpy(longer, b.p, b.len);
    longer[b.len] = 0;
    assert_int_equal(sched_wire_decode_job(longer, b.len + 1, &j), MLPT_EFORMAT);
    free(longer);
    /* every byte flipped: decoded (into a job whose fields are still in range) or refused */
    for (size_t i = 0; i < b.len; i++) {
        b.p[i] ^= 0xff;
        int rc = sched_wire_decode_job(b.p, b.len, &j);
        assert_true(rc == 0 || rc == MLPT_EFORMAT);
        if (rc == 0) {
            assert_true(j.job.partitions >= 1 && j.job.partitions <= 64);
            sched_wire_job_free(&j);
        }
        b.p[i] ^= 0xff;
    }
    /* a job of another type's header is refused */
    b.p[6] = SCHED_WIRE_STOP;
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    /* stored rows that do not reach the resume point */
    f.job.n_stored = 1;
    assert_int_equal(sched_wire_encode_job(&b, 3, &f.job, &f.ds, &f.test), 0);
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    /* partitions out of range */
    f.job.n_stored = 3;
    f.job.partitions = 0;
    assert_int_equal(sched_wire_encode_job(&b, 3, &f.job, &f.ds, &f.test), 0);
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    free(b.p);
}

/* A job across ranks carries its group: the ranks, the interval, its members and this copy's
 * place; truncations, repeated members and a place outside the group are refused. */
static void job_group(void **state) {
    (void)state;
    fixture_t f;
    fill(&f);
    static const int members[3] = {1, 4, 2};
    f.job.ranks = 3;
    f.job.sync_every = 8;
    f.job.members = members;
    f.job.member = 2;
    sched_wire_buf_t b = {0};
    assert_int_equal(sched_wire_encode_job(&b, 5, &f.job, &f.ds, &f.test), 0);
    sched_wire_job_t j;
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), 0);
    assert_int_equal(j.job.ranks, 3);
    assert_int_equal(j.job.sync_every, 8);
    assert_int_equal(j.job.member, 2);
    assert_non_null(j.job.members);
    assert_memory_equal(j.job.members, members, sizeof members);
    sched_wire_job_free(&j);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(sched_wire_decode_job(b.p, n, &j), MLPT_EFORMAT);
    /* the trailer: u64 ranks, u64 every, u32 member, 3 x u32 member ranks */
    unsigned char *t = b.p + b.len - 32;
    t[28] = 4; /* the last member repeats the second */
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    t[28] = 2;
    t[16] = 3; /* place 3 of 3 */
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    t[16] = 2;
    t[8] = 0; /* no interval */
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), MLPT_EFORMAT);
    t[8] = 8;
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), 0);
    sched_wire_job_free(&j);
    /* one rank: no group on the wire, whatever the job's members say */
    f.job.ranks = 1;
    assert_int_equal(sched_wire_encode_job(&b, 5, &f.job, &f.ds, &f.test), 0);
    assert_int_equal(sched_wire_decode_job(b.p, b.len, &j), 0);
    assert_int_equal(j.job.ranks, 1);
    assert_null(j.job.members);
    sched_wire_job_free(&j);
    free(b.p);
}

static sched_msg_t *round_msg(const sched_msg_t *m) {
    sched_wire_buf_t b = {0};
    assert_int_equal(sched_wire_encode_msg(&b, 9, m), 0);
    static const char *const names[] = {"msg_iteration", "msg_checkpoint", "msg_end", "msg_placed"};
    seed(names[m->type], &b);
    sched_msg_t *out = NULL;
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &out), 0);
    for (size_t n = 0; n < b.len; n++) {
        sched_msg_t *none = (sched_msg_t *)1;
        assert_int_equal(sched_wire_decode_msg(b.p, n, &none), MLPT_EFORMAT);
        assert_null(none);
    }
    free(b.p);
    return out;
}

static void msg_round_trip(void **state) {
    (void)state;
    unsigned char model[5] = {1, 2, 3, 4, 5};
    sched_msg_t it = {.type = SCHED_MSG_ITERATION,
                      .metric = {.iteration = 3,
                                 .train_loss = 0.1,
                                 .train_accuracy = NAN,
                                 .val_loss = 1e-300,
                                 .val_accuracy = 0.9,
                                 .seconds = 2.5,
                                 .ended_at = 1.7e9},
                      .samples = 120,
                      .follower_id = 12,
                      .follower_best_val = 0.8,
                      .follower_test_accuracy = NAN,
                      .follower_best_iteration = 2,
                      .model = model,
                      .model_len = sizeof model};
    sched_msg_t *o = round_msg(&it);
    assert_int_equal(o->type, SCHED_MSG_ITERATION);
    assert_int_equal(o->metric.iteration, 3);
    assert_true(same_bits(o->metric.val_loss, 1e-300));
    assert_true(isnan(o->metric.train_accuracy));
    assert_int_equal(o->samples, 120);
    assert_int_equal(o->follower_id, 12);
    assert_int_equal(o->model_len, 5);
    assert_memory_equal(o->model, model, 5);
    assert_null(o->model_path);
    free(o->model);
    free(o);

    sched_msg_t cp = {
        .type = SCHED_MSG_CHECKPOINT, .model = model, .model_len = 3, .checkpoint_iteration = 4};
    o = round_msg(&cp);
    assert_int_equal(o->type, SCHED_MSG_CHECKPOINT);
    assert_int_equal(o->checkpoint_iteration, 4);
    assert_int_equal(o->model_len, 3);
    free(o->model);
    free(o);

    sched_msg_t end = {.type = SCHED_MSG_END,
                       .rc = MLPT_ESTATE,
                       .best_val_accuracy = 0.5,
                       .final_val_accuracy = 0.25,
                       .test_accuracy = NAN,
                       .best_iteration = 7};
    strcpy(end.error, "resumed training does not reproduce the stored history");
    o = round_msg(&end);
    assert_int_equal(o->type, SCHED_MSG_END);
    assert_int_equal(o->rc, MLPT_ESTATE);
    assert_int_equal(o->best_iteration, 7);
    assert_null(o->model);
    assert_string_equal(o->error, end.error);
    free(o);

    sched_msg_t placed = {.type = SCHED_MSG_PLACED, .placement_rank = 2, .placement_workers = 3};
    strcpy(placed.placement_host, "node-7");
    o = round_msg(&placed);
    assert_int_equal(o->type, SCHED_MSG_PLACED);
    assert_int_equal(o->placement_rank, 2);
    assert_int_equal(o->placement_workers, 3);
    assert_string_equal(o->placement_host, "node-7");
    free(o);
}

static void msg_refused(void **state) {
    (void)state;
    sched_wire_buf_t b = {0};
    sched_msg_t *o = NULL;
    /* a checkpoint without its bytes */
    sched_msg_t cp = {.type = SCHED_MSG_CHECKPOINT, .checkpoint_iteration = 4};
    assert_int_equal(sched_wire_encode_msg(&b, 1, &cp), 0);
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    /* an iteration carrying a failure code */
    sched_msg_t it = {.type = SCHED_MSG_ITERATION, .rc = MLPT_EIO};
    assert_int_equal(sched_wire_encode_msg(&b, 1, &it), 0);
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    /* a placement without workers */
    sched_msg_t placed = {.type = SCHED_MSG_PLACED};
    assert_int_equal(sched_wire_encode_msg(&b, 1, &placed), 0);
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    /* an unknown message type (the u32 after the header) */
    sched_msg_t end = {.type = SCHED_MSG_END};
    assert_int_equal(sched_wire_encode_msg(&b, 1, &end), 0);
    b.p[SCHED_WIRE_HEADER] = 9;
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    b.p[SCHED_WIRE_HEADER] = 3;
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), 0);
    free(o);
    /* an error string longer than the field */
    memset(end.error, 'e', sizeof end.error - 1);
    assert_int_equal(sched_wire_encode_msg(&b, 1, &end), 0);
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), 0); /* 255 characters fit */
    assert_int_equal(strlen(o->error), 255);
    free(o);
    /* bad magic, version */
    b.p[0] ^= 1;
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    b.p[0] ^= 1;
    b.p[4] = 2;
    assert_int_equal(sched_wire_decode_msg(b.p, b.len, &o), MLPT_EFORMAT);
    free(b.p);
}

static trainer_dataset_t *small_dataset(int groups) {
    trainer_dataset_t *d = calloc(1, sizeof *d);
    d->rows = 4;
    d->features = 3;
    d->classes = 2;
    d->scaling = TRAINER_SCALE_STANDARDIZE;
    d->x = malloc(12 * sizeof *d->x);
    for (int i = 0; i < 12; i++)
        d->x[i] = (float)i * 0.5f - 1.0f;
    d->x[5] = -0.0f;
    d->y = malloc(4 * sizeof *d->y);
    d->y[0] = 0;
    d->y[1] = 1;
    d->y[2] = 1;
    d->y[3] = 0;
    d->class_names = calloc(2, sizeof *d->class_names);
    d->class_names[0] = strdup("cat");
    d->class_names[1] = strdup("dog");
    d->class_counts = calloc(2, sizeof *d->class_counts);
    d->class_counts[0] = d->class_counts[1] = 2;
    if (groups) {
        d->group = malloc(4 * sizeof *d->group);
        for (int i = 0; i < 4; i++)
            d->group[i] = -i;
    }
    assert_int_equal(trainer_dataset_check(d), 0);
    return d;
}

static void dataset_round_trip(void **state) {
    (void)state;
    unsigned char hash[SCHED_WIRE_HASH], got[SCHED_WIRE_HASH];
    memset(hash, 0x5a, sizeof hash);
    for (int groups = 0; groups < 2; groups++) {
        trainer_dataset_t *d = small_dataset(groups);
        sched_wire_buf_t b = {0};
        assert_int_equal(sched_wire_encode_dataset(&b, 8, hash, d, NULL), 0);
        seed(groups ? "dataset_groups" : "dataset", &b);
        int64_t id = 0;
        trainer_dataset_t *o = NULL;
        char error[64];
        assert_int_equal(sched_wire_decode_dataset(b.p, b.len, &id, got, &o, error, sizeof error),
                         0);
        assert_int_equal(id, 8);
        assert_memory_equal(got, hash, sizeof hash);
        assert_non_null(o);
        assert_int_equal(o->rows, 4);
        assert_int_equal(o->features, 3);
        assert_memory_equal(o->x, d->x, 12 * sizeof *d->x);
        assert_memory_equal(o->y, d->y, 4 * sizeof *d->y);
        assert_string_equal(o->class_names[1], "dog");
        assert_int_equal(o->class_counts[0], 2);
        assert_int_equal(o->scaling, TRAINER_SCALE_STANDARDIZE);
        if (groups)
            assert_memory_equal(o->group, d->group, 4 * sizeof *d->group);
        else
            assert_null(o->group);
        trainer_dataset_free(o);
        /* every truncation, and a label out of range (trainer_dataset_check) */
        for (size_t n = 0; n < b.len; n++)
            assert_int_equal(sched_wire_decode_dataset(b.p, n, &id, got, &o, error, sizeof error),
                             MLPT_EFORMAT);
        d->y[0] = 5;
        assert_int_equal(sched_wire_encode_dataset(&b, 8, hash, d, NULL), 0);
        assert_int_equal(sched_wire_decode_dataset(b.p, b.len, &id, got, &o, error, sizeof error),
                         MLPT_EFORMAT);
        assert_null(o);
        free(b.p);
        trainer_dataset_free(d);
    }
}

static void dataset_refusal_and_lies(void **state) {
    (void)state;
    unsigned char hash[SCHED_WIRE_HASH] = {1}, got[SCHED_WIRE_HASH];
    sched_wire_buf_t b = {0};
    assert_int_equal(sched_wire_encode_dataset(&b, 3, hash, NULL, "cannot load dataset 3"), 0);
    seed("dataset_refused", &b);
    int64_t id;
    trainer_dataset_t *o = (trainer_dataset_t *)1;
    char error[64];
    assert_int_equal(sched_wire_decode_dataset(b.p, b.len, &id, got, &o, error, sizeof error), 0);
    assert_null(o);
    assert_string_equal(error, "cannot load dataset 3");
    /* a dataset that claims 2^40 rows in a few bytes: refused before any allocation */
    trainer_dataset_t *d = small_dataset(0);
    assert_int_equal(sched_wire_encode_dataset(&b, 3, hash, d, NULL), 0);
    size_t rows_at = SCHED_WIRE_HEADER + 8 + SCHED_WIRE_HASH + 1;
    b.p[rows_at + 5] = 1;
    assert_int_equal(sched_wire_decode_dataset(b.p, b.len, &id, got, &o, error, sizeof error),
                     MLPT_EFORMAT);
    b.p[rows_at + 5] = 0;
    /* features * rows overflowing size_t */
    memset(b.p + rows_at + 8, 0xff, 8);
    assert_int_equal(sched_wire_decode_dataset(b.p, b.len, &id, got, &o, error, sizeof error),
                     MLPT_EFORMAT);
    free(b.p);
    trainer_dataset_free(d);
}

static void small_messages(void **state) {
    (void)state;
    sched_wire_buf_t b = {0};
    sched_stop_reason_t why;
    assert_int_equal(sched_wire_encode_stop(&b, SCHED_WIRE_STOP, 4, SCHED_STOP_PRUNED), 0);
    seed("stop", &b);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len, &why), 0);
    assert_int_equal(why, SCHED_STOP_PRUNED);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len - 1, &why), MLPT_EFORMAT);
    assert_int_equal(sched_wire_encode_stop(&b, SCHED_WIRE_STOP_ALL, 0, SCHED_STOP_SHUTDOWN), 0);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len, &why), 0);
    assert_int_equal(why, SCHED_STOP_SHUTDOWN);
    assert_int_equal(sched_wire_encode_stop(&b, SCHED_WIRE_STOP, 4, SCHED_STOP_NONE), 0);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len, &why), MLPT_EFORMAT);
    assert_int_equal(sched_wire_encode_stop(&b, SCHED_WIRE_STOP, 4, (sched_stop_reason_t)99), 0);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len, &why), MLPT_EFORMAT);

    unsigned char hash[SCHED_WIRE_HASH], got[SCHED_WIRE_HASH];
    memset(hash, 7, sizeof hash);
    int64_t id;
    assert_int_equal(sched_wire_encode_want(&b, 12, hash), 0);
    seed("want", &b);
    assert_int_equal(sched_wire_decode_want(b.p, b.len, &id, got), 0);
    assert_int_equal(id, 12);
    assert_memory_equal(got, hash, sizeof hash);
    assert_int_equal(sched_wire_decode_want(b.p, b.len - 1, &id, got), MLPT_EFORMAT);
    assert_int_equal(sched_wire_encode_want(&b, -1, hash), 0);
    assert_int_equal(sched_wire_decode_want(b.p, b.len, &id, got), MLPT_EFORMAT);

    sched_wire_type_t type;
    uint64_t no;
    assert_int_equal(sched_wire_encode_empty(&b, SCHED_WIRE_BYE), 0);
    seed("bye", &b);
    assert_int_equal(b.len, SCHED_WIRE_HEADER);
    assert_int_equal(sched_wire_peek(b.p, b.len, &type, &no), 0);
    assert_int_equal(type, SCHED_WIRE_BYE);
    b.p[6] = 0;
    assert_int_equal(sched_wire_peek(b.p, b.len, &type, &no), MLPT_EFORMAT);
    b.p[6] = 9;
    assert_int_equal(sched_wire_peek(b.p, b.len, &type, &no), MLPT_EFORMAT);
    assert_int_equal(sched_wire_peek(b.p, 3, &type, &no), MLPT_EFORMAT);
    assert_int_equal(sched_wire_peek(NULL, 0, &type, &no), MLPT_EFORMAT);
    /* a job number where none belongs, none where one does */
    b.p[6] = SCHED_WIRE_BYE;
    b.p[8] = 1;
    assert_int_equal(sched_wire_peek(b.p, b.len, &type, &no), MLPT_EFORMAT);
    assert_int_equal(sched_wire_encode_stop(&b, SCHED_WIRE_STOP, 0, SCHED_STOP_CANCEL), 0);
    assert_int_equal(sched_wire_decode_stop(b.p, b.len, &why), MLPT_EFORMAT);
    free(b.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_round_trip),
        cmocka_unit_test(job_refused),
        cmocka_unit_test(job_group),
        cmocka_unit_test(msg_round_trip),
        cmocka_unit_test(msg_refused),
        cmocka_unit_test(dataset_round_trip),
        cmocka_unit_test(dataset_refusal_and_lies),
        cmocka_unit_test(small_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
