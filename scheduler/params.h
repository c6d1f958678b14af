/*
 * scheduler/params.h - the table of tunable parameters: each hyperparameter of a trial is
 * described once, here, and every consumer walks the table instead of naming it.
 *
 * A row gives a parameter's name (its JSON name in a sweep's grid and training objects and in a
 * trial's stored params), type (the network shape, an integer, a real, one of named choices), its
 * domain and default, where a sweep may give it (a grid axis, a sweep-wide training setting, or
 * both: a training value stands for an absent axis), the `mlptune train` flag and help line, how
 * the dashboard's New sweep form shows it, the columns it shows as in the leaderboards, whether it
 * changes the model's shape, and where its value lives in sched_params_t (a trial) and sched_spec_t
 * (a sweep).
 *
 * Driven by the table: grid expansion (grid.c: the Cartesian product in table order, the shape
 * outermost), trial equality (sched_params_same, shared prefixes skip SCHED_PARAM_RUN_LENGTH), the
 * trial params JSON (sched_params_to_json / from_json), request validation (api/validate.c, with
 * field paths), the `mlptune train` flags and --help (service/cmd_train.c), the dashboard's form
 * (GET /api/v1/meta/parameters, sched_param_table_json), the leaderboards and the heatmap's
 * axes (the dashboard from the same route, `mlptune sweep` from sched_param_columns) and the
 * trainer options of a trial (sched_params_trainer_options).
 *
 * Adding a parameter: one row in params_table.c, its field in sched_params_t (and an axis or a
 * scalar in sched_spec_t), and the trainer code that uses it (sched_params_trainer_options or the
 * model's initialisation). tests/test_params.c walks the table through every consumer.
 *
 * The table is constant: any thread.
 */
#ifndef SCHED_PARAMS_H
#define SCHED_PARAMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "train.h"

typedef enum sched_param_type {
    SCHED_PARAM_SHAPE, /* the hidden layers: grid.hidden_layers x grid.neurons, or grid.layers */
    SCHED_PARAM_INT,   /* an integer in [min, max] */
    SCHED_PARAM_REAL,  /* a finite number in `domain`, also as a float32 */
    SCHED_PARAM_ENUM,  /* one of `choices`, by name */
} sched_param_type_t;

/* How the value is held in sched_params_t and sched_spec_t. */
typedef enum sched_param_store {
    SCHED_STORE_SHAPE,  /* sched_shape_t */
    SCHED_STORE_SIZE,   /* size_t */
    SCHED_STORE_U64,    /* uint64_t */
    SCHED_STORE_DOUBLE, /* double */
    SCHED_STORE_ENUM,   /* an enum (int-sized) */
} sched_param_store_t;

typedef enum sched_real_domain {
    SCHED_REAL_POSITIVE,       /* > 0, within float32's range */
    SCHED_REAL_UNIT_OPEN,      /* 0 <= x < 1, also as a float32 */
    SCHED_REAL_NONNEG,         /* >= 0, within float32's range */
    SCHED_REAL_UNIT_LEFT_OPEN, /* 0 < x <= 1, > 0 also as a float32 */
} sched_real_domain_t;

#define SCHED_PARAM_MAX 32 /* rows at most */

/* Flags of a row. */
#define SCHED_PARAM_GRID 0x01u        /* may be a grid axis (grid.<name>) */
#define SCHED_PARAM_TRAINING 0x02u    /* may be given as training.<name> (sweep-wide) */
#define SCHED_PARAM_REQUIRED 0x04u    /* the sweep must give grid.<name> */
#define SCHED_PARAM_MODEL_SHAPE 0x08u /* changes the model's shape */
/* A longer run answers a shorter one: trials that differ only in these share one run. */
#define SCHED_PARAM_RUN_LENGTH 0x10u
/* Added after sweeps were stored: may be missing from a stored trial's params (the default). */
#define SCHED_PARAM_LATE 0x20u

typedef struct sched_choice {
    const char *name;
    int value;         /* the enum's value */
    const char *alias; /* another name accepted on input (never written), or NULL */
} sched_choice_t;

/* One value of one parameter (the member the row's type names). Shapes are not values. */
typedef union sched_value {
    uint64_t i; /* SCHED_PARAM_INT */
    double r;   /* SCHED_PARAM_REAL */
    int e;      /* SCHED_PARAM_ENUM: the choice's value */
} sched_value_t;

/* One column of a row in the leaderboards (the dashboard's and `mlptune sweep`'s) and among the
 * dashboard's heatmap axes. */
typedef struct sched_param_column {
    const char *key;   /* the member of a trial's params it shows ("hidden_layers", "batch_size") */
    const char *label; /* the dashboard's header ("Batch") */
    const char *head;  /* `mlptune sweep`'s header ("batch") */
    int width;         /* `mlptune sweep`'s column width, at least the header's */
} sched_param_column_t;

typedef struct sched_param {
    const char *name; /* JSON name: grid.<name>, training.<name>, trial params */
    sched_param_type_t type;
    unsigned flags;
    long long min, max;            /* INT: the domain */
    const char *limit;             /* INT: the api_limits_t limit that may lower max (its name) */
    sched_real_domain_t domain;    /* REAL */
    const sched_choice_t *choices; /* ENUM: in the order they are listed to people */
    size_t n_choices;
    double def; /* INT, REAL: the default; ENUM: the default choice's value */
    /* `mlptune train`: --flag ARG, and its help (continuation lines start with '\n') */
    const char *flag, *flag_arg, *flag_help;
    /* The dashboard's New sweep form: label, hint, "grid" or "training", position there, the
     * text a grid field starts with, number input bounds and step, a count's noun. */
    const char *label, *hint, *form_section;
    int form_order;
    const char *form_value, *form_min, *form_max, *form_step, *noun;
    /* The rows that vary within a sweep (GRID rows) as columns: the columns of a value (a shape:
     * its depth, then its widths), the row's place among the parameter columns, and whether the
     * leaderboards show it (the heatmap offers every column). How a value prints follows from
     * the type: integers and reals as numbers (`mlptune sweep`: integers right-aligned, reals
     * left-aligned "%.6g"), a choice by name (left-aligned), a shape's widths as "16" or
     * "500-500-2000" ("-" for none). */
    const sched_param_column_t *columns;
    size_t n_columns;
    int column_order;
    int leaderboard;
    /* Where the value lives. */
    sched_param_store_t store;
    size_t param_off;  /* in sched_params_t */
    size_t spec_off;   /* in sched_spec_t: the axis array (GRID rows) or the scalar */
    size_t spec_n_off; /* in sched_spec_t: the axis length (GRID rows) */
} sched_param_t;

