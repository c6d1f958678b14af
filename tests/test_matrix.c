/* test_matrix.c - ingest's files: the parsed-dataset file (round trip, atomic write, damage
 * detection, the version 2 layout and checksum, version 1 files still read, group ids in
 * version 3) and the spool that
 * writes an upload's copy on a thread of its own (order, errors, bounded memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "matrix.h"
#include "spool.h"

static trainer_dataset_t *load_iris(void) {
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(MLPT_TEST_DATA_DIR "/iris.csv", NULL, &ds, NULL), 0);
    return ds;
}

static void temp_path(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/mlpt-matrix-XXXXXX");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

static void test_round_trip(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    assert_int_equal(ingest_matrix_read(path, &back, NULL), 0);
    assert_int_equal(back->rows, ds->rows);
    assert_int_equal(back->features, ds->features);
    assert_int_equal(back->classes, ds->classes);
    assert_int_equal(back->scaling, ds->scaling);
    assert_memory_equal(back->x, ds->x, ds->rows * ds->features * sizeof(float));
    assert_memory_equal(back->y, ds->y, ds->rows * sizeof(int32_t));
    for (size_t c = 0; c < ds->classes; c++) {
        assert_string_equal(back->class_names[c], ds->class_names[c]);
        assert_int_equal(back->class_counts[c], ds->class_counts[c]);
    }
    /* No temporary file is left beside it. */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
    trainer_dataset_free(back);
    trainer_dataset_free(ds);
    unlink(path);
}

/* Every truncation and every single-byte flip of the file is refused, never crashes. */
static void test_damage_detected(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (long cut = 0; cut < len; cut += (cut < 200 ? 1 : 97)) {
        f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)cut, f);
        fclose(f);
        ingest_error_t err;
        assert_int_equal(ingest_matrix_read(path, &back, &err), MLPT_EFORMAT);
        assert_null(back);
        assert_non_null(strstr(err.message, path));
    }
    for (long at = 0; at < len; at += (at < 200 ? 1 : 101)) {
        buf[at] ^= 0x40;
        f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)len, f);
        fclose(f);
        int rc = ingest_matrix_read(path, &back, NULL);
        assert_true(rc == MLPT_EFORMAT || rc == MLPT_EVERSION);
        assert_null(back);
        buf[at] ^= 0x40;
    }
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

/* Bitwise CRC-32 (reflected, polynomial 0xEDB88320, as zlib): the oracle for the checksum. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* What is written: version 2, and the last 8 bytes are the CRC-32 of all before them. */
static void test_version_2_layout(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris();
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    assert_memory_equal(buf, "MLPTDSET\x02\0\0\0", 12);
    assert_true(len > 8 + ds->rows * (ds->features + 1) * 4);
    assert_int_equal(le64(buf + len - 8), crc32_bitwise(buf, len - 8));
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

/* Group ids go through the file (version 3) and come back; a dataset without them reads back
 * without them (version 2, above). Every truncation of a version 3 file is refused. */
static void test_groups_round_trip(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    ds->group = malloc(ds->rows * sizeof(int32_t));
    assert_non_null(ds->group);
    for (size_t i = 0; i < ds->rows; i++)
        ds->group[i] = (int32_t)(i / 5) - 7;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    assert_memory_equal(buf, "MLPTDSET\x03\0\0\0", 12);
    assert_int_equal(le64(buf + len - 8), crc32_bitwise(buf, len - 8));
    assert_int_equal(ingest_matrix_read(path, &back, NULL), 0);
    assert_non_null(back->group);
    assert_memory_equal(back->group, ds->group, ds->rows * sizeof(int32_t));
    assert_memory_equal(back->y, ds->y, ds->rows * sizeof(int32_t));
    trainer_dataset_free(back);
    back = NULL;
    for (size_t cut = len - 8 - 4 * ds->rows; cut < len; cut += 97) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, cut, f), cut);
        fclose(f);
        assert_int_equal(ingest_matrix_read(path, &back, NULL), MLPT_EFORMAT);
        assert_null(back);
    }
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

/* A recording's samples keep their subject and time (version 4); a file cut anywhere in the
 * times is refused, and one without times still reads as version 3. */
