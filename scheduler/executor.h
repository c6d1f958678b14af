/*
 * scheduler/executor.h - the seam between the scheduler's loop and whatever trains its jobs
 * (private to scheduler/). The loop hands an executor a job (a trial's parameters and partition
 * count, its datasets by id and file, an optional checkpoint to resume from, the rows to
 * recompute and check) and hears back through one channel, the `post` callback: one PLACED when
 * the job starts somewhere, one message per iteration, the checkpoints, and one END per job.
 * Stopping a job is a message to the executor too (sched_exec_stop); nothing the executor and the
 * loop share is written by both.
 *
 * The first executor is the local thread pool (exec_local.c: worker threads, idle ones helping
 * running trials; worker.c trains one job). Another (ranks on other machines) implements the
 * same four operations and posts the same messages.
 */
#ifndef SCHED_EXECUTOR_H
#define SCHED_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "store.h"
#include "strategy.h" /* sched_stop_reason_t */
#include "train.h"    /* trainer_sync_t */

/* A trial that takes a prefix of the job's history (shared prefix, see strategy.h). */
typedef struct sched_exec_follower {
    int64_t trial_id;
    size_t iterations;
} sched_exec_follower_t;

/* A dataset as an executor finds it: its id (the key of a cache) and its matrix file. */
typedef struct sched_dataset_ref {
    int64_t id;       /* 0: none */
    const char *path; /* absolute */
} sched_dataset_ref_t;

/* What an executor runs. Every pointer is borrowed from the loop until the executor posts the
 * job's END message. */
typedef struct sched_exec_job {
    void *tag; /* the loop's; comes back in every message of the job */
    int64_t trial_id;
    sched_params_t params;
    size_t partitions; /* of every mini-batch: part of the trial's stored spec */
    /* Ranks training it together (trainer/train.h's trainer_sync_t) and the mini-batches between
     * their averagings: part of its stored spec, decided (>= 1) before it is handed over. An
     * executor with fewer ranks ends it failed, saying so. */
    size_t ranks, sync_every;
    /* The executor's own, for a job across ranks (never the loop's): the world ranks of its
     * group (members[0] leads: only its messages reach the loop) and which of them this copy
     * runs, and the averaging its worker hands the trainer (NULL: one rank). */
    const int *members;
    size_t member;
    const trainer_sync_t *sync;
    const sched_exec_follower_t *followers; /* ascending iterations */
    size_t n_followers;
    sched_dataset_ref_t dataset, test;
    const store_resume_t *resume; /* state NULL: from iteration 1 */
    const store_metric_t *stored; /* rows 1 .. n_stored: recomputed and checked, not new */
    size_t n_stored;
    /* Pause after reporting this iteration (0: never; below the planned iterations): the run
     * ends there like one its strategy stopped (model, final checkpoint), its END saying
     * `paused`, unless a stop came first. An executor may ignore it (it then runs on and is
     * stopped when its strategy decides). */
    size_t pause_at;
} sched_exec_job_t;

/* PLACED: the job started (posted once per run, before its first ITERATION; a job stopped
 * before it started posts only its END): where it runs, stored as the trial's placement. */
typedef enum {
    SCHED_MSG_ITERATION,
    SCHED_MSG_CHECKPOINT,
    SCHED_MSG_END,
    SCHED_MSG_PLACED
} sched_msg_type_t;

/* One message of a job. The executor allocates it (calloc) and posts it; the loop frees it. */
typedef struct sched_msg {
    sched_msg_type_t type;
    void *tag;             /* the job's */
    store_metric_t metric; /* ITERATION */
    size_t samples;        /* ITERATION: training rows of the iteration (for /metrics) */
    /* ITERATION, when it is a follower's last: that trial's outcome (model at this point). */
    int64_t follower_id;
    double follower_best_val, follower_test_accuracy;
    int64_t follower_best_iteration;
    int rc; /* END: 0, MLPT_EDIVERGED, MLPT_ESTOPPED (stopped, any reason) or a failure */
    double best_val_accuracy, final_val_accuracy, test_accuracy; /* END */
    int64_t best_iteration;
    unsigned char *model; /* malloc'd model file (END, a follower's end) or checkpoint bytes
                             (CHECKPOINT), or NULL: both go to a file on the executor
                             (model_path) and only stay here when that failed */
    size_t model_len;
    char *model_path;            /* malloc'd: relative to the data dir, or NULL */
    size_t checkpoint_iteration; /* CHECKPOINT: the history it covers */
    /* END of a run that ended on a whole iteration: its state then, a checkpoint file (relative
     * to the data dir, malloc'd) covering final_checkpoint_iteration, or NULL. */
    char *final_checkpoint_path;
    size_t final_checkpoint_iteration;
    char error[256];         /* END: why it failed, or empty */
    int paused;              /* END: it stopped at the job's pause_at (rc MLPT_ESTOPPED) */
    int placement_rank;      /* PLACED: the rank that runs it (0: this process) */
    int placement_workers;   /* PLACED: the threads it may use there (the rank's slots) */
    char placement_host[64]; /* PLACED: that rank's host name, NUL-terminated */
    /* The loop's own bookkeeping (never touched by an executor). */
    int model_stored;  /* a row naming model_path is in the open or committed transaction */
    int final_stored;  /* the same for final_checkpoint_path */
    int after_failure; /* its job's save_error was set by an earlier report */
    int parking;       /* a `paused` END saved as a pause: its job parks once committed */
    int unrecorded;    /* END whose failed end could not be saved either */
    struct sched_msg *next;
} sched_msg_t;

