/*
 * api/validate_trials.c - the bodies of the routes that make a sweep go on: a warm start's
 * explicit trials (POST /sweeps/{id}/trials), checked like a grid's values with paths
 * "trials[i].<name>", and an extend's budgets and trials (POST /sweeps/{id}/extend). Pure.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "mlpt_err.h"
#include "validate.h"
#include "validate_private.h"

/* A sampling sweep's first value of each dimension: a list's first, a range's low. */
static void dim_first(const sched_dim_t *d, const sched_param_t *r, sched_value_t *v) {
    if (d->kind == SCHED_DIM_LIST) {
        *v = d->list[0];
    } else if (r->type == SCHED_PARAM_INT) {
        v->i = (uint64_t)ceil(d->low);
    } else {
        v->r = d->low;
    }
}

static size_t shape_dim_first(const sched_dim_t *d) {
    if (d->kind == SCHED_DIM_LIST)
        return (size_t)d->list[0].i;
    return d->kind == SCHED_DIM_RANGE ? (size_t)ceil(d->low) : 0;
}

/* What a warm-start trial leaves out: the sweep's first value of each row (a grid's first trial
 * in expansion order; a sampling space's first list value or range low; the training value or
 * the table default for a row the sweep does not vary). */
static int base_of(const api_sweep_body_t *sw, sched_params_t *p) {
    if (!sw->sampling) {
        sched_params_t *t = NULL;
        size_t n = 0;
        int rc = sched_grid_expand(&sw->spec, (size_t)-1, &t, &n);
        if (rc == 0 && n > 0)
            *p = t[0];
        free(t);
        return rc ? rc : n ? 0 : MLPT_EINVAL;
    }
    const sched_space_t *sp = &sw->space;
    *p = sp->base;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE || sp->dim[i].kind == SCHED_DIM_NONE)
            continue;
        sched_value_t v;
        memset(&v, 0, sizeof v);
        dim_first(&sp->dim[i], r, &v);
        sched_param_set(r, p, &v);
    }
    size_t depth = shape_dim_first(&sp->hidden_layers), width = shape_dim_first(&sp->neurons);
    if (sp->hidden_layers.kind != SCHED_DIM_NONE) {
        p->shape.n_hidden = depth < TRAINER_MAX_HIDDEN ? depth : TRAINER_MAX_HIDDEN;
        for (size_t l = 0; l < p->shape.n_hidden; l++)
            p->shape.hidden[l] = width ? width : 1;
    }
    return 0;
}

/* One trial's shape members into p (its other members are rows). */
static void trial_shape(const json_t *t, const char *at, const api_limits_t *lim, sched_params_t *p,
                        api_errors_t *errs) {
    const json_t *ly = json_object_get(t, "layers"), *hl = json_object_get(t, "hidden_layers"),
                 *ne = json_object_get(t, "neurons");
    size_t max_layers = lim->max_layers < TRAINER_MAX_HIDDEN ? lim->max_layers : TRAINER_MAX_HIDDEN;
    fpath_t path;
    if (ly) {
        api_v_path_key(&path, at, "layers");
        if (hl || ne) {
            api_errors_add(errs, path.s, "give layers, or hidden_layers and neurons, not both");
            return;
        }
        if (!json_is_array(ly) || json_array_size(ly) > max_layers) {
            api_errors_add(errs, path.s,
                           "must be an array of at most %zu widths (the limit "
                           "max_layers)",
                           max_layers);
            return;
        }
        p->shape.n_hidden = json_array_size(ly);
        for (size_t l = 0; l < p->shape.n_hidden; l++) {
            fpath_t e;
            long long w = 0;
            api_v_path_index(&e, path.s, l);
            if (api_v_get_int(json_array_get(ly, l), e.s, 1, (long long)lim->max_neurons,
                              "max_neurons", &w, errs) == 0)
                p->shape.hidden[l] = (size_t)w;
        }
        return;
    }
    long long depth = (long long)p->shape.n_hidden;
    long long width = p->shape.n_hidden ? (long long)p->shape.hidden[0] : 0;
    if (hl) {
        api_v_path_key(&path, at, "hidden_layers");
        if (api_v_get_int(hl, path.s, 0, (long long)max_layers, "max_layers", &depth, errs))
            return;
    }
    if (ne) {
        api_v_path_key(&path, at, "neurons");
        if (api_v_get_int(ne, path.s, 1, (long long)lim->max_neurons, "max_neurons", &width, errs))
            return;
    }
    if (!hl && !ne)
        return; /* the base's shape, as it is (explicit layers included) */
    if (depth > 0 && width < 1) {
        api_v_path_key(&path, at, "neurons");
        api_errors_add(errs, path.s, "is required when hidden_layers > 0");
        return;
    }
    p->shape.n_hidden = (size_t)depth;
    for (long long l = 0; l < depth; l++)
        p->shape.hidden[l] = (size_t)width;
}

