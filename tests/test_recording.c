/*
 * tests/test_recording.c - the sensor recording parsers (ingest/recording.h): every WISDM quirk
 * repaired and counted, every unusable record skipped by reason with its line, the refusals
 * naming line and field, timeseries CSV headers, units and options, and the same result in any
 * chunking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording.h"

/* The channel names of the last parse (the report's point into the parser, freed by then). */
static char names[8][32];
static const char *name_ptrs[8] = {names[0], names[1], names[2], names[3],
                                   names[4], names[5], names[6], names[7]};

/* Parses text with a new parser of `kind` ("wisdm" or "ts"), fed `chunk` bytes at a time (0:
 * whole). Returns the finish code; *out, the report (copied) and err filled. */
static int parse(const char *kind, const char *text, size_t chunk, const ingest_rec_options_t *opt,
                 const char *label, trainer_dataset_t **out, ingest_rec_report_t *rep,
                 ingest_error_t *err) {
    ingest_rec_t *p =
        strcmp(kind, "wisdm") == 0 ? ingest_wisdm_new(opt) : ingest_timeseries_new(opt, label);
    assert_non_null(p);
    size_t n = strlen(text);
    int rc = 0;
    memset(err, 0, sizeof *err);
    *out = NULL;
    for (size_t off = 0; off < n && !rc;) {
        size_t k = chunk && chunk < n - off ? chunk : n - off;
        rc = ingest_rec_feed(p, text + off, k, err);
        off += k;
    }
    if (!rc)
        rc = ingest_rec_finish(p, out, err);
    if (rep) {
        *rep = *ingest_rec_report(p);
        for (size_t c = 0; c < rep->channels && c < 8; c++)
            snprintf(names[c], sizeof names[c], "%s", rep->channel_names[c]);
        rep->channel_names = name_ptrs;
    }
    ingest_rec_free(p);
    return rc;
}

static int wisdm(const char *text, trainer_dataset_t **out, ingest_rec_report_t *rep,
                 ingest_error_t *err) {
    return parse("wisdm", text, 0, NULL, NULL, out, rep, err);
}

static void test_clean_records(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_rec_report_t r;
    ingest_error_t e;
    assert_int_equal(wisdm("33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n"
                           "33,Jogging,49106062271000,5.012288,11.264028,0.95342433;\n"
                           "7,Walking,1000,1,2,3;\n",
                           &ds, &r, &e),
                     0);
    assert_int_equal(ds->rows, 3);
    assert_int_equal(ds->features, 3);
    assert_int_equal(ds->classes, 2);
    assert_string_equal(ds->class_names[0], "Jogging");
    assert_int_equal(ds->group[0], 33);
    assert_int_equal(ds->group[2], 7);
    assert_int_equal(ds->time[1], 49106062271000LL);
    assert_true(ds->x[0] == -0.6946377f && ds->x[4] == 11.264028f && ds->x[8] == 3.0f);
    assert_int_equal(ds->y[2], 1);
    assert_int_equal(r.records, 3);
    for (size_t q = 0; q < INGEST_QUIRK_COUNT; q++)
        assert_int_equal(r.quirks[q], 0);
    assert_int_equal(r.channels, 3);
    assert_string_equal(r.channel_names[2], "z");
    trainer_dataset_free(ds);
}

