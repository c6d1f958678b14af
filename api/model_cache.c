/*
 * api/model_cache.c - the prediction models' cache: a short list of entries under one mutex,
 * a condition variable for the threads waiting on a load in progress, and a use clock for the
 * least recently used eviction. Loads run outside the lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "model_cache.h"

typedef struct entry {
    int64_t trial_id;
    char *key;
    trainer_model_t *model; /* NULL while loading */
    size_t bytes;
    int refs;
    uint64_t used; /* the clock at its last get */
    struct entry *next;
} entry_t;

struct api_model_cache {
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    entry_t *entries;
    size_t max_bytes, bytes;
    uint64_t clock, loads;
};

size_t api_model_bytes(const trainer_model_t *m) {
    return sizeof *m + m->n_params * sizeof(float) + 2 * m->arch.inputs * sizeof(float);
}

api_model_cache_t *api_model_cache_new(size_t max_bytes) {
    api_model_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->loaded, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    return c;
}

static void entry_free(entry_t *e) {
    trainer_model_free(e->model);
    free(e->key);
    free(e);
}

void api_model_cache_free(api_model_cache_t *c) {
    if (!c)
        return;
    while (c->entries) {
        entry_t *e = c->entries;
        c->entries = e->next;
        entry_free(e);
    }
    pthread_cond_destroy(&c->loaded);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void unlink_entry(api_model_cache_t *c, entry_t *e) {
    for (entry_t **p = &c->entries; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            return;
        }
}

/* Drops unused models, least recently used first, until the rest fits. Called with the lock. */
static void evict(api_model_cache_t *c) {
    while (c->bytes > c->max_bytes) {
        entry_t *lru = NULL;
        for (entry_t *e = c->entries; e; e = e->next)
            if (e->model && e->refs == 0 && (!lru || e->used < lru->used))
                lru = e;
        if (!lru)
            return;
        unlink_entry(c, lru);
        c->bytes -= lru->bytes;
        entry_free(lru);
    }
}

static entry_t *find(api_model_cache_t *c, int64_t trial_id, const char *key) {
    for (entry_t *e = c->entries; e; e = e->next)
        if (e->trial_id == trial_id && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

const trainer_model_t *api_model_cache_get(api_model_cache_t *c, int64_t trial_id, const char *key,
                                           api_model_load_fn load, void *user, int *err) {
    pthread_mutex_lock(&c->lock);
    entry_t *e;
    while ((e = find(c, trial_id, key)) && !e->model)
        pthread_cond_wait(&c->loaded, &c->lock); /* another thread loads it */
    if (e) {
        e->refs++;
        e->used = ++c->clock;
        pthread_mutex_unlock(&c->lock);
        return e->model;
    }
    e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        pthread_mutex_unlock(&c->lock);
        *err = MLPT_ENOMEM;
        return NULL;
    }
    e->trial_id = trial_id;
    e->refs = 1;
    e->next = c->entries;
    c->entries = e;
    pthread_mutex_unlock(&c->lock);

    trainer_model_t *m = load(user, err);

    pthread_mutex_lock(&c->lock);
    if (!m) { /* the waiters find nothing and try themselves */
        unlink_entry(c, e);
        pthread_cond_broadcast(&c->loaded);
        pthread_mutex_unlock(&c->lock);
        free(e->key);
        free(e);
        return NULL;
    }
    e->model = m;
    e->bytes = api_model_bytes(m);
    e->used = ++c->clock;
    c->bytes += e->bytes;
    c->loads++;
    evict(c);
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->lock);
    return m;
}

void api_model_cache_release(api_model_cache_t *c, const trainer_model_t *m) {
    if (!c || !m)
        return;
    pthread_mutex_lock(&c->lock);
    for (entry_t *e = c->entries; e; e = e->next)
        if (e->model == m) {
            e->refs--;
            break;
        }
    evict(c);
    pthread_mutex_unlock(&c->lock);
}

uint64_t api_model_cache_loads(api_model_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->loads;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t api_model_cache_bytes(api_model_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    size_t n = c->bytes;
    pthread_mutex_unlock(&c->lock);
    return n;
}
