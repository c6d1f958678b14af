/* test_pruner.c - the pruners' rules on synthetic iteration reports: ASHA's rungs and
 * promotions, the median rule, the state a sweep keeps (one run at a time, notes), and the
 * request member's validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pruner.h"

static const sched_pruner_cfg_t asha3 = {
    .type = SCHED_PRUNER_ASHA, .min_iterations = 1, .reduction_factor = 3};

static void test_asha_rungs(void **state) {
    (void)state;
    /* rungs at 1, 3, 9 below 27; 27 itself is the end, not a rung */
    assert_int_equal(sched_asha_rung(&asha3, 1, 27), 0);
    assert_int_equal(sched_asha_rung(&asha3, 3, 27), 1);
    assert_int_equal(sched_asha_rung(&asha3, 9, 27), 2);
    assert_int_equal(sched_asha_rung(&asha3, 27, 27), -1);
    assert_int_equal(sched_asha_rung(&asha3, 2, 27), -1);
    assert_int_equal(sched_asha_rung(&asha3, 4, 27), -1);
    assert_int_equal(sched_asha_rung(&asha3, 9, 9), -1);
    sched_pruner_cfg_t c = {.type = SCHED_PRUNER_ASHA, .min_iterations = 2, .reduction_factor = 2};
    assert_int_equal(sched_asha_rung(&c, 1, 100), -1);
    assert_int_equal(sched_asha_rung(&c, 2, 100), 0);
    assert_int_equal(sched_asha_rung(&c, 8, 100), 2);
    assert_int_equal(sched_asha_rung(&c, 64, 100), 5);
    assert_int_equal(sched_asha_rung(&c, 128, 100), -1);
}

static void test_asha_promote(void **state) {
    (void)state;
    double cut;
    /* fewer than reduction_factor values at the rung: the best of them goes on (Optuna's) */
    double one[] = {0.2};
    assert_int_equal(sched_asha_promote(one, 1, 0.2, 3, &cut), 1);
    assert_true(cut == 0.2);
    double two[] = {0.9, 0.1};
    assert_int_equal(sched_asha_promote(two, 2, 0.1, 3, &cut), 0);
    assert_true(cut == 0.9);
    assert_int_equal(sched_asha_promote(two, 2, 0.9, 3, &cut), 1);
    /* three values: the top 1 goes on */
    double three[] = {0.5, 0.9, 0.7};
    assert_int_equal(sched_asha_promote(three, 3, 0.7, 3, &cut), 0);
    assert_true(cut == 0.9);
    assert_int_equal(sched_asha_promote(three, 3, 0.9, 3, &cut), 1);
    /* six values: the top 2 go on; a tie with the cutoff goes on */
    double six[] = {0.1, 0.8, 0.3, 0.8, 0.6, 0.2};
    assert_int_equal(sched_asha_promote(six, 6, 0.8, 3, &cut), 1);
    assert_true(cut == 0.8);
    assert_int_equal(sched_asha_promote(six, 6, 0.6, 3, &cut), 0);
    /* a value that cannot be compared never prunes */
    assert_int_equal(sched_asha_promote(six, 6, NAN, 3, NULL), 1);
}

static void test_median_rule(void **state) {
    (void)state;
    sched_pruner_cfg_t c = {.type = SCHED_PRUNER_MEDIAN, .warmup_iterations = 2, .min_trials = 3};
    double m;
    double odd[] = {0.5, 0.9, 0.7};
    assert_true(sched_median_of(odd, 3) == 0.7);
    double even[] = {0.4, 0.8, 0.6, 0.2};
    assert_true(fabs(sched_median_of(even, 4) - 0.5) < 1e-12);
    double o1[] = {0.5, 0.9, 0.7};
    /* within the warm-up: goes on whatever the value */
    assert_int_equal(sched_median_keep(&c, 2, 0.1, o1, 3, &m), 1);
    assert_true(isnan(m));
    /* past it: below the median stops, at or above goes on */
    assert_int_equal(sched_median_keep(&c, 3, 0.6, o1, 3, &m), 0);
    assert_true(m == 0.7);
    double o2[] = {0.5, 0.9, 0.7};
    assert_int_equal(sched_median_keep(&c, 3, 0.7, o2, 3, &m), 1);
    /* fewer than min_trials others: goes on */
    double o3[] = {0.5, 0.9};
    assert_int_equal(sched_median_keep(&c, 3, 0.1, o3, 2, &m), 1);
}

