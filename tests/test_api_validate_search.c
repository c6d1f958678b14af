/*
 * tests/test_api_validate_search.c - a sweep's `search` and `space` (api/validate_search.c):
 * every field error with its path, a random space into dimensions and base values, a grid given
 * as a space equal to the same grid, tpe refused for now.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "params.h"
#include "validate.h"

#define SPACE                                                                                      \
    "\"space\": {\"hidden_layers\": [1, 2, 3], \"neurons\": [64, 128], \"learning_rate\": "        \
    "{\"low\": 0.01, \"high\": 1.0, \"log\": true}, \"batch_size\": [32, 64], \"activation\": "    \
    "[\"relu\", \"sigmoid\"], \"iterations\": [27]}"
#define RANDOM "\"search\": {\"type\": \"random\", \"max_trials\": 60, \"seed\": 7}"
/* a space with one dimension replaced: SP("learning_rate", "...") */
#define SP(key, val)                                                                               \
    "\"space\": {\"hidden_layers\": [1], \"neurons\": [8], \"learning_rate\": [0.1], "             \
    "\"iterations\": [5], \"" key "\": " val "}"

static int run(const char *text, api_sweep_body_t *b, api_errors_t *e) {
    char detail[256];
    api_limits_t lim;
    api_limits_init(&lim);
    lim.max_trials = 100;
    json_t *j = api_json_parse(text, strlen(text), detail, sizeof(detail));
    if (!j)
        fail_msg("test body does not parse: %s (%s)", detail, text);
    api_errors_init(e);
    int rc = api_validate_sweep(j, &lim, b, e);
    json_decref(j);
    return rc;
}

