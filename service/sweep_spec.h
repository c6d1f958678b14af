/*
 * service/sweep_spec.h - what `mlptune sweep` is asked to do (private to service/): its
 * arguments (flags over MLPTUNE_* environment variables), the datasets it names (ids, or files
 * to upload), the token file and the spec file (a grid, or a search over a space), all checked
 * before anything goes over the network. Every failure is said on stderr here; callers only pass
 * the exit status on. Main thread only.
 */
#ifndef SVC_SWEEP_SPEC_H
#define SVC_SWEEP_SPEC_H

#include <jansson.h>
#include <stdint.h>

/* The command line as given: pointers into argv or the environment, NULL when absent. */
typedef struct svc_sweep_args {
    const char *server, *dataset, *labels, *test_dataset, *test_labels, *name;
    const char *label_column, *token_file, *timeout;
    const char *spec;        /* --spec FILE, or the same given as --grid FILE */
    const char *spec_option; /* "--spec" or "--grid": the one given, for messages */
    int wait, json, preview;
} svc_sweep_args_t;

/* A dataset as the command line gives it: an id, or files to upload. */
typedef struct svc_dataset_ref {
    const char *option; /* "--dataset" or "--test-dataset" */
    int64_t id;         /* > 0 once known */
    const char *file;   /* CSV, or IDX images when labels is set */
    const char *labels;
} svc_dataset_ref_t;

/* Everything up to the network: parses argv into *a, checks the option combinations, loads the
 * spec file into *spec (a new reference: a JSON object, the body of POST /api/v1/sweeps, whose
 * dataset_id and test_dataset_id may be left out when --dataset / --test-dataset give them),
 * fills *train and *test (train from --dataset, else from the spec's dataset_id; test only
 * with --test-dataset; files are checked to be readable regular files), reads the token file
 * into *token (malloc'd, whitespace trimmed) and the timeout into *timeout_s (default 30).
 * Returns 0, or the exit status (SVC_EXIT_USAGE) after saying why. The caller frees *spec
 * (json_decref) and *token (free) either way. */
int svc_sweep_prepare(int argc, char **argv, svc_sweep_args_t *a, svc_dataset_ref_t *train,
                      svc_dataset_ref_t *test, json_t **spec, char **token, long *timeout_s);

#endif
