/*
 * api/h_trials.c - GET /api/v1/trials/{id}, its history, its model, and predictions with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "json_util.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "problem.h"
#include "validate.h"

static const char *const no_args[] = {NULL};

void api_h_trial_get(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    store_error_t err;
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)))
        return;
    json_t *j = store_trial_get(st, id, &err);
    if (!j)
        api_h_fail(a, res, err.code, &err, "trial", id);
    else
        api_res_json(res, 200, j);
}

void api_h_trial_history(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"since", NULL};
    api_errors_t *errs = malloc(sizeof(*errs));
    int64_t id, since;
    store_t *st;
    store_error_t err;
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    api_errors_init(errs);
    if (api_h_id(req, "trial", &id, res)) {
        free(errs);
        return;
    }
    api_h_query(req, allowed, errs, res);
    api_query_since(req, &since, errs);
    if (errs->n) {
        api_h_invalid(res, errs);
        free(errs);
        return;
    }
    free(errs);
    if (!(st = api_h_reader(a, res)))
        return;
    json_t *j = store_trial_history(st, id, since, &err);
    if (!j)
        api_h_fail(a, res, err.code, &err, "trial", id);
    else
        api_res_json(res, 200, j);
}

/* The model bytes of a trial: 404 for an unknown trial, 409 when it has none (yet). Returns the
 * blob (malloc'd) or NULL after answering. */
static void *trial_model(api_t *a, store_t *st, int64_t id, json_t **trial, size_t *len,
                         api_response_t *res) {
    store_error_t err;
    void *blob = NULL;
    *trial = store_trial_get(st, id, &err);
    if (!*trial) {
        api_h_fail(a, res, err.code, &err, "trial", id);
        return NULL;
    }
    int rc = store_trial_model(st, id, &blob, len, &err);
    if (rc == MLPT_ENOTFOUND) {
        const char *status = json_string_value(json_object_get(*trial, "status"));
        api_problemf(res, 409, "trial %lld has no model (status %s)", (long long)id,
                     status ? status : "unknown");
    } else if (rc) {
        api_h_fail(a, res, rc, &err, "trial", id);
    }
    if (rc) {
        json_decref(*trial);
        *trial = NULL;
        return NULL;
    }
    return blob;
}

void api_h_trial_model(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    json_t *trial;
    size_t len = 0;
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)))
        return;
    void *blob = trial_model(a, st, id, &trial, &len, res);
    if (!blob)
        return;
    json_decref(trial);
    res->status = 200;
    res->content_type = "application/octet-stream";
    res->body = blob;
    res->body_len = len;
    snprintf(res->disposition, sizeof(res->disposition), "attachment; filename=\"trial-%lld.mlpm\"",
             (long long)id);
}

/* The class names of the dataset the trial's sweep trained on (new reference), or NULL after
 * answering. */
static json_t *class_names(api_t *a, store_t *st, const json_t *trial, api_response_t *res) {
    store_error_t err;
    int64_t sweep_id = json_integer_value(json_object_get(trial, "sweep_id"));
    json_t *sweep = store_sweep_get(st, sweep_id, &err);
    if (!sweep) {
        api_h_fail(a, res, err.code, &err, "sweep", sweep_id);
        return NULL;
    }
    int64_t ds_id = json_integer_value(json_object_get(sweep, "dataset_id"));
    json_decref(sweep);
    json_t *ds = store_dataset_get(st, ds_id, &err);
    if (!ds) {
        api_h_fail(a, res, err.code, &err, "dataset", ds_id);
        return NULL;
    }
    json_t *names = json_incref(json_object_get(ds, "classes"));
    json_decref(ds);
    return names;
}

/* {"predictions": [{"class": name, "probabilities": {name: p, ...}}, ...]}. */
static json_t *predictions(const float *probs, size_t rows, const json_t *names) {
    size_t k = json_array_size(names);
    json_t *list = json_array();
    for (size_t i = 0; list && i < rows; i++) {
        const float *p = probs + i * k;
        size_t best = 0;
        json_t *by_name = json_object();
        for (size_t c = 0; by_name && c < k; c++) {
            if (p[c] > p[best])
                best = c;
            if (json_object_set_new(by_name, json_string_value(json_array_get(names, c)),
                                    api_json_num(p[c]))) {
                json_decref(by_name);
                by_name = NULL;
            }
        }
        json_t *item = by_name ? json_pack("{s:O, s:o}", "class", json_array_get(names, best),
                                           "probabilities", by_name)
                               : NULL;
        if (!item || json_array_append_new(list, item)) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o}", "predictions", list) : NULL;
}

void api_h_trial_predict(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    json_t *trial = NULL, *body = NULL, *names = NULL;
    trainer_model_t *m = NULL;
    float *x = NULL, *probs = NULL;
    size_t len = 0, rows = 0;
    void *blob = NULL;
    api_errors_t *errs = malloc(sizeof(*errs));
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    api_errors_init(errs);
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)) || !(blob = trial_model(a, st, id, &trial, &len, res)) ||
        !(body = api_h_body(req, res)) || !(names = class_names(a, st, trial, res)))
        goto out;
    int rc = 0;
    m = trainer_model_load(blob, len, &rc);
    if (!m) {
        api_logf(a, "trial %lld: cannot load its model: %s", (long long)id, mlpt_strerror(rc));
        api_problem_code(res, rc == MLPT_ENOMEM ? MLPT_ENOMEM : MLPT_EIO,
                         "the model cannot be loaded");
        goto out;
    }
    if (json_array_size(names) != m->arch.outputs) {
        api_problemf(res, 409, "the model has %zu outputs but its dataset has %zu classes",
                     m->arch.outputs, json_array_size(names));
        goto out;
    }
    rc = api_validate_predict(body, m->arch.inputs, &x, &rows, errs);
    if (rc == 422) {
        api_h_invalid(res, errs);
        goto out;
    }
    if (rc || !(probs = malloc(rows * m->arch.outputs * sizeof(*probs))) ||
        trainer_model_predict(m, x, rows, probs) != 0) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    json_t *j = predictions(probs, rows, names);
    if (!j)
        api_problem_code(res, MLPT_ENOMEM, NULL);
    else
        api_res_json(res, 200, j);
out:
    trainer_model_free(m);
    free(probs);
    free(x);
    free(blob);
    json_decref(names);
    json_decref(body);
    json_decref(trial);
    free(errs);
}
