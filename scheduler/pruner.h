/*
 * scheduler/pruner.h - pruners across a sweep: given every iteration a sweep's runs report, they
 * say which run to stop (the strategy then calls ctl->stop with SCHED_STOP_PRUNED). A run is one
 * job: the lead trial of a shared prefix (its followers end with it; their rows, which repeat
 * the lead's, are not fed again). The decision rules are pure functions of the values recorded
 * so far (pruner_rules.c, tested with synthetic reports); pruner.c keeps those values and reads
 * the request's "pruner" member.
 *
 * The value is a run's validation accuracy at the iteration (higher is better); a row without
 * one (no validation split, or not finite) is neither recorded nor pruned on.
 *
 * ASHA (asynchronous successive halving, as Ray Tune's ASHA): rungs at min_iterations x
 * reduction_factor^k, for every such iteration below the run's planned iterations (the last
 * iteration is no rung: the run ends there anyway). When a run reports a rung's iteration, its
 * value at that iteration (at-rung, not best-so-far) is recorded at the rung; it goes on only
 * when it is among the top n / reduction_factor (integer division) of the n values recorded at
 * that rung so far, itself included (ties go on). While n < reduction_factor it goes on (Ray's
 * semantics: the first arrivals are promoted; Optuna's would compare them with the best).
 *
 * Hyperband (as Optuna's HyperbandPruner): n_brackets = floor(log_rf(max_iterations /
 * min_iterations)) + 1 brackets, bracket b an ASHA whose first rung is min_iterations x rf^b;
 * a run goes to a bracket by a hash of a number of its own (sched_hyperband_bracket), weighted
 * by the brackets' budgets ceil(n x rf^s / (s + 1)), s = n - 1 - b; values are compared only
 * within a bracket.
 *
 * Median (as Optuna's MedianPruner and Katib's median stop): at an iteration past
 * warmup_iterations, a run stops when its best value so far is below the median of the values
 * the other runs reported at that same iteration, once at least min_trials other runs have
 * reported there.
 *
 * Not thread-safe: the loop thread's, like the strategies.
 */
#ifndef SCHED_PRUNER_H
#define SCHED_PRUNER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sched_pruner_type {
    SCHED_PRUNER_NONE = 0,
    SCHED_PRUNER_ASHA,
    SCHED_PRUNER_MEDIAN,
    SCHED_PRUNER_HYPERBAND,
} sched_pruner_type_t;

#define SCHED_PRUNER_MAX_ITERATIONS 100000 /* min_iterations, warmup_iterations */
#define SCHED_PRUNER_MAX_FACTOR 100        /* reduction_factor */
#define SCHED_PRUNER_MAX_TRIALS 100000     /* min_trials */

typedef struct sched_pruner_cfg {
    sched_pruner_type_t type;
    int64_t min_iterations;    /* asha, hyperband: >= 1, default 1 */
    int64_t reduction_factor;  /* asha, hyperband: >= 2, default 3 */
    int64_t max_iterations;    /* hyperband: >= min_iterations; 0: the sweep's longest trial */
    int64_t warmup_iterations; /* median: >= 0, default 5 */
    int64_t min_trials;        /* median: >= 1, default 3 */
} sched_pruner_cfg_t;

/* Called once per problem found: the field's path ("pruner.reduction_factor") and a message. */
typedef void (*sched_pruner_err_fn)(void *user, const char *field, const char *message);

/* Reads a request's "pruner" member (j may be NULL or JSON null: no pruner) into *out, with
 * defaults for the members left out. {"type": "asha", "min_iterations"?: int 1..100000,
 * "reduction_factor"?: int 2..100}, {"type": "hyperband", "min_iterations"?, "max_iterations"?:
 * int 1..100000 (not below min_iterations), "reduction_factor"?} or {"type": "median",
 * "warmup_iterations"?: int 0..100000, "min_trials"?: int 1..100000}; unknown members (and a
 * member of another type) are refused.
 * Returns 0, or -1 after calling err (which may be NULL) for each problem. */
int sched_pruner_parse(const json_t *j, sched_pruner_cfg_t *out, sched_pruner_err_fn err,
                       void *user);

/* ---- the rules (pure) --------------------------------------------------------------------- */

/* The ASHA rung whose iteration is `iteration` for a run planned `planned` iterations long: its
 * index k (iteration == min_iterations x reduction_factor^k < planned), or -1. */
int sched_asha_rung(const sched_pruner_cfg_t *cfg, int64_t iteration, int64_t planned);

/* Whether a run whose value at a rung is `value` goes on, given the values[0..n) recorded at
 * that rung (itself included): 1 to go on, 0 to stop. The top n / reduction_factor go on (ties
 * too); while n < reduction_factor, the best (as Optuna's SuccessiveHalvingPruner: the first run
 * always goes on, the next ones only when they beat every value there). *cutoff (may be NULL)
 * receives the lowest value that goes on (NaN when nothing is compared). */
