/*
 * tests/fuzz/fuzz_gz.c - libFuzzer harness for the streaming gzip decoder (ingest/gz.h), the first
 * stage of a compressed upload.
 *
 * Input: [options byte] [2 chunk-seed bytes] [data].
 *   options bits 0-1: max_output (0 the default; 1 exactly the round trip's output, 2 one byte
 *   less, 3 1000 bytes: the cap's edge); bit 2: the sink refuses (MLPT_ENOSPC) once it would hold
 *   more than 100 bytes; bit 3: a ratio limit (ingest_gz_set_ratio) of 4 past 64 bytes of
 *   output; bits 4-7: deflate level % 10.
 *
 * Two runs:
 *   1. data as compressed bytes (mostly corrupt): decoded in one feed and in chunks. Both succeed
 *      with the same output, or both fail; the failures have the same code (except that a split
 *      may let the output cap or the sink refuse before the corruption is seen) and the outputs
 *      so far are prefixes of one another. Errors are sticky; a finished decoder answers ESTATE.
 *   2. data gzip-compressed here with zlib, twice (two members, as `cat a.gz b.gz`), decoded in
 *      chunks: the output is data twice, or exactly the predicted refusal (output over the cap:
 *      ELIMIT; sink full: its ENOSPC); the same stream cut short ends in "gzip stream ends early"
 *      (EFORMAT) at finish. With the ratio limit, a decode that succeeds never put out more than
 *      the ratio allows for the whole input, and one refused on the ratio had passed the floor.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_util.h"
#include "gz.h"
#include "ingest.h"
#include "mlpt_err.h"

typedef struct sink {
    unsigned char *buf;
    size_t len, cap;
    int refuse_over_100;
} sink_t;

static int sink_fn(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    sink_t *s = ctx;
    FUZZ_CHECK(len > 0, "the sink got an empty chunk");
    if (s->refuse_over_100 && s->len + len > 100) {
        if (err) {
            memset(err, 0, sizeof(*err));
            err->code = MLPT_ENOSPC;
            snprintf(err->message, sizeof(err->message), "sink full");
        }
        return MLPT_ENOSPC;
    }
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        unsigned char *tmp = realloc(s->buf, cap);
        FUZZ_CHECK(tmp, "realloc");
        s->buf = tmp;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

/* Decodes in[0..n) (one feed when ch is NULL) into *s and finishes. Returns the code; *err has the
 * detail. */
#define RATIO 4
#define RATIO_FLOOR 64

