/*
 * api/h_sweeps.c - POST/GET /api/v1/sweeps, GET/DELETE /api/v1/sweeps/{id}, cancel, its trials,
 * its history and its event stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "handlers.h"
#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"
#include "sse.h"
#include "validate.h"

static const char *const no_args[] = {NULL};

/* Adds an error for a dataset id that does not exist (422: the body names it). Returns -1 after
 * answering a store failure, else 0. */
static int check_dataset(api_t *a, store_t *st, int64_t id, const char *field, api_errors_t *errs,
                         api_response_t *res) {
    store_error_t err;
    store_dataset_shape_t shape;
    if (!id || store_dataset_shape(st, id, &shape, &err) == 0)
        return 0;
    if (err.code == MLPT_ENOTFOUND) {
        api_errors_add(errs, field, "dataset %lld does not exist", (long long)id);
        return 0;
    }
    api_h_fail(a, res, err.code, &err, "dataset", id);
    return -1;
}

/* A test dataset must have the training dataset's features and only classes the training data
 * has: what the worker checks before it trains, checked here so that such a sweep is refused
 * (422) rather than created with every trial failing. Datasets that do not exist were reported
 * by check_dataset; a read that fails here leaves the check to the worker. */
static void check_test_dataset(store_t *st, int64_t train_id, int64_t test_id, api_errors_t *errs) {
    store_error_t err;
    json_t *tr = train_id && test_id ? store_dataset_get(st, train_id, &err) : NULL;
    json_t *te = tr ? store_dataset_get(st, test_id, &err) : NULL;
    if (te) {
        json_int_t f_tr = json_integer_value(json_object_get(tr, "features"));
        json_int_t f_te = json_integer_value(json_object_get(te, "features"));
        const json_t *c_tr = json_object_get(tr, "classes"), *c_te = json_object_get(te, "classes");
        size_t i, j;
        json_t *name, *known;
        if (f_te != f_tr)
            api_errors_add(errs, "test_dataset_id",
                           "dataset %lld has %lld features; the training dataset %lld has %lld",
                           (long long)test_id, (long long)f_te, (long long)train_id,
                           (long long)f_tr);
        else
            json_array_foreach(c_te, i, name) {
                int found = 0;
                json_array_foreach(c_tr, j, known) found |= json_equal(name, known);
                if (!found) {
                    api_errors_add(errs, "test_dataset_id",
                                   "dataset %lld has the class \"%.60s\", which the training "
                                   "dataset %lld does not have",
                                   (long long)test_id, json_string_value(name),
                                   (long long)train_id);
                    break;
                }
            }
    }
    json_decref(tr);
    json_decref(te);
}

/* Splits by subject and test subjects need a dataset with subjects (a recording or windows),
 * and the subjects named must be its own, with one at least left to train on. A read that
 * fails leaves the check to the worker. */
