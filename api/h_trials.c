/*
 * api/h_trials.c - GET /api/v1/trials/{id}, its history, its model (streamed from its file),
 * predictions with it (through the model cache: model_cache.h), and its confusion matrix on its
 * validation split (the split made again from the trial's parameters, as the worker made it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers.h"
#include "json_util.h"
#include "matrix.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "params.h"
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

/* Where a trial's model is: *path (its file) or *blob (a model stored in the database before
 * models became files). 404 for an unknown trial, 409 when it has none (yet). Returns 0, or -1
 * after answering; *trial is the trial's JSON (new reference) on success. */
static int model_ref(api_t *a, store_t *st, int64_t id, json_t **trial, char **path, void **blob,
                     size_t *len, api_response_t *res) {
    store_error_t err;
    *path = NULL;
    *blob = NULL;
    *trial = store_trial_get(st, id, &err);
    if (!*trial) {
        api_h_fail(a, res, err.code, &err, "trial", id);
        return -1;
    }
    int rc = store_trial_model_ref(st, id, path, blob, len, &err);
    if (rc == MLPT_ENOTFOUND) {
        const char *status = json_string_value(json_object_get(*trial, "status"));
        api_problemf(res, API_PROBLEM_CONFLICT, "trial %lld has no model (status %s)",
                     (long long)id, status ? status : "unknown");
    } else if (rc) {
        api_h_fail(a, res, rc, &err, "trial", id);
    }
    if (rc) {
        json_decref(*trial);
        *trial = NULL;
        return -1;
    }
    return 0;
}

/* The model file, or NULL with *rc set (MLPT_ENOTFOUND when it is gone: the trial's sweep was
 * deleted meanwhile). */
static int open_model(const char *path, uint64_t *size, int *rc) {
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &sb) == 0) {
        *size = (uint64_t)sb.st_size;
        return fd;
    }
    *rc = errno == ENOENT ? MLPT_ENOTFOUND : MLPT_EIO;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Streams the model from its file (the HTTP layer sends it from the descriptor: the model is
 * never read into memory here); a model from before the files is sent from its blob. */
void api_h_trial_model(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    json_t *trial;
    char *path = NULL;
    void *blob = NULL;
    size_t len = 0;
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)) || model_ref(a, st, id, &trial, &path, &blob, &len, res))
        return;
    json_decref(trial);
    if (path) {
        int rc = 0;
        uint64_t size = 0;
        int fd = open_model(path, &size, &rc);
        free(path);
        if (fd < 0) {
            api_problem_code(res, rc,
                             rc == MLPT_ENOTFOUND ? "the trial's model is gone"
                                                  : "the model cannot be read");
            return;
        }
        res->kind = API_BODY_FILE;
        res->fd = fd;
        res->fd_size = size;
    } else {
        res->body = blob;
        res->body_len = len;
    }
    res->status = 200;
    res->content_type = "application/octet-stream";
    snprintf(res->disposition, sizeof(res->disposition), "attachment; filename=\"trial-%lld.mlpm\"",
             (long long)id);
}

/* What the model cache loads: the file (read straight into the model) or the blob. */
typedef struct model_src {
    const char *path;
    const void *blob;
    size_t len;
} model_src_t;

