/*
 * sweep_spec.c - what `mlptune sweep` is asked to do: its arguments, the datasets it names, the
 * token file and the spec file (the body of POST /api/v1/sweeps: a grid, or search + space +
 * pruner + training; --grid is the older name of --spec). Everything here is checked before the
 * first request, so a mistake on the command line or in a local file costs no upload and leaves
 * nothing on the server (exit status 2, one message naming the option and the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "sweep_spec.h"

/* ---- arguments ---------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, svc_sweep_args_t *a) {
    const char *grid = NULL, *spec = NULL;
    struct {
        const char *name, *env;
        const char **slot;
    } opts[] = {
        {"server", "MLPTUNE_SERVER", &a->server},
        {"dataset", NULL, &a->dataset},
        {"labels", NULL, &a->labels},
        {"spec", NULL, &spec},
        {"grid", NULL, &grid},
        {"test-dataset", NULL, &a->test_dataset},
        {"test-labels", NULL, &a->test_labels},
        {"name", NULL, &a->name},
        {"label-column", NULL, &a->label_column},
        {"token-file", "MLPTUNE_TOKEN_FILE", &a->token_file},
        {"timeout", NULL, &a->timeout},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    for (size_t k = 0; k < n_opts; k++) {
        const char *v = opts[k].env ? getenv(opts[k].env) : NULL;
        if (v && *v)
            *opts[k].slot = v;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--wait") || !strcmp(arg, "--json") || !strcmp(arg, "--preview")) {
            *(arg[2] == 'w' ? &a->wait : arg[2] == 'j' ? &a->json : &a->preview) = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg), k = 0;
        if (strncmp(arg, "--", 2) == 0)
            while (k < n_opts &&
                   !(strlen(opts[k].name) == len - 2 && !strncmp(opts[k].name, arg + 2, len - 2)))
                k++;
        if (!strcmp(arg, "extend") || !strcmp(arg, "retry")) {
            svc_errorf("sweep: \"%s\" goes first: mlptune sweep %s --server URL SWEEP_ID ...", arg,
                       arg);
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0 || k == n_opts) {
            svc_errorf("sweep: unknown argument \"%s\" (see mlptune sweep --help)", arg);
            return -1;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !*v) {
            svc_errorf("--%s: missing value", opts[k].name);
            return -1;
        }
        *opts[k].slot = v;
    }
    if (grid && spec) {
        svc_errorf("--grid: is the older name of --spec; give one of them");
        return -1;
    }
    a->spec = spec ? spec : grid;
    a->spec_option = spec ? "--spec" : "--grid";
    if (!a->server) {
        svc_errorf("sweep: --server is required (see mlptune sweep --help)");
        return -1;
    }
    if (!a->spec) {
        svc_errorf("sweep: --spec is required (see mlptune sweep --help)");
        return -1;
    }
    if (a->preview && a->wait) {
        svc_errorf("--preview: creates nothing, so there is nothing to --wait for");
        return -1;
    }
    return 0;
}

static int all_digits(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Checks that path names a readable regular file. Returns 0, or -1 after saying why. */
static int check_file(const char *option, const char *path) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0) {
        svc_errorf("%s %s: cannot open: %s", option, path, strerror(errno));
        return -1;
    }
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!ok) {
        svc_errorf("%s %s: not a regular file", option, path);
        return -1;
    }
    return 0;
}

/* Fills *ref from "--dataset FILE|ID" and its labels. Returns 0, or -1 after saying why. */
static int dataset_ref_init(svc_dataset_ref_t *ref, const char *option, const char *spec,
                            const char *labels_option, const char *labels) {
    memset(ref, 0, sizeof *ref);
    ref->option = option;
    if (all_digits(spec)) {
        uint64_t id;
        if (svc_parse_u64(option + 2, spec, &id) != 0)
            return -1;
        if (id == 0 || id > INT64_MAX) {
            svc_errorf("%s: %s is not a dataset id", option, spec);
            return -1;
        }
        if (labels) {
            svc_errorf("%s: only goes with IDX images to upload, not with dataset id %s",
                       labels_option, spec);
            return -1;
        }
        ref->id = (int64_t)id;
        return 0;
    }
    ref->file = spec;
    ref->labels = labels;
    if (check_file(option, spec) != 0 || (labels && check_file(labels_option, labels) != 0))
        return -1;
    return 0;
}

