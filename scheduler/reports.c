/*
 * reports.c - what the executor reported since the last wake-up, saved in one transaction:
 * metric rows (also for the trials that follow a job's shared prefix), trial and sweep ends;
 * once the commit succeeded, the events go out, the sweeps' strategies hear of what was saved
 * (search.c) and the jobs that ended end (jobs.c). Loop thread only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"
#include "save_class.h"
#include "train.h"

/* ------------------------------------------------------------------------------------------ */
/* Reports from workers: one transaction for everything that arrived since the last wake-up. */

/* Decides a finished sweep's status from its trials' states, records it, queues the event. */
static int sweep_finalize(sched_t *s, sweep_state_t *w, double now, store_error_t *err) {
    const char *status = "completed";
    if (w->canceled) {
        status = "canceled"; /* already recorded when the cancel came */
    } else {
        store_sweep_info_t sw;
        int rc = store_sweep_info(s->writer, w->id, &sw, err);
        if (rc != 0)
            return rc;
        int64_t failed = sw.trials[STORE_TRIAL_FAILED], total = sw.trials_total;
        if (total > 0 && failed == total)
            status = "failed";
        rc = store_sweep_set_status(s->writer, w->id, status, now,
                                    failed == total ? "every trial failed" : NULL, err);
        if (rc != 0)
            return rc;
    }
    w->finishing = 1;
    sched_event_add(
        s,
        &(sched_event_t){.type = SCHED_EVENT_SWEEP_FINISHED, .sweep_id = w->id, .status = status});
    return 0;
}

static const char *trial_status(const report_t *r) {
    if (report_job(r)->save_error[0]) /* a report of it could never be saved */
        return "failed";
    switch (r->rc) {
    case 0:
        return "completed";
    case MLPT_EDIVERGED:
        return "diverged";
    case MLPT_ESTOPPED: /* why the loop asked for it; a shutdown's stays running */
        switch (report_job(r)->stop) {
        case SCHED_STOP_CANCEL:
            return "canceled";
        case SCHED_STOP_PRUNED:
            return "pruned";
        case SCHED_STOP_EARLY:
            return "completed";
        case SCHED_STOP_STOPPED:
            return "stopped";
        default:
            return NULL;
        }
    default:
        return "failed";
    }
}

/* Followers still waiting for rows or their end. */
static int follower_open(const follower_t *f) {
    return !f->done && !f->pending;
}

/* Records a follower's end in the open transaction and queues its event. */
static int follower_finish(sched_t *s, job_t *j, follower_t *f, const store_trial_end_t *end,
                           store_error_t *err) {
    int rc = store_trial_finish(s->writer, f->trial_id, end, err);
    if (rc != 0)
        return rc;
    f->pending = 1;
    sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                        .sweep_id = j->sweep_id,
                                        .trial_id = f->trial_id,
                                        .status = end->status});
    return 0;
}

/* Whether a trial of the job gets this iteration's row: it is open and that long, and the row is
 * new to it. A row it already had (stored before a restart, recomputed and checked by the
 * worker) is neither written again nor announced again: clients saw it before. */
static int takes_row(const report_t *r, size_t length, size_t stored) {
    return length >= (size_t)r->metric.iteration && stored < (size_t)r->metric.iteration;
}

/* One iteration of a job: its row, the same row for every follower that is that long, and the
 * end of the follower whose last iteration it is. */
static int save_epoch(sched_t *s, report_t *r, double now, store_error_t *err) {
    job_t *j = report_job(r);
    if (r->after_failure) /* its trial has failed: its history ends where saving did */
        return 0;
    store_metric_t rows[1 + 16];
    size_t n = 0;
    int lead = takes_row(r, j->params.iterations, j->n_stored);
    if (lead)
        rows[n++] = r->metric;
    int rc = 0;
    for (size_t i = 0; i < j->n_followers && rc == 0; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f) || !takes_row(r, f->iterations, f->stored))
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
    if (lead)
        sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_ITERATION,
                                            .sweep_id = j->sweep_id,
                                            .trial_id = j->trial_id,
                                            .status = "running",
                                            .metric = r->metric});
    for (size_t i = 0; i < j->n_followers; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f) || !takes_row(r, f->iterations, f->stored))
            continue;
        store_metric_t m = r->metric;
        m.trial_id = f->trial_id;
        sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_ITERATION,
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
                                 .model_path = r->model_path,
                                 .model = r->model,
                                 .model_len = r->model_len,
                                 .now = now};
        rc = follower_finish(s, j, f, &end, err);
        if (rc != 0)
            return rc;
        r->model_stored = r->model_path != NULL;
    }
    return 0;
}

