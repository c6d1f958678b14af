/*
 * tests/test_api_validate.c - request validation: sweep bodies (defaults, overrides, explicit
 * layers, every limit, unknown members anywhere, exact field paths, an exploding grid refused
 * before expansion), predict bodies, query arguments, names.
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
#include "mlpt_err.h"
#include "validate.h"

#define GRID                                                                                       \
    "\"grid\": {\"hidden_layers\": [1, 2], \"neurons\": [8], \"learning_rate\": [0.1], "           \
    "\"iterations\": [5]}"

static api_limits_t limits(void) {
    api_limits_t l;
    api_limits_init(&l);
    return l;
}

/* Validates text (a JSON body) with lim; returns the status and fills *b and *e. */
static int run(const char *text, const api_limits_t *lim, api_sweep_body_t *b, api_errors_t *e) {
    char detail[256];
    json_t *j = api_json_parse(text, strlen(text), detail, sizeof(detail));
    if (!j)
        fail_msg("test body does not parse: %s (%s)", detail, text);
    api_errors_init(e);
    int rc = api_validate_sweep(j, lim, b, e);
    json_decref(j);
    return rc;
}

typedef struct bad_case {
    const char *body;
    const char *field;   /* errors[0].field */
    const char *message; /* a substring of errors[0].message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* 1 */ {"[]", "body", "must be a JSON object"},
    {"{" GRID "}", "dataset_id", "is required"},
    {"{\"dataset_id\": \"3\", " GRID "}", "dataset_id", "must be an integer"},
    {"{\"dataset_id\": 0, " GRID "}", "dataset_id", "must be a positive integer"},
    {"{\"dataset_id\": 1.5, " GRID "}", "dataset_id", "must be an integer"},
    {"{\"dataset_id\": 1, \"foo\": 1, " GRID "}", "foo", "unknown field"},
    {"{\"dataset_id\": 1, \"test_dataset_id\": -2, " GRID "}", "test_dataset_id",
     "must be a positive integer"},
    {"{\"dataset_id\": 1, \"name\": 5, " GRID "}", "name", "must be a string"},
    {"{\"dataset_id\": 1, \"name\": \"\", " GRID "}", "name", "must not be empty"},
    /* 10 */ {"{\"dataset_id\": 1, \"name\": \"a\\u0001b\", " GRID "}", "name", "control"},
    {"{\"dataset_id\": 1}", "grid", "is required"},
    {"{\"dataset_id\": 1, \"grid\": [1]}", "grid", "must be an object"},
    {"{\"dataset_id\": 1, \"grid\": {\"neurons\": [8], \"learning_rate\": [0.1], "
     "\"iterations\": [5]}}",
     "grid.hidden_layers", "is required"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"learning_rate\": [0.1], "
     "\"iterations\": [5]}}",
     "grid.neurons", "is required when hidden_layers"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"iterations\": [5]}}",
     "grid.learning_rate", "is required"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1]}}",
     "grid.iterations", "is required"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1, -0.5], \"iterations\": [5]}}",
     "grid.learning_rate[1]", "must be > 0"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1, 0], \"iterations\": [5]}}",
     "grid.learning_rate[1]", "must be > 0"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [\"fast\"], \"iterations\": [5]}}",
     "grid.learning_rate[0]", "must be a number"},
    /* 20 */
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": 0.1, \"iterations\": [5]}}",
     "grid.learning_rate", "must be an array"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.hidden_layers", "must not be empty"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1, 9], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.hidden_layers[1]", "exceeds the limit max_layers (8)"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [-1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.hidden_layers[0]", "must be >= 0"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8, 5000], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.neurons[1]", "5000 exceeds the limit max_neurons (4096)"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [0], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.neurons[0]", "must be >= 1"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8.5], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.neurons[0]", "must be an integer"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [10001]}}",
     "grid.iterations[0]", "exceeds the limit max_iterations (10000)"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [0]}}",
     "grid.iterations[0]", "must be >= 1"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5], \"batch_size\": [32, 9000]}}",
     "grid.batch_size[1]", "exceeds the limit max_batch_size (8192)"},
    /* 30 */
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5], \"activation\": [\"relu\", "
     "\"swish\"]}}",
     "grid.activation[1]", "must be one of"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5], \"momentum\": [0.9, 1.0]}}",
     "grid.momentum[1]", "must be >= 0 and < 1"},
    {"{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
     "\"learning_rate\": [0.1], \"iterations\": [5], \"dropout\": [0.5]}}",
     "grid.dropout", "unknown field"},
    {"{\"dataset_id\": 1, \"grid\": {\"layers\": [[8, 8]], \"hidden_layers\": [1], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.layers", "either layers or hidden_layers"},
    {"{\"dataset_id\": 1, \"grid\": {\"layers\": [[500, 500], [500, 0, 2000]], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.layers[1][1]", "must be >= 1"},
    {"{\"dataset_id\": 1, \"grid\": {\"layers\": [[8], [1, 2, 3, 4, 5, 6, 7, 8, 9]], "
     "\"learning_rate\": [0.1], \"iterations\": [5]}}",
     "grid.layers[1]", "exceeds the limit max_layers (8)"},
    {"{\"dataset_id\": 1, \"grid\": {\"layers\": [[8], 8], \"learning_rate\": [0.1], "
     "\"iterations\": [5]}}",
     "grid.layers[1]", "must be an array of layer widths"},
    {"{\"dataset_id\": 1, \"grid\": {\"layers\": [[8, 9000]], \"learning_rate\": [0.1], "
     "\"iterations\": [5]}}",
     "grid.layers[0][1]", "exceeds the limit max_neurons (4096)"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": 3}", "training", "must be an object"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"batch_size\": 0}}", "training.batch_size",
     "must be >= 1"},
    /* 40 */
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"batch_size\": 100000}}", "training.batch_size",
     "exceeds the limit max_batch_size (8192)"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"validation_split\": 1}}",
     "training.validation_split", "must be >= 0 and < 1"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"validation_split\": -0.1}}",
     "training.validation_split", "must be >= 0 and < 1"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"seed\": -1}}", "training.seed",
     "must be >= 0"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"seed\": \"42\"}}", "training.seed",
     "must be an integer"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"activation\": \"gelu\"}}",
     "training.activation", "must be one of"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"epochs\": 3}}", "training.epochs",
     "unknown field"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"momentum\": \"high\"}}", "training.momentum",
     "must be a number"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"scaling\": \"log\"}}", "training.scaling",
     "must be one of"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"scaling\": 1}}", "training.scaling",
     "must be one of"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"init\": \"xavier\"}}", "training.init",
     "must be one of"},
    {"{\"dataset_id\": 1, " GRID ", \"training\": {\"init\": null}}", "training.init",
     "must be one of"},
};