/* Each quirk is repaired, counted and its line kept. */
static void test_quirks(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_rec_report_t r;
    ingest_error_t e;
    const char *text = "1,Walking,100,1,2,3,;\n"                    /* line 1: trailing comma */
                       "1,Walking,200,4,5,6\n"                      /* line 2: no ';' */
                       "1,Walking,300,7,8,9;1,Sitting,400,1,1,1;\n" /* line 3: two records */
                       "\n"                                         /* line 4: blank */
                       "1,Sitting,500,,2,3;\r\n" /* line 5: empty x (previous: 1), CR LF */
                       "1,Sitting,600,1,2, ;\n"; /* line 6: blank z (previous: 3) */
    assert_int_equal(wisdm(text, &ds, &r, &e), 0);
    assert_int_equal(ds->rows, 6);
    assert_int_equal(r.quirks[INGEST_QUIRK_TRAILING_COMMA], 1);
    assert_int_equal(r.quirk_lines[INGEST_QUIRK_TRAILING_COMMA][0], 1);
    assert_int_equal(r.quirks[INGEST_QUIRK_MISSING_SEMICOLON], 1);
    assert_int_equal(r.quirk_lines[INGEST_QUIRK_MISSING_SEMICOLON][0], 2);
    assert_int_equal(r.quirks[INGEST_QUIRK_SEVERAL_ON_ONE_LINE], 1);
    assert_int_equal(r.quirk_lines[INGEST_QUIRK_SEVERAL_ON_ONE_LINE][0], 3);
    assert_int_equal(r.quirks[INGEST_QUIRK_BLANK_LINE], 1);
    assert_int_equal(r.quirk_lines[INGEST_QUIRK_BLANK_LINE][0], 4);
    assert_int_equal(r.quirks[INGEST_QUIRK_CRLF], 1);
    assert_int_equal(r.quirks[INGEST_QUIRK_EMPTY_VALUE], 2);
    assert_int_equal(r.quirk_lines[INGEST_QUIRK_EMPTY_VALUE][1], 6);
    assert_true(ds->x[4 * 3 + 0] == 1.0f); /* the previous sample's x */
    assert_true(ds->x[5 * 3 + 2] == 3.0f); /* the previous sample's z */
    assert_int_equal(ds->time[3], 400);
    for (size_t s = 0; s < INGEST_SKIP_COUNT; s++)
        assert_int_equal(r.skipped[s], 0);
    trainer_dataset_free(ds);
}

/* Unusable records are skipped by reason with their first lines; the rest is kept. */
static void test_skipped(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_rec_report_t r;
    ingest_error_t e;
    const char *text = "1,Walking,100,1,2,3;\n"
                       "1,Walking,200,1,2;\n"        /* 2: field count */
                       "x,Walking,300,1,2,3;\n"      /* 3: subject */
                       "1,,400,1,2,3;\n"             /* 4: empty label */
                       "1,Walking,12a,1,2,3;\n"      /* 5: timestamp */
                       "1,Walking,0,1,2,3;\n"        /* 6: zero timestamp */
                       "1,Walking,700,1,abc,3;\n"    /* 7: value */
                       "2,Walking,800,,2,3;\n"       /* 8: empty, no earlier value of 2 */
                       "1,Walking,900,1e39,2,3;\n"   /* 9: over float32 */
                       "-1,Sitting,1000,1,2,3;\n"    /* 10: negative subject */
                       "1,Sitting,1100,1,2,3,4,5;\n" /* 11: field count */
                       "1,Sitting,1200,1,2,3";       /* 12: kept (no ';' at the end: quirk) */
    assert_int_equal(wisdm(text, &ds, &r, &e), 0);
    assert_int_equal(ds->rows, 2);
    assert_int_equal(r.records, 12);
    assert_int_equal(r.skipped[INGEST_SKIP_FIELD_COUNT], 2);
    assert_int_equal(r.skip_lines[INGEST_SKIP_FIELD_COUNT][0], 2);
    assert_int_equal(r.skip_lines[INGEST_SKIP_FIELD_COUNT][1], 11);
    assert_int_equal(r.skipped[INGEST_SKIP_BAD_SUBJECT], 2);
    assert_int_equal(r.skip_lines[INGEST_SKIP_BAD_SUBJECT][1], 10);
    assert_int_equal(r.skipped[INGEST_SKIP_EMPTY_LABEL], 1);
    assert_int_equal(r.skipped[INGEST_SKIP_BAD_TIMESTAMP], 1);
    assert_int_equal(r.skip_lines[INGEST_SKIP_BAD_TIMESTAMP][0], 5);
    assert_int_equal(r.skipped[INGEST_SKIP_ZERO_TIMESTAMP], 1);
    assert_int_equal(r.skipped[INGEST_SKIP_BAD_VALUE], 2);
    assert_int_equal(r.skip_lines[INGEST_SKIP_BAD_VALUE][1], 9);
    assert_int_equal(r.skipped[INGEST_SKIP_EMPTY_VALUE], 1);
    assert_int_equal(r.skip_lines[INGEST_SKIP_EMPTY_VALUE][0], 8);
    assert_int_equal(r.quirks[INGEST_QUIRK_MISSING_SEMICOLON], 1);
    trainer_dataset_free(ds);
}

