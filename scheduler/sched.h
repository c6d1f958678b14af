/*
 * scheduler/sched.h - the scheduler: a libuv loop thread that owns every decision and every
 * database write, and a pool of worker threads that train trials.
 *
 * Threads:
 *  - The loop thread (started by sched_start) owns the SQLite writer, the trial queue and the
 *    running set. It drains commands and worker reports on each wake-up (uv_async_send
 *    coalesces), writes one transaction per wake-up, then emits events.
 *  - The executor's threads (the local pool: sched_config_t.workers) train the jobs the loop
 *    hands them, one at a time each, idle ones helping running trials, with cores / workers
 *    OpenBLAS threads each so the cores are never oversubscribed (executor.h).
 *  - Any other thread (the HTTP threads) calls the command functions below: they queue the
 *    command, wake the loop and wait for its answer (a database write, never training).
 *
 * A dataset is loaded from its matrix file once (by the executor) and shared read-only by all
 * the trials that use it at the same time; it is released when the last of them ends.
 */
#ifndef SCHED_SCHED_H
#define SCHED_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "ranks.h"
#include "store.h"
#include "strategy.h"

typedef struct sched sched_t;

typedef void (*sched_log_fn)(void *user, const char *line);

typedef struct sched_config {
    const char *data_dir;      /* dataset matrix paths in the store are relative to it */
    const char *db_path;       /* the SQLite database */
    int workers;               /* trial worker threads, >= 1 */
    int cores;                 /* cores training may use (BLAS threads = cores / workers, >= 1) */
    size_t max_trials;         /* per sweep; 0 means SCHED_DEFAULT_MAX_TRIALS */
    int checkpoint_every;      /* iterations between a running trial's checkpoints; 0: only when the
                                  scheduler stops (a crash then costs the whole history) */
    double checkpoint_seconds; /* and at least this long apart (a checkpoint is megabytes written
                                  by the loop thread: frequent ones delay events) */
    sched_log_fn log;          /* one line per event, from any scheduler thread; may be NULL */
    void *log_user;
    void *log_error_user; /* given to log instead of log_user for the lines that say the service
                             cannot go on (the database file lost); NULL: log_user */
    int mpi; /* rank 0 of `serve --mpi`: the executor spans every MPI rank (sched_mpi.h);
                MLPTUNE_MPI builds only */
    sched_strategy_new_fn strategy_new; /* a sweep's search strategy; NULL (or it answers NULL):
                                           grid search with the spec's pruner */
    void *strategy_user;
    /* What "sync_every": "auto" weighs (ranks.h, sched_sync_every_auto): a rank's throughput
     * and the link between ranks. 0: the link rank 0 measured at start-up under --mpi (the
     * slowest), else the guesses (SCHED_GUESS_GFLOPS, and the research cluster's 1 Gb/s link,
     * SCHED_GUESS_BANDWIDTH and SCHED_GUESS_LATENCY). */
    double rank_gflops;    /* GFLOP/s of one rank's training */
    double link_bandwidth; /* bytes per second */
    double link_latency;   /* seconds per message */
} sched_config_t;

#define SCHED_GUESS_GFLOPS 20.0
#define SCHED_GUESS_BANDWIDTH 125e6
#define SCHED_GUESS_LATENCY 50e-6

/* Creates the scheduler and starts its loop thread, which opens the writer connection (applying
 * migrations), re-queues trials left running by a crash and rebuilds the queue; then the worker
 * threads. Returns the scheduler once all of that succeeded, or NULL with *err (may be NULL) set
 * (store errors are carried in it). Call from the main thread. */
sched_t *sched_start(const sched_config_t *cfg, store_error_t *err);

/* Graceful stop: refuses new commands (MLPT_EBUSY), asks running trials to stop at their next
 * mini-batch, where each hands over a checkpoint; they stay `running` in the database with every
 * row, and the next start re-queues them (attempt + 1) and resumes them from that checkpoint,
 * recomputing and checking any stored row past it. Waits for the executor, flushes what it
 * reported (for at most 10 s when the database refuses it), closes the writer and joins the
 * loop. Then frees everything.
 * Accepts NULL. Call from the thread that started it. */
void sched_stop(sched_t *s);

/* --- Commands (any thread but the loop's; each waits for the loop's answer) --------------- */

