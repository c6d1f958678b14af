/*
 * api/validate.h - request bodies and query strings into typed values, every problem reported
 * with the path of the field to blame (bodies: validate.c; query strings, names and the path
 * decoder: query.c). What a check finds wrong is a field error; the status is problem.c's.
 *
 * Field paths: object members joined with '.', array elements as [i]: "dataset_id",
 * "grid.learning_rate[1]", "grid.layers[0][2]", "training.batch_size", "rows[3][0]"; query
 * arguments as "query.<name>"; the body itself as "body". Unknown members of every object are
 * rejected (json_unpack_ex in strict mode finds them, each is then named). Every limit of
 * api_limits_t is checked and its name appears in the message ("exceeds the limit max_neurons
 * (4096)"). Validation collects every error it finds (up to API_MAX_ERRORS), in body order.
 *
 * Sweep body: {"dataset_id": int > 0, "name"?: string (""), "test_dataset_id"?: int > 0 or null,
 * "grid": {...}, "training"?: {...}, "pruner"?: {...} or null, "test"?: {"subjects": [ids]}}.
 * "test" holds subjects of the (windows or recording) dataset out of training and validation as
 * the sweep's test set (spec.test_groups, at most SCHED_MAX_TEST_GROUPS; not with
 * test_dataset_id); the handler checks that the dataset has subjects and these ones. "pruner" is
 * read by sched_pruner_parse (scheduler/pruner.h: {"type": "asha", "min_iterations"?,
 * "reduction_factor"?} or {"type": "median", "warmup_iterations"?, "min_trials"?}), its errors
 * named "pruner.<member>", after training's. training may also hold "early_stopping"
 * (sched_early_stop_parse: {"metric"?: "val_loss" | "val_accuracy", "patience"?: 1..100000,
 * "min_delta"?: 0..1e6}), its errors named "training.early_stopping.<member>", and "ranks"?:
 * 1..max_ranks | "auto" and "sync_every"?: 1..65536 | "auto" (sched_ranks_parse, scheduler/
 * ranks.h: one trial across ranks; default 1 and "auto"), named "training.ranks" and
 * "training.sync_every". The members of grid
 * and training, their domains and defaults come from the parameter table (scheduler/params.h): grid
 * holds "hidden_layers"
 * ([int >= 0]) with "neurons" ([int >= 1]), or "layers" ([[int >= 1]]), and an array for each
 * row flagged SCHED_PARAM_GRID (required when SCHED_PARAM_REQUIRED: learning_rate, iterations);
 * training a value for each row flagged SCHED_PARAM_TRAINING (activation, batch_size, momentum,
 * validation_split, seed, scaling, init). A row's value is checked by sched_param_check_json
 * (reals keep their range as float32, the trainer's type: 1e-320 or 1e300 as a rate,
 * 0.9999999999 as momentum are refused), an integer's maximum lowered by the configured limit
 * the row names (max_batch_size, max_iterations; a default above it is lowered to it). A grid
 * axis, when given, overrides the training value of the same name (which is still checked).
 * Errors come in this order: unknown members, the shape, the required axes, the other axes,
 * then training. "neurons" may be left out when every hidden_layers value
 * is 0. A grid expanding to more than max_trials trials
 * (sched_grid_count, before duplicates are removed) is refused before it is expanded.
 *
 * Or, instead of grid, "search"?: {"type"?: "grid" (default) | "random" | "tpe", "seed"?,
 * "max_trials"?, "max_seconds"?, "max_iterations_total"?, "n_startup_trials"? (tpe only:
 * 0..100000, default 10)} and "space": {...} (validate_search.c): with type grid the space is a
 * grid of lists (paths "space.*"), with random or tpe each grid row is a list or a range
 * {"low", "high", "log"?} ("space.x.low"), into out->space with out->sampling set. Budgets
 * belong to random and tpe search, which need one. Pruners and early stopping apply to every
 * search type.
 *
 * Pure functions: any thread.
 */
#ifndef API_VALIDATE_H
#define API_VALIDATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "api_types.h"
#include "grid.h"
#include "problem.h"
#include "pruner.h"
#include "ranks.h"
#include "sched.h"
#include "space.h"

#define API_MAX_NAME 128           /* bytes of a sweep or dataset name */
#define API_DEFAULT_LIMIT 50       /* list pages */
#define API_MAX_LIMIT 1000         /* list pages */
#define API_MAX_PREDICT_ROWS 10000 /* rows of one predict request */

typedef struct api_sweep_body {
    int64_t dataset_id;
    int64_t test_dataset_id; /* 0 when absent or null */
    char name[API_MAX_NAME + 1];
    sched_spec_t spec;             /* every axis has at least one value (grid search) */
    sched_pruner_cfg_t pruner;     /* type NONE without "pruner" */
    sched_early_stop_t early_stop; /* metric NONE without training.early_stopping */
    sched_ranks_t ranks; /* training.ranks and sync_every (ranks.h); one rank, "auto" when absent */
    /* A sampling sweep (`search` and `space` given, search.type random): its space and budgets
     * (validate_search.c). 0 and unused for a grid, also one given as a space of lists. */
    int sampling;
    sched_space_t space;
} api_sweep_body_t;

/* Validates a sweep request body into *out. Returns 0, or 422 with errs filled (out is then
 * unspecified). */
int api_validate_sweep(const json_t *body, const api_limits_t *lim, api_sweep_body_t *out,
                       api_errors_t *errs);

