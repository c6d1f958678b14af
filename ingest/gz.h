/*
 * ingest/gz.h - a streaming gzip (or zlib) decoder: compressed bytes in, decompressed chunks out
 * to a callback, so an upload can be gunzipped while it arrives and parsed at the same time.
 *
 * The format is detected by zlib (gzip or zlib wrapper). Concatenated members (cat a.gz b.gz) are
 * decoded one after the other as one stream. The total output is capped, and optionally so is its
 * ratio to the input (zip bombs). A sink that returns an error stops the decoder at once: nothing
 * more is inflated, so a parser that has failed costs no more decompression.
 *
 * Threads: one thread at a time per decoder; the sink runs on the thread that called feed.
 */
#ifndef INGEST_GZ_H
#define INGEST_GZ_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

/* Receives each decompressed chunk (len > 0; data valid only during the call). Returns 0 to go on,
 * or a negative MLPT_E* code to stop: ingest_gz_feed() then returns that code, leaving *err as
 * the sink filled it (the sink gets the err pointer the caller passed, possibly NULL). */
typedef int (*ingest_gz_sink_fn)(void *ctx, const void *data, size_t len, ingest_error_t *err);

typedef struct ingest_gz ingest_gz_t;

/* Create a decoder. max_output: ELIMIT once more bytes than this come out (0 means
 * INGEST_DEFAULT_MAX_GUNZIP_BYTES); sink: required; ctx: passed to sink untouched.
 * Returns the decoder (free with ingest_gz_free()), or NULL when out of memory or sink is NULL. */
ingest_gz_t *ingest_gz_new(uint64_t max_output, ingest_gz_sink_fn sink, void *ctx);

/* Which limit stopped a decoder (ingest_gz_limit_hit). */
enum {
    INGEST_GZ_LIMIT_NONE = 0,
    INGEST_GZ_LIMIT_OUTPUT = 1, /* more than max_output bytes */
    INGEST_GZ_LIMIT_RATIO = 2,  /* more than ratio times the input, past the floor */
};

/* Also refuse (MLPT_ELIMIT) output beyond `ratio` times the compressed bytes consumed so far,
 * once more than `floor` bytes have come out: a small file may inflate as it likes, a large
 * output needs a proportionate input. ratio 0 (the default) turns the check off. Call it before
 * the first feed. The check runs whenever output is handed to the sink, so the exact point of a
 * refusal can depend on how the input was split. Accepts NULL (does nothing). */
void ingest_gz_set_ratio(ingest_gz_t *gz, uint32_t ratio, uint64_t floor);

/* INGEST_GZ_LIMIT_OUTPUT or INGEST_GZ_LIMIT_RATIO when a feed failed with MLPT_ELIMIT because of
 * that limit, else INGEST_GZ_LIMIT_NONE (also for NULL). */
int ingest_gz_limit_hit(const ingest_gz_t *gz);

/* Decompress the next len compressed bytes (any split) and pass the output to the sink.
 * Returns 0, or MLPT_EFORMAT (corrupt or non-gzip data, trailing garbage after a member),
 * MLPT_ELIMIT (output over max_output, or over the ratio), MLPT_ENOMEM, MLPT_EINVAL (gz NULL, or
 * buf NULL with len > 0), MLPT_ESTATE (after finish), or the sink's code. Errors are sticky. */
int ingest_gz_feed(ingest_gz_t *gz, const void *buf, size_t len, ingest_error_t *err);

/* End of the compressed input. Returns 0 when the input ended exactly at the end of a member;
 * MLPT_EFORMAT "gzip stream ends early" when it stopped inside one (a truncated file) or no byte
 * was fed; MLPT_EINVAL for NULL; MLPT_ESTATE when called twice; or the sticky error. */
int ingest_gz_finish(ingest_gz_t *gz, ingest_error_t *err);

/* Total decompressed bytes passed to the sink so far (0 for NULL). */
uint64_t ingest_gz_total_out(const ingest_gz_t *gz);

/* Release the decoder. Accepts NULL. */
void ingest_gz_free(ingest_gz_t *gz);

#endif
