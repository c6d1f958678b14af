/*
 * cmd_sweep.c - `mlptune sweep`: the client for scripts. Uploads dataset files, submits a grid,
 * and with --wait follows the sweep to its end, then prints the leaderboard or one JSON object.
 * This file is the command itself (creating, following and finishing the sweep); the arguments
 * and local files are checked in sweep_spec.c, uploads are sweep_upload.c, the display and the
 * leaderboard sweep_view.c, and the HTTP layer http_client.c.
 *
 * Everything the server says goes through one place (sweep_answer.c) that turns statuses and
 * problem+json bodies into messages on stderr and an exit status: 4xx is the caller's mistake
 * (2), anything else a runtime failure (1). Following polls GET /api/v1/sweeps/{id} every half
 * second: polling needs no state on the server, so a server restart (or a brief outage) during
 * the wait costs nothing as long as it is back within --timeout.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"
#include "mlpt_err.h"
#include "sweep_answer.h"
#include "sweep_spec.h"
#include "sweep_upload.h"
#include "sweep_view.h"

#define POLL_SECONDS 0.5
#define LEADERBOARD_PAGE 1000 /* the API's largest page */

static const char sweep_usage[] =
    "usage: mlptune sweep --server URL --dataset FILE|ID [--labels FILE] --grid FILE.json\n"
    "                     [--test-dataset FILE|ID [--test-labels FILE]] [--name NAME]\n"
    "                     [--label-column C] [--wait] [--json] [--token-file F] [--timeout S]\n"
    "\n"
    "Submits a grid sweep to a running `mlptune serve` and, with --wait, follows it to its end.\n"
    "\n"
    "  --server URL            the service, e.g. http://127.0.0.1:8080 (MLPTUNE_SERVER)\n"
    "  --dataset FILE|ID       a file to upload first: CSV with a header row, or IDX images\n"
    "                          (then --labels too), gzip-compressed or not; all digits: the id\n"
    "                          of a dataset already uploaded (write ./123 for a file named 123)\n"
    "  --labels FILE           the IDX labels that go with IDX images given as --dataset\n"
    "  --grid FILE.json        {\"grid\": {...}, \"training\": {...}, \"name\": ...}: the body of\n"
    "                          POST /api/v1/sweeps without dataset_id and test_dataset_id,\n"
    "                          which come from --dataset and --test-dataset\n"
    "  --test-dataset FILE|ID  a separate test set, given like --dataset (--test-labels FILE)\n"
    "  --name NAME             the sweep's name (instead of the grid file's \"name\")\n"
    "  --label-column C        the label column (name or 0-based index) of uploaded CSV files\n"
    "  --wait                  follow the sweep until it ends, then print its leaderboard\n"
    "  --json                  print exactly one JSON object on stdout: the sweep as created,\n"
    "                          or with --wait the finished sweep with \"leaderboard\": its\n"
    "                          trials, best validation accuracy first\n"
    "  --token-file F          send the token in F (whitespace trimmed) as\n"
    "                          \"Authorization: Bearer\" (MLPTUNE_TOKEN_FILE)\n"
    "  --timeout S             seconds one request may take, and the server may stay\n"
    "                          unreachable while --wait follows, before giving up (default 30)\n"
    "\n"
    "Messages and progress go to stderr: while waiting, a bar redrawn in place on a terminal,\n"
    "plain lines otherwise. Following survives a server restart that is back within --timeout.\n"
    "Ctrl-C stops following; the sweep goes on on the server.\n"
    "\n"
    "exit status: 0 the sweep completed (without --wait: it was created)\n"
    "             1 the sweep failed, the server was lost or failed (5xx), other runtime errors\n"
    "             2 bad arguments, an unreadable or malformed local file, or a 4xx answer from\n"
    "               the server (its detail and each field error are printed)\n"
    "             4 the sweep was canceled\n"
    "           130 interrupted\n";

typedef struct sweep_ctx {
    const svc_sweep_args_t *args;
    svc_http_t *http;
    long timeout_s;
    int tty; /* stderr is a terminal */
} sweep_ctx_t;

static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal cuts it short, and the caller checks g_stop */
}

/* ---- the sweep ---------------------------------------------------------------------------- */

