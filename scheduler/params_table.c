/*
 * params_table.c - the rows of the parameter table (see params.h), in expansion order. Adding a
 * parameter starts here: one row, its member in sched_params_t and sched_spec_t (grid.h), and
 * the trainer code that uses it.
 */
#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* Enum-typed fields are read and written as int. */
_Static_assert(sizeof(trainer_activation_t) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(trainer_init_t) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(sched_scaling_t) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(sched_split_by_t) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(trainer_optimizer_t) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(trainer_schedule_t) == sizeof(int), "enums are int-sized");

static const sched_choice_t activations[] = {
    {"relu", TRAINER_ACT_RELU, NULL},
    {"sigmoid", TRAINER_ACT_SIGMOID, "logistic"},
    {"tanh", TRAINER_ACT_TANH, NULL},
};

static const sched_choice_t scalings[] = {
    {"auto", SCHED_SCALING_AUTO, NULL},     {"standardize", SCHED_SCALING_STANDARDIZE, NULL},
    {"minmax", SCHED_SCALING_MINMAX, NULL}, {"global_minmax", SCHED_SCALING_GLOBAL_MINMAX, NULL},
    {"none", SCHED_SCALING_NONE, NULL},
};

static const sched_choice_t inits[] = {
    {"auto", TRAINER_INIT_AUTO, NULL},   {"glorot", TRAINER_INIT_GLOROT, NULL},
    {"he", TRAINER_INIT_HE, NULL},       {"sklearn", TRAINER_INIT_SKLEARN, NULL},
    {"torch", TRAINER_INIT_TORCH, NULL},
};

static const sched_choice_t optimizers[] = {
    {"sgd", TRAINER_OPT_SGD, NULL},           {"momentum", TRAINER_OPT_MOMENTUM, NULL},
    {"nesterov", TRAINER_OPT_NESTEROV, NULL}, {"adam", TRAINER_OPT_ADAM, NULL},
    {"adamw", TRAINER_OPT_ADAMW, NULL},       {"rmsprop", TRAINER_OPT_RMSPROP, NULL},
};

static const sched_choice_t schedules[] = {
    {"constant", TRAINER_SCHED_CONSTANT, NULL},
    {"step", TRAINER_SCHED_STEP, NULL},
    {"cosine", TRAINER_SCHED_COSINE, NULL},
    {"invscaling", TRAINER_SCHED_INVSCALING, NULL},
};

static const sched_choice_t split_bys[] = {
    {"auto", SCHED_SPLIT_AUTO, NULL},
    {"class", SCHED_SPLIT_CLASS, "stratified"},
    {"group", SCHED_SPLIT_GROUP, NULL},
};

/* The leaderboards' columns, in the rows' column order: shape, learning rate, iterations, batch,
 * activation, momentum (the heatmap's only). */
static const sched_param_column_t shape_columns[] = {
    {"hidden_layers", "Layers", "layers", 6},
    {"neurons", "Neurons", "neurons", 10},
};
static const sched_param_column_t activation_column[] = {
    {"activation", "Activation", "activation", 10}};
static const sched_param_column_t batch_column[] = {{"batch_size", "Batch", "batch", 5}};
static const sched_param_column_t momentum_column[] = {{"momentum", "Momentum", "momentum", 8}};
static const sched_param_column_t rate_column[] = {{"learning_rate", "Learning rate", "lr", 8}};
static const sched_param_column_t iterations_column[] = {
    {"iterations", "Iterations", "iterations", 10}};
/* Issue 16's rows: the heatmap's, not the leaderboards'. */
static const sched_param_column_t optimizer_column[] = {{"optimizer", "Optimizer", "optimizer", 9}};
static const sched_param_column_t beta1_column[] = {{"beta1", "Beta1", "beta1", 6}};
static const sched_param_column_t beta2_column[] = {{"beta2", "Beta2", "beta2", 6}};
static const sched_param_column_t epsilon_column[] = {{"epsilon", "Epsilon", "epsilon", 8}};
static const sched_param_column_t rho_column[] = {{"rho", "Rho", "rho", 6}};
static const sched_param_column_t l2_column[] = {{"l2", "L2", "l2", 8}};
static const sched_param_column_t weight_decay_column[] = {
    {"weight_decay", "Weight decay", "wd", 8}};
