#include "dscache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "matrix.h"
#include "mlpt_err.h"

typedef struct entry {
    int64_t id;
    int refs;
    int loading; /* a thread is reading the file; others wait on the condition */
    trainer_dataset_t *ds;
    struct entry *next;
} entry_t;

struct dscache {
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    entry_t *entries;
};

dscache_t *dscache_new(void) {
    dscache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->loaded, NULL);
    return c;
}

void dscache_free(dscache_t *c) {
    if (!c)
        return;
    while (c->entries) {
        entry_t *e = c->entries;
        c->entries = e->next;
        trainer_dataset_free(e->ds);
        free(e);
    }
    pthread_cond_destroy(&c->loaded);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static entry_t *find(dscache_t *c, int64_t id) {
    for (entry_t *e = c->entries; e; e = e->next)
        if (e->id == id)
            return e;
    return NULL;
}

static void unlink_entry(dscache_t *c, entry_t *victim) {
    for (entry_t **p = &c->entries; *p; p = &(*p)->next)
        if (*p == victim) {
            *p = victim->next;
            return;
        }
}

const trainer_dataset_t *dscache_acquire(dscache_t *c, int64_t id, const char *path, char *msg,
                                         size_t msg_len) {
    pthread_mutex_lock(&c->lock);
    entry_t *e;
    while ((e = find(c, id)) && e->loading)
        pthread_cond_wait(&c->loaded, &c->lock);
    if (e) {
        e->refs++;
        pthread_mutex_unlock(&c->lock);
        return e->ds;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&c->lock);
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    e->id = id;
    e->loading = 1;
    e->refs = 1;
    e->next = c->entries;
    c->entries = e;
    pthread_mutex_unlock(&c->lock);

    /* Read the file without holding the lock: other datasets stay available meanwhile. */
    trainer_dataset_t *ds = NULL;
    ingest_error_t err = {0};
    int rc = ingest_matrix_read(path, &ds, &err);

    pthread_mutex_lock(&c->lock);
    e->loading = 0;
    if (rc != 0) {
        /* The message becomes the trial's error, which any client reads: the server's path in
         * it is cut to the file's name. */
        const char *at = strstr(err.message, path), *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (at)
            snprintf(msg, msg_len, "cannot load dataset %lld: %.*sdatasets/%s%s", (long long)id,
                     (int)(at - err.message), err.message, base, at + strlen(path));
        else
            snprintf(msg, msg_len, "cannot load dataset %lld: %s", (long long)id, err.message);
        unlink_entry(c, e);
        free(e);
        ds = NULL;
    } else {
        e->ds = ds;
    }
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->lock);
    return ds;
}

int dscache_put(dscache_t *c, int64_t id, trainer_dataset_t *ds) {
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return MLPT_ENOMEM;
    pthread_mutex_lock(&c->lock);
    if (find(c, id)) {
        pthread_mutex_unlock(&c->lock);
        free(e);
        return MLPT_ESTATE;
    }
    e->id = id;
    e->refs = 1;
    e->ds = ds;
    e->next = c->entries;
    c->entries = e;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void dscache_release(dscache_t *c, int64_t id) {
    pthread_mutex_lock(&c->lock);
    entry_t *e = find(c, id);
    if (e && --e->refs == 0) {
        unlink_entry(c, e);
        trainer_dataset_free(e->ds);
        free(e);
    }
    pthread_mutex_unlock(&c->lock);
}

int dscache_loaded(dscache_t *c) {
    pthread_mutex_lock(&c->lock);
    int n = 0;
    for (entry_t *e = c->entries; e; e = e->next)
        n += !e->loading;
    pthread_mutex_unlock(&c->lock);
    return n;
}
