/*
 * cmd_sweep.c - `mlptune sweep`: the client for scripts. Uploads dataset files, submits a sweep
 * spec (a grid, or a search over a space: the body of POST /api/v1/sweeps), or only previews it
 * (?dry_run=true), and with --wait follows the sweep to its end, then prints the leaderboard or
 * one JSON object. `mlptune sweep extend|retry` go on to cmd_sweep_ops.c.
 * This file is the command itself; the arguments and local files are checked in sweep_spec.c,
 * the bodies built in sweep_request.c, uploads are sweep_upload.c, following and the result
 * sweep_follow.c, the preview's text sweep_preview.c, and the HTTP layer http_client.c.
 *
 * Everything the server says goes through one place (sweep_answer.c) that turns statuses and
 * problem+json bodies into messages on stderr and an exit status: 4xx is the caller's mistake
 * (2), anything else a runtime failure (1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"
#include "sweep_answer.h"
#include "sweep_follow.h"
#include "sweep_preview.h"
#include "sweep_request.h"
#include "sweep_spec.h"
#include "sweep_upload.h"
#include "sweep_view.h"

static const char sweep_usage[] =
    "usage: mlptune sweep --server URL [--dataset FILE|ID [--labels FILE]] --spec FILE.json\n"
    "                     [--test-dataset FILE|ID [--test-labels FILE]] [--name NAME]\n"
    "                     [--label-column C] [--preview] [--wait] [--json] [--token-file F]\n"
    "                     [--timeout S]\n"
    "       mlptune sweep extend --server URL SWEEP_ID [--max-trials N] [--max-seconds S]\n"
    "                     [--max-iterations-total N] [--trial ID:ITERATIONS ...] [--wait]\n"
    "       mlptune sweep retry --server URL SWEEP_ID [--wait]\n"
    "\n"
    "Submits a sweep to a running `mlptune serve` and, with --wait, follows it to its end;\n"
    "--preview asks the server what it would cost instead. `extend` and `retry`: see\n"
    "mlptune sweep extend --help.\n"
    "\n"
    "  --server URL            the service, e.g. http://127.0.0.1:8080 (MLPTUNE_SERVER)\n"
    "  --spec FILE.json        the body of POST /api/v1/sweeps: {\"grid\": {...}, \"training\":\n"
    "                          {...}}, or {\"search\": {...}, \"space\": {...}, \"pruner\":\n"
    "                          {...}, \"training\": {... \"early_stopping\": {...}}}, with\n"
    "                          \"name\"; dataset_id and test_dataset_id may be left out, and\n"
    "                          --dataset / --test-dataset win over the file's\n"
    "  --grid FILE.json        the older name of --spec (the same file)\n"
    "  --dataset FILE|ID       a file to upload first: CSV with a header row, or IDX images\n"
    "                          (then --labels too), gzip-compressed or not; all digits: the id\n"
    "                          of a dataset already uploaded (write ./123 for a file named 123);\n"
    "                          required unless the spec has \"dataset_id\"\n"
    "  --labels FILE           the IDX labels that go with IDX images given as --dataset\n"
    "  --test-dataset FILE|ID  a separate test set, given like --dataset (--test-labels FILE)\n"
    "  --name NAME             the sweep's name (instead of the spec's \"name\")\n"
    "  --label-column C        the label column (name or 0-based index) of uploaded CSV files\n"
    "  --preview               create nothing: print the trials (or the budget), iterations,\n"
    "                          GEMM FLOPs and the time this server estimates for the spec\n"
    "                          (POST /api/v1/sweeps?dry_run=true; a dataset file is still\n"
    "                          uploaded: the estimate needs its shape)\n"
    "  --wait                  follow the sweep until it ends, then print its leaderboard\n"
    "  --json                  print exactly one JSON object on stdout: the sweep as created\n"
    "                          (the server's answer with --preview), or with --wait the\n"
    "                          finished sweep with \"leaderboard\": its trials, best validation\n"
    "                          accuracy first\n"
    "  --token-file F          send the token in F (whitespace trimmed) as\n"
    "                          \"Authorization: Bearer\" (MLPTUNE_TOKEN_FILE)\n"
    "  --timeout S             seconds one request may take, and the server may stay\n"
    "                          unreachable while --wait follows, before giving up (default 30)\n"
    "\n"
    "Messages and progress go to stderr: while waiting, a bar redrawn in place on a terminal,\n"
    "plain lines otherwise. Following survives a server restart that is back within --timeout.\n"
    "Ctrl-C stops following; the sweep goes on on the server.\n"
    "\n"
    "exit status: 0 the sweep completed (without --wait: it was created; --preview: previewed)\n"
    "             1 the sweep failed, the server was lost or failed (5xx), other runtime errors\n"
    "             2 bad arguments, an unreadable or malformed local file, or a 4xx answer from\n"
    "               the server (its detail and each field error are printed)\n"
    "             4 the sweep was canceled\n"
    "           130 interrupted\n";

/* Whether a refusal names the query parameter dry_run among its field errors. */
static int blames_dry_run(const svc_http_answer_t *ans) {
    json_t *p = json_loads(ans->body, 0, NULL), *e;
    size_t i;
    int yes = 0;
    json_array_foreach(json_object_get(p, "errors"), i, e) {
        const char *field = json_string_value(json_object_get(e, "field"));
        yes |= field && !strcmp(field, "dry_run");
    }
    json_decref(p);
    return yes;
}