static void test_times_round_trip(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    ds->group = malloc(ds->rows * sizeof(int32_t));
    ds->time = malloc(ds->rows * sizeof(int64_t));
    assert_true(ds->group && ds->time);
    for (size_t i = 0; i < ds->rows; i++) {
        ds->group[i] = (int32_t)(i / 30);
        ds->time[i] = (int64_t)1 << 40 | (int64_t)i * 50000000;
    }
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    assert_memory_equal(buf, "MLPTDSET\x04\0\0\0", 12);
    assert_int_equal(le64(buf + len - 8), crc32_bitwise(buf, len - 8));
    assert_int_equal(ingest_matrix_read(path, &back, NULL), 0);
    assert_non_null(back->time);
    assert_memory_equal(back->time, ds->time, ds->rows * sizeof(int64_t));
    assert_memory_equal(back->group, ds->group, ds->rows * sizeof(int32_t));
    trainer_dataset_free(back);
    back = NULL;
    for (size_t cut = len - 8 - 8 * ds->rows; cut < len; cut += 101) {
        FILE *f = fopen(path, "wb");
        assert_int_equal(fwrite(buf, 1, cut, f), cut);
        fclose(f);
        assert_int_equal(ingest_matrix_read(path, &back, NULL), MLPT_EFORMAT);
    }
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

/* A file written by an older mlptune (version 1: FNV-1a 64 checksum) still loads, and a damaged
 * one is still refused. */
static void test_version_1_still_read(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    buf[8] = 1; /* the same layout, version 1 and its checksum */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len - 8; i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    for (int i = 0; i < 8; i++)
        buf[len - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    assert_int_equal(ingest_matrix_read(path, &back, NULL), 0);
    assert_int_equal(back->rows, ds->rows);
    assert_memory_equal(back->x, ds->x, ds->rows * ds->features * sizeof(float));
    assert_memory_equal(back->y, ds->y, ds->rows * sizeof(int32_t));
    trainer_dataset_free(back);
    back = NULL;
    buf[100] ^= 1; /* inside the matrix: the FNV checksum no longer matches */
    f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    assert_int_equal(ingest_matrix_read(path, &back, NULL), MLPT_EFORMAT);
    assert_null(back);
    buf[100] ^= 1;
    buf[8] = 5; /* a version from the future (3 has group ids, 4 times) */
    f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    ingest_error_t err;
    assert_int_equal(ingest_matrix_read(path, &back, &err), MLPT_EVERSION);
    assert_non_null(strstr(err.message, "version 5"));
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

static void test_io_errors(void **state) {
    (void)state;
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    ingest_error_t err;
    assert_int_equal(ingest_matrix_write("/nonexistent-dir/x.mlds", ds, &err), MLPT_EIO);
    assert_non_null(strstr(err.message, "/nonexistent-dir"));
    assert_int_equal(ingest_matrix_read("/nonexistent-dir/x.mlds", &back, &err), MLPT_EIO);
    assert_null(back);
    trainer_dataset_free(ds);
}

/* ---- the spool ---- */

typedef struct collect {
    unsigned char *buf;
    size_t len, cap;
    int calls, fail_at, fail_code, calls_after_failure, other_thread, sleep_us;
    pthread_t caller;
    atomic_size_t consumed;
} collect_t;

static int collect_fn(void *ctx, const void *data, size_t len) {
    collect_t *c = ctx;
    assert_true(len > 0 && len <= SPOOL_BLOCK);
    if (c->fail_code && c->calls >= c->fail_at)
        c->calls_after_failure += c->calls > c->fail_at;
    c->calls++;
    if (!pthread_equal(pthread_self(), c->caller))
        c->other_thread = 1;
    if (c->sleep_us) {
        struct timespec ts = {0, (long)c->sleep_us * 1000};
        nanosleep(&ts, NULL);
    }
    if (c->fail_code && c->calls > c->fail_at)
        return c->fail_code;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    atomic_fetch_add(&c->consumed, len);
    return 0;
}

static unsigned char *pseudo_random(size_t n) {
    unsigned char *b = malloc(n);
    assert_non_null(b);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    return b;
}

/* Every byte arrives once, in order, whatever the sizes of the puts; a stream longer than a
 * block is consumed on the spool's thread, a shorter one at close on the caller's. */
static void test_spool_order(void **state) {
    (void)state;
    size_t n = 5 * SPOOL_BLOCK + 12345;
    unsigned char *data = pseudo_random(n);
    collect_t c = {0};
    c.caller = pthread_self();
    ingest_spool_t *s = ingest_spool_new(collect_fn, &c);
    assert_non_null(s);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = step < n - off ? step : n - off;
        assert_int_equal(ingest_spool_put(s, data + off, k), 0);
        off += k;
        step = step * 3 % (2 * SPOOL_BLOCK + 7) + 1;
    }
    assert_int_equal(ingest_spool_close(s), 0);
    assert_int_equal(c.len, n);
    assert_memory_equal(c.buf, data, n);
    assert_true(c.other_thread);
    assert_int_equal(ingest_spool_put(s, data, 1), -1); /* closed */
    assert_int_equal(ingest_spool_close(s), 0);
    ingest_spool_free(s);
    free(c.buf);

    collect_t small = {0};
    small.caller = pthread_self();
    s = ingest_spool_new(collect_fn, &small);
    assert_int_equal(ingest_spool_put(s, data, 1000), 0);
    assert_int_equal(ingest_spool_put(s, NULL, 0), 0);
    assert_int_equal(small.calls, 0); /* nothing consumed before close */
    ingest_spool_free(s);             /* closes */
    assert_int_equal(small.calls, 1);
    assert_false(small.other_thread);
    assert_memory_equal(small.buf, data, 1000);
    free(small.buf);
    assert_null(ingest_spool_new(NULL, NULL));
    assert_int_equal(ingest_spool_put(NULL, data, 1), -1);
    assert_int_equal(ingest_spool_close(NULL), -1);
    ingest_spool_free(NULL);
    free(data);
}

/* The consumer's first error is sticky: later puts and close return it, and the consumer is not
 * called again. */
static void test_spool_error(void **state) {
    (void)state;
    size_t n = 10 * SPOOL_BLOCK;
    unsigned char *data = pseudo_random(n);
    collect_t c = {0};
    c.caller = pthread_self();
    c.fail_at = 2;
    c.fail_code = 28; /* ENOSPC */
    ingest_spool_t *s = ingest_spool_new(collect_fn, &c);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 1000)
        rc = ingest_spool_put(s, data + off, off + 1000 <= n ? 1000 : n - off);
    int closed = ingest_spool_close(s);
    assert_int_equal(closed, 28);
    assert_true(rc == 0 || rc == 28);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.calls_after_failure, 0);
    assert_int_equal(c.len, 2 * SPOOL_BLOCK);
    assert_memory_equal(c.buf, data, c.len);
    ingest_spool_free(s);
    free(c.buf);
    free(data);
}

