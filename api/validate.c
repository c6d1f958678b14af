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
#include "pruner.h"
#include "ranks.h"
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
    l->max_ranks = 1;
}

static size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

/* training: the sweep-wide rows, and the single value of every axis the grid left out (the
 * row's default when training does not name it either). */
static void training_validate(const json_t *tr, const eff_limits_t *L, sched_spec_t *spec,
                              const int *have, api_errors_t *errs) {
    const char *keys[SCHED_PARAM_MAX + 3] = {0};
    size_t n_keys = 0;
    for (size_t i = 0; i < sched_param_count && n_keys < sizeof keys / sizeof keys[0]; i++)
        if (sched_param_table[i].flags & SCHED_PARAM_TRAINING)
            keys[n_keys++] = sched_param_table[i].name;
    /* not parameters: early_stopping (pruner.h), ranks and sync_every (ranks.h) */
    static const char *const extra[] = {"early_stopping", "ranks", "sync_every"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0] && n_keys < SCHED_PARAM_MAX + 3; i++)
        keys[n_keys++] = extra[i];
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

static void pruner_error(void *user, const char *field, const char *message) {
    api_errors_add(user, field, "%s", message);
}

/* pruner: scheduler/pruner.h reads it (the sweep's strategy reads it again from the stored
 * request); here its problems become field errors. */
static void pruner_validate(const json_t *j, sched_pruner_cfg_t *out, api_errors_t *errs) {
    sched_pruner_parse(j, out, pruner_error, errs);
}

/* test: {"subjects": [ids]}, the subjects of the training dataset (a recording or windows) held
 * out as the sweep's test set; the handler checks that the dataset has them. */
static void test_validate(const json_t *t, api_sweep_body_t *out, api_errors_t *errs) {
    static const char *const keys[] = {"subjects"};
    if (!t || json_is_null(t))
        return;
    if (!json_is_object(t)) {
        api_errors_add(errs, "test", "must be an object: {\"subjects\": [ids]}");
        return;
    }
    api_v_check_members(t, "test", keys, 1, errs);
    const json_t *list = json_object_get(t, "subjects");
    size_t n = json_array_size(list);
    if (!list)
        api_errors_add(errs, "test.subjects", "is required");
    else if (!json_is_array(list) || n == 0)
        api_errors_add(errs, "test.subjects", "must be a non-empty array of subject ids");
    else if (n > SCHED_MAX_TEST_GROUPS)
        api_errors_add(errs, "test.subjects", "names %zu subjects; at most %d are allowed", n,
                       SCHED_MAX_TEST_GROUPS);
    else
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(list, i);
            fpath_t p;
            api_v_path_index(&p, "test.subjects", i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT32_MAX) {
                api_errors_add(errs, p.s, "must be a subject id (an integer from 0)");
                continue;
            }
            int32_t id = (int32_t)json_integer_value(v);
            int dup = 0;
            for (size_t k = 0; k < out->spec.n_test_groups; k++)
                dup |= out->spec.test_groups[k] == id;
            if (dup)
                api_errors_add(errs, p.s, "subject %d is named twice", (int)id);
            else
                out->spec.test_groups[out->spec.n_test_groups++] = id;
        }
    if (out->test_dataset_id)
        api_errors_add(errs, "test", "give either test_dataset_id or test.subjects, not both");
}

int api_validate_sweep(const json_t *body, const api_limits_t *lim, api_sweep_body_t *out,
                       api_errors_t *errs) {
    static const char *const keys[] = {"dataset_id", "name",  "test_dataset_id", "grid", "training",
                                       "search",     "space", "pruner",          "test"};
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
    if (tr)
        sched_early_stop_parse(json_object_get(tr, "early_stopping"), &out->early_stop,
                               pruner_error, errs);
    sched_ranks_parse(tr, lim->max_ranks ? lim->max_ranks : 1, &out->ranks, pruner_error, errs);
    test_validate(json_object_get(body, "test"), out, errs);
    pruner_validate(json_object_get(body, "pruner"), &out->pruner, errs);
    if (errs->n)
        return 422;
    if (out->sampling) {
        api_v_search_finish(out, have);
        out->space.base.n_test_groups = out->spec.n_test_groups;
        memcpy(out->space.base.test_groups, out->spec.test_groups, sizeof out->spec.test_groups);
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
