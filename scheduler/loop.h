/*
 * scheduler/loop.h - what the loop thread does (private to scheduler/). Every function here
 * runs on the loop thread, except init/close, which run before the loop thread starts and after
 * it ended.
 */
#ifndef SCHED_LOOP_H
#define SCHED_LOOP_H

#include "sched_private.h"

/* Initialises the uv loop and its handles. Returns 0 or -1. */
int sched_loop_init(sched_t *s);

/* Closes whatever handles are still open and the loop itself. */
void sched_loop_close(sched_t *s);

/* Adds a queued trial to the queue (largest first within its sweep, sweeps in order), looking
 * up its datasets through the writer. Returns 0 or an MLPT_E* code with *err set. */
int sched_loop_enqueue(sched_t *s, int64_t sweep_id, int64_t trial_id, int64_t dataset_id,
                       int64_t test_dataset_id, const sched_params_t *p, store_error_t *err);

/* Hands queued trials to idle workers, recording their start. */
void sched_loop_dispatch(sched_t *s);

/* Frees the jobs still queued (after the loop ended). */
void sched_loop_free_jobs(sched_t *s);

#endif