/* A slow consumer holds the producer back: never more than SPOOL_BLOCKS blocks (plus the one
 * being filled) are ahead of it. */
static void test_spool_bounded(void **state) {
    (void)state;
    size_t n = 24 * SPOOL_BLOCK;
    unsigned char *data = pseudo_random(n);
    collect_t c = {0};
    c.caller = pthread_self();
    c.sleep_us = 2000;
    atomic_init(&c.consumed, 0);
    ingest_spool_t *s = ingest_spool_new(collect_fn, &c);
    size_t put = 0, most_ahead = 0;
    while (put < n) {
        assert_int_equal(ingest_spool_put(s, data + put, 65536), 0);
        put += 65536;
        size_t ahead = put - atomic_load(&c.consumed);
        if (ahead > most_ahead)
            most_ahead = ahead;
    }
    assert_int_equal(ingest_spool_close(s), 0);
    assert_true(most_ahead <= (SPOOL_BLOCKS + 1) * SPOOL_BLOCK);
    assert_int_equal(c.len, n);
    assert_memory_equal(c.buf, data, n);
    ingest_spool_free(s);
    free(c.buf);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_damage_detected),
        cmocka_unit_test(test_version_2_layout),  cmocka_unit_test(test_version_1_still_read),
        cmocka_unit_test(test_io_errors),         cmocka_unit_test(test_spool_order),
        cmocka_unit_test(test_spool_error),       cmocka_unit_test(test_spool_bounded),
        cmocka_unit_test(test_groups_round_trip), cmocka_unit_test(test_times_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
