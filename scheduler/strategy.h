/*
 * scheduler/strategy.h - the seam for search strategies. A sweep has one strategy. It plans
 * the sweep's trials into jobs when the sweep starts (and again, for the trials still queued,
 * when the service restarts), sees every iteration saved and every trial's end, and through the
 * control it is handed may add trials to the sweep or stop a running one as pruned or stopped
 * early, while the sweep runs. Its callbacks run on the scheduler's loop thread, after the rows
 * they describe are committed; they must not block.
 *
 * Grid search with shared prefixes is the first strategy (strategy_grid.c): it queues every
 * trial, and trials that differ only in `iterations` share one job (the longest runs; each
 * shorter one, a follower, takes the first rows of its history, ends at its own length with
 * the model of that point, and ends the same way if the job ends early).
 */
#ifndef SCHED_STRATEGY_H
#define SCHED_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"
#include "pruner.h"
#include "ranks.h"
#include "space.h"
#include "store.h"

/* Why a running trial is stopped. PRUNED ends it `pruned`, EARLY `completed`, STOPPED `stopped`
 * (a budget of its sweep is spent); all at the end of the iteration it is training, keeping its
 * history, figures and that iteration's model.
 * CANCEL and SHUTDOWN are the scheduler's own (a canceled sweep, a stopping service). */
typedef enum sched_stop_reason {
    SCHED_STOP_NONE = 0,
    SCHED_STOP_CANCEL,
    SCHED_STOP_SHUTDOWN,
    SCHED_STOP_PRUNED,
    SCHED_STOP_EARLY,
    SCHED_STOP_STOPPED,
} sched_stop_reason_t;

/* A trial as a strategy plans it. */
typedef struct sched_strategy_trial {
    int64_t trial_id;
    sched_params_t params;
    size_t partitions;   /* part of its stored spec */
    sched_ranks_t ranks; /* part of its stored spec (ranks.h); 0: "auto", not decided yet */
} sched_strategy_trial_t;

/* A trial of the sweep as stored, for a strategy resumed at start-up. */
typedef struct sched_strategy_stored {
    sched_strategy_trial_t trial;
    const char *status;         /* its stored state ("queued" for one a crash re-queued) */
    const char *error;          /* its stored error (a pruned trial's reason), NULL for none */
    const store_metric_t *rows; /* its stored rows, by iteration */
    size_t n_rows;
} sched_strategy_stored_t;

/* What a strategy may do, given to each callback. */
typedef struct sched_search_ctl sched_search_ctl_t;
struct sched_search_ctl {
    int64_t sweep_id;
    /* Queues one job: lead runs; each follower (the lead's parameters but fewer iterations,
     * ascending, at most one per length) takes the first rows of its history. Returns 0 or an
     * MLPT_E* code. */
    int (*queue)(sched_search_ctl_t *c, const sched_strategy_trial_t *lead,
                 const sched_strategy_trial_t *followers, size_t n_followers);
    /* Adds n trials to the sweep: stored at once (ordinals continue, trials_total grows, with
     * the sweep's partition count) and each queued as a job of its own. ids (may be NULL)
     * receives their ids. MLPT_ESTATE once the sweep is canceled; store errors. */
    int (*add)(sched_search_ctl_t *c, const sched_params_t *params, size_t n, int64_t *ids);
    /* Stops a running trial with SCHED_STOP_PRUNED, _EARLY or _STOPPED. MLPT_ESTATE when it is
     * not the running lead of a job (queued, ended, or a follower); MLPT_EINVAL for another
     * reason. */
    int (*stop)(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why);
    /* The same, with the reason the trial's row keeps in `error` (its followers' too), e.g.
     * "pruned at rung 2 (iteration 9): 0.71 < 0.78"; note may be NULL. */
    int (*stop_note)(sched_search_ctl_t *c, int64_t trial_id, sched_stop_reason_t why,
                     const char *note);
    /* Records a trial of the sweep that ended `completed` as `pruned` with note (its history,
     * figures and model kept): a pruning decision that came after the trial had run to its end
     * (ordered pruning waits for earlier trials). MLPT_ESTATE when it did not end completed;
     * store errors. */
    int (*mark_pruned)(sched_search_ctl_t *c, int64_t trial_id, const char *note);
    /* Requeues a paused trial (ops.on_pause) to go on from where it paused, ahead of the
     * sweep's trials that have not started. MLPT_ESTATE when it is not paused (running: it
     * pauses later, and on_pause then hears of it) or is being stopped. */
    int (*proceed)(sched_search_ctl_t *c, int64_t trial_id);
};

typedef struct sched_strategy sched_strategy_t;

