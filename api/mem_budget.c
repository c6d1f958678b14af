/*
 * api/mem_budget.c - the upload memory budget (see mem_budget.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "mem_budget.h"
#include "mlpt_err.h"

struct api_mem_budget {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    uint64_t total, used;
};

api_mem_budget_t *api_mem_budget_new(uint64_t bytes) {
    api_mem_budget_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(b);
        return NULL;
    }
    int bad = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
              pthread_cond_init(&b->freed, &attr) != 0;
    pthread_condattr_destroy(&attr);
    if (bad || pthread_mutex_init(&b->mu, NULL) != 0) {
        if (!bad)
            pthread_cond_destroy(&b->freed);
        free(b);
        return NULL;
    }
    b->total = bytes;
    return b;
}

void api_mem_budget_free(api_mem_budget_t *b) {
    if (!b)
        return;
    pthread_cond_destroy(&b->freed);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int api_mem_budget_reserve(api_mem_budget_t *b, uint64_t holding, uint64_t bytes,
                           unsigned wait_ms) {
    if (holding > b->total || bytes > b->total - holding)
        return MLPT_ELIMIT;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    while (b->used + bytes > b->total && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&b->freed, &b->mu, &until);
    int ok = b->used + bytes <= b->total;
    if (ok)
        b->used += bytes;
    pthread_mutex_unlock(&b->mu);
    return ok ? 0 : MLPT_EBUSY;
}

void api_mem_budget_release(api_mem_budget_t *b, uint64_t bytes) {
    if (!b || !bytes)
        return;
    pthread_mutex_lock(&b->mu);
    b->used = bytes > b->used ? 0 : b->used - bytes;
    pthread_cond_broadcast(&b->freed);
    pthread_mutex_unlock(&b->mu);
}

uint64_t api_mem_budget_total(const api_mem_budget_t *b) {
    return b->total;
}

uint64_t api_mem_budget_used(api_mem_budget_t *b) {
    pthread_mutex_lock(&b->mu);
    uint64_t u = b->used;
    pthread_mutex_unlock(&b->mu);
    return u;
}