static void test_bad_sweep_bodies(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    assert_non_null(b);
    assert_non_null(e);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        int rc = run(c->body, &lim, b, e);
        if (rc != 422 || e->n == 0 || strcmp(e->items[0].field, c->field) != 0 ||
            !strstr(e->items[0].message, c->message))
            fail_msg("case %zu: %s\n  got %d, %zu errors, first %s: %s", i + 1, c->body, rc, e->n,
                     e->n ? e->items[0].field : "-", e->n ? e->items[0].message : "-");
    }
    free(b);
    free(e);
}

static void test_all_errors_are_listed_in_order(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    const char *body = "{\"dataset_id\": 0, \"x\": 1, \"y\": 2, \"grid\": {\"hidden_layers\": [1], "
                       "\"neurons\": [8], \"learning_rate\": [0.1, -1, 0], \"iterations\": [5]}, "
                       "\"training\": {\"batch_size\": 0, \"z\": true}}";
    assert_int_equal(run(body, &lim, b, e), 422);
    const char *want[] = {"x",
                          "y",
                          "dataset_id",
                          "grid.learning_rate[1]",
                          "grid.learning_rate[2]",
                          "training.z",
                          "training.batch_size"};
    assert_int_equal(e->n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < e->n; i++)
        assert_string_equal(e->items[i].field, want[i]);
    free(b);
    free(e);
}