/* The one channel back: any thread, never blocks for long. Takes the message. */
typedef void (*sched_post_fn)(void *user, sched_msg_t *msg);

typedef struct sched_executor sched_executor_t;

typedef struct sched_executor_ops {
    /* Takes a job; its messages come through post, ending with one END. 0 or MLPT_ENOMEM. */
    int (*submit)(sched_executor_t *x, const sched_exec_job_t *job);
    /* Asks the job `tag` to stop for `why`; it still posts its END. Unknown tags are ignored. */
    void (*stop)(sched_executor_t *x, void *tag, sched_stop_reason_t why);
    /* Stops everything for `why` (SHUTDOWN): jobs not yet started post END (MLPT_ESTOPPED)
     * at once, running ones stop like stop(). */
    void (*stop_all)(sched_executor_t *x, sched_stop_reason_t why);
    /* Waits for its threads and frees it, after every END was posted. */
    void (*free)(sched_executor_t *x);
} sched_executor_ops_t;

/* One MPI rank of an executor that spans several (exec_mpi.c): its workers and host, and how
 * fast rank 0 reaches it (measured at start-up by a ping-pong; 0 for rank 0 itself), for
 * whoever plans communication (data-parallel training across ranks). */
typedef struct sched_exec_rank {
    int workers;
    char host[64];
    double bytes_per_second; /* rank 0 -> this rank, 1 MiB messages */
    double latency_seconds;  /* one way, half a 1-byte round trip */
} sched_exec_rank_t;

struct sched_executor {
    const sched_executor_ops_t *ops;
    const sched_exec_rank_t *ranks; /* every rank, index = rank; NULL for a single process */
    int n_ranks;                    /* 0 for a single process */
    int slots;                      /* jobs it runs at once: the loop hands it no more */
    int cores;       /* cores at work across it: trials are split into this many partitions (at most
                        the trainer's limit), so a history does not depend on where it runs */
    int group_ranks; /* the most ranks one job may train on together (a trial's "ranks"; the
                        local pool: 1, 0 reads as 1; under --mpi the ranks other than 0) */
};

static inline int sched_exec_submit(sched_executor_t *x, const sched_exec_job_t *job) {
    return x->ops->submit(x, job);
}
static inline void sched_exec_stop(sched_executor_t *x, void *tag, sched_stop_reason_t why) {
    x->ops->stop(x, tag, why);
}
static inline void sched_exec_stop_all(sched_executor_t *x, sched_stop_reason_t why) {
    x->ops->stop_all(x, why);
}
static inline void sched_exec_free(sched_executor_t *x) {
    if (x)
        x->ops->free(x);
}

/* A log line from an executor's threads (the service's log). */
typedef void (*sched_exec_log_fn)(void *user, const char *line);

/* Formats one line (at most 511 bytes) and hands it to log; nothing when log is NULL. */
void sched_exec_logf(sched_exec_log_fn log, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The local thread pool. */
typedef struct sched_exec_local_config {
    const char *data_dir; /* where model and checkpoint files go */
    int workers;          /* threads, >= 1 */
    int checkpoint_every;
    double checkpoint_seconds;
    sched_post_fn post;
    void *post_user;
    sched_exec_log_fn log; /* may be NULL */
    void *log_user;
    int rank;              /* the rank its PLACED messages name: 0 in a single process */
    struct dscache *cache; /* datasets shared with its owner (an MPI rank puts the ones it
                              received there), borrowed; NULL: its own cache */
} sched_exec_local_config_t;

/* Starts `workers` threads (fewer when the system refuses some: slots says how many; at least
 * one, else NULL). A worker that takes a job posts PLACED first: cfg->rank, this host's name
 * (gethostname) and the pool's slots. Its cores are the workers asked for, so partitions stay the
 * same when a thread could not start. */
sched_executor_t *sched_exec_local_new(const sched_exec_local_config_t *cfg);

/* Rank 0 under `serve --mpi` (exec_mpi.c; MLPTUNE_MPI builds only, after sched_mpi_hello): a
 * local pool of cfg->workers plus every other rank's pool; slots are all their workers, cores
 * the largest --workers of any rank, ranks what sched_mpi_hello measured. NULL when this is not
 * rank 0 of a started world, or without memory. */
sched_executor_t *sched_exec_mpi_new(const sched_exec_local_config_t *cfg);

#endif
