/*
 * api/h_datasets.c - POST/GET /api/v1/datasets, GET/DELETE /api/v1/datasets/{id}, and
 * POST /api/v1/datasets/{id}/windows (a recording cut into windows: ingest/windows.h) and
 * GET /api/v1/datasets/{id}/preview (a recording's first window of each class, for the
 * dashboard: raw samples and spectrogram).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handlers.h"
#include "json_util.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "problem.h"
#include "recording_json.h"
#include "sha256.h"
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
        .kind = r.kind,
        .details_json = r.details,
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

/* ---- POST /api/v1/datasets/{id}/windows ----------------------------------------------------- */

/* A positive (or, with zero_ok, non-negative) number of seconds at key, at most a day; the
 * default when absent. */
static void seconds_member(const json_t *body, const char *key, int zero_ok, double *out,
                           api_errors_t *errs) {
    const json_t *v = json_object_get(body, key);
    double x;
    if (!v)
        return;
    if (api_json_get_number(v, &x) != 0)
        api_errors_add(errs, key, "must be a number of seconds");
    else if (!(zero_ok ? x >= 0.0 : x > 0.0) || x > 86400.0)
        api_errors_add(errs, key, "must be %s 0 and at most 86400 (got %g)",
                       zero_ok ? "at least" : "more than", x);
    else
        *out = x;
}