/* Records a parsed dataset (its matrix file already written). *id receives its id. */
int sched_dataset_create(sched_t *s, const store_dataset_new_t *d, int64_t *id, store_error_t *err);

/* Deletes a dataset and its files. MLPT_ENOTFOUND; MLPT_ESTATE while a queued or running sweep
 * uses it. */
int sched_dataset_delete(sched_t *s, int64_t id, store_error_t *err);

typedef struct sched_sweep_request {
    const char *name; /* may be NULL */
    int64_t dataset_id;
    int64_t test_dataset_id;      /* 0 for none */
    const char *spec_json;        /* the request body, stored as submitted */
    const sched_params_t *trials; /* expanded with sched_grid_expand */
    size_t n_trials;
    /* A sampling search (type SCHED_SEARCH_RANDOM or TPE; trials must then be empty): its
     * strategy adds the trials as the sweep runs (strategy_random.c, strategy_tpe.c). NULL for
     * a grid. */
    const sched_space_t *space;
    /* A sampling sweep's pruner and early stopping (NULL: none; a grid's strategy reads them
     * from the stored request). */
    const sched_pruner_cfg_t *pruner;
    const sched_early_stop_t *early_stop;
    /* training.ranks and sync_every (ranks.h): recorded in every trial's params, "auto" decided
     * when the trial first starts. */
    sched_ranks_t ranks;
} sched_sweep_request_t;

/* Creates a sweep, records its trials (each with the pool's partition count in its params) and
 * hands them to the sweep's search strategy (sched_config_t.strategy_new, else grid search with
 * shared prefixes), which queues them; the queue runs the costliest first. *sweep_id receives
 * its id.
 * MLPT_ENOTFOUND for an unknown dataset; MLPT_EINVAL when a dataset's shape cannot train (e.g.
 * a test dataset with other features); MLPT_EBUSY while stopping. */
int sched_sweep_create(sched_t *s, const sched_sweep_request_t *req, int64_t *sweep_id,
                       store_error_t *err);

/* Cancels a sweep: queued trials become canceled, running ones stop within one mini-batch and
 * keep their history. MLPT_ENOTFOUND; MLPT_ESTATE when it has already finished. */
int sched_sweep_cancel(sched_t *s, int64_t sweep_id, store_error_t *err);

/* Deletes a finished sweep. MLPT_ENOTFOUND; MLPT_ESTATE while it is queued or running. */
int sched_sweep_delete(sched_t *s, int64_t sweep_id, store_error_t *err);

/* --- A sweep that goes on: warm start, retry, extend ------------------------------------- */
/* Each stores its change, reopens a finished sweep (status running again) and hands the trials
 * to the sweep's strategy: while the sweep runs, its strategy plans them like its own (plan is
 * called again); a finished sweep begins again (its strategy made anew, resumed from the stored
 * trials and rows, then planning them), as after a restart. A re-queued trial keeps its rows:
 * it resumes from its checkpoint, or from iteration 1 without one, recomputing and checking its
 * stored rows bit for bit (as after a crash), then goes on; so its history is the one a run of
 * the new length would have made from the start. Every one: MLPT_ENOTFOUND for an unknown sweep;
 * MLPT_ESTATE while its cancel is under way; MLPT_EBUSY while stopping. */

/* Warm start: adds n trials with these parameters (each with the pool's partitions) to the
 * sweep. ids (n entries, may be NULL) receives their ids. MLPT_ESTATE for a canceled sweep;
 * MLPT_ELIMIT when the sweep would have more than max_trials trials. */
int sched_sweep_add_trials(sched_t *s, int64_t sweep_id, const sched_params_t *params, size_t n,
                           int64_t *ids, store_error_t *err);

/* Retry: re-queues the sweep's failed and lost trials (store_sweep_lost_trials says which).
 * *ids (malloc'd, NULL when none) and *n receive them; none is not an error (and reopens
 * nothing). */
int sched_sweep_retry(sched_t *s, int64_t sweep_id, int64_t **ids, size_t *n, store_error_t *err);

typedef struct sched_extend_trial {
    int64_t trial_id;
    size_t iterations; /* its new length, more than its planned iterations */
} sched_extend_trial_t;

