/*
 * api/h_common.c - what every handler uses: the route's {id}, the thread's reader, the answers
 * to a failed read, a bad query or a malformed body, list pages, and the seconds clock of the
 * session table. Below the handlers (h_*.c) and dispatch.c, which call it; it calls neither.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"
#include "server.h"
#include "validate.h"

int64_t api_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

int api_h_id(const api_request_t *req, const char *what, int64_t *id, api_response_t *res) {
    if (api_parse_id(req->param, id) == 0)
        return 0;
    api_problemf(res, API_PROBLEM_NOT_FOUND, "%s \"%s\" not found (ids are positive integers)",
                 what, req->param);
    return -1;
}

store_t *api_h_reader(api_t *a, api_response_t *res) {
    store_error_t err;
    memset(&err, 0, sizeof(err));
    store_t *st = api_reader(a, &err);
    if (!st) {
        api_logf(a, "store: cannot open a reader: %s", err.message);
        res->retry_after = 5;
        api_problemf(res, API_PROBLEM_UNAVAILABLE, "the database cannot be read right now");
    }
    return st;
}

void api_h_fail(api_t *a, api_response_t *res, int rc, const store_error_t *err, const char *what,
                int64_t id) {
    if (rc == 0) /* a failure without a code: never answer it as a success */
        rc = MLPT_EDB;
    if (rc == MLPT_ENOTFOUND) {
        api_problemf(res, API_PROBLEM_NOT_FOUND, "%s %lld not found", what, (long long)id);
        return;
    }
    api_problem_kind_t kind = api_error_kind(rc);
    const char *msg = err && err->message[0] ? err->message : mlpt_strerror(rc);
    int unavailable = kind == API_PROBLEM_UNAVAILABLE;
    if (unavailable || kind == API_PROBLEM_INTERNAL || kind == API_PROBLEM_NO_SPACE) {
        api_logf(a, "%s %lld: %s (%s)", what, (long long)id, msg, mlpt_strerror(rc));
        if (unavailable)
            res->retry_after = 5;
        /* An unavailable's message says why (shutting down, the database lost or locked); no
         * store or scheduler message names a server path. Other server errors say only the
         * code's sentence. */
        api_problemf(res, kind, "%s",
                     !unavailable             ? mlpt_strerror(rc)
                     : err && err->message[0] ? err->message
                                              : "the server is shutting down");
        return;
    }
    api_problemf(res, kind, "%s", msg);
}

int api_h_query(const api_request_t *req, const char *const *allowed, api_errors_t *errs,
                api_response_t *res) {
    api_errors_t *own = NULL;
    if (!errs) {
        if (!(own = malloc(sizeof(*own)))) {
            api_problem_code(res, MLPT_ENOMEM, NULL);
            return -1;
        }
        api_errors_init(own);
        errs = own;
    }
    api_validate_query(req, allowed, errs);
    int bad = errs->n > 0;
    if (bad && own)
        api_h_invalid(res, errs);
    free(own);
    return bad ? -1 : 0;
}

void api_h_invalid(api_response_t *res, const api_errors_t *errs) {
    char detail[512];
    if (errs->n == 1)
        snprintf(detail, sizeof(detail), "%s: %s", errs->items[0].field, errs->items[0].message);
    else
        snprintf(detail, sizeof(detail), "%zu fields are invalid, first %s: %s",
                 errs->n + errs->dropped, errs->items[0].field, errs->items[0].message);
    api_problem(res, API_PROBLEM_INVALID, detail, errs);
}

int api_h_list_query(const api_request_t *req, const char *const *allowed, size_t *limit,
                     const char **status, const char **sort, api_response_t *res) {
    api_errors_t *errs = malloc(sizeof(*errs));
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return -1;
    }
    api_errors_init(errs);
    api_h_query(req, allowed, errs, res);
    if (status)
        api_query_sweep_status(req, status, errs);
    if (sort)
        api_query_trial_sort(req, sort, errs);
    api_query_limit(req, limit, errs);
    int bad = errs->n > 0;
    if (bad)
        api_h_invalid(res, errs);
    free(errs);
    return bad ? -1 : 0;
}

void api_h_page(api_t *a, api_response_t *res, json_t *page, const store_error_t *err,
                const char *what, int64_t id) {
    if (page)
        api_res_json(res, 200, page);
    else if (err->code == MLPT_EINVAL)
        api_problem_field(res, API_PROBLEM_INVALID, "query.cursor",
                          "is not a cursor from a previous page");
    else
        api_h_fail(a, res, err->code, err, what, id);
}

json_t *api_h_body(const api_request_t *req, api_response_t *res) {
    char detail[300];
    json_t *j = api_json_parse(req->body, req->body_len, detail, sizeof(detail));
    if (!j)
        api_problemf(res, API_PROBLEM_MALFORMED, "malformed JSON: %s", detail);
    return j;
}
