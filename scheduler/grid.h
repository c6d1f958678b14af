/*
 * scheduler/grid.h - a sweep's search space and its expansion into trials.
 *
 * The HTTP layer validates a request body into a sched_spec_t (naming the field of every error);
 * sched_grid_expand turns the spec into the list of trials: the Cartesian product of the axes in
 * a fixed, documented order, duplicates removed. Pure functions: any thread.
 *
 * Expansion order (outermost first): network shape, activation, batch_size, momentum,
 * learning_rate, iterations. Shapes come either from hidden_layers x neurons (hidden_layers
 * outer; 0 hidden layers ignores neurons) or from the explicit "layers" list, in the order given.
 * A trial equal to an earlier one (same shape and values) is dropped. The axes, their order and
 * the trial params JSON all come from the parameter table (params.h): sched_spec_t and
 * sched_params_t hold one member per row, which the table points at.
 */
#ifndef SCHED_GRID_H
#define SCHED_GRID_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "train.h"

#define SCHED_MAX_AXIS 64             /* values per axis */
#define SCHED_DEFAULT_MAX_TRIALS 1000 /* trials per sweep unless configured */

typedef struct sched_shape {
    size_t n_hidden;
    size_t hidden[TRAINER_MAX_HIDDEN];
} sched_shape_t;

/* The answer to "how are this trial's inputs scaled": the dataset's own rule (auto: IDX pixels
 * as read, CSV standardised) or one the sweep names. Fitted on each trial's training split. */
typedef enum sched_scaling {
    SCHED_SCALING_AUTO = 0,
    SCHED_SCALING_STANDARDIZE,
    SCHED_SCALING_MINMAX,
    SCHED_SCALING_NONE,
    SCHED_SCALING_GLOBAL_MINMAX,
} sched_scaling_t;

/* (Their names are the "scaling" row's choices in the parameter table, params.h.) */

/* How a trial's rows are split into training and validation: by class (stratified rows), by
 * group (every row of a subject on one side: trainer_split_grouped), or auto (by group when the
 * dataset has group ids: a recording or its windows; else by class). */
typedef enum sched_split_by {
    SCHED_SPLIT_AUTO = 0,
    SCHED_SPLIT_CLASS,
    SCHED_SPLIT_GROUP,
} sched_split_by_t;

#define SCHED_MAX_TEST_GROUPS 64 /* subjects a sweep's "test": {"subjects": [...]} may name */

typedef struct sched_spec {
    /* Shapes: either explicit (n_layers > 0) or hidden_layers x neurons. */
    size_t n_layers;
    sched_shape_t layers[SCHED_MAX_AXIS];
    size_t n_hidden_layers;
    size_t hidden_layers[SCHED_MAX_AXIS];
    size_t n_neurons;
    size_t neurons[SCHED_MAX_AXIS];
    /* The other axes; each has at least one value. */
    size_t n_activation;
    trainer_activation_t activation[SCHED_MAX_AXIS];
    size_t n_batch_size;
    size_t batch_size[SCHED_MAX_AXIS];
    size_t n_momentum;
    double momentum[SCHED_MAX_AXIS];
    size_t n_learning_rate;
    double learning_rate[SCHED_MAX_AXIS];
    size_t n_iterations;
    size_t iterations[SCHED_MAX_AXIS];
    /* dropout */
    size_t n_dropout_input;
    double dropout_input[SCHED_MAX_AXIS];
    size_t n_dropout_hidden;
    double dropout_hidden[SCHED_MAX_AXIS];
    /* The optimiser, its regularisation and schedule (issue 16; trainer/train.h). */
    size_t n_optimizer;
    trainer_optimizer_t optimizer[SCHED_MAX_AXIS];
    size_t n_beta1;
    double beta1[SCHED_MAX_AXIS];
    size_t n_beta2;
    double beta2[SCHED_MAX_AXIS];
    size_t n_epsilon;
    double epsilon[SCHED_MAX_AXIS];
    size_t n_rho;
    double rho[SCHED_MAX_AXIS];
    size_t n_l2;
    double l2[SCHED_MAX_AXIS];
    size_t n_weight_decay;
    double weight_decay[SCHED_MAX_AXIS];
    size_t n_schedule;
    trainer_schedule_t schedule[SCHED_MAX_AXIS];
    size_t n_lr_gamma;
    double lr_gamma[SCHED_MAX_AXIS];
    size_t n_lr_step;
    size_t lr_step[SCHED_MAX_AXIS];
    size_t n_lr_min;
    double lr_min[SCHED_MAX_AXIS];
    size_t n_power_t;
    double power_t[SCHED_MAX_AXIS];
    size_t n_warmup;
    size_t warmup[SCHED_MAX_AXIS];
    /* Fixed for the whole sweep. */
    double validation_split;
    uint64_t seed;
    sched_scaling_t scaling;
    trainer_init_t init;
    sched_split_by_t split_by;
    /* Not a table row: the subjects (group ids) held out of training and validation as the
     * sweep's test set ("test": {"subjects": [...]}); copied into every trial. */
    size_t n_test_groups;
    int32_t test_groups[SCHED_MAX_TEST_GROUPS];
} sched_spec_t;