/* The rows in expansion order (outermost first): shape, activation, batch_size, momentum,
 * learning_rate, iterations, then the sweep-wide settings. */
extern const sched_param_t sched_param_table[];
extern const size_t sched_param_count;

/* The row named `name` (its JSON name), or NULL. */
const sched_param_t *sched_param_find(const char *name);

/* A row's value in a trial (not for SHAPE). */
void sched_param_get(const sched_param_t *r, const sched_params_t *p, sched_value_t *v);
void sched_param_set(const sched_param_t *r, sched_params_t *p, const sched_value_t *v);

/* A sweep's values of a row: the axis (GRID rows) or its one sweep-wide value. spec_len is 1
 * for sweep-wide rows, and for a LATE grid row whose axis is empty (a spec built by code that
 * predates the row: the row's default, as in a stored trial); spec_get reads value i < spec_len;
 * spec_set_axis writes a GRID row's whole axis (n <= SCHED_MAX_AXIS) or a sweep-wide row's value (n
 * must be 1). Not for SHAPE. */
size_t sched_param_spec_len(const sched_param_t *r, const sched_spec_t *s);
void sched_param_spec_get(const sched_param_t *r, const sched_spec_t *s, size_t i,
                          sched_value_t *v);
void sched_param_spec_set(const sched_param_t *r, sched_spec_t *s, const sched_value_t *v,
                          size_t n);

/* Whether a and b hold the same value of row r (shapes: the same widths). */
int sched_param_same(const sched_param_t *r, const sched_params_t *a, const sched_params_t *b);

/* Whether a and b agree on every row that has none of the flags in `skip` (0: every row). A
 * trial with schedule cosine shares no run with another length (its rates depend on the planned
 * iterations): for it, SCHED_PARAM_RUN_LENGTH in skip is ignored. */
int sched_params_same(const sched_params_t *a, const sched_params_t *b, unsigned skip);

/* Fills p with every row's default (the shape: no hidden layer). */
void sched_params_defaults(sched_params_t *p);

/* The choice of an ENUM row named `name` (NULL refused): 0 with *value set, or MLPT_EINVAL. */
int sched_param_choice_parse(const sched_param_t *r, const char *name, int *value);

/* The name of an ENUM row's choice `value`, or "unknown". */
const char *sched_param_choice_name(const sched_param_t *r, int value);

/* Checks a JSON value against row r's type and domain (INT: [r->min, max], where max lowers
 * r->max and, when it does and `limit` is not NULL, the message names that limit as "<x> exceeds
 * the limit <limit> (<max>)"). Returns 0 with *v set, or MLPT_EINVAL with why (a message naming
 * no field, e.g. "must be > 0 (got -1)") written. Not for SHAPE. */
int sched_param_check_json(const sched_param_t *r, const json_t *j, long long max,
                           const char *limit, sched_value_t *v, char *why, size_t why_len);

/* The same for a command-line text ("0.1", "64", "relu"), within the row's own domain. */
int sched_param_check_text(const sched_param_t *r, const char *text, sched_value_t *v, char *why,
                           size_t why_len);

/* The value as JSON (new reference; NULL without memory): an integer, a real, a choice's name. */
json_t *sched_param_value_json(const sched_param_t *r, const sched_value_t *v);

/* The trainer options of a trial: learning rate, momentum, batch size, iterations, seed, the
 * input scaling, the optimiser, its regularisation and schedule (other members of *opt are left
 * as they are). */
void sched_params_trainer_options(const sched_params_t *p, trainer_options_t *opt);

/* A trial's split of ds (the worker's and mlptune train's): by group (trainer_split_grouped,
 * holding out p's test groups) when split_by is group, or auto on a dataset with groups, or
 * when test groups are named; else stratified by class. Returns 0 with *out; MLPT_EINVAL with
 * why (cap bytes) filled when the split cannot be made (no groups to split by, no row left to
 * train on); MLPT_ENOMEM. */
int sched_params_split(const sched_params_t *p, const trainer_dataset_t *ds, trainer_split_t *out,
                       char *why, size_t cap);

/* The rows with columns (see sched_param_column_t), in column order, into rows[SCHED_PARAM_MAX];
 * returns their count. */
size_t sched_param_columns(const sched_param_t **rows);

/* Whether `mlptune sweep` prints column `col` of row r left-aligned (text) or right (a count). */
int sched_param_column_left(const sched_param_t *r, size_t col);

/* The table as JSON for the dashboard (new reference; NULL without memory): an array of
 * {"name", "type": "layers"|"int"|"real"|"enum", "grid", "training", "required",
 * "changes_shape", "shares_run", "default", "min", "max", "limit", "choices", "flag", "help",
 * "form": {...}, and for rows with columns "columns": [{"key", "label", "head", "width"}],
 * "column_order", "leaderboard"} in table order. */
json_t *sched_param_table_json(void);

#endif
