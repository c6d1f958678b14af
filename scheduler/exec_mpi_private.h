/*
 * exec_mpi_private.h - what rank 0's executor across ranks shares between its files (private to
 * scheduler/): exec_mpi.c (the loop's side, the link thread's side, creation and free) over
 * exec_mpi_group.c (jobs across ranks, i13-dp) over exec_mpi_state.c (the state's small
 * helpers). Calls go that way only.
 *
 * Locking: `lock` guards jobs, ops, the per-rank counts and datasets; the wire buffers and the
 * link's callbacks are the link thread's.
 */
#ifndef SCHED_EXEC_MPI_PRIVATE_H
#define SCHED_EXEC_MPI_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "mpi_link.h"
#include "wire.h"

/* A job across ranks (i13-dp): its members' shared bookkeeping, exec_mpi_group.c's alone. */
typedef struct group group_t;

typedef struct rjob {
    uint64_t no;
    sched_exec_job_t job; /* borrowed from the loop until its END */
    int rank;
    group_t *group; /* a job across ranks, or NULL */
    int lead;       /* its group's first member */
    struct rjob *next;
} rjob_t;

typedef enum { OP_JOB, OP_STOP, OP_STOP_ALL, OP_SHUTDOWN } op_kind_t;

typedef struct op {
    op_kind_t kind;
    rjob_t *job; /* OP_JOB */
    uint64_t no; /* OP_STOP */
    int rank;    /* OP_STOP */
    sched_stop_reason_t why;
    struct op *next;
} op_t;

/* A dataset some job named: its file, content key, and the ranks that hold it. */
typedef struct dsinfo {
    int64_t id;
    char *path; /* absolute */
    int hashed; /* 1 hash set, -1 the file could not be read */
    unsigned char hash[SCHED_WIRE_HASH];
    char error[200];
    unsigned char *held; /* [n_ranks] a job using it went there */
    struct dsinfo *next;
} dsinfo_t;

typedef struct mx mx_t;

struct mx {
    sched_executor_t base; /* first */
    sched_executor_t *local;
    sched_link_t *link;
    pthread_t thread;
    int thread_started;
    sched_post_fn post;
    void *post_user;
    sched_exec_log_fn log;
    void *log_user;
    char *data_dir;
    sched_exec_rank_t *ranks; /* copy of the world */
    int n;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    rjob_t *jobs;          /* [lock] handed out, END not yet seen */
    op_t *ops, **ops_tail; /* [lock] */
    int *busy;             /* [lock] jobs per rank */
    dsinfo_t *ds;          /* [lock] */
    int byes;              /* [lock] */
    uint64_t next_no;      /* loop thread */
};

#define logf_(m, ...) sched_exec_logf((m)->log, (m)->log_user, __VA_ARGS__)

/* exec_mpi_state.c: the state's helpers */

/* The dataset `id`, or NULL. Called with lock. */
dsinfo_t *mx_ds_find(mx_t *m, int64_t id);
/* The dataset `id`, added (held by rank 0) if new. Called with lock. NULL without memory. */
dsinfo_t *mx_ds_get(mx_t *m, int64_t id, const char *path);
/* j off the list of jobs. Called with lock. */
void mx_unlink_job(mx_t *m, rjob_t *j);
/* o at the end of the operations' FIFO. Called with lock. */
void mx_push_op(mx_t *m, op_t *o);
/* An END for a job that could not be handed to its rank. */
void mx_post_end(mx_t *m, void *tag, int rc, const char *error);

/* exec_mpi_group.c: jobs across ranks */

/* Hands a job across job->ranks ranks out (takes lock). */
int mx_group_submit(mx_t *m, const sched_exec_job_t *job);
/* A message of member j of a job across ranks: the lead's job with *msg to pass on, or NULL.
 * Called with lock. */
rjob_t *mx_group_msg(mx_t *m, rjob_t *j, sched_msg_t **msg);

#endif