/* What went wrong with a report's trial: a save that can never succeed, else the worker's, else
 * why its strategy stopped it. */
static const char *report_error(const report_t *r) {
    if (report_job(r)->save_error[0])
        return report_job(r)->save_error;
    if (r->error[0])
        return r->error;
    return r->type == REPORT_DONE && r->rc == MLPT_ESTOPPED && report_job(r)->stop_note[0]
               ? report_job(r)->stop_note
               : NULL;
}

/* The job ended before some of its followers did: they end the same way, with its figures
 * (cut short by the same cancel, divergence or failure at the same iteration). */
static int end_followers(sched_t *s, report_t *r, const char *status, double now,
                         store_error_t *err) {
    job_t *j = report_job(r);
    for (size_t i = 0; i < j->n_followers; i++) {
        follower_t *f = &j->followers[i];
        if (!follower_open(f))
            continue;
        store_trial_end_t end = {.status = status,
                                 .best_val_accuracy = r->best_val_accuracy,
                                 .final_val_accuracy = r->final_val_accuracy,
                                 .test_accuracy = NAN,
                                 .best_iteration = r->best_iteration,
                                 .error = report_error(r),
                                 .now = now};
        int rc = follower_finish(s, j, f, &end, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A job's checkpoint, after the rows it covers have committed (in this batch's first transaction
 * or an earlier one, or stored before a restart). Its followers still running keep the same
 * history on a restart. */
static int save_checkpoint(sched_t *s, report_t *r, store_error_t *err) {
    job_t *j = report_job(r);
    int64_t also[64];
    size_t n = 0;
    if (r->after_failure)
        return 0;
    for (size_t i = 0; i < j->n_followers && n < sizeof also / sizeof also[0]; i++)
        if (!j->followers[i].done)
            also[n++] = j->followers[i].trial_id;
    if (n < j->n_followers && n == sizeof also / sizeof also[0])
        return 0; /* too many followers to note: keep the previous checkpoint */
    int rc =
        r->model_path
            ? store_checkpoint_put_file(s->writer, j->trial_id, (int64_t)r->checkpoint_iteration,
                                        r->model_path, also, n, err)
            : store_checkpoint_put(s->writer, j->trial_id, (int64_t)r->checkpoint_iteration,
                                   r->model, r->model_len, also, n, err);
    if (rc == 0)
        r->model_stored = r->model_path != NULL;
    return rc;
}

/* Where a job runs. Only a note: one that can never be stored (its trial has ended already,
 * or a value is refused) is dropped with a log line; the trial goes on. What concerns the
 * whole database (busy, full, I/O) keeps the batch for the retry, like any report. */
static int save_placement(sched_t *s, report_t *r, store_error_t *err) {
    job_t *j = report_job(r);
    if (r->after_failure)
        return 0;
    store_placement_t where = {.rank = r->placement_rank, .workers = r->placement_workers};
    memcpy(where.host, r->placement_host, sizeof where.host);
    where.host[sizeof where.host - 1] = '\0';
    int rc = store_trial_set_placement(s->writer, j->trial_id, &where, err);
    if (rc != 0 && sched_save_classify(err) == SCHED_SAVE_PERMANENT) {
        sched_logf(s, "trial %lld: its placement is not recorded: %s", (long long)j->trial_id,
                   err->message);
        return 0;
    }
    return rc;
}

/* A job paused at its gate: its state at the pause becomes its trial's checkpoint (it goes on
 * from there, here or after a restart: without it, from its previous checkpoint); its trial
 * stays running, and the job parks after the commit (apply_report). */
static int save_pause(sched_t *s, report_t *r) {
    job_t *j = report_job(r);
    if (r->final_checkpoint_path) {
        store_error_t cerr;
        if (store_checkpoint_put_file(s->writer, j->trial_id,
                                      (int64_t)r->final_checkpoint_iteration,
                                      r->final_checkpoint_path, NULL, 0, &cerr) == 0)
            r->final_stored = 1;
        else
            sched_logf(s,
                       "trial %lld: its state at its pause is not kept (%s): it goes on from "
                       "its previous checkpoint",
                       (long long)j->trial_id, cerr.message);
    }
    r->parking = 1;
    return 0;
}

/* Records one report inside the open transaction (checkpoints go in a second one: see
 * save_checkpoints). Returns 0 or the store's error. */
static int save_report(sched_t *s, report_t *r, double now, store_error_t *err) {
    if (r->type == REPORT_EPOCH)
        return save_epoch(s, r, now, err);
    if (r->type == REPORT_PLACED)
        return save_placement(s, r, err);
    if (r->type == REPORT_CHECKPOINT || r->unrecorded)
        return 0;
    if (r->paused && report_job(r)->stop == SCHED_STOP_NONE && !report_job(r)->save_error[0])
        return save_pause(s, r);
    const char *status = trial_status(r);
    if (!status) /* stopped by shutdown: stays running, and is re-queued at the next start */
        return 0;
    int failed =
        report_job(r)->save_error[0] != 0; /* then without its model: it may be the cause */
    store_trial_end_t end = {.status = status,
                             .best_val_accuracy = r->best_val_accuracy,
                             .final_val_accuracy = r->final_val_accuracy,
                             .test_accuracy = r->test_accuracy,
                             .best_iteration = r->best_iteration,
                             .error = report_error(r),
                             .model_path = failed ? NULL : r->model_path,
                             .model = failed ? NULL : r->model,
                             .model_len = failed ? 0 : r->model_len,
                             .now = now};
    int rc = store_trial_finish(s->writer, report_job(r)->trial_id, &end, err);
    if (rc == 0)
        r->model_stored = end.model_path != NULL;
    if (rc == 0 && !failed && r->final_checkpoint_path) {
        /* its state at the end (the finish deleted its last periodic one): an extend goes on
         * from there; without it (a failure is only logged) it recomputes from the start */
        store_error_t cerr;
        if (store_checkpoint_put_file(s->writer, report_job(r)->trial_id,
                                      (int64_t)r->final_checkpoint_iteration,
                                      r->final_checkpoint_path, NULL, 0, &cerr) == 0)
            r->final_stored = 1;
        else
            sched_logf(s, "trial %lld: its final checkpoint is not kept: %s",
                       (long long)report_job(r)->trial_id, cerr.message);
    }
    if (rc == 0)
        rc = end_followers(s, r, status, now, err);
    if (rc != 0)
        return rc;
    sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                        .sweep_id = report_job(r)->sweep_id,
                                        .trial_id = report_job(r)->trial_id,
                                        .status = status});
    sweep_state_t *w = sched_sweep_find(s, report_job(r)->sweep_id);
    if (w && ++w->ending == w->running && w->queued == 0 && sched_search_exhausted(s, w->id))
        return sweep_finalize(s, w, now, err);
    return 0;
}

