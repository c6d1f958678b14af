/*
 * api/h_datasets.c - POST/GET /api/v1/datasets, GET/DELETE /api/v1/datasets/{id}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"
#include "upload.h"
#include "validate.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The class names and counts of a dataset as JSON text (malloc'd). */
static int classes_json(const trainer_dataset_t *ds, char **names, char **counts) {
    json_t *n = json_array(), *c = json_array();
    int rc = n && c ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ds->classes; i++)
        if (json_array_append_new(n, api_json_string(ds->class_names[i])) ||
            json_array_append_new(c, json_integer((json_int_t)ds->class_counts[i])))
            rc = -1;
    *names = rc == 0 ? json_dumps(n, JSON_COMPACT) : NULL;
    *counts = rc == 0 ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(n);
    json_decref(c);
    if (!*names || !*counts) {
        free(*names);
        free(*counts);
        return -1;
    }
    return 0;
}

void api_h_datasets_create(api_t *a, const api_request_t *req, api_response_t *res) {
    api_upload_t *up = req->upload;
    api_upload_result_t r;
    char *names = NULL, *counts = NULL;
    store_error_t err;
    memset(&err, 0, sizeof(err));
    if (api_upload_finish(up, &r)) { /* a refused upload's copies go before the answer */
        if (api_upload_internal(up))
            api_logf(a, "upload refused: %s", api_upload_internal(up));
        api_upload_problem(up, res);
        return;
    }
    if (classes_json(r.ds, &names, &counts) != 0) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    store_dataset_new_t d = {
        .name = r.name,
        .format = r.format,
        .scaling = r.scaling,
        .rows = (int64_t)r.ds->rows,
        .features = (int64_t)r.ds->features,
        .classes = (int64_t)r.ds->classes,
        .class_names_json = names,
        .class_counts_json = counts,
        .size_bytes = (int64_t)r.size_bytes,
        .sha256 = r.sha256,
        .storage_path = r.storage_path,
        .created_at = now_s(),
    };
    int64_t id = 0;
    int rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_dataset_create(a->sched, &d, &id, &err);
        api_sched_release(a);
    }
    free(names);
    free(counts);
    if (rc) {
        api_h_fail(a, res, rc, &err, "dataset", 0);
        return;
    }
    api_upload_keep(up);
    api_logf(a, "dataset %lld \"%s\": %zu rows, %zu features, %zu classes", (long long)id, r.name,
             r.ds->rows, r.ds->features, r.ds->classes);
    store_t *st = api_h_reader(a, res);
    json_t *j = st ? store_dataset_get(st, id, &err) : NULL;
    if (!st)
        return;
    if (!j) {
        api_h_fail(a, res, err.code, &err, "dataset", id);
        return;
    }
    snprintf(res->location, sizeof(res->location), "/api/v1/datasets/%lld", (long long)id);
    api_res_json(res, 201, j);
}

void api_h_datasets_list(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"limit", "cursor", NULL};
    size_t limit;
    if (api_h_list_query(req, allowed, &limit, NULL, NULL, res))
        return;
    store_t *st = api_h_reader(a, res);
    if (!st)
        return;
    store_error_t err;
    json_t *j = store_dataset_list(st, limit, api_query(req, "cursor"), &err);
    api_h_page(a, res, j, &err, "datasets", 0);
}

void api_h_dataset_get(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {NULL};
    int64_t id;
    store_t *st;
    store_error_t err;
    if (api_h_id(req, "dataset", &id, res) || api_h_query(req, allowed, NULL, res) ||
        !(st = api_h_reader(a, res)))
        return;
    json_t *j = store_dataset_get(st, id, &err);
    if (!j)
        api_h_fail(a, res, err.code, &err, "dataset", id);
    else
        api_res_json(res, 200, j);
}

void api_h_dataset_delete(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {NULL};
    int64_t id;
    store_error_t err;
    memset(&err, 0, sizeof(err));
    if (api_h_id(req, "dataset", &id, res) || api_h_query(req, allowed, NULL, res))
        return;
    int rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_dataset_delete(a->sched, id, &err);
        api_sched_release(a);
    }
    if (rc == MLPT_ESTATE)
        api_problemf(res, API_PROBLEM_CONFLICT, "dataset %lld is used by a queued or running sweep",
                     (long long)id);
    else if (rc)
        api_h_fail(a, res, rc, &err, "dataset", id);
    else
        res->status = 204;
}