static void check_subjects(store_t *st, const api_sweep_body_t *b, api_errors_t *errs) {
    store_error_t err;
    store_dataset_shape_t d;
    const sched_spec_t *sp = &b->spec;
    if ((!sp->n_test_groups && sp->split_by != SCHED_SPLIT_GROUP) ||
        store_dataset_shape(st, b->dataset_id, &d, &err) != 0)
        return;
    if (strcmp(d.kind, "table") == 0) {
        api_errors_add(errs, sp->n_test_groups ? "test.subjects" : "training.split_by",
                       "dataset %lld has no subjects (its kind is table): %s needs a recording "
                       "or windows dataset",
                       (long long)b->dataset_id,
                       sp->n_test_groups ? "testing on subjects" : "split_by group");
        return;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (!sp->n_test_groups || store_dataset_subjects(st, b->dataset_id, &ids, &n, &err) != 0)
        return;
    size_t found = 0;
    for (size_t t = 0; t < sp->n_test_groups; t++) {
        int known = 0;
        for (size_t i = 0; i < n; i++)
            known |= ids[i] == sp->test_groups[t];
        found += (size_t)known;
        if (!known) {
            char field[40];
            snprintf(field, sizeof field, "test.subjects[%zu]", t);
            api_errors_add(errs, field, "dataset %lld has no subject %d", (long long)b->dataset_id,
                           (int)sp->test_groups[t]);
        }
    }
    if (n && found == n)
        api_errors_add(errs, "test.subjects",
                       "names every subject of dataset %lld: none is left to train on",
                       (long long)b->dataset_id);
    free(ids);
}

/* The model a trial of the grid implies on the dataset must stay under max_model_bytes: a
 * model too big to store or to hold is refused here rather than failing (or worse) once trained.
 * A read that fails leaves the sweep to the scheduler's own checks. */
static void check_model_size(api_t *a, store_t *st, const api_sweep_body_t *b, api_errors_t *errs) {
    store_error_t err;
    store_dataset_shape_t d;
    if (store_dataset_shape(st, b->dataset_id, &d, &err) != 0)
        return;
    size_t before = errs->n;
    if (d.features > 0)
        api_validate_model_size(&b->spec, (size_t)d.features, (size_t)d.classes, &a->limits, errs);
    /* a random search was checked at its deepest and widest draw: blame the space's member
     * ("grid.neurons[0]" -> "space.neurons") */
    for (size_t i = before; b->sampling && i < errs->n; i++) {
        api_field_error_t *e = &errs->items[i];
        char *dot = strchr(e->field, '.'), *bracket = strchr(e->field, '[');
        char field[sizeof e->field];
        if (bracket)
            *bracket = '\0';
        snprintf(field, sizeof field, "space%s", dot ? dot : "");
        memcpy(e->field, field, sizeof field);
    }
}

/* ?dry_run=: 0 when absent or "false", 1 for "true"; -1 after answering 422. */
static int dry_run_arg(const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"dry_run", NULL};
    if (api_h_query(req, allowed, NULL, res))
        return -1;
    const char *v = api_query(req, "dry_run");
    if (!v || !strcmp(v, "false"))
        return 0;
    if (!strcmp(v, "true"))
        return 1;
    api_problem_field(res, API_PROBLEM_INVALID, "query.dry_run", "must be true or false");
    return -1;
}

static json_t *opt_int(uint64_t v) {
    return v ? json_integer((json_int_t)v) : json_null();
}

/* Answers a dry run: what the sweep would train and how long that would take here, creating
 * nothing. trials/n: a grid's expanded trials. */
static void answer_dry_run(api_t *a, store_t *st, const api_sweep_body_t *b,
                           const sched_params_t *trials, size_t n, api_response_t *res) {
    store_error_t err;
    store_dataset_shape_t d, t;
    memset(&t, 0, sizeof t);
    if (store_dataset_shape(st, b->dataset_id, &d, &err) != 0 ||
        (b->test_dataset_id && store_dataset_shape(st, b->test_dataset_id, &t, &err) != 0)) {
        api_h_fail(a, res, err.code, &err, "dataset", b->dataset_id);
        return;
    }
    sched_estimate_shape_t shape = {.rows = (size_t)d.rows,
                                    .features = (size_t)d.features,
                                    .classes = (size_t)d.classes,
                                    .test_rows = (size_t)t.rows};
    sched_estimate_t e;
    if (b->sampling)
        sched_estimate_space(&b->space, &shape, &e);
    else
        sched_estimate_trials(trials, n, &shape, &e);
    sched_throughput_t tp;
    if (api_sched_acquire(a) != 0) {
        api_h_fail(a, res, MLPT_EBUSY, NULL, "sweep", 0);
        return;
    }
    sched_throughput(a->sched, &tp);
    api_sched_release(a);
    double gflops = tp.gflops_per_worker * (tp.workers > 0 ? tp.workers : 1);
    double seconds = e.bounded && gflops > 0 ? e.gemm_flops / (gflops * 1e9) : 0.0;
    const sched_space_t *sp = &b->space;
    if (b->sampling && sp->max_seconds > 0 && (!e.bounded || seconds > sp->max_seconds))
        seconds = sp->max_seconds;
    json_t *budget =
        b->sampling
            ? json_pack("{s:o, s:o, s:o}", "max_trials", opt_int(sp->max_trials), "max_seconds",
                        sp->max_seconds > 0 ? json_real(sp->max_seconds) : json_null(),
                        "max_iterations_total", opt_int(sp->max_iterations_total))
            : json_null();
    json_t *j = json_pack(
        "{s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:i}", "dry_run", 1, "search",
        !b->sampling                   ? "grid"
        : sp->type == SCHED_SEARCH_TPE ? "tpe"
                                       : "random",
        "trials", e.trials_known ? json_integer((json_int_t)e.trials) : json_null(), "budget",
        budget, "iterations_total",
        e.bounded ? json_integer((json_int_t)e.iterations) : json_null(), "gemm_flops",
        e.bounded ? api_json_num(e.gemm_flops) : json_null(), "throughput_gflops",
        api_json_num(gflops), "throughput_gflops_per_worker", api_json_num(tp.gflops_per_worker),
        "throughput_source", tp.learned ? "learned" : "calibration", "estimated_seconds",
        api_json_num(seconds), "workers", tp.workers);
    if (!j)
        api_problem_code(res, MLPT_ENOMEM, NULL);
    else
        api_res_json(res, 200, j);
}

