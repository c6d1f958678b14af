/*
 * loop.c - the loop thread's work on each wake-up: persist what workers reported in one
 * transaction, send the events, run the commands of other threads, hand trials to idle workers,
 * and, when stopping, wind everything down.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

static double now_unix(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_wake(uv_async_t *h);
static void on_retry(uv_timer_t *t);

int sched_loop_init(sched_t *s) {
    if (uv_loop_init(&s->loop) != 0)
        return -1;
    s->wake.data = s;
    s->retry.data = s;
    if (uv_async_init(&s->loop, &s->wake, on_wake) != 0 ||
        uv_timer_init(&s->loop, &s->retry) != 0) {
        uv_loop_close(&s->loop);
        return -1;
    }
    return 0;
}

static void close_handles(sched_t *s) {
    if (s->handles_closed)
        return;
    s->handles_closed = 1;
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_close((uv_handle_t *)&s->retry, NULL);
}

void sched_loop_close(sched_t *s) {
    close_handles(s);
    uv_run(&s->loop, UV_RUN_NOWAIT); /* lets the close callbacks run */
    uv_loop_close(&s->loop);
}

static void free_job(job_t *j) {
    if (!j)
        return;
    free(j->followers);
    free(j->dataset_path);
    free(j->test_path);
    free(j);
}

