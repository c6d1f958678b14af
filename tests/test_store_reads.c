/*
 * test_store_reads.c - the SQLite store, part 3 of 3: reading. Lists paged with cursors
 * (datasets, sweeps, trials under every sort key and page size, nulls last) and the cursors
 * they refuse; histories (metric rows as they arrive, `since`, the live figures they move,
 * NaN/Inf as null, a sweep's history); and one writer thread committing metric batches while two
 * reader threads poll a history (whole batches only, never a gap).
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

#include "mlpt_err.h"
#include "store.h"
#include "store_fixtures.h"

/* ------------------------------------------------------------------------------------------ */
/* Lists and cursors. */

/* Pages through the dataset list limit at a time; returns the ids seen (count in *n). */
static void list_all_datasets(store_t *st, size_t limit, int64_t *ids, size_t *n) {
    store_error_t err = {0};
    char cursor[64] = "";
    *n = 0;
    for (int pages = 0; pages < 100; pages++) {
        json_t *page = store_dataset_list(st, limit, *cursor ? cursor : NULL, &err);
        if (!page)
            fail_msg("store_dataset_list: %s", err.message);
        json_t *items = json_object_get(page, "items"), *item;
        size_t i;
        assert_true(json_array_size(items) <= limit);
        json_array_foreach(items, i, item) ids[(*n)++] = fx_json_int(item, "id");
        json_t *next = json_object_get(page, "next_cursor");
        if (json_is_null(next)) {
            json_decref(page);
            return;
        }
        assert_int_equal(json_array_size(items), limit);
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(page);
    }
    fail_msg("the list never ended");
}

