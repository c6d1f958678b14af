/*
 * api/validate_private.h - the pieces of body validation (validate_grid.c: field paths, strict
 * members, a row's value, a grid of axes) that validate.c (the sweep body, training) and
 * validate_search.c (a sampling sweep's search and space) build on; calls go validate.c ->
 * validate_search.c -> validate_grid.c. Not public.
 */
#ifndef API_VALIDATE_PRIVATE_H
#define API_VALIDATE_PRIVATE_H

#include <jansson.h>
#include <stddef.h>

#include "params.h"
#include "validate.h"

/* A field path under construction: "grid" + ".learning_rate" + "[1]". */
typedef struct fpath {
    char s[128];
} fpath_t;

/* Effective limits: the configured ones, never above what the trainer supports. */
typedef struct eff_limits {
    size_t layers, neurons;
    const api_limits_t *lim;
} eff_limits_t;

void api_v_path_key(fpath_t *out, const char *parent, const char *key);
void api_v_path_index(fpath_t *out, const char *parent, size_t i);
/* Names each member of obj that is not in allowed[0..n). */
void api_v_check_members(const json_t *obj, const char *parent, const char *const *allowed,
                         size_t n, api_errors_t *errs);
/* An integer in [min, max] (above max the message names `limit` when not NULL): 0 or -1. */
int api_v_get_int(const json_t *v, const char *path, long long min, long long max,
                  const char *limit, long long *out, api_errors_t *errs);
/* The largest value an INT row takes under the configured limits. */
long long api_v_row_max(const sched_param_t *r, const api_limits_t *lim);
/* One value of row r at path: 0 with *v set, or -1 after adding the error. */
int api_v_row_value(const sched_param_t *r, const json_t *j, const char *path,
                    const api_limits_t *lim, sched_value_t *v, api_errors_t *errs);
/* The grid object (lists only) found at path `at` ("grid", or "space" for a grid search given
 * as a space) into spec; have[i] says whether row i's axis was given. */
void api_v_grid_validate(const json_t *grid, const char *at, const eff_limits_t *L,
                         sched_spec_t *spec, int *have, api_errors_t *errs);

/* validate_search.c: `search` and `space` of a body that gives them (and no grid): out->space
 * and, for a grid search, out->spec; have[] as grid validation sets it. */
void api_v_search_validate(const json_t *body, const eff_limits_t *L, api_sweep_body_t *out,
                           int *have, api_errors_t *errs);
/* After training: a random search's base values (every row its space leaves out) from spec, and
 * spec's shape axes set to the space's extremes, for the model size check. */
void api_v_search_finish(api_sweep_body_t *out, const int *have);

#endif
