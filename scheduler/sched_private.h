/*
 * scheduler/sched_private.h - the scheduler's shared state (private to scheduler/).
 *
 * Ownership: fields marked [loop] (and job_t, sweep_state_t) are touched only by the loop
 * thread; [reports] by report_lock; [cmds] by cmd_lock; atomics by nobody.
 */
#ifndef SCHED_PRIVATE_H
#define SCHED_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "executor.h"
#include "sched.h"

/* A trial that differs from its job's trial only in `iterations` (fewer): it is not run on its
 * own but takes the first `iterations` rows of the job's history (shared prefix; the grid
 * strategy forms such jobs, see strategy.h). */
typedef struct follower {
    int64_t trial_id;
    size_t iterations;
    int done;      /* [loop] its end is recorded */
    int pending;   /* [loop] its end is in the open transaction */
    size_t stored; /* [loop] rows it had when the job was handed out: not written again */
} follower_t;

/* A job: one trial run by an executor, with the trials that follow its shared prefix. Loop
 * thread only; the executor sees a sched_exec_job_t pointing into it until it ends. */
typedef struct job {
    int64_t trial_id, sweep_id, dataset_id, test_dataset_id;
    follower_t *followers; /* sorted by iterations, ascending; set before the job runs */
    size_t n_followers;
    sched_exec_follower_t *exec_followers; /* the same, as the executor sees them */
    sched_params_t params;
    size_t partitions;     /* from the trial's stored spec */
    sched_ranks_t ranks;   /* from the trial's stored spec; "auto" until recorded */
    sched_ranks_t decided; /* [loop] at dispatch: ranks with "auto" decided (what it runs with) */
    int held;              /* [loop] executor slots it holds while it runs (0 reads as 1): a job
                              across R ranks holds those ranks' slots (loop.c) */
    double cost;           /* GEMM FLOPs of the whole trial: largest first */
    double iter_flops;     /* GEMM FLOPs of one iteration, validation included (throughput) */
    char *dataset_path;
    char *test_path;          /* NULL without a test dataset */
    sched_stop_reason_t stop; /* why the loop asked its executor to stop it, or NONE */
    store_resume_t resume;    /* set at dispatch when the trial has a checkpoint */
    store_metric_t *stored;   /* the trial's rows when it was handed out: iterations 1 ..
                                 n_stored are recomputed and checked, not written again */
    size_t n_stored;
    char save_error[256]; /* set when one of its reports can never be saved: the trial is
                             stopped and ends failed with this text */
    char stop_note[192];  /* why its strategy stopped it (ctl->stop_note), its row's error */
    /* Pausing (strategy.h's gate): where the run pauses, whether it is parked there (holding
     * no slot), the END to post for it if it ends parked (its executor's END of the pause, with
     * the figures and model of that point), and whether it goes on from such a pause (its trial
     * is running in the store already). */
    int64_t pause_at;
    int parked, continuing, parked_ended;
    struct sched_msg *parked_msg;
    struct job *next; /* in the queue or the running list */
} job_t;

/* What an executor tells the loop (executor.h). */
typedef sched_msg_t report_t;
#define REPORT_EPOCH SCHED_MSG_ITERATION
#define REPORT_CHECKPOINT SCHED_MSG_CHECKPOINT
#define REPORT_DONE SCHED_MSG_END
#define REPORT_PLACED SCHED_MSG_PLACED

/* The job a message is about. */
static inline job_t *report_job(const report_t *r) {
    return (job_t *)r->tag;
}

/* An unfinished sweep. [loop] */
typedef struct sweep_state {
    int64_t id;
    int queued, running; /* running counts parked jobs */
    int ending;          /* trials whose end is in the open transaction */
    int canceled;
    int finishing;       /* its end is in the open transaction */
    size_t partitions;   /* of the trials its strategy adds (their stored spec) */
    sched_ranks_t ranks; /* the same: its request's training.ranks and sync_every */
    int64_t dataset_id, test_dataset_id;
    sched_strategy_t *strategy;
    /* Its queued trials go cheapest first (a grid with a pruner): a rung's first results then
     * come from cheap runs, and a costly trial is judged against them when it gets there rather
     * than passing every rung because it arrived first. Otherwise costliest first, which
     * shortens a sweep that trains everything to the end. */
    int cheap_first;
    struct sweep_state *next;
} sweep_state_t;

