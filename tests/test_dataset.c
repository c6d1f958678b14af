/*
 * test_dataset.c - datasets and their per-trial views: the invariant check, the stratified
 * train/validation split, the feature scaler, class alignment between two datasets, and the
 * random streams that make all of it reproducible.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataset.h"
#include "mlpt_err.h"
#include "rng.h"
#include "trainer_fixtures.h"

/* A dataset with counts[c] rows of class c, interleaved (row i's class cycles through those that
 * still have rows left), features = 2 holding (row index, class). */
static trainer_dataset_t *counted_dataset(const size_t *counts, size_t classes) {
    size_t rows = 0;
    for (size_t c = 0; c < classes; c++)
        rows += counts[c];
    trainer_dataset_t *ds = fx_dataset_new(rows, 2, classes, TRAINER_SCALE_STANDARDIZE);
    size_t *left = fx_calloc(classes, sizeof *left);
    memcpy(left, counts, classes * sizeof *left);
    size_t c = 0;
    for (size_t i = 0; i < rows; i++) {
        while (left[c] == 0)
            c = (c + 1) % classes;
        ds->y[i] = (int32_t)c;
        left[c]--;
        c = (c + 1) % classes;
        ds->x[2 * i] = (float)i;
        ds->x[2 * i + 1] = (float)ds->y[i];
    }
    free(left);
    fx_dataset_recount(ds);
    return ds;
}

/* Every structural promise of a split: both parts strictly ascending, disjoint, covering every
 * row exactly once. */
static void assert_split_partitions(const trainer_dataset_t *ds, const trainer_split_t *sp) {
    assert_int_equal(sp->n_train + sp->n_val, ds->rows);
    unsigned char *seen = fx_calloc(ds->rows, 1);
    for (size_t i = 0; i < sp->n_train; i++) {
        assert_true(sp->train[i] < ds->rows);
        if (i > 0)
            assert_true(sp->train[i - 1] < sp->train[i]);
        seen[sp->train[i]]++;
    }
    for (size_t i = 0; i < sp->n_val; i++) {
        assert_true(sp->val[i] < ds->rows);
        if (i > 0)
            assert_true(sp->val[i - 1] < sp->val[i]);
        seen[sp->val[i]]++;
    }
    for (size_t i = 0; i < ds->rows; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
}

static size_t count_class(const trainer_dataset_t *ds, const size_t *idx, size_t n, int32_t c) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ds->y[idx[i]] == c;
    return k;
}

/* ------------------------------------------------------------------------------------------ */
/* trainer_dataset_check */

static void test_check_accepts_valid(void **state) {
    (void)state;
    const size_t counts[] = {3, 4};
    trainer_dataset_t *ds = counted_dataset(counts, 2);
    assert_int_equal(trainer_dataset_check(ds), 0);
    trainer_dataset_free(ds);
    trainer_dataset_free(NULL);
}

static void test_check_rejects_bad_values(void **state) {
    (void)state;
    const size_t counts[] = {3, 4};
    trainer_dataset_t *ds = counted_dataset(counts, 2);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        float saved = ds->x[5];
        ds->x[5] = bad[k];
        assert_int_equal(trainer_dataset_check(ds), MLPT_EFORMAT);
        ds->x[5] = saved;
    }
    /* the last value of the matrix is checked too */
    ds->x[ds->rows * ds->features - 1] = NAN;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EFORMAT);
    ds->x[ds->rows * ds->features - 1] = 0.0f;

    const int32_t labels[] = {-1, 2, INT32_MAX};
    for (int k = 0; k < 3; k++) {
        int32_t saved = ds->y[3];
        ds->y[3] = labels[k];
        assert_int_equal(trainer_dataset_check(ds), MLPT_EFORMAT);
        ds->y[3] = saved;
    }
    assert_int_equal(trainer_dataset_check(ds), 0);
    trainer_dataset_free(ds);
}