/* After the commit: the in-memory side of the reports (jobs end, their slots free up). */
static void apply_report(sched_t *s, report_t *r) {
    if (r->type != REPORT_DONE)
        return;
    job_t *j = report_job(r);
    if (r->parking) { /* its strategy decides whether it goes on (a stop may have come) */
        sched_logf(s, "trial %lld: paused at iteration %lld until its rung is decided",
                   (long long)j->trial_id, (long long)j->pause_at);
        sched_job_park(s, j, r);
        if (j->stop != SCHED_STOP_NONE)
            sched_job_stop(s, j, j->stop);
        else
            sched_search_paused(s, j->sweep_id, j->trial_id, j->pause_at);
        return;
    }
    const char *status = trial_status(r);
    const char *why = report_error(r);
    sched_logf(s, "trial %lld %s%s%s", (long long)j->trial_id, status ? status : "stopped",
               why ? ": " : "", why ? why : "");
    sched_job_end(s, j, status && !r->unrecorded);
}

/* Frees one report, and its model file unless a committed row names it. */
static void report_free(sched_t *s, report_t *r) {
    if (r->model_path && !r->model_stored)
        sched_data_file_remove(s, r->model_path);
    if (r->final_checkpoint_path && !r->final_stored)
        sched_data_file_remove(s, r->final_checkpoint_path);
    free(r->final_checkpoint_path);
    free(r->model_path);
    free(r->model);
    free(r);
}

static void free_reports(sched_t *s, report_t *r) {
    while (r) {
        report_t *next = r->next;
        report_free(s, r);
        r = next;
    }
}

/* Of a job's checkpoints waiting in a batch only the newest matters (the older ones would be
 * replaced by it), and none once the trial ends in the batch (its end deletes it): drops the
 * others, so a long outage holds one model's worth of checkpoint per job rather than one per
 * few iterations. A stop for shutdown is not an end: its checkpoint stays. Returns the head. */
