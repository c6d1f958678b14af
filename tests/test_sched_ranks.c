/*
 * test_sched_ranks.c - a trial's rank count and averaging interval (scheduler/ranks.h): the
 * request's members and their errors, the trial params' members read back (absent: one rank),
 * and the two "auto" rules as pure functions.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mlpt_err.h"
#include "ranks.h"

typedef struct errs {
    int n;
    char field[4][64];
    char why[4][160];
} errs_t;

static void collect(void *user, const char *field, const char *message) {
    errs_t *e = user;
    if (e->n < 4) {
        snprintf(e->field[e->n], sizeof e->field[0], "%s", field);
        snprintf(e->why[e->n], sizeof e->why[0], "%s", message);
    }
    e->n++;
}

static int parse(const char *text, size_t max_ranks, sched_ranks_t *out, errs_t *e) {
    memset(e, 0, sizeof *e);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (text)
        assert_non_null(j);
    int rc = sched_ranks_parse(j, max_ranks, out, collect, e);
    json_decref(j);
    return rc;
}

static void test_parse(void **state) {
    (void)state;
    sched_ranks_t r;
    errs_t e;
    assert_int_equal(parse(NULL, 0, &r, &e), 0); /* no training: one rank, interval auto */
    assert_int_equal(r.ranks, 1);
    assert_int_equal(r.sync_every, 0);
    assert_int_equal(parse("{\"seed\": 1}", 0, &r, &e), 0);
    assert_int_equal(r.ranks, 1);
    assert_int_equal(parse("{\"ranks\": \"auto\", \"sync_every\": 8}", 0, &r, &e), 0);
    assert_int_equal(r.ranks, 0);
    assert_int_equal(r.sync_every, 8);
    assert_int_equal(parse("{\"ranks\": 3, \"sync_every\": \"auto\"}", 4, &r, &e), 0);
    assert_int_equal(r.ranks, 3);
    assert_int_equal(r.sync_every, 0);

    static const struct {
        const char *body;
        size_t max;
        const char *field, *why;
    } bad[] = {
        {"{\"ranks\": 0}", 0, "training.ranks", "at least 1 (got 0)"},
        {"{\"ranks\": -2}", 0, "training.ranks", "at least 1"},
        {"{\"ranks\": 1.5}", 0, "training.ranks", "positive integer or \"auto\""},
        {"{\"ranks\": \"all\"}", 0, "training.ranks", "positive integer or \"auto\""},
        {"{\"ranks\": true}", 0, "training.ranks", "positive integer or \"auto\""},
        {"{\"ranks\": null}", 0, "training.ranks", "positive integer or \"auto\""},
        {"{\"ranks\": 2}", 1, "training.ranks", "2 exceeds the ranks this service runs (1)"},
        {"{\"ranks\": 4097}", 0, "training.ranks", "the most ranks of a trial (4096)"},
        {"{\"ranks\": 99999999999999999999}", 0, "training.ranks", ""},
        {"{\"sync_every\": 0}", 0, "training.sync_every", "at least 1"},
        {"{\"sync_every\": 65537}", 0, "training.sync_every", "the longest interval (65536)"},
        {"{\"sync_every\": \"AUTO\"}", 0, "training.sync_every", "or \"auto\""},
        {"{\"sync_every\": [4]}", 0, "training.sync_every", "or \"auto\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i].body, 0, NULL);
        if (!j) /* an integer jansson cannot hold: refused by the JSON parser already */
            continue;
        json_decref(j);
        if (parse(bad[i].body, bad[i].max, &r, &e) != -1 || e.n != 1)
            fail_msg("%s: expected one error, got %d", bad[i].body, e.n);
        assert_string_equal(e.field[0], bad[i].field);
        if (!strstr(e.why[0], bad[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].body, e.why[0], bad[i].why);
    }
    /* Both members wrong: both named. */
    assert_int_equal(parse("{\"ranks\": 0, \"sync_every\": -1}", 0, &r, &e), -1);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.field[0], "training.ranks");
    assert_string_equal(e.field[1], "training.sync_every");
}

static void test_params_json(void **state) {
    (void)state;
    json_t *o = json_object();
    sched_ranks_t r = {.ranks = 0, .sync_every = 0}, back;
    assert_int_equal(sched_ranks_to_json(&r, o), 0);
    assert_string_equal(json_string_value(json_object_get(o, "ranks")), "auto");
    assert_string_equal(json_string_value(json_object_get(o, "sync_every")), "auto");
    sched_ranks_from_json(o, &back);
    assert_int_equal(back.ranks, 0);
    assert_int_equal(back.sync_every, 0);
    r = (sched_ranks_t){.ranks = 4, .sync_every = 16};
    assert_int_equal(sched_ranks_to_json(&r, o), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "ranks")), 4);
    sched_ranks_from_json(o, &back);
    assert_int_equal(back.ranks, 4);
    assert_int_equal(back.sync_every, 16);
    json_decref(o);
    /* Stored before ranks existed, or unreadable: one rank, interval auto. */
    json_t *old = json_loads("{\"partitions\": 2, \"ranks\": -1, \"sync_every\": \"x\"}", 0, NULL);
    sched_ranks_from_json(old, &back);
    assert_int_equal(back.ranks, 1);
    assert_int_equal(back.sync_every, 0);
    json_decref(old);
    sched_ranks_from_json(NULL, &back);
    assert_int_equal(back.ranks, 1);
}