static void test_check_rejects_bad_structure(void **state) {
    (void)state;
    const size_t counts[] = {3, 4};
    trainer_dataset_t *ds = counted_dataset(counts, 2);
    assert_int_equal(trainer_dataset_check(NULL), MLPT_EINVAL);

    ds->class_counts[0]++; /* counts no longer add up to rows */
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->class_counts[0]--;

    size_t saved = ds->rows;
    ds->rows = 0;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->rows = saved;
    ds->features = 0;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->features = 2;

    float *x = ds->x;
    ds->x = NULL;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->x = x;
    int32_t *y = ds->y;
    ds->y = NULL;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->y = y;
    char *name = ds->class_names[1];
    ds->class_names[1] = NULL;
    assert_int_equal(trainer_dataset_check(ds), MLPT_EINVAL);
    ds->class_names[1] = name;
    assert_int_equal(trainer_dataset_check(ds), 0);
    trainer_dataset_free(ds);
}

/* ------------------------------------------------------------------------------------------ */
/* trainer_split_stratified */

static void test_split_stratified_proportions(void **state) {
    (void)state;
    const size_t counts[] = {50, 30, 20, 5};
    trainer_dataset_t *ds = counted_dataset(counts, 4);
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, 0.2, 7, &sp), 0);
    assert_split_partitions(ds, &sp);
    /* round(count * 0.2) of each class validates: 10, 6, 4, 1 */
    const size_t want_val[] = {10, 6, 4, 1};
    assert_int_equal(sp.n_val, 21);
    for (int32_t c = 0; c < 4; c++) {
        assert_int_equal(count_class(ds, sp.val, sp.n_val, c), want_val[c]);
        assert_int_equal(count_class(ds, sp.train, sp.n_train, c), counts[c] - want_val[c]);
    }
    trainer_split_deinit(&sp);
    assert_null(sp.train);
    assert_null(sp.val);
    assert_int_equal(sp.n_train + sp.n_val, 0);
    trainer_split_deinit(&sp); /* a zeroed split is fine */

    /* halves round up: 5 * 0.3 = 1.5 -> 2, 3 * 0.5 = 1.5 -> 2 */
    const size_t small[] = {5, 3};
    trainer_dataset_t *ds2 = counted_dataset(small, 2);
    assert_int_equal(trainer_split_stratified(ds2, 0.3, 1, &sp), 0);
    assert_int_equal(count_class(ds2, sp.val, sp.n_val, 0), 2);
    assert_int_equal(count_class(ds2, sp.val, sp.n_val, 1), 1); /* 0.9 -> 1 */
    trainer_split_deinit(&sp);
    assert_int_equal(trainer_split_stratified(ds2, 0.5, 1, &sp), 0);
    assert_int_equal(count_class(ds2, sp.val, sp.n_val, 0), 3); /* 2.5 -> 3 */
    assert_int_equal(count_class(ds2, sp.val, sp.n_val, 1), 2); /* 1.5 -> 2 */
    assert_split_partitions(ds2, &sp);
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds2);
    trainer_dataset_free(ds);
}

static void test_split_same_seed_same_split(void **state) {
    (void)state;
    const size_t counts[] = {40, 40, 40};
    trainer_dataset_t *ds = counted_dataset(counts, 3);
    trainer_split_t a, b, c;
    assert_int_equal(trainer_split_stratified(ds, 0.25, 99, &a), 0);
    assert_int_equal(trainer_split_stratified(ds, 0.25, 99, &b), 0);
    assert_int_equal(trainer_split_stratified(ds, 0.25, 100, &c), 0);
    assert_int_equal(a.n_val, b.n_val);
    assert_memory_equal(a.val, b.val, a.n_val * sizeof *a.val);
    assert_memory_equal(a.train, b.train, a.n_train * sizeof *a.train);
    assert_int_equal(a.n_val, c.n_val); /* same sizes, other rows */
    assert_memory_not_equal(a.val, c.val, a.n_val * sizeof *a.val);
    /* the shuffle really chooses: validation is not simply each class's first rows */
    size_t first_rows = 0;
    for (size_t i = 0; i < a.n_val; i++)
        first_rows += a.val[i] < 30;
    assert_true(first_rows < a.n_val);
    trainer_split_deinit(&a);
    trainer_split_deinit(&b);
    trainer_split_deinit(&c);
    trainer_dataset_free(ds);
}