static report_t *drop_stale_checkpoints(sched_t *s, report_t *head) {
    report_t **p = &head;
    while (*p) {
        report_t *r = *p;
        int stale = 0;
        for (report_t *q = r->next; q && !stale && r->type == REPORT_CHECKPOINT; q = q->next)
            stale = report_job(q) == report_job(r) &&
                    (q->type == REPORT_CHECKPOINT ||
                     (q->type == REPORT_DONE && trial_status(q) != NULL));
        if (stale) {
            *p = r->next;
            report_free(s, r);
        } else {
            p = &r->next;
        }
    }
    return head;
}

static uint_fast64_t count_reports(const report_t *r) {
    uint_fast64_t n = 0;
    for (; r; r = r->next)
        n++;
    return n;
}

void sched_loop_abandon_unsaved(sched_t *s) {
    report_t *batch = s->unsaved;
    s->unsaved = NULL;
    for (report_t *r = batch; r; r = r->next)
        if (r->type == REPORT_DONE) /* the job's in-memory side ends without a record */
            sched_job_end(s, report_job(r), 0);
    free_reports(s, batch);
    sched_jobs_reap(s);
    atomic_store(&s->n_unsaved, 0);
}

/* The batch's checkpoints, in their own transaction after the rows they cover are committed and
 * announced: writing megabytes of weights must not hold back the iteration events. A checkpoint
 * that cannot be saved is dropped with a log line (the trial keeps its previous one; the next
 * comes a few iterations later, and a failing database shows in /healthz through the rows). */
static void save_checkpoints(sched_t *s, report_t *batch) {
    int any = 0;
    for (report_t *r = batch; r && !any; r = r->next)
        any = r->type == REPORT_CHECKPOINT;
    if (!any)
        return;
    store_error_t err;
    int rc = store_begin(s->writer, &err);
    for (report_t *r = batch; r && rc == 0; r = r->next)
        if (r->type == REPORT_CHECKPOINT)
            rc = save_checkpoint(s, r, &err);
    if (rc == 0)
        rc = store_commit(s->writer, &err);
    if (rc != 0) {
        store_rollback(s->writer);
        for (report_t *r = batch; r; r = r->next) /* their files go with the reports */
            if (r->type == REPORT_CHECKPOINT)
                r->model_stored = 0;
        sched_logf(s,
                   "store: a checkpoint could not be saved (%s); the trials keep their "
                   "previous one",
                   err.message);
    }
}

/* Undoes the in-memory side of a transaction that rolled back. */
static void batch_rolled_back(sched_t *s, report_t *batch) {
    s->n_events = 0;
    for (sweep_state_t *w = s->sweeps; w; w = w->next)
        w->ending = w->finishing = 0;
    sched_followers_settle(s, 0);
    for (report_t *r = batch; r; r = r->next)
        r->model_stored = r->final_stored = r->parking = 0;
}

/* Report r of the batch can never be saved (err): its trial fails instead. The first time, the
 * job is marked (its worker stops at the next mini-batch; its later rows and checkpoints are
 * not saved; its end is recorded as failed with the reason, without a model) and r is dropped,
 * unless r is that end, which then lands as failed. An end that fails even so stays unrecorded
 * (the trial is left to the next start's recovery). Returns the batch without what was
 * dropped. */
static report_t *fail_report(sched_t *s, report_t *batch, report_t *r, const store_error_t *err) {
    job_t *j = report_job(r);
    int first = j->save_error[0] == 0;
    if (first) {
        snprintf(j->save_error, sizeof j->save_error, "cannot store the trial's %s: %.200s",
                 r->type == REPORT_DONE ? "result" : "progress", err->message);
        sched_job_stop(s, j, SCHED_STOP_CANCEL);
        sched_logf(s, "trial %lld fails: %s", (long long)j->trial_id, j->save_error);
        for (report_t *q = r->next; q; q = q->next) /* what it reported before stays */
            q->after_failure |= report_job(q) == j;
        if (r->type == REPORT_DONE)
            return batch;
    } else {
        sched_logf(s, "trial %lld: dropping a report that cannot be saved: %s",
                   (long long)j->trial_id, err->message);
    }
    if (r->type == REPORT_DONE) {
        /* It stays in the batch, unrecorded: after the commit its job's in-memory side ends
         * (apply_report), once the reports before it, which point at the job, are saved. */
        r->unrecorded = 1;
        return batch;
    }
    report_t **p = &batch;
    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
    report_free(s, r);
    return batch;
}

/* Saves the batch in one transaction. A report that can never be saved fails its trial
 * (fail_report) and the rest is tried again at once; any other failure rolls everything back
 * and is returned (*batch then holds every report for the retry). Returns 0 once committed. */
