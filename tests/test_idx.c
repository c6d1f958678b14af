/*
 * tests/test_idx.c - IDX parsers and their pairing, the streaming gzip decoder, the IDX file
 * loader (plain and gzip) and format sniffing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "gz.h"
#include "idx.h"
#include "ingest.h"
#include "ingest_fixtures.h"

#define N_ITEMS 5
#define ROWS 2
#define COLS 3

/* A little buffer that grows. */
typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *tmp = realloc(b->p, cap);
        assert_non_null(tmp);
        b->p = tmp;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* An IDX file: 00 00 type ndim, big-endian dims, then `n` data bytes. */
static bytes_t idx_build(unsigned type, unsigned ndim, const uint32_t *dims, const void *data,
                         size_t n) {
    bytes_t b = {0};
    unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    bytes_add(&b, magic, 4);
    for (unsigned i = 0; i < ndim; i++) {
        unsigned char d[4] = {(unsigned char)(dims[i] >> 24), (unsigned char)(dims[i] >> 16),
                              (unsigned char)(dims[i] >> 8), (unsigned char)dims[i]};
        bytes_add(&b, d, 4);
    }
    if (n)
        bytes_add(&b, data, n);
    return b;
}

static unsigned char pixels[N_ITEMS * ROWS * COLS];
static const unsigned char labels[N_ITEMS] = {7, 3, 7, 9, 3};

static bytes_t images_file(void) {
    for (size_t i = 0; i < sizeof(pixels); i++)
        pixels[i] = (unsigned char)((i * 37 + 11) % 256);
    pixels[0] = 0;
    pixels[1] = 255;
    const uint32_t dims[3] = {N_ITEMS, ROWS, COLS};
    return idx_build(0x08, 3, dims, pixels, sizeof(pixels));
}

static bytes_t labels_file(void) {
    const uint32_t dims[1] = {N_ITEMS};
    return idx_build(0x08, 1, dims, labels, sizeof(labels));
}

/* Feeds a whole buffer to a new parser `chunk` bytes at a time (0: at once); returns the first
 * failing code (feed or finish) and the parser in *out. */
static int idx_parse(ingest_idx_kind_t kind, const ingest_idx_options_t *opt, const void *data,
                     size_t len, size_t chunk, ingest_idx_t **out, ingest_error_t *err) {
    ingest_idx_t *ix = ingest_idx_new(kind, opt);
    assert_non_null(ix);
    *out = ix;
    if (chunk == 0)
        chunk = len ? len : 1;
    const unsigned char *p = data;
    for (size_t off = 0; off < len; off += chunk) {
        int rc = ingest_idx_feed(ix, p + off, len - off < chunk ? len - off : chunk, err);
        if (rc)
            return rc;
    }
    return ingest_idx_finish(ix, err);
}

/* Parses both buffers and combines them. */
static int idx_pair(const bytes_t *im, const bytes_t *lb, size_t chunk, trainer_dataset_t **ds,
                    ingest_error_t *err) {
    ingest_idx_t *a, *b;
    int rc = idx_parse(INGEST_IDX_IMAGES, NULL, im->p, im->len, chunk, &a, err);
    if (rc == 0)
        rc = idx_parse(INGEST_IDX_LABELS, NULL, lb->p, lb->len, chunk, &b, err);
    else
        b = NULL;
    if (rc == 0)
        rc = ingest_idx_combine(a, b, ds, err);
    ingest_idx_free(a);
    ingest_idx_free(b);
    return rc;
}

static void expect_feed_error(ingest_idx_kind_t kind, const bytes_t *file, int code,
                              const char *message) {
    ingest_idx_t *ix;
    ingest_error_t err;
    memset(&err, 0, sizeof(err));
    int rc = idx_parse(kind, NULL, file->p, file->len, 0, &ix, &err);
    if (strcmp(err.message, message) != 0)
        print_error("got message: %s\n", err.message);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
    ingest_idx_free(ix);
}

