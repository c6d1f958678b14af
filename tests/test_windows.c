/*
 * tests/test_windows.c - windows cut from a recording (ingest/windows.h): boundaries at subjects,
 * labels, gaps and times going back; spectrogram values against a direct DFT; the Kwapisz
 * statistics against their definitions; the options refused naming themselves; and the split
 * by subject (trainer_split_grouped) that the windows are made for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recording.h"
#include "windows.h"

/* A recording of n samples, C channels, 2 classes "A" and "B", 10 Hz unless set otherwise. */
static trainer_dataset_t *rec_new(size_t n, size_t C) {
    trainer_dataset_t *r = calloc(1, sizeof *r);
    r->rows = n;
    r->features = C;
    r->classes = 2;
    r->x = calloc(n * C, sizeof *r->x);
    r->y = calloc(n, sizeof *r->y);
    r->group = calloc(n, sizeof *r->group);
    r->time = calloc(n, sizeof *r->time);
    r->class_names = calloc(2, sizeof *r->class_names);
    r->class_names[0] = strdup("A");
    r->class_names[1] = strdup("B");
    r->class_counts = calloc(2, sizeof *r->class_counts);
    for (size_t i = 0; i < n; i++)
        r->time[i] = (int64_t)i * 100000000; /* 10 Hz */
    return r;
}

static void rec_count(trainer_dataset_t *r) {
    r->class_counts[0] = r->class_counts[1] = 0;
    for (size_t i = 0; i < r->rows; i++)
        r->class_counts[r->y[i]]++;
}

/* Windows never span a subject, a label, a gap or a time going back; raw features are the
 * window's own samples. */
static void test_boundaries(void **state) {
    (void)state;
    /* subject 1: 25 x A then 25 x B; subject 2: 30 x A with a 3 s pause after 12, then 10 x A
     * with a time going back after 5 */
    trainer_dataset_t *r = rec_new(90, 1);
    for (size_t i = 0; i < 90; i++) {
        r->x[i] = (float)i; /* each sample's index: the raw features show where windows are */
        r->group[i] = i < 50 ? 1 : 2;
        r->y[i] = i >= 25 && i < 50 ? 1 : 0;
        if (i >= 62)
            r->time[i] += 3000000000LL;
        if (i >= 85)
            r->time[i] -= 2000000000LL;
    }
    rec_count(r);
    ingest_window_options_t o;
    ingest_window_options_init(&o);
    o.window_seconds = 1.0; /* 10 samples */
    o.step_seconds = 0.5;   /* 5 */
    o.features = INGEST_FEATURES_RAW;
    o.max_gap_seconds = 1.0;
    trainer_dataset_t *w = NULL;
    ingest_window_shape_t sh;
    ingest_window_stats_t st;
    ingest_error_t e;
    assert_int_equal(ingest_windows_derive(r, &o, &w, &sh, &st, &e), 0);
    assert_int_equal(sh.window, 10);
    assert_int_equal(sh.step, 5);
    assert_int_equal(w->features, 10);
    /* segments: [0,25) A1 -> 4, [25,50) B1 -> 4, [50,62) A2 -> 1, [62,85) A2 -> 3, [85,90) -> 0 */
    assert_int_equal(st.segments, 5);
    assert_int_equal(st.short_segments, 1);
    assert_int_equal(st.windows, 12);
    assert_int_equal(w->rows, 12);
    assert_null(w->time);
    for (size_t k = 0; k < w->rows; k++) {
        const float *row = w->x + k * 10;
        size_t first = (size_t)row[0];
        for (size_t j = 1; j < 10; j++)
            assert_true(row[j] == row[0] + (float)j); /* consecutive samples */
        size_t last = first + 9;
        assert_int_equal(r->group[first], r->group[last]);
        assert_int_equal(r->y[first], r->y[last]);
        assert_int_equal(w->group[k], r->group[first]);
        assert_string_equal(w->class_names[w->y[k]], r->class_names[r->y[first]]);
        assert_false(first < 62 && last >= 62); /* the gap */
        assert_false(first < 50 && last >= 50); /* the subject */
        assert_false(first < 25 && last >= 25); /* the label */
    }
    assert_int_equal(w->class_counts[0], 8);
    trainer_dataset_free(w);
    /* a larger max_gap_seconds joins the two stretches of subject 2: [50,85) -> 6 windows */
    o.max_gap_seconds = 5.0;
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, &st, &e), 0);
    assert_int_equal(st.windows, 14);
    trainer_dataset_free(w);
    trainer_dataset_free(r);
}