static void test_defaults_and_overrides(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    assert_int_equal(run("{\"dataset_id\": 3, " GRID "}", &lim, b, e), 0);
    assert_int_equal(b->dataset_id, 3);
    assert_int_equal(b->test_dataset_id, 0);
    assert_string_equal(b->name, "");
    assert_int_equal(b->spec.n_activation, 1);
    assert_int_equal(b->spec.activation[0], TRAINER_ACT_RELU);
    assert_int_equal(b->spec.n_batch_size, 1);
    assert_int_equal(b->spec.batch_size[0], 64);
    assert_int_equal(b->spec.n_momentum, 1);
    assert_true(b->spec.momentum[0] == 0.0);
    assert_true(b->spec.validation_split == 0.2);
    assert_int_equal(b->spec.seed, 42);
    assert_int_equal(b->spec.scaling, SCHED_SCALING_AUTO);
    assert_int_equal(b->spec.init, TRAINER_INIT_AUTO);
    assert_int_equal(b->spec.n_hidden_layers, 2);
    assert_int_equal(b->spec.n_neurons, 1);
    assert_int_equal(sched_grid_count(&b->spec), 2);

    /* training scalars, then grid axes that override them */
    assert_int_equal(run("{\"dataset_id\": 3, \"name\": \"s\", \"test_dataset_id\": null, "
                         "\"grid\": {\"hidden_layers\": [1], \"neurons\": [8], "
                         "\"learning_rate\": [0.5], \"iterations\": [5], \"batch_size\": [16, 32], "
                         "\"activation\": [\"tanh\", \"sigmoid\"]}, \"training\": {\"activation\": "
                         "\"relu\", \"batch_size\": 128, \"momentum\": 0.9, \"validation_split\": "
                         "0, \"seed\": 7, \"scaling\": \"minmax\", \"init\": \"sklearn\"}}",
                         &lim, b, e),
                     0);
    assert_string_equal(b->name, "s");
    assert_int_equal(b->spec.n_batch_size, 2);
    assert_int_equal(b->spec.batch_size[1], 32);
    assert_int_equal(b->spec.n_activation, 2);
    assert_int_equal(b->spec.activation[0], TRAINER_ACT_TANH);
    assert_int_equal(b->spec.n_momentum, 1);
    assert_true(b->spec.momentum[0] == 0.9);
    assert_true(b->spec.validation_split == 0.0);
    assert_int_equal(b->spec.seed, 7);
    assert_int_equal(b->spec.scaling, SCHED_SCALING_MINMAX);
    assert_int_equal(b->spec.init, TRAINER_INIT_SKLEARN);
    assert_int_equal(sched_grid_count(&b->spec), 4);
    free(b);
    free(e);
}

static void test_explicit_layers_and_zero_depth(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"layers\": [[500, 500, 2000], [], [7]], "
                         "\"learning_rate\": [0.1], \"iterations\": [5]}}",
                         &lim, b, e),
                     0);
    assert_int_equal(b->spec.n_layers, 3);
    assert_int_equal(b->spec.layers[0].n_hidden, 3);
    assert_int_equal(b->spec.layers[0].hidden[2], 2000);
    assert_int_equal(b->spec.layers[1].n_hidden, 0);
    assert_int_equal(b->spec.n_hidden_layers, 0);
    assert_int_equal(sched_grid_count(&b->spec), 3);
    /* only 0 hidden layers: neurons may be left out, the grid still counts one shape */
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [0], "
                         "\"learning_rate\": [0.1, 0.2], \"iterations\": [5]}}",
                         &lim, b, e),
                     0);
    assert_int_equal(sched_grid_count(&b->spec), 2);
    free(b);
    free(e);
}

static void test_exploding_grid_is_refused_before_expansion(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    /* 8 x 8 x 8 x 8 = 4096 trials > 1000 */
    const char *body = "{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1,2,3,4,5,6,7,8], "
                       "\"neurons\": [1,2,3,4,5,6,7,8], \"learning_rate\": [1,2,3,4,5,6,7,8], "
                       "\"iterations\": [1,2,3,4,5,6,7,8]}}";
    assert_int_equal(run(body, &lim, b, e), 422);
    assert_int_equal(e->n, 1);
    assert_string_equal(e->items[0].field, "grid");
    assert_string_equal(e->items[0].message,
                        "expands to 4096 trials, which exceeds the limit max_trials (1000)");
    lim.max_trials = 5000;
    assert_int_equal(run(body, &lim, b, e), 0);
    /* an axis longer than SCHED_MAX_AXIS */
    char big[1024];
    size_t n = (size_t)snprintf(big, sizeof(big),
                                "{\"dataset_id\": 1, \"grid\": {\"hidden_layers\""
                                ": [1], \"neurons\": [8], \"iterations\": [5], "
                                "\"learning_rate\": [0.1");
    for (int i = 0; i < SCHED_MAX_AXIS; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, ",0.1");
    snprintf(big + n, sizeof(big) - n, "]}}");
    assert_int_equal(run(big, &lim, b, e), 422);
    assert_string_equal(e->items[0].field, "grid.learning_rate");
    assert_non_null(strstr(e->items[0].message, "at most 64"));
    free(b);
    free(e);
}