static void test_split_fraction_zero(void **state) {
    (void)state;
    const size_t counts[] = {4, 6};
    trainer_dataset_t *ds = counted_dataset(counts, 2);
    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, 0.0, 3, &sp), 0);
    assert_int_equal(sp.n_val, 0);
    assert_null(sp.val);
    assert_int_equal(sp.n_train, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(sp.train[i], i);
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds);
}

static void test_split_bad_fraction(void **state) {
    (void)state;
    const size_t counts[] = {4, 6};
    trainer_dataset_t *ds = counted_dataset(counts, 2);
    const double bad[] = {-0.1, 1.0, 1.5, NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        trainer_split_t sp;
        memset(&sp, 0xAB, sizeof sp);
        assert_int_equal(trainer_split_stratified(ds, bad[k], 3, &sp), MLPT_EINVAL);
        assert_null(sp.train); /* zeroed, so deinit is safe */
        assert_null(sp.val);
        trainer_split_deinit(&sp);
    }
    /* an empty dataset has nothing to split */
    trainer_split_t sp;
    size_t rows = ds->rows;
    ds->rows = 0;
    assert_int_equal(trainer_split_stratified(ds, 0.2, 3, &sp), MLPT_EINVAL);
    ds->rows = rows;
    trainer_dataset_free(ds);
}

/* A class with a single row keeps it for training, even when the fraction asks for it; a class
 * of two keeps one. */
static void test_split_small_classes_keep_a_training_row(void **state) {
    (void)state;
    const size_t counts[] = {1, 2, 20};
    trainer_dataset_t *ds = counted_dataset(counts, 3);
    const double fractions[] = {0.2, 0.5, 0.9, 0.99};
    for (size_t k = 0; k < 4; k++) {
        trainer_split_t sp;
        assert_int_equal(trainer_split_stratified(ds, fractions[k], 5, &sp), 0);
        assert_split_partitions(ds, &sp);
        assert_int_equal(count_class(ds, sp.train, sp.n_train, 0), 1);
        assert_int_equal(count_class(ds, sp.val, sp.n_val, 0), 0);
        assert_true(count_class(ds, sp.train, sp.n_train, 1) >= 1);
        assert_true(count_class(ds, sp.train, sp.n_train, 2) >= 1);
        size_t want2 = (size_t)floor(20.0 * fractions[k] + 0.5);
        want2 = want2 >= 20 ? 19 : want2;
        assert_int_equal(count_class(ds, sp.val, sp.n_val, 2), want2);
        trainer_split_deinit(&sp);
    }
    trainer_dataset_free(ds);
}

/* ------------------------------------------------------------------------------------------ */
/* trainer_scaler_fit */

static void test_scaler_standardize_uses_given_rows(void **state) {
    (void)state;
    trainer_dataset_t *ds = fx_dataset_new(6, 3, 2, TRAINER_SCALE_STANDARDIZE);
    /* rows 0, 2, 3 are the training rows; rows 1, 4, 5 hold outliers that must not count */
    const float x[6][3] = {
        {1.0f, 7.0f, -2.0f}, {1e6f, -1e6f, 5e5f}, {2.0f, 7.0f, 4.0f},
        {6.0f, 7.0f, 1.0f},  {-3e5f, 9.0f, 8e4f}, {1e7f, 1e7f, 1e7f},
    };
    memcpy(ds->x, x, sizeof x);
    fx_dataset_recount(ds);
    const size_t idx[] = {0, 2, 3};
    float shift[3], scale[3];
    assert_int_equal(trainer_scaler_fit(ds, idx, 3, shift, scale), 0);
    /* feature 0: mean 3, population variance (4 + 1 + 9) / 3 */
    fx_assert_close(shift[0], 3.0, 1e-6);
    fx_assert_close(scale[0], 1.0 / sqrt(14.0 / 3.0), 1e-6);
    /* feature 1 is constant on these rows: scale 0 so it becomes 0 */
    fx_assert_close(shift[1], 7.0, 0.0);
    assert_true(scale[1] == 0.0f);
    /* feature 2: mean 1, variance (9 + 9 + 0) / 3 */
    fx_assert_close(shift[2], 1.0, 1e-6);
    fx_assert_close(scale[2], 1.0 / sqrt(6.0), 1e-6);
    assert_int_equal(trainer_scaler_fit(ds, idx, 0, shift, scale), MLPT_EINVAL);
    trainer_dataset_free(ds);
}