/* The model of trial p must stay under max_model_bytes (features > 0: the dataset's shape). */
static void trial_model_size(const sched_params_t *p, const json_t *t, const char *at,
                             size_t features, size_t classes, const api_limits_t *lim,
                             api_errors_t *errs) {
    sched_spec_t spec;
    memset(&spec, 0, sizeof spec);
    int explicit = json_object_get(t, "layers") != NULL;
    int mixed = 0;
    for (size_t l = 1; l < p->shape.n_hidden; l++)
        mixed |= p->shape.hidden[l] != p->shape.hidden[0];
    if (explicit || mixed) {
        spec.n_layers = 1;
        spec.layers[0] = p->shape;
    } else {
        spec.n_hidden_layers = 1;
        spec.hidden_layers[0] = p->shape.n_hidden;
        spec.n_neurons = 1;
        spec.neurons[0] = p->shape.n_hidden ? p->shape.hidden[0] : 1;
    }
    api_errors_t *own = malloc(sizeof *own);
    if (!own)
        return;
    api_errors_init(own);
    api_validate_model_size(&spec, features, classes, lim, own);
    for (size_t k = 0; k < own->n; k++) {
        /* "grid.neurons[0]" -> "trials[i].neurons" */
        char name[32];
        const char *f = own->items[k].field + strlen("grid.");
        size_t len = strcspn(f, "[");
        snprintf(name, sizeof name, "%.*s", (int)len, f);
        fpath_t path;
        api_v_path_key(&path, at, name);
        api_errors_add(errs, path.s, "%s", own->items[k].message);
    }
    free(own);
}

int api_validate_trials(const json_t *body, const api_sweep_body_t *sweep, size_t features,
                        size_t classes, const api_limits_t *lim, sched_params_t **out,
                        size_t *n_out, api_errors_t *errs) {
    static const char *const top[] = {"trials"};
    *out = NULL;
    *n_out = 0;
    if (!json_is_object(body)) {
        api_errors_add(errs, "body", "must be a JSON object");
        return MLPT_EINVAL;
    }
    api_v_check_members(body, "", top, 1, errs);
    const json_t *list = json_object_get(body, "trials");
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0)
        api_errors_add(errs, "trials", "must be a non-empty array of trials");
    else if (n > lim->max_trials)
        api_errors_add(errs, "trials", "has %zu trials: exceeds the limit max_trials (%zu)", n,
                       lim->max_trials);
    if (errs->n)
        return MLPT_EINVAL;
    sched_params_t base;
    if (base_of(sweep, &base) != 0) {
        api_errors_add(errs, "trials", "the sweep's request no longer reads");
        return MLPT_EINVAL;
    }
    sched_params_t *p = calloc(n, sizeof *p);
    if (!p)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < n && errs->n < API_MAX_ERRORS; i++) {
        const json_t *t = json_array_get(list, i);
        fpath_t at;
        api_v_path_index(&at, "trials", i);
        p[i] = base;
        if (!json_is_object(t)) {
            api_errors_add(errs, at.s, "must be an object of parameters");
            continue;
        }
        size_t before = errs->n;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)t, key, v) {
            fpath_t path;
            api_v_path_key(&path, at.s, key);
            if (!strcmp(key, "layers") || !strcmp(key, "hidden_layers") || !strcmp(key, "neurons"))
                continue;
            const sched_param_t *r = sched_param_find(key);
            sched_value_t val;
            if (!r || r->type == SCHED_PARAM_SHAPE) {
                api_errors_add(errs, path.s, "unknown field");
                continue;
            }
            if (api_v_row_value(r, v, path.s, lim, &val, errs) == 0)
                sched_param_set(r, &p[i], &val);
        }
        trial_shape(t, at.s, lim, &p[i], errs);
        if (errs->n == before && features > 0)
            trial_model_size(&p[i], t, at.s, features, classes, lim, errs);
    }
    if (errs->n) {
        free(p);
        return MLPT_EINVAL;
    }
    *out = p;
    *n_out = n;
    return 0;
}

