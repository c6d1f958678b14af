/*
 * tests/fuzz/fuzz_sweep_more.c - libFuzzer harness for the bodies of the routes that make a
 * sweep go on (api/validate.h): a warm start's trials (api_validate_trials) against a grid sweep
 * and a random sweep, and an extend (api_validate_extend).
 *
 * Input: the request body as a client sends it (plain JSON files in the corpus), parsed as the
 * server parses it. Each is validated with the default limits and with small ones (max_trials
 * 6, max_neurons 8, max_layers 2, max_iterations 50, max_batch_size 16, max_model_mb 1 on a
 * dataset of 784 features and 10 classes). Invariants:
 *   - each returns 0 or MLPT_EINVAL, the same twice in a row;
 *   - MLPT_EINVAL: at least one error, each with a non-empty, terminated field path (a top-level
 *     member, "body", "trials" or "trials[i]..." with i below the body's count, unless a member
 *     is itself named "trials[...") and message;
 *   - trials, 0: 1 .. max_trials trials, each within the limits (depth, widths, batch size,
 *     iterations; a positive learning rate) and a model within max_model_mb;
 *   - extend, 0: something to extend; 0 .. max_trials trials, ids >= 1 and distinct, iterations
 *     1 .. max_iterations; budgets positive when given.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_util.h"
#include "json_util.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "problem.h"
#include "validate.h"

#define FEATURES 784
#define CLASSES 10

/* Whether the body has a member whose own name looks like a trial's path (an unknown member,
 * named as it is). */
static int odd_member(const json_t *body) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) if (!strncmp(key, "trials[", 7)) return 1;
    return 0;
}

static void check_errors(const api_errors_t *errs, size_t n_items, int odd, const char *what) {
    FUZZ_CHECK(errs->n + errs->dropped > 0, "%s: refused without an error", what);
    for (size_t i = 0; i < errs->n; i++) {
        const api_field_error_t *e = &errs->items[i];
        FUZZ_CHECK(memchr(e->field, '\0', sizeof e->field) && e->field[0], "%s: empty field", what);
        FUZZ_CHECK(memchr(e->message, '\0', sizeof e->message) && e->message[0],
                   "%s: %s has an empty message", what, e->field);
        if (!odd && !strncmp(e->field, "trials[", 7)) {
            size_t k = strtoul(e->field + 7, NULL, 10);
            FUZZ_CHECK(k < n_items, "%s: %s names a trial past %zu", what, e->field, n_items);
        }
    }
}

static void check_trial(const sched_params_t *p, const api_limits_t *lim) {
    FUZZ_CHECK(p->shape.n_hidden <= lim->max_layers && p->shape.n_hidden <= TRAINER_MAX_HIDDEN,
               "depth %zu", p->shape.n_hidden);
    for (size_t l = 0; l < p->shape.n_hidden; l++)
        FUZZ_CHECK(p->shape.hidden[l] >= 1 && p->shape.hidden[l] <= lim->max_neurons, "width %zu",
                   p->shape.hidden[l]);
    FUZZ_CHECK(p->batch_size >= 1 && p->batch_size <= lim->max_batch_size, "batch %zu",
               p->batch_size);
    FUZZ_CHECK(p->iterations >= 1 && p->iterations <= lim->max_iterations, "iterations %zu",
               p->iterations);
    FUZZ_CHECK(p->learning_rate > 0 && isfinite(p->learning_rate), "lr %g", p->learning_rate);
    trainer_arch_t arch;
    sched_params_arch(p, FEATURES, CLASSES, &arch);
    double bytes = 4.0 * (double)trainer_arch_param_count(&arch) + 8.0 * FEATURES;
    FUZZ_CHECK(bytes <= (double)lim->max_model_bytes, "model of %.0f bytes", bytes);
}

/* The sweeps a warm start is checked against: a grid and a random search. */
static int sweep_of(const char *spec, const api_limits_t *lim, api_sweep_body_t *b) {
    json_error_t jerr;
    json_t *j = json_loads(spec, 0, &jerr);
    api_errors_t *errs = malloc(sizeof *errs);
    api_errors_init(errs);
    int rc = j ? api_validate_sweep(j, lim, b, errs) : -1;
    json_decref(j);
    free(errs);
    return rc;
}

