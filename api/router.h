/*
 * api/router.h - the route table and its pure matcher.
 *
 * API_ROUTES is the one static table of routes: id, method, pattern, what the request body is,
 * and the handler. router.c expands it into api_routes[] (method, pattern, body kind: no handler
 * references, so the matcher and its tests link without the rest of the server) and dispatch.c
 * expands it into the handler table. A pattern is a path whose segments are literal or "{id}",
 * which matches one non-empty segment; api/openapi.json lists the same paths (a test checks it).
 * Everything here is pure: any thread.
 */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include <stddef.h>

#include "api_types.h"

typedef enum api_body_in {
    API_IN_NONE = 0, /* a body, if any, is read and ignored */
    API_IN_JSON,     /* application/json, capped at max_body_bytes, NUL-terminated */
    API_IN_JSON_OPT, /* the same, or no body at all (then no Content-Type is needed) */
    API_IN_UPLOAD,   /* multipart/form-data or text/csv, streamed into the upload sink */
} api_body_in_t;

/* X(id, method, pattern, body, handler) */
#define API_ROUTES(X)                                                                              \
    X(DATASETS_CREATE, API_POST, "/api/v1/datasets", API_IN_UPLOAD, api_h_datasets_create)         \
    X(DATASETS_LIST, API_GET, "/api/v1/datasets", API_IN_NONE, api_h_datasets_list)                \
    X(DATASET_GET, API_GET, "/api/v1/datasets/{id}", API_IN_NONE, api_h_dataset_get)               \
    X(DATASET_DELETE, API_DELETE, "/api/v1/datasets/{id}", API_IN_NONE, api_h_dataset_delete)      \
    X(DATASET_WINDOWS, API_POST, "/api/v1/datasets/{id}/windows", API_IN_JSON,                     \
      api_h_dataset_windows)                                                                       \
    X(DATASET_PREVIEW, API_GET, "/api/v1/datasets/{id}/preview", API_IN_NONE,                      \
      api_h_dataset_preview)                                                                       \
    X(SWEEPS_CREATE, API_POST, "/api/v1/sweeps", API_IN_JSON, api_h_sweeps_create)                 \
    X(SWEEPS_LIST, API_GET, "/api/v1/sweeps", API_IN_NONE, api_h_sweeps_list)                      \
    X(SWEEP_GET, API_GET, "/api/v1/sweeps/{id}", API_IN_NONE, api_h_sweep_get)                     \
    X(SWEEP_DELETE, API_DELETE, "/api/v1/sweeps/{id}", API_IN_NONE, api_h_sweep_delete)            \
    X(SWEEP_CANCEL, API_POST, "/api/v1/sweeps/{id}/cancel", API_IN_NONE, api_h_sweep_cancel)       \
    X(SWEEP_TRIALS, API_GET, "/api/v1/sweeps/{id}/trials", API_IN_NONE, api_h_sweep_trials)        \
    X(SWEEP_TRIALS_ADD, API_POST, "/api/v1/sweeps/{id}/trials", API_IN_JSON,                       \
      api_h_sweep_trials_add)                                                                      \
    X(SWEEP_EXTEND, API_POST, "/api/v1/sweeps/{id}/extend", API_IN_JSON, api_h_sweep_extend)       \
    X(SWEEP_RETRY, API_POST, "/api/v1/sweeps/{id}/retry", API_IN_JSON_OPT, api_h_sweep_retry)      \
    X(SWEEP_HISTORY, API_GET, "/api/v1/sweeps/{id}/history", API_IN_NONE, api_h_sweep_history)     \
    X(SWEEP_EVENTS, API_GET, "/api/v1/sweeps/{id}/events", API_IN_NONE, api_h_sweep_events)        \
    X(TRIAL_GET, API_GET, "/api/v1/trials/{id}", API_IN_NONE, api_h_trial_get)                     \
    X(TRIAL_HISTORY, API_GET, "/api/v1/trials/{id}/history", API_IN_NONE, api_h_trial_history)     \
    X(TRIAL_MODEL, API_GET, "/api/v1/trials/{id}/model", API_IN_NONE, api_h_trial_model)           \
    X(TRIAL_PREDICT, API_POST, "/api/v1/trials/{id}/predict", API_IN_JSON, api_h_trial_predict)    \
    X(TRIAL_CONFUSION, API_GET, "/api/v1/trials/{id}/confusion", API_IN_NONE,                      \
      api_h_trial_confusion)                                                                       \
    X(META_PARAMETERS, API_GET, "/api/v1/meta/parameters", API_IN_NONE, api_h_meta_parameters)     \
    X(SESSION_GET, API_GET, "/api/v1/session", API_IN_NONE, api_h_session_get)                     \
    X(SESSION_CREATE, API_POST, "/api/v1/session", API_IN_JSON, api_h_session_create)              \
    X(SESSION_DELETE, API_DELETE, "/api/v1/session", API_IN_NONE, api_h_session_delete)            \
    X(HEALTHZ, API_GET, "/healthz", API_IN_NONE, api_h_healthz)                                    \
    X(METRICS, API_GET, "/metrics", API_IN_NONE, api_h_metrics)                                    \
    X(OPENAPI, API_GET, "/openapi.json", API_IN_NONE, api_h_openapi)

typedef enum api_route_id {
#define API_ROUTE_ENUM(id, method, pattern, body, handler) API_R_##id,
    API_ROUTES(API_ROUTE_ENUM)
#undef API_ROUTE_ENUM
        API_ROUTE_COUNT
} api_route_id_t;

typedef struct api_route {
    api_route_id_t id;
    api_method_t method;
    const char *pattern;
    api_body_in_t body;
} api_route_t;

/* The table, in API_ROUTES order (api_routes[i].id == i). */
extern const api_route_t api_routes[API_ROUTE_COUNT];

typedef enum api_match_status {
    API_MATCH_OK = 0,         /* route set, param filled */
    API_MATCH_NOT_FOUND = 1,  /* no pattern matches the path */
    API_MATCH_NOT_ALLOWED = 2 /* some pattern matches, not with this method: see allow */
} api_match_status_t;

typedef struct api_match {
    const api_route_t *route;  /* API_MATCH_OK only */
    char param[API_MAX_PARAM]; /* the {id} segment ("" when the pattern has none) */
    unsigned allow;            /* API_MATCH_NOT_ALLOWED: bit (1 << method) per allowed method */
} api_match_t;

/* Matches method and path (no query string) against the table. HEAD matches GET routes. A
 * segment longer than API_MAX_PARAM - 1 bytes never matches {id}. Returns the status and fills
 * *m. */
api_match_status_t api_route_match(api_method_t method, const char *path, api_match_t *m);

/* Matches path against one pattern; param (API_MAX_PARAM bytes, may be NULL) receives the {id}
 * segment. Returns 1 on a match, else 0. */
int api_pattern_match(const char *pattern, const char *path, char *param);

/* Writes the Allow header value for a mask of api_match_t.allow ("GET, HEAD, POST"), methods in
 * enum order, into buf (NUL-terminated, truncated to cap). */
void api_allow_format(unsigned allow, char *buf, size_t cap);

/* Parses a resource id: decimal digits only, no sign or leading zero, 1 .. INT64_MAX. Returns 0
 * and sets *id, or -1. */
int api_parse_id(const char *s, int64_t *id);

/* Parses a non-negative decimal integer up to max (digits only). Returns 0 and sets *out, or -1
 * for anything else (empty, signs, spaces, overflow, > max). */
int api_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