typedef struct bad_case {
    const char *body, *field, *message;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"{\"dataset_id\": 1, \"grid\": {}, " RANDOM ", " SPACE "}", "grid", "either grid or search"},
    {"{\"dataset_id\": 1, " RANDOM "}", "space", "is required with search"},
    {"{\"dataset_id\": 1, " RANDOM ", \"space\": [1]}", "space", "must be an object"},
    {"{\"dataset_id\": 1, \"search\": 3, " SPACE "}", "search", "must be an object"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": 5, \"x\": 1}, " SPACE
     "}",
     "search.x", "unknown field"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"bayes\"}, " SPACE "}", "search.type",
     "must be one of grid, random, tpe"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\"}, " SPACE "}", "search.max_trials",
     "is required for random and tpe search"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 5, "
     "\"n_startup_trials\": -1}, " SPACE "}",
     "search.n_startup_trials", "must be >= 0"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 5, "
     "\"n_startup_trials\": 1.5}, " SPACE "}",
     "search.n_startup_trials", "integer"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 5, "
     "\"n_startup_trials\": 100001}, " SPACE "}",
     "search.n_startup_trials", "<= 100000"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": 5, "
     "\"n_startup_trials\": 3}, " SPACE "}",
     "search.n_startup_trials", "applies to search.type tpe only"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 5}, " SP("layers",
                                                                                   "[[4]]") "}",
     "space.layers", "not supported by random and tpe search"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": 1}, " SPACE "}", "search.type", "must be one of"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\"}, " SPACE "}", "search.max_trials",
     "is required for random and tpe search"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": 0}, " SPACE "}",
     "search.max_trials", "must be >= 1"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": 101}, " SPACE "}",
     "search.max_trials", "exceeds the limit max_trials (100)"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_seconds\": 0}, " SPACE "}",
     "search.max_seconds", "must be > 0"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_seconds\": \"1\"}, " SPACE "}",
     "search.max_seconds", "must be a number"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_iterations_total\": -1}, " SPACE
     "}",
     "search.max_iterations_total", "must be >= 1"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": 3, \"seed\": "
     "-1}, " SPACE "}",
     "search.seed", "must be >= 0"},
    {"{\"dataset_id\": 1, \"search\": {\"max_trials\": 3}, " SPACE "}", "search",
     "budgets apply to random and tpe search"},
    {"{\"dataset_id\": 1, " RANDOM ", \"space\": {\"neurons\": [8], \"learning_rate\": [0.1], "
     "\"iterations\": [5]}}",
     "space.hidden_layers", "is required"},
    {"{\"dataset_id\": 1, " RANDOM ", \"space\": {\"hidden_layers\": [1], \"learning_rate\": "
     "[0.1], \"iterations\": [5]}}",
     "space.neurons", "is required when hidden_layers"},
    {"{\"dataset_id\": 1, " RANDOM ", \"space\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"iterations\": [5]}}",
     "space.learning_rate", "is required"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("foo", "[1]") "}", "space.foo", "unknown field"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("layers", "[[4]]") "}", "space.layers",
     "not supported by random and tpe search"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "[]") "}", "space.momentum",
     "must not be empty"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "[0.5, 1.5]") "}", "space.momentum[1]", ""},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "3") "}", "space.momentum",
     "must be an array of values or a range"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("activation", "{\"low\": 1, \"high\": 2}") "}",
     "space.activation", "must be an array of choices"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("activation", "[\"relu\", \"nope\"]") "}",
     "space.activation[1]", ""},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "{\"high\": 0.5}") "}", "space.momentum.low",
     "is required"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "{\"low\": 0.5}") "}", "space.momentum.high",
     "is required"},
    {"{\"dataset_id\": 1, " RANDOM
     ", " SP("momentum", "{\"low\": 0.5, \"high\": 0.6, \"x\": 1}") "}",
     "space.momentum.x", "unknown field"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("momentum", "{\"low\": 0.5, \"high\": 0.4}") "}",
     "space.momentum.high", "must be >= low"},
    {"{\"dataset_id\": 1, " RANDOM
     ", " SP("momentum", "{\"low\": 0.0, \"high\": 0.4, \"log\": true}") "}",
     "space.momentum.low", "must be > 0 when log is true"},
    {"{\"dataset_id\": 1, " RANDOM
     ", " SP("momentum", "{\"low\": 0.1, \"high\": 0.4, \"log\": 1}") "}",
     "space.momentum.log", "must be true or false"},
    {"{\"dataset_id\": 1, " RANDOM ", "
     "\"space\": {\"hidden_layers\": [1], \"neurons\": [8], \"iterations\": [5], "
     "\"learning_rate\": {\"low\": -1, \"high\": 0.4}}"
     "}",
     "space.learning_rate.low", "must be > 0"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("batch_size", "{\"low\": 1.5, \"high\": 4}") "}",
     "space.batch_size.low", "integer"},
    {"{\"dataset_id\": 1, " RANDOM ", " SP("batch_size", "{\"low\": 1, \"high\": 100000}") "}",
     "space.batch_size.high", "max_batch_size"},
    {"{\"dataset_id\": 1, " RANDOM ", "
     "\"space\": {\"hidden_layers\": {\"low\": 0, \"high\": 99}, \"neurons\": [8], \"iterations\": "
     "[5], \"learning_rate\": [0.1]}"
     "}",
     "space.hidden_layers.high", "max_layers"},
    {"{\"dataset_id\": 1, " RANDOM ", "
     "\"space\": {\"hidden_layers\": [1], \"neurons\": {\"low\": 0, \"high\": 9}, \"iterations\": "
     "[5], \"learning_rate\": [0.1]}"
     "}",
     "space.neurons.low", "must be >= 1"},
    /* a grid given as a space: lists only, with the space's paths */
    {"{\"dataset_id\": 1, " SP("momentum", "{\"low\": 0.1, \"high\": 0.4}") "}", "space.momentum",
     "must be an array"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"grid\"}, " SP("batch_size", "[0]") "}",
     "space.batch_size[0]", ""},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"grid\"}, \"space\": {\"hidden_layers\": [1], "
     "\"neurons\": [8], \"learning_rate\": [0.1, 0.2, 0.3, 0.4, 0.5], \"iterations\": [1, 2, 3, 4, "
     "5], \"batch_size\": [1, 2, 3, 4, 5]}}",
     "space", "expands to 125 trials"},
    /* pruners with sampling searches: the same member errors as on a grid */
    {"{\"dataset_id\": 1, " RANDOM ", " SPACE ", \"pruner\": {\"type\": \"asha\", \"x\": 1}}",
     "pruner.x", "unknown field"},
    {"{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 5}, " SPACE
     ", \"pruner\": {\"type\": \"hyperband\", \"reduction_factor\": 1}}",
     "pruner.reduction_factor", "between 2 and 100"},
    {"{\"dataset_id\": 1, " RANDOM ", " SPACE
     ", \"training\": {\"early_stopping\": {\"patience\": 0}}}",
     "training.early_stopping.patience", "between 1 and"},
};

static void test_field_errors(void **state) {
    (void)state;
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t e;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *c = &bad_cases[i];
        int rc = run(c->body, b, &e);
        if (rc != 422 || e.n == 0 || strcmp(e.items[0].field, c->field) != 0 ||
            !strstr(e.items[0].message, c->message))
            fail_msg("case %zu: got %d, %zu errors, first %s: %s (wanted %s: %s)", i + 1, rc, e.n,
                     e.n ? e.items[0].field : "-", e.n ? e.items[0].message : "-", c->field,
                     c->message);
    }
    free(b);
}

