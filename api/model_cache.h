/*
 * api/model_cache.h - models loaded for predictions, kept in a cache bounded in bytes (least
 * recently used first out), shared by the HTTP threads: concurrent predictions with one model
 * load it once and use the same copy (a model is read-only once loaded).
 *
 * An entry is in use while a caller holds it (get .. release) and is never evicted then; the
 * cache may go over its budget only by the models in use. A model larger than the whole budget
 * is still loaded, shared while in use and dropped at its last release.
 *
 * Thread-safe: any thread.
 */
#ifndef API_MODEL_CACHE_H
#define API_MODEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"

#define API_MODEL_CACHE_DEFAULT ((size_t)256 << 20) /* bytes, unless configured */

typedef struct api_model_cache api_model_cache_t;

/* A cache of at most max_bytes of models not in use (0 keeps none). NULL without memory. */
api_model_cache_t *api_model_cache_new(size_t max_bytes);

/* Frees every model (none may be in use). Accepts NULL. */
void api_model_cache_free(api_model_cache_t *c);

/* Loads a model: a new model, or NULL with *err set (MLPT_E*). */
typedef trainer_model_t *(*api_model_load_fn)(void *user, int *err);

/* The model of trial_id stored at key (its file's path: a new file is a new model), loaded with
 * load(user) unless the cache has it or another thread is loading it (then this waits for that
 * load). Returns the model, in use until api_model_cache_release, or NULL with *err set by the
 * load. */
const trainer_model_t *api_model_cache_get(api_model_cache_t *c, int64_t trial_id, const char *key,
                                           api_model_load_fn load, void *user, int *err);

/* Ends a use of a model api_model_cache_get returned. */
void api_model_cache_release(api_model_cache_t *c, const trainer_model_t *m);

/* Figures for tests and /metrics: loads done so far, bytes of the models held. */
uint64_t api_model_cache_loads(api_model_cache_t *c);
size_t api_model_cache_bytes(api_model_cache_t *c);

/* Memory a loaded model takes (its parameters and input scaling). */
size_t api_model_bytes(const trainer_model_t *m);

#endif