/* trainer_model_read's source: the model file's descriptor. */
static int from_fd(void *user, void *dst, size_t n) {
    int fd = *(const int *)user;
    for (char *p = dst; n > 0;) {
        ssize_t got = read(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return MLPT_EIO; /* an error, or the file shrank under us */
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static trainer_model_t *load_model(void *user, int *err) {
    const model_src_t *src = user;
    if (!src->path)
        return trainer_model_load(src->blob, src->len, err);
    uint64_t size = 0;
    int fd = open_model(src->path, &size, err);
    if (fd < 0)
        return NULL;
    trainer_model_t *m = trainer_model_read(from_fd, &fd, (size_t)size, err);
    close(fd);
    return m;
}

/* The class names of the dataset the trial's sweep trained on (new reference), or NULL after
 * answering. */
static json_t *class_names(api_t *a, store_t *st, const json_t *trial, api_response_t *res) {
    store_error_t err;
    int64_t sweep_id = json_integer_value(json_object_get(trial, "sweep_id"));
    store_sweep_info_t sweep;
    if (store_sweep_info(st, sweep_id, &sweep, &err) != 0) {
        api_h_fail(a, res, err.code, &err, "sweep", sweep_id);
        return NULL;
    }
    int64_t ds_id = sweep.dataset_id;
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
    const trainer_model_t *m = NULL;
    float *x = NULL, *probs = NULL;
    size_t len = 0, rows = 0;
    void *blob = NULL;
    char *path = NULL;
    api_errors_t *errs = malloc(sizeof(*errs));
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    api_errors_init(errs);
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)) || model_ref(a, st, id, &trial, &path, &blob, &len, res) ||
        !(body = api_h_body(req, res)) || !(names = class_names(a, st, trial, res)))
        goto out;
    int rc = 0;
    model_src_t src = {.path = path, .blob = blob, .len = len};
    m = api_model_cache_get(a->models, id, path ? path : "(database)", load_model, &src, &rc);
    if (!m && rc == MLPT_ENOTFOUND) {
        api_problem_code(res, rc, "the trial's model is gone");
        goto out;
    }
    if (!m) {
        api_logf(a, "trial %lld: cannot load its model: %s", (long long)id, mlpt_strerror(rc));
        api_problem_code(res, rc == MLPT_ENOMEM ? MLPT_ENOMEM : MLPT_EIO,
                         "the model cannot be loaded");
        goto out;
    }
    if (json_array_size(names) != m->arch.outputs) {
        api_problemf(res, API_PROBLEM_CONFLICT,
                     "the model has %zu outputs but its dataset has %zu classes", m->arch.outputs,
                     json_array_size(names));
        goto out;
    }
    rc = api_validate_predict(body, m->arch.inputs, &x, &rows, errs);
    if (rc == MLPT_EINVAL) {
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
    api_model_cache_release(a->models, m);
    free(path);
    free(probs);
    free(x);
    free(blob);
    json_decref(names);
    json_decref(body);
    json_decref(trial);
    free(errs);
}

/* ---- GET /api/v1/trials/{id}/confusion ------------------------------------------------------ */

/* The confusion matrix of model m on rows idx[0..n) of ds: counts[true * K + predicted]. 0 or
 * MLPT_ENOMEM. */
static int confusion_counts(const trainer_model_t *m, const trainer_dataset_t *ds,
                            const size_t *idx, size_t n, uint64_t *counts) {
    enum { BATCH = 512 };
    size_t F = ds->features, K = m->arch.outputs;
    float *x = malloc(BATCH * F * sizeof *x), *p = malloc(BATCH * K * sizeof *p);
    int rc = x && p ? 0 : MLPT_ENOMEM;
    for (size_t at = 0; !rc && at < n; at += BATCH) {
        size_t rows = n - at < BATCH ? n - at : BATCH;
        for (size_t r = 0; r < rows; r++)
            memcpy(x + r * F, ds->x + idx[at + r] * F, F * sizeof *x);
        rc = trainer_model_predict(m, x, rows, p);
        for (size_t r = 0; !rc && r < rows; r++) {
            size_t best = 0;
            for (size_t c = 1; c < K; c++)
                if (p[r * K + c] > p[r * K + best])
                    best = c;
            counts[(size_t)ds->y[idx[at + r]] * K + best]++;
        }
    }
    free(x);
    free(p);
    return rc;
}

/* {"trial_id", "split": "validation", "split_by": "class" | "group", "classes": [names],
 * "matrix": [[count: row the true class, column the predicted one]], "rows", "accuracy"}. */
static json_t *confusion_json(int64_t id, const trainer_dataset_t *ds, int grouped,
                              const uint64_t *counts, size_t n) {
    size_t K = ds->classes;
    uint64_t hits = 0;
    json_t *names = json_array(), *matrix = json_array();
    for (size_t t = 0; names && matrix && t < K; t++) {
        json_t *row = json_array();
        for (size_t c = 0; row && c < K; c++)
            json_array_append_new(row, json_integer((json_int_t)counts[t * K + c]));
        json_array_append_new(matrix, row);
        json_array_append_new(names, api_json_string(ds->class_names[t]));
        hits += counts[t * K + t];
    }
    return json_pack("{sI ss ss so so sI so}", "trial_id", (json_int_t)id, "split", "validation",
                     "split_by", grouped ? "group" : "class", "classes", names, "matrix", matrix,
                     "rows", (json_int_t)n, "accuracy",
                     n ? json_real((double)hits / (double)n) : json_null());
}

void api_h_trial_confusion(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    store_error_t err;
    json_t *trial = NULL;
    const trainer_model_t *m = NULL;
    trainer_dataset_t *ds = NULL;
    trainer_split_t split = {0};
    uint64_t *counts = NULL;
    char *path = NULL, *ds_rel = NULL;
    void *blob = NULL;
    size_t len = 0;
    if (api_h_id(req, "trial", &id, res) || api_h_query(req, no_args, NULL, res) ||
        !(st = api_h_reader(a, res)) || model_ref(a, st, id, &trial, &path, &blob, &len, res))
        goto out;
    sched_params_t p;
    store_sweep_info_t sweep;
    int64_t sweep_id = json_integer_value(json_object_get(trial, "sweep_id"));
    if (sched_params_from_json(json_object_get(trial, "params"), &p) != 0) {
        api_problem_code(res, MLPT_EFORMAT, "the trial's stored parameters cannot be read");
        goto out;
    }
    if (store_sweep_info(st, sweep_id, &sweep, &err) != 0) {
        api_h_fail(a, res, err.code, &err, "sweep", sweep_id);
        goto out;
    }
    if (!(ds_rel = store_dataset_storage_path(st, sweep.dataset_id, &err))) {
        api_h_fail(a, res, err.code, &err, "dataset", sweep.dataset_id);
        goto out;
    }
    char ds_path[4352];
    ingest_error_t e;
    snprintf(ds_path, sizeof ds_path, "%s/%s", a->data_dir, ds_rel);
    int rc = ingest_matrix_read(ds_path, &ds, &e);
    if (rc) {
        api_logf(a, "trial %lld: %s", (long long)id, e.message);
        api_problem_code(res, rc == MLPT_ENOMEM ? rc : MLPT_EIO, "the dataset cannot be loaded");
        goto out;
    }
    model_src_t src = {.path = path, .blob = blob, .len = len};
    m = api_model_cache_get(a->models, id, path ? path : "(database)", load_model, &src, &rc);
    if (!m) {
        api_problem_code(res, rc == MLPT_ENOTFOUND || rc == MLPT_ENOMEM ? rc : MLPT_EIO,
                         "the model cannot be loaded");
        goto out;
    }
    char why[200];
    if (m->arch.inputs != ds->features || m->arch.outputs != ds->classes ||
        sched_params_split(&p, ds, &split, why, sizeof why) != 0) {
        api_problemf(res, API_PROBLEM_CONFLICT,
                     "the trial's validation split cannot be made again on its dataset");
        goto out;
    }
    counts = calloc(ds->classes * ds->classes, sizeof *counts);
    json_t *j = NULL;
    if (!counts || confusion_counts(m, ds, split.val, split.n_val, counts) != 0 ||
        !(j = confusion_json(id, ds,
                             p.n_test_groups || p.split_by == SCHED_SPLIT_GROUP ||
                                 (p.split_by == SCHED_SPLIT_AUTO && ds->group),
                             counts, split.n_val))) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_res_json(res, 200, j);
out:
    api_model_cache_release(a->models, m);
    trainer_split_deinit(&split);
    trainer_dataset_free(ds);
    free(counts);
    free(ds_rel);
    free(path);
    free(blob);
    json_decref(trial);
}