static void test_random_space(void **state) {
    (void)state;
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t e;
    assert_int_equal(run("{\"dataset_id\": 1, " RANDOM ", " SPACE
                         ", \"training\": {\"momentum\": 0.5, \"validation_split\": 0.25}}",
                         b, &e),
                     0);
    assert_true(b->sampling);
    const sched_space_t *sp = &b->space;
    assert_int_equal(sp->type, SCHED_SEARCH_RANDOM);
    assert_int_equal(sp->max_trials, 60);
    assert_int_equal(sp->seed, 7);
    assert_int_equal(sp->hidden_layers.kind, SCHED_DIM_LIST);
    assert_int_equal(sp->hidden_layers.n, 3);
    assert_int_equal(sp->neurons.list[1].i, 128);
    size_t lr = (size_t)(sched_param_find("learning_rate") - sched_param_table);
    assert_int_equal(sp->dim[lr].kind, SCHED_DIM_RANGE);
    assert_true(sp->dim[lr].log);
    assert_true(sp->dim[lr].low == 0.01 && sp->dim[lr].high == 1.0);
    size_t mo = (size_t)(sched_param_find("momentum") - sched_param_table);
    assert_int_equal(sp->dim[mo].kind, SCHED_DIM_NONE);
    assert_true(sp->base.momentum == 0.5);
    assert_true(sp->base.validation_split == 0.25);
    /* the model size check sees the deepest, widest model */
    assert_int_equal(b->spec.hidden_layers[0], 3);
    assert_int_equal(b->spec.neurons[0], 128);
    /* without max_trials another budget suffices; the server's limit bounds the count */
    assert_int_equal(run("{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_seconds\": "
                         "60}, " SPACE "}",
                         b, &e),
                     0);
    assert_int_equal(b->space.max_trials, 100);
    assert_true(b->space.max_seconds == 60.0);
    free(b);
}

/* TPE: the type, its startup trials (default 10), and pruners and early stopping with it. */
static void test_tpe_space_and_pruners(void **state) {
    (void)state;
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t e;
    assert_int_equal(
        run("{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 20}, " SPACE
            ", \"pruner\": {\"type\": \"hyperband\", \"max_iterations\": 27}, "
            "\"training\": {\"early_stopping\": {\"patience\": 3}}}",
            b, &e),
        0);
    assert_true(b->sampling);
    assert_int_equal(b->space.type, SCHED_SEARCH_TPE);
    assert_int_equal(b->space.n_startup_trials, 10);
    assert_int_equal(b->space.max_trials, 20);
    assert_int_equal(b->pruner.type, SCHED_PRUNER_HYPERBAND);
    assert_int_equal(b->pruner.max_iterations, 27);
    assert_int_equal(b->early_stop.patience, 3);
    assert_int_equal(run("{\"dataset_id\": 1, \"search\": {\"type\": \"tpe\", \"max_trials\": 20, "
                         "\"n_startup_trials\": 0}, " SPACE ", \"pruner\": {\"type\": \"asha\"}}",
                         b, &e),
                     0);
    assert_int_equal(b->space.n_startup_trials, 0);
    assert_int_equal(b->pruner.type, SCHED_PRUNER_ASHA);
    assert_int_equal(run("{\"dataset_id\": 1, " RANDOM ", " SPACE
                         ", \"pruner\": {\"type\": \"median\"}}",
                         b, &e),
                     0);
    assert_int_equal(b->space.type, SCHED_SEARCH_RANDOM);
    assert_int_equal(b->pruner.type, SCHED_PRUNER_MEDIAN);
    free(b);
}

/* A grid given as a space of lists (search absent or type grid) is exactly that grid. */
static void test_grid_as_space(void **state) {
    (void)state;
    api_sweep_body_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    api_errors_t e;
    const char *lists = "{\"hidden_layers\": [1, 2], \"neurons\": [8, 16], \"learning_rate\": "
                        "[0.1, 0.2], \"iterations\": [5], \"batch_size\": [32]}";
    char x[512], y[512];
    snprintf(x, sizeof x, "{\"dataset_id\": 1, \"grid\": %s}", lists);
    snprintf(y, sizeof y, "{\"dataset_id\": 1, \"search\": {\"type\": \"grid\"}, \"space\": %s}",
             lists);
    assert_int_equal(run(x, a, &e), 0);
    assert_int_equal(run(y, b, &e), 0);
    assert_false(b->sampling);
    assert_memory_equal(&a->spec, &b->spec, sizeof a->spec);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_random_space),
        cmocka_unit_test(test_tpe_space_and_pruners),
        cmocka_unit_test(test_grid_as_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