/* The refusals: 422-worthy codes naming the line and the field. */
static void test_refusals(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_error_t e;
    assert_int_equal(wisdm("", &ds, NULL, &e), MLPT_EFORMAT);
    assert_null(ds);
    assert_non_null(strstr(e.message, "no usable record"));
    assert_int_equal(wisdm("\n\n  \n", &ds, NULL, &e), MLPT_EFORMAT);
    /* nothing usable: the first skipped record's line and field */
    assert_int_equal(wisdm("1,Walking,100,1,2,x;\n2,Sitting,200,1,2,y;\n", &ds, NULL, &e),
                     MLPT_EFORMAT);
    assert_int_equal(e.row, 1);
    assert_int_equal(e.column, 6);
    assert_string_equal(e.column_name, "z");
    assert_non_null(strstr(e.message, "line 1, field 6 (z)"));
    assert_non_null(strstr(e.message, "2 records skipped"));
    /* one class */
    assert_int_equal(wisdm("1,Walking,100,1,2,3;\n1,Walking,200,1,2,3;\n", &ds, NULL, &e),
                     MLPT_EFORMAT);
    assert_string_equal(e.column_name, "activity");
    assert_int_equal(e.row, 1);
    assert_non_null(strstr(e.message, "two classes"));
    /* no timestamps */
    assert_int_equal(wisdm("1,Walking,0,1,2,3;\n1,Sitting,0,1,2,3;\n", &ds, NULL, &e),
                     MLPT_EFORMAT);
    assert_non_null(strstr(e.message, "no timestamps"));
    assert_string_equal(e.column_name, "timestamp");
    /* a record longer than the limit */
    ingest_rec_options_t opt;
    ingest_rec_options_init(&opt);
    opt.max_line_bytes = 16;
    assert_int_equal(parse("wisdm", "1,Walking,100,1,2,3;\n1,Walking,100,1.000000000000,2,3;\n", 3,
                           &opt, NULL, &ds, NULL, &e),
                     MLPT_ELIMIT);
    opt.max_line_bytes = 0;
    opt.max_rows = 2;
    assert_int_equal(
        parse("wisdm", "1,A,1,1,2,3;1,B,2,1,2,3;1,A,3,1,2,3;", 0, &opt, NULL, &ds, NULL, &e),
        MLPT_ELIMIT);
    /* a label with a NUL byte is skipped, not cut */
    ingest_rec_t *p = ingest_wisdm_new(NULL);
    const char nul[] = "1,Wa\0lk,100,1,2,3;\n1,Sitting,200,1,2,3;\n1,Walking,300,1,2,3;\n";
    assert_int_equal(ingest_rec_feed(p, nul, sizeof nul - 1, &e), 0);
    assert_int_equal(ingest_rec_finish(p, &ds, &e), 0);
    assert_int_equal(ingest_rec_report(p)->skipped[INGEST_SKIP_EMPTY_LABEL], 1);
    assert_int_equal(ds->rows, 2);
    trainer_dataset_free(ds);
    ingest_rec_free(p);
}

