/*
 * api/validate_grid.c - the pieces every sweep body's validation is made of: field paths, strict
 * members, integers, a parameter row's value, and a grid of axes (also a space of lists). The
 * bottom of validation: validate.c (the body) and validate_search.c (search and space) call
 * these, and they call neither.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "params.h"
#include "train.h"
#include "validate.h"
#include "validate_private.h"

/* A path too long for the buffer (a deeply nested or absurd key) ends in "...". */
static void path_mark_truncated(fpath_t *out, int n) {
    if (n < 0 || (size_t)n >= sizeof(out->s))
        memcpy(out->s + sizeof(out->s) - 4, "...", 4);
}

/* An empty member name is written as "" so that no path is empty ("" or grid.""). */
void api_v_path_key(fpath_t *out, const char *parent, const char *key) {
    int n =
        snprintf(out->s, sizeof(out->s), "%s%s%s", parent, *parent ? "." : "", *key ? key : "\"\"");
    path_mark_truncated(out, n);
}

void api_v_path_index(fpath_t *out, const char *parent, size_t i) {
    int n = snprintf(out->s, sizeof(out->s), "%s[%zu]", parent, i);
    path_mark_truncated(out, n);
}

/* Names each member of obj that is not in allowed[0..n), in the object's order. */
void api_v_check_members(const json_t *obj, const char *parent, const char *const *allowed,
                         size_t n, api_errors_t *errs) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0)
            i++;
        if (i < n)
            continue;
        fpath_t p;
        api_v_path_key(&p, parent, key);
        api_errors_add(errs, p.s, "unknown field");
    }
}

/* ---- scalars ---------------------------------------------------------------------------- */