static void test_auto_ranks(void **state) {
    (void)state;
    assert_int_equal(sched_ranks_auto(1, 1, 0), 1); /* one rank: one */
    assert_int_equal(sched_ranks_auto(1, 4, 0), 4); /* the last trial takes them all */
    assert_int_equal(sched_ranks_auto(2, 5, 0), 2); /* even shares; the next takes 3 */
    assert_int_equal(sched_ranks_auto(1, 3, 0), 3);
    assert_int_equal(sched_ranks_auto(4, 4, 0), 1); /* as many trials as ranks: one each */
    assert_int_equal(sched_ranks_auto(9, 4, 0), 1);
    assert_int_equal(sched_ranks_auto(1, 16, 8), 8); /* bounded */
    assert_int_equal(sched_ranks_auto(0, 0, 0), 1);
}

/* An executor's idle ranks and the slots a job across ranks holds (3 ranks x 2 workers). */
static void test_slots(void **state) {
    (void)state;
    assert_int_equal(sched_ranks_idle(6, 6, 3), 3);
    assert_int_equal(sched_ranks_idle(5, 6, 3), 2); /* a rank with a busy worker is not idle */
    assert_int_equal(sched_ranks_idle(1, 6, 3), 0);
    assert_int_equal(sched_ranks_idle(0, 6, 3), 0);
    assert_int_equal(sched_ranks_idle(4, 4, 1), 1); /* the local pool: one rank */
    assert_int_equal(sched_ranks_idle(2, 2, 0), 1);
    assert_int_equal(sched_ranks_idle(2, 2, 4), 2); /* fewer slots than ranks: one each */
    assert_int_equal(sched_ranks_slots(1, 6, 3, 3), 1);
    assert_int_equal(sched_ranks_slots(2, 6, 3, 3), 4);
    assert_int_equal(sched_ranks_slots(3, 6, 3, 3), 6);
    assert_int_equal(sched_ranks_slots(4, 6, 3, 3), 1); /* more than it has: handed over to fail */
    assert_int_equal(sched_ranks_slots(2, 4, 1, 1), 1);
    assert_int_equal(sched_ranks_slots(0, 4, 2, 2), 1);
    /* under --mpi rank 0 joins no group: 3 ranks, groups of 2 at most */
    assert_int_equal(sched_ranks_slots(2, 6, 3, 2), 4);
    assert_int_equal(sched_ranks_slots(3, 6, 3, 2), 1);
}

static void test_auto_sync_every(void **state) {
    (void)state;
    /* 1 MB of parameters over 1 Gb/s with 50 us latency between 2 ranks: in and out, the vote
     * and the weights, about 16.2 ms an averaging; a mini-batch of 1 GFLOP at 50 GFLOP/s is
     * 20 ms, 5% of it 1 ms: 17 batches. */
    sched_sync_cost_t c = {.model_bytes = 1e6,
                           .batch_flops = 1e9,
                           .gflops = 50.0,
                           .bandwidth = 125e6,
                           .latency = 50e-6,
                           .ranks = 2,
                           .batches = 0};
    double t = sched_sync_seconds(&c);
    assert_true(fabs(t - 2 * (2 * 50e-6 + (16 + 1e6) / 125e6)) < 1e-12);
    size_t k = sched_sync_every_auto(&c);
    assert_int_equal(k, 17);
    /* the smallest interval under the budget */
    double batch = c.batch_flops / (c.gflops * 1e9);
    assert_true(t <= SCHED_SYNC_BUDGET * (double)k * batch);
    assert_true(t > SCHED_SYNC_BUDGET * (double)(k - 1) * batch);
    /* A faster link averages more often; more ranks, less often; a pass's end bounds it. */
    c.bandwidth = 1250e6;
    assert_int_equal(sched_sync_every_auto(&c), 2);
    c.bandwidth = 125e6;
    c.ranks = 4; /* 3 members in and out: 48.6 ms */
    assert_int_equal(sched_sync_every_auto(&c), 49);
    c.batches = 5;
    assert_int_equal(sched_sync_every_auto(&c), 5);
    /* Cheap communication: every mini-batch. */
    c = (sched_sync_cost_t){.model_bytes = 400,
                            .batch_flops = 1e9,
                            .gflops = 50,
                            .bandwidth = 10e9,
                            .latency = 1e-6,
                            .ranks = 2};
    assert_int_equal(sched_sync_every_auto(&c), 1);
    /* Unknown or absurd figures: 1, never a division by zero. */
    sched_sync_cost_t z = c;
    z.gflops = 0;
    assert_int_equal(sched_sync_every_auto(&z), 1);
    z = c;
    z.bandwidth = NAN;
    assert_int_equal(sched_sync_every_auto(&z), 1);
    z = c;
    z.ranks = 1;
    assert_int_equal(sched_sync_every_auto(&z), 1);
    assert_int_equal(sched_sync_every_auto(NULL), 1);
    /* Huge models on a slow link: bounded. */
    z = c;
    z.model_bytes = 1e12;
    z.bandwidth = 1.0;
    assert_int_equal(sched_sync_every_auto(&z), SCHED_MAX_SYNC_EVERY);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),           cmocka_unit_test(test_params_json),
        cmocka_unit_test(test_auto_ranks),      cmocka_unit_test(test_slots),
        cmocka_unit_test(test_auto_sync_every),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