static void check_small_dataset(const trainer_dataset_t *ds) {
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, N_ITEMS);
    assert_int_equal(ds->features, ROWS * COLS);
    assert_int_equal(ds->scaling, TRAINER_SCALE_UNIT);
    assert_int_equal(ds->classes, 3);
    assert_string_equal(ds->class_names[0], "3");
    assert_string_equal(ds->class_names[1], "7");
    assert_string_equal(ds->class_names[2], "9");
    assert_int_equal(ds->class_counts[0], 2);
    assert_int_equal(ds->class_counts[1], 2);
    assert_int_equal(ds->class_counts[2], 1);
    const int32_t y[N_ITEMS] = {1, 0, 1, 2, 0};
    assert_memory_equal(ds->y, y, sizeof(y));
    for (size_t i = 0; i < sizeof(pixels); i++)
        assert_true(ds->x[i] == (float)pixels[i] / 255.0f);
    assert_true(ds->x[0] == 0.0f);
    assert_true(ds->x[1] == 1.0f);
}

/* ---- happy paths -------------------------------------------------------------------------------
 */

static void test_idx_push_parsers(void **state) {
    (void)state;
    bytes_t im = images_file(), lb = labels_file();
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    assert_int_equal(idx_pair(&im, &lb, 0, &ds, &err), 0);
    check_small_dataset(ds);
    trainer_dataset_free(ds);
    free(im.p);
    free(lb.p);
}

static void test_idx_chunked_feeding_is_identical(void **state) {
    (void)state;
    bytes_t im = images_file(), lb = labels_file();
    trainer_dataset_t *whole = NULL;
    assert_int_equal(idx_pair(&im, &lb, 0, &whole, NULL), 0);
    const size_t chunks[] = {1, 2, 3, 7, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        trainer_dataset_t *part = NULL;
        assert_int_equal(idx_pair(&im, &lb, chunks[i], &part, NULL), 0);
        fx_assert_dataset_equal(whole, part);
        trainer_dataset_free(part);
    }
    trainer_dataset_free(whole);
    free(im.p);
    free(lb.p);
}

static void test_idx_file_loader_plain_and_gzip(void **state) {
    (void)state;
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    bytes_t im = images_file(), lb = labels_file();
    const char *imp = fx_path(&t, "images.idx"), *lbp = fx_path(&t, "labels.idx");
    const char *imz = fx_path(&t, "images.idx.gz"), *lbz = fx_path(&t, "labels-gzipped.bin");
    fx_write(imp, im.p, im.len);
    fx_write(lbp, lb.p, lb.len);
    fx_write_gz(imz, im.p, im.len, 2); /* two concatenated members */
    fx_write_gz(lbz, lb.p, lb.len, 1); /* gzip found by magic, not by name */
    trainer_dataset_t *plain = NULL, *gz = NULL, *mixed = NULL;
    ingest_error_t err;
    assert_int_equal(ingest_load_idx_files(imp, lbp, NULL, &plain, &err), 0);
    check_small_dataset(plain);
    assert_int_equal(ingest_load_idx_files(imz, lbz, NULL, &gz, &err), 0);
    fx_assert_dataset_equal(plain, gz);
    assert_int_equal(ingest_load_idx_files(imz, lbp, NULL, &mixed, &err), 0);
    fx_assert_dataset_equal(plain, mixed);
    trainer_dataset_free(plain);
    trainer_dataset_free(gz);
    trainer_dataset_free(mixed);
    free(im.p);
    free(lb.p);
    fx_tmpdir_remove(&t);
}

/* The real Fashion-MNIST test set, when the Debian package is installed. */
static void test_idx_fashion_mnist_t10k(void **state) {
    (void)state;
    const char *im = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lb = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(im, R_OK) != 0 || access(lb, R_OK) != 0)
        skip();
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    assert_int_equal(ingest_load_idx_files(im, lb, NULL, &ds, &err), 0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, 10000);
    assert_int_equal(ds->features, 784);
    assert_int_equal(ds->classes, 10);
    for (size_t k = 0; k < 10; k++)
        assert_int_equal(ds->class_counts[k], 1000);
    for (size_t i = 0; i < ds->rows * ds->features; i++)
        assert_true(ds->x[i] >= 0.0f && ds->x[i] <= 1.0f);
    trainer_dataset_free(ds);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

