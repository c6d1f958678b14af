/*
 * test_store_sweeps.c - the SQLite store, part 2 of 3: sweeps and trials through their lives.
 * Sweep creation, status, progress and best trial; a trial's life cycle and model; canceling
 * queued trials; checkpoints (written after the rows they cover, replaced, deleted when the trial
 * ends) and the walk over queued trials at start-up. Recovery after a crash: test_store_recover.c.
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

/* ------------------------------------------------------------------------------------------ */
/* Sweeps. */

static void test_sweep_insert_and_get(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t trials[3] = {0};
    int iters[3] = {10, 20, 30};
    int64_t sw = fx_sweep(st, ds, 3, iters, trials);
    assert_true(trials[0] > 0 && trials[1] == trials[0] + 1 && trials[2] == trials[0] + 2);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *s = store_sweep_get(rd, sw, &err);
    assert_non_null(s);
    char *text = json_dumps(s, JSON_COMPACT);
    assert_string_equal(
        text, "{\"id\":1,\"name\":\"grid\",\"dataset_id\":1,\"test_dataset_id\":null,"
              "\"status\":\"queued\",\"trials_total\":3,\"trials\":{\"queued\":3,"
              "\"running\":0,\"completed\":0,\"failed\":0,\"diverged\":0,\"pruned\":0,"
              "\"stopped\":0,\"canceled\":0},\"progress\":0.0,\"best_trial\":null,\"spec\":"
              "{\"dataset_id\":1,\"grid\":{\"neurons\":[10,20]}},\"created_at\":"
              "\"2026-11-23T04:31:40.000Z\",\"started_at\":null,\"finished_at\":null,"
              "\"error\":null}");
    free(text);
    json_decref(s);

    /* Refusals leave nothing behind. */
    const char *params[] = {"{\"iterations\":1}", "[1]"};
    store_sweep_new_t bad = {.dataset_id = 42, .spec_json = "{}", .search = "grid"};
    int64_t id = 0;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_ENOTFOUND, err);
    assert_non_null(strstr(err.message, "dataset 42"));
    bad.dataset_id = ds;
    bad.test_dataset_id = 43;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_ENOTFOUND, err);
    bad.test_dataset_id = 0;
    fx_assert_rc(store_sweep_insert(st, &bad, params, 2, &id, NULL, &err), MLPT_EINVAL, err);
    assert_non_null(strstr(err.message, "params_json[1]"));
    bad.search = "bayes";
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    bad.search = "grid";
    bad.spec_json = "not json";
    fx_assert_rc(store_sweep_insert(st, &bad, params, 1, &id, NULL, &err), MLPT_EINVAL, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM sweeps"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 3);

    assert_null(store_sweep_get(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    store_close(rd);
    store_close(st);
}

static void test_sweep_status_progress_and_best(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[4];
    int iters[4] = {10, 10, 20, 0}; /* the last plans 1 iteration (0 is not a plan) */
    int64_t sw = fx_sweep(st, ds, 4, iters, t);

    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW + 60, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_metrics(st, t[0], 1, 4);
    fx_trial_end(st, t[1], "completed", 0.9, 0.85, FX_NOW);
    json_t *s = store_sweep_get(st, sw, &err);
    assert_string_equal(fx_json_str(s, "started_at"), "2026-11-23T04:30:00.000Z");
    json_t *counts = json_object_get(s, "trials");
    assert_int_equal(fx_json_int(counts, "running"), 1);
    assert_int_equal(fx_json_int(counts, "completed"), 1);
    assert_int_equal(fx_json_int(counts, "queued"), 2);
    /* done: 4 + 10 + 0 + 0 of 10 + 10 + 20 + 1 */
    assert_float_equal(json_real_value(json_object_get(s, "progress")), 14.0 / 41.0, 1e-12);
    json_t *best = json_object_get(s, "best_trial"); /* the leader while running */
    assert_int_equal(fx_json_int(best, "id"), t[1]);
    assert_int_equal(fx_json_int(json_object_get(best, "params"), "neurons"), 20);
    assert_float_equal(json_real_value(json_object_get(best, "best_val_accuracy")), 0.9, 0);
    json_decref(s);

    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.9,
                             .final_val_accuracy = 0.9,
                             .test_accuracy = 0.88,
                             .best_iteration = 4,
                             .now = FX_NOW + 10};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err); /* ties t[1]; t[0] is lower */
    fx_trial_end(st, t[2], "diverged", NAN, NAN, FX_NOW);
    fx_assert_rc(store_sweep_set_status(st, sw, "completed", FX_NOW + 100, NULL, &err), 0, err);
    s = store_sweep_get(st, sw, &err);
    assert_string_equal(fx_json_str(s, "status"), "completed");
    assert_string_equal(fx_json_str(s, "started_at"), "2026-11-23T04:30:00.000Z"); /* first time */
    assert_string_equal(fx_json_str(s, "finished_at"), "2026-11-23T04:31:40.000Z");
    assert_float_equal(json_real_value(json_object_get(s, "progress")), 1.0, 0);
    assert_int_equal(fx_json_int(json_object_get(s, "best_trial"), "id"), t[0]);
    assert_int_equal(fx_json_int(json_object_get(s, "trials"), "diverged"), 1);
    json_decref(s);
    assert_int_equal(fx_sql_int(e->db, "SELECT best_trial_id FROM sweeps"), t[0]);

    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "failed", FX_NOW, NULL, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "completed"));
    fx_assert_rc(store_sweep_set_status(st, 99, "failed", FX_NOW, NULL, &err), MLPT_ENOTFOUND, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "queued", FX_NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "done", FX_NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "failed", INFINITY, NULL, &err), MLPT_EINVAL, err);

    /* A failed sweep keeps its error; no trial with an accuracy -> no best. */
    int64_t t2[1];
    int64_t sw2 = fx_sweep(st, ds, 1, NULL, t2);
    fx_assert_rc(store_sweep_delete(st, sw2, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_sweep_set_status(st, sw2, "failed", FX_NOW, "dataset file missing", &err), 0,
                 err);
    s = store_sweep_get(st, sw2, &err);
    assert_string_equal(fx_json_str(s, "error"), "dataset file missing");
    assert_true(json_is_null(json_object_get(s, "best_trial")));
    assert_true(json_is_null(json_object_get(s, "started_at")));
    json_decref(s);

    fx_assert_rc(store_sweep_delete(st, sw, &err), 0, err);
    fx_assert_rc(store_sweep_delete(st, sw, &err), MLPT_ENOTFOUND, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_models"), 0);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Trials. */

static void test_trial_lifecycle_and_model(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    fx_sweep(st, ds, 2, NULL, t);

    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "running"));
    fx_assert_rc(store_trial_start(st, 99, FX_NOW, &err), MLPT_ENOTFOUND, err);
    fx_metrics(st, t[0], 1, 4);
    store_placement_t where = {.rank = 0, .workers = 2, .host = "node-a"};
    fx_assert_rc(store_trial_set_placement(st, t[0], &where, &err), 0, err);
    unsigned char model[3000];
    for (size_t i = 0; i < sizeof(model); i++)
        model[i] = (unsigned char)(i * 7 % 256); /* zeros included */
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.75,
                             .final_val_accuracy = 0.5,
                             .test_accuracy = 0.625,
                             .best_iteration = 3,
                             .error = NULL,
                             .model = model,
                             .model_len = sizeof(model),
                             .now = FX_NOW + 2.5};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_trial_finish(st, 99, &end, &err), MLPT_ENOTFOUND, err);
    end.status = "running";
    fx_assert_rc(store_trial_finish(st, t[1], &end, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_finish(st, t[1], NULL, &err), MLPT_EINVAL, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_non_null(tr);
    char *text = json_dumps(tr, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"id\":1,\"sweep_id\":1,\"ordinal\":0,\"status\":\"completed\","
                        "\"attempt\":1,\"params\":{\"hidden_layers\":1,\"neurons\":10,"
                        "\"iterations\":10},\"iterations_done\":4,\"best_val_accuracy\":0.75,"
                        "\"best_iteration\":3,\"final_val_accuracy\":0.5,\"test_accuracy\":0.625,"
                        "\"error\":null,\"has_model\":true,\"created_at\":"
                        "\"2026-11-23T04:31:40.000Z\",\"started_at\":\"2026-11-23T04:30:00.000Z\","
                        "\"finished_at\":\"2026-11-23T04:30:02.500Z\",\"seconds\":2.0,"
                        "\"placement\":{\"rank\":0,\"host\":\"node-a\",\"workers\":2}}");
    free(text);
    json_decref(tr);

    void *blob = NULL;
    size_t len = 0;
    fx_assert_rc(store_trial_model(rd, t[0], &blob, &len, &err), 0, err);
    assert_int_equal(len, sizeof(model));
    assert_memory_equal(blob, model, sizeof(model));
    free(blob);
    fx_assert_rc(store_trial_model(rd, t[1], &blob, &len, &err), MLPT_ENOTFOUND, err);
    assert_non_null(strstr(err.message, "no model"));
    fx_assert_rc(store_trial_model(rd, 99, &blob, &len, &err), MLPT_ENOTFOUND, err);
    assert_null(store_trial_get(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);

    /* A trial that failed before it ran: queued -> failed with its error, no model. */
    store_trial_end_t failed = {.status = "failed",
                                .best_val_accuracy = NAN,
                                .final_val_accuracy = NAN,
                                .test_accuracy = NAN,
                                .error = "out of memory",
                                .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[1], &failed, &err), 0, err);
    tr = store_trial_get(rd, t[1], &err);
    assert_string_equal(fx_json_str(tr, "error"), "out of memory");
    assert_int_equal(fx_json_int(tr, "attempt"), 0);
    assert_false(json_is_true(json_object_get(tr, "has_model")));
    assert_true(json_is_null(json_object_get(tr, "started_at")));
    assert_true(json_is_null(json_object_get(tr, "best_iteration")));
    assert_float_equal(json_real_value(json_object_get(tr, "seconds")), 0.0, 0);
    json_decref(tr);
    store_close(rd);
    store_close(st);
}

/* A completed trial marked pruned after its end (ordered pruning): status and error change,
 * the rest of its row (figures, model, history) stays; only a completed trial can be. */
static void test_trial_mark_pruned(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    fx_sweep(st, ds, 3, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_metrics(st, t[0], 1, 4);
    unsigned char model[64] = {1, 2, 3};
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.75,
                             .final_val_accuracy = 0.5,
                             .test_accuracy = NAN,
                             .best_iteration = 3,
                             .model = model,
                             .model_len = sizeof(model),
                             .now = FX_NOW + 1};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    const char *note = "pruned at rung 1 (iteration 3): 0.5 < 0.6";
    fx_assert_rc(store_trial_mark_pruned(st, t[0], note, &err), 0, err);
    fx_assert_rc(store_trial_mark_pruned(st, t[0], note, &err), MLPT_ESTATE, err); /* pruned */
    fx_assert_rc(store_trial_mark_pruned(st, t[1], note, &err), MLPT_ESTATE, err); /* queued */
    assert_non_null(strstr(err.message, "queued"));
    end.status = "failed";
    fx_assert_rc(store_trial_finish(st, t[2], &end, &err), 0, err);
    fx_assert_rc(store_trial_mark_pruned(st, t[2], note, &err), MLPT_ESTATE, err);
    fx_assert_rc(store_trial_mark_pruned(st, 99, note, &err), MLPT_ENOTFOUND, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_string_equal(fx_json_str(tr, "status"), "pruned");
    assert_string_equal(fx_json_str(tr, "error"), note);
    assert_int_equal(fx_json_int(tr, "iterations_done"), 4);
    assert_int_equal(fx_json_int(tr, "best_iteration"), 3);
    assert_true(json_is_true(json_object_get(tr, "has_model")));
    json_decref(tr);
    tr = store_trial_get(rd, t[2], &err);
    assert_string_equal(fx_json_str(tr, "status"), "failed");
    json_decref(tr);
    store_close(rd);
    store_close(st);
}

/* Where a trial runs: recorded while it runs (the last run's replaces the previous), null before,
 * refused for bad values and for trials that are not running, shown in the list. */
static void test_trial_placement(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    int64_t sw = fx_sweep(st, ds, 2, NULL, t);
    store_placement_t where = {.rank = 2, .workers = 8, .host = "node-b"};

    /* Queued, unknown: refused, nothing written. */
    fx_assert_rc(store_trial_set_placement(st, t[0], &where, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "queued"));
    fx_assert_rc(store_trial_set_placement(st, 99, &where, &err), MLPT_ENOTFOUND, err);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    /* Bad values. */
    store_placement_t bad = where;
    bad.rank = -1;
    fx_assert_rc(store_trial_set_placement(st, t[0], &bad, &err), MLPT_EINVAL, err);
    bad = where;
    bad.workers = 0;
    fx_assert_rc(store_trial_set_placement(st, t[0], &bad, &err), MLPT_EINVAL, err);
    bad = where;
    bad.host[0] = '\0';
    fx_assert_rc(store_trial_set_placement(st, t[0], &bad, &err), MLPT_EINVAL, err);
    memset(bad.host, 'x', sizeof bad.host); /* not terminated */
    fx_assert_rc(store_trial_set_placement(st, t[0], &bad, &err), MLPT_EINVAL, err);
    bad = where;
    bad.host[0] = (char)0xff; /* not UTF-8 */
    fx_assert_rc(store_trial_set_placement(st, t[0], &bad, &err), MLPT_EFORMAT, err);
    fx_assert_rc(store_trial_set_placement(st, t[0], NULL, &err), MLPT_EINVAL, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE placement IS NULL"), 2);

    /* A run, then another one (after a restart): the last run's is kept. */
    fx_assert_rc(store_trial_set_placement(st, t[0], &where, &err), 0, err);
    where.rank = 1;
    where.workers = 1;
    fx_assert_rc(store_trial_set_placement(st, t[0], &where, &err), 0, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *list = store_trial_list(rd, sw, NULL, 10, NULL, &err);
    assert_non_null(list);
    json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 2);
    char *text = json_dumps(json_object_get(json_array_get(items, 0), "placement"), JSON_COMPACT);
    assert_string_equal(text, "{\"rank\":1,\"host\":\"node-b\",\"workers\":1}");
    free(text);
    assert_true(json_is_null(json_object_get(json_array_get(items, 1), "placement")));
    json_decref(list);

    /* Ended: refused, the placement of its run stays. */
    store_trial_end_t end = {.status = "canceled",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = NAN,
                             .test_accuracy = NAN,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    where.rank = 5;
    fx_assert_rc(store_trial_set_placement(st, t[0], &where, &err), MLPT_ESTATE, err);
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_int_equal(fx_json_int(json_object_get(tr, "placement"), "rank"), 1);
    json_decref(tr);
    /* Readers cannot write it. */
    fx_assert_rc(store_trial_set_placement(rd, t[1], &where, &err), MLPT_EINVAL, err);
    store_close(rd);
    store_close(st);
}

static void test_cancel_queued(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[4];
    int64_t sw = fx_sweep(st, ds, 4, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[1], FX_NOW, &err), 0, err);
    fx_trial_end(st, t[3], "completed", 0.5, 0.5, FX_NOW);
    int64_t n = -1;
    fx_assert_rc(store_sweep_cancel_queued(st, sw, FX_NOW + 1, &n, &err), 0, err);
    assert_int_equal(n, 2);
    json_t *s = store_sweep_get(st, sw, &err);
    json_t *counts = json_object_get(s, "trials");
    assert_int_equal(fx_json_int(counts, "canceled"), 2);
    assert_int_equal(fx_json_int(counts, "running"), 1);
    assert_int_equal(fx_json_int(counts, "completed"), 1);
    assert_int_equal(fx_json_int(counts, "queued"), 0);
    json_decref(s);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_string_equal(fx_json_str(tr, "status"), "canceled");
    assert_string_equal(fx_json_str(tr, "finished_at"), "2026-11-23T04:30:01.000Z");
    json_decref(tr);
    fx_assert_rc(store_sweep_cancel_queued(st, sw, FX_NOW, NULL, &err), 0, err); /* nothing left */
    fx_assert_rc(store_sweep_cancel_queued(st, 99, FX_NOW, &n, &err), MLPT_ENOTFOUND, err);
    store_close(st);
}

/* A decision recorded in a queued trial's params (its rank count, at its first start): the
 * params are replaced whole; text that is no object, a started trial and an unknown one are
 * refused, and nothing changes then. */
static void test_trial_set_params(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t t[2];
    fx_sweep(st, fx_dataset(st, "iris"), 2, NULL, t);
    fx_assert_rc(store_trial_set_params(st, t[0], "{\"ranks\": 2, \"sync_every\": 7}", &err), 0,
                 err);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_int_equal(fx_json_int(json_object_get(tr, "params"), "ranks"), 2);
    assert_int_equal(fx_json_int(json_object_get(tr, "params"), "sync_every"), 7);
    json_decref(tr);
    fx_assert_rc(store_trial_set_params(st, t[0], "[1]", &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_set_params(st, t[0], "{", &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_set_params(st, t[0], NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_trial_set_params(st, 99, "{}", &err), MLPT_ENOTFOUND, err);
    fx_assert_rc(store_trial_start(st, t[1], FX_NOW, &err), 0, err);
    fx_assert_rc(store_trial_set_params(st, t[1], "{\"ranks\": 3}", &err), MLPT_ESTATE, err);
    tr = store_trial_get(st, t[0], &err);
    assert_int_equal(fx_json_int(json_object_get(tr, "params"), "ranks"), 2);
    json_decref(tr);
    store_close(st);
    store_t *rd = fx_open(e->db, STORE_READER);
    fx_assert_rc(store_trial_set_params(rd, t[0], "{}", &err), MLPT_EINVAL, err);
    store_close(rd);
}

/* A search strategy grows a sweep while it runs: ordinals continue, trials_total grows, the new
 * trials are queued (and walked at start-up); a finished or unknown sweep refuses. */
static void test_sweep_add_trials(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    int64_t sw = fx_sweep(st, ds, 2, NULL, t);
    const char *more[] = {"{\"iterations\":3}", "{\"iterations\":4}"};
    int64_t ids[2] = {0};
    fx_assert_rc(store_sweep_add_trials(st, sw, more, 2, FX_NOW + 5, ids, &err), 0, err);
    assert_true(ids[0] > t[1] && ids[1] == ids[0] + 1);
    assert_int_equal(fx_sql_int(e->db, "SELECT max(ordinal) FROM trials"), 3);
    json_t *s = store_sweep_get(st, sw, &err);
    assert_int_equal(fx_json_int(s, "trials_total"), 4);
    assert_int_equal(fx_json_int(json_object_get(s, "trials"), "queued"), 4);
    json_decref(s);
    json_t *tr = store_trial_get(st, ids[1], &err);
    assert_int_equal(fx_json_int(tr, "ordinal"), 3);
    assert_string_equal(fx_json_str(tr, "status"), "queued");
    json_decref(tr);
    const char *bad[] = {"[1]"};
    fx_assert_rc(store_sweep_add_trials(st, sw, bad, 1, FX_NOW, NULL, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_sweep_add_trials(st, 99, more, 1, FX_NOW, NULL, &err), MLPT_ENOTFOUND, err);
    fx_assert_rc(store_sweep_set_status(st, sw, "canceled", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_add_trials(st, sw, more, 1, FX_NOW, NULL, &err), MLPT_ESTATE, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials"), 4); /* nothing left */
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Checkpoints. */

static void test_checkpoint_put_get(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    fx_sweep(st, ds, 3, NULL, t);
    static const double acc[5] = {0.5, 0.75, 0.75, 0.6, 0.9};
    unsigned char blob[2][600];
    for (size_t i = 0; i < sizeof(blob[0]); i++) {
        blob[0][i] = (unsigned char)(i * 13 % 256); /* zeros included */
        blob[1][i] = (unsigned char)(255 - i % 256);
    }
    store_resume_t r;

    /* Nothing yet: the trial would start from iteration 1. */
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), MLPT_ENOTFOUND, err);
    assert_null(r.state);
    fx_assert_rc(store_checkpoint_get(st, 99, &r, &err), MLPT_ENOTFOUND, err);

    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[1], FX_NOW, &err), 0, err);
    fx_metric_rows(st, t[0], 1, 3, acc);
    fx_metric_rows(st, t[1], 1, 3, acc); /* t[1] follows t[0]'s shared prefix: the same rows */

    /* Bad arguments, a reader and an unknown trial change nothing. */
    const int64_t also[2] = {t[1], t[2]};
    size_t len = sizeof(blob[0]);
    fx_assert_rc(store_checkpoint_put(st, t[0], 3, NULL, len, NULL, 0, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_checkpoint_put(st, t[0], 3, blob[0], 0, NULL, 0, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_checkpoint_put(st, t[0], -1, blob[0], len, NULL, 0, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_checkpoint_put(st, t[0], 3, blob[0], len, NULL, 1, &err), MLPT_EINVAL, err);
    store_t *rd = fx_open(e->db, STORE_READER);
    fx_assert_rc(store_checkpoint_put(rd, t[0], 3, blob[0], len, also, 2, &err), MLPT_EINVAL, err);
    assert_non_null(strstr(err.message, "writer"));
    store_close(rd);
    fx_assert_rc(store_checkpoint_put(st, 99, 3, blob[0], len, NULL, 0, &err), MLPT_ENOTFOUND, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 0);
    assert_int_equal(
        fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE checkpoint_iteration <> 0"), 0);

    /* After 3 iterations: the blob is t[0]'s; the running follower t[1] is marked too, the
     * queued t[2] is not. */
    fx_assert_rc(store_checkpoint_put(st, t[0], 3, blob[0], len, also, 2, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 1);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[0]), 3);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[1]), 3);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[2]), 0);
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.state, blob[0], len);
    assert_int_equal(r.iteration, 3);
    assert_true(r.best_val_accuracy == 0.75 && r.final_val_accuracy == 0.75);
    assert_int_equal(r.best_iteration, 2); /* the first best on ties */
    free(r.state);
    fx_assert_rc(store_checkpoint_get(st, t[1], &r, &err), MLPT_ENOTFOUND, err); /* no blob */
    assert_null(r.state);

    /* Written with the rows it covers: a rolled-back batch leaves the previous checkpoint. */
    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_metric_rows(st, t[0], 4, 5, acc);
    fx_assert_rc(store_checkpoint_put(st, t[0], 5, blob[1], len, also, 1, &err), 0, err);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[0]), 3);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[1]), 3);
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_int_equal(r.iteration, 3);
    assert_memory_equal(r.state, blob[0], len);
    free(r.state);

    /* A later checkpoint replaces it. */
    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_metric_rows(st, t[0], 4, 5, acc);
    fx_assert_rc(store_checkpoint_put(st, t[0], 5, blob[1], len, also, 1, &err), 0, err);
    fx_assert_rc(store_commit(st, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 1);
    assert_int_equal(fx_checkpoint_iteration(e->db, t[1]), 5);
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.state, blob[1], len);
    assert_int_equal(r.iteration, 5);
    assert_true(r.best_val_accuracy == 0.9 && r.final_val_accuracy == 0.9);
    assert_int_equal(r.best_iteration, 5);
    free(r.state);

    /* Ending the trial deletes its checkpoint. */
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = 0.9,
                             .final_val_accuracy = 0.9,
                             .test_accuracy = NAN,
                             .best_iteration = 5,
                             .now = FX_NOW + 1};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_checkpoints"), 0);
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), MLPT_ENOTFOUND, err);
    store_close(st);
}