/* POSTs the grid file's object with the dataset ids; *sweep gets the 201 body. */
static int sweep_create(sweep_ctx_t *cx, json_t *body, const svc_dataset_ref_t *train,
                        const svc_dataset_ref_t *test, json_t **sweep) {
    if (cx->args->name) {
        json_t *name = json_string(cx->args->name);
        if (!name) {
            svc_errorf("--name: not valid UTF-8");
            return SVC_EXIT_USAGE;
        }
        if (json_object_set_new(body, "name", name) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
    }
    if (json_object_set_new(body, "dataset_id", json_integer((json_int_t)train->id)) ||
        (test &&
         json_object_set_new(body, "test_dataset_id", json_integer((json_int_t)test->id)))) {
        svc_errorf("out of memory");
        return SVC_EXIT_FAILURE;
    }
    svc_http_answer_t ans;
    svc_http_error_t err;
    if (svc_http_post_json(cx->http, "/api/v1/sweeps", body, &ans, &err) != 0)
        return svc_sweep_no_answer(&err);
    int rc = svc_sweep_answer_json("POST /api/v1/sweeps", &ans, 201, sweep);
    svc_http_answer_deinit(&ans);
    if (rc == 0 && json_integer_value(json_object_get(*sweep, "id")) <= 0) {
        svc_errorf("POST /api/v1/sweeps: the answer has no sweep id");
        json_decref(*sweep);
        *sweep = NULL;
        rc = SVC_EXIT_FAILURE;
    }
    return rc;
}

static int is_terminal_status(const char *s) {
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "canceled"));
}

/* Polls the sweep until it ends. Returns 0 with *final (new reference) the finished sweep, or
 * the exit status after saying why. A server that cannot be reached (or answers 502/503/504)
 * is asked again until it has been away for longer than the timeout. */
static int sweep_follow(sweep_ctx_t *cx, int64_t id, json_t **final) {
    char path[64], why[600];
    svc_progress_t p = {.tty = cx->tty, .id = id, .last_line = -1e9};
    double t0 = svc_now(), down_since = -1.0;
    snprintf(path, sizeof path, "/api/v1/sweeps/%" PRId64, id);
    *final = NULL;
    for (;;) {
        if (g_stop) {
            svc_progress_end(&p);
            svc_errorf("interrupted: sweep %" PRId64 " goes on on the server", id);
            return SVC_SWEEP_EXIT_INTERRUPTED;
        }
        svc_http_answer_t ans;
        svc_http_error_t err;
        int rc = svc_http_get(cx->http, path, &ans, &err);
        int away =
            rc ? err.transient : (ans.status == 502 || ans.status == 503 || ans.status == 504);
        if (rc && !away) {
            svc_progress_end(&p);
            if (err.code == MLPT_ESTOPPED) {
                svc_errorf("interrupted: sweep %" PRId64 " goes on on the server", id);
                return SVC_SWEEP_EXIT_INTERRUPTED;
            }
            return svc_sweep_no_answer(&err);
        }
        if (away) {
            double now = svc_now();
            if (rc)
                snprintf(why, sizeof why, "%s", err.message);
            else
                snprintf(why, sizeof why, "GET %s: HTTP %ld", path, ans.status);
            svc_http_answer_deinit(&ans);
            if (down_since < 0) {
                down_since = now;
                svc_progress_note(&p, "lost the server (%s); trying again for up to %ld s", why,
                                  cx->timeout_s);
            } else if (now - down_since > (double)cx->timeout_s) {
                svc_progress_end(&p);
                svc_errorf("lost the server: unreachable for %.0f s (%s); sweep %" PRId64
                           " may still be running",
                           now - down_since, why, id);
                return SVC_EXIT_FAILURE;
            }
            sleep_s(POLL_SECONDS);
            continue;
        }
        if (down_since >= 0) {
            down_since = -1.0;
            svc_progress_note(&p, "the server is back");
        }
        json_t *sw;
        char what[96];
        snprintf(what, sizeof what, "GET %s", path);
        rc = svc_sweep_answer_json(what, &ans, 200, &sw);
        svc_http_answer_deinit(&ans);
        if (rc) {
            svc_progress_end(&p);
            return SVC_EXIT_FAILURE; /* a sweep that vanished is no mistake of the caller's */
        }
        svc_sweep_view_t v;
        svc_sweep_view(sw, &v);
        svc_progress_show(&p, &v, svc_now() - t0);
        if (is_terminal_status(v.status)) {
            svc_progress_end(&p);
            *final = sw;
            return 0;
        }
        json_decref(sw);
        sleep_s(POLL_SECONDS);
    }
}