static void test_idx_truncated_data(void **state) {
    (void)state;
    bytes_t im = images_file();
    im.len -= 15; /* 2.5 items of 6 bytes are missing */
    ingest_idx_t *ix;
    ingest_error_t err;
    assert_int_equal(idx_parse(INGEST_IDX_IMAGES, NULL, im.p, im.len, 0, &ix, &err), MLPT_EFORMAT);
    assert_int_equal(err.row, 3);
    assert_int_equal(err.part, INGEST_PART_IMAGES);
    assert_string_equal(err.message, "images: the file is truncated: it ends inside item 3 of 5 "
                                     "(15 of 30 data bytes)");
    ingest_idx_free(ix);

    /* The same through the loader, for labels. */
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    bytes_t full = images_file(), lb = labels_file();
    const char *imp = fx_path(&t, "im"), *lbp = fx_path(&t, "lb");
    fx_write(imp, full.p, full.len);
    fx_write(lbp, lb.p, lb.len - 1);
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    assert_int_equal(ingest_load_idx_files(imp, lbp, NULL, &ds, &err), MLPT_EFORMAT);
    assert_null(ds);
    assert_int_equal(err.row, 5);
    assert_int_equal(err.part, INGEST_PART_LABELS);
    assert_string_equal(err.message, "labels: the file is truncated: it ends inside item 5 of 5 "
                                     "(4 of 5 data bytes)");
    free(im.p);
    free(full.p);
    free(lb.p);
    fx_tmpdir_remove(&t);
}

static void test_idx_truncated_header_and_empty(void **state) {
    (void)state;
    bytes_t im = images_file();
    im.len = 10;
    expect_feed_error(INGEST_IDX_IMAGES, &im, MLPT_EFORMAT,
                      "images: the file ends inside the header (10 of 16 bytes)");
    im.len = 3;
    expect_feed_error(INGEST_IDX_IMAGES, &im, MLPT_EFORMAT,
                      "images: the file ends inside the header (3 of 4 bytes)");
    im.len = 0;
    expect_feed_error(INGEST_IDX_IMAGES, &im, MLPT_EFORMAT, "images: the file is empty");
    free(im.p);
}

static void test_idx_trailing_bytes(void **state) {
    (void)state;
    bytes_t im = images_file(), lb = labels_file();
    bytes_add(&im, "x", 1);
    expect_feed_error(INGEST_IDX_IMAGES, &im, MLPT_EFORMAT,
                      "images: the file is longer than its header says (5 items of 6 bytes): "
                      "unexpected bytes after the last item");
    bytes_add(&lb, "\0\0", 2);
    expect_feed_error(INGEST_IDX_LABELS, &lb, MLPT_EFORMAT,
                      "labels: the file is longer than its header says (5 items of 1 bytes): "
                      "unexpected bytes after the last item");
    free(im.p);
    free(lb.p);
}

static void test_idx_bad_magic_type_and_dims(void **state) {
    (void)state;
    const uint32_t dims3[3] = {N_ITEMS, ROWS, COLS}, dims1[1] = {N_ITEMS};
    bytes_t b = {0};
    bytes_add(&b,
              "\x1f\x8b\x08\x00"
              "abcdefgh",
              12);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_EFORMAT,
                      "images: not an IDX file: it starts with 1F 8B 08 00, not 00 00 08 (this is "
                      "gzip data: decompress it)");
    free(b.p);
    b = (bytes_t){0};
    bytes_add(&b, "PK\x03\x04", 4);
    expect_feed_error(INGEST_IDX_LABELS, &b, MLPT_EFORMAT,
                      "labels: not an IDX file: it starts with 50 4B 03 04, not 00 00 08");
    free(b.p);
    b = idx_build(0x0D, 3, dims3, NULL, 0);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_EFORMAT,
                      "images: IDX element type 0x0D is not supported; only 0x08 (unsigned byte)");
    free(b.p);
    b = idx_build(0x08, 1, dims1, labels, sizeof(labels)); /* a labels file given as images */
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_EFORMAT,
                      "images: an images file needs at least 2 dimensions (items, pixels...), "
                      "this one has 1");
    free(b.p);
    b = idx_build(0x08, 3, dims3, NULL, 0);
    expect_feed_error(INGEST_IDX_LABELS, &b, MLPT_EFORMAT,
                      "labels: a labels file has exactly 1 dimension (items), this one has 3");
    free(b.p);
    const uint32_t zero[3] = {N_ITEMS, 0, COLS};
    b = idx_build(0x08, 3, zero, NULL, 0);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_EFORMAT, "images: dimension 2 of 3 is 0");
    free(b.p);
    const uint32_t none[1] = {0};
    b = idx_build(0x08, 1, none, NULL, 0);
    expect_feed_error(INGEST_IDX_LABELS, &b, MLPT_EFORMAT, "labels: dimension 1 of 1 is 0");
    free(b.p);
}