static const sched_param_column_t schedule_column[] = {{"schedule", "Schedule", "schedule", 10}};
static const sched_param_column_t lr_gamma_column[] = {{"lr_gamma", "LR gamma", "gamma", 6}};
static const sched_param_column_t lr_step_column[] = {{"lr_step", "LR step", "lr_step", 7}};
static const sched_param_column_t lr_min_column[] = {{"lr_min", "LR min", "lr_min", 8}};
static const sched_param_column_t power_t_column[] = {{"power_t", "Power t", "power_t", 7}};
static const sched_param_column_t warmup_column[] = {{"warmup", "Warmup", "warmup", 6}};
static const sched_param_column_t dropout_input_column[] = {
    {"dropout_input", "Input dropout", "drop_in", 7}};
static const sched_param_column_t dropout_hidden_column[] = {
    {"dropout_hidden", "Hidden dropout", "drop_hid", 8}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define COLUMNS(a, order, board)                                                                   \
    .columns = a, .n_columns = N_OF(a), .column_order = order, .leaderboard = board
#define P_AT(f) .param_off = offsetof(sched_params_t, f)
#define AXIS_AT(f)                                                                                 \
    .spec_off = offsetof(sched_spec_t, f), .spec_n_off = offsetof(sched_spec_t, n_##f)
#define SCALAR_AT(f) .spec_off = offsetof(sched_spec_t, f), .spec_n_off = SIZE_MAX
/* Issue 16's rows: grid axes, training settings and search-space entries, missing from trials
 * stored before them (their defaults are the training of before). */
#define OPT_ROW (SCHED_PARAM_GRID | SCHED_PARAM_TRAINING | SCHED_PARAM_LATE)
#define REAL_ROW(nm, dom, dflt, flg, help, lab, hnt, order, fmin, fmax)                            \
    {                                                                                              \
        .name = #nm, .type = SCHED_PARAM_REAL, .flags = OPT_ROW, .domain = dom, .def = dflt,       \
        .flag = flg, .flag_arg = "F", .flag_help = help, .label = lab, .hint = hnt,                \
        .form_section = "training", .form_order = order, .form_min = fmin, .form_max = fmax,       \
        .form_step = "any", .noun = #nm, COLUMNS(nm##_column, order - 4, 0),                       \
        .store = SCHED_STORE_DOUBLE, P_AT(nm), AXIS_AT(nm)                                         \
    }
#define INT_ROW(nm, lo, dflt, flg, help, lab, hnt, order, fmin)                                    \
    {                                                                                              \
        .name = #nm, .type = SCHED_PARAM_INT, .flags = OPT_ROW, .min = lo,                         \
        .max = TRAINER_MAX_ITERATIONS, .def = dflt, .flag = flg, .flag_arg = "N",                  \
        .flag_help = help, .label = lab, .hint = hnt, .form_section = "training",                  \
        .form_order = order, .form_min = fmin, .form_step = "1", .noun = #nm,                      \
        COLUMNS(nm##_column, order - 4, 0), .store = SCHED_STORE_SIZE, P_AT(nm), AXIS_AT(nm)       \
    }

const sched_param_t sched_param_table[] = {
    {.name = "layers",
     .type = SCHED_PARAM_SHAPE,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_REQUIRED | SCHED_PARAM_MODEL_SHAPE,
     .min = 0,
     .max = TRAINER_MAX_HIDDEN,
     .flag = "hidden",
     .flag_arg = "W1,W2,...",
     .flag_help = "explicit hidden widths, e.g. 500,500,2000",
     .label = "Network shape",
     .hint = "hidden_layers x neurons, or explicit layers",
     .form_section = "grid",
     .form_order = 0,
     .noun = "network shape",
     COLUMNS(shape_columns, 0, 1),
     .store = SCHED_STORE_SHAPE,
     P_AT(shape),
     .spec_off = SIZE_MAX,
     .spec_n_off = SIZE_MAX},
    {.name = "activation",
     .type = SCHED_PARAM_ENUM,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_TRAINING | SCHED_PARAM_MODEL_SHAPE,
     .choices = activations,
     .n_choices = N_OF(activations),
     .def = TRAINER_ACT_RELU,
     .flag = "activation",
     .flag_arg = "A",
     .flag_help = "hidden activation",
     .label = "Activation",
     .form_section = "grid",
     .form_order = 5,
     .noun = "activation",
     COLUMNS(activation_column, 4, 1),
     .store = SCHED_STORE_ENUM,
     P_AT(activation),
     AXIS_AT(activation)},
    {.name = "batch_size",
     .type = SCHED_PARAM_INT,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_TRAINING,
     .min = 1,
     .max = TRAINER_MAX_BATCH,
     .limit = "max_batch_size",
     .def = 64,
     .flag = "batch",
     .flag_arg = "B",
     .flag_help = "mini-batch size",
     .label = "Batch size",
     .hint = "Mini-batch sizes, e.g. 16, 64",
     .form_section = "grid",
     .form_order = 4,
     .form_value = "16",
     .noun = "batch size",
     COLUMNS(batch_column, 3, 1),
     .store = SCHED_STORE_SIZE,
     P_AT(batch_size),
     AXIS_AT(batch_size)},
    {.name = "momentum",
     .type = SCHED_PARAM_REAL,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_TRAINING,
     .domain = SCHED_REAL_UNIT_OPEN,
     .def = 0.0,
     .flag = "momentum",
     .flag_arg = "F",
     .flag_help = "SGD momentum in [0, 1)",
     .label = "Momentum",
     .hint = "SGD momentum, 0 ≤ x < 1.",
     .form_section = "training",
     .form_order = 2,
     .form_min = "0",
     .form_max = "0.99",
     .form_step = "0.05",
     .noun = "momentum",
     COLUMNS(momentum_column, 5, 0),
     .store = SCHED_STORE_DOUBLE,
     P_AT(momentum),
     AXIS_AT(momentum)},
    {.name = "learning_rate",
     .type = SCHED_PARAM_REAL,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_REQUIRED,
     .domain = SCHED_REAL_POSITIVE,
     .def = 0.1,
     .flag = "lr",
     .flag_arg = "F",
     .flag_help = "learning rate",
     .label = "Learning rate",
     .hint = "e.g. 0.01, 0.1",
     .form_section = "grid",
     .form_order = 2,
     .form_value = "0.1",
     .noun = "learning rate",
     COLUMNS(rate_column, 1, 1),
     .store = SCHED_STORE_DOUBLE,
     P_AT(learning_rate),
     AXIS_AT(learning_rate)},
    {.name = "iterations",
     .type = SCHED_PARAM_INT,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_REQUIRED | SCHED_PARAM_RUN_LENGTH,
     .min = 1,
     .max = TRAINER_MAX_ITERATIONS,
     .limit = "max_iterations",
     .def = 10,
     .flag = "iterations",
     .flag_arg = "K",
     .flag_help = "passes over the training split",
     .label = "Iterations",
     .hint = "Passes over the training split, e.g. 50",
     .form_section = "grid",
     .form_order = 3,
     .form_value = "50",
     .noun = "iteration count",
     COLUMNS(iterations_column, 2, 1),
     .store = SCHED_STORE_SIZE,
     P_AT(iterations),
     AXIS_AT(iterations)},
    {.name = "validation_split",
     .type = SCHED_PARAM_REAL,
     .flags = SCHED_PARAM_TRAINING,
     .domain = SCHED_REAL_UNIT_OPEN,
     .def = 0.2,
     .flag = "validation-split",
     .flag_arg = "F",
     .flag_help = "stratified validation fraction in [0, 1)",
     .label = "Validation split",
     .hint = "Fraction of each class held out, 0 ≤ x < 1.",
     .form_section = "training",
     .form_order = 0,
     .form_min = "0",
     .form_max = "0.95",
     .form_step = "0.05",
     .store = SCHED_STORE_DOUBLE,
     P_AT(validation_split),
     SCALAR_AT(validation_split)},
    {.name = "seed",
     .type = SCHED_PARAM_INT,
     .flags = SCHED_PARAM_TRAINING,
     .min = 0,
     .max = INT64_MAX,
     .def = 42,
     .flag = "seed",
     .flag_arg = "S",
     .flag_help = "seeds weights, split and shuffles",
     .label = "Seed",
     .hint = "Weights, split and shuffles.",
     .form_section = "training",
     .form_order = 1,
     .form_min = "0",
     .form_step = "1",
     .store = SCHED_STORE_U64,
     P_AT(seed),
     SCALAR_AT(seed)},
    {.name = "scaling",
     .type = SCHED_PARAM_ENUM,
     .flags = SCHED_PARAM_TRAINING | SCHED_PARAM_LATE,
     .choices = scalings,
     .n_choices = N_OF(scalings),
     .def = SCHED_SCALING_AUTO,
     .flag = "scaling",
     .flag_arg = "R",
     .flag_help = "input scaling fitted on the training split: auto (the data's own:\n"
                  "IDX pixels / 255, CSV standardised), standardize, minmax (per\n"
                  "feature), global_minmax (one range for all: pixels / 255),\n"
                  "none",
     .label = "Input scaling",
     .hint = "auto: IDX pixels / 255, CSV standardised; minmax maps each column to 0..1; "
             "global_minmax one range for all (pixels / 255).",
     .form_section = "training",
     .form_order = 3,
     .store = SCHED_STORE_ENUM,
     P_AT(scaling),
     SCALAR_AT(scaling)},
    {.name = "init",
     .type = SCHED_PARAM_ENUM,
     .flags = SCHED_PARAM_TRAINING | SCHED_PARAM_LATE,
     .choices = inits,
     .n_choices = N_OF(inits),
     .def = TRAINER_INIT_AUTO,
     .flag = "init",
     .flag_arg = "I",
     .flag_help = "initial weights, uniform per layer: auto (He for ReLU layers, else\n"
                  "Glorot; biases 0), glorot, he, sklearn (MLPClassifier's rule),\n"
                  "torch (nn.Linear's default)",
     .label = "Weight init",
     .hint = "auto: He for ReLU, Glorot otherwise; sklearn and torch start like those "
             "libraries.",
     .form_section = "training",
     .form_order = 4,
     .store = SCHED_STORE_ENUM,
     P_AT(init),
     SCALAR_AT(init)},
    {.name = "split_by",
     .type = SCHED_PARAM_ENUM,
     .flags = SCHED_PARAM_TRAINING | SCHED_PARAM_LATE,
     .choices = split_bys,
     .n_choices = N_OF(split_bys),
     .def = SCHED_SPLIT_AUTO,
     .flag = "split-by",
     .flag_arg = "B",
     .flag_help = "validation rows: auto (by group for sensor data, else by class),\n"
                  "class (stratified rows), group (whole subjects)",
     .label = "Split by",
     .hint = "auto: whole subjects for sensor recordings and windows, else stratified rows.",
     .form_section = "training",
     .form_order = 5,
     .store = SCHED_STORE_ENUM,
     P_AT(split_by),
     SCALAR_AT(split_by)},
    {.name = "optimizer",
     .type = SCHED_PARAM_ENUM,
     .flags = OPT_ROW,
     .choices = optimizers,
     .n_choices = N_OF(optimizers),
     .def = TRAINER_OPT_SGD,
     .flag = "optimizer",
     .flag_arg = "NAME",
     .flag_help = "sgd (with --momentum: heavy ball), momentum (0.9 unless --momentum),\n"
                  "nesterov, adam, adamw (--beta1, --beta2, --epsilon), rmsprop (--rho)",
     .label = "Optimizer",
     .hint = "sgd: plain, or heavy ball with momentum; adam and adamw use beta1, beta2, "
             "epsilon; rmsprop rho.",
     .form_section = "training",
     .form_order = 10,
     .noun = "optimizer",
     COLUMNS(optimizer_column, 6, 0),
     .store = SCHED_STORE_ENUM,
     P_AT(optimizer),
     AXIS_AT(optimizer)},
    REAL_ROW(beta1, SCHED_REAL_UNIT_OPEN, 0.9, "beta1", "Adam's first-moment decay in [0, 1)",
             "Adam beta1", "First-moment decay, 0 ≤ x < 1.", 11, "0", "0.999"),
    REAL_ROW(beta2, SCHED_REAL_UNIT_OPEN, 0.999, "beta2", "Adam's second-moment decay in [0, 1)",
             "Adam beta2", "Second-moment decay, 0 ≤ x < 1.", 12, "0", "0.9999"),
    REAL_ROW(epsilon, SCHED_REAL_POSITIVE, 1e-8, "epsilon", "Adam's and RMSprop's epsilon, > 0",
             "Epsilon", "Adam and RMSprop denominator term, > 0.", 13, NULL, NULL),
    REAL_ROW(rho, SCHED_REAL_UNIT_OPEN, 0.99, "rho", "RMSprop's squared-gradient decay in [0, 1)",
             "RMSprop rho", "Squared-gradient decay, 0 ≤ x < 1.", 14, "0", "0.9999"),
    REAL_ROW(l2, SCHED_REAL_NONNEG, 0.0, "l2",
             "L2 penalty >= 0: 0.5 * l2 * sum(W^2) / batch in the loss, weights only\n"
             "(scikit-learn's alpha)",
             "L2 penalty", "scikit-learn's alpha: 0.5·l2·ΣW²/batch in the loss, ≥ 0.", 15, "0",
             NULL),
    REAL_ROW(weight_decay, SCHED_REAL_NONNEG, 0.0, "weight-decay",
             "decoupled weight decay >= 0: w -= lr * F * w (adam: L2 in the gradient)",
             "Weight decay", "Decoupled, as AdamW: w −= lr·wd·w, ≥ 0.", 16, "0", NULL),
    {.name = "schedule",
     .type = SCHED_PARAM_ENUM,
     .flags = OPT_ROW,
     .choices = schedules,
     .n_choices = N_OF(schedules),
     .def = TRAINER_SCHED_CONSTANT,
     .flag = "schedule",
     .flag_arg = "NAME",
     .flag_help = "learning rate schedule: constant, step (--lr-gamma every --lr-step\n"
                  "iterations), cosine (to --lr-min), invscaling (--power-t)",
     .label = "LR schedule",
     .hint = "cosine runs are never shared across iteration counts nor extended.",
     .form_section = "training",
     .form_order = 17,
     .noun = "schedule",
     COLUMNS(schedule_column, 13, 0),
     .store = SCHED_STORE_ENUM,
     P_AT(schedule),
     AXIS_AT(schedule)},
    REAL_ROW(lr_gamma, SCHED_REAL_UNIT_LEFT_OPEN, 0.1, "lr-gamma",
             "step schedule's factor in (0, 1]", "LR gamma", "step: the factor, 0 < x ≤ 1.", 18,
             "0", "1"),
    INT_ROW(lr_step, 1, 10, "lr-step", "step schedule: iterations between factors, >= 1", "LR step",
            "step: iterations between factors.", 19, "1"),
    REAL_ROW(lr_min, SCHED_REAL_NONNEG, 0.0, "lr-min", "cosine schedule's floor, >= 0", "LR min",
             "cosine: the final rate, ≥ 0.", 20, "0", NULL),
    REAL_ROW(power_t, SCHED_REAL_NONNEG, 0.5, "power-t",
             "invscaling's exponent >= 0: lr / (samples seen + 1)^F", "Power t",
             "invscaling: lr / (samples seen + 1)^power_t.", 21, "0", NULL),
    INT_ROW(warmup, 0, 0, "warmup", "iterations of linear learning-rate warmup", "Warmup",
            "Iterations of linear warmup.", 22, "0"),
    /* dropout */
    {.name = "dropout_input",
     .type = SCHED_PARAM_REAL,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_TRAINING | SCHED_PARAM_LATE,
     .domain = SCHED_REAL_UNIT_OPEN,
     .def = 0.0,
     .flag = "dropout-input",
     .flag_arg = "F",
     .flag_help = "input dropout probability in [0, 1), training only",
     .label = "Input dropout",
     .hint = "Share of input features dropped in training, 0 ≤ x < 1.",
     .form_section = "training",
     .form_order = 6,
     .form_min = "0",
     .form_max = "0.95",
     .form_step = "0.05",
     .noun = "input dropout",
     COLUMNS(dropout_input_column, 20, 0),
     .store = SCHED_STORE_DOUBLE,
     P_AT(dropout_input),
     AXIS_AT(dropout_input)},
    {.name = "dropout_hidden",
     .type = SCHED_PARAM_REAL,
     .flags = SCHED_PARAM_GRID | SCHED_PARAM_TRAINING | SCHED_PARAM_LATE,
     .domain = SCHED_REAL_UNIT_OPEN,
     .def = 0.0,
     .flag = "dropout-hidden",
     .flag_arg = "F",
     .flag_help = "hidden dropout probability in [0, 1), training only",
     .label = "Hidden dropout",
     .hint = "Share of hidden units dropped in training, 0 ≤ x < 1.",
     .form_section = "training",
     .form_order = 7,
     .form_min = "0",
     .form_max = "0.95",
     .form_step = "0.05",
     .noun = "hidden dropout",
     COLUMNS(dropout_hidden_column, 21, 0),
     .store = SCHED_STORE_DOUBLE,
     P_AT(dropout_hidden),
     AXIS_AT(dropout_hidden)},
};

const size_t sched_param_count = N_OF(sched_param_table);
_Static_assert(N_OF(sched_param_table) <= SCHED_PARAM_MAX, "SCHED_PARAM_MAX rows at most");
