/*
 * tests/support/sched_fixtures.h - helpers shared by the scheduler tests (test_grid.c,
 * test_sched.c): the research's seed grid as a spec (hidden layers {1,2} x neurons {500,1000} x
 * learning rate {0.1,0.5}, sigmoid, batch 64, 10 iterations, validation 0.2, seed 42).
 *
 * Header-only (static inline) because each test executable is built from its one .c file.
 */
#ifndef SCHED_FIXTURES_H
#define SCHED_FIXTURES_H

#include "sched.h"

static inline sched_spec_t fx_seed_grid(void) {
    sched_spec_t s = {0};
    s.n_hidden_layers = 2;
    s.hidden_layers[0] = 1;
    s.hidden_layers[1] = 2;
    s.n_neurons = 2;
    s.neurons[0] = 500;
    s.neurons[1] = 1000;
    s.n_learning_rate = 2;
    s.learning_rate[0] = 0.1;
    s.learning_rate[1] = 0.5;
    s.n_iterations = 1;
    s.iterations[0] = 10;
    s.n_activation = 1;
    s.activation[0] = TRAINER_ACT_SIGMOID;
    s.n_batch_size = 1;
    s.batch_size[0] = 64;
    s.n_momentum = 1;
    s.momentum[0] = 0.0;
    s.validation_split = 0.2;
    s.seed = 42;
    return s;
}

#endif
