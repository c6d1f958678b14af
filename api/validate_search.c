/*
 * api/validate_search.c - a sampling sweep's `search` and `space` (validate.h): the search type
 * and budgets, and each dimension of the space as a list or a range, driven by the parameter
 * table, with field paths such as "space.learning_rate.low".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlp.h"
#include "tpe.h"
#include "validate_private.h"

#define MAX_SECONDS (7.0 * 24 * 3600)        /* search.max_seconds: a week */
#define MAX_ITERATIONS_TOTAL 1000000000000LL /* search.max_iterations_total */
#define MAX_SEED 9007199254740991LL          /* 2^53 - 1: exact in every JSON reader */

/* search: {"type"?, "seed"?, "max_trials"?, "max_seconds"?, "max_iterations_total"?}. */
static void search_object(const json_t *s, const api_limits_t *lim, sched_space_t *sp,
                          api_errors_t *errs) {
    static const char *const keys[] = {
        "type", "seed", "max_trials", "max_seconds", "max_iterations_total", "n_startup_trials"};
    long long x;
    sp->type = SCHED_SEARCH_GRID;
    if (!s)
        return;
    if (!json_is_object(s)) {
        api_errors_add(errs, "search", "must be an object");
        return;
    }
    api_v_check_members(s, "search", keys, sizeof keys / sizeof keys[0], errs);
    const json_t *t = json_object_get(s, "type");
    if (t) {
        const char *name = json_is_string(t) ? json_string_value(t) : "";
        if (!strcmp(name, "grid"))
            sp->type = SCHED_SEARCH_GRID;
        else if (!strcmp(name, "random"))
            sp->type = SCHED_SEARCH_RANDOM;
        else if (!strcmp(name, "tpe"))
            sp->type = SCHED_SEARCH_TPE;
        else
            api_errors_add(errs, "search.type", "must be one of grid, random, tpe");
    }
    int sampling = sp->type == SCHED_SEARCH_RANDOM || sp->type == SCHED_SEARCH_TPE;
    sp->n_startup_trials = SCHED_TPE_DEFAULT_STARTUP;
    const json_t *ns = json_object_get(s, "n_startup_trials");
    if (ns && sp->type != SCHED_SEARCH_TPE)
        api_errors_add(errs, "search.n_startup_trials", "applies to search.type tpe only");
    else if (ns && api_v_get_int(ns, "search.n_startup_trials", 0, SCHED_TPE_MAX_STARTUP, NULL, &x,
                                 errs) == 0)
        sp->n_startup_trials = (size_t)x;
    const json_t *v;
    if ((v = json_object_get(s, "seed")) &&
        api_v_get_int(v, "search.seed", 0, MAX_SEED, NULL, &x, errs) == 0)
        sp->seed = (uint64_t)x;
    size_t max_trials = lim->max_trials ? lim->max_trials : SCHED_DEFAULT_MAX_TRIALS;
    if ((v = json_object_get(s, "max_trials")) &&
        api_v_get_int(v, "search.max_trials", 1, (long long)max_trials, "max_trials", &x, errs) ==
            0)
        sp->max_trials = (size_t)x;
    if ((v = json_object_get(s, "max_seconds"))) {
        double d;
        if (!json_is_number(v))
            api_errors_add(errs, "search.max_seconds", "must be a number");
        else if (!((d = json_number_value(v)) > 0.0) || d > MAX_SECONDS)
            api_errors_add(errs, "search.max_seconds", "must be > 0 and <= %.0f (got %g)",
                           MAX_SECONDS, d);
        else
            sp->max_seconds = d;
    }
    if ((v = json_object_get(s, "max_iterations_total")) &&
        api_v_get_int(v, "search.max_iterations_total", 1, MAX_ITERATIONS_TOTAL, NULL, &x, errs) ==
            0)
        sp->max_iterations_total = (uint64_t)x;
    int budget = json_object_get(s, "max_trials") || json_object_get(s, "max_seconds") ||
                 json_object_get(s, "max_iterations_total");
    if (sp->type == SCHED_SEARCH_GRID && budget)
        api_errors_add(errs, "search",
                       "budgets apply to random and tpe search; a grid runs every trial");
    else if (sampling && !budget)
        api_errors_add(errs, "search.max_trials",
                       "is required for random and tpe search (or give max_seconds or "
                       "max_iterations_total)");
    if (sampling && !sp->max_trials)
        sp->max_trials = max_trials; /* another budget ends it; the server's limit bounds it */
}

