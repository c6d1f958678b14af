/*
 * scheduler/mpi_sync.h - the averaging of one job's group of ranks under `serve --mpi` (private
 * to scheduler/; MLPTUNE_MPI): the trainer_sync_t callback a rank's worker hands the trainer for
 * a trial across ranks (trainer/train.h).
 *
 * One averaging: every member sends its vector to the group's first member (the reduce), which
 * sums them in member order in float and divides by the count, then sends the mean back to each
 * (the broadcast): every member gets the same bits, for any group size, equal to the
 * in-process stand-in of tests/test_train_sync.c. Point to point on MPI_COMM_WORLD with a tag
 * of the job's (tags from SCHED_SYNC_TAG0 on: the link's are below), non-blocking and polled
 * with a sleeping backoff (20 us .. 1 ms), so a waiting worker costs no core and can give up:
 * once sched_mpi_group_abandon is called (the job's group is canceled or shut down, e.g. a
 * member failed) a waiting average cancels what it posted and answers MLPT_ESTOPPED. Why not
 * MPI_Allreduce on a communicator of the group: creating one (MPI_Comm_create_group) blocks
 * until every member calls it and a blocking collective cannot be left when a member never
 * comes, and Allreduce does not promise every rank the same bits past two ranks.
 *
 * Needs MPI_THREAD_MULTIPLE (workers call MPI beside the link thread): sched_mpi_group_new
 * refuses otherwise.
 */
#ifndef SCHED_MPI_SYNC_H
#define SCHED_MPI_SYNC_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_SYNC_TAG0 64

typedef struct sched_mpi_group sched_mpi_group_t;

/* The group of world ranks members[0 .. n) (n >= 2, distinct) for job `job_no` as seen by
 * member `index`. NULL without memory or without MPI_THREAD_MULTIPLE (*why says which). */
sched_mpi_group_t *sched_mpi_group_new(const int *members, size_t n, size_t index, uint64_t job_no,
                                       const char **why);

/* trainer_average_fn: v[0 .. n) = the group's mean. 0, MLPT_ESTOPPED (abandoned), MLPT_EIO
 * (an MPI call failed), MLPT_ELIMIT (n over an int). The job's worker thread. */
int sched_mpi_group_average(void *group, float *v, size_t n);

/* Any thread: averages waiting now or later give up (MLPT_ESTOPPED). */
void sched_mpi_group_abandon(sched_mpi_group_t *g);

/* After the job's run ended (no average in progress). Accepts NULL. */
void sched_mpi_group_free(sched_mpi_group_t *g);

#endif