void sched_loop_free_jobs(sched_t *s) {
    while (s->queue) {
        job_t *j = s->queue;
        s->queue = j->next;
        free_job(j);
    }
    while (s->sweeps) {
        sweep_state_t *w = s->sweeps;
        s->sweeps = w->next;
        free(w);
    }
    free(s->events);
    s->events = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Sweeps in flight and events. */

static sweep_state_t *sweep_find(sched_t *s, int64_t id) {
    for (sweep_state_t *w = s->sweeps; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

static sweep_state_t *sweep_get(sched_t *s, int64_t id) {
    sweep_state_t *w = sweep_find(s, id);
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->id = id;
    w->next = s->sweeps;
    s->sweeps = w;
    return w;
}

static void sweep_forget(sched_t *s, int64_t id) {
    for (sweep_state_t **p = &s->sweeps; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            sweep_state_t *w = *p;
            *p = w->next;
            free(w);
            return;
        }
}

static void event_add(sched_t *s, const sched_event_t *ev) {
    if (s->n_events == s->cap_events) {
        size_t cap = s->cap_events ? 2 * s->cap_events : 64;
        sched_event_t *tmp = realloc(s->events, cap * sizeof *tmp);
        if (!tmp)
            return; /* the rows are stored; only the live notification is lost */
        s->events = tmp;
        s->cap_events = cap;
    }
    s->events[s->n_events++] = *ev;
}

static void events_flush(sched_t *s) {
    for (size_t i = 0; i < s->n_events; i++)
        if (s->listener)
            s->listener(&s->events[i], s->listener_user);
    s->n_events = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The queue. */

static char *dataset_file(sched_t *s, int64_t id, store_error_t *err) {
    char *rel = store_dataset_storage_path(s->writer, id, err);
    if (!rel)
        return NULL;
    size_t n = strlen(s->data_dir) + strlen(rel) + 2;
    char *abs = malloc(n);
    if (abs)
        snprintf(abs, n, "%s/%s", s->data_dir, rel);
    free(rel);
    return abs;
}

/* Trial cost: GEMM FLOPs over all its iterations, from the dataset's recorded shape. */
static double trial_cost(sched_t *s, int64_t dataset_id, const sched_params_t *p) {
    store_error_t err;
    json_t *d = store_dataset_get(s->writer, dataset_id, &err);
    if (!d)
        return 0.0;
    json_int_t rows = json_integer_value(json_object_get(d, "rows"));
    json_int_t features = json_integer_value(json_object_get(d, "features"));
    size_t classes = json_array_size(json_object_get(d, "classes"));
    json_decref(d);
    trainer_arch_t arch;
    sched_params_arch(p, (size_t)features, classes < 2 ? 2 : classes, &arch);
    double n_train = (double)rows * (1.0 - p->validation_split);
    return trainer_arch_train_flops(&arch, (size_t)n_train) * (double)p->iterations;
}

/* Before: earlier sweeps first, then the costlier trial, then the lower id. */
static int job_before(const job_t *a, const job_t *b) {
    if (a->sweep_id != b->sweep_id)
        return a->sweep_id < b->sweep_id;
    if (a->cost != b->cost)
        return a->cost > b->cost;
    return a->trial_id < b->trial_id;
}

static void queue_insert(sched_t *s, job_t *j) {
    job_t **pos = &s->queue;
    while (*pos && job_before(*pos, j))
        pos = &(*pos)->next;
    j->next = *pos;
    *pos = j;
}

/* Equal but for the number of iterations (and so one run serves both: the trainer's weights,
 * split and shuffles never depend on how many iterations are planned, and the learning rate is
 * constant). */
static int same_but_iterations(const sched_params_t *a, const sched_params_t *b) {
    sched_params_t x = *a;
    x.iterations = b->iterations;
    return memcmp(&x.shape, &b->shape, sizeof x.shape) == 0 && x.activation == b->activation &&
           x.batch_size == b->batch_size && x.momentum == b->momentum &&
           x.learning_rate == b->learning_rate && x.validation_split == b->validation_split &&
           x.seed == b->seed;
}

static int follower_cmp(const void *a, const void *b) {
    const follower_t *x = a, *y = b;
    return x->iterations < y->iterations ? -1 : x->iterations > y->iterations;
}

static void queue_remove(sched_t *s, job_t *j) {
    for (job_t **p = &s->queue; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

/* Joins a trial to a queued job of its sweep that differs only in iterations: the longer of
 * the two leads. Returns 1 when joined, 0 when there is no such job, -1 without memory. */
static int join_prefix(sched_t *s, int64_t sweep_id, int64_t trial_id, const sched_params_t *p) {
    job_t *lead = s->queue;
    while (lead && !(lead->sweep_id == sweep_id && lead->params.iterations != p->iterations &&
                     same_but_iterations(&lead->params, p)))
        lead = lead->next;
    if (!lead)
        return 0;
    for (size_t i = 0; i < lead->n_followers; i++)
        if (lead->followers[i].iterations == p->iterations)
            return 0; /* two trials of the same length: keep them apart */
    follower_t *tmp = realloc(lead->followers, (lead->n_followers + 1) * sizeof *tmp);
    if (!tmp)
        return -1;
    lead->followers = tmp;
    follower_t f = {.trial_id = trial_id, .iterations = p->iterations};
    if (p->iterations > lead->params.iterations) {
        f = (follower_t){.trial_id = lead->trial_id, .iterations = lead->params.iterations};
        lead->cost = lead->cost / (double)lead->params.iterations * (double)p->iterations;
        lead->trial_id = trial_id;
        lead->params = *p;
    }
    lead->followers[lead->n_followers++] = f;
    qsort(lead->followers, lead->n_followers, sizeof *lead->followers, follower_cmp);
    queue_remove(s, lead);
    queue_insert(s, lead);
    return 1;
}

int sched_loop_enqueue(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t dataset_id,
                       int64_t test_dataset_id, const sched_params_t *p, store_error_t *err) {
    int joined = join_prefix(s, sweep_id, trial_id, p);
    if (joined == 1)
        return 0;
    job_t *j = joined == 0 ? calloc(1, sizeof *j) : NULL;
    sweep_state_t *w = sweep_get(s, sweep_id);
    if (!j || !w) {
        free(j);
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = MLPT_ENOMEM;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return MLPT_ENOMEM;
    }
    j->trial_id = trial_id;
    j->sweep_id = sweep_id;
    j->dataset_id = dataset_id;
    j->test_dataset_id = test_dataset_id;
    j->params = *p;
    j->dataset_path = dataset_file(s, dataset_id, err);
    if (!j->dataset_path ||
        (test_dataset_id && !(j->test_path = dataset_file(s, test_dataset_id, err)))) {
        int rc = err ? err->code : MLPT_ENOTFOUND;
        free_job(j);
        return rc ? rc : MLPT_ENOTFOUND;
    }
    j->cost = trial_cost(s, dataset_id, p);
    queue_insert(s, j);
    w->queued++;
    atomic_fetch_add(&s->n_queued, 1);
    return 0;
}

void sched_loop_dispatch(sched_t *s) {
    if (atomic_load(&s->stopping) || !s->queue || s->idle_workers == 0)
        return;
    store_error_t err;
    if (store_begin(s->writer, &err) != 0) {
        sched_logf(s, "dispatch: %s", err.message);
        return;
    }
    double now = now_unix();
    job_t *handed = NULL, **tail = &handed;
    while (s->queue && s->idle_workers > 0) {
        job_t *j = s->queue;
        if (store_trial_start(s->writer, j->trial_id, now, &err) != 0) {
            sched_logf(s, "trial %lld: cannot start: %s", (long long)j->trial_id, err.message);
            break;
        }
        sweep_state_t *w = sweep_get(s, j->sweep_id);
        if (w && w->queued + w->running > 0 && w->running == 0)
            store_sweep_set_status(s->writer, j->sweep_id, "running", now, NULL, &err);
        if (w) {
            w->queued--;
            w->running++;
        }
        s->queue = j->next;
        j->next = s->running;
        s->running = j;
        *tail = j;
        tail = &j->work_next;
        j->work_next = NULL;
        s->idle_workers--;
        atomic_fetch_sub(&s->n_queued, 1);
        atomic_fetch_add(&s->n_running, 1);
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_STARTED,
                                      .sweep_id = j->sweep_id,
                                      .trial_id = j->trial_id,
                                      .status = "running"});
        for (size_t i = 0; i < j->n_followers; i++) {
            follower_t *f = &j->followers[i];
            if (store_trial_start(s->writer, f->trial_id, now, &err) != 0) {
                /* Not queued any more (it cannot be, short of a bug): leave it alone. */
                sched_logf(s, "trial %lld: cannot start: %s", (long long)f->trial_id, err.message);
                f->done = 1;
                continue;
            }
            event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_STARTED,
                                          .sweep_id = j->sweep_id,
                                          .trial_id = f->trial_id,
                                          .status = "running"});
        }
    }
    if (store_commit(s->writer, &err) != 0) {
        /* Nothing was recorded: put the jobs back and try again on the next wake-up. */
        sched_logf(s, "dispatch: commit failed: %s", err.message);
        store_rollback(s->writer);
        s->n_events = 0;
        for (job_t *j = handed; j; j = j->work_next) {
            for (job_t **p = &s->running; *p; p = &(*p)->next)
                if (*p == j) {
                    *p = j->next;
                    break;
                }
            queue_insert(s, j);
            sweep_state_t *w = sweep_find(s, j->sweep_id);
            if (w) {
                w->queued++;
                w->running--;
            }
            s->idle_workers++;
            atomic_fetch_add(&s->n_queued, 1);
            atomic_fetch_sub(&s->n_running, 1);
        }
        uv_timer_start(&s->retry, on_retry, 1000, 0);
        return;
    }
    if (handed) {
        pthread_mutex_lock(&s->work_lock);
        job_t **end = &s->handoff;
        while (*end)
            end = &(*end)->work_next;
        *end = handed;
        pthread_cond_broadcast(&s->work_ready);
        pthread_mutex_unlock(&s->work_lock);
    }
    for (size_t i = 0; i < s->n_events; i++)
        sched_logf(s, "trial %lld started (sweep %lld)", (long long)s->events[i].trial_id,
                   (long long)s->events[i].sweep_id);
    events_flush(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Reports from workers: one transaction for everything that arrived since the last wake-up. */

static void running_remove(sched_t *s, job_t *j) {
    for (job_t **p = &s->running; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

/* Decides a finished sweep's status from its trials' states, records it, queues the event. */
static int sweep_finalize(sched_t *s, sweep_state_t *w, double now, store_error_t *err) {
    const char *status = "completed";
    if (w->canceled) {
        status = "canceled"; /* already recorded when the cancel came */
    } else {
        json_t *sw = store_sweep_get(s->writer, w->id, err);
        if (!sw)
            return err->code;
        json_t *counts = json_object_get(sw, "trials");
        json_int_t failed = json_integer_value(json_object_get(counts, "failed"));
        json_int_t total = json_integer_value(json_object_get(sw, "trials_total"));
        json_decref(sw);
        if (total > 0 && failed == total)
            status = "failed";
        int rc = store_sweep_set_status(s->writer, w->id, status, now,
                                        failed == total ? "every trial failed" : NULL, err);
        if (rc != 0)
            return rc;
    }
    event_add(s, &(sched_event_t){
                     .type = SCHED_EVENT_SWEEP_FINISHED, .sweep_id = w->id, .status = status});
    return 0;
}

static const char *trial_status(const report_t *r) {
    switch (r->rc) {
    case 0:
        return "completed";
    case MLPT_EDIVERGED:
        return "diverged";
    case MLPT_ESTOPPED:
        return atomic_load(&r->job->stop) == STOP_CANCEL ? "canceled" : NULL;
    default:
        return "failed";
    }
}

/* Followers still waiting for rows or their end. */
static int follower_open(const follower_t *f) {
    return !f->done && !f->pending;
}

/* One iteration of a job: its row, the same row for every follower that is that long, and the
 * end of the follower whose last iteration it is. */
static int save_epoch(sched_t *s, report_t *r, double now, store_error_t *err) {
    job_t *j = r->job;
    store_metric_t rows[1 + 16];
    size_t n = 0;
    rows[n++] = r->metric;
    int rc = 0;
    for (size_t i = 0; i < j->n_followers && rc == 0; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f) || f->iterations < (size_t)r->metric.iteration)
            continue;
        rows[n] = r->metric;
        rows[n++].trial_id = f->trial_id;
        if (n == sizeof rows / sizeof rows[0]) {
            rc = store_metrics_insert(s->writer, rows, n, err);
            n = 0;
        }
    }
    if (rc == 0 && n)
        rc = store_metrics_insert(s->writer, rows, n, err);
    if (rc != 0)
        return rc;
    event_add(s, &(sched_event_t){.type = SCHED_EVENT_ITERATION,
                                  .sweep_id = j->sweep_id,
                                  .trial_id = j->trial_id,
                                  .status = "running",
                                  .metric = r->metric});
    for (size_t i = 0; i < j->n_followers; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f) || f->iterations < (size_t)r->metric.iteration)
            continue;
        store_metric_t m = r->metric;
        m.trial_id = f->trial_id;
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_ITERATION,
                                      .sweep_id = j->sweep_id,
                                      .trial_id = f->trial_id,
                                      .status = "running",
                                      .metric = m});
    }
    for (size_t i = 0; i < j->n_followers && r->follower_id; i++) {
        follower_t *f = &j->followers[i];
        if (f->trial_id != r->follower_id || !follower_open(f))
            continue;
        store_trial_end_t end = {.status = "completed",
                                 .best_val_accuracy = r->follower_best_val,
                                 .final_val_accuracy = r->metric.val_accuracy,
                                 .test_accuracy = r->follower_test_accuracy,
                                 .best_iteration = r->follower_best_iteration,
                                 .model = r->model,
                                 .model_len = r->model_len,
                                 .now = now};
        rc = store_trial_finish(s->writer, f->trial_id, &end, err);
        if (rc != 0)
            return rc;
        f->pending = 1;
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                      .sweep_id = j->sweep_id,
                                      .trial_id = f->trial_id,
                                      .status = "completed"});
    }
    return 0;
}

