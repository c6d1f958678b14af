/*
 * tests/test_formats.c - the registry of dataset formats (ingest/format.h): its entries and the
 * upload fields they make, detection from the first bytes, the lists the upload's messages are
 * built from, every format driven only through its entry (as the upload does) giving what the
 * loaders give, and the generic file loader with its errors naming the part.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "ingest.h"
#include "ingest_fixtures.h"

static void test_entries_and_fields(void **state) {
    (void)state;
    assert_int_equal(ingest_format_count(), 4);
    assert_string_equal(ingest_format_at(0)->name, "csv"); /* the raw text/csv body's format */
    assert_string_equal(ingest_format_at(1)->name, "idx");
    /* the recordings, chosen by name only: they add no field and are never detected */
    assert_string_equal(ingest_format_at(2)->name, "wisdm");
    assert_string_equal(ingest_format_at(3)->name, "timeseries");
    assert_true(ingest_format_at(2)->by_name && ingest_format_at(3)->by_name);
    assert_true(!ingest_format_at(0)->by_name && !ingest_format_at(1)->by_name);
    assert_non_null(ingest_format_at(2)->report);
    assert_null(ingest_format_at(0)->report);
    assert_null(ingest_format_at(4));
    assert_ptr_equal(ingest_format_find("idx"), ingest_format_at(1));
    assert_null(ingest_format_find("parquet"));
    assert_null(ingest_format_find(NULL));
    assert_true(ingest_format_at(0)->label_column && !ingest_format_at(1)->label_column);

    const char *fields[] = {"file", "images", "labels"};
    assert_int_equal(ingest_field_count(), 3);
    assert_true(ingest_field_count() <= INGEST_FIELDS_MAX);
    for (size_t i = 0; i < 3; i++) {
        size_t part = 99;
        assert_string_equal(ingest_field_name(i), fields[i]);
        assert_int_equal(ingest_field_find(fields[i]), (long)i);
        const ingest_format_def_t *f = ingest_field_format(i, &part);
        assert_ptr_equal(f, ingest_format_at(i == 0 ? 0 : 1));
        assert_int_equal(part, i == 0 ? 0 : i - 1);
        assert_string_equal(f->parts[part].field, fields[i]);
    }
    assert_null(ingest_field_name(3));
    assert_null(ingest_field_format(3, NULL));
    assert_int_equal(ingest_field_find("name"), -1);
    /* Every entry is complete: what the upload and the loader call is there. */
    for (size_t i = 0; i < ingest_format_count(); i++) {
        const ingest_format_def_t *f = ingest_format_at(i);
        assert_true(f->n_parts >= 1 && f->n_parts <= INGEST_FORMAT_MAX_PARTS);
        assert_non_null(f->build);
        assert_non_null(f->max_gunzip);
        for (size_t p = 0; p < f->n_parts; p++) {
            const ingest_part_def_t *d = &f->parts[p];
            assert_true(d->field && d->detect && d->parser_new && d->feed && d->mem_bytes &&
                        d->parser_free);
            d->parser_free(NULL);
            assert_int_equal(d->mem_bytes(NULL), 0);
        }
    }
}

static void test_detect(void **state) {
    (void)state;
    size_t part = 99;
    const char csv[] = "a,b,label\n1,2,x\n";
    assert_ptr_equal(ingest_format_detect(csv, sizeof(csv) - 1, &part), ingest_format_at(0));
    assert_int_equal(part, 0);
    const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2};
    assert_ptr_equal(ingest_format_detect(images, sizeof(images), &part), ingest_format_at(1));
    assert_int_equal(part, 0);
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 1};
    assert_ptr_equal(ingest_format_detect(labels, sizeof(labels), &part), ingest_format_at(1));
    assert_int_equal(part, 1);
    const unsigned char gz[] = {0x1F, 0x8B, 8, 0};
    assert_null(ingest_format_detect(gz, sizeof(gz), NULL)); /* decompress first */
    assert_null(ingest_format_detect(NULL, 0, NULL));
}

