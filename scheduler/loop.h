/*
 * scheduler/loop.h - the loop thread's files (private to scheduler/). Every function here runs
 * on the loop thread, except init/close (before the loop thread starts and after it ended) and
 * sched_post (any thread: the executor's channel).
 *
 * Layering: each file calls only files below it, never back up (callbacks go through the
 * function pointers of strategy.h and executor.h):
 *
 *   sched.c        life cycle (start-up, recovery, stop) and the command hand-over
 *   loop.c         one wake-up: watch, reports, commands, then dispatch or wind-down
 *   commands.c     the commands of other threads, run on the loop
 *   commands_more.c  a sweep that goes on: warm start, retry, extend
 *   watch.c        the database file; once lost, drops reports (through reports.c)
 *   reports.c      the executor's messages saved in one transaction, then applied
 *   search.c       sweeps' strategies: planning, what they see, what they may do
 *                  (search_resume.c: their stored trials and rows at a restart)
 *   jobs.c         job and sweep transitions, counters, events, the channel, log lines
 *   ---------------------------------------------------------------------------------------
 *   strategy_grid.c + strategy_prune.c (strategy.h; pruner.c + pruner_rules.c: pruner.h)
 *   exec_local.c + worker.c (executor.h)
 */
#ifndef SCHED_LOOP_H
#define SCHED_LOOP_H

#include "sched_private.h"
#include "strategy.h"

/* --- loop.c ------------------------------------------------------------------------------- */

/* Initialises the uv loop and its handles. Returns 0 or -1. */
int sched_loop_init(sched_t *s);

/* Starts the database file watch timer (on the loop thread, before uv_run). */
void sched_loop_watch_start(sched_t *s);

/* Closes whatever handles are still open and the loop itself. */
void sched_loop_close(sched_t *s);

/* Hands queued jobs to the executor's free slots, recording their start. */
void sched_loop_dispatch(sched_t *s);

/* --- commands.c --------------------------------------------------------------------------- */

/* Runs and answers the commands of other threads. */
void sched_loop_commands(sched_t *s);

/* --- commands_more.c ---------------------------------------------------------------------- */

/* CMD_SWEEP_ADD, CMD_SWEEP_RETRY, CMD_SWEEP_EXTEND (sched.h): 0 or an MLPT_E* code with c->err. */
int sched_cmd_sweep_add(sched_t *s, command_t *c);
int sched_cmd_sweep_retry(sched_t *s, command_t *c);
int sched_cmd_sweep_extend(sched_t *s, command_t *c);

/* --- watch.c ------------------------------------------------------------------------------ */

/* Checks that the database file is still the writer's, at every wake-up before any write. Once
 * it is not (sticky): stops training, detaches the writer, drops the executor's messages and
 * refuses the commands waiting. Returns 0 while the file is the writer's, else the reason
 * (MLPT_ENOTFOUND deleted or moved away, MLPT_ESTATE replaced). */
int sched_loop_watch(sched_t *s);

/* How often the loop looks at the database file when nothing else wakes it, in ms. */
#define SCHED_WATCH_MS 250

/* --- reports.c ---------------------------------------------------------------------------- */

/* Saves the executor's messages of this wake-up in one transaction, then applies them (jobs
 * end, strategies hear of them). Returns 0, or non-zero when the batch must be retried in a
 * second (the caller starts the timer). */
int sched_loop_reports(sched_t *s);

/* Stopping, or the database lost, with reports that cannot be saved: lets them go (their
 * trials resume from their last saved checkpoint at the next start). */
void sched_loop_abandon_unsaved(sched_t *s);

/* --- search.c ----------------------------------------------------------------------------- */

/* One stored trial of a sweep that is to run (queued). */
typedef sched_strategy_trial_t sched_queued_trial_t;

/* A sweep's trials to run (new, or queued at start-up): gives the sweep its strategy (the
 * configured one, else grid) and lets it plan them into jobs. Returns 0 or an MLPT_E* code
 * with *err set. */
int sched_search_begin(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                       const sched_queued_trial_t *trials, size_t n, store_error_t *err);

/* After a commit: the strategy of the message's sweep sees an iteration or a trial's end. */
/* search_resume.c: before a sweep's strategy plans at start-up, its stored trials and rows
 * (when some trial has started) go to the strategy's resume. 0 or an MLPT_E* code. */
int sched_search_resume(sched_t *s, sched_strategy_t *st, int64_t sweep_id, store_error_t *err);
void sched_search_iteration(sched_t *s, int64_t sweep_id, int64_t trial_id,
                            const store_metric_t *m);
void sched_search_trial_end(sched_t *s, int64_t sweep_id, int64_t trial_id, const char *status);

/* Trials stored queued from outside the sweep's strategy (warm start, retry, extend): a sweep in
 * flight has its strategy plan them too; one that is not (finished, reopened) begins again with
 * them (sched_search_begin). 0 or an MLPT_E* code with *err set. */