static void test_configured_limits_are_named(void **state) {
    (void)state;
    api_limits_t lim = limits();
    lim.max_neurons = 100;
    lim.max_layers = 2;
    lim.max_iterations = 50;
    lim.max_batch_size = 16;
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [3], \"neurons\": "
                         "[101], \"learning_rate\": [0.1], \"iterations\": [51]}}",
                         &lim, b, e),
                     422);
    assert_int_equal(e->n, 3); /* the default batch (64) is lowered to max_batch_size: no error */
    assert_string_equal(e->items[0].message, "3 exceeds the limit max_layers (2)");
    assert_string_equal(e->items[1].message, "101 exceeds the limit max_neurons (100)");
    assert_string_equal(e->items[2].field, "grid.iterations[0]");
    free(b);
    free(e);
}

/* The report's case: 65,000 features and one layer of 4096 make a 1.06 GB model; the same
 * check on small cases with a lowered limit. */
static void test_model_size(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *e = malloc(sizeof(*e));
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [1], \"neurons\": "
                         "[64, 4096], \"learning_rate\": [0.1], \"iterations\": [5]}}",
                         &lim, b, e),
                     0);
    /* 1,065 MB: under the default 1024 MiB (1,074 MB), so stored as a file; refused at 1000 */
    api_errors_init(e);
    assert_int_equal(api_validate_model_size(&b->spec, 65000, 10, &lim, e), 0);
    lim.max_model_bytes = (size_t)1000 << 20;
    assert_int_equal(api_validate_model_size(&b->spec, 65000, 10, &lim, e), 422);
    assert_int_equal(e->n, 1);
    assert_string_equal(e->items[0].field, "grid.neurons[1]");
    assert_non_null(strstr(e->items[0].message, "over the limit max_model_mb (1000)"));
    assert_non_null(strstr(e->items[0].message, "1 hidden layers of 4096 neurons on 65000"));
    api_errors_init(e);
    assert_int_equal(api_validate_model_size(&b->spec, 60000, 10, &lim, e), 0); /* 983 MB */
    assert_int_equal(e->n, 0);

    /* a neuron width is blamed once, at the depth that makes it biggest; explicit layers by
     * their index; no hidden layer by hidden_layers */
    lim.max_model_bytes = (size_t)1 << 20; /* 1 MiB: 262,144 floats */
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"hidden_layers\": [0, 1, 3], "
                         "\"neurons\": [8, 300, 2000], \"learning_rate\": [0.1], "
                         "\"iterations\": [5]}}",
                         &lim, b, e),
                     0);
    api_errors_init(e);
    /* 100 features: 8 wide is tiny; 300 wide x 3 = 100*300 + 2*300*300 = 210,000 floats, fits;
     * 2000 wide is 4 M floats */
    assert_int_equal(api_validate_model_size(&b->spec, 100, 3, &lim, e), 422);
    assert_int_equal(e->n, 1);
    assert_string_equal(e->items[0].field, "grid.neurons[2]");
    assert_non_null(strstr(e->items[0].message, "3 hidden layers of 2000 neurons"));
    api_errors_init(e);
    /* 300,000 features: even no hidden layer is over (600,000 floats) */
    assert_int_equal(api_validate_model_size(&b->spec, 300000, 2, &lim, e), 422);
    assert_string_equal(e->items[0].field, "grid.hidden_layers[0]");
    assert_string_equal(e->items[1].field, "grid.neurons[0]");
    assert_int_equal(run("{\"dataset_id\": 1, \"grid\": {\"layers\": [[10, 10], [500, 600]], "
                         "\"learning_rate\": [0.1], \"iterations\": [5]}}",
                         &lim, b, e),
                     0);
    api_errors_init(e);
    assert_int_equal(api_validate_model_size(&b->spec, 400, 1, &lim, e), 422);
    assert_int_equal(e->n, 1);
    assert_string_equal(e->items[0].field, "grid.layers[1]");
    assert_non_null(strstr(e->items[0].message, "on 400 features and 2 classes"));
    free(b);
    free(e);
}