static int save_batch(sched_t *s, report_t **batch, double now, store_error_t *err) {
    for (;;) {
        report_t *failed = NULL;
        int rc = store_begin(s->writer, err);
        for (report_t *r = *batch; r && rc == 0; r = r->next)
            if ((rc = save_report(s, r, now, err)) != 0)
                failed = r;
        if (rc == 0)
            rc = store_commit(s->writer, err);
        if (rc == 0)
            return 0;
        store_rollback(s->writer);
        batch_rolled_back(s, *batch);
        if (!failed || sched_save_classify(err) != SCHED_SAVE_PERMANENT)
            return rc;
        /* Each pass marks a job or drops a report: this ends. */
        *batch = fail_report(s, *batch, failed, err);
        if (!*batch)
            return 0;
    }
}

/* The sweeps' strategies hear of the rows and ends this batch saved (the events of the
 * batch: only what was newly written), before the jobs that ended leave. */
static void tell_strategies(sched_t *s, const sched_event_t *ev, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (ev[i].type == SCHED_EVENT_ITERATION)
            sched_search_iteration(s, ev[i].sweep_id, ev[i].trial_id, &ev[i].metric);
        else if (ev[i].type == SCHED_EVENT_TRIAL_FINISHED)
            sched_search_trial_end(s, ev[i].sweep_id, ev[i].trial_id, ev[i].status);
    }
}

/* A sweep whose strategy might have added trials when its last one ended, and did not: it
 * finishes now, in a transaction of its own. */
static void finish_idle_sweeps(sched_t *s) {
    for (sweep_state_t *w = s->sweeps; w; w = w->next) {
        if (w->queued || w->running || w->canceled || w->finishing)
            continue;
        store_error_t err;
        int rc = store_begin(s->writer, &err);
        if (rc == 0)
            rc = sweep_finalize(s, w, sched_now(), &err);
        if (rc == 0)
            rc = store_commit(s->writer, &err);
        if (rc != 0) {
            store_rollback(s->writer);
            w->finishing = 0;
            s->n_events = 0;
            sched_logf(s, "sweep %lld: cannot record its end: %s", (long long)w->id, err.message);
            return; /* tried again at the next wake-up */
        }
        sched_events_flush(s);
        sched_sweep_forget(s, w->id);
        return; /* the list changed: the next wake-up looks again */
    }
}

int sched_loop_reports(sched_t *s) {
    report_t *fresh = sched_channel_take(s);
    for (report_t *r = fresh; r; r = r->next)
        r->after_failure = report_job(r)->save_error[0] != 0;
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
    batch = drop_stale_checkpoints(s, batch);
    if (s->unsaved && uv_is_active((uv_handle_t *)&s->retry)) {
        /* After a failed save the next attempt waits for the retry timer: every report wakes
         * the loop, and redoing the whole growing batch (and its log line) at each wake-up
         * would run it many times a second for as long as the disk stays full. */
        s->unsaved = batch;
        atomic_store(&s->n_unsaved, count_reports(batch));
        return 0;
    }
    s->unsaved = NULL;
    if (!batch) {
        finish_idle_sweeps(s);
        return 0;
    }

    store_error_t err;
    double now = sched_now();
    int rc = save_batch(s, &batch, now, &err);
    if (rc != 0) {
        /* Keep every row: the batch was rolled back; retry it shortly. */
        s->unsaved = batch;
        /* for sched_health: unhealthy until a save commits */
        atomic_store(&s->n_unsaved, count_reports(batch));
        atomic_store(&s->db_error, rc);
        sched_logf(s, "store: cannot save %s; retrying in 1 s", err.message);
        return rc;
    }
    sched_followers_settle(s, 1);
    atomic_store(&s->db_error, 0);
    atomic_store(&s->n_unsaved, 0);
    /* The rows are committed. The strategies hear of them first (they may add trials to a
     * sweep whose last trial just ended), then the jobs that ended end (the figures of
     * /metrics follow the database at once), then the clients hear, before the checkpoints
     * are written; the ended jobs are freed last (their checkpoints point at them). */
    size_t n_events = s->n_events;
    sched_event_t *seen = n_events ? malloc(n_events * sizeof *seen) : NULL;
    if (seen) {
        memcpy(seen, s->events, n_events * sizeof *seen);
        tell_strategies(s, seen, n_events);
        free(seen);
    }
    for (report_t *r = batch; r; r = r->next)
        apply_report(s, r);
    sched_events_flush(s);
    save_checkpoints(s, batch);
    free_reports(s, batch);
    sched_jobs_reap(s);
    finish_idle_sweeps(s);
    return 0;
}