/* POSTs the spec with the dataset ids (or previews it); *sweep gets the 201 (200) body. */
static int sweep_create(svc_sweep_client_t *cx, const svc_sweep_args_t *a, json_t *body,
                        const svc_dataset_ref_t *train, const svc_dataset_ref_t *test,
                        json_t **sweep) {
    int rc = svc_sweep_body_complete(body, a->name, train->id, a->test_dataset ? test->id : 0);
    if (rc)
        return rc;
    const char *path = svc_sweep_create_path(a->preview);
    char what[64];
    snprintf(what, sizeof what, "POST %s", path);
    svc_http_answer_t ans;
    svc_http_error_t err;
    if (svc_http_post_json(cx->http, path, body, &ans, &err) != 0)
        return svc_sweep_no_answer(&err);
    rc = svc_sweep_answer_json(what, &ans, a->preview ? 200 : 201, sweep);
    if (rc && a->preview && blames_dry_run(&ans))
        fprintf(stderr, "  (a server without previews refuses dry_run as an unknown query "
                        "parameter)\n");
    svc_http_answer_deinit(&ans);
    if (rc)
        return rc;
    if (a->preview && !svc_preview_is(*sweep)) {
        svc_errorf("%s: the answer is not a preview (no \"dry_run\": true)", what);
        rc = SVC_EXIT_FAILURE;
    } else if (!a->preview && json_integer_value(json_object_get(*sweep, "id")) <= 0) {
        svc_errorf("%s: the answer has no sweep id", what);
        rc = SVC_EXIT_FAILURE;
    }
    if (rc) {
        json_decref(*sweep);
        *sweep = NULL;
    }
    return rc;
}

/* Prints the preview: the answer itself with --json, else its text. */
static int preview_print(const svc_sweep_args_t *a, const json_t *answer) {
    if (a->json)
        return svc_sweep_print_json(answer);
    if (svc_preview_print(stdout, answer) != 0) {
        svc_errorf("cannot write to stdout: %s", strerror(errno));
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

int svc_cmd_sweep(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "extend") || !strcmp(argv[1], "retry")))
        return svc_cmd_sweep_op(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(sweep_usage, stdout);
            return SVC_EXIT_OK;
        }
    svc_sweep_args_t a = {0};
    svc_dataset_ref_t train = {0}, test = {0};
    json_t *spec = NULL, *sw = NULL, *done = NULL;
    char *token = NULL;
    long timeout_s = 30;
    svc_sweep_client_t cx = {0};
    int rc = svc_sweep_prepare(argc, argv, &a, &train, &test, &spec, &token, &timeout_s);
    if (rc || (rc = svc_sweep_client_open(&cx, a.server, token, timeout_s, a.json)) != 0)
        goto out;

    if ((rc = svc_dataset_upload(cx.http, &train, a.label_column, cx.tty)) != 0 ||
        (a.test_dataset &&
         (rc = svc_dataset_upload(cx.http, &test, a.label_column, cx.tty)) != 0) ||
        (rc = sweep_create(&cx, &a, spec, &train, &test, &sw)) != 0)
        goto out;
    if (a.preview) {
        rc = preview_print(&a, sw);
        goto out;
    }
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    if (!a.wait) {
        char st[32];
        if (a.json)
            rc = svc_sweep_print_json(sw);
        else if (printf("sweep %" PRId64 ": %s, %" JSON_INTEGER_FORMAT " trials\n", id,
                        svc_clean(json_string_value(json_object_get(sw, "status")), st, sizeof st),
                        json_integer_value(json_object_get(sw, "trials_total"))) < 0 ||
                 fflush(stdout) != 0) {
            svc_errorf("cannot write to stdout: %s", strerror(errno));
            rc = SVC_EXIT_FAILURE;
        }
        goto out;
    }
    double t0 = svc_now();
    if ((rc = svc_sweep_follow(&cx, id, &done)) == 0)
        rc = svc_sweep_finish(&cx, done, svc_now() - t0);
out:
    json_decref(done);
    json_decref(sw);
    json_decref(spec);
    svc_sweep_client_close(&cx);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    return rc;
}
