/*
 * api/validate.c - sweep and predict bodies into typed values: strict members, exact field
 * paths, every limit named. See validate.h for the accepted shapes and defaults.
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

void api_limits_init(api_limits_t *l) {
    memset(l, 0, sizeof(*l));
    l->max_body_bytes = (size_t)1 << 20;
    l->max_upload_bytes = (size_t)1 << 30;
    l->max_upload_memory = (size_t)1 << 30;
    l->max_trials = SCHED_DEFAULT_MAX_TRIALS;
    l->max_neurons = 4096;
    l->max_model_bytes = (size_t)1 << 30;
    l->max_layers = 8;
    l->max_iterations = 10000;
    l->max_batch_size = 8192;
    l->max_connections = 512;
    l->connection_timeout_s = 60;
}

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

static size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
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

/* training: the sweep-wide rows, and the single value of every axis the grid left out (the
 * row's default when training does not name it either). */
static void training_validate(const json_t *tr, const eff_limits_t *L, sched_spec_t *spec,
                              const int *have, api_errors_t *errs) {
    const char *keys[SCHED_PARAM_MAX] = {0};
    size_t n_keys = 0;
    for (size_t i = 0; i < sched_param_count && n_keys < sizeof keys / sizeof keys[0]; i++)
        if (sched_param_table[i].flags & SCHED_PARAM_TRAINING)
            keys[n_keys++] = sched_param_table[i].name;
    if (tr)
        api_v_check_members(tr, "training", keys, n_keys, errs);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        sched_value_t v;
        memset(&v, 0, sizeof v);
        if (r->type == SCHED_PARAM_REAL)
            v.r = r->def;
        else if (r->type == SCHED_PARAM_ENUM)
            v.e = (int)r->def;
        else /* a default above a configured limit is lowered to it */
            v.i = (uint64_t)(r->def < (double)api_v_row_max(r, L->lim) ? (long long)r->def
                                                                       : api_v_row_max(r, L->lim));
        const json_t *j =
            tr && (r->flags & SCHED_PARAM_TRAINING) ? json_object_get(tr, r->name) : NULL;
        if (j) { /* checked even when the grid's axis overrides it */
            fpath_t p;
            sched_value_t given;
            api_v_path_key(&p, "training", r->name);
            if (api_v_row_value(r, j, p.s, L->lim, &given, errs) == 0)
                v = given;
        }
        if (!have[i])
            sched_param_spec_set(r, spec, &v, 1);
    }
}

static void id_member(const json_t *body, const char *key, int required, int64_t *out,
                      api_errors_t *errs) {
    const json_t *v = json_object_get(body, key);
    long long x;
    *out = 0;
    if (!v || (json_is_null(v) && !required)) {
        if (required)
            api_errors_add(errs, key, "is required");
        return;
    }
    if (!json_is_integer(v))
        api_errors_add(errs, key, "must be an integer");
    else if ((x = json_integer_value(v)) < 1)
        api_errors_add(errs, key, "must be a positive integer (got %lld)", x);
    else
        *out = x;
}

int api_validate_sweep(const json_t *body, const api_limits_t *lim, api_sweep_body_t *out,
                       api_errors_t *errs) {
    static const char *const keys[] = {"dataset_id", "name", "test_dataset_id", "grid", "training",
                                       "search",     "space"};
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        api_errors_add(errs, "body", "must be a JSON object");
        return 422;
    }
    eff_limits_t L = {
        min_size(lim->max_layers, TRAINER_MAX_HIDDEN),
        min_size(lim->max_neurons, TRAINER_MAX_WIDTH),
        lim,
    };
    api_v_check_members(body, "", keys, sizeof keys / sizeof keys[0], errs);

    id_member(body, "dataset_id", 1, &out->dataset_id, errs);
    const json_t *name = json_object_get(body, "name");
    if (name && !json_is_null(name)) {
        const char *why;
        if (!json_is_string(name))
            api_errors_add(errs, "name", "must be a string");
        else if (api_name_check(json_string_value(name), &why) != 0)
            api_errors_add(errs, "name", "%s", why);
        else
            snprintf(out->name, sizeof(out->name), "%s", json_string_value(name));
    }
    id_member(body, "test_dataset_id", 0, &out->test_dataset_id, errs);

    int have[SCHED_PARAM_MAX] = {0};
    const json_t *grid = json_object_get(body, "grid");
    int searched = json_object_get(body, "search") || json_object_get(body, "space");
    if (grid && searched)
        api_errors_add(errs, "grid", "give either grid or search and space, not both");
    else if (searched)
        api_v_search_validate(body, &L, out, have, errs);
    else if (!grid)
        api_errors_add(errs, "grid", "is required");
    else if (!json_is_object(grid))
        api_errors_add(errs, "grid", "must be an object");
    else
        api_v_grid_validate(grid, "grid", &L, &out->spec, have, errs);

    const json_t *tr = json_object_get(body, "training");
    if (tr && !json_is_object(tr)) {
        api_errors_add(errs, "training", "must be an object");
        tr = NULL;
    }
    training_validate(tr, &L, &out->spec, have, errs);
    if (errs->n)
        return 422;
    if (out->sampling) {
        api_v_search_finish(out, have);
        return 0;
    }

    size_t max_trials = lim->max_trials ? lim->max_trials : SCHED_DEFAULT_MAX_TRIALS;
    size_t count = sched_grid_count(&out->spec);
    if (count > max_trials) {
        api_errors_add(errs, searched ? "space" : "grid",
                       "expands to %zu trials, which exceeds the limit max_trials "
                       "(%zu)",
                       count, max_trials);
        return 422;
    }
    return 0;
}