int sched_search_more(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                      const sched_queued_trial_t *trials, size_t n, store_error_t *err);

/* New budgets for a sweep in flight, given to its strategy (ops->set_budget). MLPT_ESTATE when
 * it has no budgets (or is not in flight). */
int sched_search_budget(sched_t *s, int64_t sweep_id, size_t max_trials, double max_seconds,
                        uint64_t max_iterations_total);

/* Where trial_id's job, about to run from `from` iterations, pauses (its strategy's gate,
 * strategy.h), 0 for nowhere. */
int64_t sched_search_gate(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t from);
/* trial_id's job paused at `iteration` (parked, sched_job_park): its strategy hears of it. */
void sched_search_paused(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t iteration);

/* Whether the sweep's strategy will add no more trials (the sweep may then finish). */
int sched_search_exhausted(sched_t *s, int64_t sweep_id);

/* A trial's stored spec: its parameters, partition count, rank count and averaging interval
 * (ranks.h), as a JSON string (malloc'd), or NULL without memory. */
char *sched_trial_spec_json(const sched_params_t *p, size_t partitions, const sched_ranks_t *ranks);

/* --- jobs.c ------------------------------------------------------------------------------- */

double sched_now(void); /* Unix seconds */

/* Appends one log line (printf-style) through the configured callback. Any thread. */
void sched_logf(sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same at error level (log_error_user). */
void sched_errorf(sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The executor's channel: queues the message and wakes the loop. Any thread. */
void sched_post(void *s, sched_msg_t *msg);
/* Takes every message posted since the last call (FIFO), counting iterations for /metrics. */
report_t *sched_channel_take(sched_t *s);

/* Sweeps in flight. */
sweep_state_t *sched_sweep_find(sched_t *s, int64_t id);
sweep_state_t *sched_sweep_get(sched_t *s, int64_t id);    /* adds it; NULL without memory */
void sched_sweep_forget(sched_t *s, int64_t id);           /* frees its state and strategy */
void sched_event_add(sched_t *s, const sched_event_t *ev); /* sent after the commit */
void sched_events_flush(sched_t *s);

/* A job's transitions, each written here once: queued -> running -> ended, with the sweep's
 * and the service's counters (queued, running, idle slots, finished). */

/* Queues a job for lead (and its followers, ascending iterations, each shorter than the lead):
 * looks up its datasets' files and cost. 0 or an MLPT_E* code with *err set. */
int sched_job_enqueue(sched_t *s, int64_t sweep_id, int64_t dataset_id, int64_t test_dataset_id,
                      const sched_queued_trial_t *lead, const sched_queued_trial_t *followers,
                      size_t n_followers, store_error_t *err);
/* queued -> running: leaves the queue, takes an idle slot. */
void sched_job_start(sched_t *s, job_t *j);
/* running -> queued: a start whose transaction rolled back. */
void sched_job_unstart(sched_t *s, job_t *j);
/* running -> ended: frees its slot; `recorded`: its end was saved (counts as a finished trial
 * and leaves the sweep's `ending`). Forgets a sweep with nothing left. The job itself stays
 * readable until sched_jobs_reap (its batch's reports still point at it). */
void sched_job_end(sched_t *s, job_t *j, int recorded);
/* running -> parked: it paused at its gate (job_t.pause_at) with its state stored; it frees
 * its slot but stays among the running (the store and the sweep count it running) with the
 * figures and model of its pause (taken from msg, whose model it now owns). */
void sched_job_park(sched_t *s, job_t *j, sched_msg_t *msg);
/* parked -> queued: it goes on from its checkpoint, ahead of its sweep's fresh jobs. */
void sched_job_unpark(sched_t *s, job_t *j);
/* Removes a file of the data dir (rel: relative to it) that no row names; errors ignored. */
void sched_data_file_remove(sched_t *s, const char *rel);
/* Frees the jobs that ended. */
void sched_jobs_reap(sched_t *s);
/* queued -> dropped (its sweep canceled). */
void sched_job_drop(sched_t *s, job_t *j);
/* Asks the executor to stop a running job; the reason decides how its end is recorded. A
 * parked job ends at once: its END, with the figures and model of its pause, goes through the
 * channel like an executor's. */
void sched_job_stop(sched_t *s, job_t *j, sched_stop_reason_t why);
/* Stops every running job and drops what the executor has not started (shutdown, lost
 * database): those end through the channel like any other. */
void sched_jobs_stop_all(sched_t *s);
/* The running job whose lead or follower is trial_id, or NULL. */
job_t *sched_job_running(sched_t *s, int64_t trial_id);
/* After a commit the followers' pending ends are recorded; after a rollback they are not. */
void sched_followers_settle(sched_t *s, int committed);
/* Frees the jobs still queued and the sweeps' states (after the loop ended). */
void sched_jobs_free(sched_t *s);

#endif
