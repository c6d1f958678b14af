/*
 * test_store_typed.c - the typed reads internal callers use instead of parsing the store's JSON
 * back: a dataset's shape and every dataset's matrix file, a sweep's state and trial counts,
 * its trials by ordinal, one trial's state with its rows. Each is checked against the JSON the
 * HTTP answers carry, so the two never disagree. Fixtures: support/store_fixtures.h.
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

static void test_state_names(void **state) {
    (void)state;
    const char *trial[] = {"queued",   "running", "completed", "failed",
                           "diverged", "pruned",  "stopped",   "canceled"};
    for (int i = 0; i < STORE_TRIAL_NSTATES; i++) {
        assert_string_equal(store_trial_state_name((store_trial_state_t)i), trial[i]);
        assert_int_equal(store_trial_state_final((store_trial_state_t)i), i >= 2);
    }
    assert_string_equal(store_trial_state_name(STORE_TRIAL_NSTATES), "unknown");
    const char *sweep[] = {"queued", "running", "completed", "failed", "canceled"};
    for (int i = 0; i < STORE_SWEEP_NSTATES; i++) {
        assert_string_equal(store_sweep_state_name((store_sweep_state_t)i), sweep[i]);
        assert_int_equal(store_sweep_state_final((store_sweep_state_t)i), i >= 2);
    }
    assert_string_equal(store_sweep_state_name((store_sweep_state_t)-1), "unknown");
}

typedef struct paths {
    int64_t ids[4];
    char names[4][64];
    size_t n;
    int stop_at;
} paths_t;

static int collect(int64_t id, const char *path, void *user) {
    paths_t *p = user;
    assert_true(p->n < 4);
    p->ids[p->n] = id;
    snprintf(p->names[p->n], sizeof(p->names[0]), "%s", path);
    p->n++;
    return (int)p->n == p->stop_at ? MLPT_EIO : 0;
}

static void test_datasets(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t a = fx_dataset(st, "a");
    store_dataset_new_t d = {.name = "b",
                             .format = "idx",
                             .scaling = "unit",
                             .rows = 7,
                             .features = 36,
                             .classes = 2,
                             .class_names_json = "[\"0\",\"1\"]",
                             .class_counts_json = "[3,4]",
                             .sha256 = "",
                             .storage_path = "datasets/b.mlds",
                             .created_at = 1.0};
    int64_t b = 0;
    fx_assert_rc(store_dataset_insert(st, &d, &b, &err), 0, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    store_dataset_shape_t shape;
    fx_assert_rc(store_dataset_shape(rd, a, &shape, &err), 0, err);
    json_t *j = store_dataset_get(rd, a, &err);
    assert_int_equal(shape.rows, fx_json_int(j, "rows"));
    assert_int_equal(shape.features, fx_json_int(j, "features"));
    assert_int_equal(shape.classes, (int64_t)json_array_size(json_object_get(j, "classes")));
    json_decref(j);
    fx_assert_rc(store_dataset_shape(rd, b, &shape, &err), 0, err);
    assert_true(shape.rows == 7 && shape.features == 36 && shape.classes == 2);
    fx_assert_rc(store_dataset_shape(rd, b + 1, &shape, &err), MLPT_ENOTFOUND, err);

    paths_t p = {0};
    fx_assert_rc(store_dataset_paths(rd, collect, &p, &err), 0, err);
    assert_int_equal(p.n, 2);
    assert_true(p.ids[0] == a && p.ids[1] == b);
    assert_string_equal(p.names[0], "datasets/iris.f32");
    assert_string_equal(p.names[1], "datasets/b.mlds");
    memset(&p, 0, sizeof(p));
    p.stop_at = 1; /* the callback's failure stops the walk and is returned */
    fx_assert_rc(store_dataset_paths(rd, collect, &p, &err), MLPT_EIO, err);
    assert_int_equal(p.n, 1);
    store_close(rd);
    store_close(st);
}