static int decode(uint64_t max_out, int ratio, const unsigned char *in, size_t n,
                  fuzz_chunker_t *ch, sink_t *s, ingest_error_t *err) {
    ingest_gz_t *gz = ingest_gz_new(max_out, sink_fn, s);
    FUZZ_CHECK(gz != NULL, "ingest_gz_new");
    if (ratio)
        ingest_gz_set_ratio(gz, RATIO, RATIO_FLOOR);
    memset(err, 0, sizeof(*err));
    int rc = MLPT_OK;
    size_t off = 0;
    while (rc == MLPT_OK && off < n) {
        size_t k = ch ? fuzz_chunk(ch, n - off) : n;
        unsigned char *copy = k ? malloc(k) : NULL; /* exact size: ASan sees a read past it */
        FUZZ_CHECK(k == 0 || copy, "malloc");
        if (k)
            memcpy(copy, in + off, k);
        rc = ingest_gz_feed(gz, copy, k, err);
        free(copy);
        off += k;
    }
    if (rc == MLPT_OK)
        rc = ingest_gz_finish(gz, err);
    FUZZ_CHECK(ingest_gz_total_out(gz) >= s->len, "total_out %llu < %zu delivered",
               (unsigned long long)ingest_gz_total_out(gz), s->len);
    ingest_error_t e;
    int hit = ingest_gz_limit_hit(gz);
    FUZZ_CHECK(rc == MLPT_ELIMIT || hit == INGEST_GZ_LIMIT_NONE, "limit %d hit with code %d", hit,
               rc);
    FUZZ_CHECK(ratio || hit != INGEST_GZ_LIMIT_RATIO, "the ratio refused without a ratio limit");
    FUZZ_CHECK(hit != INGEST_GZ_LIMIT_RATIO || ingest_gz_total_out(gz) <= RATIO_FLOOR ||
                   ingest_gz_total_out(gz) / RATIO <= n,
               "refused on the ratio after %llu bytes out of %zu in",
               (unsigned long long)ingest_gz_total_out(gz), n);
    if (ratio && rc == MLPT_OK)
        FUZZ_CHECK(s->len <= RATIO_FLOOR || s->len / RATIO <= n,
                   "%zu bytes out of %zu in passed a ratio limit of %d", s->len, n, RATIO);
    if (rc != MLPT_OK) {
        FUZZ_CHECK(err->code == rc && err->message[0], "error %d without detail", rc);
        FUZZ_CHECK(ingest_gz_feed(gz, "x", 1, &e) == rc && e.code == rc, "feed not sticky");
        FUZZ_CHECK(ingest_gz_finish(gz, &e) == rc && strcmp(e.message, err->message) == 0,
                   "finish not sticky");
    } else {
        FUZZ_CHECK(ingest_gz_total_out(gz) == s->len, "total_out differs from the output");
        FUZZ_CHECK(ingest_gz_feed(gz, "x", 1, &e) == MLPT_ESTATE, "feed after finish");
        FUZZ_CHECK(ingest_gz_finish(gz, &e) == MLPT_ESTATE, "finish twice");
    }
    ingest_gz_free(gz);
    return rc;
}

/* gzip-compresses in[0..n) twice in a row (two members) into a new buffer; *first_len is the
 * length of the first member. */
