/*
 * service/sweep_request.h - the requests `mlptune sweep` sends, built without the network
 * (private to service/): the body of POST /api/v1/sweeps (and its preview, ?dry_run=true) from
 * the spec file and the dataset ids, and the arguments and requests of `mlptune sweep extend`
 * and `mlptune sweep retry` (POST /api/v1/sweeps/{id}/extend and /retry). Every failure is said on
 * stderr here ("mlptune: --flag: why"); callers pass the exit status on. Main thread only.
 */
#ifndef SVC_SWEEP_REQUEST_H
#define SVC_SWEEP_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- creating (or previewing) a sweep ---------------------------------------------------- */

/* The path a new sweep is POSTed to: "/api/v1/sweeps", or with preview set
 * "/api/v1/sweeps?dry_run=true" (the server validates and estimates, and creates nothing). */
const char *svc_sweep_create_path(int preview);

/* Completes the spec (the spec file's object, changed in place) into the body of POST
 * /api/v1/sweeps: "name" set to name when name is not NULL, "dataset_id" to dataset_id (> 0),
 * "test_dataset_id" to test_dataset_id when it is > 0 (a spec's own test_dataset_id stays
 * otherwise). Returns 0, or the exit status after saying why (SVC_EXIT_USAGE: the name is not
 * UTF-8; SVC_EXIT_FAILURE: out of memory). */
int svc_sweep_body_complete(json_t *spec, const char *name, int64_t dataset_id,
                            int64_t test_dataset_id);

/* ---- extend and retry --------------------------------------------------------------------- */

typedef enum { SVC_SWEEP_OP_EXTEND, SVC_SWEEP_OP_RETRY } svc_sweep_op_kind_t;

/* One `--trial ID:ITERATIONS` of extend. */
typedef struct svc_trial_more {
    int64_t id;
    int64_t iterations;
} svc_trial_more_t;

#define SVC_SWEEP_OP_MAX_TRIALS 1000 /* --trial flags in one extend */

/* `mlptune sweep extend|retry ...` as given. Strings point into argv or the environment. */
typedef struct svc_sweep_op_args {
    svc_sweep_op_kind_t kind;
    const char *server, *token_file, *timeout;
    int64_t sweep_id;
    /* extend: new totals, 0 (max_seconds: 0.0) when not given */
    int64_t max_trials, max_iterations_total;
    double max_seconds;
    svc_trial_more_t *trials; /* malloc'd; svc_sweep_op_args_deinit frees it */
    size_t n_trials;
    int wait, json;
} svc_sweep_op_args_t;

/* Parses argv (argv[0] is "extend" or "retry") into *a, after MLPTUNE_SERVER and
 * MLPTUNE_TOKEN_FILE from the environment. Checks: a known subcommand, known flags each with a
 * value, numbers in range, exactly one SWEEP_ID (a positive integer), --server given; extend
 * needs budgets (--max-trials, --max-seconds, --max-iterations-total) or --trial ID:ITERATIONS
 * (repeatable, each id once), not both (the route takes one or the other). Returns 0, or
 * SVC_EXIT_USAGE after saying why. *a is valid for svc_sweep_op_args_deinit either way. */
int svc_sweep_op_parse(int argc, char **argv, svc_sweep_op_args_t *a);

/* Frees what svc_sweep_op_parse allocated. Accepts a zeroed struct. */
void svc_sweep_op_args_deinit(svc_sweep_op_args_t *a);

/* The request for a parsed extend or retry: the path in path[0..size) and the JSON body in
 * *body (new reference: {"max_trials": .., ...}, {"trials": [{"id", "iterations"}, ...]}, or {}
 * for retry). Returns 0, or SVC_EXIT_FAILURE after saying why (out of memory, path too long). */
int svc_sweep_op_request(const svc_sweep_op_args_t *a, char *path, size_t size, json_t **body);

/* "extend" or "retry". */
const char *svc_sweep_op_name(svc_sweep_op_kind_t kind);

#endif
