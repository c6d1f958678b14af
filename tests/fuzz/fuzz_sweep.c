/*
 * tests/fuzz/fuzz_sweep.c - libFuzzer harness for request-body validation (api/validate.h): the
 * sweep body into a sched_spec_t, and the predict body.
 *
 * Input: the request body, exactly as a client sends it (the corpus is plain JSON files). It is
 * parsed as the server parses it (api_json_parse); a body jansson refuses must come with a
 * detail. Every parsed value is validated twice, with the default limits and with small ones
 * (max_trials 6, max_neurons 8, max_layers 2, max_iterations 50, max_batch_size 16). Invariants:
 *   - api_validate_sweep returns 0 or 422, the same twice in a row (no hidden state);
 *   - 0: no errors, every axis holds 1 .. SCHED_MAX_AXIS values, each value within its limit and
 *     range (learning rates and momenta also as float32), 1 <= sched_grid_count <= max_trials,
 *     and sched_grid_expand gives at most that many trials, each with values from the spec;
 *   - 0 for a random search (`search` and `space`): every dimension a list of 1 .. SCHED_MAX_AXIS
 *     values or a range with low <= high (low > 0 when log), 1 <= max_trials <= the limit, and
 *     the first draws (sched_space_draw) hold values within the limits, as a grid's trials do;
 *   - 422: at least one error, and every error has a non-empty, terminated field path and
 *     message;
 *   - api_validate_predict (for 1 .. 4 features, chosen by the body's length) returns 0 with
 *     1 .. API_MAX_PREDICT_ROWS rows of finite values, or MLPT_EINVAL with field paths as
 *     above.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_util.h"
#include "grid.h"
#include "json_util.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "problem.h"
#include "space.h"
#include "tpe.h"
#include "train.h"
#include "validate.h"

static void check_errors(const api_errors_t *errs, const char *what) {
    FUZZ_CHECK(errs->n + errs->dropped > 0, "%s: 422 without an error", what);
    FUZZ_CHECK(errs->n <= API_MAX_ERRORS, "%s: %zu errors", what, errs->n);
    for (size_t i = 0; i < errs->n; i++) {
        const api_field_error_t *e = &errs->items[i];
        FUZZ_CHECK(memchr(e->field, '\0', sizeof(e->field)) && e->field[0] != '\0',
                   "%s: error %zu has an empty field path (message \"%s\")", what, i,
                   memchr(e->message, '\0', sizeof(e->message)) ? e->message : "?");
        FUZZ_CHECK(memchr(e->message, '\0', sizeof(e->message)) && e->message[0] != '\0',
                   "%s: error %zu (%s) has an empty message", what, i, e->field);
    }
}

static size_t lim_or(size_t configured, size_t hard) {
    return configured < hard ? configured : hard;
}

static void check_spec(const sched_spec_t *s, const api_limits_t *lim) {
    size_t layers = lim_or(lim->max_layers, TRAINER_MAX_HIDDEN);
    size_t neurons = lim_or(lim->max_neurons, TRAINER_MAX_WIDTH);
    size_t iters = lim_or(lim->max_iterations, TRAINER_MAX_ITERATIONS);
    size_t batch = lim_or(lim->max_batch_size, TRAINER_MAX_BATCH);
#define AXIS_OK(n) ((n) >= 1 && (n) <= SCHED_MAX_AXIS)
    if (s->n_layers) {
        FUZZ_CHECK(AXIS_OK(s->n_layers), "%zu layer lists", s->n_layers);
        for (size_t i = 0; i < s->n_layers; i++) {
            FUZZ_CHECK(s->layers[i].n_hidden <= layers, "layers[%zu]: depth %zu", i,
                       s->layers[i].n_hidden);
            for (size_t j = 0; j < s->layers[i].n_hidden; j++)
                FUZZ_CHECK(s->layers[i].hidden[j] >= 1 && s->layers[i].hidden[j] <= neurons,
                           "layers[%zu][%zu] = %zu", i, j, s->layers[i].hidden[j]);
        }
    } else {
        FUZZ_CHECK(AXIS_OK(s->n_hidden_layers) && AXIS_OK(s->n_neurons), "shape axes %zu, %zu",
                   s->n_hidden_layers, s->n_neurons);
        for (size_t i = 0; i < s->n_hidden_layers; i++)
            FUZZ_CHECK(s->hidden_layers[i] <= layers, "hidden_layers %zu", s->hidden_layers[i]);
        for (size_t i = 0; i < s->n_neurons; i++)
            FUZZ_CHECK(s->neurons[i] >= 1 && s->neurons[i] <= neurons, "neurons %zu",
                       s->neurons[i]);
    }
    FUZZ_CHECK(AXIS_OK(s->n_activation) && AXIS_OK(s->n_batch_size) && AXIS_OK(s->n_momentum) &&
                   AXIS_OK(s->n_learning_rate) && AXIS_OK(s->n_iterations),
               "an axis is empty or too long");
#undef AXIS_OK
    for (size_t i = 0; i < s->n_activation; i++)
        FUZZ_CHECK(s->activation[i] == TRAINER_ACT_SIGMOID ||
                       s->activation[i] == TRAINER_ACT_RELU || s->activation[i] == TRAINER_ACT_TANH,
                   "activation %d", (int)s->activation[i]);
    for (size_t i = 0; i < s->n_batch_size; i++)
        FUZZ_CHECK(s->batch_size[i] >= 1 && s->batch_size[i] <= batch, "batch_size %zu",
                   s->batch_size[i]);
    /* The trainer takes rates and momenta as float32: the range must hold there too. */
    for (size_t i = 0; i < s->n_momentum; i++)
        FUZZ_CHECK(s->momentum[i] >= 0 && (float)s->momentum[i] < 1.0f, "momentum %.17g",
                   s->momentum[i]);
    for (size_t i = 0; i < s->n_learning_rate; i++)
        FUZZ_CHECK((float)s->learning_rate[i] > 0 && isfinite((float)s->learning_rate[i]),
                   "learning_rate %.17g", s->learning_rate[i]);
    for (size_t i = 0; i < s->n_iterations; i++)
        FUZZ_CHECK(s->iterations[i] >= 1 && s->iterations[i] <= iters, "iterations %zu",
                   s->iterations[i]);
    FUZZ_CHECK(s->validation_split >= 0 && s->validation_split < 1, "validation_split %g",
               s->validation_split);
    FUZZ_CHECK(s->seed <= INT64_MAX, "seed %llu", (unsigned long long)s->seed);
}

