/*
 * scheduler/mpi_sync.h - the averaging of one job's group of ranks under `serve --mpi` (private
 * to scheduler/; MLPTUNE_MPI): the trainer_sync_t callback a rank's worker hands the trainer for
 * a trial across ranks (trainer/train.h).
 *
 * One averaging: MPI_Allreduce (MPI_SUM, then divided by the count in float) on a communicator
 * of the group, non-blocking (MPI_Iallreduce) and polled with a sleeping backoff (20 us .. 1
 * ms), so a waiting worker costs no core and can give up. The communicator is made at the first
 * averaging: MPI_Comm_create_group blocks until every member calls it, so a handshake comes
 * first (point to point on MPI_COMM_WORLD with a tag of the job's, from SCHED_SYNC_TAG0 on: the
 * link's are below), which a member can leave while another never comes (its dataset failed,
 * it was canceled first). Every member makes the same calls in the same order (the trainer's
 * vote before each averaging ends them together), so collectives match. Once
 * sched_mpi_group_abandon is called (a cancel or shutdown of the job's group, e.g. a member
 * failed) a waiting handshake cancels what it posted, and a waiting Iallreduce is left pending
 * (a collective cannot be canceled): its buffer is kept, reachable, until the process ends, and
 * its communicator too, so nothing
 * it might still write lands in freed memory; it answers MLPT_ESTOPPED.
 * The same bits on every member: for two members a + b = b + a exactly; for more, Open MPI's
 * allreduce algorithms finish with every member holding the bits of one reduction (an
 * allgather of reduced pieces, or recursive doubling of a commutative sum), which resuming a
 * trial from its lead's checkpoint relies on.
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
