/*
 * test_store_recover.c - the SQLite store after a crash: trials left running go back to queued
 * with every committed row (a client may have read it) and the figures those rows give, unusable
 * checkpoints (at iteration 0, or past the rows) are dropped, and a trial's rows read back
 * exactly (store_trial_rows) for the scheduler to check its recomputed iterations against.
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
#include "store.h"
#include "store_fixtures.h"

/* Trials left running without a checkpoint go back to queued with every row they had (a client
 * may have read them) and their figures as those rows give them; the scheduler recomputes them
 * from iteration 1 and writes only new rows. A finished trial keeps its history. */
static void test_recover(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    int64_t sw = fx_sweep(st, ds, 3, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[1], FX_NOW, &err), 0, err);
    fx_metrics(st, t[0], 1, 4);
    fx_metrics(st, t[1], 1, 2);
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.5,
                             .final_val_accuracy = 0.5,
                             .test_accuracy = NAN,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[1], &end, &err), 0, err);
    fx_figures_t live = fx_trial_figures(st, t[0]);
    fx_assert_figures(
        live, ((fx_figures_t){
                  .done = 4, .best_iteration = 1, .seconds = 2.0, .best = 0.25, .final = 0.25}));
    store_close(st); /* "crash" */

    st = fx_open(e->db, STORE_WRITER);
    int64_t n = -1;
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 1);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_string_equal(fx_json_str(tr, "status"), "queued");
    assert_int_equal(fx_json_int(tr, "attempt"), 1);
    json_decref(tr);
    fx_assert_figures(fx_trial_figures(st, t[0]), live); /* what clients saw stays */
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE trial_id = 1"), 4);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE trial_id = 2"),
                     2); /* a finished trial keeps its history */
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 0);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW + 60, &err), 0, err);
    /* A stored row is never written twice; the next one is new. */
    store_metric_t again = fx_metric(t[0], 4);
    fx_assert_rc(store_metrics_insert(st, &again, 1, &err), MLPT_ESTATE, err);
    fx_metrics(st, t[0], 5, 5);
    tr = store_trial_get(st, t[0], &err);
    assert_int_equal(fx_json_int(tr, "attempt"), 2);
    assert_int_equal(fx_json_int(tr, "iterations_done"), 5);
    assert_string_equal(fx_json_str(tr, "started_at"), "2026-11-23T04:31:00.000Z");
    json_decref(tr);
    store_close(st);
}

/* Interrupted trials keep every row, whatever their checkpoint, with their figures recomputed
 * from those rows (the same as they showed live); a checkpoint taken before the first iteration
 * ended, or one past the rows, is deleted. store_trial_rows gives the rows back exactly. */