/* Nine runs of 27 iterations, run r worth ((5 r) mod 9) / 10 at every iteration, reported one
 * iteration at a time across runs in run order (as a pool of workers would): at rung 0 each
 * arrival is compared with those before it, so 0.1, 0.2, 0.3 and 0.4 stop there; the others
 * arrive in increasing order at the later rungs and each is the best so far (asynchronous: the
 * early arrivals are promoted); the best survives to the end. */
static void test_asha_sweep(void **state) {
    (void)state;
    sched_pruner_t *p = sched_pruner_new(&asha3);
    assert_non_null(p);
    int64_t stop_at[9] = {0};
    char note[160], notes[9][160] = {{0}};
    for (int64_t it = 1; it <= 27; it++)
        for (int r = 0; r < 9; r++) {
            if (stop_at[r])
                continue;
            int rc =
                sched_pruner_report(p, 100 + r, 27, it, ((5 * r) % 9) / 10.0, note, sizeof note);
            assert_true(rc == 0 || rc == 1);
            if (rc == 1) {
                stop_at[r] = it;
                snprintf(notes[r], sizeof notes[r], "%s", note);
            }
        }
    int64_t want[9] = {0, 0, 1, 0, 1, 0, 1, 0, 1};
    assert_memory_equal(stop_at, want, sizeof want);
    assert_string_equal(notes[2], "pruned at rung 0 (iteration 1): 0.1 < 0.5");
    assert_string_equal(notes[8], "pruned at rung 0 (iteration 1): 0.4 < 0.6");
    /* the same iteration twice is ignored */
    assert_int_equal(sched_pruner_report(p, 102, 27, 1, 0.0, note, sizeof note), 0);
    sched_pruner_free(p);
}

