/*
 * loop.c - the loop thread's work on each wake-up: look at the database file, persist what the
 * executor reported in one transaction and send the events, run the commands of other threads,
 * hand queued jobs to the executor's free slots, and, when stopping, wind everything down.
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

static void on_wake(uv_async_t *h);
static void on_retry(uv_timer_t *t);
static void on_watch(uv_timer_t *t);

/* Wakes the loop again in a second (after a failed transaction). */
static void retry_later(sched_t *s) {
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

/* ------------------------------------------------------------------------------------------ */
/* Dispatch. */

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
    /* A follower with fewer rows than the checkpoint covers (a trial extended after it ended,
     * now following a longer one that kept its final state) would miss the rows between: the
     * run starts from iteration 1 so every trial of the job gets its own. */
    for (size_t i = 0; i < j->n_followers && rc == 0 && j->resume.state; i++)
        if ((int64_t)j->followers[i].stored < j->resume.iteration) {
            sched_logf(s,
                       "trial %lld: trial %lld follows it with %zu rows, fewer than its "
                       "checkpoint covers; recomputing from iteration 1",
                       (long long)j->trial_id, (long long)j->followers[i].trial_id,
                       j->followers[i].stored);
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

/* "sync_every": "auto" for job j across `ranks` ranks (ranks.h): from its model's bytes, the
 * FLOPs of a mini-batch, a rank's throughput (configured, else a guess) and the link. */
static size_t auto_interval(sched_t *s, const job_t *j, size_t ranks) {
    store_error_t err;
    store_dataset_shape_t d;
    if (store_dataset_shape(s->writer, j->dataset_id, &d, &err) != 0)
        return 1;
    trainer_arch_t arch;
    size_t classes = d.classes > 2 ? (size_t)d.classes : 2;
    sched_params_arch(&j->params, (size_t)d.features, classes, &arch);
    double share = (double)d.rows * (1.0 - j->params.validation_split) / (double)ranks;
    const sched_config_t *c = &s->cfg;
    /* The link: the configuration's, else the slowest rank 0 measured at start-up (its link to
     * each rank stands for the links between them), else the guess. */
    double bandwidth = 0.0, latency = 0.0;
    for (int r = 1; s->exec->ranks && r < s->exec->n_ranks; r++) {
        const sched_exec_rank_t *x = &s->exec->ranks[r];
        if (x->bytes_per_second > 0 && (bandwidth == 0.0 || x->bytes_per_second < bandwidth))
            bandwidth = x->bytes_per_second;
        if (x->latency_seconds > latency)
            latency = x->latency_seconds;
    }
    if (c->link_bandwidth > 0)
        bandwidth = c->link_bandwidth;
    if (c->link_latency > 0)
        latency = c->link_latency;
    sched_sync_cost_t cost = {.model_bytes = 4.0 * (double)trainer_arch_param_count(&arch),
                              .batch_flops = trainer_arch_train_flops(&arch, j->params.batch_size),
                              .gflops = c->rank_gflops > 0 ? c->rank_gflops : SCHED_GUESS_GFLOPS,
                              .bandwidth = bandwidth > 0 ? bandwidth : SCHED_GUESS_BANDWIDTH,
                              .latency = latency > 0 ? latency : SCHED_GUESS_LATENCY,
                              .ranks = ranks,
                              .batches = (size_t)ceil(share / (double)j->params.batch_size)};
    return sched_sync_every_auto(&cost);
}

/* Decides job j's "auto" rank count and interval as it first starts (ranks.h), with `queued`
 * jobs waiting (itself included), into j->decided. Idle ranks: the executor's idle slots over
 * its slots per rank. */
static void decide_ranks(sched_t *s, job_t *j, size_t queued) {
    sched_ranks_t r = j->ranks;
    int xr = s->exec->n_ranks > 1 ? s->exec->n_ranks : 1;
    int group = s->exec->group_ranks > 1 ? s->exec->group_ranks : 1;
    if (r.ranks == 0) {
        size_t idle = sched_ranks_idle(s->idle_workers, s->exec->slots, xr);
        r.ranks = sched_ranks_auto(queued, idle ? idle : 1, (size_t)group);
    }
    if (r.ranks > 1 && r.sync_every == 0)
        r.sync_every = auto_interval(s, j, r.ranks);
    j->decided = r;
}

/* Records what decide_ranks decided, when it decided anything, in the params of j's trial and
 * followers (inside the dispatch's transaction), so a resume uses the same. */
static int record_ranks(sched_t *s, const job_t *j, store_error_t *err) {
    sched_ranks_t r = j->decided;
    if (r.ranks == j->ranks.ranks && r.sync_every == j->ranks.sync_every)
        return 0;
    int rc = 0;
    for (size_t i = 0; i <= j->n_followers && rc == 0; i++) {
        sched_params_t p = j->params;
        int64_t id = j->trial_id;
        if (i < j->n_followers) {
            p.iterations = j->followers[i].iterations;
            id = j->followers[i].trial_id;
        }
        char *text = sched_trial_spec_json(&p, j->partitions, &r);
        rc = text ? store_trial_set_params(s->writer, id, text, err) : MLPT_ENOMEM;
        free(text);
    }
    if (rc == 0)
        sched_logf(s, "trial %lld: across %zu rank%s, averaging every %zu mini-batches",
                   (long long)j->trial_id, r.ranks, r.ranks == 1 ? "" : "s",
                   r.ranks > 1 ? r.sync_every : 0);
    return rc;
}

/* The job as its executor sees it; its pointers stay valid until the job's END. */
static int submit(sched_t *s, job_t *j) {
    free(j->exec_followers);
    j->exec_followers = NULL;
    if (j->n_followers && !(j->exec_followers = calloc(j->n_followers, sizeof *j->exec_followers)))
        return MLPT_ENOMEM;
    for (size_t i = 0; i < j->n_followers; i++)
        j->exec_followers[i] = (sched_exec_follower_t){.trial_id = j->followers[i].trial_id,
                                                       .iterations = j->followers[i].iterations};
    sched_exec_job_t x = {.tag = j,
                          .trial_id = j->trial_id,
                          .params = j->params,
                          .partitions = j->partitions,
                          .ranks = j->decided.ranks,
                          .sync_every = j->decided.sync_every,
                          .followers = j->exec_followers,
                          .n_followers = j->n_followers,
                          .dataset = {j->dataset_id, j->dataset_path},
                          .test = {j->test_dataset_id, j->test_path},
                          .resume = &j->resume,
                          .stored = j->stored,
                          .n_stored = j->n_stored,
                          .pause_at = j->pause_at > 0 ? (size_t)j->pause_at : 0};
    return sched_exec_submit(s->exec, &x);
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
    job_t **handed = NULL;
    size_t n_handed = 0, queued = 0;
    for (const job_t *q = s->queue; q; q = q->next)
        queued++;
    while (s->queue && s->idle_workers > 0) {
        job_t *j = s->queue;
        job_t **tmp = realloc(handed, (n_handed + 1) * sizeof *tmp);
        if (!tmp)
            break;
        handed = tmp;
        decide_ranks(s, j, queued--);
        j->held = sched_ranks_slots(j->decided.ranks, s->exec->slots, s->exec->n_ranks,
                                    s->exec->group_ranks);
        /* A job across ranks holds their slots (their other workers help it); until they are
         * all free it waits, and the jobs behind it too (largest first). */
        if (j->held > s->idle_workers) {
            j->held = 0;
            break;
        }
        if (resume_point(s, j, &err) != 0) {
            sched_logf(s, "trial %lld: cannot read its checkpoint or rows: %s",
                       (long long)j->trial_id, err.message);
            break;
        }
        if (record_ranks(s, j, &err) != 0) {
            sched_logf(s, "trial %lld: cannot record its ranks: %s", (long long)j->trial_id,
                       err.message);
            break;
        }
        j->pause_at = sched_search_gate(s, j->sweep_id, j->trial_id,
                                        j->resume.state ? j->resume.iteration : 0);
        /* one going on from a pause is running in the store already */
        if (!j->continuing && store_trial_start(s->writer, j->trial_id, now, &err) != 0) {
            sched_logf(s, "trial %lld: cannot start: %s", (long long)j->trial_id, err.message);
            break;
        }
        sweep_state_t *w = sched_sweep_find(s, j->sweep_id);
        if (w && w->queued + w->running > 0 && w->running == 0)
            store_sweep_set_status(s->writer, j->sweep_id, "running", now, NULL, &err);
        sched_job_start(s, j);
        handed[n_handed++] = j;
        if (!j->continuing)
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
        for (size_t i = 0; i < n_handed; i++)
            sched_job_unstart(s, handed[i]);
        free(handed);
        retry_later(s);
        return;
    }
    if (!s->unsaved)
        atomic_store(&s->db_error, 0);    /* the database takes writes again */
    for (size_t i = 0; i < n_handed; i++) /* recorded: what they run with is their spec now */
        handed[i]->ranks = handed[i]->decided;
    for (size_t i = 0; i < n_handed; i++)
        if (submit(s, handed[i]) != 0) {
            /* Recorded as running: it ends like a job stopped by a shutdown, and the next
             * start re-queues it. Without memory nothing better can be done here. */
            sched_logf(s, "trial %lld: the executor cannot take it",
                       (long long)handed[i]->trial_id);
            sched_job_end(s, handed[i], 0);
        }
    free(handed);
    sched_jobs_reap(s);
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
    /* Stop every trial at its next mini-batch; those not yet started end at once, unrecorded
     * (they are recorded as running, so the next start re-queues them). Once. */
    if (!s->stop_sent) {
        s->stop_sent = 1;
        sched_jobs_stop_all(s);
    }
    if (s->unsaved && sched_now() - s->stop_since > STOP_SAVE_SECONDS) {
        size_t done = 0, running = 0;
        for (const report_t *r = s->unsaved; r; r = r->next)
            done += r->type == REPORT_DONE;
        for (const job_t *j = s->running; j; j = j->next)
            running++;
        if (done == running) { /* every job has ended: only the database holds us */
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
        if (sched_loop_reports(s) != 0)
            retry_later(s);
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
