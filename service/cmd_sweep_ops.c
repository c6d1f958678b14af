/*
 * cmd_sweep_ops.c - `mlptune sweep extend` and `mlptune sweep retry`: one POST to
 * /api/v1/sweeps/{id}/extend or /retry (arguments and body from sweep_request.c), its answer
 * said in a line (or printed whole with --json), and with --wait the sweep followed to its end
 * as `mlptune sweep --wait` does (sweep_follow.c).
 *
 * A 404 is ambiguous: the sweep may not exist, or the server may predate the route. The sweep
 * itself is asked for then, so the message says which: "no such sweep" (exit 2, the caller's
 * mistake) or "this server has no such route" (exit 1: the router's 404 "no such resource"
 * while the sweep exists, or a 405); a route's other 404s (an unknown trial) are shown as
 * they came (exit 2).
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
#include "sweep_request.h"
#include "sweep_view.h"

static const char extend_usage[] =
    "usage: mlptune sweep extend --server URL SWEEP_ID [--max-trials N] [--max-seconds S]\n"
    "                     [--max-iterations-total N] [--trial ID:ITERATIONS ...] [--wait]\n"
    "                     [--json] [--token-file F] [--timeout S]\n"
    "       mlptune sweep retry --server URL SWEEP_ID [--wait] [--json] [--token-file F]\n"
    "                     [--timeout S]\n"
    "\n"
    "extend (POST /api/v1/sweeps/{id}/extend) gives a sweep more to do, also after it ended:\n"
    "  --max-trials N          a sampling sweep's new trial budget (a total, larger than now)\n"
    "  --max-seconds S         its new wall-time budget in seconds (a total)\n"
    "  --max-iterations-total N  its new budget of iterations trained (a total)\n"
    "  --trial ID:ITERATIONS   train trial ID of this sweep on up to ITERATIONS iterations,\n"
    "                          continuing from where it stopped; repeat for more trials\n"
    "                          (budgets or --trial, not both in one call)\n"
    "retry (POST /api/v1/sweeps/{id}/retry) re-queues the sweep's failed and lost trials.\n"
    "\n"
    "  --server URL            the service, e.g. http://127.0.0.1:8080 (MLPTUNE_SERVER)\n"
    "  --wait                  follow the sweep until it ends, then print its leaderboard\n"
    "  --json                  print exactly one JSON object on stdout: the server's answer,\n"
    "                          or with --wait the finished sweep with \"leaderboard\" (and\n"
    "                          \"requeued\" after retry)\n"
    "  --token-file F          send the token in F as \"Authorization: Bearer\"\n"
    "                          (MLPTUNE_TOKEN_FILE)\n"
    "  --timeout S             seconds one request may take, and the server may stay\n"
    "                          unreachable while --wait follows (default 30)\n"
    "\n"
    "exit status: 0 done (with --wait: the sweep completed)\n"
    "             1 the sweep failed, the server was lost, failed (5xx) or has no such route\n"
    "             2 bad arguments, no such sweep, or another 4xx answer (its detail is printed)\n"
    "             4 the sweep was canceled\n"
    "           130 interrupted\n";

/* Whether a 404's problem is the router's "no such resource: PATH" (no route matched), rather
 * than a route's own 404 (an unknown trial, say). */
static int is_no_route(const svc_http_answer_t *ans) {
    json_t *p = json_loads(ans->body, 0, NULL);
    const char *detail = json_string_value(json_object_get(p, "detail"));
    int yes = detail && !strncmp(detail, "no such resource", 16);
    json_decref(p);
    return yes;
}

/* After a 404 or 405: whether the sweep exists tells a missing sweep from a missing route (405,
 * or the router's 404 while the sweep exists). Says which; any other 404 is reported as the
 * server said it. Returns the exit status. */
static int explain_not_found(svc_sweep_client_t *cx, const svc_sweep_op_args_t *a, const char *what,
                             const svc_http_answer_t *ans) {
    char path[64];
    snprintf(path, sizeof path, "/api/v1/sweeps/%" PRId64, a->sweep_id);
    svc_http_answer_t got;
    svc_http_error_t err;
    long status = 0;
    if (svc_http_get(cx->http, path, &got, &err) == 0) {
        status = got.status;
        svc_http_answer_deinit(&got);
    }
    if (ans->status == 405 || (status == 200 && is_no_route(ans))) {
        svc_errorf("%s: HTTP %ld: this server has no such route (it predates `mlptune sweep "
                   "%s`); sweep %" PRId64 " is unchanged",
                   what, ans->status, svc_sweep_op_name(a->kind), a->sweep_id);
        return SVC_EXIT_FAILURE;
    }
    if (status == 404) {
        svc_errorf("sweep %" PRId64 ": no such sweep on the server (%s: HTTP 404)", a->sweep_id,
                   what);
        return SVC_EXIT_USAGE;
    }
    json_t *none; /* the route's own 404, or the server could not say: as it came */
    return svc_sweep_answer_json(what, ans, 202, &none);
}