/* Absurd sizes fail on the header alone (nothing is allocated for them); a header that promises
 * more than the file holds is reported as truncated, and memory follows what really arrived. */
static void test_idx_lying_and_absurd_headers(void **state) {
    (void)state;
    const uint32_t many[3] = {0xFFFFFFFFu, 28, 28};
    bytes_t b = idx_build(0x08, 3, many, NULL, 0);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_ELIMIT,
                      "images: 4294967295 items exceed the limit of 10000000");
    free(b.p);
    const uint32_t wide[3] = {10, 65536, 65536};
    b = idx_build(0x08, 3, wide, NULL, 0);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_ELIMIT,
                      "images: an image of more than 100000 values exceeds the feature limit");
    free(b.p);
    const uint32_t huge[3] = {9000000, 28, 28};
    b = idx_build(0x08, 3, huge, NULL, 0);
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_ELIMIT,
                      "images: 9000000 items x 784 values exceed the limit of 2147483648 values");
    free(b.p);
    const uint32_t labs[1] = {20000000};
    b = idx_build(0x08, 1, labs, NULL, 0);
    expect_feed_error(INGEST_IDX_LABELS, &b, MLPT_ELIMIT,
                      "labels: 20000000 items exceed the limit of 10000000");
    free(b.p);

    /* Within the limits (2.6 GB of floats promised) but only 3 images present. */
    const uint32_t lie[3] = {2000000, 18, 18};
    unsigned char three[3 * 18 * 18] = {0};
    b = idx_build(0x08, 3, lie, three, sizeof(three));
    expect_feed_error(INGEST_IDX_IMAGES, &b, MLPT_EFORMAT,
                      "images: the file is truncated: it ends inside item 4 of 2000000 (972 of "
                      "648000000 data bytes)");
    free(b.p);

    /* Options tighten the limits. */
    ingest_idx_options_t opt;
    ingest_idx_options_init(&opt);
    opt.max_features = 5;
    bytes_t im = images_file();
    ingest_idx_t *ix;
    ingest_error_t err;
    assert_int_equal(idx_parse(INGEST_IDX_IMAGES, &opt, im.p, im.len, 0, &ix, &err), MLPT_ELIMIT);
    assert_string_equal(err.message,
                        "images: an image of more than 5 values exceeds the feature limit");
    ingest_idx_free(ix);
    free(im.p);
}

static void test_idx_label_count_mismatch(void **state) {
    (void)state;
    bytes_t im = images_file();
    const uint32_t dims[1] = {N_ITEMS - 1};
    bytes_t lb = idx_build(0x08, 1, dims, labels, N_ITEMS - 1);
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    ingest_error_t err;
    assert_int_equal(idx_pair(&im, &lb, 0, &ds, &err), MLPT_EFORMAT);
    assert_null(ds);
    assert_string_equal(err.message, "images has 5 items but labels has 4: they must match");
    assert_int_equal(err.part, INGEST_PART_IMAGES);
    free(im.p);
    free(lb.p);
}

static void test_idx_single_class(void **state) {
    (void)state;
    bytes_t im = images_file();
    const unsigned char same[N_ITEMS] = {3, 3, 3, 3, 3};
    const uint32_t dims[1] = {N_ITEMS};
    bytes_t lb = idx_build(0x08, 1, dims, same, sizeof(same));
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    ingest_error_t err;
    assert_int_equal(idx_pair(&im, &lb, 0, &ds, &err), MLPT_EFORMAT);
    assert_null(ds);
    assert_string_equal(err.message,
                        "labels: every item has the label 3; at least 2 classes are needed");
    assert_int_equal(err.part, INGEST_PART_LABELS);
    free(im.p);
    free(lb.p);
}