/* Bytes of the model file of hidden widths h[0..n) on `features` inputs and `classes` outputs:
 * the parameters (weights and biases, 4 bytes each) and the input scaling (8 bytes a feature).
 * In double: a hostile shape must not wrap around. */
static double model_bytes(const size_t *h, size_t n, size_t features, size_t classes) {
    double params = 0.0, in = (double)features;
    for (size_t l = 0; l <= n; l++) {
        double out = l < n ? (double)h[l] : (double)classes;
        params += in * out + out;
        in = out;
    }
    return 4.0 * params + 8.0 * (double)features;
}

static void model_too_big(api_errors_t *errs, const char *field, const char *shape, double bytes,
                          size_t features, size_t classes, const api_limits_t *lim) {
    api_errors_add(errs, field,
                   "a model of %s on %zu features and %zu classes takes %.0f MiB, over the "
                   "limit max_model_mb (%zu)",
                   shape, features, classes, bytes / 1048576.0, lim->max_model_bytes >> 20);
}

int api_validate_model_size(const sched_spec_t *spec, size_t features, size_t classes,
                            const api_limits_t *lim, api_errors_t *errs) {
    size_t before = errs->n;
    double limit = (double)lim->max_model_bytes;
    char field[48], shape[64];
    if (classes < 2)
        classes = 2; /* what the trainer builds */
    for (size_t i = 0; i < spec->n_layers; i++) {
        const sched_shape_t *sh = &spec->layers[i];
        double b = model_bytes(sh->hidden, sh->n_hidden, features, classes);
        if (b > limit) {
            snprintf(field, sizeof field, "grid.layers[%zu]", i);
            snprintf(shape, sizeof shape, "%zu hidden layers", sh->n_hidden);
            model_too_big(errs, field, shape, b, features, classes, lim);
        }
    }
    if (spec->n_layers)
        return errs->n > before ? 422 : 0;
    /* hidden_layers x neurons: a width is blamed once, at the depth that makes it largest; no
     * hidden layer at all can only be too big by the dataset alone */
    size_t deepest = 0;
    for (size_t i = 0; i < spec->n_hidden_layers; i++) {
        if (spec->hidden_layers[i] > deepest)
            deepest = spec->hidden_layers[i];
        if (spec->hidden_layers[i] == 0) {
            double b = model_bytes(NULL, 0, features, classes);
            if (b > limit) {
                snprintf(field, sizeof field, "grid.hidden_layers[%zu]", i);
                model_too_big(errs, field, "no hidden layer", b, features, classes, lim);
            }
        }
    }
    for (size_t j = 0; deepest > 0 && j < spec->n_neurons; j++) {
        double worst = 0.0;
        size_t worst_depth = 0;
        for (size_t i = 0; i < spec->n_hidden_layers; i++) {
            size_t d = spec->hidden_layers[i];
            size_t h[TRAINER_MAX_HIDDEN];
            if (d == 0 || d > TRAINER_MAX_HIDDEN)
                continue;
            for (size_t l = 0; l < d; l++)
                h[l] = spec->neurons[j];
            double b = model_bytes(h, d, features, classes);
            if (b > worst) {
                worst = b;
                worst_depth = d;
            }
        }
        if (worst > limit) {
            snprintf(field, sizeof field, "grid.neurons[%zu]", j);
            snprintf(shape, sizeof shape, "%zu hidden layers of %zu neurons", worst_depth,
                     spec->neurons[j]);
            model_too_big(errs, field, shape, worst, features, classes, lim);
        }
    }
    return errs->n > before ? 422 : 0;
}

int api_validate_predict(const json_t *body, size_t features, float **x, size_t *rows,
                         api_errors_t *errs) {
    static const char *const keys[] = {"rows"};
    *x = NULL;
    *rows = 0;
    if (!json_is_object(body)) {
        api_errors_add(errs, "body", "must be a JSON object");
        return MLPT_EINVAL;
    }
    api_v_check_members(body, "", keys, 1, errs);
    const json_t *list = json_object_get(body, "rows");
    size_t n = 0, before = errs->n;
    if (!list)
        api_errors_add(errs, "rows", "is required");
    else if (!json_is_array(list))
        api_errors_add(errs, "rows", "must be an array of rows");
    else if ((n = json_array_size(list)) == 0)
        api_errors_add(errs, "rows", "must not be empty");
    else if (n > API_MAX_PREDICT_ROWS)
        api_errors_add(errs, "rows", "has %zu rows; at most %d are allowed per request", n,
                       API_MAX_PREDICT_ROWS);
    if (errs->n > before)
        return MLPT_EINVAL;
    float *buf = malloc(n * features * sizeof(*buf));
    if (!buf)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(list, i);
        fpath_t p;
        api_v_path_index(&p, "rows", i);
        if (!json_is_array(row)) {
            api_errors_add(errs, p.s, "must be an array of numbers");
            continue;
        }
        if (json_array_size(row) != features) {
            api_errors_add(errs, p.s, "has %zu values; the model takes %zu features",
                           json_array_size(row), features);
            continue;
        }
        for (size_t j = 0; j < features; j++) {
            fpath_t q;
            double v;
            api_v_path_index(&q, p.s, j);
            if (api_json_get_number(json_array_get(row, j), &v) != 0)
                api_errors_add(errs, q.s, "must be a number");
            else if (!(fabs(v) <= FLT_MAX))
                api_errors_add(errs, q.s, "is outside the float32 range");
            else
                buf[i * features + j] = (float)v;
        }
    }
    if (errs->n) {
        free(buf);
        return MLPT_EINVAL;
    }
    *x = buf;
    *rows = n;
    return 0;
}
