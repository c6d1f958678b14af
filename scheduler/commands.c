/*
 * commands.c - the commands of other threads (datasets, sweeps, the event listener), executed on
 * the loop thread and answered through cmd_done. A new sweep's trials go to its strategy
 * (search.c); queued and running jobs change through jobs.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"
#include "train.h"

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
    if (rc == 0 && path)
        sched_data_file_remove(s, path);
    free(path);
    return rc;
}

static int cmd_sweep_create(sched_t *s, command_t *c) {
    const sched_sweep_request_t *req = c->sweep;
    int rc = MLPT_ENOMEM;
    size_t cap = req->n_trials ? req->n_trials : 1;
    char **params = calloc(cap, sizeof *params);
    int64_t *ids = calloc(cap, sizeof *ids);
    sched_queued_trial_t *trials = calloc(cap, sizeof *trials);
    if (!params || !ids || !trials)
        goto done;
    /* Every trial is split into the partitions of the whole pool, recorded in its spec: its
     * history never depends on where (or after which restart) it runs. */
    for (size_t i = 0; i < req->n_trials; i++)
        if (!(params[i] =
                  sched_trial_spec_json(&req->trials[i], s->default_partitions, &req->ranks)))
            goto done;
    store_sweep_new_t sw = {.name = req->name ? req->name : "",
                            .dataset_id = req->dataset_id,
                            .test_dataset_id = req->test_dataset_id,
                            .spec_json = req->spec_json,
                            .search = !req->space                            ? "grid"
                                      : req->space->type == SCHED_SEARCH_TPE ? "tpe"
                                                                             : "random",
                            .created_at = sched_now()};
    rc = store_sweep_insert(s->writer, &sw, (const char *const *)params, req->n_trials, &c->id, ids,
                            &c->err);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < req->n_trials; i++)
        trials[i] = (sched_queued_trial_t){.trial_id = ids[i],
                                           .params = req->trials[i],
                                           .partitions = s->default_partitions,
                                           .ranks = req->ranks};
    if (req->space) { /* the sweep's strategy is set before it plans */
        sweep_state_t *w = sched_sweep_get(s, c->id);
        sched_sampling_cfg_t sc = {.space = req->space,
                                   .slots = (size_t)s->cfg.workers,
                                   .pruner = req->pruner,
                                   .es = req->early_stop};
        if (!w || !(w->strategy = sched_strategy_sampling_new(&sc))) {
            rc = MLPT_ENOMEM;
            goto done;
        }
    }
    rc = sched_search_begin(s, c->id, req->dataset_id, req->test_dataset_id, trials, req->n_trials,
                            &c->err);
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
    free(trials);
    return rc;
}

static int cmd_sweep_cancel(sched_t *s, command_t *c) {
    sweep_state_t *w = sched_sweep_find(s, c->id);
    if (!w || w->canceled) {
        store_sweep_info_t sw;
        int rc = store_sweep_info(s->writer, c->id, &sw, &c->err);
        if (rc != 0)
            return rc;
        set_error(&c->err, MLPT_ESTATE, "sweep %lld has already finished", (long long)c->id);
        return MLPT_ESTATE;
    }
    double now = sched_now();
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
    for (job_t *j = s->queue, *next; j; j = next) {
        next = j->next;
        if (j->sweep_id != c->id)
            continue;
        sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                            .sweep_id = j->sweep_id,
                                            .trial_id = j->trial_id,
                                            .status = "canceled"});
        for (size_t i = 0; i < j->n_followers; i++)
            sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_TRIAL_FINISHED,
                                                .sweep_id = j->sweep_id,
                                                .trial_id = j->followers[i].trial_id,
                                                .status = "canceled"});
        sched_job_drop(s, j);
    }
    for (job_t *j = s->running; j; j = j->next)
        if (j->sweep_id == c->id)
            sched_job_stop(s, j, SCHED_STOP_CANCEL);
    sched_logf(s, "sweep %lld canceled: %lld queued trials dropped, %d running stopping",
               (long long)c->id, (long long)n, w->running);
    if (w->running == 0) {
        sched_event_add(s, &(sched_event_t){.type = SCHED_EVENT_SWEEP_FINISHED,
                                            .sweep_id = c->id,
                                            .status = "canceled"});
        sched_sweep_forget(s, c->id);
    }
    sched_events_flush(s);
    return 0;
}

static int cmd_sweep_delete(sched_t *s, command_t *c) {
    if (sched_sweep_find(s, c->id)) {
        set_error(&c->err, MLPT_ESTATE, "sweep %lld is still queued or running", (long long)c->id);
        return MLPT_ESTATE;
    }
    return store_sweep_delete(s->writer, c->id, &c->err);
}

void sched_loop_commands(sched_t *s) {
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
            case CMD_SWEEP_ADD:
                c->rc = sched_cmd_sweep_add(s, c);
                break;
            case CMD_SWEEP_RETRY:
                c->rc = sched_cmd_sweep_retry(s, c);
                break;
            case CMD_SWEEP_EXTEND:
                c->rc = sched_cmd_sweep_extend(s, c);
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