/* Checks the model every trial of spec implies on a dataset of `features` features and
 * `classes` classes (parameters x 4 bytes plus the input scaling: the model file's size, and
 * about what a trial holds in memory for it) against lim->max_model_bytes. Returns 0, or 422 with
 * an error per shape over the limit, naming "grid.layers[i]", "grid.neurons[j]" (at the depth
 * of hidden_layers that makes it largest) or "grid.hidden_layers[i]" (0 hidden layers on a very
 * wide dataset) and the limit max_model_mb. */
int api_validate_model_size(const sched_spec_t *spec, size_t features, size_t classes,
                            const api_limits_t *lim, api_errors_t *errs);

/* A warm start (POST /sweeps/{id}/trials): {"trials": [{<parameter>: value, ...}, ...]} (1 ..
 * max_trials of them) for the sweep whose stored request validated into *sweep. Each member is
 * a row of the parameter table (checked as a grid's value of that row: domain, configured
 * limits), or the shape: "hidden_layers" and/or "neurons", or "layers" (widths); what a trial
 * leaves out takes the sweep's first value (a grid's first trial in expansion order, a sampling
 * space's first list value or range low, else the training value or the table default).
 * features > 0: each model is checked against max_model_bytes on the dataset. Errors name
 * "trials[i].<member>". Returns 0 with *out (malloc'd, *n entries), MLPT_EINVAL with errs
 * filled, or MLPT_ENOMEM. */
int api_validate_trials(const json_t *body, const api_sweep_body_t *sweep, size_t features,
                        size_t classes, const api_limits_t *lim, sched_params_t **out, size_t *n,
                        api_errors_t *errs);

/* An extend (POST /sweeps/{id}/extend): {"max_trials"?: 1 .. max_trials, "max_seconds"?: (0,
 * 1e9], "max_iterations_total"?: >= 1, "trials"?: [{"id": > 0, "iterations": 1 ..
 * max_iterations}, ...]}, something given; each id at most once. Comparing with the sweep's
 * current budgets and trials is the caller's. Returns 0 (out->trials malloc'd), MLPT_EINVAL or
 * MLPT_ENOMEM. */
typedef struct api_extend_body {
    int budget; /* some budget given */
    size_t max_trials;
    double max_seconds;
    uint64_t max_iterations_total;
    sched_extend_trial_t *trials;
    size_t n_trials;
} api_extend_body_t;
int api_validate_extend(const json_t *body, const api_limits_t *lim, api_extend_body_t *out,
                        api_errors_t *errs);

/* The body of GET /api/v1/meta/parameters (new reference; NULL without memory):
 * {"parameters": sched_param_table_json() with each "max" lowered to the configured limit the
 * row names (and a "default" above it lowered to it, as validation does), "limits":
 * {"max_trials", "max_axis"}, "sweep_states" and "trial_states": {"all", "final"}, "progress":
 * {"planned", "done"} (how a sweep's progress is counted, in words)}. */
json_t *api_meta_parameters(const api_limits_t *lim);

/* Validates {"rows": [[number, ...], ...]} for a model of `features` inputs: 1 ..
 * API_MAX_PREDICT_ROWS rows of exactly `features` finite numbers within float32 range. Returns 0
 * with *x (malloc'd [rows][features], caller frees) and *rows set; MLPT_EINVAL with errs filled;
 * MLPT_ENOMEM. */
int api_validate_predict(const json_t *body, size_t features, float **x, size_t *rows,
                         api_errors_t *errs);

/* Percent-decodes s in place (paths and query strings, for the HTTP layer), as libmicrohttpd's
 * own decoder but for "%00": a NUL would end the C string the handlers see, so "/datasets/1%00x"
 * would read as dataset 1 and "?limit=1%00" as 1. It is left encoded instead, so such a path
 * matches no route (404) and such a value is not a number (422). Returns the decoded length. */
size_t api_unescape_no_nul(char *s);

/* Checks that every query argument of req is among allowed (NULL-terminated list) and given at
 * most once, and that no more than API_MAX_QUERY came. Returns 0 or MLPT_EINVAL with errs filled
 * ("query.<name>"). */
int api_validate_query(const api_request_t *req, const char *const *allowed, api_errors_t *errs);

/* ?limit= (API_DEFAULT_LIMIT when absent; 1 .. API_MAX_LIMIT). Returns 0 or MLPT_EINVAL. */
int api_query_limit(const api_request_t *req, size_t *limit, api_errors_t *errs);

/* ?since= (0 when absent; a non-negative integer). Returns 0 or MLPT_EINVAL. */
int api_query_since(const api_request_t *req, int64_t *since, api_errors_t *errs);

/* ?status= for sweeps: NULL when absent, else one of the sweep states. Returns 0 or MLPT_EINVAL. */
int api_query_sweep_status(const api_request_t *req, const char **status, api_errors_t *errs);

/* ?sort= for trials: NULL when absent, else a key among ordinal, best_val_accuracy,
 * final_val_accuracy, id, started_at, optionally prefixed by '-'. Returns 0 or MLPT_EINVAL. */
int api_query_trial_sort(const api_request_t *req, const char **sort, api_errors_t *errs);

/* A dataset name: 1 .. API_MAX_NAME bytes of valid UTF-8 without control characters. Returns 0
 * or -1 with why (static string) set. */
int api_name_check(const char *name, const char **why);

#endif