/* The line said without --json and --wait. */
static int say_done(const svc_sweep_op_args_t *a, const json_t *answer, const json_t *sw) {
    char st[32], list[256] = "";
    const char *status = svc_clean(json_string_value(json_object_get(sw, "status")), st, sizeof st);
    int w;
    if (a->kind == SVC_SWEEP_OP_EXTEND)
        w = printf("sweep %" PRId64 ": extended; %s, %" JSON_INTEGER_FORMAT " trials\n",
                   a->sweep_id, status, json_integer_value(json_object_get(sw, "trials_total")));
    else {
        const json_t *ids = json_object_get(answer, "requeued"), *v;
        size_t i, n = 0;
        json_array_foreach(ids, i, v) {
            int k = snprintf(list + n, sizeof list - n, "%s%" JSON_INTEGER_FORMAT, i ? ", " : "",
                             json_integer_value(v));
            if (k < 0 || (size_t)k >= sizeof list - n) {
                snprintf(list + n, sizeof list - n, ", ...");
                break;
            }
            n += (size_t)k;
        }
        if (json_array_size(ids))
            w = printf("sweep %" PRId64 ": requeued %zu trials (%s); %s\n", a->sweep_id,
                       json_array_size(ids), list, status);
        else
            w = printf("sweep %" PRId64 ": no failed or lost trial to requeue; %s\n", a->sweep_id,
                       status);
    }
    if (w < 0 || fflush(stdout) != 0) {
        svc_errorf("cannot write to stdout: %s", strerror(errno));
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* POSTs the request; *answer gets the 202 body. */
static int op_post(svc_sweep_client_t *cx, const svc_sweep_op_args_t *a, json_t **answer) {
    char path[96], what[128];
    json_t *body;
    int rc = svc_sweep_op_request(a, path, sizeof path, &body);
    if (rc)
        return rc;
    snprintf(what, sizeof what, "POST %s", path);
    svc_http_answer_t ans;
    svc_http_error_t err;
    rc = svc_http_post_json(cx->http, path, body, &ans, &err);
    json_decref(body);
    if (rc != 0)
        return svc_sweep_no_answer(&err);
    if (ans.status == 404 || ans.status == 405)
        rc = explain_not_found(cx, a, what, &ans);
    else
        rc = svc_sweep_answer_json(what, &ans, 202, answer);
    svc_http_answer_deinit(&ans);
    return rc;
}

int svc_cmd_sweep_op(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(extend_usage, stdout);
            return SVC_EXIT_OK;
        }
    svc_sweep_op_args_t a;
    svc_sweep_client_t cx = {0};
    json_t *answer = NULL, *done = NULL;
    char *token = NULL;
    size_t timeout = 30;
    int rc = svc_sweep_op_parse(argc, argv, &a);
    if (rc)
        goto out;
    if ((a.timeout && svc_parse_size("timeout", a.timeout, 1, 86400, &timeout) != 0) ||
        (a.token_file && !(token = svc_token_file_read(a.token_file)))) {
        rc = SVC_EXIT_USAGE;
        goto out;
    }
    if ((rc = svc_sweep_client_open(&cx, a.server, token, (long)timeout, a.json)) != 0 ||
        (rc = op_post(&cx, &a, &answer)) != 0)
        goto out;
    /* extend answers the sweep; retry {"requeued": [...], "sweep": {...}} */
    const json_t *sw = a.kind == SVC_SWEEP_OP_RETRY ? json_object_get(answer, "sweep") : answer;
    if (!json_is_object(sw)) {
        svc_errorf("POST /api/v1/sweeps/%" PRId64 "/%s: the answer has no sweep", a.sweep_id,
                   svc_sweep_op_name(a.kind));
        rc = SVC_EXIT_FAILURE;
        goto out;
    }
    if (!a.wait) {
        rc = a.json ? svc_sweep_print_json(answer) : say_done(&a, answer, sw);
        goto out;
    }
    if (!a.json && (rc = say_done(&a, answer, sw)) != 0)
        goto out;
    double t0 = svc_now();
    if ((rc = svc_sweep_follow(&cx, a.sweep_id, &done)) != 0)
        goto out;
    const json_t *requeued = json_object_get(answer, "requeued");
    if (a.kind == SVC_SWEEP_OP_RETRY && requeued &&
        json_object_set(done, "requeued", (json_t *)requeued) != 0) {
        svc_errorf("out of memory");
        rc = SVC_EXIT_FAILURE;
        goto out;
    }
    rc = svc_sweep_finish(&cx, done, svc_now() - t0);
out:
    json_decref(done);
    json_decref(answer);
    svc_sweep_client_close(&cx);
    svc_sweep_op_args_deinit(&a);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    return rc;
}
