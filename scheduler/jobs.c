/*
 * jobs.c - the bottom of the loop's files: a job's transitions (queued -> running -> ended, or
 * dropped) with the counters they move, each written once here; the sweeps in flight; the
 * events of a tick; the executor's channel; log lines. Calls no other file of the loop.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "estimate.h"
#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

double sched_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sched_logf(sched_t *s, const char *fmt, ...) {
    if (!s->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_user, line);
}

void sched_errorf(sched_t *s, const char *fmt, ...) {
    if (!s->cfg.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_error_user ? s->cfg.log_error_user : s->cfg.log_user, line);
}

/* ------------------------------------------------------------------------------------------ */
/* The channel from the executor. */

void sched_post(void *user, sched_msg_t *r) {
    sched_t *s = user;
    r->next = NULL;
    pthread_mutex_lock(&s->report_lock);
    if (s->reports_tail)
        s->reports_tail->next = r;
    else
        s->reports = r;
    s->reports_tail = r;
    pthread_mutex_unlock(&s->report_lock);
    uv_async_send(&s->wake);
}

static double bits_double(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

report_t *sched_channel_take(sched_t *s) {
    pthread_mutex_lock(&s->report_lock);
    report_t *fresh = s->reports;
    s->reports = s->reports_tail = NULL;
    pthread_mutex_unlock(&s->report_lock);
    double flops = bits_double(atomic_load(&s->learned_flops_bits));
    double seconds = bits_double(atomic_load(&s->learned_seconds_bits));
    for (report_t *r = fresh; r; r = r->next)
        if (r->type == SCHED_MSG_ITERATION) {
            atomic_fetch_add(&s->n_iterations, 1);
            atomic_fetch_add(&s->n_samples, r->samples);
            if (r->metric.seconds > 0 && report_job(r)->iter_flops > 0) {
                flops += report_job(r)->iter_flops;
                seconds += r->metric.seconds;
            }
        }
    atomic_store(&s->learned_flops_bits, double_bits(flops));
    atomic_store(&s->learned_seconds_bits, double_bits(seconds));
    return fresh;
}

void sched_throughput(const sched_t *s, sched_throughput_t *out) {
    memset(out, 0, sizeof *out);
    out->workers = s->exec ? s->exec->slots : s->cfg.workers;
    out->calibrated_gflops = s->calibrated_gflops;
    out->learned_seconds = bits_double(atomic_load(&s->learned_seconds_bits));
    double flops = bits_double(atomic_load(&s->learned_flops_bits));
    if (out->learned_seconds > 0)
        out->learned_gflops = flops / out->learned_seconds / 1e9;
    out->learned = out->learned_seconds >= SCHED_LEARNED_MIN_SECONDS && out->learned_gflops > 0;
    out->gflops_per_worker = out->learned ? out->learned_gflops : out->calibrated_gflops;
}

/* ------------------------------------------------------------------------------------------ */
/* Sweeps in flight and events. */

sweep_state_t *sched_sweep_find(sched_t *s, int64_t id) {
    for (sweep_state_t *w = s->sweeps; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

sweep_state_t *sched_sweep_get(sched_t *s, int64_t id) {
    sweep_state_t *w = sched_sweep_find(s, id);
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->id = id;
    w->partitions = s->default_partitions;
    w->ranks = SCHED_RANKS_DEFAULT;
    w->next = s->sweeps;
    s->sweeps = w;
    return w;
}

static void sweep_free(sweep_state_t *w) {
    if (w->strategy && w->strategy->ops->free)
        w->strategy->ops->free(w->strategy);
    free(w);
}

void sched_sweep_forget(sched_t *s, int64_t id) {
    for (sweep_state_t **p = &s->sweeps; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            sweep_state_t *w = *p;
            *p = w->next;
            sweep_free(w);
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

static void job_free(job_t *j) {
    if (!j)
        return;
    if (j->parked_msg) {
        free(j->parked_msg->model_path);
        free(j->parked_msg->model);
        free(j->parked_msg);
    }
    free(j->resume.state);
    free(j->stored);
    free(j->followers);
    free(j->exec_followers);
    free(j->dataset_path);
    free(j->test_path);
    free(j);
}

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

/* Trial cost: GEMM FLOPs over all its iterations, from the dataset's recorded shape; *iter
 * receives one iteration's, validation included. */
static double trial_cost(sched_t *s, int64_t dataset_id, const sched_params_t *p, double *iter) {
    store_error_t err;
    store_dataset_shape_t d;
    *iter = 0.0;
    if (store_dataset_shape(s->writer, dataset_id, &d, &err) != 0)
        return 0.0;
    size_t classes = d.classes > 0 ? (size_t)d.classes : 0;
    trainer_arch_t arch;
    sched_params_arch(p, (size_t)d.features, classes < 2 ? 2 : classes, &arch);
    double n_train = (double)d.rows * (1.0 - p->validation_split);
    *iter = sched_estimate_iteration_flops(
        p, &(sched_estimate_shape_t){.rows = d.rows > 0 ? (size_t)d.rows : 0,
                                     .features = d.features > 0 ? (size_t)d.features : 0,
                                     .classes = classes});
    return trainer_arch_train_flops(&arch, (size_t)n_train) * (double)p->iterations;
}

/* Before: earlier sweeps first, then the costlier trial (the cheaper one in a sweep that wants
 * it: sweep_state_t.cheap_first), then the lower id. */
static int job_before(const job_t *a, const job_t *b, int cheap_first) {
    if (a->sweep_id != b->sweep_id)
        return a->sweep_id < b->sweep_id;
    if (a->continuing != b->continuing) /* past a rung first, as ASHA promotes */
        return a->continuing;
    if (a->cost != b->cost)
        return cheap_first ? a->cost < b->cost : a->cost > b->cost;
    return a->trial_id < b->trial_id;
}

static void queue_insert(sched_t *s, job_t *j) {
    const sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    int cheap_first = w && w->cheap_first;
    job_t **pos = &s->queue;
    while (*pos && job_before(*pos, j, cheap_first))
        pos = &(*pos)->next;
    j->next = *pos;
    *pos = j;
}

static void list_remove(job_t **list, job_t *j) {
    for (job_t **p = list; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static int no_memory(store_error_t *err) {
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = MLPT_ENOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    return MLPT_ENOMEM;
}

int sched_job_enqueue(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                      const sched_queued_trial_t *lead, const sched_queued_trial_t *followers,
                      size_t n_followers, store_error_t *err) {
    job_t *j = calloc(1, sizeof *j);
    sweep_state_t *w = sched_sweep_get(s, sweep_id);
    if (!j || !w || (n_followers && !(j->followers = calloc(n_followers, sizeof *j->followers)))) {
        job_free(j);
        return no_memory(err);
    }
    j->trial_id = lead->trial_id;
    j->sweep_id = sweep_id;
    j->dataset_id = dataset_id;
    j->test_dataset_id = test_dataset_id;
    j->params = lead->params;
    j->partitions = lead->partitions;
    j->ranks = lead->ranks;
    for (size_t i = 0; i < n_followers; i++)
        j->followers[i] = (follower_t){.trial_id = followers[i].trial_id,
                                       .iterations = followers[i].params.iterations};
    j->n_followers = n_followers;
    j->dataset_path = dataset_file(s, dataset_id, err);
    if (!j->dataset_path ||
        (test_dataset_id && !(j->test_path = dataset_file(s, test_dataset_id, err)))) {
        int rc = err ? err->code : MLPT_ENOTFOUND;
        job_free(j);
        return rc ? rc : MLPT_ENOTFOUND;
    }
    j->cost = trial_cost(s, dataset_id, &lead->params, &j->iter_flops);
    queue_insert(s, j);
    w->queued++;
    atomic_fetch_add(&s->n_queued, 1);
    return 0;
}

void sched_job_start(sched_t *s, job_t *j) {
    sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    if (w) {
        w->queued--;
        w->running++;
    }
    list_remove(&s->queue, j);
    j->next = s->running;
    s->running = j;
    s->idle_workers -= j->held > 0 ? j->held : 1;
    atomic_fetch_sub(&s->n_queued, 1);
    atomic_fetch_add(&s->n_running, 1);
}

void sched_job_unstart(sched_t *s, job_t *j) {
    list_remove(&s->running, j);
    queue_insert(s, j);
    sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    if (w) {
        w->queued++;
        w->running--;
    }
    s->idle_workers += j->held > 0 ? j->held : 1;
    atomic_fetch_add(&s->n_queued, 1);
    atomic_fetch_sub(&s->n_running, 1);
}

void sched_job_end(sched_t *s, job_t *j, int recorded) {
    sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    if (w) {
        w->running--;
        if (recorded)
            w->ending--;
        /* Nothing left: it is over, unless its strategy may still add trials after hearing
         * of this end (then the reports decide, after the strategy has had its say). */
        const sched_strategy_t *st = w->strategy;
        int more = !w->finishing && !w->canceled && st && st->ops->exhausted &&
                   !st->ops->exhausted(w->strategy) && !atomic_load(&s->stopping);
        if (w->queued == 0 && w->running == 0 && !more)
            sched_sweep_forget(s, j->sweep_id);
    }
    list_remove(&s->running, j);
    j->next = s->ended; /* freed by sched_jobs_reap: its reports may still point at it */
    s->ended = j;
    if (!j->parked) /* a parked job gave its slot back when it paused */
        s->idle_workers += j->held > 0 ? j->held : 1;
    atomic_fetch_sub(&s->n_running, 1);
    if (recorded)
        atomic_fetch_add(&s->n_finished, 1);
}

void sched_data_file_remove(sched_t *s, const char *rel) {
    size_t n = strlen(s->data_dir) + strlen(rel) + 2;
    char *abs = malloc(n);
    if (abs) {
        snprintf(abs, n, "%s/%s", s->data_dir, rel);
        unlink(abs);
    }
    free(abs);
}

/* Drops a parked job's END of its pause (it went on: its next END replaces it), with the model
 * file no row names. */
static void parked_msg_drop(sched_t *s, job_t *j) {
    sched_msg_t *m = j->parked_msg;
    j->parked_msg = NULL;
    if (!m)
        return;
    if (m->model_path)
        sched_data_file_remove(s, m->model_path);
    free(m->model_path);
    free(m->model);
    free(m);
}

void sched_job_park(sched_t *s, job_t *j, sched_msg_t *msg) {
    parked_msg_drop(s, j);
    sched_msg_t *end = malloc(sizeof *end);
    if (end) { /* the same END, taking its model; without memory a bare one is made later */
        *end = *msg;
        end->next = NULL;
        end->paused = end->parking = end->model_stored = end->final_stored = 0;
        end->final_checkpoint_path = NULL; /* stored as the trial's checkpoint, msg's to free */
        msg->model_path = NULL;
        msg->model = NULL;
        msg->model_len = 0;
    }
    j->parked = 1;
    j->parked_msg = end;
    s->idle_workers += j->held > 0 ? j->held : 1;
}

void sched_job_unpark(sched_t *s, job_t *j) {
    parked_msg_drop(s, j);
    list_remove(&s->running, j);
    j->parked = 0;
    j->continuing = 1;
    j->held = 0;
    queue_insert(s, j);
    sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    if (w) {
        w->queued++;
        w->running--;
    }
    atomic_fetch_add(&s->n_queued, 1);
    atomic_fetch_sub(&s->n_running, 1);
}

/* A parked job's END, as its executor would have posted it had the stop come while it ran. */
static void parked_end(sched_t *s, job_t *j) {
    sched_msg_t *m = j->parked_msg;
    if (j->parked_ended || (!m && !(m = calloc(1, sizeof *m))))
        return; /* without memory it stays parked: it resumes at the next start */
    if (!j->parked_msg) {
        m->type = SCHED_MSG_END;
        m->tag = j;
        m->best_val_accuracy = m->final_val_accuracy = m->test_accuracy = NAN;
    }
    m->rc = MLPT_ESTOPPED;
    j->parked_msg = NULL;
    j->parked_ended = 1;
    sched_post(s, m);
}

void sched_jobs_reap(sched_t *s) {
    while (s->ended) {
        job_t *j = s->ended;
        s->ended = j->next;
        job_free(j);
    }
}

void sched_job_drop(sched_t *s, job_t *j) {
    sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
    if (w)
        w->queued--;
    list_remove(&s->queue, j);
    job_free(j);
    atomic_fetch_sub(&s->n_queued, 1);
}

void sched_job_stop(sched_t *s, job_t *j, sched_stop_reason_t why) {
    if (j->stop == SCHED_STOP_NONE || why == SCHED_STOP_CANCEL || why == SCHED_STOP_SHUTDOWN)
        j->stop = why;
    if (j->parked)
        parked_end(s, j);
    else
        sched_exec_stop(s->exec, j, why);
}

void sched_jobs_stop_all(sched_t *s) {
    for (job_t *j = s->running; j; j = j->next) {
        j->stop = SCHED_STOP_SHUTDOWN;
        if (j->parked)
            parked_end(s, j);
    }
    sched_exec_stop_all(s->exec, SCHED_STOP_SHUTDOWN);
}

job_t *sched_job_running(sched_t *s, int64_t trial_id) {
    for (job_t *j = s->running; j; j = j->next) {
        if (j->trial_id == trial_id)
            return j;
        for (size_t i = 0; i < j->n_followers; i++)
            if (j->followers[i].trial_id == trial_id)
                return j;
    }
    return NULL;
}

void sched_followers_settle(sched_t *s, int committed) {
    for (job_t *j = s->running; j; j = j->next)
        for (size_t i = 0; i < j->n_followers; i++) {
            if (committed && j->followers[i].pending)
                j->followers[i].done = 1;
            j->followers[i].pending = 0;
        }
}

void sched_jobs_free(sched_t *s) {
    while (s->queue) {
        job_t *j = s->queue;
        s->queue = j->next;
        job_free(j);
    }
    while (s->running) { /* only when the executor could not be waited for */
        job_t *j = s->running;
        s->running = j->next;
        job_free(j);
    }
    sched_jobs_reap(s);
    while (s->sweeps) {
        sweep_state_t *w = s->sweeps;
        s->sweeps = w->next;
        sweep_free(w);
    }
    free(s->events);
    s->events = NULL;
}
