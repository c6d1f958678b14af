/*
 * scheduler/space.h - a sampling sweep's search space and budgets (the request's `space` and
 * `search`, validated by api/validate_search.c), and the draw of its k-th trial.
 *
 * Every row of the parameter table the space names is a dimension: a list of values (drawn
 * uniformly) or a range [low, high] (uniform, or log-uniform when `log`; integers where the row
 * is an integer). The shape is two dimensions, hidden_layers (depth) and neurons (the width of
 * every hidden layer), as in a grid. Rows the space leaves out take `base` (the training value
 * or the row's default).
 *
 * sched_space_draw is a pure function of (space, seed, k): the k-th trial of a sweep is the same
 * in every run, so a restarted sweep continues with the proposals an uninterrupted one makes,
 * given only how many trials it has stored.
 *
 * Pure functions: any thread.
 */
#ifndef SCHED_SPACE_H
#define SCHED_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "params.h"

typedef enum sched_dim_kind {
    SCHED_DIM_NONE = 0, /* not in the space: base's value */
    SCHED_DIM_LIST,     /* one of list[0..n) */
    SCHED_DIM_RANGE,    /* [low, high], log-uniform when log */
} sched_dim_kind_t;

typedef struct sched_dim {
    sched_dim_kind_t kind;
    sched_value_t list[SCHED_MAX_AXIS]; /* INT rows: .i; REAL: .r; ENUM: .e */
    size_t n;
    double low, high; /* RANGE (integers held exactly up to 2^53) */
    int log;
} sched_dim_t;

typedef enum sched_search_type {
    SCHED_SEARCH_GRID = 0,
    SCHED_SEARCH_RANDOM,
    SCHED_SEARCH_TPE,
} sched_search_type_t;

typedef struct sched_space {
    sched_search_type_t type;
    uint64_t seed;
    size_t max_trials;             /* 0: not given */
    double max_seconds;            /* 0: not given */
    uint64_t max_iterations_total; /* 0: not given */
    size_t n_startup_trials;       /* TPE: random trials before its proposals (default 10) */
    sched_params_t base;
    sched_dim_t dim[SCHED_PARAM_MAX];   /* by table index; the SHAPE row's entry is unused */
    sched_dim_t hidden_layers, neurons; /* the shape (INT values) */
} sched_space_t;

/* The k-th trial (k from 0) of a sweep over sp drawn with `seed`. */
void sched_space_draw(const sched_space_t *sp, uint64_t seed, uint64_t k, sched_params_t *out);

#endif