/* One trial's hyperparameters. */
typedef struct sched_params {
    sched_shape_t shape;
    trainer_activation_t activation;
    size_t batch_size;
    double momentum;
    double learning_rate;
    size_t iterations;
    double validation_split;
    uint64_t seed;
    sched_scaling_t scaling;
    trainer_init_t init;
    sched_split_by_t split_by;
    /* dropout */
    double dropout_input;
    double dropout_hidden;
    trainer_optimizer_t optimizer;
    double beta1, beta2, epsilon, rho, l2, weight_decay;
    trainer_schedule_t schedule;
    double lr_gamma;
    size_t lr_step;
    double lr_min, power_t;
    size_t warmup;
    size_t n_test_groups; /* as in sched_spec_t; stored as "test_subjects" when not 0 */
    int32_t test_groups[SCHED_MAX_TEST_GROUPS];
} sched_params_t;

/* Number of trials the spec expands to before duplicates are removed (saturates at SIZE_MAX):
 * lets a caller refuse an exploding grid before expanding it. */
size_t sched_grid_count(const sched_spec_t *spec);

/* Expands spec into *out (malloc'd array, caller frees) of *n trials in the documented order,
 * duplicates removed. Returns 0; MLPT_EINVAL for an empty axis; MLPT_ELIMIT when more than
 * max_trials trials would result (nothing is allocated then); MLPT_ENOMEM. */
int sched_grid_expand(const sched_spec_t *spec, size_t max_trials, sched_params_t **out, size_t *n);

/* A trial's parameters as a JSON object (new reference), one member per table row in table
 * order, the shape as {"hidden_layers", "neurons" (the width when all hidden layers are equal,
 * else null), "layers": [widths]}: {"hidden_layers", "neurons", "layers", "activation",
 * "batch_size", "momentum", "learning_rate", "iterations", "validation_split", "seed", "scaling",
 * "init", "split_by"} and, for a sweep testing on subjects, "test_subjects": [ids]. NULL when
 * memory runs out. (Rows flagged SCHED_PARAM_LATE, "scaling" and "init", may
 * be missing from objects stored before they existed: their default.) */
json_t *sched_params_to_json(const sched_params_t *p);

/* Reads an object made by sched_params_to_json back, every value checked against its row's
 * domain. Returns 0 or MLPT_EFORMAT. */
int sched_params_from_json(const json_t *obj, sched_params_t *p);

/* The trainer architecture of a trial on a dataset of `inputs` features and `outputs` classes. */
void sched_params_arch(const sched_params_t *p, size_t inputs, size_t outputs,
                       trainer_arch_t *arch);

#endif