int api_validate_extend(const json_t *body, const api_limits_t *lim, api_extend_body_t *out,
                        api_errors_t *errs) {
    static const char *const top[] = {"max_trials", "max_seconds", "max_iterations_total",
                                      "trials"};
    static const char *const one[] = {"id", "iterations"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(body)) {
        api_errors_add(errs, "body", "must be a JSON object");
        return MLPT_EINVAL;
    }
    api_v_check_members(body, "", top, 4, errs);
    const json_t *v;
    long long x;
    if ((v = json_object_get(body, "max_trials")) &&
        api_v_get_int(v, "max_trials", 1, (long long)lim->max_trials, "max_trials", &x, errs) == 0)
        out->max_trials = (size_t)x;
    if ((v = json_object_get(body, "max_iterations_total")) &&
        api_v_get_int(v, "max_iterations_total", 1, (long long)1 << 53, NULL, &x, errs) == 0)
        out->max_iterations_total = (uint64_t)x;
    if ((v = json_object_get(body, "max_seconds"))) {
        double s = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(s > 0 && s <= 1e9))
            api_errors_add(errs, "max_seconds", "must be a number of seconds in (0, 1e9]");
        else
            out->max_seconds = s;
    }
    out->budget = out->max_trials || out->max_iterations_total || out->max_seconds > 0;
    const json_t *list = json_object_get(body, "trials");
    size_t n = json_array_size(list);
    if (list && (!json_is_array(list) || n == 0))
        api_errors_add(errs, "trials", "must be a non-empty array of {\"id\", \"iterations\"}");
    else if (n > lim->max_trials)
        api_errors_add(errs, "trials", "has %zu trials: exceeds the limit max_trials (%zu)", n,
                       lim->max_trials);
    else if (n && !(out->trials = calloc(n, sizeof *out->trials)))
        return MLPT_ENOMEM;
    for (size_t i = 0; out->trials && i < n && errs->n < API_MAX_ERRORS; i++) {
        const json_t *t = json_array_get(list, i);
        fpath_t at, p_id, p_it;
        api_v_path_index(&at, "trials", i);
        if (!json_is_object(t)) {
            api_errors_add(errs, at.s, "must be an object {\"id\", \"iterations\"}");
            continue;
        }
        api_v_check_members(t, at.s, one, 2, errs);
        api_v_path_key(&p_id, at.s, "id");
        api_v_path_key(&p_it, at.s, "iterations");
        long long id = 0, it = 0;
        if (!json_object_get(t, "id"))
            api_errors_add(errs, p_id.s, "is required");
        else if (api_v_get_int(json_object_get(t, "id"), p_id.s, 1, INT64_MAX, NULL, &id, errs) ==
                 0)
            for (size_t k = 0; k < i; k++)
                if (out->trials[k].trial_id == id)
                    api_errors_add(errs, p_id.s, "trial %lld is named twice", id);
        if (!json_object_get(t, "iterations"))
            api_errors_add(errs, p_it.s, "is required");
        else
            api_v_get_int(json_object_get(t, "iterations"), p_it.s, 1,
                          (long long)lim->max_iterations, "max_iterations", &it, errs);
        out->trials[i] = (sched_extend_trial_t){.trial_id = id, .iterations = (size_t)it};
    }
    out->n_trials = out->trials ? n : 0;
    if (!errs->n && !out->budget && !out->n_trials)
        api_errors_add(errs, "body",
                       "nothing to extend: give max_trials, max_seconds, max_iterations_total "
                       "or trials");
    if (errs->n) {
        free(out->trials);
        out->trials = NULL;
        out->n_trials = 0;
        return MLPT_EINVAL;
    }
    return 0;
}