static void one(const json_t *body, const api_limits_t *lim, const api_sweep_body_t *sweep) {
    api_errors_t *e1 = malloc(sizeof *e1), *e2 = malloc(sizeof *e2);
    api_errors_init(e1);
    api_errors_init(e2);
    sched_params_t *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    size_t items = json_array_size(json_object_get(body, "trials"));
    int rc1 = api_validate_trials(body, sweep, FEATURES, CLASSES, lim, &t1, &n1, e1);
    int rc2 = api_validate_trials(body, sweep, FEATURES, CLASSES, lim, &t2, &n2, e2);
    FUZZ_CHECK(rc1 == 0 || rc1 == MLPT_EINVAL, "trials: rc %d", rc1);
    FUZZ_CHECK(rc1 == rc2 && n1 == n2, "trials: %d then %d", rc1, rc2);
    if (rc1 == 0) {
        FUZZ_CHECK(n1 >= 1 && n1 <= lim->max_trials && n1 == items, "%zu trials", n1);
        for (size_t i = 0; i < n1; i++)
            check_trial(&t1[i], lim);
    } else {
        check_errors(e1, items, odd_member(body), "trials");
    }
    free(t1);
    free(t2);
    api_extend_body_t x1, x2;
    api_errors_init(e1);
    api_errors_init(e2);
    rc1 = api_validate_extend(body, lim, &x1, e1);
    rc2 = api_validate_extend(body, lim, &x2, e2);
    FUZZ_CHECK(rc1 == 0 || rc1 == MLPT_EINVAL, "extend: rc %d", rc1);
    FUZZ_CHECK(rc1 == rc2, "extend: %d then %d", rc1, rc2);
    if (rc1 == 0) {
        FUZZ_CHECK(x1.budget || x1.n_trials, "extend: nothing");
        FUZZ_CHECK(x1.n_trials <= lim->max_trials, "extend: %zu trials", x1.n_trials);
        FUZZ_CHECK(x1.max_trials <= lim->max_trials, "extend: max_trials %zu", x1.max_trials);
        FUZZ_CHECK(x1.max_seconds >= 0 && isfinite(x1.max_seconds), "max_seconds");
        for (size_t i = 0; i < x1.n_trials; i++) {
            FUZZ_CHECK(x1.trials[i].trial_id >= 1, "id %lld", (long long)x1.trials[i].trial_id);
            FUZZ_CHECK(x1.trials[i].iterations >= 1 &&
                           x1.trials[i].iterations <= lim->max_iterations,
                       "iterations %zu", x1.trials[i].iterations);
            for (size_t k = 0; k < i; k++)
                FUZZ_CHECK(x1.trials[k].trial_id != x1.trials[i].trial_id, "id twice");
        }
    } else {
        check_errors(e1, items, odd_member(body), "extend");
    }
    free(x1.trials);
    free(x2.trials);
    free(e1);
    free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static api_limits_t big, small;
    static api_sweep_body_t *grid[2], *random[2];
    static int ready;
    if (!ready) {
        api_limits_init(&big);
        small = big;
        small.max_trials = 6;
        small.max_neurons = 8;
        small.max_layers = 2;
        small.max_iterations = 50;
        small.max_batch_size = 16;
        small.max_model_bytes = (size_t)1 << 20;
        const api_limits_t *lims[2] = {&big, &small};
        for (int k = 0; k < 2; k++) {
            grid[k] = malloc(sizeof *grid[k]);
            random[k] = malloc(sizeof *random[k]);
            FUZZ_CHECK(sweep_of("{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1, 2], "
                                "\"neurons\": [4, 8], \"learning_rate\": [0.1], "
                                "\"iterations\": [5]}, \"training\": {\"batch_size\": 16}}",
                                lims[k], grid[k]) == 0,
                       "the grid sweep does not validate");
            FUZZ_CHECK(sweep_of("{\"dataset_id\": 1, \"search\": {\"type\": \"random\", "
                                "\"max_trials\": 5}, \"space\": {\"hidden_layers\": {\"low\": 1, "
                                "\"high\": 2}, \"neurons\": [8], \"learning_rate\": {\"low\": "
                                "0.01, \"high\": 1, \"log\": true}, \"iterations\": [5]}}",
                                lims[k], random[k]) == 0,
                       "the random sweep does not validate");
        }
        ready = 1;
    }
    char detail[300];
    json_t *body = api_json_parse((const char *)data, size, detail, sizeof detail);
    if (!body)
        return 0;
    one(body, &big, grid[0]);
    one(body, &big, random[0]);
    one(body, &small, grid[1]);
    one(body, &small, random[1]);
    json_decref(body);
    return 0;
}