/* Large values far from zero: the statistics stay accurate (computed in double). */
static void test_scaler_standardize_large_offset(void **state) {
    (void)state;
    enum { ROWS = 1000 };
    trainer_dataset_t *ds = fx_dataset_new(ROWS, 1, 2, TRAINER_SCALE_STANDARDIZE);
    size_t *idx = fx_calloc(ROWS, sizeof *idx);
    for (size_t i = 0; i < ROWS; i++) {
        ds->x[i] = 1e5f + ((i & 1) ? 1.0f : -1.0f); /* mean 1e5, std 1 */
        idx[i] = i;
    }
    fx_dataset_recount(ds);
    float shift, scale;
    assert_int_equal(trainer_scaler_fit(ds, idx, ROWS, &shift, &scale), 0);
    fx_assert_close(shift, 1e5, 0.0);
    fx_assert_close(scale, 1.0, 1e-6);
    free(idx);
    trainer_dataset_free(ds);
}

static void test_scaler_unit_is_identity(void **state) {
    (void)state;
    trainer_dataset_t *ds = fx_dataset_new(3, 2, 2, TRAINER_SCALE_UNIT);
    const float x[] = {0.1f, 40.0f, 0.9f, -3.0f, 0.5f, 2.0f}; /* not even in [0, 1] */
    memcpy(ds->x, x, sizeof x);
    fx_dataset_recount(ds);
    const size_t idx[] = {0, 1, 2};
    float shift[2] = {9, 9}, scale[2] = {9, 9};
    assert_int_equal(trainer_scaler_fit(ds, idx, 3, shift, scale), 0);
    for (int j = 0; j < 2; j++) {
        assert_true(shift[j] == 0.0f);
        assert_true(scale[j] == 1.0f);
    }
    trainer_dataset_free(ds);
}

/* Min-max over the given rows only; a constant feature gets scale 0; other rules on request. */
static void test_scaler_minmax_and_rules(void **state) {
    (void)state;
    trainer_dataset_t *ds = fx_dataset_new(5, 3, 2, TRAINER_SCALE_STANDARDIZE);
    const float x[5][3] = {
        {0.0f, 5.0f, 255.0f},  {-1e6f, 1e6f, 1e6f}, {255.0f, 5.0f, 0.0f},
        {51.0f, 5.0f, 100.0f}, {1e7f, -1e7f, 3.0f},
    };
    memcpy(ds->x, x, sizeof x);
    fx_dataset_recount(ds);
    const size_t idx[] = {0, 2, 3};
    float shift[3], scale[3];
    assert_int_equal(trainer_scaler_fit_as(ds, TRAINER_SCALE_MINMAX, idx, 3, shift, scale), 0);
    assert_true(shift[0] == 0.0f);
    fx_assert_close(scale[0], 1.0 / 255.0, 1e-9);
    fx_assert_close((51.0f - shift[0]) * scale[0], 0.2, 1e-6);
    assert_true(shift[1] == 5.0f && scale[1] == 0.0f); /* constant: becomes 0 */
    assert_true(shift[2] == 0.0f);
    fx_assert_close(scale[2], 1.0 / 255.0, 1e-9);
    /* one range for all features: 0..1e6 over the given rows (row 1's 1e6 is not one of them:
     * 255 is the max) */
    assert_int_equal(trainer_scaler_fit_as(ds, TRAINER_SCALE_GLOBAL_MINMAX, idx, 3, shift, scale),
                     0);
    for (int j = 0; j < 3; j++) {
        assert_true(shift[j] == 0.0f);
        fx_assert_close(scale[j], 1.0 / 255.0, 1e-9);
    }
    /* the dataset's own rule stays standardize; UNIT on request is the identity */
    assert_int_equal(trainer_scaler_fit_as(ds, TRAINER_SCALE_UNIT, idx, 3, shift, scale), 0);
    assert_true(shift[0] == 0.0f && scale[0] == 1.0f);
    assert_int_equal(trainer_scaler_fit_as(ds, (trainer_scaling_t)7, idx, 3, shift, scale),
                     MLPT_EINVAL);
    assert_int_equal(trainer_scaler_fit_as(ds, TRAINER_SCALE_MINMAX, idx, 0, shift, scale),
                     MLPT_EINVAL);
    trainer_dataset_free(ds);
}

