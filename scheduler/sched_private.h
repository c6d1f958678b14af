/*
 * scheduler/sched_private.h - the scheduler's shared state (private to scheduler/).
 *
 * Ownership: fields marked [loop] are touched only by the loop thread; [work] fields are guarded
 * by work_lock; [reports] by report_lock; [cmds] by cmd_lock; atomics by nobody.
 */
#ifndef SCHED_PRIVATE_H
#define SCHED_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "dscache.h"
#include "sched.h"

enum { STOP_NONE = 0, STOP_CANCEL = 1, STOP_SHUTDOWN = 2 };

/* The nice value of worker threads: below the loop and HTTP threads (see worker.c). */
#define SCHED_WORKER_NICE 10

/* A trial that differs from its job's trial only in `iterations` (fewer): it is not run on its
 * own but takes the first `iterations` rows of the job's history (shared prefix). */
typedef struct follower {
    int64_t trial_id;
    size_t iterations;
    int done;      /* [loop] its end is recorded */
    int pending;   /* [loop] its end is in the open transaction */
    size_t stored; /* [loop] rows it had when the job was handed out: not written again */
} follower_t;

/* A trial the scheduler knows about: queued, then running on a worker. Trials of the same sweep
 * that differ only in `iterations` share one job: the longest runs, the others follow it. */
typedef struct job {
    int64_t trial_id, sweep_id, dataset_id, test_dataset_id;
    follower_t *followers; /* sorted by iterations, ascending; set before the job runs */
    size_t n_followers;
    sched_params_t params;
    double cost; /* GEMM FLOPs of the whole trial: largest first */
    char *dataset_path;
    char *test_path;        /* NULL without a test dataset */
    atomic_int stop;        /* STOP_*: checked by the trainer between mini-batches */
    store_resume_t resume;  /* [loop] set at dispatch when the trial has a checkpoint; the
                               worker takes resume.state */
    store_metric_t *stored; /* the trial's rows when it was handed out (set by the loop at
                               dispatch, then read only by the worker): iterations 1 ..
                               n_stored are recomputed and checked, not written again */
    size_t n_stored;
    struct trainer_run *run; /* [work] while its worker trains it, for helpers to join */
    char save_error[256];    /* [loop] set when one of its reports can never be saved: the
                                trial is stopped and ends failed with this text */
    struct job *next;        /* [loop] in the queue or the running list */
    struct job *work_next;   /* [work] in the hand-off list */
    struct job *active_next; /* [work] in the list of jobs being trained */
} job_t;

typedef enum { REPORT_EPOCH, REPORT_CHECKPOINT, REPORT_DONE } report_type_t;

/* What a worker tells the loop. DONE carries the outcome; the loop frees the report. */
typedef struct report {
    report_type_t type;
    job_t *job;
    store_metric_t metric; /* EPOCH */
    /* EPOCH, when this iteration is the last of a follower: its outcome (model at this point). */
    int64_t follower_id;
    double follower_best_val, follower_test_accuracy;
    int64_t follower_best_iteration;
    int rc; /* DONE: trainer_train's return, or MLPT_EIO/ENOMEM/... before it */
    double best_val_accuracy, final_val_accuracy, test_accuracy;
    int64_t best_iteration;
    unsigned char *model; /* malloc'd model file (DONE, a follower's end) or checkpoint bytes
                             (CHECKPOINT), or NULL: both go to a file on the worker
                             (model_path) and only stay here when that failed */
    size_t model_len;
    char *model_path;  /* malloc'd: the file of the model or checkpoint, relative to the data
                          dir, or NULL. Ours to remove unless a committed row names it */
    int model_stored;  /* [loop] a row naming model_path is in the open or committed
                          transaction */
    int after_failure; /* [loop] its job's save_error was set by an earlier report: rows and
                          checkpoints are not saved, the end is recorded as failed */
    int unrecorded;    /* [loop] DONE whose failed end could not be saved either: not written,
                          only its in-memory side is applied */
    size_t checkpoint_iteration; /* CHECKPOINT: the history it covers */
    char error[256];
    struct report *next;
} report_t;

/* An unfinished sweep. [loop] */
typedef struct sweep_state {
    int64_t id;
    int queued, running;
    int ending; /* trials whose end is in the open transaction */
    int canceled;
    struct sweep_state *next;
} sweep_state_t;

typedef enum {
    CMD_DATASET_CREATE,
    CMD_DATASET_DELETE,
    CMD_SWEEP_CREATE,
    CMD_SWEEP_CANCEL,
    CMD_SWEEP_DELETE,
    CMD_SET_LISTENER,
} command_type_t;

/* A command from another thread; it lives on that thread's stack until `done`. */
typedef struct command {
    command_type_t type;
    const store_dataset_new_t *dataset;
    const sched_sweep_request_t *sweep;
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
    job_t *running;        /* [loop] jobs handed to workers */
    sweep_state_t *sweeps; /* [loop] */
    report_t *unsaved;     /* [loop] reports whose transaction failed, retried */
    int handles_closed;    /* [loop] */
    sched_event_t *events; /* [loop] this tick's events, sent after the commit */
    size_t n_events, cap_events;
    sched_event_fn listener;
    void *listener_user;
    int idle_workers; /* [loop] */
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

    /* Work handed to workers. */
    pthread_mutex_t work_lock;
    pthread_cond_t work_ready;
    job_t *handoff;          /* [work] */
    job_t *active;           /* [work] jobs whose runs helpers may join */
    int quit;                /* [work] */
    atomic_int jobs_waiting; /* handoff is not empty (or quitting): helpers go back to it */
    int partitions;          /* of every run's mini-batches: the workers, at most the trainer's
                                limit */
    pthread_t *threads;

    /* Reports from workers. */
    pthread_mutex_t report_lock;
    report_t *reports; /* [reports] FIFO */
    report_t *reports_tail;

    dscache_t *cache;

    /* Figures. */
    atomic_uint_fast64_t n_queued, n_running, n_iterations, n_samples, n_finished;

    /* Health: the last report save's failure (0 once one commits) and the reports it kept. */
    atomic_int db_error;
    atomic_uint_fast64_t n_unsaved;
    /* Set once (sticky) when the database file is no longer the writer's: MLPT_ENOTFOUND
     * (deleted or moved away) or MLPT_ESTATE (replaced). */
    atomic_int db_lost;
};

/* worker.c */
void *sched_worker_main(void *arg);
void sched_report_push(sched_t *s, report_t *r);

/* Appends one log line (printf-style) through the configured callback. Any thread. */
void sched_logf(sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same at error level (log_error_user). */
void sched_errorf(sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