/* Every trial of the sweep, best validation accuracy first, as one new array in *out. */
static int leaderboard_fetch(sweep_ctx_t *cx, int64_t id, json_t **out) {
    json_t *all = json_array();
    char *cursor = NULL;
    int rc = all ? 0 : SVC_EXIT_FAILURE;
    if (!all)
        svc_errorf("out of memory");
    while (rc == 0) {
        char *esc = cursor ? svc_http_escape(cx->http, cursor) : NULL;
        size_t size = 128 + (esc ? strlen(esc) : 0);
        char *path = (cursor && !esc) ? NULL : malloc(size);
        if (!path) {
            free(esc);
            svc_errorf("out of memory");
            rc = SVC_EXIT_FAILURE;
            break;
        }
        snprintf(path, size,
                 "/api/v1/sweeps/%" PRId64 "/trials?sort=-best_val_accuracy&limit=%d%s%s", id,
                 LEADERBOARD_PAGE, esc ? "&cursor=" : "", esc ? esc : "");
        free(esc);
        free(cursor);
        cursor = NULL;
        json_t *page;
        rc = svc_sweep_get_json(cx->http, path, &page);
        free(path);
        if (rc) {
            if (rc == SVC_EXIT_USAGE)
                rc = SVC_EXIT_FAILURE;
            break;
        }
        json_t *items = json_object_get(page, "items");
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (!json_is_array(items) || json_array_extend(all, items) != 0) {
            svc_errorf("GET /api/v1/sweeps/%" PRId64 "/trials: %s", id,
                       json_is_array(items) ? "out of memory" : "the answer has no \"items\"");
            rc = SVC_EXIT_FAILURE;
        } else if (next && *next && json_array_size(items) > 0 && !(cursor = strdup(next))) {
            svc_errorf("out of memory");
            rc = SVC_EXIT_FAILURE;
        }
        json_decref(page);
        if (!cursor)
            break;
    }
    free(cursor);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* Writes obj as the one JSON document on stdout. Returns 0 or the exit status. */
static int print_json(const json_t *obj) {
    if (json_dumpf(obj, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        svc_errorf("cannot write to stdout: %s", strerror(errno));
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* After the wait: leaderboard, output, and the exit status the sweep's end calls for. */
static int sweep_finish(sweep_ctx_t *cx, json_t *sw, double elapsed) {
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    const char *status = json_string_value(json_object_get(sw, "status"));
    json_t *trials;
    int rc = leaderboard_fetch(cx, id, &trials);
    if (rc)
        return rc;
    if (cx->args->json) {
        if (json_object_set_new(sw, "leaderboard", trials) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
        rc = print_json(sw);
    } else {
        svc_leaderboard_print(sw, trials, elapsed);
        json_decref(trials);
        if (fflush(stdout) != 0) {
            svc_errorf("cannot write to stdout: %s", strerror(errno));
            rc = SVC_EXIT_FAILURE;
        }
    }
    if (rc)
        return rc;
    if (status && !strcmp(status, "completed"))
        return SVC_EXIT_OK;
    if (status && !strcmp(status, "canceled")) {
        svc_errorf("sweep %" PRId64 " was canceled", id);
        return SVC_SWEEP_EXIT_CANCELED;
    }
    char a[64], b[1024];
    const char *error = json_string_value(json_object_get(sw, "error"));
    svc_errorf("sweep %" PRId64 " %s%s%s", id, svc_clean(status ? status : "ended", a, sizeof a),
               error && *error ? ": " : "", svc_clean(error, b, sizeof b));
    return SVC_EXIT_FAILURE;
}

/* ---- the command -------------------------------------------------------------------------- */

int svc_cmd_sweep(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(sweep_usage, stdout);
            return SVC_EXIT_OK;
        }
    svc_sweep_args_t a = {0};
    svc_dataset_ref_t train = {0}, test = {0};
    json_t *grid = NULL, *sw = NULL, *done = NULL;
    char *token = NULL;
    sweep_ctx_t cx = {.args = &a, .tty = isatty(STDERR_FILENO)};
    int rc = svc_sweep_prepare(argc, argv, &a, &train, &test, &grid, &token, &cx.timeout_s);
    if (rc)
        goto out;

    svc_http_error_t err;
    cx.http = svc_http_new(a.server, token, cx.timeout_s, &err);
    if (!cx.http) {
        svc_errorf("--server %s: %s", a.server, err.message);
        rc = err.code == MLPT_EINVAL ? SVC_EXIT_USAGE : SVC_EXIT_FAILURE;
        goto out;
    }
    /* Ctrl-C aborts the request in flight and ends the command; a closed pipe is an error
     * that the writes report, not a signal that kills. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    svc_http_set_abort_flag(cx.http, &g_stop);

    if ((rc = svc_dataset_upload(cx.http, &train, a.label_column, cx.tty)) != 0 ||
        (a.test_dataset &&
         (rc = svc_dataset_upload(cx.http, &test, a.label_column, cx.tty)) != 0) ||
        (rc = sweep_create(&cx, grid, &train, a.test_dataset ? &test : NULL, &sw)) != 0)
        goto out;
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    if (!a.wait) {
        char st[32];
        if (a.json)
            rc = print_json(sw);
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
    if ((rc = sweep_follow(&cx, id, &done)) == 0)
        rc = sweep_finish(&cx, done, svc_now() - t0);
out:
    json_decref(done);
    json_decref(sw);
    json_decref(grid);
    svc_http_free(cx.http);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    return rc;
}