/* Answers 201 with the sweep as the store has it. */
static void answer_sweep(api_t *a, int64_t id, unsigned status, api_response_t *res) {
    store_error_t err;
    store_t *st = api_h_reader(a, res);
    json_t *j = st ? store_sweep_get(st, id, &err) : NULL;
    if (!st)
        return;
    if (!j) {
        api_h_fail(a, res, err.code, &err, "sweep", id);
        return;
    }
    if (status == 201)
        snprintf(res->location, sizeof(res->location), "/api/v1/sweeps/%lld", (long long)id);
    api_res_json(res, status, j);
}

void api_h_sweeps_create(api_t *a, const api_request_t *req, api_response_t *res) {
    api_sweep_body_t *b = malloc(sizeof(*b));
    api_errors_t *errs = malloc(sizeof(*errs));
    sched_params_t *trials = NULL;
    size_t n = 0;
    json_t *body = NULL;
    store_t *st;
    store_error_t err;
    memset(&err, 0, sizeof(err));
    if (!b || !errs) {
        api_problem_code(res, MLPT_ENOMEM, NULL);
        goto out;
    }
    api_errors_init(errs);
    int dry = dry_run_arg(req, res);
    if (dry < 0 || !(body = api_h_body(req, res)))
        goto out;
    if (api_validate_sweep(body, &a->limits, b, errs) != 0) {
        api_h_invalid(res, errs);
        goto out;
    }
    if (!(st = api_h_reader(a, res)) ||
        check_dataset(a, st, b->dataset_id, "dataset_id", errs, res) ||
        check_dataset(a, st, b->test_dataset_id, "test_dataset_id", errs, res))
        goto out;
    check_test_dataset(st, b->dataset_id, b->test_dataset_id, errs);
    check_subjects(st, b, errs);
    if (!errs->n)
        check_model_size(a, st, b, errs);
    if (errs->n) {
        api_h_invalid(res, errs);
        goto out;
    }
    /* a random search adds its trials as it runs; a grid is expanded here */
    int rc = b->sampling ? 0 : sched_grid_expand(&b->spec, a->limits.max_trials, &trials, &n);
    if (rc == MLPT_ELIMIT || rc == MLPT_EINVAL) {
        api_problem_field(res, API_PROBLEM_INVALID, "grid", "%s",
                          rc == MLPT_ELIMIT ? "exceeds the limit max_trials" : "has an empty axis");
        goto out;
    }
    if (rc) {
        api_problem_code(res, rc, NULL);
        goto out;
    }
    if (dry) {
        answer_dry_run(a, st, b, trials, n, res);
        goto out;
    }
    sched_sweep_request_t sr = {
        .name = b->name[0] ? b->name : NULL,
        .dataset_id = b->dataset_id,
        .test_dataset_id = b->test_dataset_id,
        .spec_json = req->body,
        .trials = trials,
        .n_trials = n,
        .space = b->sampling ? &b->space : NULL,
        .pruner = b->sampling ? &b->pruner : NULL,
        .early_stop = b->sampling ? &b->early_stop : NULL,
        .ranks = b->ranks,
    };
    int64_t id = 0;
    rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = sched_sweep_create(a->sched, &sr, &id, &err);
        api_sched_release(a);
    }
    if (rc == MLPT_ENOTFOUND)
        api_problem_field(res, API_PROBLEM_INVALID, "dataset_id", "dataset %lld does not exist",
                          (long long)b->dataset_id);
    else if (rc == MLPT_EINVAL)
        api_problem_field(res, API_PROBLEM_INVALID,
                          b->test_dataset_id ? "test_dataset_id" : "dataset_id", "%s",
                          err.message[0] ? err.message : "the dataset cannot train this grid");
    else if (rc)
        api_h_fail(a, res, rc, &err, "sweep", 0);
    else {
        api_logf(a, "sweep %lld: %zu trials on dataset %lld", (long long)id, n,
                 (long long)b->dataset_id);
        answer_sweep(a, id, 201, res);
    }
out:
    json_decref(body);
    free(trials);
    free(errs);
    free(b);
}