typedef struct walk {
    int64_t sweep[16], trial[16], dataset[16], test_dataset[16];
    char params[16][96];
    int n, stop_after;
    store_t *st;
} walk_t;

static int walk_fn(int64_t sweep_id, int64_t trial_id, int64_t dataset_id, int64_t test_dataset_id,
                   const char *params_json, void *user) {
    walk_t *w = user;
    if (w->n == w->stop_after)
        return -1234;
    w->sweep[w->n] = sweep_id;
    w->trial[w->n] = trial_id;
    w->dataset[w->n] = dataset_id;
    w->test_dataset[w->n] = test_dataset_id;
    snprintf(w->params[w->n], sizeof(w->params[0]), "%s", params_json);
    w->n++;
    if (w->st) /* the callback may use the store: the rows were read before */
        return store_trial_start(w->st, trial_id, FX_NOW, NULL);
    return 0;
}

static void test_queued_trials(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris"), test_ds = fx_dataset(st, "test");
    int64_t a[3], b[2], c[2], d[1];
    int64_t sa = fx_sweep(st, ds, 3, NULL, a);
    const char *params[] = {"{\"iterations\":5}", "{\"iterations\":6}"};
    store_sweep_new_t with_test = {
        .dataset_id = ds, .test_dataset_id = test_ds, .spec_json = "{}", .search = "grid"};
    int64_t sb = 0;
    fx_assert_rc(store_sweep_insert(st, &with_test, params, 2, &sb, b, &err), 0, err);
    int64_t sc = fx_sweep(st, ds, 2, NULL, c);
    int64_t sd = fx_sweep(st, ds, 1, NULL, d);
    fx_assert_rc(store_sweep_set_status(st, sa, "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_trial_start(st, a[1], FX_NOW, &err), 0, err); /* running: not queued */
    fx_assert_rc(store_sweep_set_status(st, sc, "canceled", FX_NOW, NULL, &err), 0, err);
    (void)sd;

    walk_t w = {.stop_after = -1};
    fx_assert_rc(store_queued_trials(st, walk_fn, &w, &err), 0, err);
    int64_t want[] = {a[0], a[2], b[0], b[1], d[0]};
    assert_int_equal(w.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(w.trial[i], want[i]);
    assert_int_equal(w.sweep[2], sb);
    assert_int_equal(w.dataset[2], ds);
    assert_int_equal(w.test_dataset[2], test_ds);
    assert_int_equal(w.test_dataset[0], 0);
    assert_string_equal(w.params[3], "{\"iterations\":6}");

    walk_t stop = {.stop_after = 2};
    assert_int_equal(store_queued_trials(st, walk_fn, &stop, &err), -1234);
    assert_int_equal(stop.n, 2);

    walk_t use = {.stop_after = -1, .st = st};
    fx_assert_rc(store_queued_trials(st, walk_fn, &use, &err), 0, err);
    assert_int_equal(use.n, 5);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trials WHERE status = 'running'"), 6);
    fx_assert_rc(store_queued_trials(st, NULL, NULL, &err), MLPT_EINVAL, err);
    store_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_sweep_insert_and_get),      T(test_sweep_status_progress_and_best),
        T(test_trial_lifecycle_and_model), T(test_cancel_queued),
        T(test_checkpoint_put_get),        T(test_queued_trials),
        T(test_sweep_add_trials),          T(test_trial_placement),
        T(test_trial_mark_pruned),         T(test_trial_set_params),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