typedef struct sched_sweep_extend {
    /* New budgets of a sampling sweep (0: unchanged), and its request rewritten with them (the
     * stored spec, read again at a restart); NULL spec_json for no budget change. */
    const char *spec_json;
    size_t max_trials;
    double max_seconds;
    uint64_t max_iterations_total;
    /* Trials of the sweep to continue to a larger iteration count (ended completed, pruned or
     * stopped). */
    const sched_extend_trial_t *trials;
    size_t n_trials;
} sched_sweep_extend_t;

/* Extend: new budgets and/or more iterations for ended trials. MLPT_ESTATE for a canceled sweep,
 * a trial that has not ended or ended otherwise (failed, diverged, canceled: retry is for those),
 * or new budgets the running strategy cannot take; MLPT_ENOTFOUND also for a trial not of this
 * sweep; MLPT_EINVAL for an iteration count not above the trial's. err's message names the
 * trial. */
int sched_sweep_extend(sched_t *s, int64_t sweep_id, const sched_sweep_extend_t *x,
                       store_error_t *err);

/* --- Events ------------------------------------------------------------------------------ */

typedef enum sched_event_type {
    SCHED_EVENT_TRIAL_STARTED,
    SCHED_EVENT_ITERATION,
    SCHED_EVENT_TRIAL_FINISHED,
    SCHED_EVENT_SWEEP_FINISHED,
} sched_event_type_t;

typedef struct sched_event {
    sched_event_type_t type;
    int64_t sweep_id;
    int64_t trial_id;      /* 0 for SWEEP_FINISHED */
    const char *status;    /* trial or sweep status (STARTED: "running") */
    store_metric_t metric; /* ITERATION only */
} sched_event_t;

/* Called on the loop thread after the event's rows are committed; it must not block. */
typedef void (*sched_event_fn)(const sched_event_t *ev, void *user);

/* Sets the one listener (the SSE hub); events before it are not delivered live (they are in the
 * store). Any thread but the loop's; waits until the loop has taken it. */
void sched_set_listener(sched_t *s, sched_event_fn fn, void *user);

/* --- Figures for /metrics (any thread, lock-free snapshots) -------------------------------- */

typedef struct sched_stats {
    uint64_t queued_trials;
    uint64_t running_trials;
    uint64_t iterations_trained;
    uint64_t samples_trained;
    uint64_t trials_finished;
    int workers;
    /* Under `serve --mpi` (0 otherwise): the ranks, and rank 0's wire traffic since start. */
    int mpi_ranks;
    int group_ranks; /* the most ranks one trial may train on (a sweep's training.ranks): 1 */
    uint64_t mpi_messages_sent, mpi_messages_received, mpi_bytes_sent, mpi_bytes_received;
} sched_stats_t;

void sched_stats(const sched_t *s, sched_stats_t *out);

/* This server's training throughput, to turn a sweep's GEMM FLOPs into seconds (a dry run):
 * measured once at start-up by a short sgemm calibration on a mini-batch shape (with each
 * worker's BLAS threads), and learned from the iterations trained since (their GEMM FLOPs,
 * validation included, over their seconds: what a trial really achieves, its other work
 * included). The learned figure is used once SCHED_LEARNED_MIN_SECONDS of training were seen. */
#define SCHED_LEARNED_MIN_SECONDS 2.0
typedef struct sched_throughput {
    double gflops_per_worker; /* the figure to use: learned when there is one, else calibrated */
    int learned;              /* which one it is */
    double calibrated_gflops, learned_gflops, learned_seconds;
    int workers;
} sched_throughput_t;

void sched_throughput(const sched_t *s, sched_throughput_t *out);

/* --- Health (any thread, lock-free) ------------------------------------------------------- */

typedef struct sched_health {
    int db_error;     /* 0 while worker reports are being saved; after a failed save, the MLPT_E*
                       * code of the failure (MLPT_ENOSPC: the disk is full) until one succeeds */
    uint64_t unsaved; /* reports (iterations, trial ends) kept in memory for the retry, which
                       * comes every second; nothing is dropped */
    int db_lost;      /* 0, or (for good, until a restart) why the database file is no longer
                       * the one the writer opened: MLPT_ENOTFOUND deleted or moved away,
                       * MLPT_ESTATE replaced by another file. Looked at every 250 ms and before
                       * every write; from then on nothing is written, training stops, reports
                       * are dropped and every command answers MLPT_EBUSY */
} sched_health_t;

/* Whether the loop can write the database: a snapshot of its last save of worker reports. */
void sched_health(const sched_t *s, sched_health_t *out);

#endif