/* The job ended before some of its followers did: they end the same way, with its figures
 * (cut short by the same cancel, divergence or failure at the same iteration). */
static int end_followers(sched_t *s, report_t *r, const char *status, double now,
                         store_error_t *err) {
    job_t *j = r->job;
    for (size_t i = 0; i < j->n_followers; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f))
            continue;
        store_trial_end_t end = {.status = status,
                                 .best_val_accuracy = r->best_val_accuracy,
                                 .final_val_accuracy = r->final_val_accuracy,
                                 .test_accuracy = NAN,
                                 .best_iteration = r->best_iteration,
                                 .error = r->error[0] ? r->error : NULL,
                                 .now = now};
        int rc = store_trial_finish(s->writer, f->trial_id, &end, err);
        if (rc != 0)
            return rc;
        f->pending = 1;
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                      .sweep_id = j->sweep_id,
                                      .trial_id = f->trial_id,
                                      .status = status});
    }
    return 0;
}

/* After a commit the followers' pending ends are recorded; after a rollback they are not. */
static void followers_settle(sched_t *s, int committed) {
    for (job_t *j = s->running; j; j = j->next)
        for (size_t i = 0; i < j->n_followers; i++) {
            if (committed && j->followers[i].pending)
                j->followers[i].done = 1;
            j->followers[i].pending = 0;
        }
}