static unsigned char *gzip_twice(const unsigned char *in, size_t n, int level, size_t *out_len,
                                 size_t *first_len) {
    size_t cap = 2 * (compressBound((uLong)n) + 64), len = 0;
    unsigned char *out = malloc(cap);
    FUZZ_CHECK(out, "malloc");
    for (int m = 0; m < 2; m++) {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        FUZZ_CHECK(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
                   "deflateInit2");
        zs.next_in = (unsigned char *)(uintptr_t)in;
        zs.avail_in = (uInt)n;
        zs.next_out = out + len;
        zs.avail_out = (uInt)(cap - len);
        FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
        len = cap - zs.avail_out;
        deflateEnd(&zs);
        if (m == 0)
            *first_len = len;
    }
    *out_len = len;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t opt = (uint8_t)fuzz_take(&data, &size, 1);
    uint64_t seed = fuzz_take(&data, &size, 2);
    uint64_t plain = 2 * (uint64_t)size; /* the round trip's output */
    uint64_t caps[4] = {0, plain ? plain : 1, plain > 1 ? plain - 1 : 1, 1000};
    uint64_t max_out = caps[opt & 3];
    int refuse = (opt >> 2) & 1, ratio = (opt >> 3) & 1;
    int level = (opt >> 4) % 10;
    fuzz_chunker_t ch;

    /* 1. The input as compressed data, whole and chunked. */
    sink_t s1 = {NULL, 0, 0, refuse}, s2 = {NULL, 0, 0, refuse};
    ingest_error_t e1, e2;
    fuzz_chunker_init(&ch, seed);
    int rc1 = decode(max_out, ratio, data, size, NULL, &s1, &e1);
    int rc2 = decode(max_out, ratio, data, size, &ch, &s2, &e2);
    size_t common = s1.len < s2.len ? s1.len : s2.len;
    FUZZ_CHECK(common == 0 || memcmp(s1.buf, s2.buf, common) == 0, "the outputs disagree");
    if (ratio && rc1 != rc2 && (rc1 == MLPT_ELIMIT || rc2 == MLPT_ELIMIT)) {
        /* The ratio is checked whenever output is handed on, and where that happens depends on
         * the split: one side may be refused where the other is not. */
    } else if (rc1 == MLPT_OK || rc2 == MLPT_OK) {
        FUZZ_CHECK(rc1 == rc2, "whole %d (%s), chunked %d (%s)", rc1, e1.message, rc2, e2.message);
        FUZZ_CHECK(s1.len == s2.len, "output %zu vs %zu bytes", s1.len, s2.len);
    } else if (rc1 != rc2) {
        int early =
            rc1 == MLPT_ELIMIT || rc1 == MLPT_ENOSPC || rc2 == MLPT_ELIMIT || rc2 == MLPT_ENOSPC;
        FUZZ_CHECK(early, "whole %d (%s), chunked %d (%s)", rc1, e1.message, rc2, e2.message);
    } else {
        FUZZ_CHECK(rc1 != MLPT_EFORMAT || strcmp(e1.message, e2.message) == 0,
                   "whole \"%s\", chunked \"%s\"", e1.message, e2.message);
    }
    FUZZ_CHECK(rc1 == MLPT_OK || rc1 == MLPT_EFORMAT || rc1 == MLPT_ELIMIT || rc1 == MLPT_ENOSPC,
               "unexpected code %d (%s)", rc1, e1.message);
    free(s1.buf);
    free(s2.buf);

    /* 2. The input gzip-compressed (two members): a round trip, then cut short. */
    size_t zlen, first;
    unsigned char *z = gzip_twice(data, size, level, &zlen, &first);
    sink_t s3 = {NULL, 0, 0, refuse};
    ingest_error_t e3;
    fuzz_chunker_init(&ch, seed);
    int rc3 = decode(max_out, ratio, z, zlen, &ch, &s3, &e3);
    int over_cap = max_out && plain > max_out, over_sink = refuse && plain > 100;
    if (ratio && rc3 == MLPT_ELIMIT && !over_cap && !over_sink) {
        FUZZ_CHECK(plain > RATIO_FLOOR, "refused %llu bytes on the ratio",
                   (unsigned long long)plain);
    } else if (!over_cap && !over_sink) {
        FUZZ_CHECK(rc3 == MLPT_OK, "round trip: %d (%s)", rc3, e3.message);
        FUZZ_CHECK(s3.len == plain && (size == 0 || (memcmp(s3.buf, data, size) == 0 &&
                                                     memcmp(s3.buf + size, data, size) == 0)),
                   "round trip: %zu bytes out for %zu in", s3.len, (size_t)plain);
    } else {
        FUZZ_CHECK((over_cap && rc3 == MLPT_ELIMIT) || (over_sink && rc3 == MLPT_ENOSPC) ||
                       (ratio && rc3 == MLPT_ELIMIT),
                   "round trip of %llu bytes: %d (%s)", (unsigned long long)plain, rc3, e3.message);
    }
    free(s3.buf);

    size_t cut = (size_t)(fuzz_next(&ch) % zlen); /* 0 .. zlen - 1 */
    sink_t s4 = {NULL, 0, 0, refuse};
    int rc4 = decode(max_out, ratio, z, cut, &ch, &s4, &e3);
    if (cut == first) { /* a whole member is a whole stream */
        int refused =
            (max_out && size > max_out) || (refuse && size > 100) || (ratio && rc4 == MLPT_ELIMIT);
        FUZZ_CHECK(refused ? rc4 == MLPT_ELIMIT || rc4 == MLPT_ENOSPC
                           : rc4 == MLPT_OK && s4.len == size,
                   "cut after the first member: %d (%s)", rc4, e3.message);
    } else if (rc4 != MLPT_ELIMIT && rc4 != MLPT_ENOSPC)
        FUZZ_CHECK(rc4 == MLPT_EFORMAT && strstr(e3.message, "ends early"),
                   "cut at %zu of %zu: %d (%s)", cut, zlen, rc4, e3.message);
    free(s4.buf);
    free(z);
    return 0;
}
