/* test_rungs.c - ASHA and Hyperband decided in trial order (scheduler/rungs.h) and Hyperband's
 * rules (pruner.h): whatever order the rows of the runs arrive in (two workers, a restart
 * replaying stored rows), the runs stopped and the notes are those of the runs fed one after
 * the other; a run waits for the runs before it; brackets compare only their own runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pruner.h"
#include "rungs.h"

#define RUNS 24
#define PLANNED 27

/* What the stop callback saw, by run. */
typedef struct seen {
    int stopped[RUNS];
    int64_t at[RUNS];
    char note[RUNS][192];
    int count;
} seen_t;

static void on_stop(void *user, int64_t run, int64_t iteration, const char *note) {
    seen_t *s = user;
    assert_true(run >= 0 && run < RUNS);
    assert_false(s->stopped[run]); /* once */
    s->stopped[run] = 1;
    s->at[run] = iteration;
    snprintf(s->note[run], sizeof s->note[run], "%s", note);
    s->count++;
}

/* A run's validation accuracy at an iteration: rising, at a level of its own. */
static double value(int run, int64_t it) {
    double level = 0.3 + 0.6 * (double)((run * 7919) % 97) / 97.0;
    return level * (1.0 - 1.0 / (double)(it + 1));
}

static sched_rungs_t *make(sched_pruner_type_t type) {
    sched_pruner_cfg_t cfg = {
        .type = type, .min_iterations = 1, .reduction_factor = 3, .max_iterations = PLANNED};
    sched_rungs_t *r = sched_rungs_new(&cfg);
    assert_non_null(r);
    for (int i = 0; i < RUNS; i++)
        assert_int_equal(sched_rungs_add(r, i, PLANNED), 0);
    return r;
}

/* One after the other: each run to its end, or to the row after its stop (its tail). */
static void feed_sequential(sched_pruner_type_t type, seen_t *s) {
    memset(s, 0, sizeof *s);
    sched_rungs_t *r = make(type);
    for (int i = 0; i < RUNS; i++) {
        for (int64_t it = 1; it <= PLANNED; it++) {
            assert_int_equal(sched_rungs_row(r, i, it, value(i, it), on_stop, s), 0);
            if (s->stopped[i] && it > s->at[i]) /* the stop takes effect an iteration later */
                break;
        }
        assert_int_equal(sched_rungs_end(r, i, on_stop, s), 0);
    }
    sched_rungs_free(r);
}

/* Interleaved: at each step a pseudo-random live run reports its next row; runs stop one row
 * after they are told (or run to the end when told after it). */
static void feed_interleaved(sched_pruner_type_t type, uint64_t seed, int window, seen_t *s) {
    memset(s, 0, sizeof *s);
    sched_rungs_t *r = make(type);
    int64_t next[RUNS];
    int ended[RUNS] = {0};
    for (int i = 0; i < RUNS; i++)
        next[i] = 1;
    int done = 0, lo = 0;
    uint64_t x = seed;
    while (done < RUNS) {
        while (lo < RUNS && ended[lo])
            lo++;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int i = lo + (int)((x >> 33) % (uint64_t)window); /* `window` runs at once */
        if (i >= RUNS || ended[i])
            continue;
        int64_t it = next[i]++;
        assert_int_equal(sched_rungs_row(r, i, it, value(i, it), on_stop, s), 0);
        if (it == PLANNED || (s->stopped[i] && it > s->at[i])) {
            assert_int_equal(sched_rungs_end(r, i, on_stop, s), 0);
            ended[i] = 1;
            done++;
        }
    }
    sched_rungs_free(r);
}

static void assert_same(const seen_t *a, const seen_t *b) {
    for (int i = 0; i < RUNS; i++) {
        assert_int_equal(a->stopped[i], b->stopped[i]);
        if (a->stopped[i]) {
            assert_int_equal(a->at[i], b->at[i]);
            assert_string_equal(a->note[i], b->note[i]);
        }
    }
}

static void test_order_decides_not_timing(void **state) {
    (void)state;
    sched_pruner_type_t types[] = {SCHED_PRUNER_ASHA, SCHED_PRUNER_HYPERBAND};
    for (size_t t = 0; t < 2; t++) {
        seen_t one, other;
        feed_sequential(types[t], &one);
        assert_true(one.count >= RUNS / 3); /* it prunes */
        assert_true(one.count < RUNS);
        for (uint64_t seed = 1; seed <= 20; seed++) {
            feed_interleaved(types[t], seed, 2 + (int)(seed % 4), &other);
            assert_same(&one, &other);
        }
    }
}

/* The first run to reach a rung waits for the runs before it; rows fed all at once (a restart
 * replaying stored rows) in any order give the same decisions. */