/* The same dataset, account and errors whatever the chunking. */
static void test_chunking(void **state) {
    (void)state;
    const char *text = "1,Walking,100,1,2,3,;\n1,Walking,200,4,5,6\n1,Walking,300,7,8,9;"
                       "1,Sitting,400,1,1,1;\n\n1,Sitting,500,,2,3;\r\n2,Sitting,600,1,x,3;\n"
                       "2,Walking,700,0.5,-1e-3,+2;";
    trainer_dataset_t *whole, *bytes;
    ingest_rec_report_t a, b;
    ingest_error_t e;
    assert_int_equal(parse("wisdm", text, 0, NULL, NULL, &whole, &a, &e), 0);
    for (size_t chunk = 1; chunk < 9; chunk++) {
        assert_int_equal(parse("wisdm", text, chunk, NULL, NULL, &bytes, &b, &e), 0);
        assert_int_equal(bytes->rows, whole->rows);
        assert_memory_equal(bytes->x, whole->x, whole->rows * 3 * sizeof(float));
        assert_memory_equal(bytes->time, whole->time, whole->rows * sizeof(int64_t));
        assert_memory_equal(&a, &b, offsetof(ingest_rec_report_t, channels));
        trainer_dataset_free(bytes);
    }
    trainer_dataset_free(whole);
}

static void test_timeseries(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_rec_report_t r;
    ingest_error_t e;
    ingest_rec_options_t opt;
    ingest_rec_options_init(&opt);
    opt.timestamp_unit = INGEST_TIME_MS;
    const char *text = "time,ax,\"subject\",ay,activity,az,temp\n"
                       "1000,1,3,2,run,3,20\n"
                       "1050.5,1,3,2,run,3,20\n"
                       "1100,1,3,2,run,3\n" /* field count */
                       "1150,1,3,2,walk,,21,\n";
    assert_int_equal(parse("ts", text, 3, &opt, NULL, &ds, &r, &e), 0);
    assert_int_equal(ds->rows, 3);
    assert_int_equal(ds->features, 4);
    assert_string_equal(r.channel_names[0], "ax");
    assert_string_equal(r.channel_names[3], "temp");
    assert_int_equal(ds->time[0], 1000000000LL);
    assert_int_equal(ds->time[1], 1050500000LL);
    assert_int_equal(ds->group[2], 3);
    assert_true(ds->x[2 * 4 + 2] == 3.0f); /* empty az: the previous one */
    assert_int_equal(r.quirks[INGEST_QUIRK_EMPTY_VALUE], 1);
    assert_int_equal(r.quirks[INGEST_QUIRK_TRAILING_COMMA], 1);
    assert_int_equal(r.skipped[INGEST_SKIP_FIELD_COUNT], 1);
    assert_int_equal(r.skip_lines[INGEST_SKIP_FIELD_COUNT][0], 4);
    assert_int_equal(r.records, 4);
    trainer_dataset_free(ds);

    /* options by name, a ';' delimiter, seconds with decimals */
    opt.timestamp_unit = INGEST_TIME_S;
    opt.subject_column = "who";
    opt.timestamp_column = "at";
    assert_int_equal(
        parse("ts", "who;what;at;v\n1;a;1.25;0\n1;b;1.5;1\n", 0, &opt, "what", &ds, &r, &e), 0);
    assert_int_equal(ds->time[0], 1250000000LL);
    assert_int_equal(ds->features, 1);
    trainer_dataset_free(ds);

    /* a column option naming no column: EINVAL naming the option */
    opt.subject_column = "nobody";
    assert_int_equal(parse("ts", "who;what;at;v\n1;a;1;0\n", 0, &opt, "what", &ds, NULL, &e),
                     MLPT_EINVAL);
    assert_string_equal(e.column_name, "subject_column");
    assert_non_null(strstr(e.message, "nobody"));
    ingest_rec_options_init(&opt);
    assert_int_equal(parse("ts", "subject,label,x\n1,a,0\n", 0, &opt, NULL, &ds, NULL, &e),
                     MLPT_EINVAL);
    assert_string_equal(e.column_name, "timestamp_column");
    assert_int_equal(parse("ts", "subject,label,timestamp\n1,a,5\n", 0, &opt, NULL, &ds, NULL, &e),
                     MLPT_EFORMAT);
    assert_non_null(strstr(e.message, "no channel"));
    assert_int_equal(parse("ts", "", 0, &opt, NULL, &ds, NULL, &e), MLPT_EFORMAT);
    assert_int_equal(parse("ts", "subject,label,timestamp,x\n", 0, &opt, NULL, &ds, NULL, &e),
                     MLPT_EFORMAT);
    assert_non_null(strstr(e.message, "no usable record"));
}