static void test_idx_api_contract(void **state) {
    (void)state;
    assert_null(ingest_idx_new((ingest_idx_kind_t)7, NULL));
    bytes_t im = images_file(), lb = labels_file();
    ingest_idx_t *a, *b;
    ingest_error_t err;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(idx_parse(INGEST_IDX_IMAGES, NULL, im.p, im.len, 0, &a, &err), 0);
    assert_int_equal(idx_parse(INGEST_IDX_LABELS, NULL, lb.p, lb.len, 0, &b, &err), 0);
    assert_int_equal(ingest_idx_combine(b, a, &ds, &err), MLPT_EINVAL); /* swapped */
    assert_null(ds);
    assert_int_equal(ingest_idx_combine(a, NULL, &ds, &err), MLPT_EINVAL);
    assert_int_equal(ingest_idx_feed(a, "x", 1, &err), MLPT_ESTATE);
    assert_int_equal(ingest_idx_finish(a, &err), MLPT_ESTATE);
    assert_int_equal(ingest_idx_combine(a, b, &ds, &err), 0);
    trainer_dataset_free(ds);
    assert_int_equal(ingest_idx_combine(a, b, &ds, &err), MLPT_ESTATE); /* data moved out */
    assert_string_equal(err.message, "images: the data was already combined");
    assert_int_equal(err.part, INGEST_PART_IMAGES);
    ingest_idx_free(a);
    ingest_idx_free(b);

    /* Unfinished parsers cannot be combined; errors are sticky. */
    a = ingest_idx_new(INGEST_IDX_IMAGES, NULL);
    b = ingest_idx_new(INGEST_IDX_LABELS, NULL);
    assert_int_equal(ingest_idx_feed(a, im.p, im.len, &err), 0);
    assert_int_equal(ingest_idx_feed(b, lb.p, lb.len, &err), 0);
    assert_int_equal(ingest_idx_combine(a, b, &ds, &err), MLPT_ESTATE);
    assert_int_equal(ingest_idx_feed(b, "zz", 2, &err), MLPT_EFORMAT);
    assert_int_equal(ingest_idx_finish(b, &err), MLPT_EFORMAT);
    assert_int_equal(ingest_idx_feed(NULL, "z", 1, &err), MLPT_EINVAL);
    assert_int_equal(ingest_idx_feed(a, NULL, 1, &err), MLPT_EINVAL);
    assert_int_equal(ingest_idx_finish(NULL, &err), MLPT_EINVAL);
    ingest_idx_free(a);
    ingest_idx_free(b);
    ingest_idx_free(NULL);
    free(im.p);
    free(lb.p);
}

static void test_idx_loader_io_and_gzip_errors(void **state) {
    (void)state;
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    bytes_t im = images_file(), lb = labels_file();
    const char *imp = fx_path(&t, "im.gz"), *lbp = fx_path(&t, "lb.gz");
    fx_write_gz(imp, im.p, im.len, 1);
    size_t glen;
    unsigned char *gz = fx_gzip(lb.p, lb.len, &glen);
    fx_write(lbp, gz, glen - 4); /* the gzip trailer is cut */
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    ingest_error_t err;
    assert_int_equal(ingest_load_idx_files(imp, lbp, NULL, &ds, &err), MLPT_EFORMAT);
    assert_null(ds);
    assert_string_equal(err.message, "labels: gzip stream ends early (the file is truncated)");
    assert_int_equal(err.part, INGEST_PART_LABELS);

    assert_int_equal(ingest_load_idx_files("/nonexistent/im", lbp, NULL, &ds, &err), MLPT_EIO);
    assert_string_equal(err.message,
                        "images: cannot open \"/nonexistent/im\": No such file or directory");

    ingest_idx_options_t opt;
    ingest_idx_options_init(&opt);
    opt.max_gunzip_bytes = 20;
    assert_int_equal(ingest_load_idx_files(imp, lbp, &opt, &ds, &err), MLPT_ELIMIT);
    assert_string_equal(err.message, "images: the decompressed data exceeds the limit of 20 bytes");
    assert_int_equal(err.part, INGEST_PART_IMAGES);
    free(gz);
    free(im.p);
    free(lb.p);
    fx_tmpdir_remove(&t);
}