/* Spectrogram features against a direct DFT in double precision. */
static void test_spectrogram_against_dft(void **state) {
    (void)state;
    const size_t n = 64, C = 2;
    trainer_dataset_t *r = rec_new(n, C);
    uint64_t s = 12345;
    for (size_t i = 0; i < n * C; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        r->x[i] = (float)((double)(s >> 40) / (double)(1ULL << 24) * 20.0 - 10.0);
    }
    for (size_t i = 32; i < n; i++)
        r->y[i] = 1; /* two classes, one window each */
    rec_count(r);
    ingest_window_options_t o;
    ingest_window_options_init(&o);
    o.window_seconds = 3.2; /* 32 samples */
    o.step_seconds = 3.2;
    o.frame_seconds = 1.0; /* 10 samples: not a power of two */
    o.hop_seconds = 0.7;   /* 7 */
    trainer_dataset_t *w = NULL;
    ingest_window_shape_t sh;
    ingest_error_t e;
    assert_int_equal(ingest_windows_derive(r, &o, &w, &sh, NULL, &e), 0);
    assert_int_equal(sh.frame, 10);
    assert_int_equal(sh.hop, 7);
    assert_int_equal(sh.frames, 4); /* 1 + (32 - 10) / 7 */
    assert_int_equal(sh.bins, 6);
    assert_int_equal(w->features, C * 4 * 6);
    assert_int_equal(w->rows, 2);
    const double pi = 3.14159265358979323846;
    double worst = 0.0;
    for (size_t k = 0; k < 2; k++)
        for (size_t c = 0; c < C; c++)
            for (size_t f = 0; f < 4; f++)
                for (size_t b = 0; b < 6; b++) {
                    double re = 0.0, im = 0.0;
                    for (size_t i = 0; i < 10; i++) {
                        double hann = 0.5 - 0.5 * cos(2.0 * pi * (double)i / 10.0);
                        double x = r->x[(k * 32 + f * 7 + i) * C + c] * hann;
                        re += x * cos(2.0 * pi * (double)(b * i) / 10.0);
                        im -= x * sin(2.0 * pi * (double)(b * i) / 10.0);
                    }
                    double want = log1p(sqrt(re * re + im * im));
                    double got = w->x[k * w->features + (c * 4 + f) * 6 + b];
                    double d = fabs(got - want) / (1.0 + fabs(want));
                    worst = d > worst ? d : worst;
                }
    assert_true(worst < 1e-5);
    trainer_dataset_free(w);
    trainer_dataset_free(r);
}

/* The 43 statistics of Kwapisz et al. for three axes, by their definitions. */
static void test_stats(void **state) {
    (void)state;
    const size_t n = 40, C = 3;
    trainer_dataset_t *r = rec_new(n, C);
    for (size_t i = 0; i < n; i++) {
        r->x[i * C + 0] = (float)sin(2.0 * 3.14159265358979 * (double)i / 5.0); /* period 5 */
        r->x[i * C + 1] = 9.8f;
        r->x[i * C + 2] = (float)(i % 20);
        r->y[i] = i >= 20;
    }
    rec_count(r);
    ingest_window_options_t o;
    ingest_window_options_init(&o);
    o.window_seconds = 2.0; /* 20 samples */
    o.step_seconds = 2.0;
    o.features = INGEST_FEATURES_STATS;
    trainer_dataset_t *w = NULL;
    ingest_error_t e;
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), 0);
    assert_int_equal(w->features, 43);
    const float *f = w->x;                               /* the first window */
    assert_true(fabsf(f[0]) < 1e-5f);                    /* mean x */
    assert_true(fabsf(f[1] - 9.8f) < 1e-5f);             /* mean y */
    assert_true(fabsf(f[2] - 9.5f) < 1e-5f);             /* mean z: 0..19 */
    assert_true(fabsf(f[3] - (float)sqrt(0.5)) < 1e-4f); /* std of a sine over whole periods */
    assert_true(f[4] == 0.0f);                           /* std of a constant */
    assert_true(fabsf(f[5] - (float)sqrt((400.0 - 1.0) / 12.0)) < 1e-4f);
    assert_true(fabsf(f[8] - 5.0f) < 1e-5f);   /* aad z: mean |i - 9.5| = 5 */
    assert_true(fabsf(f[9] - 500.0f) < 1e-3f); /* peaks of x every 5 samples at 10 Hz: 500 ms */
    assert_true(f[10] == 0.0f);                /* no peak in a constant */
    /* bins: z spreads 2 samples over each tenth of [0, 19]; y has all in its first bin */
    for (size_t b = 0; b < 10; b++)
        assert_true(fabsf(f[12 + 20 + b] - 0.1f) < 1e-6f);
    assert_true(f[12 + 10] == 1.0f);
    double res = 0.0;
    for (size_t i = 0; i < 20; i++) {
        double a = r->x[i * C], b = r->x[i * C + 1], c = r->x[i * C + 2];
        res += sqrt(a * a + b * b + c * c);
    }
    assert_true(fabs(f[42] - res / 20.0) < 1e-4);
    trainer_dataset_free(w);
    trainer_dataset_free(r);
}