/* Records one report inside the open transaction. Returns 0 or the store's error. */
static int save_report(sched_t *s, report_t *r, double now, store_error_t *err) {
    if (r->type == REPORT_EPOCH)
        return save_epoch(s, r, now, err);
    const char *status = trial_status(r);
    if (!status) /* stopped by shutdown: stays running, and is re-queued at the next start */
        return 0;
    store_trial_end_t end = {.status = status,
                             .best_val_accuracy = r->best_val_accuracy,
                             .final_val_accuracy = r->final_val_accuracy,
                             .test_accuracy = r->test_accuracy,
                             .best_iteration = r->best_iteration,
                             .error = r->error[0] ? r->error : NULL,
                             .model = r->model,
                             .model_len = r->model_len,
                             .now = now};
    int rc = store_trial_finish(s->writer, r->job->trial_id, &end, err);
    if (rc == 0)
        rc = end_followers(s, r, status, now, err);
    if (rc != 0)
        return rc;
    event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                  .sweep_id = r->job->sweep_id,
                                  .trial_id = r->job->trial_id,
                                  .status = status});
    sweep_state_t *w = sweep_find(s, r->job->sweep_id);
    if (w && ++w->ending == w->running && w->queued == 0)
        return sweep_finalize(s, w, now, err);
    return 0;
}