static void test_predict_bodies(void **state) {
    (void)state;
    api_errors_t *e = malloc(sizeof(*e));
    float *x = NULL;
    size_t rows = 0;
    struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{}", "rows"},
        {"{\"rows\": 1}", "rows"},
        {"{\"rows\": []}", "rows"},
        {"{\"rows\": [[1, 2, 3], [1, 2]]}", "rows[1]"},
        {"{\"rows\": [[1, \"a\", 3]]}", "rows[0][1]"},
        {"{\"rows\": [[1, 2, 1e300]]}", "rows[0][2]"},
        {"{\"rows\": [7]}", "rows[0]"},
        {"{\"rows\": [[1, 2, 3]], \"model\": 1}", "model"},
        {"[1]", "body"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i].body, 0, NULL);
        assert_non_null(j);
        api_errors_init(e);
        assert_int_equal(api_validate_predict(j, 3, &x, &rows, e), MLPT_EINVAL);
        assert_null(x);
        assert_string_equal(e->items[0].field, bad[i].field);
        json_decref(j);
    }
    json_t *j = json_loads("{\"rows\": [[1, 2.5, -3], [0, 0, 1e-3]]}", 0, NULL);
    api_errors_init(e);
    assert_int_equal(api_validate_predict(j, 3, &x, &rows, e), 0);
    assert_int_equal(rows, 2);
    assert_true(x[1] == 2.5f && x[2] == -3.0f && x[5] == 1e-3f);
    free(x);
    json_decref(j);
    free(e);
}

static void test_query_arguments(void **state) {
    (void)state;
    api_request_t req;
    api_errors_t *e = malloc(sizeof(*e));
    const char *allowed[] = {"limit", "cursor", "status", "sort", "since", NULL};
    size_t limit;
    int64_t since;
    const char *s;
    memset(&req, 0, sizeof(req));
    api_errors_init(e);
    assert_int_equal(api_query_limit(&req, &limit, e), 0);
    assert_int_equal(limit, API_DEFAULT_LIMIT);
    assert_int_equal(api_query_since(&req, &since, e), 0);
    assert_int_equal(since, 0);
    req.query[0] = (api_kv_t){"limit", "1001"};
    req.query[1] = (api_kv_t){"since", "-1"};
    req.query[2] = (api_kv_t){"status", "done"};
    req.query[3] = (api_kv_t){"sort", "-params"};
    req.query[4] = (api_kv_t){"colour", "red"};
    req.n_query = 5;
    assert_int_equal(api_validate_query(&req, allowed, e), MLPT_EINVAL);
    assert_string_equal(e->items[0].field, "query.colour");
    assert_int_equal(api_query_limit(&req, &limit, e), MLPT_EINVAL);
    assert_int_equal(api_query_since(&req, &since, e), MLPT_EINVAL);
    assert_int_equal(api_query_sweep_status(&req, &s, e), MLPT_EINVAL);
    assert_int_equal(api_query_trial_sort(&req, &s, e), MLPT_EINVAL);
    assert_int_equal(e->n, 5);
    assert_string_equal(e->items[1].field, "query.limit");
    assert_string_equal(e->items[2].field, "query.since");
    assert_string_equal(e->items[3].field, "query.status");
    assert_string_equal(e->items[4].field, "query.sort");
    req.query[0] = (api_kv_t){"limit", "1000"};
    req.query[1] = (api_kv_t){"since", "12"};
    req.query[2] = (api_kv_t){"status", "running"};
    req.query[3] = (api_kv_t){"sort", "-best_val_accuracy"};
    req.n_query = 4;
    api_errors_init(e);
    assert_int_equal(api_validate_query(&req, allowed, e), 0);
    assert_int_equal(api_query_limit(&req, &limit, e), 0);
    assert_int_equal(limit, 1000);
    assert_int_equal(api_query_since(&req, &since, e), 0);
    assert_int_equal(since, 12);
    assert_int_equal(api_query_sweep_status(&req, &s, e), 0);
    assert_string_equal(s, "running");
    assert_int_equal(api_query_trial_sort(&req, &s, e), 0);
    assert_string_equal(s, "-best_val_accuracy");
    req.query_overflow = 1;
    assert_int_equal(api_validate_query(&req, allowed, e), MLPT_EINVAL);
    assert_string_equal(e->items[0].field, "query");
    free(e);
}

