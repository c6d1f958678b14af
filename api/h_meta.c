/*
 * api/h_meta.c - GET /healthz, /metrics (Prometheus text) and /openapi.json (the document in
 * api/openapi.json, embedded into the binary at build time by embed.cmake, so the served spec is
 * always the one the routes were built with).
 *
 * /healthz is 200 only when the service can do its work: 503 while draining, once the database
 * file was deleted or replaced under the running service (health.c; until a restart), when the
 * database cannot be read, when the scheduler cannot write it (a full disk: worker reports are
 * then kept in memory and retried every second, and a monitor should hear of it rather than find
 * out later), and when the data dir's uploads/ or datasets/ folder cannot take new files.
 * /metrics adds the same as gauges, and the dataset files quarantined at start-up.
 * /api/v1/meta/parameters is the parameter table and the rules derived from it (meta_params.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "mlpt_err.h"
#include "problem.h"
#include "validate.h"

#ifndef MLPT_VERSION
#define MLPT_VERSION "unknown"
#endif

static const char *const no_args[] = {NULL};

/* The scheduler's health, or -1 when there is none to ask (not started, or draining). */
static int scheduler_health(api_t *a, sched_health_t *out) {
    memset(out, 0, sizeof *out);
    if (!a->sched || api_sched_acquire(a) != 0)
        return -1;
    sched_health(a->sched, out);
    api_sched_release(a);
    return 0;
}

void api_h_healthz(api_t *a, const api_request_t *req, api_response_t *res) {
    store_error_t err;
    if (api_h_query(req, no_args, NULL, res))
        return;
    res->no_cache = 1;
    if (atomic_load(&a->quiescing)) {
        res->retry_after = 5;
        api_res_json_refused(
            res, API_PROBLEM_UNAVAILABLE,
            json_pack("{s:s, s:s}", "status", "draining", "version", MLPT_VERSION));
        return;
    }
    int lost = api_health_db_lost(a); /* before a reader opens whatever sits at the path now */
    if (lost) {
        api_res_json_refused(res, API_PROBLEM_UNAVAILABLE,
                             json_pack("{s:s, s:s, s:s, s:s}", "status", "unavailable", "version",
                                       MLPT_VERSION, "detail", api_health_lost_detail(lost),
                                       "database", lost == MLPT_ESTATE ? "replaced" : "deleted"));
        return;
    }
    if (!api_reader(a, &err)) {
        api_res_json_refused(res, API_PROBLEM_UNAVAILABLE,
                             json_pack("{s:s, s:s, s:s}", "status", "unavailable", "version",
                                       MLPT_VERSION, "detail", "the database cannot be read"));
        return;
    }
    sched_health_t h;
    if (scheduler_health(a, &h) == 0 && h.db_error) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "the database cannot be written (%s): %llu training reports are kept in memory "
                 "and retried every second",
                 mlpt_strerror(h.db_error), (unsigned long long)h.unsaved);
        api_res_json_refused(res, API_PROBLEM_UNAVAILABLE,
                             json_pack("{s:s, s:s, s:s, s:I}", "status", "unavailable", "version",
                                       MLPT_VERSION, "detail", detail, "unsaved_reports",
                                       (json_int_t)h.unsaved));
        return;
    }
    char folders[256];
    if (api_health_folders(a, folders, sizeof folders) != 0) {
        api_res_json_refused(res, API_PROBLEM_UNAVAILABLE,
                             json_pack("{s:s, s:s, s:s}", "status", "unavailable", "version",
                                       MLPT_VERSION, "detail", folders));
        return;
    }
    json_t *ok = json_pack("{s:s, s:s}", "status", "ok", "version", MLPT_VERSION);
    if (ok && a->quarantined_files)
        json_object_set_new(ok, "quarantined_dataset_files",
                            json_integer((json_int_t)a->quarantined_files));
    api_res_json(res, 200, ok);
}

/* Appends the database-write health to the text metrics.c rendered (realloc'd). */
static int append_health(api_t *a, char **text, size_t *len) {
    sched_health_t h;
    if (scheduler_health(a, &h) != 0)
        return 0; /* draining: no scheduler to ask */
    char folders[256];
    int lost = h.db_lost, folders_ok = api_health_folders(a, folders, sizeof folders) == 0;
    char extra[1536];
    int n = snprintf(extra, sizeof extra,
                     "# HELP mlptune_database_writable Whether the last save of training reports "
                     "committed (0: the database cannot be written, see /healthz).\n"
                     "# TYPE mlptune_database_writable gauge\n"
                     "mlptune_database_writable %d\n"
                     "# HELP mlptune_unsaved_reports Training reports kept in memory until the "
                     "database can be written again.\n"
                     "# TYPE mlptune_unsaved_reports gauge\n"
                     "mlptune_unsaved_reports %llu\n"
                     "# HELP mlptune_database_file_ok Whether the database file is still the one "
                     "the service opened (0: deleted or replaced while running, see /healthz; "
                     "until a restart).\n"
                     "# TYPE mlptune_database_file_ok gauge\n"
                     "mlptune_database_file_ok %d\n"
                     "# HELP mlptune_data_folders_writable Whether the data dir's uploads/ and "
                     "datasets/ folders take new files.\n"
                     "# TYPE mlptune_data_folders_writable gauge\n"
                     "mlptune_data_folders_writable %d\n"
                     "# HELP mlptune_quarantined_dataset_files Dataset files no dataset named, "
                     "moved to quarantine/ at start-up.\n"
                     "# TYPE mlptune_quarantined_dataset_files gauge\n"
                     "mlptune_quarantined_dataset_files %zu\n",
                     h.db_error || lost ? 0 : 1, (unsigned long long)h.unsaved, lost ? 0 : 1,
                     folders_ok, a->quarantined_files);
    if (n < 0 || (size_t)n >= sizeof extra)
        return -1;
    char *grown = realloc(*text, *len + (size_t)n + 1);
    if (!grown)
        return -1;
    memcpy(grown + *len, extra, (size_t)n + 1);
    *text = grown;
    *len += (size_t)n;
    return 0;
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
    if (append_health(a, &text, &len) != 0) {
        free(text);
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

/* The parameter table and the rules the dashboard builds its forms and progress from. */
void api_h_meta_parameters(api_t *a, const api_request_t *req, api_response_t *res) {
    if (api_h_query(req, no_args, NULL, res))
        return;
    json_t *body = api_meta_parameters(&a->limits);
    if (!body) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    api_res_json(res, 200, body);
}