/* A range's bound at path: a value of row r (r NULL: an integer in [min, max] naming limit). */
static int bound(const sched_param_t *r, const json_t *j, const char *path, const api_limits_t *lim,
                 long long min, long long max, const char *limit, double *out, api_errors_t *errs) {
    sched_value_t v;
    long long x;
    if (!r) {
        if (api_v_get_int(j, path, min, max, limit, &x, errs) != 0)
            return -1;
        *out = (double)x;
        return 0;
    }
    if (api_v_row_value(r, j, path, lim, &v, errs) != 0)
        return -1;
    *out = r->type == SCHED_PARAM_INT ? (double)v.i : v.r;
    return 0;
}

/* One dimension at path: a list of row r's values (r NULL: integers in [min, max]) or a range
 * {"low", "high", "log"?} (not for a list of choices). */
static void dim_validate(const sched_param_t *r, const json_t *j, const char *path,
                         const api_limits_t *lim, long long min, long long max, const char *limit,
                         sched_dim_t *d, api_errors_t *errs) {
    size_t before = errs->n;
    memset(d, 0, sizeof *d);
    if (json_is_array(j)) {
        size_t n = json_array_size(j);
        if (n == 0) {
            api_errors_add(errs, path, "must not be empty");
            return;
        }
        if (n > SCHED_MAX_AXIS) {
            api_errors_add(errs, path, "has %zu values; at most %d are allowed", n, SCHED_MAX_AXIS);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            fpath_t p;
            long long x;
            api_v_path_index(&p, path, i);
            if (!r) {
                if (api_v_get_int(json_array_get(j, i), p.s, min, max, limit, &x, errs) == 0)
                    d->list[i].i = (uint64_t)x;
            } else
                api_v_row_value(r, json_array_get(j, i), p.s, lim, &d->list[i], errs);
        }
        d->n = n;
        d->kind = errs->n == before ? SCHED_DIM_LIST : SCHED_DIM_NONE;
        return;
    }
    int ranged = !r || r->type == SCHED_PARAM_INT || r->type == SCHED_PARAM_REAL;
    if (!json_is_object(j) || !ranged) {
        api_errors_add(errs, path,
                       ranged ? "must be an array of values or a range {low, high, log}"
                              : "must be an array of choices");
        return;
    }
    static const char *const keys[] = {"low", "high", "log"};
    api_v_check_members(j, path, keys, 3, errs);
    fpath_t pl, ph, pg;
    api_v_path_key(&pl, path, "low");
    api_v_path_key(&ph, path, "high");
    api_v_path_key(&pg, path, "log");
    const json_t *lo = json_object_get(j, "low"), *hi = json_object_get(j, "high");
    const json_t *lg = json_object_get(j, "log");
    int ok = 1;
    if (!lo) {
        api_errors_add(errs, pl.s, "is required");
        ok = 0;
    } else if (bound(r, lo, pl.s, lim, min, max, limit, &d->low, errs) != 0)
        ok = 0;
    if (!hi) {
        api_errors_add(errs, ph.s, "is required");
        ok = 0;
    } else if (bound(r, hi, ph.s, lim, min, max, limit, &d->high, errs) != 0)
        ok = 0;
    if (lg && !json_is_boolean(lg)) {
        api_errors_add(errs, pg.s, "must be true or false");
        ok = 0;
    }
    d->log = lg && json_is_true(lg);
    if (ok && d->high < d->low) {
        api_errors_add(errs, ph.s, "must be >= low (%g)", d->low);
        ok = 0;
    }
    if (ok && d->log && !(d->low > 0.0)) {
        api_errors_add(errs, pl.s, "must be > 0 when log is true (got %g)", d->low);
        ok = 0;
    }
    d->kind = ok && errs->n == before ? SCHED_DIM_RANGE : SCHED_DIM_NONE;
}