/* A restart that feeds the stored rows again in the same order decides the same. */
static void test_asha_deterministic(void **state) {
    (void)state;
    int out[2][9 * 27];
    for (int pass = 0; pass < 2; pass++) {
        sched_pruner_t *p = sched_pruner_new(&asha3);
        size_t k = 0;
        for (int64_t it = 1; it <= 27; it++)
            for (int r = 0; r < 9; r++)
                out[pass][k++] =
                    sched_pruner_report(p, r, 27, it, ((r * 7) % 9) / 9.0 + it / 100.0, NULL, 0);
        sched_pruner_free(p);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
}

static void test_median_sweep(void **state) {
    (void)state;
    sched_pruner_cfg_t c = {.type = SCHED_PRUNER_MEDIAN, .warmup_iterations = 2, .min_trials = 2};
    sched_pruner_t *p = sched_pruner_new(&c);
    char note[160];
    /* runs 0..3 worth 0.4, 0.6, 0.8, 0.2 from iteration 1, reported run 3 first */
    double worth[] = {0.4, 0.6, 0.8, 0.2};
    int64_t stopped[4] = {0};
    for (int64_t it = 1; it <= 5; it++)
        for (int r = 3; r >= 0; r--)
            if (!stopped[r] && sched_pruner_report(p, r, 5, it, worth[r], note, sizeof note) == 1) {
                stopped[r] = it;
                assert_string_equal(
                    note, "pruned at iteration 3: best 0.4 < median 0.6 of 3 other trials");
            }
    /* at iteration 3 (past the warm-up): run 3 has nobody to compare with, run 2 one other (fewer
     * than min_trials), run 1 sees 0.2 and 0.8 (median 0.5: goes on), run 0 sees 0.2, 0.8, 0.6
     * (median 0.6: stops) */
    int64_t want[4] = {3, 0, 0, 0};
    assert_memory_equal(stopped, want, sizeof want);
    sched_pruner_free(p);
}

/* Rebuilding from stored rows: recorded values count at their rung, and a note names the
 * iteration a run was stopped at. */
static void test_record_and_notes(void **state) {
    (void)state;
    sched_pruner_t *p = sched_pruner_new(&asha3);
    /* two ended runs recorded at rung 0 (iteration 1) and a row that is no rung */
    assert_int_equal(sched_pruner_record(p, 1, 27, 1, 0.9), 0);
    assert_int_equal(sched_pruner_record(p, 2, 27, 1, 0.8), 0);
    assert_int_equal(sched_pruner_record(p, 2, 27, 2, 0.1), 0);
    /* the third arrival at rung 0 is compared with them: top 1 of 3 */
    char note[160];
    assert_int_equal(sched_pruner_report(p, 3, 27, 1, 0.5, note, sizeof note), 1);
    assert_string_equal(note, "pruned at rung 0 (iteration 1): 0.5 < 0.9");
    /* a stopped run's later rows are not recorded: its 0.99 at rung 1 (iteration 3) does not
     * count, so run 5's 0.95 there is the top 1 of 0.9, 0.8, 0.95 */
    assert_int_equal(sched_pruner_report(p, 3, 27, 3, 0.99, note, sizeof note), 0);
    assert_int_equal(sched_pruner_record(p, 1, 27, 3, 0.9), 0);
    assert_int_equal(sched_pruner_record(p, 2, 27, 3, 0.8), 0);
    assert_int_equal(sched_pruner_report(p, 5, 27, 3, 0.95, note, sizeof note), 0);
    assert_int_equal(sched_pruner_report(p, 6, 27, 3, 0.93, note, sizeof note), 1);
    sched_pruner_free(p);
    assert_int_equal(sched_pruner_note_iteration("pruned at rung 2 (iteration 9): 0.71 < 0.78"), 9);
    assert_int_equal(
        sched_pruner_note_iteration("pruned at iteration 12: best 0.4 < median 0.6 of 3 other"),
        12);
    assert_int_equal(sched_pruner_note_iteration("training failed"), 0);
    assert_int_equal(sched_pruner_note_iteration(NULL), 0);
}

/* Early stopping: patience iterations without an improvement larger than min_delta stop. */
static void test_early_stop_rule(void **state) {
    (void)state;
    sched_early_stop_t loss = {.metric = SCHED_ES_VAL_LOSS, .patience = 2, .min_delta = 0.01};
    sched_es_state_t st = {0};
    char note[200];
    /* 1.0, 0.5 improve; 0.495 is within min_delta; NaN does not improve: stop at 4 */
    assert_int_equal(sched_early_stop_step(&loss, &st, 1, 1.0, note, sizeof note), 0);
    assert_int_equal(sched_early_stop_step(&loss, &st, 2, 0.5, note, sizeof note), 0);
    assert_int_equal(sched_early_stop_step(&loss, &st, 3, 0.495, note, sizeof note), 0);
    assert_int_equal(sched_early_stop_step(&loss, &st, 4, NAN, note, sizeof note), 1);
    assert_string_equal(note, "early stopped at iteration 4: val_loss did not improve by more "
                              "than 0.01 for 2 iterations (best 0.5 at iteration 2)");
    /* accuracy: higher is better; an improvement resets the count */
    sched_early_stop_t acc = {.metric = SCHED_ES_VAL_ACCURACY, .patience = 2, .min_delta = 0};
    sched_es_state_t sa = {0};
    assert_int_equal(sched_early_stop_step(&acc, &sa, 1, 0.5, NULL, 0), 0);
    assert_int_equal(sched_early_stop_step(&acc, &sa, 2, 0.5, NULL, 0), 0);
    assert_int_equal(sched_early_stop_step(&acc, &sa, 3, 0.6, NULL, 0), 0);
    assert_int_equal(sched_early_stop_step(&acc, &sa, 4, 0.6, NULL, 0), 0);
    assert_int_equal(sched_early_stop_step(&acc, &sa, 5, 0.55, NULL, 0), 1);
    /* none: never */
    sched_early_stop_t none = {0};
    sched_es_state_t sn = {0};
    for (int64_t i = 1; i < 50; i++)
        assert_int_equal(sched_early_stop_step(&none, &sn, i, 1.0, NULL, 0), 0);
}

typedef struct errs {
    char field[8][64];
    size_t n;
} errs_t;

static void collect(void *user, const char *field, const char *message) {
    errs_t *e = user;
    (void)message;
    if (e->n < 8)
        snprintf(e->field[e->n++], sizeof e->field[0], "%s", field);
}

static int parse(const char *text, sched_pruner_cfg_t *cfg, errs_t *e) {
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    memset(e, 0, sizeof *e);
    int rc = sched_pruner_parse(j, cfg, collect, e);
    json_decref(j);
    return rc;
}

static int parse_es(const char *text, sched_early_stop_t *es, errs_t *e) {
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    memset(e, 0, sizeof *e);
    int rc = sched_early_stop_parse(j, es, collect, e);
    json_decref(j);
    return rc;
}

static void test_parse_early_stop(void **state) {
    (void)state;
    sched_early_stop_t es;
    errs_t e;
    assert_int_equal(parse_es("null", &es, &e), 0);
    assert_int_equal(es.metric, SCHED_ES_NONE);
    assert_int_equal(parse_es("{}", &es, &e), 0);
    assert_int_equal(es.metric, SCHED_ES_VAL_LOSS);
    assert_int_equal(es.patience, 5);
    assert_true(es.min_delta == 0.0);
    assert_int_equal(
        parse_es("{\"metric\": \"val_accuracy\", \"patience\": 3, \"min_delta\": 0.001}", &es, &e),
        0);
    assert_int_equal(es.metric, SCHED_ES_VAL_ACCURACY);
    assert_int_equal(es.patience, 3);
    assert_int_equal(parse_es("{\"metric\": \"loss\"}", &es, &e), -1);
    assert_string_equal(e.field[0], "training.early_stopping.metric");
    assert_int_equal(parse_es("{\"patience\": 0}", &es, &e), -1);
    assert_string_equal(e.field[0], "training.early_stopping.patience");
    assert_int_equal(parse_es("{\"min_delta\": -0.1}", &es, &e), -1);
    assert_string_equal(e.field[0], "training.early_stopping.min_delta");
    assert_int_equal(parse_es("{\"rounds\": 3}", &es, &e), -1);
    assert_string_equal(e.field[0], "training.early_stopping.rounds");
    assert_int_equal(parse_es("5", &es, &e), -1);
    assert_string_equal(e.field[0], "training.early_stopping");
}

static void test_parse(void **state) {
    (void)state;
    sched_pruner_cfg_t c;
    errs_t e;
    assert_int_equal(parse("null", &c, &e), 0);
    assert_int_equal(c.type, SCHED_PRUNER_NONE);
    assert_int_equal(parse("{\"type\": \"asha\"}", &c, &e), 0);
    assert_int_equal(c.type, SCHED_PRUNER_ASHA);
    assert_int_equal(c.min_iterations, 1);
    assert_int_equal(c.reduction_factor, 3);
    assert_int_equal(
        parse("{\"type\": \"median\", \"warmup_iterations\": 0, \"min_trials\": 4}", &c, &e), 0);
    assert_int_equal(c.warmup_iterations, 0);
    assert_int_equal(c.min_trials, 4);
    assert_int_equal(parse("{\"type\": \"asha\", \"reduction_factor\": 1}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.reduction_factor");
    assert_int_equal(parse("{\"type\": \"asha\", \"min_iterations\": 1.5}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.min_iterations");
    assert_int_equal(parse("{\"type\": \"asha\", \"warmup_iterations\": 1}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.warmup_iterations");
    assert_int_equal(parse("{\"type\": \"hyperband\"}", &c, &e), 0);
    assert_int_equal(c.type, SCHED_PRUNER_HYPERBAND);
    assert_int_equal(c.min_iterations, 1);
    assert_int_equal(c.reduction_factor, 3);
    assert_int_equal(c.max_iterations, 0); /* the sweep's longest trial */
    assert_int_equal(parse("{\"type\": \"hyperband\", \"min_iterations\": 3, "
                           "\"max_iterations\": 81, \"reduction_factor\": 3}",
                           &c, &e),
                     0);
    assert_int_equal(c.max_iterations, 81);
    assert_int_equal(
        parse("{\"type\": \"hyperband\", \"min_iterations\": 9, \"max_iterations\": 3}", &c, &e),
        -1);
    assert_string_equal(e.field[0], "pruner.max_iterations");
    assert_int_equal(parse("{\"type\": \"hyperband\", \"max_iterations\": 0}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.max_iterations");
    assert_int_equal(parse("{\"type\": \"hyperband\", \"warmup_iterations\": 1}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.warmup_iterations");
    assert_int_equal(parse("{\"type\": \"asha\", \"max_iterations\": 9}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.max_iterations");
    assert_int_equal(parse("{\"type\": \"sha\"}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.type");
    assert_int_equal(parse("{}", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner.type");
    assert_int_equal(parse("[1]", &c, &e), -1);
    assert_string_equal(e.field[0], "pruner");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asha_rungs),
        cmocka_unit_test(test_asha_promote),
        cmocka_unit_test(test_median_rule),
        cmocka_unit_test(test_asha_sweep),
        cmocka_unit_test(test_asha_deterministic),
        cmocka_unit_test(test_median_sweep),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_early_stop),
        cmocka_unit_test(test_early_stop_rule),
        cmocka_unit_test(test_record_and_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