static void test_dataset_list_paging(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    for (int i = 0; i < 7; i++)
        fx_dataset(st, "d");
    size_t limits[] = {1, 2, 3, 6, 7, 8, 1000};
    for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
        int64_t ids[16];
        size_t n = 0;
        list_all_datasets(st, limits[l], ids, &n);
        assert_int_equal(n, 7);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ids[i], 7 - (int64_t)i);
    }

    /* Cursors: garbage, tampered, and from another list are refused. */
    json_t *page = store_dataset_list(st, 3, NULL, &err);
    const char *good = json_string_value(json_object_get(page, "next_cursor"));
    assert_non_null(good);
    char tampered[64];
    snprintf(tampered, sizeof(tampered), "%s", good);
    tampered[1] = tampered[1] == 'A' ? 'B' : 'A'; /* the tag byte */
    char shorter[64];
    snprintf(shorter, sizeof(shorter), "%s", good);
    shorter[strlen(shorter) - 1] = '\0';
    const char *bad[] = {"",
                         "garbage",
                         "7",
                         tampered,
                         shorter,
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_null(store_dataset_list(st, 3, bad[i], &err));
        assert_int_equal(err.code, MLPT_EINVAL);
        assert_non_null(strstr(err.message, "cursor"));
    }
    int64_t trials[1];
    int64_t sw = fx_sweep(st, 1, 1, NULL, trials);
    (void)sw;
    assert_null(store_sweep_list(st, NULL, 3, good, &err)); /* a dataset cursor */
    assert_int_equal(err.code, MLPT_EINVAL);
    json_decref(page);

    assert_null(store_dataset_list(st, 0, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_dataset_list(st, 1001, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(st);
}

static void test_sweep_list(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t sw[5];
    for (int i = 0; i < 5; i++)
        sw[i] = fx_sweep(st, ds, 2, NULL, NULL);
    fx_assert_rc(store_sweep_set_status(st, sw[1], "running", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_set_status(st, sw[3], "running", FX_NOW, NULL, &err), 0, err);

    json_t *page = store_sweep_list(st, NULL, 3, NULL, &err);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(fx_json_int(json_array_get(items, 0), "id"), sw[4]);
    assert_int_equal(fx_json_int(json_array_get(items, 2), "id"), sw[2]);
    assert_int_equal(fx_json_int(json_array_get(items, 0), "trials_total"), 2);
    json_t *next = store_sweep_list(st, NULL, 3,
                                    json_string_value(json_object_get(page, "next_cursor")), &err);
    assert_non_null(next);
    assert_int_equal(json_array_size(json_object_get(next, "items")), 2);
    assert_true(json_is_null(json_object_get(next, "next_cursor")));
    json_decref(next);
    json_decref(page);

    page = store_sweep_list(st, "running", 1, NULL, &err);
    items = json_object_get(page, "items");
    assert_int_equal(fx_json_int(json_array_get(items, 0), "id"), sw[3]);
    next = store_sweep_list(st, "running", 1,
                            json_string_value(json_object_get(page, "next_cursor")), &err);
    assert_int_equal(fx_json_int(json_array_get(json_object_get(next, "items"), 0), "id"), sw[1]);
    assert_true(json_is_null(json_object_get(next, "next_cursor")));
    json_decref(next);
    json_decref(page);

    assert_null(store_sweep_list(st, "finished", 10, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(st);
}

/* One trial of the sort test and what it was given. */
typedef struct sort_row {
    int64_t id, ordinal;
    double best, final, started; /* NAN: null */
} sort_row_t;

static const char *sort_key;
static int sort_desc;

static double sort_value(const sort_row_t *r) {
    if (strcmp(sort_key, "ordinal") == 0)
        return (double)r->ordinal;
    if (strcmp(sort_key, "id") == 0)
        return (double)r->id;
    if (strcmp(sort_key, "best_val_accuracy") == 0)
        return r->best;
    if (strcmp(sort_key, "final_val_accuracy") == 0)
        return r->final;
    return r->started;
}

/* The documented order: nulls last, then by the key, ties by id ascending. */
static int sort_cmp(const void *pa, const void *pb) {
    const sort_row_t *a = pa, *b = pb;
    double va = sort_value(a), vb = sort_value(b);
    if (isnan(va) != isnan(vb))
        return isnan(va) ? 1 : -1;
    if (!isnan(va) && va != vb)
        return (va < vb) != sort_desc ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void test_trial_list_sorting_and_paging(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    enum { N = 8 };
    int64_t t[N];
    int64_t sw = fx_sweep(st, ds, N, NULL, t);
    int64_t other = fx_sweep(st, ds, 2, NULL, NULL);
    const double best[N] = {0.9, NAN, 0.8, 0.9, NAN, 0.95, 0.8, 0.1};
    const double final[N] = {0.5, 0.6, NAN, 0.5, 0.7, NAN, 0.2, 0.3};
    const double started[N] = {5, 1, 3, 1, 9, 2, NAN, NAN};
    sort_row_t rows[N];
    for (int i = 0; i < N; i++) {
        rows[i] = (sort_row_t){t[i], i, best[i], final[i], FX_NOW + started[i]};
        if (isnan(started[i])) { /* finished straight from the queue: never started */
            store_trial_end_t end = {.status = "canceled",
                                     .best_val_accuracy = best[i],
                                     .final_val_accuracy = final[i],
                                     .test_accuracy = NAN,
                                     .now = FX_NOW};
            fx_assert_rc(store_trial_finish(st, t[i], &end, &err), 0, err);
        } else {
            fx_trial_end(st, t[i], "completed", best[i], final[i], FX_NOW + started[i]);
        }
    }

    const char *keys[] = {"ordinal", "best_val_accuracy", "final_val_accuracy", "id", "started_at"};
    const size_t limits[] = {1, 2, 3, 7, 8, 1000};
    store_t *rd = fx_open(e->db, STORE_READER);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (int desc = 0; desc < 2; desc++) {
            char sort[32];
            snprintf(sort, sizeof(sort), "%s%s", desc ? "-" : "", keys[k]);
            sort_key = keys[k];
            sort_desc = desc;
            sort_row_t want[N];
            memcpy(want, rows, sizeof(rows));
            qsort(want, N, sizeof(want[0]), sort_cmp);
            for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
                char cursor[64] = "";
                size_t seen = 0;
                for (;;) {
                    json_t *page =
                        store_trial_list(rd, sw, sort, limits[l], *cursor ? cursor : NULL, &err);
                    if (!page)
                        fail_msg("%s limit %zu: %s", sort, limits[l], err.message);
                    json_t *items = json_object_get(page, "items"), *item;
                    size_t i;
                    json_array_foreach(items, i, item) {
                        assert_true(seen < N);
                        if (fx_json_int(item, "id") != want[seen].id)
                            fail_msg("%s limit %zu: position %zu is trial %lld, want %lld", sort,
                                     limits[l], seen, (long long)fx_json_int(item, "id"),
                                     (long long)want[seen].id);
                        seen++;
                    }
                    json_t *next = json_object_get(page, "next_cursor");
                    int last = json_is_null(next);
                    if (!last)
                        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
                    json_decref(page);
                    if (last)
                        break;
                }
                assert_int_equal(seen, N);
            }
        }
    }
    /* NULL is ordinal; a NULL-keyed cursor (best is null at the end) pages on. */
    json_t *page = store_trial_list(rd, sw, NULL, 3, NULL, &err);
    assert_int_equal(fx_json_int(json_array_get(json_object_get(page, "items"), 0), "ordinal"), 0);
    char cursor[64];
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(json_object_get(page, "next_cursor")));
    json_decref(page);
    page = store_trial_list(rd, sw, "ordinal", 3, cursor, &err); /* same sort, spelled out */
    assert_int_equal(fx_json_int(json_array_get(json_object_get(page, "items"), 0), "ordinal"), 3);
    json_decref(page);

    /* A cursor belongs to its sweep and sort. */
    assert_null(store_trial_list(rd, sw, "-ordinal", 3, cursor, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, other, NULL, 3, cursor, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "accuracy", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "--id", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, sw, "", 3, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    assert_null(store_trial_list(rd, 99, NULL, 3, NULL, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    assert_null(store_trial_list(rd, sw, NULL, 0, NULL, &err));
    assert_int_equal(err.code, MLPT_EINVAL);
    store_close(rd);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Histories. */

static void test_metrics_and_history(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[2];
    fx_sweep(st, ds, 2, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    store_metric_t rows[5];
    for (int i = 0; i < 5; i++)
        rows[i] = fx_metric(t[0], i + 1);
    fx_assert_rc(store_metrics_insert(st, rows, 5, &err), 0, err);
    fx_assert_rc(store_metrics_insert(st, rows, 0, &err), 0, err);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *h = store_trial_history(rd, t[0], 0, &err);
    assert_non_null(h);
    assert_int_equal(fx_json_int(h, "trial_id"), t[0]);
    assert_string_equal(fx_json_str(h, "status"), "running");
    assert_int_equal(json_array_size(json_object_get(h, "history")), 5);
    char *text = json_dumps(json_array_get(json_object_get(h, "history"), 1), JSON_COMPACT);
    assert_string_equal(text, "{\"iteration\":2,\"train_loss\":0.5,\"train_accuracy\":0.5,"
                              "\"val_loss\":1.0,\"val_accuracy\":0.25,\"seconds\":0.5}");
    free(text);
    json_decref(h);
    h = store_trial_history(rd, t[0], 3, &err);
    json_t *hist = json_object_get(h, "history");
    assert_int_equal(json_array_size(hist), 2);
    assert_int_equal(fx_json_int(json_array_get(hist, 0), "iteration"), 4);
    assert_int_equal(fx_json_int(json_array_get(hist, 1), "iteration"), 5);
    json_decref(h);
    h = store_trial_history(rd, t[0], 5, &err);
    assert_int_equal(json_array_size(json_object_get(h, "history")), 0);
    json_decref(h);
    h = store_trial_history(rd, t[1], 0, &err); /* no metrics yet */
    assert_non_null(h);
    assert_string_equal(fx_json_str(h, "status"), "queued");
    assert_int_equal(json_array_size(json_object_get(h, "history")), 0);
    json_decref(h);
    assert_null(store_trial_history(rd, 99, 0, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);

    /* A batch with one duplicate keeps none of its rows. */
    store_metric_t batch[3] = {fx_metric(t[0], 6), fx_metric(t[0], 7), fx_metric(t[0], 3)};
    fx_assert_rc(store_metrics_insert(st, batch, 3, &err), MLPT_ESTATE, err);
    assert_non_null(strstr(err.message, "iteration 3"));
    assert_int_equal(fx_sql_int(e->db, "SELECT max(iteration) FROM trial_metrics"), 5);
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials WHERE id = 1"), 5);
    store_metric_t m = fx_metric(99, 1);
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_ENOTFOUND, err);
    m = fx_metric(t[0], 0);
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_EINVAL, err);
    m = fx_metric(t[0], 6);
    m.seconds = NAN;
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), MLPT_EINVAL, err);
    fx_assert_rc(store_metrics_insert(st, NULL, 1, &err), MLPT_EINVAL, err);

    /* A running trial shows its best and latest validation accuracy as rows arrive: the first
     * best is kept on ties, a row without validation leaves them as they were. */
    double acc[4] = {0.5, 0.75, 0.75, 0.6};
    for (int i = 0; i < 4; i++) {
        store_metric_t row = fx_metric(t[0], 6 + i);
        row.val_accuracy = acc[i];
        fx_assert_rc(store_metrics_insert(st, &row, 1, &err), 0, err);
    }
    json_t *tr = store_trial_get(rd, t[0], &err);
    assert_non_null(tr);
    assert_string_equal(fx_json_str(tr, "status"), "running");
    assert_true(json_real_value(json_object_get(tr, "best_val_accuracy")) == 0.75);
    assert_int_equal(fx_json_int(tr, "best_iteration"), 7);
    assert_true(json_real_value(json_object_get(tr, "final_val_accuracy")) == 0.6);
    json_decref(tr);
    store_metric_t nan_row = fx_metric(t[0], 10);
    nan_row.val_accuracy = NAN;
    fx_assert_rc(store_metrics_insert(st, &nan_row, 1, &err), 0, err);
    tr = store_trial_get(rd, t[0], &err);
    assert_true(json_real_value(json_object_get(tr, "best_val_accuracy")) == 0.75);
    assert_int_equal(fx_json_int(tr, "best_iteration"), 7);
    json_decref(tr);
    store_close(rd);
    store_close(st);
}

static void test_nonfinite_numbers_are_null(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[1];
    int64_t sw = fx_sweep(st, ds, 1, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    store_metric_t m = fx_metric(t[0], 1);
    m.train_loss = NAN;
    m.train_accuracy = INFINITY;
    m.val_loss = -INFINITY;
    m.val_accuracy = NAN;
    fx_assert_rc(store_metrics_insert(st, &m, 1, &err), 0, err);
    store_trial_end_t end = {.status = "diverged",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = INFINITY,
                             .test_accuracy = -INFINITY,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM trial_metrics WHERE train_loss IS "
                                       "NULL AND train_accuracy IS NULL AND val_loss IS NULL "
                                       "AND val_accuracy IS NULL"),
                     1);

    json_t *h = store_trial_history(st, t[0], 0, &err);
    char *text = json_dumps(json_array_get(json_object_get(h, "history"), 0), JSON_COMPACT);
    assert_string_equal(text, "{\"iteration\":1,\"train_loss\":null,\"train_accuracy\":null,"
                              "\"val_loss\":null,\"val_accuracy\":null,\"seconds\":0.5}");
    free(text);
    json_decref(h);
    json_t *tr = store_trial_get(st, t[0], &err);
    assert_true(json_is_null(json_object_get(tr, "best_val_accuracy")));
    assert_true(json_is_null(json_object_get(tr, "final_val_accuracy")));
    assert_true(json_is_null(json_object_get(tr, "test_accuracy")));
    json_decref(tr);
    json_t *sh = store_sweep_history(st, sw, &err);
    text = json_dumps(sh, JSON_COMPACT);
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    free(text);
    json_decref(sh);
    store_close(st);
}

static void test_sweep_history(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t ds = fx_dataset(st, "iris");
    int64_t t[3];
    int64_t sw = fx_sweep(st, ds, 3, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    fx_assert_rc(store_trial_start(st, t[2], FX_NOW, &err), 0, err);
    fx_metrics(st, t[2], 1, 2);
    fx_metrics(st, t[0], 1, 3);

    store_t *rd = fx_open(e->db, STORE_READER);
    json_t *h = store_sweep_history(rd, sw, &err);
    assert_non_null(h);
    assert_int_equal(fx_json_int(h, "sweep_id"), sw);
    assert_string_equal(fx_json_str(h, "status"), "queued");
    json_t *trials = json_object_get(h, "trials");
    assert_int_equal(json_array_size(trials), 3);
    size_t want[3] = {3, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        json_t *tr = json_array_get(trials, i);
        assert_int_equal(fx_json_int(tr, "trial_id"), t[i]);
        assert_string_equal(fx_json_str(tr, "status"), i == 1 ? "queued" : "running");
        assert_int_equal(fx_json_int(json_object_get(tr, "params"), "neurons"), 10 * (i + 1));
        json_t *hist = json_object_get(tr, "history");
        assert_int_equal(json_array_size(hist), want[i]);
        for (size_t k = 0; k < want[i]; k++)
            assert_int_equal(fx_json_int(json_array_get(hist, k), "iteration"), k + 1);
    }
    json_t *p = json_array_get(json_object_get(json_array_get(trials, 0), "history"), 1);
    assert_float_equal(json_real_value(json_object_get(p, "train_loss")), 0.5, 0);
    assert_float_equal(json_real_value(json_object_get(p, "val_loss")), 1.0, 0);
    assert_float_equal(json_real_value(json_object_get(p, "seconds")), 0.5, 0);
    json_decref(h);

    /* A sweep without trials has an empty list; an unknown one is not found. */
    int64_t empty = fx_sweep(st, ds, 0, NULL, NULL);
    h = store_sweep_history(rd, empty, &err);
    assert_non_null(h);
    assert_int_equal(json_array_size(json_object_get(h, "trials")), 0);
    json_decref(h);
    assert_null(store_sweep_history(rd, 99, &err));
    assert_int_equal(err.code, MLPT_ENOTFOUND);
    store_close(rd);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* One writer thread, two reader threads. */

enum { CONC_BATCHES = 150, CONC_BATCH = 7 };

typedef struct conc {
    const char *path;
    int64_t trial_id;
    atomic_int done;
    int writer_rc;
    char writer_msg[256];
} conc_t;

typedef struct reader {
    conc_t *c;
    int incremental; /* poll with since = the last iteration seen */
    int failures;
    int64_t polls, last;
    char msg[256];
} reader_t;

static void *writer_main(void *arg) {
    conc_t *c = arg;
    store_error_t err = {0};
    store_t *st = store_open(c->path, STORE_WRITER, &err);
    int rc = st ? 0 : err.code;
    for (int b = 0; !rc && b < CONC_BATCHES; b++) {
        store_metric_t rows[CONC_BATCH];
        for (int i = 0; i < CONC_BATCH; i++)
            rows[i] = fx_metric(c->trial_id, (int64_t)b * CONC_BATCH + i + 1);
        rc = store_begin(st, &err);
        /* Two inserts per batch: a reader must never see the first without the second. */
        if (!rc)
            rc = store_metrics_insert(st, rows, 3, &err);
        if (!rc)
            rc = store_metrics_insert(st, rows + 3, CONC_BATCH - 3, &err);
        if (!rc)
            rc = store_commit(st, &err);
    }
    c->writer_rc = rc;
    snprintf(c->writer_msg, sizeof(c->writer_msg), "%s", rc ? err.message : "");
    store_close(st);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Checks one poll: iterations since+1, since+2, ... with whole batches only. */
static int reader_poll(reader_t *r, store_t *st) {
    store_error_t err = {0};
    int64_t since = r->incremental ? r->last : 0;
    json_t *h = store_trial_history(st, r->c->trial_id, since, &err);
    if (!h) {
        snprintf(r->msg, sizeof(r->msg), "poll %lld: %d %.200s", (long long)r->polls, err.code,
                 err.message);
        return -1;
    }
    json_t *hist = json_object_get(h, "history"), *p;
    size_t i;
    int64_t expect = since + 1;
    json_array_foreach(hist, i, p) {
        if (json_integer_value(json_object_get(p, "iteration")) != expect++) {
            snprintf(r->msg, sizeof(r->msg), "poll %lld: gap at %lld", (long long)r->polls,
                     (long long)(expect - 1));
            json_decref(h);
            return -1;
        }
    }
    int64_t last = expect - 1;
    json_decref(h);
    if (last % CONC_BATCH != 0 || last < r->last) {
        snprintf(r->msg, sizeof(r->msg), "poll %lld: saw %lld rows (after %lld)",
                 (long long)r->polls, (long long)last, (long long)r->last);
        return -1;
    }
    r->last = last;
    r->polls++;
    return 0;
}

static void *reader_main(void *arg) {
    reader_t *r = arg;
    store_error_t err = {0};
    store_t *st = store_open(r->c->path, STORE_READER, &err);
    if (!st) {
        snprintf(r->msg, sizeof(r->msg), "open: %.200s", err.message);
        r->failures++;
        return NULL;
    }
    while (!atomic_load(&r->c->done))
        if (reader_poll(r, st))
            r->failures++;
    if (reader_poll(r, st)) /* after the last commit: everything */
        r->failures++;
    store_close(st);
    return NULL;
}

static void test_concurrent_writer_and_readers(void **state) {
    fx_env_t *e = *state;
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t t[1];
    fx_sweep(st, fx_dataset(st, "iris"), 1, NULL, t);
    store_error_t err = {0};
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    store_close(st);

    conc_t c = {.path = e->db, .trial_id = t[0]};
    atomic_init(&c.done, 0);
    reader_t readers[2] = {{.c = &c, .incremental = 0}, {.c = &c, .incremental = 1}};
    pthread_t wt, rt[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &readers[i]), 0);
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &c), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(rt[i], NULL), 0);

    if (c.writer_rc)
        fail_msg("writer: %d %s", c.writer_rc, c.writer_msg);
    for (int i = 0; i < 2; i++) {
        if (readers[i].failures)
            fail_msg("reader %d: %d failures, last: %s", i, readers[i].failures, readers[i].msg);
        assert_int_equal(readers[i].last, CONC_BATCHES * CONC_BATCH);
        assert_true(readers[i].polls >= 1);
    }
    assert_int_equal(fx_sql_int(e->db, "SELECT iterations_done FROM trials"),
                     CONC_BATCHES * CONC_BATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_dataset_list_paging),           T(test_sweep_list),
        T(test_trial_list_sorting_and_paging), T(test_metrics_and_history),
        T(test_nonfinite_numbers_are_null),    T(test_sweep_history),
        T(test_concurrent_writer_and_readers),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
