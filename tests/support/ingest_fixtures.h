/*
 * tests/support/ingest_fixtures.h - helpers for the ingest tests: a temporary directory, writing
 * plain and gzip files, parsing from memory in chunks, comparing datasets.
 *
 * Header-only (static inline) because each test executable is built from its one .c file.
 * Include after <cmocka.h>.
 */
#ifndef INGEST_FIXTURES_H
#define INGEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "csv.h"
#include "dataset.h"
#include "idx.h"

/* A mkdtemp() directory; files made with fx_path() are removed by fx_tmpdir_remove(). */
typedef struct fx_tmpdir {
    char dir[256];
    char files[32][320];
    int nfiles;
} fx_tmpdir_t;

static inline void fx_tmpdir_make(fx_tmpdir_t *t) {
    const char *base = getenv("TMPDIR");
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "%s/mlpt-ingest-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
}

/* A path for `name` inside the directory, remembered for removal. */
static inline const char *fx_path(fx_tmpdir_t *t, const char *name) {
    assert_true(t->nfiles < 32);
    char tmp[sizeof(t->files[0])];
    snprintf(tmp, sizeof(tmp), "%s/%s", t->dir, name); /* not into *t: -Wrestrict */
    char *p = t->files[t->nfiles++];
    memcpy(p, tmp, sizeof(tmp));
    return p;
}

static inline void fx_tmpdir_remove(fx_tmpdir_t *t) {
    for (int i = 0; i < t->nfiles; i++)
        unlink(t->files[i]);
    assert_int_equal(rmdir(t->dir), 0);
}

static inline void fx_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* gzip-compresses data[0..len) as one member into a new malloc'd buffer; *out_len its size. */
static inline unsigned char *fx_gzip(const void *data, size_t len, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (unsigned char *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* Writes data gzip-compressed to path; `members` > 1 splits it into that many gzip members. */
static inline void fx_write_gz(const char *path, const void *data, size_t len, int members) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t part = len / (size_t)members, off = 0;
    for (int m = 0; m < members; m++) {
        size_t n = m == members - 1 ? len - off : part, glen = 0;
        unsigned char *gz = fx_gzip((const char *)data + off, n, &glen);
        assert_int_equal(fwrite(gz, 1, glen, f), glen);
        free(gz);
        off += n;
    }
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience). */
static inline char *fx_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Parses text[0..len) with the CSV push parser, fed `chunk` bytes at a time (0: all at once).
 * Returns the code of the first failing call; *out is the dataset or NULL. err may be NULL. */
static inline int fx_csv_parse(const char *text, size_t len, size_t chunk,
                               const ingest_csv_options_t *opt, trainer_dataset_t **out,
                               ingest_error_t *err) {
    *out = NULL;
    ingest_csv_t *csv = ingest_csv_new(opt);
    assert_non_null(csv);
    if (chunk == 0)
        chunk = len ? len : 1;
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += chunk)
        rc = ingest_csv_feed(csv, text + off, len - off < chunk ? len - off : chunk, err);
    if (rc == 0)
        rc = ingest_csv_finish(csv, out, err);
    ingest_csv_free(csv);
    return rc;
}

/* Same with a NUL-terminated text. */
static inline int fx_csv_str(const char *text, const ingest_csv_options_t *opt,
                             trainer_dataset_t **out, ingest_error_t *err) {
    return fx_csv_parse(text, strlen(text), 0, opt, out, err);
}

static inline void fx_assert_dataset_equal(const trainer_dataset_t *a, const trainer_dataset_t *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->features, b->features);
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->scaling, b->scaling);
    assert_memory_equal(a->x, b->x, a->rows * a->features * sizeof(float));
    assert_memory_equal(a->y, b->y, a->rows * sizeof(int32_t));
    for (size_t k = 0; k < a->classes; k++) {
        assert_string_equal(a->class_names[k], b->class_names[k]);
        assert_int_equal(a->class_counts[k], b->class_counts[k]);
    }
}

/* Checks the dataset invariants the trainer relies on (what trainer_dataset_check() checks). */
static inline void fx_assert_dataset_valid(const trainer_dataset_t *ds) {
    assert_non_null(ds);
    assert_true(ds->rows > 0 && ds->features > 0 && ds->classes >= 2);
    size_t *seen = calloc(ds->classes, sizeof(size_t));
    assert_non_null(seen);
    for (size_t i = 0; i < ds->rows; i++) {
        assert_true(ds->y[i] >= 0 && (size_t)ds->y[i] < ds->classes);
        seen[ds->y[i]]++;
    }
    for (size_t k = 0; k < ds->classes; k++) {
        assert_non_null(ds->class_names[k]);
        assert_int_equal(seen[k], ds->class_counts[k]);
    }
    free(seen);
    for (size_t i = 0; i < ds->rows * ds->features; i++)
        assert_true(ds->x[i] == ds->x[i] && ds->x[i] - ds->x[i] == 0.0f); /* finite */
}

#endif
