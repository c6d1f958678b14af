/*
 * scheduler/sched_mpi.h - the scheduler across Open MPI ranks (built with MLPTUNE_MPI only;
 * MLPT_HAVE_MPI is then defined for the users of this library). `mlptune serve --mpi` under
 * mpirun: every rank calls sched_mpi_init, then sched_mpi_hello (collective: each rank's
 * workers and host, and rank 0's measured link to each rank, logged); rank 0 then runs the
 * scheduler with sched_config_t.mpi set (its executor spans every rank: exec_mpi.c) while every
 * other rank runs sched_mpi_rank_run (its own worker pool, no socket, no database) until rank 0
 * releases it; every rank ends with sched_mpi_finalize.
 */
#ifndef SCHED_SCHED_MPI_H
#define SCHED_SCHED_MPI_H

#include <stddef.h>

#include "sched.h"

/* MPI_Init_thread (at least MPI_THREAD_SERIALIZED: one thread per rank talks MPI at a time).
 * Returns 0 with this process's rank, the number of ranks and how many of them share this
 * node (MPI_COMM_TYPE_SHARED: they split its cores), or -1 with msg set. */
int sched_mpi_init(int *rank, int *size, int *node_ranks, char *msg, size_t msg_len);

/* Collective, on every rank right after sched_mpi_init: gathers each rank's workers and host
 * name, then rank 0 measures its link to every other rank (a ping-pong: latency of 1-byte
 * round trips, bandwidth of 1 MiB messages) and logs
 * "mpi: N ranks, link to rank r: X MB/s, Y us". Returns 0 or -1 (no memory). */
int sched_mpi_hello(int workers, sched_log_fn log, void *log_user);

/* After sched_mpi_hello: the number of ranks and the largest --workers of any rank (a trial's
 * partition count, the same wherever it runs), and the sum of every rank's workers. */
void sched_mpi_shape(int *ranks, int *max_workers, int *total_workers);

typedef struct sched_mpi_rank_config {
    const char *data_dir; /* a data dir shared with rank 0, or NULL: datasets found there (same
                             path and content hash) are read, the others are sent by rank 0 */
    int workers;          /* its worker threads */
    int cores;            /* its cores (BLAS threads = cores / workers, at least 1) */
    int checkpoint_every;
    double checkpoint_seconds;
    sched_log_fn log; /* may be NULL */
    void *log_user;
} sched_mpi_rank_config_t;

/* A rank other than 0: trains what rank 0 hands it until rank 0 releases it (at its stop).
 * Returns 0, or -1 when its pool could not start (rank 0 is told by every job failing). */
int sched_mpi_rank_run(const sched_mpi_rank_config_t *cfg);

/* Every rank, last: rank 0 first releases the ranks its scheduler did not (a failed start),
 * then MPI_Finalize. */
void sched_mpi_finalize(void);

#endif
