/*
 * scheduler/rungs.h - ASHA and Hyperband decided in a defined order (the sampling sweeps'
 * pruning): the decision of a run at a rung depends only on the values of the runs before it in
 * that order (the order they were added: a sampling sweep's trial ordinals), never on which run
 * happened to report first. So two workers, or a restart after kill -9, make exactly the
 * decisions one worker running the trials one after the other makes.
 *
 * A run's decision at rung k (an iteration min_iterations x rf^k below its planned iterations;
 * Hyperband: per bracket, min_iterations x rf^(bracket + k)) is made once every run before it
 * (of its bracket) is resolved at that rung: it reported the rung's iteration (its value there
 * counts, NaN does not), or it will never report it (it ended before, it was stopped at an
 * earlier rung, its planned iterations end before the rung). Then, as in ASHA, it goes on when
 * its value is among the top n / rf of the n values of the rung up to itself (ties go on;
 * while n < rf, the best of them: sched_asha_promote). A run whose earlier runs are not
 * resolved yet waits: its strategy pauses it at the rung (sched_rungs_gate: it stops there with
 * its state kept and frees its worker) until its decision comes, then it goes on from there
 * (the go callback) or ends there (stop). Where it could not pause (a rank that keeps no state,
 * a restart) it trains on and is stopped when its decision comes (its history then runs a few
 * iterations past the rung; the note names the rung), and if it ended meanwhile it stays ended,
 * while the runs after it still count it as stopped there (as the one-by-one order would).
 *
 * Values are validation accuracies (higher is better). Not thread-safe (the loop thread's).
 */
#ifndef SCHED_RUNGS_H
#define SCHED_RUNGS_H

#include <stddef.h>
#include <stdint.h>

#include "pruner.h"

typedef struct sched_rungs sched_rungs_t;

/* Called for each run decided to stop: its id, the rung's iteration and the note ("pruned at
 * rung 2 (iteration 9): 0.71 < 0.78"). */
typedef void (*sched_rungs_stop_fn)(void *user, int64_t run, int64_t iteration, const char *note);

/* Called for each run decided to go on past a rung: its id and the rung's iteration. */
typedef void (*sched_rungs_go_fn)(void *user, int64_t run, int64_t iteration);

/* For cfg of type ASHA or HYPERBAND (max_iterations set); NULL for another type or without
 * memory. */
sched_rungs_t *sched_rungs_new(const sched_pruner_cfg_t *cfg);
void sched_rungs_free(sched_rungs_t *r);

/* Adds the next run in the order, planned `planned` iterations (a run already added: 0). Its
 * Hyperband bracket is sched_hyperband_bracket(cfg, its position in the order). 0 or
 * MLPT_ENOMEM. */
int sched_rungs_add(sched_rungs_t *r, int64_t run, int64_t planned);

/* A row of run (rows of one run come in iteration order; a repeated or older one is ignored;
 * an unknown run is ignored). Then decides what can be, calling stop for each run stopped. 0 or
 * MLPT_ENOMEM. */
int sched_rungs_row(sched_rungs_t *r, int64_t run, int64_t iteration, double value,
                    sched_rungs_stop_fn stop, void *user);

/* Run ended: it reports no more rows. Then decides what can be, as sched_rungs_row. */
int sched_rungs_end(sched_rungs_t *r, int64_t run, sched_rungs_stop_fn stop, void *user);

/* Also calls go (the `user` of each row and end call) for each run decided to go on, from now
 * on. */
void sched_rungs_on_go(sched_rungs_t *r, sched_rungs_go_fn go);

/* The first rung iteration of run past `from` (a rung below its planned iterations, that it may
 * still reach: it was not stopped, and not decided yet), or 0 when none is left. A run pausing
 * there (its worker freed) until its decision comes trains nothing a stop would throw away. */
int64_t sched_rungs_gate(const sched_rungs_t *r, int64_t run, int64_t from);

/* Whether run was decided to go on past the rung at `iteration` (1), to stop there or before
 * (-1), or not yet (0); 1 for an iteration that is none of its rungs. */
int sched_rungs_passed(const sched_rungs_t *r, int64_t run, int64_t iteration);

/* Whether run was decided to stop (*iteration, may be NULL, receives the rung's iteration). */
int sched_rungs_stopped(const sched_rungs_t *r, int64_t run, int64_t *iteration);

#endif
