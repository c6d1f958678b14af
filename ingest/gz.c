/*
 * ingest/gz.c - streaming gzip decoding with zlib (inflateInit2 with 15 + 32: gzip or zlib
 * wrapper, detected), concatenated members, a cap on the output and, optionally, on the ratio of
 * output to input.
 */
#include "gz.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ingest_private.h"

#define GZ_OUT_BYTES ((size_t)256 << 10)

enum { ST_IDLE, ST_MEMBER, ST_DONE, ST_FAILED };

struct ingest_gz {
    z_stream zs;
    int state;      /* ST_IDLE: between members (or before the first); ST_MEMBER: inside one */
    int fed;        /* at least one byte was fed */
    int zs_started; /* inflateInit2 ran: inflateEnd is due */
    ingest_error_t error;
    uint64_t total_in, total_out, max_out; /* total_in: compressed bytes inflate consumed */
    uint64_t ratio, ratio_floor;           /* ratio 0: no ratio check */
    int limit_hit;                         /* INGEST_GZ_LIMIT_* */
    ingest_gz_sink_fn sink;
    void *ctx;
    unsigned char out[GZ_OUT_BYTES];
};

static int gz_fail(ingest_gz_t *gz, int code, const char *what) {
    const char *zmsg = gz->zs.msg;
    if (code == MLPT_EFORMAT && zmsg)
        ingest_error_set(&gz->error, code, 0, 0, NULL, "gzip data is corrupt: %s", zmsg);
    else
        ingest_error_set(&gz->error, code, 0, 0, NULL, "%s", what);
    gz->state = ST_FAILED;
    return code;
}

ingest_gz_t *ingest_gz_new(uint64_t max_output, ingest_gz_sink_fn sink, void *ctx) {
    if (!sink)
        return NULL;
    ingest_gz_t *gz = calloc(1, sizeof(*gz));
    if (!gz)
        return NULL;
    gz->max_out = max_output ? max_output : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
    gz->sink = sink;
    gz->ctx = ctx;
    gz->state = ST_IDLE;
    if (inflateInit2(&gz->zs, 15 + 32) != Z_OK) {
        free(gz);
        return NULL;
    }
    gz->zs_started = 1;
    return gz;
}

void ingest_gz_set_ratio(ingest_gz_t *gz, uint32_t ratio, uint64_t floor) {
    if (!gz)
        return;
    gz->ratio = ratio;
    gz->ratio_floor = floor;
}

int ingest_gz_limit_hit(const ingest_gz_t *gz) {
    return gz ? gz->limit_hit : INGEST_GZ_LIMIT_NONE;
}

/* Passes what inflate wrote to the sink, after the output cap and the ratio check. */
static int gz_emit(ingest_gz_t *gz, size_t n, ingest_error_t *err) {
    if (n == 0)
        return MLPT_OK;
    if (n > gz->max_out - gz->total_out) {
        ingest_error_set(&gz->error, MLPT_ELIMIT, 0, 0, NULL,
                         "the decompressed data exceeds the limit of %llu bytes",
                         (unsigned long long)gz->max_out);
        gz->state = ST_FAILED;
        gz->limit_hit = INGEST_GZ_LIMIT_OUTPUT;
        return MLPT_ELIMIT;
    }
    uint64_t out = gz->total_out + n;
    if (gz->ratio && out > gz->ratio_floor && out / gz->ratio > gz->total_in) {
        ingest_error_set(&gz->error, MLPT_ELIMIT, 0, 0, NULL,
                         "the data decompresses to more than %llu times its compressed size "
                         "(%llu bytes from %llu)",
                         (unsigned long long)gz->ratio, (unsigned long long)out,
                         (unsigned long long)gz->total_in);
        gz->state = ST_FAILED;
        gz->limit_hit = INGEST_GZ_LIMIT_RATIO;
        return MLPT_ELIMIT;
    }
    gz->total_out = out;
    int rc = gz->sink(gz->ctx, gz->out, n, err);
    if (rc) {
        /* The sink's error becomes the sticky one, as it reported it. */
        if (err)
            gz->error = *err;
        else
            ingest_error_set(&gz->error, rc, 0, 0, NULL, "%s", mlpt_strerror(rc));
        gz->error.code = rc;
        gz->state = ST_FAILED;
        return rc;
    }
    return MLPT_OK;
}