/* After the commit: the in-memory side of the reports (jobs end, workers free up). */
static void apply_report(sched_t *s, report_t *r) {
    if (r->type != REPORT_DONE)
        return;
    job_t *j = r->job;
    const char *status = trial_status(r);
    sched_logf(s, "trial %lld %s%s%s", (long long)j->trial_id, status ? status : "stopped",
               r->error[0] ? ": " : "", r->error);
    sweep_state_t *w = sweep_find(s, j->sweep_id);
    if (w) {
        w->running--;
        if (status)
            w->ending--;
        if (w->queued == 0 && w->running == 0)
            sweep_forget(s, j->sweep_id);
    }
    running_remove(s, j);
    free_job(j);
    s->idle_workers++;
    atomic_fetch_sub(&s->n_running, 1);
    if (status)
        atomic_fetch_add(&s->n_finished, 1);
}

static void free_reports(report_t *r) {
    while (r) {
        report_t *next = r->next;
        free(r->model);
        free(r);
        r = next;
    }
}

static void process_reports(sched_t *s) {
    pthread_mutex_lock(&s->report_lock);
    report_t *fresh = s->reports;
    s->reports = s->reports_tail = NULL;
    pthread_mutex_unlock(&s->report_lock);
    /* Reports a failed transaction left over go first, in their order. */
    report_t *batch = s->unsaved;
    if (batch) {
        report_t *t = batch;
        while (t->next)
            t = t->next;
        t->next = fresh;
    } else {
        batch = fresh;
    }
    s->unsaved = NULL;
    if (!batch)
        return;

    store_error_t err;
    double now = now_unix();
    int rc = store_begin(s->writer, &err);
    for (report_t *r = batch; r && rc == 0; r = r->next)
        rc = save_report(s, r, now, &err);
    if (rc == 0)
        rc = store_commit(s->writer, &err);
    if (rc != 0) {
        /* Keep every row: roll back, and retry the whole batch shortly. */
        store_rollback(s->writer);
        s->n_events = 0;
        for (sweep_state_t *w = s->sweeps; w; w = w->next)
            w->ending = 0;
        followers_settle(s, 0);
        s->unsaved = batch;
        sched_logf(s, "store: cannot save %s; retrying in 1 s", err.message);
        uv_timer_start(&s->retry, on_retry, 1000, 0);
        return;
    }
    followers_settle(s, 1);
    for (report_t *r = batch; r; r = r->next)
        apply_report(s, r);
    free_reports(batch);
    events_flush(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands. */

static void set_error(store_error_t *err, int code, const char *fmt, long long id) {
    memset(err, 0, sizeof *err);
    err->code = code;
    snprintf(err->message, sizeof err->message, fmt, id);
}

static int uses_dataset(const job_t *list, int64_t id) {
    for (const job_t *j = list; j; j = j->next)
        if (j->dataset_id == id || j->test_dataset_id == id)
            return 1;
    return 0;
}

static int cmd_dataset_delete(sched_t *s, command_t *c) {
    if (uses_dataset(s->queue, c->id) || uses_dataset(s->running, c->id)) {
        set_error(&c->err, MLPT_ESTATE, "dataset %lld is used by a queued or running sweep",
                  (long long)c->id);
        return MLPT_ESTATE;
    }
    char *path = NULL;
    int rc = store_dataset_delete(s->writer, c->id, &path, &c->err);
    if (rc == 0 && path) {
        size_t n = strlen(s->data_dir) + strlen(path) + 2;
        char *abs = malloc(n);
        if (abs) {
            snprintf(abs, n, "%s/%s", s->data_dir, path);
            unlink(abs);
        }
        free(abs);
    }
    free(path);
    return rc;
}

static int cmd_sweep_create(sched_t *s, command_t *c) {
    const sched_sweep_request_t *req = c->sweep;
    int rc = MLPT_ENOMEM;
    char **params = calloc(req->n_trials, sizeof *params);
    int64_t *ids = calloc(req->n_trials, sizeof *ids);
    if (!params || !ids)
        goto done;
    for (size_t i = 0; i < req->n_trials; i++) {
        json_t *o = sched_params_to_json(&req->trials[i]);
        params[i] = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (!params[i])
            goto done;
    }
    store_sweep_new_t sw = {.name = req->name ? req->name : "",
                            .dataset_id = req->dataset_id,
                            .test_dataset_id = req->test_dataset_id,
                            .spec_json = req->spec_json,
                            .search = "grid",
                            .created_at = now_unix()};
    rc = store_sweep_insert(s->writer, &sw, (const char *const *)params, req->n_trials, &c->id, ids,
                            &c->err);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < req->n_trials && rc == 0; i++)
        rc = sched_loop_enqueue(s, c->id, ids[i], req->dataset_id, req->test_dataset_id,
                                &req->trials[i], &c->err);
    if (rc != 0) {
        /* Cannot happen short of memory: the datasets were just checked by the insert. */
        sched_logf(s, "sweep %lld: cannot queue: %s", (long long)c->id, c->err.message);
    } else {
        sched_logf(s, "sweep %lld created: %zu trials on dataset %lld", (long long)c->id,
                   req->n_trials, (long long)req->dataset_id);
    }
done:
    if (rc == MLPT_ENOMEM && !c->err.message[0])
        set_error(&c->err, rc, "out of memory creating a sweep of %lld trials",
                  (long long)req->n_trials);
    if (params)
        for (size_t i = 0; i < req->n_trials; i++)
            free(params[i]);
    free(params);
    free(ids);
    return rc;
}

static int cmd_sweep_cancel(sched_t *s, command_t *c) {
    sweep_state_t *w = sweep_find(s, c->id);
    if (!w || w->canceled) {
        json_t *sw = store_sweep_get(s->writer, c->id, &c->err);
        if (!sw)
            return c->err.code;
        json_decref(sw);
        set_error(&c->err, MLPT_ESTATE, "sweep %lld has already finished", (long long)c->id);
        return MLPT_ESTATE;
    }
    double now = now_unix();
    int64_t n = 0;
    int rc = store_begin(s->writer, &c->err);
    if (rc == 0)
        rc = store_sweep_cancel_queued(s->writer, c->id, now, &n, &c->err);
    if (rc == 0)
        rc = store_sweep_set_status(s->writer, c->id, "canceled", now, NULL, &c->err);
    if (rc == 0)
        rc = store_commit(s->writer, &c->err);
    if (rc != 0) {
        store_rollback(s->writer);
        return rc;
    }
    w->canceled = 1;
    for (job_t **p = &s->queue; *p;) {
        job_t *j = *p;
        if (j->sweep_id != c->id) {
            p = &j->next;
            continue;
        }
        *p = j->next;
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                      .sweep_id = j->sweep_id,
                                      .trial_id = j->trial_id,
                                      .status = "canceled"});
        for (size_t i = 0; i < j->n_followers; i++)
            event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                          .sweep_id = j->sweep_id,
                                          .trial_id = j->followers[i].trial_id,
                                          .status = "canceled"});
        free_job(j);
        w->queued--;
        atomic_fetch_sub(&s->n_queued, 1);
    }
    for (job_t *j = s->running; j; j = j->next)
        if (j->sweep_id == c->id)
            atomic_store(&j->stop, STOP_CANCEL);
    sched_logf(s, "sweep %lld canceled: %lld queued trials dropped, %d running stopping",
               (long long)c->id, (long long)n, w->running);
    if (w->running == 0) {
        event_add(s, &(sched_event_t){.type = SCHED_EVENT_SWEEP_FINISHED,
                                      .sweep_id = c->id,
                                      .status = "canceled"});
        sweep_forget(s, c->id);
    }
    events_flush(s);
    return 0;
}