/* ------------------------------------------------------------------------------------------ */
/* trainer_dataset_align_classes */

/* ref knows setosa, versicolor, virginica; other lists virginica and setosa in its own order. */
static void test_align_classes_remaps_by_name(void **state) {
    (void)state;
    trainer_dataset_t *ref = fx_dataset_new(3, 2, 3, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(ref, 0, "setosa");
    fx_dataset_name(ref, 1, "versicolor");
    fx_dataset_name(ref, 2, "virginica");
    ref->y[0] = 0;
    ref->y[1] = 1;
    ref->y[2] = 2;
    fx_dataset_recount(ref);

    trainer_dataset_t *other = fx_dataset_new(5, 2, 2, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(other, 0, "virginica");
    fx_dataset_name(other, 1, "setosa");
    const int32_t y[] = {0, 1, 1, 0, 0};
    memcpy(other->y, y, sizeof y);
    fx_dataset_recount(other);
    other->x[3] = 42.0f;

    size_t unknown = 77;
    assert_int_equal(trainer_dataset_align_classes(other, ref, &unknown), 0);
    assert_int_equal(unknown, 77);
    const int32_t want[] = {2, 0, 0, 2, 2};
    assert_memory_equal(other->y, want, sizeof want);
    assert_int_equal(other->classes, 3);
    assert_string_equal(other->class_names[0], "setosa");
    assert_string_equal(other->class_names[1], "versicolor");
    assert_string_equal(other->class_names[2], "virginica");
    assert_ptr_not_equal(other->class_names[0], ref->class_names[0]); /* copies */
    assert_int_equal(other->class_counts[0], 2);
    assert_int_equal(other->class_counts[1], 0);
    assert_int_equal(other->class_counts[2], 3);
    assert_true(other->x[3] == 42.0f);
    assert_int_equal(trainer_dataset_check(other), 0);
    trainer_dataset_free(other);
    trainer_dataset_free(ref);
}

static void test_align_classes_unknown_class(void **state) {
    (void)state;
    trainer_dataset_t *ref = fx_dataset_new(2, 2, 2, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(ref, 0, "cat");
    fx_dataset_name(ref, 1, "dog");
    ref->y[1] = 1;
    fx_dataset_recount(ref);

    trainer_dataset_t *other = fx_dataset_new(4, 2, 3, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(other, 0, "dog");
    fx_dataset_name(other, 1, "emu");
    fx_dataset_name(other, 2, "cat");
    const int32_t y[] = {0, 2, 1, 0};
    memcpy(other->y, y, sizeof y);
    fx_dataset_recount(other);
    char *names_before = other->class_names[0];
    size_t *counts_before = other->class_counts;

    size_t unknown = 77;
    assert_int_equal(trainer_dataset_align_classes(other, ref, &unknown), MLPT_EFORMAT);
    assert_int_equal(unknown, 1);
    assert_int_equal(trainer_dataset_align_classes(other, ref, NULL), MLPT_EFORMAT);
    /* unchanged */
    assert_memory_equal(other->y, y, sizeof y);
    assert_int_equal(other->classes, 3);
    assert_ptr_equal(other->class_names[0], names_before);
    assert_ptr_equal(other->class_counts, counts_before);
    assert_string_equal(other->class_names[1], "emu");
    assert_int_equal(other->class_counts[1], 1);
    trainer_dataset_free(other);
    trainer_dataset_free(ref);
}

/* The borrowing view: the same numbering, other untouched, unknown classes and feature counts
 * refused as by trainer_dataset_align_classes. */
static void test_view_classes(void **state) {
    (void)state;
    trainer_dataset_t *ref = fx_dataset_new(3, 2, 3, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(ref, 0, "setosa");
    fx_dataset_name(ref, 1, "versicolor");
    fx_dataset_name(ref, 2, "virginica");
    ref->y[1] = 1;
    ref->y[2] = 2;
    fx_dataset_recount(ref);
    trainer_dataset_t *other = fx_dataset_new(5, 2, 2, TRAINER_SCALE_STANDARDIZE);
    fx_dataset_name(other, 0, "virginica");
    fx_dataset_name(other, 1, "setosa");
    const int32_t y[] = {0, 1, 1, 0, 0};
    memcpy(other->y, y, sizeof y);
    fx_dataset_recount(other);

    trainer_dataset_t view;
    int32_t *labels = (int32_t *)1;
    size_t unknown = 77;
    assert_int_equal(trainer_dataset_view_classes(other, ref, &view, &labels, &unknown), 0);
    const int32_t want[] = {2, 0, 0, 2, 2};
    assert_memory_equal(labels, want, sizeof want);
    assert_ptr_equal(view.y, labels);
    assert_ptr_equal(view.x, other->x);
    assert_int_equal(view.rows, 5);
    assert_int_equal(view.classes, 3);
    assert_ptr_equal(view.class_names, ref->class_names);
    assert_null(view.class_counts);
    assert_memory_equal(other->y, y, sizeof y); /* untouched */
    assert_int_equal(other->classes, 2);
    assert_int_equal(unknown, 77);
    free(labels);

    fx_dataset_name(other, 1, "emu");
    assert_int_equal(trainer_dataset_view_classes(other, ref, &view, &labels, &unknown),
                     MLPT_EFORMAT);
    assert_int_equal(unknown, 1);
    assert_null(labels);
    trainer_dataset_t *narrow = fx_dataset_new(2, 1, 2, TRAINER_SCALE_STANDARDIZE);
    narrow->y[1] = 1;
    fx_dataset_recount(narrow);
    assert_int_equal(trainer_dataset_view_classes(narrow, ref, &view, &labels, NULL), MLPT_EINVAL);
    assert_null(labels);
    trainer_dataset_free(narrow);
    trainer_dataset_free(other);
    trainer_dataset_free(ref);
}

static void test_align_classes_feature_mismatch(void **state) {
    (void)state;
    trainer_dataset_t *ref = fx_dataset_new(2, 3, 2, TRAINER_SCALE_STANDARDIZE);
    trainer_dataset_t *other = fx_dataset_new(2, 2, 2, TRAINER_SCALE_STANDARDIZE);
    ref->y[1] = 1;
    other->y[0] = 1;
    fx_dataset_recount(ref);
    fx_dataset_recount(other);
    assert_int_equal(trainer_dataset_align_classes(other, ref, NULL), MLPT_EINVAL);
    assert_int_equal(other->y[0], 1);
    assert_int_equal(other->y[1], 0);
    assert_string_equal(other->class_names[0], "c0");
    trainer_dataset_free(other);
    trainer_dataset_free(ref);
}

/* ------------------------------------------------------------------------------------------ */
/* Random streams (every split, initialisation and shuffle draws from these) */

/* Known answers: xoshiro256** seeded through splitmix64 (seed 0 gives the published splitmix64
 * words e220a8397b1dcdaf, 6e789e6aa1b965f4, ...), computed independently from the algorithms'
 * definitions. The same seed must give the same numbers on every machine and in every version,
 * or stored histories and checkpoints stop being reproducible. */
static void test_rng_pinned_values(void **state) {
    (void)state;
    trainer_rng_t r;
    trainer_rng_seed(&r, 0, 0);
    assert_true(trainer_rng_next(&r) == UINT64_C(0x99EC5F36CB75F2B4));
    assert_true(trainer_rng_next(&r) == UINT64_C(0xBF6E1F784956452A));
    trainer_rng_seed(&r, 12345, TRAINER_RNG_SHUFFLE);
    assert_true(trainer_rng_next(&r) == UINT64_C(0x104E3445DBF79EFE));
    assert_true(trainer_rng_next(&r) == UINT64_C(0x202644A0DFC6F327));
}

static void test_rng_streams_and_ranges(void **state) {
    (void)state;
    trainer_rng_t a, b, c;
    trainer_rng_seed(&a, 5, TRAINER_RNG_INIT);
    trainer_rng_seed(&b, 5, TRAINER_RNG_INIT);
    trainer_rng_seed(&c, 5, TRAINER_RNG_SPLIT);
    int differs = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t va = trainer_rng_next(&a);
        assert_true(va == trainer_rng_next(&b));
        differs |= va != trainer_rng_next(&c);
    }
    assert_true(differs);

    /* uniform floats in [0, 1) with a plausible mean; below(n) in range and hitting every value */
    double sum = 0.0;
    for (int i = 0; i < 10000; i++) {
        float u = trainer_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    fx_assert_close(sum / 10000.0, 0.5, 0.02);
    size_t hits[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t k = trainer_rng_below(&a, 7);
        assert_true(k < 7);
        hits[k]++;
    }
    for (int k = 0; k < 7; k++)
        assert_true(hits[k] > 800 && hits[k] < 1200);
    assert_true(trainer_rng_below(&a, 1) == 0);

    /* a shuffle is a permutation, and not the identity */
    size_t perm[50];
    for (size_t i = 0; i < 50; i++)
        perm[i] = i;
    trainer_rng_shuffle(&a, perm, 50);
    unsigned char seen[50] = {0};
    size_t moved = 0;
    for (size_t i = 0; i < 50; i++) {
        assert_true(perm[i] < 50);
        seen[perm[i]]++;
        moved += perm[i] != i;
    }
    for (size_t i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 25);
    trainer_rng_shuffle(&a, perm, 0); /* no-ops */
    trainer_rng_shuffle(&a, perm, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_accepts_valid),
        cmocka_unit_test(test_check_rejects_bad_values),
        cmocka_unit_test(test_check_rejects_bad_structure),
        cmocka_unit_test(test_split_stratified_proportions),
        cmocka_unit_test(test_split_same_seed_same_split),
        cmocka_unit_test(test_split_fraction_zero),
        cmocka_unit_test(test_split_bad_fraction),
        cmocka_unit_test(test_split_small_classes_keep_a_training_row),
        cmocka_unit_test(test_scaler_standardize_uses_given_rows),
        cmocka_unit_test(test_scaler_minmax_and_rules),
        cmocka_unit_test(test_scaler_standardize_large_offset),
        cmocka_unit_test(test_scaler_unit_is_identity),
        cmocka_unit_test(test_align_classes_remaps_by_name),
        cmocka_unit_test(test_align_classes_unknown_class),
        cmocka_unit_test(test_align_classes_feature_mismatch),
        cmocka_unit_test(test_view_classes),
        cmocka_unit_test(test_rng_pinned_values),
        cmocka_unit_test(test_rng_streams_and_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
