/*
 * sweep_follow.c - what every form of `mlptune sweep` does once it holds a sweep id: the
 * connection and Ctrl-C, following the sweep, its leaderboard and the result.
 *
 * Following polls GET /api/v1/sweeps/{id} every half second: polling needs no state on the
 * server, so a server restart (or a brief outage) during the wait costs nothing as long as it
 * is back within --timeout.
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
#include "sweep_follow.h"
#include "sweep_view.h"

#define POLL_SECONDS 0.5
#define LEADERBOARD_PAGE 1000 /* the API's largest page */

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

static int is_terminal_status(const char *s) {
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "canceled"));
}

/* Polls the sweep until it ends. Returns 0 with *final (new reference) the finished sweep, or
 * the exit status after saying why. A server that cannot be reached (or answers 502/503/504)
 * is asked again until it has been away for longer than the timeout. */
int svc_sweep_follow(svc_sweep_client_t *cx, int64_t id, json_t **final) {
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
static int leaderboard_fetch(svc_sweep_client_t *cx, int64_t id, json_t **out) {
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
int svc_sweep_print_json(const json_t *obj) {
    if (json_dumpf(obj, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        svc_errorf("cannot write to stdout: %s", strerror(errno));
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* After the wait: leaderboard, output, and the exit status the sweep's end calls for. */
int svc_sweep_finish(svc_sweep_client_t *cx, json_t *sw, double elapsed) {
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    const char *status = json_string_value(json_object_get(sw, "status"));
    json_t *trials;
    int rc = leaderboard_fetch(cx, id, &trials);
    if (rc)
        return rc;
    if (cx->json) {
        if (json_object_set_new(sw, "leaderboard", trials) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
        rc = svc_sweep_print_json(sw);
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

/* ---- the connection ----------------------------------------------------------------------- */

int svc_sweep_client_open(svc_sweep_client_t *c, const char *server, const char *token,
                          long timeout_s, int json) {
    memset(c, 0, sizeof *c);
    c->timeout_s = timeout_s;
    c->tty = isatty(STDERR_FILENO);
    c->json = json;
    svc_http_error_t err;
    c->http = svc_http_new(server, token, timeout_s, &err);
    if (!c->http) {
        svc_errorf("--server %s: %s", server, err.message);
        return err.code == MLPT_EINVAL ? SVC_EXIT_USAGE : SVC_EXIT_FAILURE;
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
    svc_http_set_abort_flag(c->http, &g_stop);
    return 0;
}

void svc_sweep_client_close(svc_sweep_client_t *c) {
    svc_http_free(c->http);
    c->http = NULL;
}