/* Loads the spec file: a JSON object, the sweep body (dataset ids optional). `option` names
 * the flag in messages. Returns a new reference, or NULL after saying why (file, line and
 * column for bad JSON). */
static json_t *load_spec(const char *option, const char *path) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        svc_errorf("%s %s: cannot open: %s", option, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        svc_errorf("%s %s: not a file", option, path);
        fclose(f);
        return NULL;
    }
    json_error_t je;
    json_t *g = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    int read_failed = ferror(f);
    fclose(f);
    if (!g) {
        if (read_failed)
            svc_errorf("%s %s: cannot read", option, path);
        else
            svc_errorf("%s %s:%d:%d: %s", option, path, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(g)) {
        svc_errorf("%s %s: expected a JSON object {\"grid\": {...}, \"training\": {...}} or "
                   "{\"search\": {...}, \"space\": {...}, ...}",
                   option, path);
        json_decref(g);
        return NULL;
    }
    if (!json_object_get(g, "grid") && !json_object_get(g, "space") &&
        (json_object_get(g, "hidden_layers") || json_object_get(g, "layers"))) {
        svc_errorf("%s %s: put the axes under \"grid\": {\"grid\": {\"hidden_layers\": "
                   "...}, \"training\": {...}} (or the ranges under \"space\")",
                   option, path);
        json_decref(g);
        return NULL;
    }
    return g;
}

/* The spec file's dataset_id when --dataset is not given: a positive integer. Returns 0, or -1
 * after saying why. */
static int spec_dataset_id(const svc_sweep_args_t *a, const json_t *spec, svc_dataset_ref_t *ref) {
    const json_t *id = json_object_get(spec, "dataset_id");
    memset(ref, 0, sizeof *ref);
    ref->option = "--dataset";
    if (!id) {
        svc_errorf("sweep: --dataset is required (%s %s has no \"dataset_id\")", a->spec_option,
                   a->spec);
        return -1;
    }
    if (!json_is_integer(id) || json_integer_value(id) <= 0) {
        svc_errorf("%s %s: \"dataset_id\" must be a positive integer (or give --dataset)",
                   a->spec_option, a->spec);
        return -1;
    }
    if (a->labels) {
        svc_errorf("--labels: only goes with IDX images given as --dataset");
        return -1;
    }
    ref->id = (int64_t)json_integer_value(id);
    return 0;
}

/* ---- everything up to the network --------------------------------------------------------- */

int svc_sweep_prepare(int argc, char **argv, svc_sweep_args_t *a, svc_dataset_ref_t *train,
                      svc_dataset_ref_t *test, json_t **spec, char **token, long *timeout_s) {
    size_t timeout = 30;
    if (parse_args(argc, argv, a) != 0 ||
        (a->timeout && svc_parse_size("timeout", a->timeout, 1, 86400, &timeout) != 0))
        return SVC_EXIT_USAGE;
    *timeout_s = (long)timeout;
    if (a->test_labels && !a->test_dataset) {
        svc_errorf("--test-labels: needs --test-dataset");
        return SVC_EXIT_USAGE;
    }
    if (!(*spec = load_spec(a->spec_option, a->spec)))
        return SVC_EXIT_USAGE;
    if ((a->dataset ? dataset_ref_init(train, "--dataset", a->dataset, "--labels", a->labels)
                    : spec_dataset_id(a, *spec, train)) != 0 ||
        (a->test_dataset && dataset_ref_init(test, "--test-dataset", a->test_dataset,
                                             "--test-labels", a->test_labels) != 0))
        return SVC_EXIT_USAGE;
    int csv_upload =
        (train->file && !train->labels) || (a->test_dataset && test->file && !test->labels);
    if (a->label_column && !csv_upload) {
        svc_errorf("--label-column: applies to CSV files to upload, and none is given");
        return SVC_EXIT_USAGE;
    }
    if (a->token_file && !(*token = svc_token_file_read(a->token_file)))
        return SVC_EXIT_USAGE;
    return 0;
}