static void test_summary(void **state) {
    (void)state;
    trainer_dataset_t *ds;
    ingest_error_t e;
    /* 20 Hz with one gap of 2 s in subject 1's walk, and a time going back */
    char text[4096];
    size_t n = 0;
    long long t = 1000000000LL;
    for (int i = 0; i < 20; i++, t += 50000000LL) {
        if (i == 10)
            t += 2000000000LL;
        n += (size_t)snprintf(text + n, sizeof text - n, "1,Walking,%lld,1,2,3;\n", t);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "1,Walking,%lld,1,2,3;\n", t - 500000000LL);
    for (int i = 0; i < 10; i++, t += 50000000LL)
        n += (size_t)snprintf(text + n, sizeof text - n, "4,Sitting,%lld,1,2,3;\n", t);
    assert_int_equal(wisdm(text, &ds, NULL, &e), 0);
    ingest_rec_summary_t s;
    assert_int_equal(ingest_rec_summarize(ds, &s), 0);
    assert_true(s.rate_hz > 19.99 && s.rate_hz < 20.01);
    assert_int_equal(s.gaps, 1);
    assert_true(s.longest_gap_s > 2.04 && s.longest_gap_s < 2.06);
    assert_int_equal(s.backwards, 1);
    assert_int_equal(s.n_subjects, 2);
    assert_int_equal(s.subjects[0].id, 1);
    assert_int_equal(s.subjects[0].samples, 21);
    assert_int_equal(s.subjects[1].samples, 10);
    free(s.subjects);
    trainer_dataset_free(ds);
}

static int by_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median interval is exactly the sorted intervals' middle one, whatever their spread (the
 * radix selection against a sort), and only between samples of one subject and label. */
static void test_median_period(void **state) {
    (void)state;
    const size_t n = 5001;
    trainer_dataset_t *r = calloc(1, sizeof *r);
    r->rows = n;
    r->group = calloc(n, sizeof *r->group);
    r->y = calloc(n, sizeof *r->y);
    r->time = calloc(n, sizeof *r->time);
    int64_t *d = calloc(n, sizeof *d);
    uint64_t s = 99;
    size_t m = 0;
    r->group[0] = 1;
    for (size_t i = 1; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t step = 1 + (int64_t)((s >> 11) % (i % 7 == 0 ? 4000000000000ULL : 60000000ULL));
        r->time[i] = r->time[i - 1] + step;
        r->group[i] = i < 2500 ? 1 : 2;
        if (i != 2500)
            d[m++] = step;
    }
    qsort(d, m, sizeof *d, by_i64);
    int64_t got = 0;
    assert_int_equal(ingest_rec_median_period(r, &got), 0);
    assert_int_equal(got, d[m / 2]);
    free(d);
    free(r->group);
    free(r->y);
    free(r->time);
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_records), cmocka_unit_test(test_quirks),
        cmocka_unit_test(test_skipped),       cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_chunking),      cmocka_unit_test(test_timeseries),
        cmocka_unit_test(test_summary),       cmocka_unit_test(test_median_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
