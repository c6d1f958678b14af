/*
 * scheduler/ranks.h - how one trial spreads over ranks (issue 13, data parallelism): its rank
 * count and its averaging interval, part of the trial's stored params like its partitions.
 *
 * A sweep asks for them in `training`: "ranks": 1 | N | "auto" (default 1: the trial runs on
 * one rank, as before) and "sync_every": N | "auto" (default "auto": mini-batches between two
 * averagings of the ranks' models, trainer/train.h's trainer_sync_t). Every trial stores them
 * in its params ("ranks", "sync_every": an integer, or "auto" until decided). "auto" is decided
 * when the trial first starts, and recorded in its params so that a resume uses the same:
 *   ranks: fewer queued trials than idle ranks, the trial takes its even share of the idle
 *     ranks (sched_ranks_auto), else one;
 *   sync_every: the smallest interval that keeps the averaging's communication under 5% of the
 *     mini-batches' compute (sched_sync_every_auto), from the model's bytes, the FLOPs of a
 *     mini-batch, a rank's measured throughput and the link's bandwidth and latency measured at
 *     start-up. Decided only for a trial of more than one rank.
 * Pure functions: any thread.
 */
#ifndef SCHED_RANKS_H
#define SCHED_RANKS_H

#include <jansson.h>
#include <stddef.h>

#include "pruner.h" /* sched_pruner_err_fn */
#include "train.h"

#define SCHED_MAX_RANKS TRAINER_MAX_RANKS
#define SCHED_MAX_SYNC_EVERY 65536
#define SCHED_SYNC_BUDGET 0.05 /* communication at most this fraction of compute */

typedef struct sched_ranks {
    size_t ranks;      /* 1 .. SCHED_MAX_RANKS, or 0: "auto", not decided yet */
    size_t sync_every; /* 1 .. SCHED_MAX_SYNC_EVERY, or 0: "auto", not decided yet */
} sched_ranks_t;

/* What a trial stored before ranks existed means, and a request's default: one rank, the
 * interval "auto". */
#define SCHED_RANKS_DEFAULT ((sched_ranks_t){.ranks = 1, .sync_every = 0})

/* Reads a sweep request's training.ranks and training.sync_every (training may be NULL; either
 * member may be absent: the default) into *out. ranks is refused above max_ranks (the ranks
 * this service runs; 0: SCHED_MAX_RANKS), with a message naming that count. Returns 0, or -1
 * after calling err (may be NULL) once per problem with the field ("training.ranks") and why. */
int sched_ranks_parse(const json_t *training, size_t max_ranks, sched_ranks_t *out,
                      sched_pruner_err_fn err, void *user);

/* Sets "ranks" and "sync_every" of a trial's params object (an integer, or "auto"). Returns 0
 * or MLPT_ENOMEM. */
int sched_ranks_to_json(const sched_ranks_t *r, json_t *params);

/* Reads them back from a trial's stored params: a member that is absent or unreadable takes
 * the default (trials stored before they existed). */
void sched_ranks_from_json(const json_t *params, sched_ranks_t *out);

/* "auto" ranks for a trial about to start, with `queued` trials waiting (itself included,
 * >= 1) and `idle` ranks free (>= 1): idle / queued when fewer trials than idle ranks wait (the
 * first trials then split the idle ranks evenly; a last one takes what is left), else 1. At most
 * max (0: no bound). */
size_t sched_ranks_auto(size_t queued, size_t idle, size_t max);

/* An executor of `ranks` ranks (<= 0 reads as 1) and `slots` slots spread evenly over them:
 * its ranks whose slots are all idle, counted from `idle` idle slots (idle / slots per rank). */
size_t sched_ranks_idle(int idle, int slots, int ranks);

/* The slots a job across `job_ranks` ranks holds on such an executor: 1 for one rank; the slots
 * of its ranks for more (their other workers help it); 1 when it asks for more ranks than one
 * job may have there (`group`, the executor's group_ranks: it is handed over to fail at once,
 * saying so, rather than wait for ever). */
int sched_ranks_slots(size_t job_ranks, int slots, int ranks, int group);

/* The figures sched_sync_every_auto weighs. */
typedef struct sched_sync_cost {
    double model_bytes; /* bytes averaged: 4 x the trial's parameters */
    double batch_flops; /* FLOPs of one mini-batch (trainer_arch_train_flops(arch, batch)) */
    double gflops;      /* a rank's measured throughput, GFLOP/s (> 0) */
    double bandwidth;   /* the link, bytes per second (> 0) */
    double latency;     /* the link, seconds per message */
    size_t ranks;       /* the trial's, >= 2 */
    size_t batches;     /* mini-batches of a rank's share of a pass: an interval as long
                           averages at the pass's end only (0: no bound) */
} sched_sync_cost_t;

/* Seconds of one averaging as mpi_sync.c does it: the four-float vote then the parameters, each
 * R - 1 messages into the group's first member and R - 1 back out, one after another through its
 * link: 2 (R - 1) x (2 latencies + (16 + model bytes) / bandwidth). */
double sched_sync_seconds(const sched_sync_cost_t *c);

/* The smallest interval k >= 1 with sched_sync_seconds <= SCHED_SYNC_BUDGET x k x (a
 * mini-batch's compute seconds), at most c->batches (when > 0) and SCHED_MAX_SYNC_EVERY. Figures
 * that are not positive and finite give 1 (average at every mini-batch: never wrong, only
 * slow). */
size_t sched_sync_every_auto(const sched_sync_cost_t *c);

#endif