/* The upload's messages are built from these: they must read as they always did. */
static void test_lists(void **state) {
    (void)state;
    char buf[160];
    assert_string_equal(ingest_format_list(buf, sizeof(buf), INGEST_LIST_SEND),
                        "a CSV file as file, or IDX files as images and labels");
    assert_string_equal(ingest_format_list(buf, sizeof(buf), INGEST_LIST_FIELDS),
                        "file, or images and labels");
    assert_string_equal(ingest_format_list(buf, sizeof(buf), INGEST_LIST_EITHER),
                        "file (CSV) or images and labels (IDX)");
    assert_string_equal(ingest_format_list(buf, sizeof(buf), INGEST_LIST_QUOTED),
                        "\"file\", \"images\", \"labels\"");
    char small[10];
    assert_string_equal(ingest_format_list(small, sizeof(small), INGEST_LIST_SEND), "a CSV fil");
}

/* Parses files[i] (bytes) for each part of fmt through its entry only, in chunks of 7 bytes. */
static int drive(const ingest_format_def_t *fmt, const ingest_options_t *opt,
                 const char *const *files, const size_t *lens, trainer_dataset_t **out,
                 size_t *bad_part, ingest_error_t *err) {
    void *parsers[INGEST_FORMAT_MAX_PARTS] = {0};
    int rc = 0;
    for (size_t p = 0; p < fmt->n_parts && !rc; p++) {
        const ingest_part_def_t *d = &fmt->parts[p];
        parsers[p] = d->parser_new(opt);
        assert_non_null(parsers[p]);
        for (size_t off = 0; off < lens[p] && !rc; off += 7)
            rc = d->feed(parsers[p], files[p] + off, lens[p] - off < 7 ? lens[p] - off : 7, err);
        if (!rc && d->end)
            rc = d->end(parsers[p], err);
        if (rc)
            *bad_part = p;
        else
            assert_true(d->mem_bytes(parsers[p]) > 0);
    }
    if (!rc)
        rc = fmt->build(parsers, out, bad_part, err);
    for (size_t p = 0; p < fmt->n_parts; p++)
        fmt->parts[p].parser_free(parsers[p]);
    return rc;
}

static char *idx_file(int labels, size_t items, size_t *len) {
    size_t n = labels ? 8 + items : 16 + items * 4;
    unsigned char *b = calloc(1, n);
    assert_non_null(b);
    b[2] = 8;
    b[3] = labels ? 1 : 3;
    b[7] = (unsigned char)items;
    if (!labels) {
        b[11] = 2;
        b[15] = 2;
    }
    for (size_t i = 0; i < items; i++) {
        if (labels)
            b[8 + i] = (unsigned char)(i % 3);
        else
            b[16 + i * 4] = (unsigned char)(40 * i);
    }
    *len = n;
    return (char *)b;
}

