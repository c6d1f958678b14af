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

double sched_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_wake(uv_async_t *h);
static void on_retry(uv_timer_t *t);
static void on_watch(uv_timer_t *t);

void sched_loop_retry_later(sched_t *s) {
    uv_timer_start(&s->retry, on_retry, 1000, 0);
}

int sched_loop_init(sched_t *s) {
    if (uv_loop_init(&s->loop) != 0)
        return -1;
    s->wake.data = s;
    s->retry.data = s;
    s->watch.data = s;
    if (uv_async_init(&s->loop, &s->wake, on_wake) != 0 ||
        uv_timer_init(&s->loop, &s->retry) != 0 || uv_timer_init(&s->loop, &s->watch) != 0) {
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
    uv_close((uv_handle_t *)&s->watch, NULL);
}

void sched_loop_watch_start(sched_t *s) {
    uv_timer_start(&s->watch, on_watch, SCHED_WATCH_MS, SCHED_WATCH_MS);
}

void sched_loop_close(sched_t *s) {
    close_handles(s);
    uv_run(&s->loop, UV_RUN_NOWAIT); /* lets the close callbacks run */
    uv_loop_close(&s->loop);
}

void sched_job_free(job_t *j) {
    if (!j)
        return;
    free(j->resume.state);
    free(j->stored);
    free(j->followers);
    free(j->dataset_path);
    free(j->test_path);
    free(j);
}

void sched_loop_free_jobs(sched_t *s) {
    while (s->queue) {
        job_t *j = s->queue;
        s->queue = j->next;
        sched_job_free(j);
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

sweep_state_t *sched_sweep_find(sched_t *s, int64_t id) {
    for (sweep_state_t *w = s->sweeps; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

static sweep_state_t *sweep_get(sched_t *s, int64_t id) {
    sweep_state_t *w = sched_sweep_find(s, id);
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

void sched_sweep_forget(sched_t *s, int64_t id) {
    for (sweep_state_t **p = &s->sweeps; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            sweep_state_t *w = *p;
            *p = w->next;
            free(w);
            return;
        }
}

void sched_event_add(sched_t *s, const sched_event_t *ev) {
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

void sched_events_flush(sched_t *s) {
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
    store_dataset_shape_t d;
    if (store_dataset_shape(s->writer, dataset_id, &d, &err) != 0)
        return 0.0;
    size_t classes = d.classes > 0 ? (size_t)d.classes : 0;
    trainer_arch_t arch;
    sched_params_arch(p, (size_t)d.features, classes < 2 ? 2 : classes, &arch);
    double n_train = (double)d.rows * (1.0 - p->validation_split);
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
           x.scaling == b->scaling && x.init == b->init && x.seed == b->seed;
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
        sched_job_free(j);
        return rc ? rc : MLPT_ENOTFOUND;
    }
    j->cost = trial_cost(s, dataset_id, p);
    queue_insert(s, j);
    w->queued++;
    atomic_fetch_add(&s->n_queued, 1);
    return 0;
}

/* Where a job starts: its checkpoint, or iteration 1. Either way the rows its trials already
 * have stay (a client may have read them): the worker recomputes those iterations and checks
 * them against the job's rows, and the reports write only the rows past what each trial has. */
static int resume_point(sched_t *s, job_t *j, store_error_t *err) {
    free(j->resume.state);
    memset(&j->resume, 0, sizeof j->resume);
    free(j->stored);
    j->stored = NULL;
    j->n_stored = 0;
    int rc = store_checkpoint_get(s->writer, j->trial_id, &j->resume, err);
    if (rc == MLPT_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = store_trial_rows(s->writer, j->trial_id, &j->stored, &j->n_stored, err);
    for (size_t i = 0; i < j->n_followers && rc == 0; i++) {
        store_metric_t *rows = NULL;
        rc = store_trial_rows(s->writer, j->followers[i].trial_id, &rows, &j->followers[i].stored,
                              err);
        free(rows);
    }
    if (rc == 0 && j->resume.state && j->resume.iteration > (int64_t)j->n_stored) {
        /* Recovery drops such a checkpoint; resuming from it would leave a gap in the history. */
        sched_logf(s,
                   "trial %lld: its checkpoint covers %lld iterations but it has %zu rows; "
                   "recomputing from iteration 1",
                   (long long)j->trial_id, (long long)j->resume.iteration, j->n_stored);
        free(j->resume.state);
        memset(&j->resume, 0, sizeof j->resume);
    }
    if (rc == 0 && (int64_t)j->n_stored > j->resume.iteration)
        sched_logf(s,
                   "trial %lld: resumes after iteration %lld; iterations %lld..%zu are stored: "
                   "they are recomputed and checked, not written again",
                   (long long)j->trial_id, (long long)j->resume.iteration,
                   (long long)j->resume.iteration + 1, j->n_stored);
    return rc;
}

void sched_loop_dispatch(sched_t *s) {
    if (atomic_load(&s->stopping) || atomic_load(&s->db_lost) || !s->queue || s->idle_workers == 0)
        return;
    store_error_t err;
    if (store_begin(s->writer, &err) != 0) {
        sched_logf(s, "dispatch: %s", err.message);
        return;
    }
    double now = sched_now();
    job_t *handed = NULL, **tail = &handed;
    while (s->queue && s->idle_workers > 0) {
        job_t *j = s->queue;
        if (resume_point(s, j, &err) != 0) {
            sched_logf(s, "trial %lld: cannot read its checkpoint or rows: %s",
                       (long long)j->trial_id, err.message);
            break;
        }
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
        sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_STARTED,
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
            sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_STARTED,
                                                .sweep_id = j->sweep_id,
                                                .trial_id = f->trial_id,
                                                .status = "running"});
        }
    }
    if (store_commit(s->writer, &err) != 0) {
        /* Nothing was recorded: put the jobs back and try again on the next wake-up. */
        sched_logf(s, "dispatch: commit failed: %s", err.message);
        atomic_store(&s->db_error, err.code ? err.code : MLPT_EDB); /* unhealthy until a save */
        store_rollback(s->writer);
        s->n_events = 0;
        for (job_t *j = handed; j; j = j->work_next) {
            for (job_t **p = &s->running; *p; p = &(*p)->next)
                if (*p == j) {
                    *p = j->next;
                    break;
                }
            queue_insert(s, j);
            sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
            if (w) {
                w->queued++;
                w->running--;
            }
            s->idle_workers++;
            atomic_fetch_add(&s->n_queued, 1);
            atomic_fetch_sub(&s->n_running, 1);
        }
        sched_loop_retry_later(s);
        return;
    }
    if (!s->unsaved)
        atomic_store(&s->db_error, 0); /* the database takes writes again */
    if (handed) {
        pthread_mutex_lock(&s->work_lock);
        job_t **end = &s->handoff;
        while (*end)
            end = &(*end)->work_next;
        *end = handed;
        atomic_store(&s->jobs_waiting, 1);
        pthread_cond_broadcast(&s->work_ready);
        pthread_mutex_unlock(&s->work_lock);
    }
    for (size_t i = 0; i < s->n_events; i++)
        sched_logf(s, "trial %lld started (sweep %lld)", (long long)s->events[i].trial_id,
                   (long long)s->events[i].sweep_id);
    sched_events_flush(s);
}

/* ------------------------------------------------------------------------------------------ */

/* How long a stop keeps retrying reports the database refuses before letting them go. */
#define STOP_SAVE_SECONDS 10.0

static void wind_down(sched_t *s) {
    if (s->stop_since == 0.0)
        s->stop_since = sched_now();
    /* Stop every trial at its next mini-batch; those not yet picked up are simply dropped (they
     * are recorded as running, so the next start re-queues them). */
    for (job_t *j = s->running; j; j = j->next)
        atomic_store(&j->stop, STOP_SHUTDOWN);
    pthread_mutex_lock(&s->work_lock);
    job_t *unclaimed = s->handoff;
    s->handoff = NULL;
    atomic_store(&s->jobs_waiting, 0);
    pthread_mutex_unlock(&s->work_lock);
    while (unclaimed) {
        job_t *j = unclaimed;
        unclaimed = j->work_next;
        sched_running_remove(s, j);
        sched_job_free(j);
        s->idle_workers++;
        atomic_fetch_sub(&s->n_running, 1);
    }
    if (s->unsaved && sched_now() - s->stop_since > STOP_SAVE_SECONDS) {
        size_t done = 0, running = 0;
        for (const report_t *r = s->unsaved; r; r = r->next)
            done += r->type == REPORT_DONE;
        for (const job_t *j = s->running; j; j = j->next)
            running++;
        if (done == running) { /* every worker has ended: only the database holds us */
            sched_logf(s,
                       "stopping: %llu reports could not be saved in %.0f s and are dropped; "
                       "their trials resume from their last saved checkpoint",
                       (unsigned long long)atomic_load(&s->n_unsaved), STOP_SAVE_SECONDS);
            sched_loop_abandon_unsaved(s);
        }
    }
    if (!s->running && !s->unsaved) {
        uv_timer_stop(&s->retry);
        close_handles(s);
    }
}

static void tick(sched_t *s) {
    int lost = sched_loop_watch(s); /* before anything is written */
    if (!lost) {
        sched_loop_reports(s);
        sched_loop_commands(s);
    }
    if (atomic_load(&s->stopping))
        wind_down(s);
    else if (!lost)
        sched_loop_dispatch(s);
}

static void on_wake(uv_async_t *h) {
    tick(h->data);
}

static void on_retry(uv_timer_t *t) {
    tick(t->data);
}

static void on_watch(uv_timer_t *t) {
    tick(t->data);
}