static int in_sizes(const size_t *v, size_t n, size_t x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int in_reals(const double *v, size_t n, double x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static void check_expand(const sched_spec_t *s, size_t max_trials) {
    size_t count = sched_grid_count(s);
    FUZZ_CHECK(count >= 1 && count <= max_trials, "%zu trials, limit %zu", count, max_trials);
    sched_params_t *t = NULL;
    size_t n = 0;
    int rc = sched_grid_expand(s, max_trials, &t, &n);
    FUZZ_CHECK(rc == 0 && n >= 1 && n <= count, "expand: rc %d, %zu of %zu trials", rc, n, count);
    for (size_t i = 0; i < n; i++) {
        const sched_params_t *p = &t[i];
        FUZZ_CHECK(in_sizes(s->batch_size, s->n_batch_size, p->batch_size) &&
                       in_sizes(s->iterations, s->n_iterations, p->iterations) &&
                       in_reals(s->momentum, s->n_momentum, p->momentum) &&
                       in_reals(s->learning_rate, s->n_learning_rate, p->learning_rate) &&
                       p->validation_split == s->validation_split && p->seed == s->seed,
                   "trial %zu has a value the spec does not have", i);
        if (!s->n_layers) {
            FUZZ_CHECK(in_sizes(s->hidden_layers, s->n_hidden_layers, p->shape.n_hidden),
                       "trial %zu: %zu hidden layers", i, p->shape.n_hidden);
            for (size_t l = 0; l < p->shape.n_hidden; l++)
                FUZZ_CHECK(in_sizes(s->neurons, s->n_neurons, p->shape.hidden[l]),
                           "trial %zu: width %zu", i, p->shape.hidden[l]);
        }
    }
    free(t);
}

/* A drawn trial's values within the limits (the checks check_spec makes of a grid's axes). */
static void check_draw(const sched_params_t *p, const api_limits_t *lim, uint64_t k) {
    size_t layers = lim_or(lim->max_layers, TRAINER_MAX_HIDDEN);
    size_t neurons = lim_or(lim->max_neurons, TRAINER_MAX_WIDTH);
    size_t iters = lim_or(lim->max_iterations, TRAINER_MAX_ITERATIONS);
    size_t batch = lim_or(lim->max_batch_size, TRAINER_MAX_BATCH);
    FUZZ_CHECK(p->shape.n_hidden <= layers, "draw %llu: depth %zu", (unsigned long long)k,
               p->shape.n_hidden);
    for (size_t l = 0; l < p->shape.n_hidden; l++)
        FUZZ_CHECK(p->shape.hidden[l] >= 1 && p->shape.hidden[l] <= neurons, "draw %llu: width %zu",
                   (unsigned long long)k, p->shape.hidden[l]);
    FUZZ_CHECK(p->batch_size >= 1 && p->batch_size <= batch, "draw %llu: batch_size %zu",
               (unsigned long long)k, p->batch_size);
    FUZZ_CHECK(p->iterations >= 1 && p->iterations <= iters, "draw %llu: iterations %zu",
               (unsigned long long)k, p->iterations);
    FUZZ_CHECK(p->momentum >= 0 && (float)p->momentum < 1.0f, "draw %llu: momentum %.17g",
               (unsigned long long)k, p->momentum);
    FUZZ_CHECK((float)p->learning_rate > 0 && isfinite((float)p->learning_rate),
               "draw %llu: learning_rate %.17g", (unsigned long long)k, p->learning_rate);
}

static void check_space(const sched_space_t *sp, const api_limits_t *lim) {
    size_t max_trials = lim->max_trials ? lim->max_trials : SCHED_DEFAULT_MAX_TRIALS;
    FUZZ_CHECK(sp->type == SCHED_SEARCH_RANDOM || sp->type == SCHED_SEARCH_TPE,
               "sampling with type %d", (int)sp->type);
    FUZZ_CHECK(sp->max_trials >= 1 && sp->max_trials <= max_trials, "max_trials %zu",
               sp->max_trials);
    for (size_t i = 0; i < SCHED_PARAM_MAX + 2; i++) {
        const sched_dim_t *d = i < SCHED_PARAM_MAX    ? &sp->dim[i]
                               : i == SCHED_PARAM_MAX ? &sp->hidden_layers
                                                      : &sp->neurons;
        if (d->kind == SCHED_DIM_LIST)
            FUZZ_CHECK(d->n >= 1 && d->n <= SCHED_MAX_AXIS, "dimension %zu: %zu values", i, d->n);
        else if (d->kind == SCHED_DIM_RANGE)
            FUZZ_CHECK(d->low <= d->high && (!d->log || d->low > 0), "dimension %zu: [%g, %g]%s", i,
                       d->low, d->high, d->log ? " log" : "");
    }
    for (uint64_t k = 0; k < 16; k++) {
        sched_params_t p;
        sched_space_draw(sp, sp->seed, k, &p);
        check_draw(&p, lim, k);
    }
    /* TPE over the same space: proposals from observations of the first draws (values from
     * the draw's learning rate, some pruned) stay within the space, as the draws do */
    sched_tpe_obs_t obs[12];
    for (uint64_t k = 0; k < 12; k++) {
        memset(&obs[k], 0, sizeof obs[k]);
        sched_space_draw(sp, sp->seed, k, &obs[k].params);
        obs[k].number = k;
        obs[k].pruned = k % 3 == 2;
        obs[k].step = (int64_t)(k % 4);
        obs[k].value = k == 5 ? NAN : fmod(obs[k].params.learning_rate * 7.3 + (double)k, 1.0);
    }
    for (uint64_t k = 12; k < 14; k++) {
        sched_params_t p;
        FUZZ_CHECK(sched_tpe_propose(sp, sp->seed, k, 3, obs, 12, &p) == 0, "tpe %llu",
                   (unsigned long long)k);
        check_draw(&p, lim, k);
    }
}

static void validate_sweep(const json_t *body, const api_limits_t *lim) {
    api_sweep_body_t *out = malloc(sizeof(*out)), *again = malloc(sizeof(*again));
    api_errors_t *errs = malloc(sizeof(*errs)), *errs2 = malloc(sizeof(*errs2));
    FUZZ_CHECK(out && again && errs && errs2, "malloc");
    api_errors_init(errs);
    api_errors_init(errs2);
    int rc = api_validate_sweep(body, lim, out, errs);
    int rc2 = api_validate_sweep(body, lim, again, errs2);
    FUZZ_CHECK(rc == 0 || rc == 422, "api_validate_sweep returned %d", rc);
    FUZZ_CHECK(rc == rc2 && errs->n == errs2->n, "validation is not repeatable");
    if (rc == 0) {
        FUZZ_CHECK(errs->n == 0 && errs->dropped == 0, "0 with %zu errors", errs->n);
        FUZZ_CHECK(out->dataset_id >= 1 && out->test_dataset_id >= 0, "ids %lld, %lld",
                   (long long)out->dataset_id, (long long)out->test_dataset_id);
        /* training.ranks and sync_every (scheduler/ranks.h): "auto" (0) or within limits */
        size_t max_ranks = lim->max_ranks ? lim->max_ranks : 1;
        FUZZ_CHECK(out->ranks.ranks <= max_ranks, "ranks %zu over %zu", out->ranks.ranks,
                   max_ranks);
        FUZZ_CHECK(out->ranks.sync_every <= SCHED_MAX_SYNC_EVERY, "sync_every %zu",
                   out->ranks.sync_every);
        const char *why;
        FUZZ_CHECK(out->name[0] == '\0' || api_name_check(out->name, &why) == 0, "name \"%s\"",
                   out->name);
        if (out->sampling) {
            check_space(&out->space, lim);
        } else {
            check_spec(&out->spec, lim);
            check_expand(&out->spec, lim->max_trials ? lim->max_trials : SCHED_DEFAULT_MAX_TRIALS);
        }
    } else {
        check_errors(errs, "sweep");
    }
    free(out);
    free(again);
    free(errs);
    free(errs2);
}

static void validate_predict(const json_t *body, size_t features) {
    api_errors_t *errs = malloc(sizeof(*errs));
    FUZZ_CHECK(errs, "malloc");
    api_errors_init(errs);
    float *x = NULL;
    size_t rows = 0;
    int rc = api_validate_predict(body, features, &x, &rows, errs);
    /* validate.h: 0, or MLPT_EINVAL with errs filled (the handler answers 422) */
    FUZZ_CHECK(rc == 0 || rc == MLPT_EINVAL, "api_validate_predict returned %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(x && rows >= 1 && rows <= API_MAX_PREDICT_ROWS && errs->n == 0,
                   "%zu rows, %zu errors", rows, errs->n);
        for (size_t i = 0; i < rows * features; i++)
            FUZZ_CHECK(isfinite(x[i]), "value %zu is %g", i, (double)x[i]);
    } else {
        FUZZ_CHECK(x == NULL && rows == 0, "422 with rows");
        check_errors(errs, "predict");
    }
    free(x);
    free(errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char detail[256] = "";
    json_t *body = api_json_parse((const char *)data, size, detail, sizeof(detail));
    if (!body) {
        FUZZ_CHECK(detail[0] != '\0', "a refused body without a detail");
        return 0;
    }
    api_limits_t lim;
    api_limits_init(&lim);
    validate_sweep(body, &lim);
    lim.max_trials = 6;
    lim.max_neurons = 8;
    lim.max_layers = 2;
    lim.max_iterations = 50;
    lim.max_batch_size = 16;
    lim.max_ranks = 3;
    validate_sweep(body, &lim);
    validate_predict(body, 1 + size % 4);
    json_decref(body);
    return 0;
}
