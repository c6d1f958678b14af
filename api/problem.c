/*
 * api/problem.c - problem+json bodies, the MLPT_E* -> HTTP status mapping (the only one in the
 * project), and the response struct's life cycle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"
#include "sse.h"

void api_response_init(api_response_t *res) {
    memset(res, 0, sizeof(*res));
    res->fd = -1;
}

void api_response_deinit(api_response_t *res) {
    free(res->body);
    if (res->fd >= 0)
        close(res->fd);
    api_sse_unsubscribe(res->sse);
    api_response_init(res);
}

void api_errors_init(api_errors_t *e) {
    e->n = 0;
    e->dropped = 0;
}

void api_errors_vadd(api_errors_t *e, const char *field, const char *fmt, va_list ap) {
    if (e->n >= API_MAX_ERRORS) {
        e->dropped++;
        return;
    }
    api_field_error_t *it = &e->items[e->n++];
    snprintf(it->field, sizeof(it->field), "%s", field ? field : "");
    vsnprintf(it->message, sizeof(it->message), fmt, ap);
}

void api_errors_add(api_errors_t *e, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    api_errors_vadd(e, field, fmt, ap);
    va_end(ap);
}

/* The one table of error statuses: everything the API refuses gets its status here. */
unsigned api_problem_status(api_problem_kind_t kind) {
    switch (kind) {
    case API_PROBLEM_NONE:
        return 200;
    case API_PROBLEM_MALFORMED:
        return 400;
    case API_PROBLEM_UNAUTHORIZED:
        return 401;
    case API_PROBLEM_FORBIDDEN:
        return 403;
    case API_PROBLEM_NOT_FOUND:
        return 404;
    case API_PROBLEM_METHOD:
        return 405;
    case API_PROBLEM_CONFLICT:
        return 409;
    case API_PROBLEM_TOO_LARGE:
        return 413;
    case API_PROBLEM_MEDIA_TYPE:
        return 415;
    case API_PROBLEM_INVALID:
        return 422;
    case API_PROBLEM_TOO_MANY:
        return 429;
    case API_PROBLEM_UNAVAILABLE:
        return 503;
    case API_PROBLEM_NO_SPACE:
        return 507;
    case API_PROBLEM_INTERNAL:
    default:
        return 500;
    }
}

api_problem_kind_t api_error_kind(int code) {
    switch (code) {
    case MLPT_OK:
        return API_PROBLEM_NONE;
    case MLPT_ENOTFOUND:
        return API_PROBLEM_NOT_FOUND;
    case MLPT_ESTATE:
        return API_PROBLEM_CONFLICT;
    case MLPT_EINVAL:
    case MLPT_EFORMAT:
    case MLPT_ELIMIT:
        return API_PROBLEM_INVALID;
    case MLPT_EBUSY:
        return API_PROBLEM_UNAVAILABLE;
    case MLPT_ENOSPC:
        return API_PROBLEM_NO_SPACE;
    default: /* ENOMEM, EIO, EDB, EVERSION, EDIVERGED, ESTOPPED, unknown */
        return API_PROBLEM_INTERNAL;
    }
}

unsigned api_error_status(int code) {
    return api_problem_status(api_error_kind(code));
}

api_problem_kind_t api_file_error_kind(int errnum) {
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return API_PROBLEM_NO_SPACE;
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOTDIR:
    case ENOENT:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
        return API_PROBLEM_UNAVAILABLE;
    default:
        return API_PROBLEM_INTERNAL;
    }
}

typedef struct problem_kind {
    unsigned status;
    const char *slug;
    const char *title;
} problem_kind_t;

static const problem_kind_t kinds[] = {
    {400, "malformed", "Malformed request"},
    {401, "unauthorized", "Authentication required"},
    {403, "forbidden", "Forbidden"},
    {404, "not-found", "Not found"},
    {405, "method-not-allowed", "Method not allowed"},
    {409, "conflict", "Conflict with the current state"},
    {413, "too-large", "Request too large"},
    {415, "unsupported-media-type", "Unsupported media type"},
    {422, "invalid", "Invalid request"},
    {500, "internal", "Internal error"},
    {503, "unavailable", "Service unavailable"},
    {507, "insufficient-storage", "Insufficient storage"},
};