typedef enum {
    CMD_DATASET_CREATE,
    CMD_DATASET_DELETE,
    CMD_SWEEP_CREATE,
    CMD_SWEEP_CANCEL,
    CMD_SWEEP_DELETE,
    CMD_SWEEP_ADD,
    CMD_SWEEP_RETRY,
    CMD_SWEEP_EXTEND,
    CMD_SET_LISTENER,
} command_type_t;

/* A command from another thread; it lives on that thread's stack until `done`. */
typedef struct command {
    command_type_t type;
    const store_dataset_new_t *dataset;
    const sched_sweep_request_t *sweep;
    const sched_params_t *params; /* CMD_SWEEP_ADD: n of them; ids receives theirs */
    size_t n;
    int64_t *ids;
    int64_t *requeued; /* CMD_SWEEP_RETRY: malloc'd, n of them */
    const sched_sweep_extend_t *extend;
    sched_event_fn listener;
    void *listener_user;
    int64_t id; /* in: the target; out: what was created */
    int rc;
    store_error_t err;
    int done; /* [cmds] */
    struct command *next;
} command_t;

struct sched {
    sched_config_t cfg;
    char *data_dir, *db_path;
    int blas_threads;

    /* Loop thread. */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t retry;
    uv_timer_t watch; /* looks at the database file every SCHED_WATCH_MS (watch.c) */
    uv_thread_t loop_thread;
    store_t *writer;       /* [loop] */
    job_t *queue;          /* [loop] queued jobs, best first */
    job_t *running;        /* [loop] jobs handed to the executor */
    job_t *ended;          /* [loop] jobs ended, not yet freed (sched_jobs_reap) */
    sweep_state_t *sweeps; /* [loop] */
    report_t *unsaved;     /* [loop] reports whose transaction failed, retried */
    int handles_closed;    /* [loop] */
    sched_event_t *events; /* [loop] this tick's events, sent after the commit */
    size_t n_events, cap_events;
    sched_event_fn listener;
    void *listener_user;
    int idle_workers; /* [loop] executor slots without a job */
    int detached;     /* [loop] the writer is detached from a lost database file */
    int detach_tries; /* [loop] */

    /* Start-up handshake. */
    pthread_mutex_t start_lock;
    pthread_cond_t started;
    int start_state; /* 0 starting, 1 running, -1 failed */
    store_error_t start_err;

    /* Commands from other threads. */
    pthread_mutex_t cmd_lock;
    command_t *cmds; /* [cmds] FIFO */
    command_t *cmds_tail;
    pthread_cond_t cmd_done;
    atomic_int stopping;
    double stop_since; /* [loop] when wind-down first ran, 0 before */
    int stop_sent;     /* [loop] the executor was told to stop everything */

    /* The executor, and the partitions of trials stored without them (today's rule). */
    sched_executor_t *exec;
    size_t default_partitions;

    /* Reports from workers. */
    pthread_mutex_t report_lock;
    report_t *reports; /* [reports] FIFO */
    report_t *reports_tail;

    /* Figures. */
    atomic_uint_fast64_t n_queued, n_running, n_iterations, n_samples, n_finished;

    /* Throughput (sched_throughput): the start-up sgemm calibration, and what iterations
     * trained so far took (GEMM FLOPs and seconds, summed by the loop; the doubles' bits). */
    double calibrated_gflops;
    atomic_uint_fast64_t learned_flops_bits, learned_seconds_bits;

    /* Health: the last report save's failure (0 once one commits) and the reports it kept. */
    atomic_int db_error;
    atomic_uint_fast64_t n_unsaved;
    /* Set once (sticky) when the database file is no longer the writer's: MLPT_ENOTFOUND
     * (deleted or moved away) or MLPT_ESTATE (replaced). */
    atomic_int db_lost;
};

#endif
