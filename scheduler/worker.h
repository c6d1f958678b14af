/*
 * scheduler/worker.h - one job trained on the calling thread (private to scheduler/): the local
 * executor's worker threads call it (exec_local.c). It talks to nothing but its job, the shared
 * read-only datasets and the channel back to the loop; the run is offered to helpers through
 * the share/unshare callbacks, so this file never calls its caller.
 */
#ifndef SCHED_WORKER_H
#define SCHED_WORKER_H

#include <stdatomic.h>

#include "dscache.h"
#include "executor.h"
#include "train.h"

/* The nice value of worker threads: below the loop and HTTP threads. */
#define SCHED_WORKER_NICE 10

/* How a job is told to stop: `hard` (CANCEL, SHUTDOWN) is the trainer's flag, read between
 * mini-batches; `soft` (PRUNED, EARLY) is read after each iteration, so the run ends on a whole
 * iteration and keeps that iteration's model. Both hold a sched_stop_reason_t. */
typedef struct sched_worker_stop {
    atomic_int hard;
    atomic_int soft;
} sched_worker_stop_t;

typedef struct sched_worker_env {
    const char *data_dir; /* model and checkpoint files go there; NULL (an MPI rank): their bytes
                             stay in the messages */
    int checkpoint_every;
    double checkpoint_seconds;
    dscache_t *cache;
    sched_post_fn post;
    void *post_user;
    sched_exec_log_fn log; /* may be NULL */
    void *log_user;
    /* While the run lasts other threads may join it: share before it trains, unshare after. */
    void (*share)(void *user, const void *key, trainer_run_t *run);
    void (*unshare)(void *user, const void *key);
    void *share_user;
} sched_worker_env_t;

/* Trains `job` to its end and posts its messages (ITERATION, CHECKPOINT, then END). A job of
 * more than one rank (job->ranks) ends failed here, saying so: it needs sched_worker_train_rank. */
void sched_worker_train(const sched_worker_env_t *env, const sched_exec_job_t *job,
                        sched_worker_stop_t *stop);

/* The same as one of job->ranks ranks training it together: sync (its rank, ranks ==
 * job->ranks, every == job->sync_every, the averaging callback: an MPI executor's) goes to the
 * trainer (trainer_sync_t). Every rank posts its messages through env->post: an executor keeps
 * its lead rank's and drops the others' (the histories are the same). A sync that does not
 * match the job ends it failed. */
void sched_worker_train_rank(const sched_worker_env_t *env, const sched_exec_job_t *job,
                             sched_worker_stop_t *stop, const trainer_sync_t *sync);

/* Lowers the calling thread's priority to SCHED_WORKER_NICE (Linux; elsewhere nothing). */
void sched_worker_lower_priority(const sched_worker_env_t *env);

#endif