/* "pruner": each member checked with its path, unknown ones refused, defaults filled. */
static void test_pruner_member(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t b;
    api_errors_t e;
    static const bad_case_t bad[] = {
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": 3}", "pruner", "must be an object"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {}}", "pruner.type", "is required"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"bohb\"}}", "pruner.type",
         "must be one of"},
        {"{\"dataset_id\": 1, " GRID
         ", \"pruner\": {\"type\": \"hyperband\", \"min_iterations\": 4, \"max_iterations\": 2}}",
         "pruner.max_iterations", "must be >= min_iterations (4)"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"hyperband\", \"eta\": 3}}",
         "pruner.eta", "unknown field"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"asha\", \"eta\": 3}}",
         "pruner.eta", "unknown field"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"asha\", \"reduction_factor\": 1}}",
         "pruner.reduction_factor", "between 2 and 100"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"asha\", \"min_iterations\": 0}}",
         "pruner.min_iterations", "between 1 and"},
        {"{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"median\", \"min_trials\": \"3\"}}",
         "pruner.min_trials", "must be an integer"},
        {"{\"dataset_id\": 1, " GRID
         ", \"pruner\": {\"type\": \"median\", \"reduction_factor\": 3}}",
         "pruner.reduction_factor", "unknown field"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(bad[i].body, &lim, &b, &e), 422);
        assert_true(e.n >= 1);
        assert_string_equal(e.items[0].field, bad[i].field);
        assert_non_null(strstr(e.items[0].message, bad[i].message));
    }
    assert_int_equal(run("{\"dataset_id\": 1, " GRID "}", &lim, &b, &e), 0);
    assert_int_equal(b.pruner.type, SCHED_PRUNER_NONE);
    assert_int_equal(run("{\"dataset_id\": 1, " GRID ", \"pruner\": null}", &lim, &b, &e), 0);
    assert_int_equal(b.pruner.type, SCHED_PRUNER_NONE);
    assert_int_equal(
        run("{\"dataset_id\": 1, " GRID ", \"pruner\": {\"type\": \"asha\"}}", &lim, &b, &e), 0);
    assert_int_equal(b.pruner.type, SCHED_PRUNER_ASHA);
    assert_int_equal(b.pruner.min_iterations, 1);
    assert_int_equal(b.pruner.reduction_factor, 3);
    assert_int_equal(run("{\"dataset_id\": 1, " GRID
                         ", \"pruner\": {\"type\": \"median\", \"warmup_iterations\": 2}}",
                         &lim, &b, &e),
                     0);
    assert_int_equal(b.pruner.type, SCHED_PRUNER_MEDIAN);
    assert_int_equal(b.pruner.warmup_iterations, 2);
    assert_int_equal(b.pruner.min_trials, 3);
    /* training.early_stopping: allowed in training, checked with its path */
    assert_int_equal(run("{\"dataset_id\": 1, " GRID
                         ", \"training\": {\"early_stopping\": {\"metric\": \"val_accuracy\", "
                         "\"patience\": 3}}}",
                         &lim, &b, &e),
                     0);
    assert_int_equal(b.early_stop.metric, SCHED_ES_VAL_ACCURACY);
    assert_int_equal(b.early_stop.patience, 3);
    assert_int_equal(run("{\"dataset_id\": 1, " GRID
                         ", \"training\": {\"early_stopping\": {\"patience\": -1}}}",
                         &lim, &b, &e),
                     422);
    assert_string_equal(e.items[0].field, "training.early_stopping.patience");
}

/* training.ranks and training.sync_every (scheduler/ranks.h): default one rank and "auto";
 * "auto" or a count up to the service's ranks (max_ranks); anything else 422 naming the field;
 * the same for random searches. */