static void test_recover_keeps_every_row(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[6];
    int64_t sw = fx_sweep(st, ds, 6, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), 0, err);
    static const double acc[6] = {0.5, 0.75, 0.75, 0.6, 0.9, 0.8};
    unsigned char blob[300];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (unsigned char)(i * 31 % 256);
    for (int i = 0; i < 6; i++)
        fx_assert_rc(store_trial_start(st, t[i], FX_NOW, &err), 0, err);
    /* t[0]: a checkpoint after 4 of its 6 reported iterations; t[1] follows its prefix. */
    fx_metric_rows(st, t[0], 1, 4, acc);
    fx_metric_rows(st, t[1], 1, 4, acc);
    fx_assert_rc(store_checkpoint_put(st, t[0], 4, blob, sizeof(blob), &t[1], 1, &err), 0, err);
    fx_metric_rows(st, t[0], 5, 6, acc);
    fx_metric_rows(st, t[1], 5, 6, acc);
    fx_figures_t six = fx_trial_figures(st, t[0]);
    fx_assert_figures(six, ((fx_figures_t){.done = 6,
                                           .best_iteration = 5,
                                           .seconds = 5.25, /* 0.25 * (1 + ... + 6) */
                                           .best = 0.9,
                                           .final = 0.8}));
    /* t[2]: every row within its checkpoint. */
    fx_metric_rows(st, t[2], 1, 4, acc);
    fx_assert_rc(store_checkpoint_put(st, t[2], 4, blob, sizeof(blob), NULL, 0, &err), 0, err);
    fx_figures_t four = fx_trial_figures(st, t[2]);
    fx_assert_figures(four, ((fx_figures_t){.done = 4,
                                            .best_iteration = 2, /* the first best on ties */
                                            .seconds = 2.5,      /* 0.25 * (1 + 2 + 3 + 4) */
                                            .best = 0.75,
                                            .final = 0.6}));
    /* t[3]: a checkpoint past its rows (resuming from it would leave iteration 3 out forever). */
    fx_metric_rows(st, t[3], 1, 2, acc);
    fx_assert_rc(store_checkpoint_put(st, t[3], 3, blob, sizeof(blob), NULL, 0, &err), 0, err);
    fx_figures_t two = fx_trial_figures(st, t[3]);
    /* t[4]: stopped during its first iteration (a checkpoint at 0). */
    fx_assert_rc(store_checkpoint_put(st, t[4], 0, blob, sizeof(blob), NULL, 0, &err), 0, err);
    store_resume_t r;
    fx_assert_rc(store_checkpoint_get(st, t[4], &r, &err), MLPT_ENOTFOUND, err); /* not usable */
    /* t[5]: completed before the crash. */
    fx_metric_rows(st, t[5], 1, 3, acc);
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.75,
                             .final_val_accuracy = 0.75,
                             .test_accuracy = NAN,
                             .best_iteration = 2,
                             .now = FX_NOW + 1};
    fx_assert_rc(store_trial_finish(st, t[5], &end, &err), 0, err);
    fx_figures_t completed = fx_trial_figures(st, t[5]);
    store_close(st); /* "crash" */

    st = fx_open(e->db, STORE_WRITER);
    int64_t n = -1;
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) {
        json_t *tr = store_trial_get(st, t[i], &err);
        assert_string_equal(fx_json_str(tr, "status"), "queued");
        assert_int_equal(fx_json_int(tr, "attempt"), 1);
        json_decref(tr);
    }
    fx_assert_figures(fx_trial_figures(st, t[0]), six);
    fx_assert_figures(fx_trial_figures(st, t[1]), six);
    fx_assert_figures(fx_trial_figures(st, t[2]), four);
    fx_assert_figures(fx_trial_figures(st, t[3]), two);
    fx_figures_t none = {.seconds = 0.0, .best = NAN, .final = NAN};
    fx_assert_figures(fx_trial_figures(st, t[4]), none);
    fx_assert_figures(fx_trial_figures(st, t[5]), completed);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 6 + 6 + 4 + 2 + 3);
    /* Checkpoints: t[0]'s and t[2]'s are kept, t[3]'s (past its rows) and t[4]'s (at 0) gone. */
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) * 10 + sum(trial_id IN (%lld, %lld)) FROM trial_checkpoints",
             (long long)t[0], (long long)t[2]);
    assert_int_equal(fx_sql_int(e->db, sql), 22);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[0]), 4);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[1]), 4);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[3]), 0);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[4]), 0);

    /* What the scheduler resumes from: the checkpoint, and the rows to check against. */
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_int_equal(r.iteration, 4);
    assert_int_equal(r.len, sizeof(blob));
    assert_memory_equal(r.state, blob, sizeof(blob));
    free(r.state);
    for (int i = 1; i < 5; i++)
        if (i != 2)
            fx_assert_rc(store_checkpoint_get(st, t[i], &r, &err), MLPT_ENOTFOUND, err);
    store_metric_t *rows = NULL;
    size_t n_rows = 99;
    fx_assert_rc(store_trial_rows(st, t[0], &rows, &n_rows, &err), 0, err);
    assert_int_equal(n_rows, 6);
    for (size_t i = 0; i < n_rows; i++) {
        store_metric_t want = fx_metric(t[0], (int64_t)i + 1);
        assert_int_equal(rows[i].trial_id, t[0]);
        assert_int_equal(rows[i].iteration, (int64_t)i + 1);
        assert_true(rows[i].train_loss == want.train_loss);
        assert_true(rows[i].train_accuracy == want.train_accuracy);
        assert_true(rows[i].val_loss == want.val_loss);
        assert_true(rows[i].val_accuracy == acc[i]);
        assert_true(rows[i].seconds == 0.25 * (double)(i + 1));
    }
    free(rows);
    fx_assert_rc(store_trial_rows(st, t[4], &rows, &n_rows, &err), 0, err);
    assert_null(rows);
    assert_int_equal(n_rows, 0);

    /* Recovering again changes nothing. */
    fx_assert_rc(store_recover(st, &n, &err), 0, err);
    assert_int_equal(n, 0);
    fx_assert_figures(fx_trial_figures(st, t[0]), six);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 21);
    store_close(st);
}

/* Non-finite figures are stored as NULL and come back from store_trial_rows as NaN; a reader
 * reads the rows too. */
static void test_trial_rows_nan(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[1];
    fx_sweep(st, ds, 1, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    store_metric_t m = fx_metric(t[0], 1);
    m.train_loss = INFINITY;
    m.val_loss = NAN;
    m.val_accuracy = NAN;
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), 0, err);
    store_t *rd = fx_open(e->db, STORE_READER);
    store_metric_t *rows = NULL;
    size_t n = 0;
    fx_assert_rc(store_trial_rows(rd, t[0], &rows, &n, &err), 0, err);
    assert_int_equal(n, 1);
    assert_true(isnan(rows[0].train_loss) && isnan(rows[0].val_loss) &&
                isnan(rows[0].val_accuracy));
    assert_true(rows[0].train_accuracy == 0.5 && rows[0].seconds == 0.5);
    free(rows);
    store_close(rd);
    store_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_recover),
        T(test_recover_keeps_every_row),
        T(test_trial_rows_nan),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