/* ---- the gzip decoder on its own ----------------------------------------------------------------
 */

static int sink_collect(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    (void)err;
    bytes_add(ctx, data, len);
    return 0;
}

static int sink_refuse(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    (void)ctx;
    (void)data;
    (void)len;
    if (err) {
        memset(err, 0, sizeof(*err));
        err->code = MLPT_EFORMAT;
        err->row = 42;
        snprintf(err->message, sizeof(err->message), "the sink says no");
    }
    return MLPT_EFORMAT;
}

/* Decodes src in chunks into a new buffer; returns the first failing code. */
static int gunzip(const unsigned char *src, size_t len, size_t chunk, uint64_t max, bytes_t *out,
                  ingest_error_t *err) {
    ingest_gz_t *gz = ingest_gz_new(max, sink_collect, out);
    assert_non_null(gz);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += chunk)
        rc = ingest_gz_feed(gz, src + off, len - off < chunk ? len - off : chunk, err);
    if (rc == 0)
        rc = ingest_gz_finish(gz, err);
    ingest_gz_free(gz);
    return rc;
}

static void test_gz_streaming_and_members(void **state) {
    (void)state;
    size_t n = 300000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)((i * 7919) % 251 ^ (i >> 9));
    bytes_t comp = {0};
    for (int m = 0; m < 3; m++) { /* three members: data, data, data */
        size_t glen;
        unsigned char *g = fx_gzip(data, n, &glen);
        bytes_add(&comp, g, glen);
        free(g);
    }
    const size_t chunks[] = {1, 7, 4096, 1 << 20};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        bytes_t out = {0};
        assert_int_equal(gunzip(comp.p, comp.len, chunks[c], 0, &out, NULL), 0);
        assert_int_equal(out.len, 3 * n);
        for (int m = 0; m < 3; m++)
            assert_memory_equal(out.p + (size_t)m * n, data, n);
        free(out.p);
    }
    free(comp.p);
    free(data);
}

static void test_gz_truncated_corrupt_and_limits(void **state) {
    (void)state;
    const char text[] = "hello hello hello hello hello hello, gzip";
    size_t glen;
    unsigned char *g = fx_gzip(text, sizeof(text), &glen);
    ingest_error_t err;
    bytes_t out = {0};

    /* Truncated anywhere: always "ends early" at finish. */
    for (size_t cut = 1; cut < glen; cut += 3) {
        out.len = 0;
        assert_int_equal(gunzip(g, cut, 5, 0, &out, &err), MLPT_EFORMAT);
        assert_string_equal(err.message, "gzip stream ends early (the file is truncated)");
    }
    out.len = 0;
    assert_int_equal(gunzip(g, 0, 5, 0, &out, &err), MLPT_EFORMAT); /* nothing at all */

    /* A flipped bit in the data or the CRC. */
    unsigned char *bad = malloc(glen);
    assert_non_null(bad);
    memcpy(bad, g, glen);
    bad[glen - 6] ^= 0x01;
    out.len = 0;
    assert_int_equal(gunzip(bad, glen, glen, 0, &out, &err), MLPT_EFORMAT);
    assert_string_equal(err.message, "gzip data is corrupt: incorrect data check");

    /* Not gzip, and garbage after a complete member. */
    out.len = 0;
    assert_int_equal(gunzip((const unsigned char *)"plain text", 10, 10, 0, &out, &err),
                     MLPT_EFORMAT);
    assert_non_null(strstr(err.message, "gzip data is corrupt"));
    memcpy(bad, g, glen);
    bytes_t tail = {0};
    bytes_add(&tail, g, glen);
    bytes_add(&tail, "junk", 4);
    out.len = 0;
    assert_int_equal(gunzip(tail.p, tail.len, tail.len, 0, &out, &err), MLPT_EFORMAT);

    /* The output cap, and a sink that fails. */
    out.len = 0;
    assert_int_equal(gunzip(g, glen, glen, 10, &out, &err), MLPT_ELIMIT);
    assert_string_equal(err.message, "the decompressed data exceeds the limit of 10 bytes");
    ingest_gz_t *gz = ingest_gz_new(0, sink_refuse, NULL);
    assert_int_equal(ingest_gz_feed(gz, g, glen, &err), MLPT_EFORMAT);
    assert_int_equal(err.row, 42);
    assert_string_equal(err.message, "the sink says no");
    ingest_error_t again;
    assert_int_equal(ingest_gz_finish(gz, &again), MLPT_EFORMAT); /* sticky */
    assert_string_equal(again.message, "the sink says no");
    ingest_gz_free(gz);

    /* Contract. */
    assert_null(ingest_gz_new(0, NULL, NULL));
    gz = ingest_gz_new(0, sink_collect, &out);
    assert_int_equal(ingest_gz_feed(NULL, g, 1, &err), MLPT_EINVAL);
    assert_int_equal(ingest_gz_feed(gz, NULL, 1, &err), MLPT_EINVAL);
    out.len = 0;
    assert_int_equal(ingest_gz_feed(gz, g, glen, &err), 0);
    assert_int_equal(ingest_gz_total_out(gz), sizeof(text));
    assert_int_equal(ingest_gz_finish(gz, &err), 0);
    assert_int_equal(ingest_gz_finish(gz, &err), MLPT_ESTATE);
    assert_int_equal(ingest_gz_feed(gz, g, 1, &err), MLPT_ESTATE);
    ingest_gz_free(gz);
    ingest_gz_free(NULL);

    free(tail.p);
    free(out.p);
    free(bad);
    free(g);
}