static int gz_unusable(ingest_gz_t *gz, ingest_error_t *err) {
    if (gz->state == ST_FAILED) {
        ingest_error_copy(err, &gz->error);
        return gz->error.code;
    }
    if (gz->state == ST_DONE) {
        ingest_error_set(err, MLPT_ESTATE, 0, 0, NULL, "the gzip decoder is already finished");
        return MLPT_ESTATE;
    }
    return MLPT_OK;
}

int ingest_gz_feed(ingest_gz_t *gz, const void *buf, size_t len, ingest_error_t *err) {
    if (!gz || (!buf && len > 0)) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_gz_feed: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = gz_unusable(gz, err);
    if (rc)
        return rc;
    const unsigned char *p = buf;
    if (len > 0)
        gz->fed = 1;
    while (len > 0 && rc == MLPT_OK) {
        uInt chunk = len > UINT_MAX ? UINT_MAX : (uInt)len;
        gz->zs.next_in = (unsigned char *)(uintptr_t)p; /* zlib does not write through it */
        gz->zs.avail_in = chunk;
        /* Inflate until this input is used up and the output buffer is not full (a full buffer
         * may mean more output is pending). */
        for (;;) {
            if (gz->state == ST_IDLE) {
                if (gz->zs.avail_in == 0)
                    break;
                if (inflateReset(&gz->zs) != Z_OK) {
                    rc = gz_fail(gz, MLPT_EFORMAT, "gzip: cannot reset the decoder");
                    break;
                }
                gz->state = ST_MEMBER;
            }
            gz->zs.next_out = gz->out;
            gz->zs.avail_out = (uInt)GZ_OUT_BYTES;
            uInt avail_before = gz->zs.avail_in;
            int zr = inflate(&gz->zs, Z_NO_FLUSH);
            size_t produced = GZ_OUT_BYTES - gz->zs.avail_out;
            gz->total_in += avail_before - gz->zs.avail_in;
            if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR) {
                rc = gz_fail(gz, MLPT_EFORMAT, "gzip data is corrupt");
                break;
            }
            if (zr == Z_MEM_ERROR) {
                rc = gz_fail(gz, MLPT_ENOMEM, "out of memory in the gzip decoder");
                break;
            }
            rc = gz_emit(gz, produced, err);
            if (rc)
                break;
            if (zr == Z_STREAM_END) {
                gz->state = ST_IDLE; /* another member may follow */
                continue;
            }
            /* Z_OK or Z_BUF_ERROR (no progress possible: needs more input). */
            if (gz->zs.avail_in == 0 && gz->zs.avail_out > 0)
                break;
            if (zr == Z_BUF_ERROR && gz->zs.avail_out > 0)
                break;
        }
        size_t used = chunk - gz->zs.avail_in;
        p += used;
        len -= used;
        if (rc == MLPT_OK && used < chunk) {
            rc = gz_fail(gz, MLPT_EFORMAT, "gzip data is corrupt");
            break;
        }
    }
    if (rc && rc == gz->error.code)
        ingest_error_copy(err, &gz->error);
    return rc;
}

int ingest_gz_finish(ingest_gz_t *gz, ingest_error_t *err) {
    if (!gz) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_gz_finish: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = gz_unusable(gz, err);
    if (rc)
        return rc;
    if (!gz->fed || gz->state == ST_MEMBER) {
        ingest_error_set(&gz->error, MLPT_EFORMAT, 0, 0, NULL,
                         "gzip stream ends early (the file is truncated)");
        gz->state = ST_FAILED;
        ingest_error_copy(err, &gz->error);
        return MLPT_EFORMAT;
    }
    gz->state = ST_DONE;
    return MLPT_OK;
}

uint64_t ingest_gz_total_out(const ingest_gz_t *gz) {
    return gz ? gz->total_out : 0;
}

void ingest_gz_free(ingest_gz_t *gz) {
    if (!gz)
        return;
    if (gz->zs_started)
        inflateEnd(&gz->zs);
    free(gz);
}