static int cmd_sweep_delete(sched_t *s, command_t *c) {
    if (sweep_find(s, c->id)) {
        set_error(&c->err, MLPT_ESTATE, "sweep %lld is still queued or running", (long long)c->id);
        return MLPT_ESTATE;
    }
    return store_sweep_delete(s->writer, c->id, &c->err);
}

static void run_commands(sched_t *s) {
    pthread_mutex_lock(&s->cmd_lock);
    command_t *c = s->cmds;
    s->cmds = s->cmds_tail = NULL;
    pthread_mutex_unlock(&s->cmd_lock);
    while (c) {
        command_t *next = c->next;
        memset(&c->err, 0, sizeof c->err);
        if (atomic_load(&s->stopping)) {
            c->err.code = c->rc = MLPT_EBUSY;
            snprintf(c->err.message, sizeof c->err.message, "the service is shutting down");
        } else {
            switch (c->type) {
            case CMD_DATASET_CREATE:
                c->rc = store_dataset_insert(s->writer, c->dataset, &c->id, &c->err);
                if (c->rc == 0)
                    sched_logf(s, "dataset %lld created: %s", (long long)c->id, c->dataset->name);
                break;
            case CMD_DATASET_DELETE:
                c->rc = cmd_dataset_delete(s, c);
                break;
            case CMD_SWEEP_CREATE:
                c->rc = cmd_sweep_create(s, c);
                break;
            case CMD_SWEEP_CANCEL:
                c->rc = cmd_sweep_cancel(s, c);
                break;
            case CMD_SWEEP_DELETE:
                c->rc = cmd_sweep_delete(s, c);
                break;
            case CMD_SET_LISTENER:
                s->listener = c->listener;
                s->listener_user = c->listener_user;
                c->rc = 0;
                break;
            }
        }
        pthread_mutex_lock(&s->cmd_lock);
        c->done = 1;
        pthread_cond_broadcast(&s->cmd_done);
        pthread_mutex_unlock(&s->cmd_lock);
        c = next;
    }
}

/* ------------------------------------------------------------------------------------------ */

static void wind_down(sched_t *s) {
    /* Stop every trial at its next mini-batch; those not yet picked up are simply dropped (they
     * are recorded as running, so the next start re-queues them). */
    for (job_t *j = s->running; j; j = j->next)
        atomic_store(&j->stop, STOP_SHUTDOWN);
    pthread_mutex_lock(&s->work_lock);
    job_t *unclaimed = s->handoff;
    s->handoff = NULL;
    pthread_mutex_unlock(&s->work_lock);
    while (unclaimed) {
        job_t *j = unclaimed;
        unclaimed = j->work_next;
        running_remove(s, j);
        free_job(j);
        s->idle_workers++;
        atomic_fetch_sub(&s->n_running, 1);
    }
    if (!s->running && !s->unsaved) {
        uv_timer_stop(&s->retry);
        close_handles(s);
    }
}

static void tick(sched_t *s) {
    process_reports(s);
    run_commands(s);
    if (atomic_load(&s->stopping))
        wind_down(s);
    else
        sched_loop_dispatch(s);
}

static void on_wake(uv_async_t *h) {
    tick(h->data);
}

static void on_retry(uv_timer_t *t) {
    tick(t->data);
}