void api_h_sweeps_list(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"status", "limit", "cursor", NULL};
    const char *status;
    size_t limit;
    if (api_h_list_query(req, allowed, &limit, &status, NULL, res))
        return;
    store_t *st = api_h_reader(a, res);
    if (!st)
        return;
    store_error_t err;
    json_t *j = store_sweep_list(st, status, limit, api_query(req, "cursor"), &err);
    api_h_page(a, res, j, &err, "sweeps", 0);
}

/* The {id} of a sweep route with no query arguments; -1 after answering. */
static int sweep_id(const api_request_t *req, int64_t *id, api_response_t *res) {
    return api_h_id(req, "sweep", id, res) || api_h_query(req, no_args, NULL, res) ? -1 : 0;
}

void api_h_sweep_get(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    if (sweep_id(req, &id, res) == 0)
        answer_sweep(a, id, 200, res);
}

typedef int (*sweep_command_fn)(sched_t *s, int64_t sweep_id, store_error_t *err);

/* Runs a scheduler command on the route's sweep; 409 with `conflict` (a format taking the id)
 * when the sweep's state forbids it. Returns 0 when the command succeeded (nothing answered
 * yet), -1 after answering. */
static int sweep_command(api_t *a, const api_request_t *req, api_response_t *res,
                         sweep_command_fn fn, const char *conflict, int64_t *id) {
    store_error_t err;
    memset(&err, 0, sizeof(err));
    if (sweep_id(req, id, res))
        return -1;
    int rc = MLPT_EBUSY;
    if (api_sched_acquire(a) == 0) {
        rc = fn(a->sched, *id, &err);
        api_sched_release(a);
    }
    if (rc == MLPT_ESTATE)
        api_problemf(res, API_PROBLEM_CONFLICT, conflict, (long long)*id);
    else if (rc)
        api_h_fail(a, res, rc, &err, "sweep", *id);
    return rc ? -1 : 0;
}

void api_h_sweep_delete(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    if (sweep_command(a, req, res, sched_sweep_delete,
                      "sweep %lld is queued or running; cancel it first", &id) == 0) {
        api_sse_forget(a->hub, id); /* its open streams end rather than wait for events */
        res->status = 204;
    }
}

void api_h_sweep_cancel(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    if (sweep_command(a, req, res, sched_sweep_cancel, "sweep %lld has already finished", &id) == 0)
        answer_sweep(a, id, 200, res);
}

void api_h_sweep_trials(api_t *a, const api_request_t *req, api_response_t *res) {
    static const char *const allowed[] = {"sort", "limit", "cursor", NULL};
    const char *sort;
    size_t limit;
    int64_t id;
    if (api_h_id(req, "sweep", &id, res) ||
        api_h_list_query(req, allowed, &limit, NULL, &sort, res))
        return;
    if (!sort) /* the leaderboard: best validation accuracy over any iteration first */
        sort = "-best_val_accuracy";
    store_t *st = api_h_reader(a, res);
    if (!st)
        return;
    store_error_t err;
    json_t *j = store_trial_list(st, id, sort, limit, api_query(req, "cursor"), &err);
    api_h_page(a, res, j, &err, "sweep", id);
}

void api_h_sweep_history(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    store_error_t err;
    if (sweep_id(req, &id, res) || !(st = api_h_reader(a, res)))
        return;
    json_t *j = store_sweep_history(st, id, &err);
    if (!j)
        api_h_fail(a, res, err.code, &err, "sweep", id);
    else
        api_res_json(res, 200, j);
}

void api_h_sweep_events(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t id;
    store_t *st;
    store_error_t err;
    if (sweep_id(req, &id, res) || !(st = api_h_reader(a, res)))
        return;
    store_sweep_info_t sweep;
    if (store_sweep_info(st, id, &sweep, &err) != 0) {
        api_h_fail(a, res, err.code, &err, "sweep", id);
        return;
    }
    api_sse_sub_t *sub = NULL;
    int rc = api_sse_subscribe(a->hub, id, req->last_event_id, &sub);
    if (rc == API_SSE_SEEN_END) {
        res->status = 204; /* the client has seen the end: an EventSource stops reconnecting */
    } else if (rc) {
        api_problemf(res, api_error_kind(rc), "%s",
                     rc == MLPT_EBUSY ? "the server is shutting down" : "out of memory");
    } else {
        res->status = 200;
        res->kind = API_BODY_SSE;
        res->sse = sub;
        res->content_type = "text/event-stream";
    }
}
