/*
 * api/h_sweep_more.c - a sweep that goes on: POST /api/v1/sweeps/{id}/trials (warm start:
 * explicit trials), /extend (new budgets for a sampling sweep, more iterations for ended
 * trials) and /retry (failed and lost trials re-queued). Each reads the sweep to check the
 * body against it (field errors 422, wrong state 409), then hands the change to the scheduler,
 * which checks again on its loop (the sweep may have moved on meanwhile).
 */
#define _XOPEN_SOURCE 700 /* strptime */
#define _DEFAULT_SOURCE   /* timegm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"
#include "sse.h"
#include "validate.h"

static const char *const no_args[] = {NULL};

/* The route's sweep as stored: its JSON (*sw) and its request validated again (*b). -1 after
 * answering (404 unknown, 409 canceled unless allow_canceled). */
static int read_sweep(api_t *a, const api_request_t *req, int allow_canceled, int64_t *id,
                      store_t **st, json_t **sw, api_sweep_body_t *b, api_response_t *res) {
    store_error_t err;
    api_errors_t *errs = malloc(sizeof *errs);
    *sw = NULL;
    if (!errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        return -1;
    }
    api_errors_init(errs);
    int rc = -1;
    if (api_h_id(req, "sweep", id, res) || api_h_query(req, no_args, NULL, res) ||
        !(*st = api_h_reader(a, res)))
        goto out;
    if (!(*sw = store_sweep_get(*st, *id, &err))) {
        api_h_fail(a, res, err.code, &err, "sweep", *id);
        goto out;
    }
    const char *status = json_string_value(json_object_get(*sw, "status"));
    if (!allow_canceled && status && !strcmp(status, "canceled")) {
        api_problemf(res, API_PROBLEM_CONFLICT, "sweep %lld was canceled", (long long)*id);
        goto out;
    }
    if (b && api_validate_sweep(json_object_get(*sw, "spec"), &a->limits, b, errs) != 0) {
        api_problemf(res, API_PROBLEM_CONFLICT,
                     "sweep %lld: its stored request no longer validates (%s: %s)", (long long)*id,
                     errs->items[0].field, errs->items[0].message);
        goto out;
    }
    rc = 0;
out:
    if (rc) {
        json_decref(*sw);
        *sw = NULL;
    }
    free(errs);
    return rc;
}

/* A scheduler command's failure: 404 the sweep, 409 its state, 422 a field (named by the
 * message's "trials[i]" prefix, else `field`), else the usual mapping. */
static void command_failed(api_t *a, int rc, const store_error_t *err, int64_t id,
                           const char *field, api_response_t *res) {
    const char *msg = err->message[0] ? err->message : mlpt_strerror(rc);
    char f[64] = "";
    if (!strncmp(msg, "trials[", 7)) {
        size_t n = strcspn(msg, ":");
        snprintf(f, sizeof f, "%.*s", (int)n, msg);
        msg += n + (msg[n] ? 2 : 0);
    }
    if (rc == MLPT_ENOTFOUND && !f[0])
        api_problemf(res, API_PROBLEM_NOT_FOUND, "sweep %lld not found", (long long)id);
    else if (rc == MLPT_ESTATE)
        api_problemf(res, API_PROBLEM_CONFLICT, "%s%s%s", f, f[0] ? ": " : "", msg);
    else if (rc == MLPT_EINVAL || rc == MLPT_ELIMIT || rc == MLPT_ENOTFOUND)
        api_problem_field(res, API_PROBLEM_INVALID, f[0] ? f : field, "%s", msg);
    else
        api_h_fail(a, res, rc, err, "sweep", id);
}

/* The sweep resource into obj[key] (a new read); 0 or -1 after answering. */
static int with_sweep(api_t *a, store_t *st, int64_t id, json_t *obj, const char *key,
                      api_response_t *res) {
    store_error_t err;
    json_t *sw = store_sweep_get(st, id, &err);
    if (!sw) {
        api_h_fail(a, res, err.code, &err, "sweep", id);
        return -1;
    }
    json_object_set_new(obj, key, sw);
    return 0;
}