static void test_sniff(void **state) {
    (void)state;
    bytes_t im = images_file(), lb = labels_file();
    assert_int_equal(ingest_sniff(im.p, im.len), INGEST_FORMAT_IDX_IMAGES);
    assert_int_equal(ingest_sniff(lb.p, 4), INGEST_FORMAT_IDX_LABELS);
    assert_int_equal(ingest_sniff("\x00\x00\x0D\x03", 4), INGEST_FORMAT_IDX_IMAGES);
    assert_int_equal(ingest_sniff("\x1f\x8b", 2), INGEST_FORMAT_GZIP);
    assert_int_equal(ingest_sniff("a,b,label\r\n1,2,x\n", 17), INGEST_FORMAT_CSV);
    assert_int_equal(ingest_sniff("\xEF\xBB\xBF"
                                  "a;b\n",
                                  7),
                     INGEST_FORMAT_CSV);
    assert_int_equal(ingest_sniff("caf\xC3\xA9,x\n", 8), INGEST_FORMAT_CSV);
    assert_int_equal(ingest_sniff("a,b\x01", 4), INGEST_FORMAT_UNKNOWN);
    assert_int_equal(ingest_sniff("\x00\x00\x08\x00", 4), INGEST_FORMAT_UNKNOWN);
    assert_int_equal(ingest_sniff("PK\x03\x04", 4), INGEST_FORMAT_UNKNOWN);
    assert_int_equal(ingest_sniff(NULL, 0), INGEST_FORMAT_UNKNOWN);
    assert_int_equal(ingest_sniff("\n\n", 2), INGEST_FORMAT_UNKNOWN);
    free(im.p);
    free(lb.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_push_parsers),
        cmocka_unit_test(test_idx_chunked_feeding_is_identical),
        cmocka_unit_test(test_idx_file_loader_plain_and_gzip),
        cmocka_unit_test(test_idx_fashion_mnist_t10k),
        cmocka_unit_test(test_idx_truncated_data),
        cmocka_unit_test(test_idx_truncated_header_and_empty),
        cmocka_unit_test(test_idx_trailing_bytes),
        cmocka_unit_test(test_idx_bad_magic_type_and_dims),
        cmocka_unit_test(test_idx_lying_and_absurd_headers),
        cmocka_unit_test(test_idx_label_count_mismatch),
        cmocka_unit_test(test_idx_single_class),
        cmocka_unit_test(test_idx_api_contract),
        cmocka_unit_test(test_idx_loader_io_and_gzip_errors),
        cmocka_unit_test(test_gz_streaming_and_members),
        cmocka_unit_test(test_gz_truncated_corrupt_and_limits),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