/* The largest integer a dimension takes. */
static long long dim_max(const sched_dim_t *d) {
    if (d->kind == SCHED_DIM_RANGE)
        return (long long)d->high;
    long long m = 0;
    for (size_t i = 0; i < d->n; i++)
        if ((long long)d->list[i].i > m)
            m = (long long)d->list[i].i;
    return m;
}

/* A random search's space: the shape as hidden_layers and neurons, then every grid row. */
static void space_random(const json_t *space, const eff_limits_t *L, sched_space_t *sp, int *have,
                         api_errors_t *errs) {
    const char *keys[2 + SCHED_PARAM_MAX] = {"hidden_layers", "neurons"};
    size_t n_keys = 2;
    for (size_t i = 0; i < sched_param_count && n_keys < sizeof keys / sizeof keys[0]; i++)
        if ((sched_param_table[i].flags & SCHED_PARAM_GRID) &&
            sched_param_table[i].type != SCHED_PARAM_SHAPE)
            keys[n_keys++] = sched_param_table[i].name;
    if (json_object_get(space, "layers"))
        api_errors_add(errs, "space.layers",
                       "is not supported by random and tpe search; give hidden_layers and "
                       "neurons");
    else
        api_v_check_members(space, "space", keys, n_keys, errs);
    for (size_t i = 0; i < sched_param_count && i < SCHED_PARAM_MAX; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (!(r->flags & SCHED_PARAM_GRID))
            continue;
        if (r->type == SCHED_PARAM_SHAPE) {
            have[i] = 1;
            const json_t *hl = json_object_get(space, "hidden_layers");
            const json_t *ne = json_object_get(space, "neurons");
            if (!hl) {
                api_errors_add(errs, "space.hidden_layers", "is required");
                continue;
            }
            dim_validate(NULL, hl, "space.hidden_layers", L->lim, 0, (long long)L->layers,
                         "max_layers", &sp->hidden_layers, errs);
            if (ne)
                dim_validate(NULL, ne, "space.neurons", L->lim, 1, (long long)L->neurons,
                             "max_neurons", &sp->neurons, errs);
            else if (sp->hidden_layers.kind && dim_max(&sp->hidden_layers) > 0)
                api_errors_add(errs, "space.neurons",
                               "is required when hidden_layers has a value above 0");
            continue;
        }
        fpath_t p;
        api_v_path_key(&p, "space", r->name);
        const json_t *j = json_object_get(space, r->name);
        have[i] = j != NULL;
        if (j)
            dim_validate(r, j, p.s, L->lim, 0, 0, NULL, &sp->dim[i], errs);
        else if (r->flags & SCHED_PARAM_REQUIRED)
            api_errors_add(errs, p.s, "is required");
    }
}

void api_v_search_validate(const json_t *body, const eff_limits_t *L, api_sweep_body_t *out,
                           int *have, api_errors_t *errs) {
    sched_space_t *sp = &out->space;
    search_object(json_object_get(body, "search"), L->lim, sp, errs);
    const json_t *space = json_object_get(body, "space");
    if (!space) {
        api_errors_add(errs, "space", "is required with search");
        return;
    }
    if (!json_is_object(space)) {
        api_errors_add(errs, "space", "must be an object");
        return;
    }
    if (sp->type == SCHED_SEARCH_RANDOM || sp->type == SCHED_SEARCH_TPE) {
        out->sampling = 1;
        space_random(space, L, sp, have, errs);
    } else /* a grid given as a space: lists only, exactly a grid */
        api_v_grid_validate(space, "space", L, &out->spec, have, errs);
}

void api_v_search_finish(api_sweep_body_t *out, const int *have) {
    sched_space_t *sp = &out->space;
    sched_params_defaults(&sp->base);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        sched_value_t v;
        if (r->type == SCHED_PARAM_SHAPE || have[i] || !sched_param_spec_len(r, &out->spec))
            continue;
        sched_param_spec_get(r, &out->spec, 0, &v);
        sched_param_set(r, &sp->base, &v);
    }
    /* the deepest and widest model the space can draw, for the model size check */
    out->spec.n_layers = 0;
    out->spec.n_hidden_layers = 1;
    out->spec.hidden_layers[0] = (size_t)dim_max(&sp->hidden_layers);
    out->spec.n_neurons = 1;
    out->spec.neurons[0] = sp->neurons.kind ? (size_t)dim_max(&sp->neurons) : 1;
}