static void test_waits_for_earlier_runs(void **state) {
    (void)state;
    sched_pruner_cfg_t cfg = {
        .type = SCHED_PRUNER_ASHA, .min_iterations = 1, .reduction_factor = 2};
    sched_rungs_t *r = sched_rungs_new(&cfg);
    seen_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(sched_rungs_add(r, 0, 8), 0);
    assert_int_equal(sched_rungs_add(r, 1, 8), 0);
    assert_int_equal(sched_rungs_add(r, 1, 8), 0); /* once */
    /* run 1 is ahead: rungs at 1, 2, 4; its value at 1 is low but run 0 has not reported */
    for (int64_t it = 1; it <= 3; it++)
        assert_int_equal(sched_rungs_row(r, 1, it, 0.2, on_stop, &s), 0);
    assert_int_equal(s.count, 0);
    assert_false(sched_rungs_stopped(r, 1, NULL));
    /* run 0 reaches rung 0 with 0.5: of {0.5, 0.2} the top 2 / 2 = 1 goes on, run 1 stops */
    assert_int_equal(sched_rungs_row(r, 0, 1, 0.5, on_stop, &s), 0);
    assert_int_equal(s.count, 1);
    assert_true(s.stopped[1]);
    int64_t at = 0;
    assert_true(sched_rungs_stopped(r, 1, &at));
    assert_int_equal(at, 1);
    assert_string_equal(s.note[1], "pruned at rung 0 (iteration 1): 0.2 < 0.5");
    /* unknown runs and old rows are ignored */
    assert_int_equal(sched_rungs_row(r, 9, 1, 0.1, on_stop, &s), 0);
    assert_int_equal(sched_rungs_row(r, 0, 1, 0.1, on_stop, &s), 0);
    assert_int_equal(s.count, 1);
    sched_rungs_free(r);

    /* a run that ended before a rung is resolved there: the next is decided without it */
    r = sched_rungs_new(&cfg);
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sched_rungs_add(r, i, 8), 0);
    assert_int_equal(sched_rungs_row(r, 2, 1, 0.1, on_stop, &s), 0);
    assert_int_equal(sched_rungs_end(r, 0, on_stop, &s), 0); /* failed before any row */
    assert_int_equal(s.count, 0);                            /* run 1 still to come */
    assert_int_equal(sched_rungs_row(r, 1, 1, 0.9, on_stop, &s), 0);
    assert_true(s.stopped[2] && !s.stopped[1]); /* {0.9, 0.1}: 0.1 stops */
    sched_rungs_free(r);
}

static void test_hyperband_rules(void **state) {
    (void)state;
    sched_pruner_cfg_t c = {.type = SCHED_PRUNER_HYPERBAND,
                            .min_iterations = 1,
                            .reduction_factor = 3,
                            .max_iterations = 27};
    assert_int_equal(sched_hyperband_brackets(&c), 4); /* floor(log3(27)) + 1 */
    c.max_iterations = 26;
    assert_int_equal(sched_hyperband_brackets(&c), 3);
    c.max_iterations = 1;
    assert_int_equal(sched_hyperband_brackets(&c), 1);
    c.max_iterations = 0;
    assert_int_equal(sched_hyperband_brackets(&c), 1);
    c.max_iterations = 27;
    sched_pruner_cfg_t b2 = sched_hyperband_asha(&c, 2);
    assert_int_equal(b2.type, SCHED_PRUNER_ASHA);
    assert_int_equal(b2.min_iterations, 9);
    assert_int_equal(sched_asha_rung(&b2, 9, 27), 0);
    assert_int_equal(sched_asha_rung(&b2, 3, 27), -1);
    /* budgets ceil(4 x 3^s / (s + 1)), s = 3 - b: 27, 12, 6, 4 of 49 */
    size_t count[4] = {0};
    for (uint64_t k = 0; k < 49000; k++) {
        int b = sched_hyperband_bracket(&c, k);
        assert_true(b >= 0 && b < 4);
        assert_int_equal(b, sched_hyperband_bracket(&c, k)); /* a function of k */
        count[b]++;
    }
    size_t want[4] = {27000, 12000, 6000, 4000};
    for (int b = 0; b < 4; b++)
        assert_true(fabs((double)count[b] - (double)want[b]) < 0.05 * (double)want[b]);
}

