/*
 * api/dispatch.c - what happens to a request between the HTTP layer and the handlers: routing,
 * authentication, quiescing, media types, size limits, static files, and the handler table
 * (the API_ROUTES table of router.h, expanded with its handlers). Calls go one way: dispatch.c ->
 * h_*.c -> h_common.c (the handlers' helpers); the credentials check is h_session.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "json_util.h"
#include "mlpt_err.h"
#include "origin.h"
#include "problem.h"
#include "server.h"
#include "static_files.h"
#include "upload.h"
#include "validate.h"

static const api_handler_fn handlers[API_ROUTE_COUNT] = {
#define API_HANDLER_ROW(id, method, pattern, body, handler) handler,
    API_ROUTES(API_HANDLER_ROW)
#undef API_HANDLER_ROW
};

/* Slack above max_upload_bytes for the multipart framing around the files. */
#define UPLOAD_FRAMING_SLACK ((uint64_t)1 << 20)

/* Whether a Content-Type names type/subtype (parameters ignored, case-insensitive). */
static int media_is(const char *ctype, const char *want) {
    size_t n = strlen(want);
    if (!ctype)
        return 0;
    while (*ctype == ' ')
        ctype++;
    return strncasecmp(ctype, want, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static int is_api_path(const char *path) {
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

/* The session routes answer without credentials: signing in is how one gets them. */
static int is_session_route(api_match_status_t ms, const api_match_t *m) {
    return ms == API_MATCH_OK &&
           (m->route->id == API_R_SESSION_GET || m->route->id == API_R_SESSION_CREATE ||
            m->route->id == API_R_SESSION_DELETE);
}

/* Whether the request is a browser's from another site or for another host (403 in res). Every
 * path, static files and /healthz included: a DNS-rebound page could read them all. */
static int refuse_foreign(api_t *a, const api_request_t *req, api_response_t *res) {
    if (!api_host_allowed(&a->hosts, req->host)) {
        api_problemf(res, API_PROBLEM_FORBIDDEN,
                     "this service does not answer for the host named in the Host header (add "
                     "it with --allowed-hosts if it is one of this machine's names)");
        return 1;
    }
    const char *why =
        api_cross_site_refusal(req->method, req->origin, req->fetch_site, req->host, a->tls);
    if (why) {
        api_problemf(res, API_PROBLEM_FORBIDDEN, "%s", why);
        return 1;
    }
    return 0;
}

int api_dispatch_begin(api_t *a, api_request_t *req, const char *authorization,
                       const char *content_length, api_dispatch_t *d, api_response_t *res) {
    api_match_t m;
    api_match_status_t ms = api_route_match(req->method, req->path, &m);
    int is_api = is_api_path(req->path);
    memset(d, 0, sizeof(*d));
    d->slot = ms == API_MATCH_OK ? (size_t)m.route->id : API_SLOT_UNMATCHED;
    req->authorization = authorization;
    if (refuse_foreign(a, req, res))
        return 1;
    if (is_api && atomic_load(&a->quiescing)) {
        res->retry_after = 5;
        api_problemf(res, API_PROBLEM_UNAVAILABLE, "the server is shutting down");
        return 1;
    }
    if (is_api && !is_session_route(ms, &m) && api_authenticated(a, req, NULL) == API_AUTH_NONE) {
        res->auth_challenge = 1;
        api_problemf(res, API_PROBLEM_UNAUTHORIZED,
                     "this server needs an Authorization: Bearer <token> header or a session "
                     "(sign in with POST /api/v1/session)");
        return 1;
    }
    if (is_api && api_health_refuse_if_lost(a, res)) /* reads too: see health.c */
        return 1;
    if (ms == API_MATCH_NOT_ALLOWED) {
        api_allow_format(m.allow, res->allow, sizeof(res->allow));
        api_problemf(res, API_PROBLEM_METHOD, "%s is not allowed on %s (allowed: %s)",
                     api_method_name(req->method), req->path, res->allow);
        return 1;
    }
    if (ms == API_MATCH_NOT_FOUND) {
        if (is_api) {
            api_problemf(res, API_PROBLEM_NOT_FOUND, "no such resource: %s", req->path);
            return 1;
        }
        if (req->method != API_GET && req->method != API_HEAD) {
            snprintf(res->allow, sizeof(res->allow), "GET, HEAD");
            api_problemf(res, API_PROBLEM_METHOD, "static files answer GET and HEAD only");
            return 1;
        }
        d->is_static = 1;
        d->slot = API_SLOT_STATIC;
        return 0;
    }
    d->route = m.route;
    memcpy(req->param, m.param, sizeof(req->param));
    uint64_t length = 0;
    int has_length = content_length && api_parse_uint(content_length, UINT64_MAX, &length) == 0;
    if (m.route->body == API_IN_JSON ||
        (m.route->body == API_IN_JSON_OPT && (req->content_type || (has_length && length > 0)))) {
        if (!media_is(req->content_type, "application/json")) {
            api_problemf(res, API_PROBLEM_MEDIA_TYPE, "the body must be application/json");
            return 1;
        }
        if (has_length && length > a->limits.max_body_bytes) {
            api_dispatch_too_large(a, d, res);
            return 1;
        }
    } else if (m.route->body == API_IN_NONE && req->method != API_GET && req->method != API_HEAD &&
               req->content_type && !media_is(req->content_type, "application/json")) {
        /* No body is read, but a body a browser may send cross-site without asking first
         * (text/plain, a form) is refused, so such a "simple request" can never act. */
        api_problemf(res, API_PROBLEM_MEDIA_TYPE, "send no body, or an application/json one");
        return 1;
    } else if (m.route->body == API_IN_UPLOAD) {
        int multipart = media_is(req->content_type, "multipart/form-data");
        if (!multipart && !media_is(req->content_type, "text/csv")) {
            api_problemf(res, API_PROBLEM_MEDIA_TYPE,
                         "upload a dataset as multipart/form-data (fields file, or "
                         "images and labels) or as a text/csv body");
            return 1;
        }
        if (has_length &&
            length > a->limits.max_upload_bytes + (multipart ? UPLOAD_FRAMING_SLACK : 0)) {
            api_dispatch_too_large(a, d, res);
            return 1;
        }
        req->upload = api_upload_new(a->data_dir, a->limits.max_upload_bytes);
        if (!req->upload) {
            api_problem_code(res, MLPT_ENOMEM, NULL);
            return 1;
        }
        api_upload_set_budget(req->upload, a->upload_budget);
        static const char *const raw_args[] = {"name",
                                               "label_column",
                                               "format",
                                               "subject_column",
                                               "timestamp_column",
                                               "timestamp_unit",
                                               NULL};
        static const char *const no_args[] = {NULL};
        if (api_h_query(req, multipart ? no_args : raw_args, NULL, res) != 0)
            return 1;
        if (!multipart) {
            for (size_t i = 0; raw_args[i]; i++) {
                const char *v = api_query(req, raw_args[i]);
                if (v)
                    api_upload_set(req->upload, raw_args[i], v, strlen(v));
            }
            api_upload_field(req->upload, "file", NULL, NULL, 0, 0);
            if (api_upload_refused(req->upload)) {
                api_upload_problem(req->upload, res);
                return 1;
            }
        }
    }
    return 0;
}

void api_dispatch_too_large(api_t *a, const api_dispatch_t *d, api_response_t *res) {
    if (d->route && d->route->body == API_IN_UPLOAD)
        api_problemf(res, API_PROBLEM_TOO_LARGE,
                     "the upload exceeds the limit max_upload_bytes (%zu bytes)",
                     a->limits.max_upload_bytes);
    else
        api_problemf(res, API_PROBLEM_TOO_LARGE,
                     "the request body exceeds the limit max_body_bytes (%zu bytes)",
                     a->limits.max_body_bytes);
}

static void serve_static(api_t *a, const api_request_t *req, api_response_t *res) {
    char rel[1024];
    uint64_t size = 0;
    int fd = -1;
    if (a->web_real && api_static_rel(req->path, rel, sizeof(rel)) == 0) {
        fd = api_static_open(a->web_real, rel, &size);
        if (fd < 0 && errno == ENOENT && api_static_is_page(rel)) {
            snprintf(rel, sizeof(rel), "index.html");
            fd = api_static_open(a->web_real, rel, &size);
        }
    }
    if (fd < 0) {
        api_problemf(res, API_PROBLEM_NOT_FOUND, "no such file");
        return;
    }
    res->status = 200;
    res->kind = API_BODY_FILE;
    res->fd = fd;
    res->fd_size = size;
    res->content_type = api_static_type(rel);
    res->no_cache = 1;
}

void api_dispatch_finish(api_t *a, const api_request_t *req, const api_dispatch_t *d,
                         api_response_t *res) {
    if (d->is_static)
        serve_static(a, req, res);
    else if (d->route)
        handlers[d->route->id](a, req, res);
    else
        api_problemf(res, API_PROBLEM_NOT_FOUND, "no such resource");
    if (res->status == 0)
        api_problem_code(res, MLPT_EIO, "the handler gave no answer");
}