/* The windows request body into *opt and name (empty: the default). 0 or -1 with errs. */
static int windows_body(const json_t *body, ingest_window_options_t *opt, char *name, size_t cap,
                        api_errors_t *errs) {
    static const char *const keys[] = {
        "window_seconds", "step_seconds",    "features", "frame_seconds",
        "hop_seconds",    "max_gap_seconds", "name"};
    ingest_window_options_init(opt);
    name[0] = '\0';
    if (!json_is_object(body)) {
        api_errors_add(errs, "body", "must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known)
            api_errors_add(errs, key,
                           "unknown member (expected window_seconds, step_seconds, features, "
                           "frame_seconds, hop_seconds, max_gap_seconds, name)");
    }
    seconds_member(body, "window_seconds", 0, &opt->window_seconds, errs);
    seconds_member(body, "step_seconds", 0, &opt->step_seconds, errs);
    seconds_member(body, "frame_seconds", 0, &opt->frame_seconds, errs);
    seconds_member(body, "hop_seconds", 0, &opt->hop_seconds, errs);
    seconds_member(body, "max_gap_seconds", 1, &opt->max_gap_seconds, errs);
    const json_t *f = json_object_get(body, "features");
    if (f && (!json_is_string(f) || ingest_features_parse(json_string_value(f), &opt->features)))
        api_errors_add(errs, "features", "must be one of spectrogram, stats, raw");
    if (opt->features != INGEST_FEATURES_SPECTROGRAM)
        for (int i = 0; i < 2; i++)
            if (json_object_get(body, i ? "hop_seconds" : "frame_seconds"))
                api_errors_add(errs, i ? "hop_seconds" : "frame_seconds",
                               "applies to features spectrogram only");
    const json_t *n = json_object_get(body, "name");
    const char *why;
    if (n && !json_is_null(n)) {
        if (!json_is_string(n))
            api_errors_add(errs, "name", "must be a string");
        else if (api_name_check(json_string_value(n), &why) != 0)
            api_errors_add(errs, "name", "%s", why);
        else
            snprintf(name, cap, "%s", json_string_value(n));
    }
    return errs->n ? -1 : 0;
}

/* The new matrix's relative path: datasets/windows-<source id>-<16 hex>.mlds. */
static void windows_path(int64_t source, char *rel, size_t cap) {
    unsigned char b[8] = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b)
        memcpy(b, &ts, sizeof b < sizeof ts ? sizeof b : sizeof ts);
    if (f)
        fclose(f);
    snprintf(rel, cap, "datasets/windows-%lld-%02x%02x%02x%02x%02x%02x%02x%02x.mlds",
             (long long)source, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

/* An ingest failure of the derivation: 422 naming the option (its column_name), or the code's. */
static void windows_failed(api_t *a, api_response_t *res, int rc, const ingest_error_t *e) {
    if (rc == MLPT_EINVAL || rc == MLPT_EFORMAT || rc == MLPT_ELIMIT)
        api_problem_field(res, API_PROBLEM_INVALID, e->column_name[0] ? e->column_name : "body",
                          "%s", e->message);
    else {
        api_logf(a, "deriving windows failed: %s", e->message);
        api_problem_code(res, rc, NULL);
    }
}

void api_h_dataset_windows(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {NULL};
    int64_t id;
    api_errors_t *errs = malloc(sizeof *errs);
    json_t *body = NULL, *src = NULL;
    char name[API_MAX_NAME + 1], rel[256], path[4352];
    char *src_rel = NULL, *details = NULL, *names = NULL, *counts = NULL;
    trainer_dataset_t *rec = NULL, *win = NULL;
    store_error_t err;
    ingest_error_t e;
    ingest_window_options_t opt;
    ingest_window_shape_t shape;
    ingest_window_stats_t stats;
    int written = 0;
    memset(&err, 0, sizeof err);
    memset(&e, 0, sizeof e);
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return;
    }
    api_errors_init(errs);
    if (api_h_id(req, "dataset", &id, res) || api_h_query(req, allowed, NULL, res) ||
        !(body = api_h_body(req, res)))
        goto out;
    if (windows_body(body, &opt, name, sizeof name, errs) != 0) {
        api_h_invalid(res, errs);
        goto out;
    }
    store_t *st = api_h_reader(a, res);
    if (!st)
        goto out;
    store_dataset_shape_t sh;
    if (store_dataset_shape(st, id, &sh, &err) != 0 || !(src = store_dataset_get(st, id, &err)) ||
        !(src_rel = store_dataset_storage_path(st, id, &err))) {
        api_h_fail(a, res, err.code, &err, "dataset", id);
        goto out;
    }
    if (strcmp(sh.kind, "recording") != 0) {
        api_problem_field(res, API_PROBLEM_INVALID, "dataset",
                          "dataset %lld is not a recording (its kind is %s): windows are cut from "
                          "a recording (format wisdm or timeseries)",
                          (long long)id, sh.kind);
        goto out;
    }
    snprintf(path, sizeof path, "%s/%s", a->data_dir, src_rel);
    int rc = ingest_matrix_read(path, &rec, &e);
    if (rc) {
        api_logf(a, "dataset %lld: %s", (long long)id, e.message);
        api_problem_code(res, rc == MLPT_ENOMEM ? rc : MLPT_EIO, NULL);
        goto out;
    }
    if ((rc = ingest_windows_derive(rec, &opt, &win, &shape, &stats, &e)) != 0) {
        windows_failed(a, res, rc, &e);
        goto out;
    }
    trainer_dataset_free(rec);
    rec = NULL;
    const char *src_name = json_string_value(json_object_get(src, "name"));
    if (!name[0])
        snprintf(name, sizeof name, "%.100s-%s", src_name ? src_name : "recording",
                 ingest_features_name(opt.features));
    if (!(details = api_windows_details(id, src_name ? src_name : "", &opt, &shape, &stats, win)) ||
        classes_json(win, &names, &counts) != 0) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    windows_path(id, rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s", a->data_dir, rel);
    if ((rc = ingest_matrix_write(path, win, &e)) != 0) {
        api_logf(a, "cannot store the windows: %s", e.message);
        api_problem_code(res, rc, NULL);
        goto out;
    }
    written = 1;
    /* What identifies the bytes: the source's digest and the parameters. */
    unsigned char digest[API_SHA256_SIZE];
    char sha[2 * API_SHA256_SIZE + 1];
    const char *src_sha = json_string_value(json_object_get(src, "sha256"));
    api_sha256_t h;
    api_sha256_init(&h);
    api_sha256_update(&h, src_sha ? src_sha : "", src_sha ? strlen(src_sha) : 0);
    api_sha256_update(&h, details, strlen(details));
    api_sha256_final(&h, digest);
    api_sha256_hex(digest, sha);
    store_dataset_new_t d = {
        .name = name,
        .format = "windows",
        .scaling = "standardize",
        .rows = (int64_t)win->rows,
        .features = (int64_t)win->features,
        .classes = (int64_t)win->classes,
        .class_names_json = names,
        .class_counts_json = counts,
        .size_bytes = 0,
        .sha256 = sha,
        .storage_path = rel,
        .created_at = now_s(),
        .kind = "windows",
        .details_json = details,
    };
    int64_t new_id = 0;
    rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_dataset_create(a->sched, &d, &new_id, &err);
        api_sched_release(a);
    }
    if (rc) {
        api_h_fail(a, res, rc, &err, "dataset", 0);
        goto out;
    }
    written = 0; /* the row names it now */
    api_logf(a, "dataset %lld \"%s\": %zu windows of dataset %lld, %zu features", (long long)new_id,
             name, win->rows, (long long)id, win->features);
    json_t *j = store_dataset_get(st, new_id, &err);
    if (!j) {
        api_h_fail(a, res, err.code, &err, "dataset", new_id);
        goto out;
    }
    snprintf(res->location, sizeof(res->location), "/api/v1/datasets/%lld", (long long)new_id);
    api_res_json(res, 201, j);
out:
    if (written)
        unlink(path);
    json_decref(body);
    json_decref(src);
    free(src_rel);
    free(details);
    free(names);
    free(counts);
    trainer_dataset_free(rec);
    trainer_dataset_free(win);
    free(errs);
}

/* ---- GET /api/v1/datasets/{id}/preview ------------------------------------------------------ */

/* A query argument in seconds (0 < x <= 600) into *out when given. 0, or -1 with errs. */
static int query_seconds(const api_request_t *req, const char *key, double *out,
                         api_errors_t *errs) {
    const char *v = api_query(req, key);
    char *end;
    if (!v)
        return 0;
    double x = strtod(v, &end);
    if (!*v || *end || !(x > 0.0) || x > 600.0) {
        char field[48];
        snprintf(field, sizeof field, "query.%s", key);
        api_errors_add(errs, field, "must be a number of seconds, more than 0 and at most 600");
        return -1;
    }
    *out = x;
    return 0;
}

/* One class's first window: its raw samples and its spectrogram. */
static json_t *preview_window(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                              const ingest_window_shape_t *sh, size_t c, size_t start) {
    size_t C = rec->features;
    json_t *samples = json_array(), *spec = json_array();
    for (size_t i = 0; samples && i < sh->window; i++) {
        json_t *row = json_array();
        for (size_t k = 0; row && k < C; k++)
            json_array_append_new(row, api_json_num(rec->x[(start + i) * C + k]));
        json_array_append_new(samples, row);
    }
    float *feat = malloc(sh->features * sizeof *feat);
    if (!feat || ingest_window_row(rec, opt, sh, start, feat) != 0) {
        free(feat);
        json_decref(samples);
        json_decref(spec);
        return NULL;
    }
    for (size_t k = 0; spec && k < C; k++) {
        json_t *frames = json_array();
        for (size_t f = 0; frames && f < sh->frames; f++) {
            json_t *bins = json_array();
            for (size_t b = 0; bins && b < sh->bins; b++)
                json_array_append_new(bins,
                                      api_json_num(feat[(k * sh->frames + f) * sh->bins + b]));
            json_array_append_new(frames, bins);
        }
        json_array_append_new(spec, frames);
    }
    free(feat);
    return json_pack("{so sI sf so so}", "class", api_json_string(rec->class_names[c]), "subject",
                     (json_int_t)rec->group[start], "start_seconds",
                     (double)(rec->time[start] - rec->time[0]) / 1e9, "samples", samples,
                     "spectrogram", spec);
}

void api_h_dataset_preview(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"window_seconds", "frame_seconds", "hop_seconds", NULL};
    int64_t id;
    api_errors_t errs;
    store_error_t err;
    ingest_error_t e;
    trainer_dataset_t *rec = NULL;
    size_t *starts = NULL;
    char *rel = NULL;
    ingest_window_options_t opt;
    ingest_window_options_init(&opt);
    api_errors_init(&errs);
    memset(&err, 0, sizeof err);
    if (api_h_id(req, "dataset", &id, res) || api_h_query(req, allowed, NULL, res))
        return;
    if (query_seconds(req, "window_seconds", &opt.window_seconds, &errs) |
        query_seconds(req, "frame_seconds", &opt.frame_seconds, &errs) |
        query_seconds(req, "hop_seconds", &opt.hop_seconds, &errs)) {
        api_h_invalid(res, &errs);
        return;
    }
    store_t *st = api_h_reader(a, res);
    store_dataset_shape_t sh;
    if (!st)
        return;
    if (store_dataset_shape(st, id, &sh, &err) != 0 ||
        !(rel = store_dataset_storage_path(st, id, &err))) {
        api_h_fail(a, res, err.code, &err, "dataset", id);
        return;
    }
    if (strcmp(sh.kind, "recording") != 0) {
        api_problemf(res, API_PROBLEM_CONFLICT,
                     "dataset %lld is not a recording (its kind is %s): only a recording has "
                     "windows to preview",
                     (long long)id, sh.kind);
        goto out;
    }
    char path[4352];
    snprintf(path, sizeof path, "%s/%s", a->data_dir, rel);
    int rc = ingest_matrix_read(path, &rec, &e);
    if (rc) {
        api_logf(a, "dataset %lld: %s", (long long)id, e.message);
        api_problem_code(res, rc == MLPT_ENOMEM ? rc : MLPT_EIO, NULL);
        goto out;
    }
    ingest_window_shape_t shape;
    starts = malloc(rec->classes * sizeof *starts);
    if (!starts) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    if ((rc = ingest_windows_first(rec, &opt, starts, &shape, &e)) != 0) {
        char field[80];
        snprintf(field, sizeof field, "query.%s",
                 e.column_name[0] ? e.column_name : "window_seconds");
        api_problem_field(res, API_PROBLEM_INVALID, field, "%s", e.message);
        goto out;
    }
    if ((double)shape.window * (double)rec->features > 100000.0) { /* the answer's size */
        api_problem_field(res, API_PROBLEM_INVALID, "query.window_seconds",
                          "a preview window of %zu samples x %zu channels is over the 100000 "
                          "values shown: ask for a shorter one",
                          shape.window, rec->features);
        goto out;
    }
    json_t *wins = json_array();
    for (size_t c = 0; wins && c < rec->classes; c++) {
        if (starts[c] == SIZE_MAX)
            continue;
        json_t *w = preview_window(rec, &opt, &shape, c, starts[c]);
        if (!w || json_array_append_new(wins, w) != 0) {
            json_decref(wins);
            wins = NULL;
        }
    }
    json_t *j = wins ? json_pack("{sI sf sI sI sI sI sf so}", "dataset_id", (json_int_t)id,
                                 "rate_hz", shape.rate_hz, "window_samples",
                                 (json_int_t)shape.window, "frame_samples", (json_int_t)shape.frame,
                                 "frames", (json_int_t)shape.frames, "bins", (json_int_t)shape.bins,
                                 "bin_hz", shape.rate_hz / (double)shape.frame, "windows", wins)
                     : NULL;
    if (!j) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_res_json(res, 200, j);
out:
    trainer_dataset_free(rec);
    free(starts);
    free(rel);
}
