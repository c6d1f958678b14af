/*
 * scheduler/loop.h - what the loop thread does (private to scheduler/). Every function here
 * runs on the loop thread, except init/close, which run before the loop thread starts and after
 * it ended.
 */
#ifndef SCHED_LOOP_H
#define SCHED_LOOP_H

#include "sched_private.h"

/* Initialises the uv loop and its handles. Returns 0 or -1. */
int sched_loop_init(sched_t *s);

/* Starts the database file watch timer (on the loop thread, before uv_run). */
void sched_loop_watch_start(sched_t *s);

/* Closes whatever handles are still open and the loop itself. */
void sched_loop_close(sched_t *s);

/* Adds a queued trial to the queue (largest first within its sweep, sweeps in order), looking
 * up its datasets through the writer. Returns 0 or an MLPT_E* code with *err set. */
int sched_loop_enqueue(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t dataset_id,
                       int64_t test_dataset_id, const sched_params_t *p, store_error_t *err);

/* Hands queued trials to idle workers, recording their start. */
void sched_loop_dispatch(sched_t *s);

/* Frees the jobs still queued (after the loop ended). */
void sched_loop_free_jobs(sched_t *s);

/* Saves the workers' reports of this wake-up in one transaction (reports.c). */
void sched_loop_reports(sched_t *s);

/* Stopping, with reports that cannot be saved: lets them go (their trials resume from their
 * last saved checkpoint at the next start) so the stop can finish. */
void sched_loop_abandon_unsaved(sched_t *s);

/* Runs and answers the commands of other threads (commands.c). */
void sched_loop_commands(sched_t *s);

/* Checks that the database file is still the writer's (watch.c), at every wake-up before any
 * write. Once it is not (sticky): stops training, detaches the writer, drops the workers'
 * reports and refuses the commands waiting. Returns 0 while the file is the writer's, else the
 * reason (MLPT_ENOTFOUND deleted or moved away, MLPT_ESTATE replaced). */
int sched_loop_watch(sched_t *s);

/* How often the loop looks at the database file when nothing else wakes it, in ms. */
#define SCHED_WATCH_MS 250

/* Wakes the loop again in a second (after a failed transaction). */
void sched_loop_retry_later(sched_t *s);

/* Helpers the loop's files share. */
double sched_now(void);        /* Unix seconds */
void sched_job_free(job_t *j); /* accepts NULL */
sweep_state_t *sched_sweep_find(sched_t *s, int64_t id);
void sched_sweep_forget(sched_t *s, int64_t id);
void sched_event_add(sched_t *s, const sched_event_t *ev); /* sent after the commit */
void sched_events_flush(sched_t *s);
void sched_running_remove(sched_t *s, job_t *j);

#endif