static void test_ranks_members(void **state) {
    (void)state;
    api_limits_t lim = limits();
    api_sweep_body_t b;
    api_errors_t e;
    assert_int_equal(run("{\"dataset_id\": 1, " GRID "}", &lim, &b, &e), 0);
    assert_int_equal(b.ranks.ranks, 1);
    assert_int_equal(b.ranks.sync_every, 0);
    assert_int_equal(run("{\"dataset_id\": 1, " GRID
                         ", \"training\": {\"ranks\": \"auto\", \"sync_every\": 8}}",
                         &lim, &b, &e),
                     0);
    assert_int_equal(b.ranks.ranks, 0);
    assert_int_equal(b.ranks.sync_every, 8);
    assert_int_equal(
        run("{\"dataset_id\": 1, " GRID ", \"training\": {\"ranks\": 1}}", &lim, &b, &e), 0);
    /* One process: 2 ranks are refused, naming the count; a 3-rank service takes them. */
    assert_int_equal(
        run("{\"dataset_id\": 1, " GRID ", \"training\": {\"ranks\": 2}}", &lim, &b, &e), 422);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.items[0].field, "training.ranks");
    assert_non_null(strstr(e.items[0].message, "exceeds the ranks this service runs (1)"));
    lim.max_ranks = 3;
    assert_int_equal(run("{\"dataset_id\": 1, " GRID
                         ", \"training\": {\"ranks\": 3, \"sync_every\": \"auto\"}}",
                         &lim, &b, &e),
                     0);
    assert_int_equal(b.ranks.ranks, 3);
    static const struct {
        const char *training, *field;
    } bad[] = {
        {"{\"ranks\": 0}", "training.ranks"},
        {"{\"ranks\": 4}", "training.ranks"},
        {"{\"ranks\": -1}", "training.ranks"},
        {"{\"ranks\": 2.5}", "training.ranks"},
        {"{\"ranks\": \"many\"}", "training.ranks"},
        {"{\"ranks\": null}", "training.ranks"},
        {"{\"ranks\": [2]}", "training.ranks"},
        {"{\"sync_every\": 0}", "training.sync_every"},
        {"{\"sync_every\": 65537}", "training.sync_every"},
        {"{\"sync_every\": \"often\"}", "training.sync_every"},
        {"{\"sync_every\": {}}", "training.sync_every"},
        {"{\"rank\": 2}", "training.rank"}, /* unknown members stay refused */
    };
    char body[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{\"dataset_id\": 1, " GRID ", \"training\": %s}",
                 bad[i].training);
        if (run(body, &lim, &b, &e) != 422 || e.n != 1 || strcmp(e.items[0].field, bad[i].field))
            fail_msg("%s: expected one error on %s, got %zu (%s)", bad[i].training, bad[i].field,
                     (size_t)e.n, e.n ? e.items[0].field : "-");
    }
    /* A random search takes them too. */
    lim.max_ranks = 1;
    assert_int_equal(run("{\"dataset_id\": 1, \"search\": {\"type\": \"random\", \"max_trials\": "
                         "4}, \"space\": {\"hidden_layers\": [1], \"neurons\": [8], "
                         "\"learning_rate\": [0.1], \"iterations\": [2]}, \"training\": "
                         "{\"ranks\": 2}}",
                         &lim, &b, &e),
                     422);
    assert_string_equal(e.items[0].field, "training.ranks");
}

static void test_names(void **state) {
    (void)state;
    const char *why;
    char long_name[200];
    memset(long_name, 'a', sizeof(long_name));
    long_name[API_MAX_NAME] = '\0';
    assert_int_equal(api_name_check("iris", &why), 0);
    assert_int_equal(api_name_check("Fashion MNIST – 3k", &why), 0);
    assert_int_equal(api_name_check(long_name, &why), 0);
    long_name[API_MAX_NAME] = 'a';
    long_name[API_MAX_NAME + 1] = '\0';
    assert_int_equal(api_name_check(long_name, &why), -1);
    assert_int_equal(api_name_check("", &why), -1);
    assert_int_equal(api_name_check("a\tb", &why), -1);
    assert_int_equal(api_name_check("\xc0\xaf", &why), -1);     /* overlong '/' */
    assert_int_equal(api_name_check("\xed\xa0\x80", &why), -1); /* a surrogate */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_sweep_bodies),
        cmocka_unit_test(test_all_errors_are_listed_in_order),
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_explicit_layers_and_zero_depth),
        cmocka_unit_test(test_exploding_grid_is_refused_before_expansion),
        cmocka_unit_test(test_configured_limits_are_named),
        cmocka_unit_test(test_model_size),
        cmocka_unit_test(test_predict_bodies),
        cmocka_unit_test(test_query_arguments),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_pruner_member),
        cmocka_unit_test(test_ranks_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
