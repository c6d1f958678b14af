/*
 * sweep_answer.c - what the server says to `mlptune sweep`: statuses and problem+json bodies
 * become messages on stderr (server text cleaned of control characters: it is shown as data)
 * and an exit status.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"
#include "mlpt_err.h"
#include "sweep_answer.h"
#include "sweep_view.h"

/* Prints a problem+json answer (or whatever else came) for "METHOD PATH". */
static void report_problem(const char *what, const svc_http_answer_t *ans) {
    char a[512], b[512];
    json_t *p = json_loads(ans->body, 0, NULL);
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    if (!json_is_object(p)) {
        size_t n = strcspn(ans->body, "\r\n");
        char first[201];
        snprintf(first, sizeof first, "%.*s", (int)(n < 200 ? n : 200), ans->body);
        svc_errorf("%s: HTTP %ld%s%s", what, ans->status, first[0] ? ": " : "",
                   svc_clean(first, a, sizeof a));
        json_decref(p);
        return;
    }
    if (title && detail && strcmp(title, detail) != 0)
        svc_errorf("%s: HTTP %ld %s: %s", what, ans->status, svc_clean(title, a, sizeof a),
                   svc_clean(detail, b, sizeof b));
    else
        svc_errorf("%s: HTTP %ld %s", what, ans->status,
                   svc_clean(detail  ? detail
                             : title ? title
                                     : "",
                             a, sizeof a));
    json_t *errors = json_object_get(p, "errors"), *e;
    size_t i;
    json_array_foreach(errors, i, e) {
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *message = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "  %s: %s\n", svc_clean(field ? field : "?", a, sizeof a),
                svc_clean(message ? message : "", b, sizeof b));
    }
    json_decref(p);
}

/* Says why a request got no answer. Returns the exit status. */
int svc_sweep_no_answer(const svc_http_error_t *err) {
    if (err->code == MLPT_ESTOPPED) {
        svc_errorf("interrupted");
        return SVC_SWEEP_EXIT_INTERRUPTED;
    }
    if (err->code == MLPT_EIO && err->transient)
        svc_errorf("cannot reach the server: %s", err->message);
    else
        svc_errorf("%s", err->message);
    return SVC_EXIT_FAILURE;
}

/* Checks an answer for status `expect` and parses its JSON object into *out (new reference).
 * Returns 0, or the exit status after saying why: 2 for a 4xx, 1 otherwise. */
int svc_sweep_answer_json(const char *what, const svc_http_answer_t *ans, long expect,
                          json_t **out) {
    *out = NULL;
    if (ans->status != expect) {
        report_problem(what, ans);
        return ans->status >= 400 && ans->status < 500 ? SVC_EXIT_USAGE : SVC_EXIT_FAILURE;
    }
    json_error_t je;
    json_t *j = json_loadb(ans->body, ans->len, 0, &je);
    if (!json_is_object(j)) {
        char a[200];
        svc_errorf("%s: the answer is not a JSON object (%s)", what,
                   j ? "another JSON value" : svc_clean(je.text, a, sizeof a));
        json_decref(j);
        return SVC_EXIT_FAILURE;
    }
    *out = j;
    return 0;
}

/* GET path, expecting 200 and a JSON object. Returns 0 or the exit status (after saying why). */
int svc_sweep_get_json(svc_http_t *http, const char *path, json_t **out) {
    svc_http_answer_t ans;
    svc_http_error_t err;
    char what[256];
    *out = NULL;
    if (svc_http_get(http, path, &ans, &err) != 0)
        return svc_sweep_no_answer(&err);
    snprintf(what, sizeof what, "GET %s", path);
    int rc = svc_sweep_answer_json(what, &ans, 200, out);
    svc_http_answer_deinit(&ans);
    return rc;
}