/* An integer in [min, max]; above max the message names the limit. Returns 0 or -1. */
int api_v_get_int(const json_t *v, const char *path, long long min, long long max,
                  const char *limit, long long *out, api_errors_t *errs) {
    if (!json_is_integer(v)) {
        api_errors_add(errs, path, "must be an integer");
        return -1;
    }
    long long x = json_integer_value(v);
    if (x < min) {
        api_errors_add(errs, path, "must be >= %lld (got %lld)", min, x);
        return -1;
    }
    if (x > max) {
        if (limit)
            api_errors_add(errs, path, "%lld exceeds the limit %s (%lld)", x, limit, max);
        else
            api_errors_add(errs, path, "must be <= %lld (got %lld)", max, x);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- axes ------------------------------------------------------------------------------- */

/* The array at grid.<key>: 1 .. SCHED_MAX_AXIS elements. Returns the count, or 0 after adding
 * an error. */
static size_t axis_array(const json_t *v, const char *path, api_errors_t *errs) {
    if (!json_is_array(v)) {
        api_errors_add(errs, path, "must be an array");
        return 0;
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        api_errors_add(errs, path, "must not be empty");
        return 0;
    }
    if (n > SCHED_MAX_AXIS) {
        api_errors_add(errs, path, "has %zu values; at most %d are allowed", n, SCHED_MAX_AXIS);
        return 0;
    }
    return n;
}

static int int_axis(const json_t *v, const char *path, long long min, long long max,
                    const char *limit, size_t *out, size_t *n_out, api_errors_t *errs) {
    size_t n = axis_array(v, path, errs), bad = 0;
    for (size_t i = 0; i < n; i++) {
        fpath_t p;
        long long x;
        api_v_path_index(&p, path, i);
        if (api_v_get_int(json_array_get(v, i), p.s, min, max, limit, &x, errs) == 0)
            out[i] = (size_t)x;
        else
            bad++;
    }
    *n_out = n;
    return n && !bad ? 0 : -1;
}

/* grid.layers: [[w, ...], ...], each list up to max_layers widths in 1 .. max_neurons. */
static void layers_axis(const json_t *v, const char *path, size_t max_layers, size_t max_neurons,
                        sched_spec_t *spec, api_errors_t *errs) {
    size_t n = axis_array(v, path, errs);
    for (size_t i = 0; i < n; i++) {
        fpath_t p;
        const json_t *shape = json_array_get(v, i);
        api_v_path_index(&p, path, i);
        if (!json_is_array(shape)) {
            api_errors_add(errs, p.s, "must be an array of layer widths");
            continue;
        }
        size_t depth = json_array_size(shape);
        if (depth > max_layers) {
            api_errors_add(errs, p.s,
                           "has %zu hidden layers, which exceeds the limit max_layers "
                           "(%zu)",
                           depth, max_layers);
            continue;
        }
        sched_shape_t *sh = &spec->layers[i];
        sh->n_hidden = depth;
        for (size_t j = 0; j < depth; j++) {
            fpath_t q;
            long long w;
            api_v_path_index(&q, p.s, j);
            if (api_v_get_int(json_array_get(shape, j), q.s, 1, (long long)max_neurons,
                              "max_neurons", &w, errs) == 0)
                sh->hidden[j] = (size_t)w;
        }
    }
    spec->n_layers = n;
}

/* The largest value an INT row takes under the configured limits: the limit the row names (when
 * lower than the row's own maximum), else the row's maximum. */
long long api_v_row_max(const sched_param_t *r, const api_limits_t *lim) {
    size_t configured = 0;
    if (!r->limit)
        return r->max;
    if (!strcmp(r->limit, "max_batch_size"))
        configured = lim->max_batch_size;
    else if (!strcmp(r->limit, "max_iterations"))
        configured = lim->max_iterations;
    if (configured == 0 || (unsigned long long)configured > (unsigned long long)r->max)
        return r->max;
    return (long long)configured;
}

/* One value of row r at path: 0 with *v set, or -1 after adding the error. */
int api_v_row_value(const sched_param_t *r, const json_t *j, const char *path,
                    const api_limits_t *lim, sched_value_t *v, api_errors_t *errs) {
    char why[200];
    if (sched_param_check_json(r, j, api_v_row_max(r, lim), r->limit, v, why, sizeof why) != 0) {
        api_errors_add(errs, path, "%s", why);
        return -1;
    }
    return 0;
}

/* grid.<name> for a single-valued row: its values into the spec's axis. */
static void row_axis(const sched_param_t *r, const json_t *j, const char *path,
                     const api_limits_t *lim, sched_spec_t *spec, api_errors_t *errs) {
    sched_value_t v[SCHED_MAX_AXIS];
    size_t n = axis_array(j, path, errs);
    for (size_t i = 0; i < n; i++) {
        fpath_t p;
        api_v_path_index(&p, path, i);
        if (api_v_row_value(r, json_array_get(j, i), p.s, lim, &v[i], errs) != 0)
            memset(&v[i], 0, sizeof v[i]);
    }
    sched_param_spec_set(r, spec, v, n);
}

/* The shape row: grid.layers, or grid.hidden_layers x grid.neurons. */
static void shape_validate(const json_t *grid, const char *at, const eff_limits_t *L,
                           sched_spec_t *spec, api_errors_t *errs) {
    fpath_t p_ly, p_hl, p_ne;
    api_v_path_key(&p_ly, at, "layers");
    api_v_path_key(&p_hl, at, "hidden_layers");
    api_v_path_key(&p_ne, at, "neurons");
    const json_t *hl = json_object_get(grid, "hidden_layers");
    const json_t *ne = json_object_get(grid, "neurons");
    const json_t *ly = json_object_get(grid, "layers");
    if (ly && (hl || ne)) {
        api_errors_add(errs, p_ly.s,
                       "give either layers or hidden_layers and neurons, "
                       "not both");
    } else if (ly) {
        layers_axis(ly, p_ly.s, L->layers, L->neurons, spec, errs);
    } else if (!hl) {
        api_errors_add(errs, p_hl.s, "is required (or give layers)");
    } else {
        int ok = int_axis(hl, p_hl.s, 0, (long long)L->layers, "max_layers", spec->hidden_layers,
                          &spec->n_hidden_layers, errs) == 0;
        int deep = 0;
        for (size_t i = 0; ok && i < spec->n_hidden_layers; i++)
            deep |= spec->hidden_layers[i] > 0;
        if (ne)
            int_axis(ne, p_ne.s, 1, (long long)L->neurons, "max_neurons", spec->neurons,
                     &spec->n_neurons, errs);
        else if (deep)
            api_errors_add(errs, p_ne.s,
                           "is required when hidden_layers has a value "
                           "above 0");
        else { /* only 0 hidden layers: the width is ignored, but no axis may be empty */
            spec->n_neurons = 1;
            spec->neurons[0] = 1;
        }
    }
}

/* The grid: the shape, then the required axes, then the optional ones (each in table order).
 * have[i] says whether row i's axis was given. */
void api_v_grid_validate(const json_t *grid, const char *at, const eff_limits_t *L,
                         sched_spec_t *spec, int *have, api_errors_t *errs) {
    const char *keys[3 + SCHED_PARAM_MAX] = {0};
    size_t n_keys = 0;
    keys[n_keys++] = "hidden_layers";
    keys[n_keys++] = "neurons";
    keys[n_keys++] = "layers";
    for (size_t i = 0; i < sched_param_count && n_keys < sizeof keys / sizeof keys[0]; i++)
        if ((sched_param_table[i].flags & SCHED_PARAM_GRID) &&
            sched_param_table[i].type != SCHED_PARAM_SHAPE)
            keys[n_keys++] = sched_param_table[i].name;
    api_v_check_members(grid, at, keys, n_keys, errs);

    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sched_param_count; i++) {
            const sched_param_t *r = &sched_param_table[i];
            int required = (r->flags & SCHED_PARAM_REQUIRED) != 0;
            if (!(r->flags & SCHED_PARAM_GRID) || required != (pass == 0))
                continue;
            if (r->type == SCHED_PARAM_SHAPE) {
                shape_validate(grid, at, L, spec, errs);
                have[i] = 1;
                continue;
            }
            fpath_t p;
            api_v_path_key(&p, at, r->name);
            const json_t *j = json_object_get(grid, r->name);
            have[i] = j != NULL;
            if (j)
                row_axis(r, j, p.s, L->lim, spec, errs);
            else if (required)
                api_errors_add(errs, p.s, "is required");
        }
}