typedef struct sched_strategy_ops {
    /* The sweep's trials to run (ordinal order): queue them (ctl->queue), all or some. Returns
     * 0 or an MLPT_E* code (the sweep is not created then). Called again while the sweep runs
     * with trials stored from outside the strategy (a warm start, a retry, an extend: they may
     * have stored rows, which a job recomputes and checks): plan them like its own (and count
     * them against its max_trials). */
    int (*plan)(sched_strategy_t *st, sched_search_ctl_t *ctl, const sched_strategy_trial_t *t,
                size_t n);
    /* Called before plan when the service restarts with the sweep unfinished and some of its
     * trials started: every trial of the sweep (any state, by ordinal) with its stored rows,
     * from which it rebuilds what it decides on (a restarted sweep decides as before). 0 or an
     * MLPT_E* code. May be NULL. */
    int (*resume)(sched_strategy_t *st, const sched_strategy_stored_t *t, size_t n);
    /* An iteration of one of its trials is stored (recomputed ones after a restart are not
     * seen again). May be NULL. */
    void (*on_iteration)(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                         const store_metric_t *m);
    /* One of its trials ended with `status` (completed, failed, diverged, pruned, stopped,
     * canceled).
     * May be NULL. */
    void (*on_end)(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                   const char *status);
    /* Whether it will add no more trials: only then does the sweep finish when its last trial
     * ends. NULL: always. */
    int (*exhausted)(sched_strategy_t *st);
    /* New budgets while the sweep runs (an extend): larger totals, 0 leaving one unchanged; it
     * may add trials at once. 0, or MLPT_ESTATE when it has no budgets. May be NULL (none). */
    int (*set_budget)(sched_strategy_t *st, sched_search_ctl_t *ctl, size_t max_trials,
                      double max_seconds, uint64_t max_iterations_total);
    /* Where a trial about to run (or go on from `from` iterations) should pause: an iteration
     * past `from` at which it stops, keeping its state, and frees its worker until the strategy
     * decides whether it goes on (ctl->proceed) or ends (ctl->stop_note); 0: none. A pause
     * costs a checkpoint and a resume; it saves the iterations a trial would train while its
     * decision waits for other trials (ordered ASHA). May be NULL (never). */
    int64_t (*gate)(sched_strategy_t *st, int64_t trial_id, int64_t from);
    /* Its trial paused at its gate `iteration` (the trial is still running as far as the store
     * and the sweep's counts go, but holds no worker). It requeues it at once through
     * ctl->proceed when its decision is known, ends it through ctl->stop_note, or keeps it
     * paused until it is. May be NULL only when gate is. */
    void (*on_pause)(sched_strategy_t *st, sched_search_ctl_t *ctl, int64_t trial_id,
                     int64_t iteration);
    /* Frees it. */
    void (*free)(sched_strategy_t *st);
} sched_strategy_ops_t;

struct sched_strategy {
    const sched_strategy_ops_t *ops;
    void *user;
};

/* Makes the strategy of a new sweep (or of one resumed at start-up); NULL without memory. */
typedef sched_strategy_t *(*sched_strategy_new_fn)(void *user, int64_t sweep_id);

/* Grid search with shared prefixes. NULL without memory. */
sched_strategy_t *sched_strategy_grid_new(void);

/* The same with a pruner across the sweep and early stopping per trial (pruner.h; NULL or
 * NONE: none). NULL without memory. */
sched_strategy_t *sched_strategy_grid_new_pruned(const sched_pruner_cfg_t *pruner,
                                                 const sched_early_stop_t *es);

/* Pruning for any strategy (strategy_prune.c): the strategy tells it each job it queues (a
 * lead and its followers) and hands it each iteration it hears of; it feeds the leads' rows
 * (a follower's repeat its lead's) to the pruner and stops the lead the pruner says to, as
 * pruned with the pruner's note; then to early stopping (per lead), which stops it as
 * early_stopped (ending `completed`, the note in its error). A lead's last row decides nothing. */
typedef struct sched_prune sched_prune_t;

/* With a pruner (cfg), early stopping (es), or both (either may be NULL); NULL without
 * memory, or with neither. */
sched_prune_t *sched_prune_new(const sched_pruner_cfg_t *cfg, const sched_early_stop_t *es);
void sched_prune_free(sched_prune_t *p);
/* The same for a sampling sweep: ASHA and Hyperband decide in the order the jobs are told
 * (rungs.h: a function of the stored rows, whatever the workers' timing or a restart), so the
 * jobs must be told in trial ordinal order, also at a restart; a median pruner decides as
 * rows arrive. */
sched_prune_t *sched_prune_new_ordered(const sched_pruner_cfg_t *cfg, const sched_early_stop_t *es);
/* Before the first job: the sweep's longest planned iterations, Hyperband's max_iterations
 * when the request left it out. */