static void test_sweeps_and_trials(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[4] = {0};
    int64_t sw = fx_sweep(st, ds, 4, NULL, t);
    fx_assert_rc(store_sweep_set_status(st, sw, "running", 1795408400.0, NULL, &err), 0, err);
    fx_trial_end(st, t[0], "failed", NAN, NAN, 1795408401.0);
    fx_trial_end(st, t[1], "completed", 0.5, 0.25, 1795408402.0);
    fx_assert_rc(store_trial_start(st, t[2], 1795408403.0, &err), 0, err);
    fx_metrics(st, t[2], 1, 3);
    store_metric_t nan_row = fx_metric(t[2], 4);
    nan_row.val_loss = NAN;
    fx_assert_rc(store_metrics_insert(st, &nan_row, 1, &err), 0, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    store_sweep_info_t info;
    fx_assert_rc(store_sweep_info(rd, sw, &info, &err), 0, err);
    assert_int_equal(info.id, sw);
    assert_int_equal(info.dataset_id, ds);
    assert_int_equal(info.test_dataset_id, 0);
    assert_int_equal(info.state, STORE_SWEEP_RUNNING);
    assert_int_equal(info.trials_total, 4);
    json_t *j = store_sweep_get(rd, sw, &err);
    json_t *counts = json_object_get(j, "trials");
    for (int i = 0; i < STORE_TRIAL_NSTATES; i++)
        assert_int_equal(info.trials[i],
                         fx_json_int(counts, store_trial_state_name((store_trial_state_t)i)));
    json_decref(j);
    assert_int_equal(info.trials[STORE_TRIAL_FAILED], 1);
    assert_int_equal(info.trials[STORE_TRIAL_QUEUED], 1);
    fx_assert_rc(store_sweep_info(rd, sw + 1, &info, &err), MLPT_ENOTFOUND, err);

    store_trial_info_t *list = NULL;
    size_t n = 0;
    fx_assert_rc(store_sweep_trials(rd, sw, &list, &n, &err), 0, err);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list[i].id, t[i]);
        assert_int_equal(list[i].ordinal, (int64_t)i);
        assert_int_equal(list[i].sweep_id, sw);
    }
    assert_int_equal(list[0].state, STORE_TRIAL_FAILED);
    assert_int_equal(list[2].state, STORE_TRIAL_RUNNING);
    assert_int_equal(list[2].iterations_done, 4);
    assert_int_equal(list[3].state, STORE_TRIAL_QUEUED);
    assert_true(list[2].has_started_at && !list[3].has_started_at);
    free(list);
    fx_assert_rc(store_sweep_trials(rd, sw + 1, &list, &n, &err), MLPT_ENOTFOUND, err);

    store_trial_info_t ti;
    store_metric_t *rows = NULL;
    fx_assert_rc(store_trial_snapshot(rd, t[2], &ti, &rows, &n, &err), 0, err);
    assert_int_equal(ti.id, t[2]);
    assert_int_equal(ti.state, STORE_TRIAL_RUNNING);
    assert_int_equal(ti.attempt, 1);
    assert_int_equal(n, 4);
    store_metric_t *want = NULL;
    size_t n_want = 0;
    fx_assert_rc(store_trial_rows(rd, t[2], &want, &n_want, &err), 0, err);
    assert_int_equal(n_want, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].iteration, (int64_t)i + 1);
        assert_true(rows[i].train_loss == want[i].train_loss);
        assert_true(rows[i].val_accuracy == want[i].val_accuracy);
        assert_true(rows[i].seconds == want[i].seconds);
    }
    assert_true(isnan(rows[3].val_loss));
    free(rows);
    free(want);
    fx_assert_rc(store_trial_snapshot(rd, t[3], &ti, &rows, &n, &err), 0, err);
    assert_true(n == 0 && rows == NULL && ti.state == STORE_TRIAL_QUEUED);
    fx_assert_rc(store_trial_snapshot(rd, t[3] + 100, &ti, &rows, &n, &err), MLPT_ENOTFOUND, err);

    /* A sweep without trials is known, and empty. */
    int64_t empty = fx_sweep(st, ds, 0, NULL, NULL);
    fx_assert_rc(store_sweep_trials(rd, empty, &list, &n, &err), 0, err);
    assert_true(n == 0 && list == NULL);
    fx_assert_rc(store_sweep_info(rd, empty, &info, &err), 0, err);
    for (int i = 0; i < STORE_TRIAL_NSTATES; i++)
        assert_int_equal(info.trials[i], 0);
    store_close(rd);
    store_close(st);
}

/* A recording (migration 0006): its kind in the shape, its details merged into its answer
 * (never over a column's member), its subjects as a typed read; a table has kind "table" and no
 * subjects; details that are not an object and unknown kinds are refused. */
static void test_dataset_kinds(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t table = fx_dataset(st, "iris");
    store_dataset_new_t d = {.name = "rec",
                             .format = "wisdm",
                             .scaling = "standardize",
                             .rows = 9,
                             .features = 3,
                             .classes = 2,
                             .class_names_json = "[\"Walking\",\"Sitting\"]",
                             .class_counts_json = "[4,5]",
                             .sha256 = "ab",
                             .storage_path = "datasets/rec.mlds",
                             .created_at = 2.0,
                             .kind = "recording",
                             .details_json = "{\"subjects\":[{\"id\":33,\"samples\":4},"
                                             "{\"id\":7,\"samples\":5}],\"quirks\":"
                                             "{\"trailing_comma\":2},\"rows\":-1}"};
    int64_t rec = 0;
    fx_assert_rc(store_dataset_insert(st, &d, &rec, &err), 0, err);
    store_t *rd = fx_open(e->db, STORE_READER);
    store_dataset_shape_t shape;
    fx_assert_rc(store_dataset_shape(rd, rec, &shape, &err), 0, err);
    assert_string_equal(shape.kind, "recording");
    fx_assert_rc(store_dataset_shape(rd, table, &shape, &err), 0, err);
    assert_string_equal(shape.kind, "table");
    json_t *j = store_dataset_get(rd, rec, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "recording");
    assert_int_equal(fx_json_int(json_object_get(j, "quirks"), "trailing_comma"), 2);
    assert_int_equal(fx_json_int(j, "rows"), 9); /* the column's, not the details' */
    assert_null(json_object_get(j, "details"));
    json_decref(j);
    int32_t *ids = NULL;
    size_t n = 0;
    fx_assert_rc(store_dataset_subjects(rd, rec, &ids, &n, &err), 0, err);
    assert_int_equal(n, 2);
    assert_true(ids[0] == 33 && ids[1] == 7);
    free(ids);
    fx_assert_rc(store_dataset_subjects(rd, table, &ids, &n, &err), 0, err);
    assert_int_equal(n, 0);
    assert_null(ids);
    fx_assert_rc(store_dataset_subjects(rd, rec + 1, &ids, &n, &err), MLPT_ENOTFOUND, err);
    d.details_json = "[1]";
    fx_assert_rc(store_dataset_insert(st, &d, NULL, &err), MLPT_EINVAL, err);
    d.details_json = NULL;
    d.kind = "video";
    fx_assert_rc(store_dataset_insert(st, &d, NULL, &err), MLPT_EINVAL, err);
    store_close(rd);
    store_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_datasets),
        T(test_dataset_kinds),
        T(test_sweeps_and_trials),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
