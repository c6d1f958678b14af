/*
 * scheduler/mpi_world.h - what every MPI rank knows of the others (private to scheduler/;
 * MLPTUNE_MPI): filled by sched_mpi_hello (sched_mpi.h), read by the executors.
 */
#ifndef SCHED_MPI_WORLD_H
#define SCHED_MPI_WORLD_H

#include "executor.h"

/* Every rank (index = rank): workers, host, and for rank 0's view its measured link. NULL
 * before sched_mpi_hello. */
const sched_exec_rank_t *sched_mpi_world(int *n, int *self);

/* Rank 0's executor released every rank (SHUTDOWN answered by BYE): finalize need not. */
void sched_mpi_world_released(void);

#endif