void sched_prune_longest(sched_prune_t *p, int64_t iterations);
/* A job queued: lead (its planned iterations are the run's) and followers; a lead told before
 * is not told again. 0 or MLPT_ENOMEM. */
int sched_prune_job(sched_prune_t *p, const sched_strategy_trial_t *lead,
                    const sched_strategy_trial_t *followers, size_t n_followers);
/* At a restart, after the jobs of every stored trial were told (sched_prune_job): the stored
 * rows into the pruner. The rows of the runs that ended are recorded as they were (a pruned
 * run's up to the iteration its note names); then the runs still to run are fed, iteration by
 * iteration, ordinal order, and one the pruner stops is stopped at its first new row. The
 * tables are then what they were before the restart, whatever order the rows came in. */
int sched_prune_resume(sched_prune_t *p, const sched_strategy_stored_t *t, size_t n);
/* An iteration of trial_id (a follower's is ignored). */
void sched_prune_iteration(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                           const store_metric_t *m);
/* Trial_id ended with status (ordered pruning: the runs after it may be decided now; one
 * that ended completed but is decided pruned, now or later, is marked pruned through
 * ctl->mark_pruned: its decision waited for earlier trials while it ran to its end). */
void sched_prune_end(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                     const char *status);
/* Pausing at rungs (ordered ASHA and Hyperband only; 0 / nothing otherwise): the rung where
 * trial_id, a lead, should pause next after `from` iterations (sched_rungs_gate). */
int64_t sched_prune_gate(const sched_prune_t *p, int64_t trial_id, int64_t from);
/* trial_id paused at its rung `iteration`: requeued at once (ctl->proceed) when the rungs let it
 * go on already, stopped (ctl->stop_note) when they stopped it, else kept paused until they
 * decide. Returns 1 when it stays paused, 0 otherwise. */
int sched_prune_paused(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                       int64_t iteration);
/* Leads paused now (they hold no worker: a strategy that keeps its workers busy does not count
 * them). */
size_t sched_prune_n_paused(const sched_prune_t *p);
/* After a restart (from plan): marks pruned the ended trials resume found decided pruned. */
void sched_prune_flush(sched_prune_t *p, sched_search_ctl_t *ctl);
/* What a resumed random search has spent already (all 0 for a new sweep). */
typedef struct sched_random_spent {
    uint64_t stored;      /* trials the sweep has: its next draw's k */
    double elapsed;       /* wall seconds since the sweep was created (max_seconds) */
    uint64_t iterations;  /* iterations its trials have stored (max_iterations_total) */
    int64_t max_trial_id; /* its highest trial id: a trial planned later with a higher one is new
                             to the sweep (a warm start) and counts against max_trials */
} sched_random_spent_t;

/* Random search over space (copied; type SCHED_SEARCH_RANDOM), keeping `slots` trials queued or
 * running, having spent *spent (NULL: nothing). NULL without memory. See strategy_random.c. */
sched_strategy_t *sched_strategy_random_new(const sched_space_t *space, size_t slots,
                                            const sched_random_spent_t *spent);

/* A sampling sweep's strategy as made for it (sched_strategy_sampling_new). */
typedef struct sched_sampling_cfg {
    const sched_space_t *space;        /* copied; type RANDOM or TPE */
    size_t slots;                      /* trials kept queued or running (the workers) */
    const sched_random_spent_t *spent; /* NULL: nothing spent (a new sweep) */
    const sched_pruner_cfg_t *pruner;  /* NULL or NONE: none */
    const sched_early_stop_t *es;      /* NULL or NONE: none */
} sched_sampling_cfg_t;

/* The k-th trial (k from 0) a sampling strategy adds; NULL: sched_space_draw(space, seed, k). */
typedef void (*sched_propose_fn)(void *user, uint64_t k, sched_params_t *out);

/* Random search as cfg says, its trials proposed by propose (NULL: the seeded draw), with the
 * pruner and early stopping decided in trial order (sched_prune_new_ordered). NULL without
 * memory. */
sched_strategy_t *sched_strategy_random_new_with(const sched_sampling_cfg_t *cfg,
                                                 sched_propose_fn propose, void *propose_user);

/* TPE (strategy_tpe.c, tpe.h): random search whose trials past the startup ones are TPE's
 * proposals from the observations stored so far. NULL without memory. */
sched_strategy_t *sched_strategy_tpe_new(const sched_sampling_cfg_t *cfg);

/* The strategy of a sampling sweep: TPE or random by cfg->space->type. NULL without memory. */
sched_strategy_t *sched_strategy_sampling_new(const sched_sampling_cfg_t *cfg);

#endif
