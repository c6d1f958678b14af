/*
 * scheduler/mpi_link.h - one rank's MPI traffic (private to scheduler/; built with MLPTUNE_MPI):
 * the only code that sends and receives wire messages (wire.h) once the ranks run. One thread
 * runs the link (sched_link_run): it starts the sends others queued (MPI_Isend, so two ranks
 * sending big messages to each other never wait on each other), completes them, and receives
 * what arrived (MPI_Iprobe, then MPI_Recv of exactly that message; at most 32 messages a turn,
 * so incoming rows never hold back a send), handing each message to the recv callback. When nothing
 * happened it sleeps on a condition variable with a backoff from 50 us to 2 ms (sched_link_send
 * wakes it at once): an idle link costs no core, and Open MPI's own blocking calls, which spin, are
 * never used.
 *
 * Only that thread calls MPI while the link runs (MPI_THREAD_SERIALIZED is enough).
 */
#ifndef SCHED_MPI_LINK_H
#define SCHED_MPI_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SCHED_LINK_TAG 1  /* wire messages */
#define SCHED_LINK_PING 2 /* the start-up measurement (mpi_world.c) */

typedef struct sched_link sched_link_t;

/* A received message (malloc'd; the callback takes it) from rank `source`. On the link thread. */
typedef void (*sched_link_recv_fn)(void *user, int source, unsigned char *msg, size_t len);
/* Called on the link thread at every turn (queued work that must run there); may be NULL. */
typedef void (*sched_link_tick_fn)(void *user);

sched_link_t *sched_link_new(sched_link_recv_fn recv, sched_link_tick_fn tick, void *user);

/* Queues b's message for rank dest and takes its bytes (b is emptied). Any thread. Returns 0,
 * MLPT_ELIMIT (over 2 GiB: MPI counts are ints), MLPT_ENOMEM (b had run out of memory). */
int sched_link_send(sched_link_t *l, int dest, sched_wire_buf_t *b);

/* Wakes the link thread (queued work for the tick). Any thread. */
void sched_link_wake(sched_link_t *l);

/* Runs the link on the calling thread until sched_link_quit, then until every queued send has
 * completed. */
void sched_link_run(sched_link_t *l);

/* Asks sched_link_run to return once its sends are done. Any thread. */
void sched_link_quit(sched_link_t *l);

/* After sched_link_run returned (or never ran). Drops whatever is queued. Accepts NULL. */
void sched_link_free(sched_link_t *l);

/* This rank's traffic since start (wire messages; /metrics). Any thread. */
typedef struct sched_mpi_counters {
    uint64_t messages_sent, messages_received, bytes_sent, bytes_received;
} sched_mpi_counters_t;
void sched_mpi_counters(sched_mpi_counters_t *out);

#endif