static void test_drive_through_entries(void **state) {
    (void)state;
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    ingest_options_t opt;
    ingest_options_init(&opt);
    ingest_error_t err = {0};
    size_t bad = 99;

    /* CSV, with the label column named through the generic option */
    const char *csv = "y,a,b\nu,1,2\nv,3,4\nu,5,6\n";
    size_t len = strlen(csv);
    trainer_dataset_t *got = NULL, *want = NULL;
    opt.label_name = "y";
    assert_int_equal(drive(ingest_format_find("csv"), &opt, &csv, &len, &got, &bad, &err), 0);
    assert_int_equal(got->features, 2);
    assert_string_equal(got->class_names[0], "u");
    assert_null(got->group); /* no format sets groups yet */
    const char *path = fx_path(&t, "a.csv");
    fx_write(path, csv, len);
    ingest_csv_options_t copt;
    ingest_csv_options_init(&copt);
    copt.label_name = "y";
    assert_int_equal(ingest_load_csv_file(path, &copt, &want, &err), 0);
    fx_assert_dataset_equal(got, want);
    trainer_dataset_free(got);
    trainer_dataset_free(want);
    got = want = NULL;
    opt.label_name = "nope"; /* the option reaches the parser: a missing column */
    assert_int_equal(drive(ingest_format_find("csv"), &opt, &csv, &len, &got, &bad, &err),
                     MLPT_EINVAL);
    assert_int_equal(bad, 0);
    opt.label_name = NULL;

    /* IDX: two parts */
    size_t lens[2];
    const char *files[2];
    char *im = idx_file(0, 6, &lens[0]), *lb = idx_file(1, 6, &lens[1]);
    files[0] = im;
    files[1] = lb;
    assert_int_equal(drive(ingest_format_find("idx"), &opt, files, lens, &got, &bad, &err), 0);
    assert_int_equal(got->rows, 6);
    assert_int_equal(got->classes, 3);
    const char *im_path = fx_path(&t, "im.idx"), *lb_path = fx_path(&t, "lb.idx");
    fx_write(im_path, im, lens[0]);
    fx_write(lb_path, lb, lens[1]);
    assert_int_equal(ingest_load_idx_files(im_path, lb_path, NULL, &want, &err), 0);
    fx_assert_dataset_equal(got, want);
    trainer_dataset_free(got);
    trainer_dataset_free(want);
    got = want = NULL;
    /* a pairing failure names its part: fewer labels than images is the labels' count */
    lens[1] = 8 + 5;
    lb[7] = 5;
    assert_int_equal(drive(ingest_format_find("idx"), &opt, files, lens, &got, &bad, &err),
                     MLPT_EFORMAT);
    assert_int_equal(bad, 0); /* "images has 6 items but labels has 5" */
    lb[7] = 6;
    lens[1] = 8 + 6;
    memset(lb + 8, 1, 6); /* one class only: the labels' fault */
    assert_int_equal(drive(ingest_format_find("idx"), &opt, files, lens, &got, &bad, &err),
                     MLPT_EFORMAT);
    assert_int_equal(bad, 1);
    assert_null(got);
    free(im);
    free(lb);
    fx_tmpdir_remove(&t);
}

static void test_load_files(void **state) {
    (void)state;
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    ingest_error_t err = {0};
    trainer_dataset_t *ds = NULL;
    size_t len;
    char *im = idx_file(0, 6, &len);
    const char *im_path = fx_path(&t, "im.idx.gz");
    fx_write_gz(im_path, im, len, 1);
    const char *paths[2] = {im_path, fx_path(&t, "missing")};
    assert_int_equal(ingest_load_files(ingest_format_find("idx"), paths, NULL, &ds, &err),
                     MLPT_EIO);
    assert_null(ds);
    assert_memory_equal(err.message, "labels: cannot open", 19);
    char *lb = idx_file(1, 6, &len);
    paths[1] = fx_path(&t, "lb.idx");
    fx_write(paths[1], lb, len);
    assert_int_equal(ingest_load_files(ingest_format_find("idx"), paths, NULL, &ds, &err), 0);
    assert_int_equal(ds->rows, 6);
    trainer_dataset_free(ds);
    ds = NULL;
    /* one part: no role in front */
    const char *one = fx_path(&t, "nothing.csv");
    assert_int_equal(ingest_load_files(ingest_format_find("csv"), &one, NULL, &ds, &err), MLPT_EIO);
    assert_memory_equal(err.message, "cannot open", 11);
    assert_int_equal(ingest_load_files(NULL, &one, NULL, &ds, &err), MLPT_EINVAL);
    paths[1] = NULL;
    assert_int_equal(ingest_load_files(ingest_format_find("idx"), paths, NULL, &ds, &err),
                     MLPT_EINVAL);
    free(im);
    free(lb);
    fx_tmpdir_remove(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_and_fields),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_drive_through_entries),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
