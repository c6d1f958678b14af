/*
 * sweep_request.c - the requests of `mlptune sweep`, built without the network: the body of a
 * new sweep (or its preview), and the arguments and requests of `extend` and `retry`. Kept pure
 * (argv and JSON in, JSON and messages out) so that tests/test_cli_sweep.c checks every flag
 * and every body without a server.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "sweep_request.h"

#define MAX_COUNT 1000000000000LL   /* --max-trials, --max-iterations-total, iterations: the    */
#define MAX_SECONDS 1e9             /* server holds the real limits; these only keep the values */
#define MAX_ITERATIONS 1000000000LL /* sane on the wire                                        */

/* ---- creating (or previewing) a sweep ---------------------------------------------------- */

const char *svc_sweep_create_path(int preview) {
    return preview ? "/api/v1/sweeps?dry_run=true" : "/api/v1/sweeps";
}

int svc_sweep_body_complete(json_t *spec, const char *name, int64_t dataset_id,
                            int64_t test_dataset_id) {
    if (name) {
        json_t *j = json_string(name);
        if (!j) {
            svc_errorf("--name: not valid UTF-8");
            return SVC_EXIT_USAGE;
        }
        if (json_object_set_new(spec, "name", j) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
    }
    if (json_object_set_new(spec, "dataset_id", json_integer((json_int_t)dataset_id)) != 0 ||
        (test_dataset_id > 0 &&
         json_object_set_new(spec, "test_dataset_id", json_integer((json_int_t)test_dataset_id)))) {
        svc_errorf("out of memory");
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* ---- extend and retry --------------------------------------------------------------------- */

const char *svc_sweep_op_name(svc_sweep_op_kind_t kind) {
    return kind == SVC_SWEEP_OP_EXTEND ? "extend" : "retry";
}

/* A positive integer in [1, max] for `what` (a flag name, or a part of --trial). */
static int parse_count(const char *what, const char *text, long long max, int64_t *out) {
    uint64_t v;
    if (svc_parse_u64(what, text, &v) != 0)
        return -1;
    if (v < 1 || v > (uint64_t)max) {
        svc_errorf("--%s: %s is out of range [1, %lld]", what, text, max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* "--trial ID:ITERATIONS": appends one to a->trials. */
static int parse_trial(svc_sweep_op_args_t *a, const char *text) {
    const char *colon = strchr(text, ':');
    char id[32];
    svc_trial_more_t t;
    if (!colon || colon == text || !colon[1] || (size_t)(colon - text) >= sizeof id) {
        svc_errorf("--trial: expected ID:ITERATIONS (e.g. 12:54), got \"%s\"", text);
        return -1;
    }
    memcpy(id, text, (size_t)(colon - text));
    id[colon - text] = '\0';
    if (parse_count("trial", id, INT64_MAX, &t.id) != 0 ||
        parse_count("trial", colon + 1, MAX_ITERATIONS, &t.iterations) != 0)
        return -1;
    for (size_t i = 0; i < a->n_trials; i++)
        if (a->trials[i].id == t.id) {
            svc_errorf("--trial: trial %" PRId64 " is given twice", t.id);
            return -1;
        }
    if (a->n_trials == SVC_SWEEP_OP_MAX_TRIALS) {
        svc_errorf("--trial: at most %d in one extend", SVC_SWEEP_OP_MAX_TRIALS);
        return -1;
    }
    svc_trial_more_t *grown = realloc(a->trials, (a->n_trials + 1) * sizeof *grown);
    if (!grown) {
        svc_errorf("out of memory");
        return -1;
    }
    a->trials = grown;
    a->trials[a->n_trials++] = t;
    return 0;
}

/* One flag with its value (name without the dashes). */
static int op_flag(svc_sweep_op_args_t *a, const char *name, const char *v) {
    int extend = a->kind == SVC_SWEEP_OP_EXTEND;
    if (!strcmp(name, "server"))
        a->server = v;
    else if (!strcmp(name, "token-file"))
        a->token_file = v;
    else if (!strcmp(name, "timeout"))
        a->timeout = v;
    else if (extend && !strcmp(name, "max-trials"))
        return parse_count(name, v, MAX_COUNT, &a->max_trials);
    else if (extend && !strcmp(name, "max-iterations-total"))
        return parse_count(name, v, MAX_COUNT, &a->max_iterations_total);
    else if (extend && !strcmp(name, "max-seconds"))
        return svc_parse_double(name, v, 0.0, MAX_SECONDS, 0, &a->max_seconds);
    else if (extend && !strcmp(name, "trial"))
        return parse_trial(a, v);
    return 0;
}

static int op_known(const svc_sweep_op_args_t *a, const char *name) {
    static const char *const common[] = {"server", "token-file", "timeout"};
    static const char *const more[] = {"max-trials", "max-iterations-total", "max-seconds",
                                       "trial"};
    for (size_t k = 0; k < sizeof common / sizeof common[0]; k++)
        if (!strcmp(name, common[k]))
            return 1;
    for (size_t k = 0; a->kind == SVC_SWEEP_OP_EXTEND && k < sizeof more / sizeof more[0]; k++)
        if (!strcmp(name, more[k]))
            return 1;
    return 0;
}

int svc_sweep_op_parse(int argc, char **argv, svc_sweep_op_args_t *a) {
    memset(a, 0, sizeof *a);
    if (argc < 1 || (strcmp(argv[0], "extend") != 0 && strcmp(argv[0], "retry") != 0)) {
        svc_errorf("sweep: unknown subcommand \"%s\" (extend or retry)", argc ? argv[0] : "");
        return SVC_EXIT_USAGE;
    }
    a->kind = !strcmp(argv[0], "extend") ? SVC_SWEEP_OP_EXTEND : SVC_SWEEP_OP_RETRY;
    const char *op = svc_sweep_op_name(a->kind), *id_text = NULL;
    const char *env = getenv("MLPTUNE_SERVER");
    if (env && *env)
        a->server = env;
    if ((env = getenv("MLPTUNE_TOKEN_FILE")) && *env)
        a->token_file = env;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--wait") || !strcmp(arg, "--json")) {
            *(arg[2] == 'w' ? &a->wait : &a->json) = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (id_text) {
                svc_errorf("sweep %s: one SWEEP_ID, got \"%s\" and \"%s\"", op, id_text, arg);
                return SVC_EXIT_USAGE;
            }
            id_text = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        char name[32];
        size_t len = eq ? (size_t)(eq - arg) - 2 : strlen(arg) - 2;
        if (len == 0 || len >= sizeof name) {
            svc_errorf("sweep %s: unknown argument \"%s\" (see mlptune sweep %s --help)", op, arg,
                       op);
            return SVC_EXIT_USAGE;
        }
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        if (!op_known(a, name)) {
            svc_errorf("sweep %s: unknown argument \"%s\" (see mlptune sweep %s --help)", op, arg,
                       op);
            return SVC_EXIT_USAGE;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !*v) {
            svc_errorf("--%s: missing value", name);
            return SVC_EXIT_USAGE;
        }
        if (op_flag(a, name, v) != 0)
            return SVC_EXIT_USAGE;
    }
    if (!a->server) {
        svc_errorf("sweep %s: --server is required (see mlptune sweep %s --help)", op, op);
        return SVC_EXIT_USAGE;
    }
    if (!id_text) {
        svc_errorf("sweep %s: SWEEP_ID is required (see mlptune sweep %s --help)", op, op);
        return SVC_EXIT_USAGE;
    }
    size_t digits = strspn(id_text, "0123456789");
    unsigned long long id =
        digits && !id_text[digits] && digits <= 19 ? strtoull(id_text, NULL, 10) : 0;
    if (id < 1 || id > INT64_MAX) {
        svc_errorf("sweep %s: SWEEP_ID must be a positive integer, got \"%s\"", op, id_text);
        return SVC_EXIT_USAGE;
    }
    a->sweep_id = (int64_t)id;
    int budgets = a->max_trials || a->max_seconds > 0.0 || a->max_iterations_total;
    if (a->kind == SVC_SWEEP_OP_EXTEND && !budgets && !a->n_trials) {
        svc_errorf("sweep extend: give new budgets (--max-trials, --max-seconds, "
                   "--max-iterations-total) or --trial ID:ITERATIONS");
        return SVC_EXIT_USAGE;
    }
    if (budgets && a->n_trials) {
        svc_errorf("sweep extend: --trial goes alone: budgets and trials are two extends");
        return SVC_EXIT_USAGE;
    }
    return 0;
}

void svc_sweep_op_args_deinit(svc_sweep_op_args_t *a) {
    if (!a)
        return;
    free(a->trials);
    a->trials = NULL;
    a->n_trials = 0;
}

/* extend's body: the budgets given, or the trials. NULL when memory runs out. */
static json_t *extend_body(const svc_sweep_op_args_t *a) {
    json_t *body = json_object();
    int bad = !body;
    if (!bad && a->n_trials) {
        json_t *list = json_array();
        bad = json_object_set_new(body, "trials", list) != 0;
        for (size_t i = 0; !bad && i < a->n_trials; i++)
            bad = json_array_append_new(list, json_pack("{sIsI}", "id", (json_int_t)a->trials[i].id,
                                                        "iterations",
                                                        (json_int_t)a->trials[i].iterations));
    }
    if (!bad && a->max_trials)
        bad = json_object_set_new(body, "max_trials", json_integer(a->max_trials));
    if (!bad && a->max_seconds > 0.0)
        bad = json_object_set_new(body, "max_seconds", json_real(a->max_seconds));
    if (!bad && a->max_iterations_total)
        bad = json_object_set_new(body, "max_iterations_total",
                                  json_integer(a->max_iterations_total));
    if (bad) {
        json_decref(body);
        return NULL;
    }
    return body;
}

int svc_sweep_op_request(const svc_sweep_op_args_t *a, char *path, size_t size, json_t **body) {
    int n = snprintf(path, size, "/api/v1/sweeps/%" PRId64 "/%s", a->sweep_id,
                     svc_sweep_op_name(a->kind));
    if (n < 0 || (size_t)n >= size) {
        svc_errorf("sweep %s: path too long", svc_sweep_op_name(a->kind));
        return SVC_EXIT_FAILURE;
    }
    *body = a->kind == SVC_SWEEP_OP_EXTEND ? extend_body(a) : json_object();
    if (!*body) {
        svc_errorf("out of memory");
        return SVC_EXIT_FAILURE;
    }
    return 0;
}