int sched_asha_promote(const double *values, size_t n, double value, int64_t reduction_factor,
                       double *cutoff);

/* Hyperband: its number of brackets (>= 1; max_iterations 0 counts as min_iterations). */
int sched_hyperband_brackets(const sched_pruner_cfg_t *cfg);

/* The bracket (0 .. brackets - 1) of the run numbered `key` (a trial's ordinal or id): a hash of
 * key into the brackets' total budget, each bracket taking its budget's share. Pure. */
int sched_hyperband_bracket(const sched_pruner_cfg_t *cfg, uint64_t key);

/* Bracket b as an ASHA configuration (type ASHA, min_iterations x rf^b). */
sched_pruner_cfg_t sched_hyperband_asha(const sched_pruner_cfg_t *cfg, int bracket);

/* The median of values[0..n) (NaN when n is 0). values is reordered. */
double sched_median_of(double *values, size_t n);

/* Whether a run whose best value so far is `best` goes on at `iteration`, given the values
 * others[0..n) the other runs reported at that iteration: 1 to go on, 0 to stop. *median (may be
 * NULL) receives the median compared with (NaN when none was). others is reordered. */
int sched_median_keep(const sched_pruner_cfg_t *cfg, int64_t iteration, double best, double *others,
                      size_t n, double *median);

/* ---- early stopping, per trial ------------------------------------------------------------ */

/* A sweep's "training": {"early_stopping": {"metric": "val_loss" | "val_accuracy", "patience":
 * int 1..100000, "min_delta": number >= 0}} (H2O's stopping_rounds, Keras' EarlyStopping): a run
 * stops (ending `completed`, with a note) once `patience` iterations in a row have not improved
 * its best value by more than min_delta (val_loss lower, val_accuracy higher). A row without the
 * value does not improve it. */
typedef enum sched_es_metric {
    SCHED_ES_NONE = 0,
    SCHED_ES_VAL_LOSS,
    SCHED_ES_VAL_ACCURACY,
} sched_es_metric_t;

typedef struct sched_early_stop {
    sched_es_metric_t metric; /* NONE: no early stopping */
    int64_t patience;         /* default 5 */
    double min_delta;         /* default 0 */
} sched_early_stop_t;

/* Reads training.early_stopping (j may be NULL or null: none), defaults for what is left out
 * ("metric" defaults to val_loss). 0, or -1 after calling err for each problem. */
int sched_early_stop_parse(const json_t *j, sched_early_stop_t *out, sched_pruner_err_fn err,
                           void *user);

/* One run's early-stopping state: zero it to start. */
typedef struct sched_es_state {
    int set; /* best is set */
    double best;
    int64_t best_iteration;
} sched_es_state_t;

/* Iteration `iteration` of a run with its metric `value`: updates *st; returns 1 when the run
 * should stop now (note, when not NULL, receives why), else 0. Pure. */
int sched_early_stop_step(const sched_early_stop_t *cfg, sched_es_state_t *st, int64_t iteration,
                          double value, char *note, size_t note_len);

/* ---- the state across a sweep ------------------------------------------------------------- */

typedef struct sched_pruner sched_pruner_t;

/* A pruner for cfg (type other than NONE); NULL without memory. */
sched_pruner_t *sched_pruner_new(const sched_pruner_cfg_t *cfg);
void sched_pruner_free(sched_pruner_t *p);

/* Iteration `iteration` of run `run` (planned `planned` iterations) reported `value`: records it
 * and decides. Returns 1 when the run should stop (note, when not NULL, receives why, e.g.
 * "pruned at rung 2 (iteration 9): 0.71 < 0.78"), 0 when it goes on, MLPT_ENOMEM. Iterations of
 * one run come in order; an iteration reported twice is ignored (0), and so is every row of a
 * run after the one it was told to stop at (a stop takes effect at the end of the iteration the
 * run is training when it arrives: those rows are not part of the sweep's tables). */
int sched_pruner_report(sched_pruner_t *p, int64_t run, int64_t planned, int64_t iteration,
                        double value, char *note, size_t note_len);

/* Records a row of a run that has ended (rebuilding the tables from stored rows at a restart)
 * without deciding anything: the values go where sched_pruner_report would put them. Rows after
 * the one a pruned run was stopped at (sched_pruner_note_iteration) are the caller's to leave
 * out. 0 or MLPT_ENOMEM. */
int sched_pruner_record(sched_pruner_t *p, int64_t run, int64_t planned, int64_t iteration,
                        double value);

/* The iteration a pruner's note names ("... (iteration 9): ..." or "pruned at iteration 9: ..."),
 * or 0 when it names none. */
int64_t sched_pruner_note_iteration(const char *note);

#endif
