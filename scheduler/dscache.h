/*
 * scheduler/dscache.h - loaded datasets shared by the trials that use them (private to
 * scheduler/). One mutex guards the table; the first trial that needs a dataset loads its matrix
 * file while later ones wait for it; the last release frees it.
 */
#ifndef SCHED_DSCACHE_H
#define SCHED_DSCACHE_H

#include <stdint.h>

#include "dataset.h"

typedef struct dscache dscache_t;

/* Returns a new empty cache or NULL. */
dscache_t *dscache_new(void);

/* Frees the cache; every dataset must have been released. Accepts NULL. */
void dscache_free(dscache_t *c);

/* Returns the dataset `id`, loading it from `path` when nobody holds it, and takes a reference.
 * On failure returns NULL and writes a sentence to msg. Any thread; may block while another
 * thread loads the same dataset. */
const trainer_dataset_t *dscache_acquire(dscache_t *c, int64_t id, const char *path, char *msg,
                                         size_t msg_len);

/* Adds a dataset built elsewhere (one an MPI rank received) as `id`, holding one reference
 * for the caller (dscache_release drops it; until then trials share it however many come and
 * go). Takes ds on success. Returns 0, MLPT_ESTATE when id is already there, MLPT_ENOMEM. */
int dscache_put(dscache_t *c, int64_t id, trainer_dataset_t *ds);

/* Drops a reference taken by dscache_acquire or dscache_put. Any thread. */
void dscache_release(dscache_t *c, int64_t id);

/* Number of datasets in memory now (for tests and /metrics). */
int dscache_loaded(dscache_t *c);

#endif