void api_h_sweep_trials_add(api_t *a, const api_request_t *req, api_response_t *res) {
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *errs = malloc(sizeof *errs);
    sched_params_t *trials = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    json_t *body = NULL, *sw = NULL;
    store_t *st;
    int64_t id;
    store_error_t err;
    memset(&err, 0, sizeof err);
    if (!b || !errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_errors_init(errs);
    if (read_sweep(a, req, 0, &id, &st, &sw, b, res) || !(body = api_h_body(req, res)))
        goto out;
    store_dataset_shape_t d;
    if (store_dataset_shape(st, b->dataset_id, &d, &err) != 0)
        memset(&d, 0, sizeof d); /* the scheduler's own checks then */
    int rc =
        api_validate_trials(body, b, d.features > 0 ? (size_t)d.features : 0,
                            d.classes > 0 ? (size_t)d.classes : 0, &a->limits, &trials, &n, errs);
    if (rc == MLPT_EINVAL) {
        api_h_invalid(res, errs);
        goto out;
    }
    if (rc || !(ids = calloc(n, sizeof *ids))) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_sse_reopen(a->hub, id);
    rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_sweep_add_trials(a->sched, id, trials, n, ids, &err);
        api_sched_release(a);
    }
    if (rc == MLPT_ELIMIT) {
        api_problem_field(res, API_PROBLEM_INVALID, "trials",
                          "%zu more trials: the sweep would exceed the limit max_trials (%zu)", n,
                          a->limits.max_trials);
        goto out;
    }
    if (rc) {
        command_failed(a, rc, &err, id, "trials", res);
        goto out;
    }
    api_logf(a, "sweep %lld: %zu trials added (warm start)", (long long)id, n);
    json_t *list = json_array(), *ans = json_pack("{s:o}", "trials", list);
    for (size_t i = 0; ans && i < n; i++) {
        json_t *t = store_trial_get(st, ids[i], &err);
        if (t)
            json_array_append_new(list, t);
    }
    if (!ans)
        api_problem_code(res, MLPT_ENOMEM, NULL);
    else
        api_res_json(res, 201, ans);
out:
    json_decref(body);
    json_decref(sw);
    free(trials);
    free(ids);
    free(errs);
    free(b);
}

void api_h_sweep_retry(api_t *a, const api_request_t *req, api_response_t *res) {
    json_t *sw = NULL, *body = NULL;
    store_t *st;
    int64_t id, *ids = NULL;
    size_t n = 0;
    store_error_t err;
    memset(&err, 0, sizeof err);
    if (read_sweep(a, req, 1, &id, &st, &sw, NULL, res))
        return;
    /* no body, or {} */
    if (req->body_len > 0 && !req->content_type) { /* a chunked body without a type */
        api_problemf(res, API_PROBLEM_MEDIA_TYPE, "send no body, or an application/json one");
        goto out;
    }
    if (req->body_len > 0) {
        if (!(body = api_h_body(req, res)))
            goto out;
        if (!json_is_object(body)) {
            api_problem_field(res, API_PROBLEM_INVALID, "body", "must be {} or empty");
            goto out;
        }
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            api_problem_field(res, API_PROBLEM_INVALID, key, "unknown field");
            goto out;
        }
    }
    api_sse_reopen(a->hub, id);
    int rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_sweep_retry(a->sched, id, &ids, &n, &err);
        api_sched_release(a);
    }
    if (rc) {
        command_failed(a, rc, &err, id, "body", res);
        goto out;
    }
    if (n)
        api_logf(a, "sweep %lld: %zu trials re-queued", (long long)id, n);
    json_t *list = json_array(), *ans = json_pack("{s:o}", "requeued", list);
    for (size_t i = 0; ans && i < n; i++)
        json_array_append_new(list, json_integer((json_int_t)ids[i]));
    if (!ans)
        api_problem_code(res, MLPT_ENOMEM, NULL);
    else if (with_sweep(a, st, id, ans, "sweep", res) == 0)
        api_res_json(res, 202, ans);
    else
        json_decref(ans);
out:
    free(ids);
    json_decref(body);
    json_decref(sw);
}

/* Wall seconds since an RFC 3339 UTC time as the store writes it; 0 when it does not read. */
static double since(const char *t) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0.0;
    double at = (double)timegm(&tm);
    if (*rest == '.')
        at += strtod(rest, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return now > at ? now - at : 0.0;
}

/* The new budgets against the sweep's: each larger than the current one (which must exist),
 * max_seconds beyond the time the sweep has existed. Adds field errors; *spec receives the
 * stored request with the new totals (malloc'd text) when there are none. */
static void check_budgets(const api_extend_body_t *x, const api_sweep_body_t *b, const json_t *sw,
                          api_errors_t *errs, char **spec) {
    const sched_space_t *sp = &b->space;
    if (x->max_trials && x->max_trials <= sp->max_trials)
        api_errors_add(errs, "max_trials", "must be more than the sweep's %zu", sp->max_trials);
    if (x->max_iterations_total && !sp->max_iterations_total)
        api_errors_add(errs, "max_iterations_total",
                       "the sweep has no iterations budget to extend");
    else if (x->max_iterations_total && x->max_iterations_total <= sp->max_iterations_total)
        api_errors_add(errs, "max_iterations_total", "must be more than the sweep's %llu",
                       (unsigned long long)sp->max_iterations_total);
    double age = since(json_string_value(json_object_get(sw, "created_at")));
    if (x->max_seconds > 0 && !(sp->max_seconds > 0))
        api_errors_add(errs, "max_seconds", "the sweep has no time budget to extend");
    else if (x->max_seconds > 0 && x->max_seconds <= sp->max_seconds)
        api_errors_add(errs, "max_seconds", "must be more than the sweep's %g s", sp->max_seconds);
    else if (x->max_seconds > 0 && x->max_seconds <= age)
        api_errors_add(errs, "max_seconds",
                       "counts from the sweep's creation, %.0f s ago: %g s would be spent at once",
                       age, x->max_seconds);
    if (errs->n)
        return;
    json_t *copy = json_deep_copy(json_object_get(sw, "spec"));
    json_t *search = json_object_get(copy, "search");
    if (json_is_object(search)) {
        if (x->max_trials)
            json_object_set_new(search, "max_trials", json_integer((json_int_t)x->max_trials));
        if (x->max_seconds > 0)
            json_object_set_new(search, "max_seconds", json_real(x->max_seconds));
        if (x->max_iterations_total)
            json_object_set_new(search, "max_iterations_total",
                                json_integer((json_int_t)x->max_iterations_total));
        *spec = json_dumps(copy, JSON_COMPACT);
    }
    json_decref(copy);
}

