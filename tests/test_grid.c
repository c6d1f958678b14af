/* test_grid.c - grid expansion: the documented order, duplicates, limits, explicit layer lists,
 * and trial parameters to JSON and back (old rows without "scaling" or "init" included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "mlpt_err.h"
#include "sched.h"
#include "sched_fixtures.h"

static void test_grid_order(void **state) {
    (void)state;
    sched_spec_t spec = fx_seed_grid();
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_count(&spec), 8);
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 8);
    /* shape outer (hidden_layers, then neurons), learning rate inner */
    size_t depth[8] = {1, 1, 1, 1, 2, 2, 2, 2};
    size_t width[8] = {500, 500, 1000, 1000, 500, 500, 1000, 1000};
    double lr[8] = {0.1, 0.5, 0.1, 0.5, 0.1, 0.5, 0.1, 0.5};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(t[i].shape.n_hidden, depth[i]);
        assert_int_equal(t[i].shape.hidden[0], width[i]);
        assert_int_equal(t[i].shape.hidden[depth[i] - 1], width[i]);
        assert_true(t[i].learning_rate == lr[i]);
        assert_int_equal(t[i].iterations, 10);
        assert_int_equal(t[i].seed, 42);
    }
    free(t);
}

static void test_grid_duplicates_and_limits(void **state) {
    (void)state;
    sched_spec_t spec = fx_seed_grid();
    spec.hidden_layers[1] = 0; /* 0 hidden layers ignores neurons: two identical trials */
    spec.learning_rate[1] = 0.1;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 3); /* (1x500), (1x1000), (0) */
    assert_int_equal(t[2].shape.n_hidden, 0);
    free(t);
    spec = fx_seed_grid();
    assert_int_equal(sched_grid_expand(&spec, 7, &t, &n), MLPT_ELIMIT);
    assert_null(t);
    spec.n_learning_rate = 0;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), MLPT_EINVAL);
    /* An exploding grid saturates instead of overflowing. */
    spec = fx_seed_grid();
    spec.n_layers = 0;
    spec.n_hidden_layers = spec.n_neurons = spec.n_learning_rate = spec.n_iterations =
        spec.n_batch_size = spec.n_momentum = spec.n_activation = SCHED_MAX_AXIS;
    assert_true(sched_grid_count(&spec) >= (size_t)1 << 40);
}

static void test_grid_explicit_layers_and_json(void **state) {
    (void)state;
    sched_spec_t spec = fx_seed_grid();
    spec.n_layers = 2;
    spec.layers[0] = (sched_shape_t){.n_hidden = 3, .hidden = {500, 500, 2000}};
    spec.layers[1] = (sched_shape_t){.n_hidden = 1, .hidden = {64}};
    spec.n_learning_rate = 1;
    spec.init = TRAINER_INIT_TORCH;
    sched_params_t *t;
    size_t n;
    assert_int_equal(sched_grid_expand(&spec, 100, &t, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(t[1].init, TRAINER_INIT_TORCH);
    json_t *o = sched_params_to_json(&t[0]);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "hidden_layers")), 3);
    assert_true(json_is_null(json_object_get(o, "neurons")));
    assert_string_equal(json_string_value(json_object_get(o, "activation")), "sigmoid");
    assert_string_equal(json_string_value(json_object_get(o, "init")), "torch");
    sched_params_t back;
    assert_int_equal(sched_params_from_json(o, &back), 0);
    assert_memory_equal(&back.shape, &t[0].shape, sizeof back.shape);
    assert_true(back.learning_rate == t[0].learning_rate);
    assert_int_equal(back.init, TRAINER_INIT_TORCH);
    /* stored before "init" existed: auto; an unknown rule is a damaged row */
    json_object_del(o, "init");
    assert_int_equal(sched_params_from_json(o, &back), 0);
    assert_int_equal(back.init, TRAINER_INIT_AUTO);
    json_object_set_new(o, "init", json_string("lecun"));
    assert_int_equal(sched_params_from_json(o, &back), MLPT_EFORMAT);
    json_object_set_new(o, "init", json_string("he"));
    json_object_set_new(o, "batch_size", json_integer(0));
    assert_int_equal(sched_params_from_json(o, &back), MLPT_EFORMAT);
    json_decref(o);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_order),
        cmocka_unit_test(test_grid_duplicates_and_limits),
        cmocka_unit_test(test_grid_explicit_layers_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