/* Options that cannot work are refused naming themselves. */
static void test_refused(void **state) {
    (void)state;
    trainer_dataset_t *r = rec_new(100, 3), *w = NULL;
    for (size_t i = 50; i < 100; i++)
        r->y[i] = 1;
    rec_count(r);
    ingest_window_options_t o;
    ingest_error_t e;
    ingest_window_options_init(&o);
    o.window_seconds = 0.1; /* 1 sample */
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), MLPT_EINVAL);
    assert_string_equal(e.column_name, "window_seconds");
    ingest_window_options_init(&o);
    o.window_seconds = 2.0;
    o.frame_seconds = 3.0;
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), MLPT_EINVAL);
    assert_string_equal(e.column_name, "frame_seconds");
    ingest_window_options_init(&o);
    o.window_seconds = 6.0; /* longer than each 5 s label */
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), MLPT_EFORMAT);
    assert_string_equal(e.column_name, "window_seconds");
    assert_non_null(strstr(e.message, "no window fits"));
    for (size_t i = 50; i < 100; i++)
        r->time[i] += 60000000000LL; /* B's samples never in a window of 4 s... */
    for (size_t i = 50; i < 100; i += 3)
        r->time[i] += 5000000000LL; /* ...their stretches are cut every 3 samples */
    ingest_window_options_init(&o);
    o.window_seconds = 4.0;
    o.step_seconds = 1.0;
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), MLPT_EFORMAT);
    assert_non_null(strstr(e.message, "one class"));
    free(r->time);
    r->time = NULL;
    assert_int_equal(ingest_windows_derive(r, &o, &w, NULL, NULL, &e), MLPT_EINVAL);
    assert_null(w);
    trainer_dataset_free(r);
}

/* The split by subject never shares a subject between its sides, keeps the test subjects out of
 * both, is the same for the same seed, and validates about the fraction asked. */
static void test_group_split(void **state) {
    (void)state;
    const size_t G = 12, per = 30;
    trainer_dataset_t *d = rec_new(G * per, 1);
    for (size_t i = 0; i < d->rows; i++) {
        d->group[i] = (int32_t)(100 + i / per);
        d->y[i] = (int32_t)((i / 5) % 2);
    }
    rec_count(d);
    const int32_t tests[] = {103, 108};
    for (uint64_t seed = 1; seed < 20; seed++) {
        trainer_split_t s, again;
        assert_int_equal(trainer_split_grouped(d, 0.25, seed, tests, 2, &s), 0);
        assert_int_equal(s.n_train + s.n_val + s.n_test, d->rows);
        assert_int_equal(s.n_test, 2 * per);
        unsigned char side[12] = {0};
        for (size_t k = 0; k < s.n_train; k++)
            side[d->group[s.train[k]] - 100] |= 1;
        for (size_t k = 0; k < s.n_val; k++)
            side[d->group[s.val[k]] - 100] |= 2;
        for (size_t k = 0; k < s.n_test; k++)
            side[d->group[s.test[k]] - 100] |= 4;
        for (size_t g = 0; g < G; g++)
            assert_true(side[g] == 1 || side[g] == 2 || side[g] == 4);
        assert_int_equal(side[3], 4);
        assert_int_equal(side[8], 4);
        /* 10 subjects in the pool, 25%: 2 or 3 of them */
        assert_true(s.n_val == 2 * per || s.n_val == 3 * per);
        for (size_t k = 1; k < s.n_train; k++)
            assert_true(s.train[k] > s.train[k - 1]);
        assert_int_equal(trainer_split_grouped(d, 0.25, seed, tests, 2, &again), 0);
        assert_memory_equal(s.val, again.val, s.n_val * sizeof *s.val);
        trainer_split_deinit(&s);
        trainer_split_deinit(&again);
    }
    trainer_split_t s;
    /* a fraction of 0 validates nothing; a tiny one still one subject */
    assert_int_equal(trainer_split_grouped(d, 0.0, 1, NULL, 0, &s), 0);
    assert_int_equal(s.n_val, 0);
    trainer_split_deinit(&s);
    assert_int_equal(trainer_split_grouped(d, 0.01, 1, NULL, 0, &s), 0);
    assert_int_equal(s.n_val, per);
    trainer_split_deinit(&s);
    /* every subject a test subject: nothing to train on */
    int32_t all[12];
    for (size_t g = 0; g < G; g++)
        all[g] = (int32_t)(100 + g);
    assert_int_equal(trainer_split_grouped(d, 0.2, 1, all, G, &s), MLPT_EINVAL);
    free(d->group);
    d->group = NULL;
    assert_int_equal(trainer_split_grouped(d, 0.2, 1, NULL, 0, &s), MLPT_EINVAL);
    trainer_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries),  cmocka_unit_test(test_spectrogram_against_dft),
        cmocka_unit_test(test_stats),       cmocka_unit_test(test_refused),
        cmocka_unit_test(test_group_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
