/*
 * ingest/spool.c - an ordered byte stream handed to a consumer thread through a ring of blocks
 * (see spool.h).
 *
 * The ring: blocks head .. head + queued - 1 (mod SPOOL_BLOCKS) wait for the consumer; the
 * producer fills block cur = (head + queued) % SPOOL_BLOCKS, which is never queued. The consumer
 * takes block head, calls fn on it without the lock, then frees it (head + 1, queued - 1), which
 * leaves head + queued, and so cur, unchanged.
 */
#include "spool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ingest_spool {
    ingest_spool_fn fn;
    void *ctx;
    pthread_mutex_t mu; /* guards head, queued, fill[] of queued blocks, closing */
    pthread_cond_t cv;  /* any change of queued or closing */
    unsigned char *blk[SPOOL_BLOCKS];
    size_t fill[SPOOL_BLOCKS];
    unsigned head, queued;
    unsigned cur;    /* producer only */
    size_t cur_fill; /* producer only: bytes in blk[cur] */
    int closing;
    atomic_int err; /* the consumer's first non-zero code */
    int started, closed, close_rc;
    pthread_t th;
};

static void consume(ingest_spool_t *s, const void *data, size_t len) {
    if (len == 0 || atomic_load(&s->err))
        return;
    int rc = s->fn(s->ctx, data, len);
    if (rc)
        atomic_store(&s->err, rc);
}

static void *spool_main(void *arg) {
    ingest_spool_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->queued == 0 && !s->closing)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->queued == 0)
            break; /* closing, and everything consumed */
        unsigned b = s->head;
        size_t n = s->fill[b];
        pthread_mutex_unlock(&s->mu);
        consume(s, s->blk[b], n);
        pthread_mutex_lock(&s->mu);
        s->head = (s->head + 1) % SPOOL_BLOCKS;
        s->queued--;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ingest_spool_t *ingest_spool_new(ingest_spool_fn fn, void *ctx) {
    if (!fn)
        return NULL;
    ingest_spool_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    s->fn = fn;
    s->ctx = ctx;
    atomic_init(&s->err, 0);
    return s;
}

/* Queues the full block cur and moves to the next free one, waiting while none is free. Without
 * a thread (none started yet and none can be) the block is consumed here instead. */
static void hand_over(ingest_spool_t *s) {
    if (!s->started && pthread_create(&s->th, NULL, spool_main, s) == 0)
        s->started = 1;
    if (!s->started) {
        consume(s, s->blk[s->cur], s->cur_fill);
        s->cur_fill = 0;
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->fill[s->cur] = s->cur_fill;
    s->queued++;
    pthread_cond_broadcast(&s->cv);
    while (s->queued == SPOOL_BLOCKS)
        pthread_cond_wait(&s->cv, &s->mu);
    s->cur = (s->head + s->queued) % SPOOL_BLOCKS;
    pthread_mutex_unlock(&s->mu);
    s->cur_fill = 0;
}

/* Waits until the consumer has had every queued block (none is in its hands then). */
static void drain(ingest_spool_t *s) {
    if (!s->started)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->queued > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

int ingest_spool_put(ingest_spool_t *s, const void *data, size_t len) {
    if (!s || s->closed || (!data && len > 0))
        return -1;
    const unsigned char *p = data;
    while (len > 0 && !atomic_load(&s->err)) {
        if (!s->blk[s->cur] && !(s->blk[s->cur] = malloc(SPOOL_BLOCK))) {
            /* No memory for a block (so none is partly filled): what is queued goes first,
             * then these bytes, straight from the caller, on this thread. */
            drain(s);
            consume(s, p, len);
            break;
        }
        size_t k = SPOOL_BLOCK - s->cur_fill < len ? SPOOL_BLOCK - s->cur_fill : len;
        memcpy(s->blk[s->cur] + s->cur_fill, p, k);
        s->cur_fill += k;
        p += k;
        len -= k;
        if (s->cur_fill == SPOOL_BLOCK)
            hand_over(s);
    }
    return atomic_load(&s->err);
}

int ingest_spool_close(ingest_spool_t *s) {
    if (!s)
        return -1;
    if (s->closed)
        return s->close_rc;
    s->closed = 1;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        if (s->cur_fill > 0) {
            s->fill[s->cur] = s->cur_fill;
            s->queued++;
        }
        s->closing = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    } else if (s->cur_fill > 0) {
        consume(s, s->blk[s->cur], s->cur_fill);
    }
    s->cur_fill = 0;
    s->close_rc = atomic_load(&s->err);
    return s->close_rc;
}

void ingest_spool_free(ingest_spool_t *s) {
    if (!s)
        return;
    ingest_spool_close(s);
    for (int i = 0; i < SPOOL_BLOCKS; i++)
        free(s->blk[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
