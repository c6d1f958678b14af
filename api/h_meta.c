/*
 * api/h_meta.c - GET /healthz, /metrics (Prometheus text) and /openapi.json (the document in
 * api/openapi.json, embedded into the binary at build time by embed.cmake, so the served spec is
 * always the one the routes were built with).
 */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "mlpt_err.h"
#include "problem.h"

#ifndef MLPT_VERSION
#define MLPT_VERSION "unknown"
#endif

static const char *const no_args[] = {NULL};

void api_h_healthz(api_t *a, const api_request_t *req, api_response_t *res) {
    store_error_t err;
    if (api_h_query(req, no_args, NULL, res))
        return;
    res->no_cache = 1;
    if (atomic_load(&a->quiescing)) {
        res->retry_after = 5;
        api_res_json(res, 503,
                     json_pack("{s:s, s:s}", "status", "draining", "version", MLPT_VERSION));
        return;
    }
    if (!api_reader(a, &err)) {
        api_res_json(res, 503,
                     json_pack("{s:s, s:s, s:s}", "status", "unavailable", "version", MLPT_VERSION,
                               "detail", "the database cannot be read"));
        return;
    }
    api_res_json(res, 200, json_pack("{s:s, s:s}", "status", "ok", "version", MLPT_VERSION));
}

void api_h_metrics(api_t *a, const api_request_t *req, api_response_t *res) {
    char *text;
    size_t len;
    if (api_h_query(req, no_args, NULL, res))
        return;
    if (api_metrics_render(a, &text, &len) != 0) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    res->body = text;
    res->body_len = len;
    res->no_cache = 1;
}

void api_h_openapi(api_t *a, const api_request_t *req, api_response_t *res) {
    (void)a;
    if (api_h_query(req, no_args, NULL, res))
        return;
    char *copy = malloc(api_openapi_json_len);
    if (!copy) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    memcpy(copy, api_openapi_json, api_openapi_json_len);
    res->status = 200;
    res->content_type = "application/json";
    res->body = copy;
    res->body_len = api_openapi_json_len;
}