static const problem_kind_t *kind_of(unsigned status) {
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].status == status)
            return &kinds[i];
    return NULL;
}

const char *api_problem_title(unsigned status) {
    const problem_kind_t *k = kind_of(status);
    if (k)
        return k->title;
    return status >= 500 ? "Server error" : "Request error";
}

const char *api_problem_slug(unsigned status) {
    const problem_kind_t *k = kind_of(status);
    if (k)
        return k->slug;
    return status >= 500 ? "server-error" : "request-error";
}

json_t *api_problem_json(api_problem_kind_t kind, const char *detail, const api_errors_t *errs) {
    unsigned status = api_problem_status(kind);
    char type[96];
    snprintf(type, sizeof(type), "urn:mlptune:problem:%s", api_problem_slug(status));
    json_t *list = json_array();
    json_t *obj = json_object();
    if (!list || !obj)
        goto fail;
    for (size_t i = 0; errs && i < errs->n; i++) {
        /* api_json_string, not json_pack: a field or message may quote the client's bytes (a
         * query key, a multipart part name, a CSV cell) or be cut inside a UTF-8 sequence, and
         * json_pack refuses invalid UTF-8 (the whole answer would become a bare 500). */
        json_t *it = json_object();
        if (!it || json_array_append_new(list, it) != 0 || /* append_new frees it on failure */
            json_object_set_new(it, "field", api_json_string(errs->items[i].field)) ||
            json_object_set_new(it, "message", api_json_string(errs->items[i].message)))
            goto fail;
    }
    if (json_object_set_new(obj, "type", json_string(type)) ||
        json_object_set_new(obj, "title", json_string(api_problem_title(status))) ||
        json_object_set_new(obj, "status", json_integer(status)) ||
        json_object_set_new(obj, "detail",
                            api_json_string(detail ? detail : api_problem_title(status))) ||
        json_object_set(obj, "errors", list))
        goto fail;
    if (errs && errs->dropped &&
        json_object_set_new(obj, "errors_omitted", json_integer((json_int_t)errs->dropped)))
        goto fail;
    json_decref(list);
    return obj;
fail:
    json_decref(list);
    json_decref(obj);
    return NULL;
}

static void set_body(api_response_t *res, unsigned status, const char *ctype, json_t *body) {
    char *text = NULL;
    size_t len = 0;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    res->kind = API_BODY_BUFFER;
    res->status = status;
    res->content_type = ctype;
    if (body && api_json_dump(body, &text, &len) == 0) {
        res->body = text;
        res->body_len = len;
    } else if (status < 500) {
        res->status = 500; /* out of memory: a bare 500 is all we can say */
        res->content_type = NULL;
    }
    json_decref(body);
}

void api_problem(api_response_t *res, api_problem_kind_t kind, const char *detail,
                 const api_errors_t *errs) {
    set_body(res, api_problem_status(kind), "application/problem+json",
             api_problem_json(kind, detail, errs));
}

void api_problemf(api_response_t *res, api_problem_kind_t kind, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    api_problem(res, kind, detail, NULL);
}

void api_problem_field(api_response_t *res, api_problem_kind_t kind, const char *field,
                       const char *fmt, ...) {
    api_errors_t *errs = malloc(sizeof(*errs));
    va_list ap;
    if (!errs) {
        api_problem(res, API_PROBLEM_INTERNAL, NULL, NULL);
        return;
    }
    api_errors_init(errs);
    va_start(ap, fmt);
    api_errors_vadd(errs, field, fmt, ap);
    va_end(ap);
    api_problem(res, kind, errs->items[0].message, errs);
    free(errs);
}

void api_problem_code(api_response_t *res, int code, const char *detail) {
    api_problem(res, api_error_kind(code), detail && *detail ? detail : mlpt_strerror(code), NULL);
}

void api_res_json_refused(api_response_t *res, api_problem_kind_t kind, json_t *body) {
    api_res_json(res, api_problem_status(kind), body);
}

void api_res_json(api_response_t *res, unsigned status, json_t *body) {
    set_body(res, status, "application/json", body);
}