/* Brackets compare only their own runs: the runs of other brackets change nothing. */
static void test_hyperband_brackets_apart(void **state) {
    (void)state;
    seen_t a, b;
    feed_sequential(SCHED_PRUNER_HYPERBAND, &a);
    sched_pruner_cfg_t cfg = {.type = SCHED_PRUNER_HYPERBAND,
                              .min_iterations = 1,
                              .reduction_factor = 3,
                              .max_iterations = PLANNED};
    int bracket[RUNS];
    for (int i = 0; i < RUNS; i++)
        bracket[i] = sched_hyperband_bracket(&cfg, (uint64_t)i);
    /* again, with the runs outside bracket 0 reporting nothing but zeros */
    memset(&b, 0, sizeof b);
    sched_rungs_t *r = make(SCHED_PRUNER_HYPERBAND);
    for (int i = 0; i < RUNS; i++) {
        for (int64_t it = 1; it <= PLANNED; it++) {
            double v = bracket[i] == 0 ? value(i, it) : 0.0;
            assert_int_equal(sched_rungs_row(r, i, it, v, on_stop, &b), 0);
            if (b.stopped[i] && it > b.at[i])
                break;
        }
        assert_int_equal(sched_rungs_end(r, i, on_stop, &b), 0);
    }
    sched_rungs_free(r);
    int in0 = 0;
    for (int i = 0; i < RUNS; i++)
        if (bracket[i] == 0) {
            in0++;
            assert_int_equal(a.stopped[i], b.stopped[i]);
            if (a.stopped[i])
                assert_non_null(strstr(a.note[i], "of bracket 0"));
        }
    assert_true(in0 >= 4);

    /* the pruner of grid sweeps (pruner.c, as rows arrive) keeps brackets apart too */
    sched_pruner_t *p = sched_pruner_new(&cfg);
    int64_t x = -1, y = -1, z = -1; /* x, y in bracket 0, z in another */
    for (int64_t id = 1; id < 1000 && (x < 0 || y < 0 || z < 0); id++) {
        int bk = sched_hyperband_bracket(&cfg, (uint64_t)id);
        if (bk == 0 && x < 0)
            x = id;
        else if (bk == 0 && y < 0)
            y = id;
        else if (bk != 0 && z < 0)
            z = id;
    }
    char note[192];
    /* rung 0 of bracket 0 is iteration 1; rf 3: before 3 values are there, the best goes on;
     * z's better value in another bracket does not count against x */
    assert_int_equal(sched_pruner_report(p, z, 27, 1, 0.9, note, sizeof note), 0);
    assert_int_equal(sched_pruner_report(p, x, 27, 1, 0.8, note, sizeof note), 0);
    assert_int_equal(sched_pruner_report(p, y, 27, 1, 0.85, note, sizeof note), 0);
    sched_pruner_free(p);
}

/* What the go callback saw: the last rung each run went past. */
static int64_t went_past[RUNS];

static void on_go(void *user, int64_t run, int64_t iteration) {
    (void)user;
    assert_true(run >= 0 && run < RUNS);
    assert_true(iteration > went_past[run]); /* each rung once, in order */
    went_past[run] = iteration;
}

/* Gates: where a run pauses next (its next undecided rung), and what was decided at each. */
static void test_gates_and_decisions(void **state) {
    (void)state;
    sched_pruner_cfg_t cfg = {
        .type = SCHED_PRUNER_ASHA, .min_iterations = 1, .reduction_factor = 3};
    sched_rungs_t *r = sched_rungs_new(&cfg);
    assert_non_null(r);
    sched_rungs_on_go(r, on_go);
    memset(went_past, 0, sizeof went_past);
    seen_t s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sched_rungs_add(r, i, PLANNED), 0);
    assert_int_equal(sched_rungs_gate(r, 0, 0), 1); /* rungs 1, 3, 9 below 27 */
    assert_int_equal(sched_rungs_gate(r, 0, 1), 3);
    assert_int_equal(sched_rungs_gate(r, 0, 9), 0);
    /* run 1 reaches rung 0 first: it waits for run 0 */
    assert_int_equal(sched_rungs_row(r, 1, 1, 0.92, on_stop, &s), 0);
    assert_int_equal(sched_rungs_passed(r, 1, 1), 0);
    assert_int_equal(went_past[1], 0);
    assert_int_equal(sched_rungs_gate(r, 1, 0), 1); /* undecided: still its gate */
    /* run 0 comes: both decided (fewer than rf values: each goes on as the best so far) */
    assert_int_equal(sched_rungs_row(r, 0, 1, 0.9, on_stop, &s), 0);
    assert_int_equal(went_past[0], 1);
    assert_int_equal(went_past[1], 1);
    assert_int_equal(sched_rungs_passed(r, 0, 1), 1);
    assert_int_equal(sched_rungs_passed(r, 0, 3), 0);
    assert_int_equal(sched_rungs_passed(r, 0, 2), 1); /* not a rung */
    assert_int_equal(sched_rungs_gate(r, 0, 0), 3);   /* rung 1 was passed: no gate any more */
    /* run 2 is third: below the top third of {0.9, 0.92, 0.1}: stopped */
    assert_int_equal(sched_rungs_row(r, 2, 1, 0.1, on_stop, &s), 0);
    assert_true(s.stopped[2]);
    assert_int_equal(s.at[2], 1);
    assert_int_equal(went_past[2], 0);
    assert_int_equal(sched_rungs_passed(r, 2, 1), -1);
    assert_int_equal(sched_rungs_passed(r, 2, 3), -1);
    assert_int_equal(sched_rungs_gate(r, 2, 0), 0); /* stopped: nothing to pause for */
    /* run 3, best of four: goes on */
    assert_int_equal(sched_rungs_row(r, 3, 1, 0.95, on_stop, &s), 0);
    assert_int_equal(went_past[3], 1);
    assert_int_equal(s.count, 1);
    sched_rungs_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_decides_not_timing),
        cmocka_unit_test(test_waits_for_earlier_runs),
        cmocka_unit_test(test_hyperband_rules),
        cmocka_unit_test(test_hyperband_brackets_apart),
        cmocka_unit_test(test_gates_and_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
