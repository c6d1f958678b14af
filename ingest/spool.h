/*
 * ingest/spool.h - hands a stream of bytes, in order, to a consumer running on a thread of its
 * own, so that what the consumer does (an upload: write the temporary copy, hash it) overlaps
 * what the producer does next (parse the same bytes).
 *
 *     ingest_spool_t *s = ingest_spool_new(consume, ctx);
 *     while (more) if (ingest_spool_put(s, chunk, n) != 0) ...;   (the consumer failed)
 *     rc = ingest_spool_close(s);                                  (everything consumed)
 *     ingest_spool_free(s);
 *
 * The bytes are copied into a few fixed blocks (SPOOL_BLOCKS of SPOOL_BLOCK bytes, allocated as
 * they are first needed): put returns as soon as its bytes are copied and only waits when every
 * block is still queued. The consumer thread is started when the first block fills, so a stream
 * shorter than one block is consumed by close, on the caller's thread, with no thread at all; a
 * thread that cannot be started makes the spool consume inline, on the caller's thread.
 *
 * Threads: one producer thread calls put and close; the consumer runs on the spool's thread (or
 * the producer's), never two calls at once, and close returns after its last call, so whatever
 * the consumer wrote (a hash state) may be read by the producer once close has returned.
 */
#ifndef INGEST_SPOOL_H
#define INGEST_SPOOL_H

#include <stddef.h>

#define SPOOL_BLOCK ((size_t)256 << 10)
#define SPOOL_BLOCKS 4

/* Consumes the next len > 0 bytes (data valid only during the call). Returns 0, or a non-zero
 * code: the spool then calls it no more, drops the rest of the stream, and put and close return
 * that code. */
typedef int (*ingest_spool_fn)(void *ctx, const void *data, size_t len);

typedef struct ingest_spool ingest_spool_t;

/* A spool feeding fn (required) with ctx. Returns it, or NULL without memory or fn. */
ingest_spool_t *ingest_spool_new(ingest_spool_fn fn, void *ctx);

/* Appends len bytes (data may be NULL when len is 0). Returns 0, or the consumer's first non-zero
 * code (it may come from bytes put earlier; it is sticky), or -1 after close or for NULL. */
int ingest_spool_put(ingest_spool_t *s, const void *data, size_t len);

/* Hands over the last bytes and waits until the consumer has had every byte. Returns 0 or the
 * consumer's first non-zero code (-1 for NULL; closing twice returns the same as the first
 * time). */
int ingest_spool_close(ingest_spool_t *s);

/* Closes (waiting for the consumer) if that was not done, and frees. Accepts NULL. */
void ingest_spool_free(ingest_spool_t *s);

#endif