/* The named trials against the store: of this sweep (422 naming trials[i].id otherwise), ended
 * completed, pruned or stopped (409), not of schedule cosine (422 naming trials[i].id), more
 * iterations than planned (422). -1 after answering. */
static int check_trials(api_t *a, store_t *st, int64_t id, const api_extend_body_t *x,
                        api_errors_t *errs, api_response_t *res) {
    for (size_t i = 0; i < x->n_trials; i++) {
        store_error_t err;
        char field[64];
        json_t *t = store_trial_get(st, x->trials[i].trial_id, &err);
        snprintf(field, sizeof field, "trials[%zu].id", i);
        if (!t && err.code != MLPT_ENOTFOUND) {
            api_h_fail(a, res, err.code, &err, "trial", x->trials[i].trial_id);
            return -1;
        }
        if (!t || json_integer_value(json_object_get(t, "sweep_id")) != id) {
            api_errors_add(errs, field, "trial %lld is not a trial of sweep %lld",
                           (long long)x->trials[i].trial_id, (long long)id);
            json_decref(t);
            continue;
        }
        const char *status = json_string_value(json_object_get(t, "status"));
        json_int_t planned =
            json_integer_value(json_object_get(json_object_get(t, "params"), "iterations"));
        if (status && strcmp(status, "completed") && strcmp(status, "pruned") &&
            strcmp(status, "stopped")) {
            api_problemf(res, API_PROBLEM_CONFLICT,
                         "%s: trial %lld is %s; only trials that ended completed, pruned or "
                         "stopped continue (retry re-runs failed ones)",
                         field, (long long)x->trials[i].trial_id, status);
            json_decref(t);
            return -1;
        }
        const char *sched =
            json_string_value(json_object_get(json_object_get(t, "params"), "schedule"));
        if (sched && !strcmp(sched, "cosine")) /* its rates follow the planned iterations */
            api_errors_add(errs, field,
                           "trial %lld has schedule cosine, whose rates depend on the planned "
                           "iterations: it cannot be extended",
                           (long long)x->trials[i].trial_id);
        else if ((json_int_t)x->trials[i].iterations <= planned) {
            snprintf(field, sizeof field, "trials[%zu].iterations", i);
            api_errors_add(errs, field, "must be more than the trial's %lld", (long long)planned);
        }
        json_decref(t);
    }
    return 0;
}

void api_h_sweep_extend(api_t *a, const api_request_t *req, api_response_t *res) {
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *errs = malloc(sizeof *errs);
    api_extend_body_t x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL, *sw = NULL;
    char *spec = NULL;
    store_t *st;
    int64_t id;
    store_error_t err;
    memset(&err, 0, sizeof err);
    if (!b || !errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_errors_init(errs);
    if (read_sweep(a, req, 0, &id, &st, &sw, b, res) || !(body = api_h_body(req, res)))
        goto out;
    int rc = api_validate_extend(body, &a->limits, &x, errs);
    if (rc == 0 && x.budget && !b->sampling) {
        api_problemf(res, API_PROBLEM_CONFLICT,
                     "sweep %lld is a grid: it has no budget to extend (extend its trials)",
                     (long long)id);
        goto out;
    }
    if (rc == 0 && x.budget)
        check_budgets(&x, b, sw, errs, &spec);
    if (rc == 0 && check_trials(a, st, id, &x, errs, res))
        goto out;
    if (rc == MLPT_EINVAL || errs->n) {
        api_h_invalid(res, errs);
        goto out;
    }
    if (rc || (x.budget && !spec)) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    sched_sweep_extend_t cmd = {.spec_json = spec,
                                .max_trials = x.max_trials,
                                .max_seconds = x.max_seconds,
                                .max_iterations_total = x.max_iterations_total,
                                .trials = x.trials,
                                .n_trials = x.n_trials};
    api_sse_reopen(a->hub, id);
    rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_sweep_extend(a->sched, id, &cmd, &err);
        api_sched_release(a);
    }
    if (rc) {
        command_failed(a, rc, &err, id, "body", res);
        goto out;
    }
    api_logf(a, "sweep %lld extended", (long long)id);
    json_t *now = store_sweep_get(st, id, &err);
    if (!now)
        api_h_fail(a, res, err.code, &err, "sweep", id);
    else
        api_res_json(res, 202, now);
out:
    free(spec);
    free(x.trials);
    json_decref(body);
    json_decref(sw);
    free(errs);
    free(b);
}
