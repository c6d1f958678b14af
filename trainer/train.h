/*
 * trainer/train.h - the training loop: mini-batch SGD over a split of a shared dataset.
 *
 * One iteration is one pass over the training rows in a fresh shuffled order (stream
 * TRAINER_RNG_SHUFFLE of the seed), in mini-batches gathered contiguously and scaled on the way.
 * After each iteration the loop reports an epoch record to a callback, which can stop training.
 * Same model, data, split, options and seed: the same history bit for bit (for a fixed number of
 * BLAS threads on the same machine).
 *
 * Data parallelism: each mini-batch goes through stages, each cut into opt->partitions parts
 * that any thread may take (mlp.h): gathering and the loss by row ranges of the batch; each
 * layer's forward and each layer's input gradient by column slices of the layer; then the update,
 * one task per layer and column slice, whose GEMM sums the gradient over all the batch's rows and
 * writes it straight into the weights (or the velocity). The numbers depend on the partition
 * count (OpenBLAS rounds by matrix shape), never on how many threads share the parts, so a run is
 * reproducible whichever threads help it and whenever they join or leave.
 *
 * Threads: a run (trainer_run_go) trains on the calling thread, the owner, plus OpenBLAS's own
 * threads as configured with trainer_blas_set_threads; the callbacks run on the owner. Other
 * threads may help a run between its mini-batches (trainer_run_join + trainer_run_help): they take
 * tasks of any stage (row ranges, column slices), and validate a copy of the weights of iteration
 * k while iteration k + 1 trains (then epoch k is reported once that validation ends, still in
 * order).
 * The dataset is only read, so many runs may share it.
 *
 * Ranks (opt->sync, see trainer_sync_t): R processes, possibly on other machines, train one run
 * together by synchronous model averaging (local SGD). Every rank shuffles the training rows in
 * the same order (the seed's) and trains its share of each pass: R equal contiguous pieces of
 * floor(n_train / R) rows (rank r the r-th); the n_train mod R rows at the end of the order sit
 * this pass out, a different few each pass since the order changes. Inside a rank, the
 * partitions above as ever. Every `every` mini-batches, and at the end of each pass, the ranks
 * replace the weights and biases by their mean (the caller's callback: MPI_Allreduce, or threads
 * in a test); at the end of a pass the momentum velocities too (between those they stay local),
 * so that the whole state at an iteration's end is the same on every rank: validation runs on
 * each rank (all the validation rows, on the same weights, so the same figures), train_loss and
 * train_accuracy are the ranks' means, and one rank's checkpoint resumes them all. A stop (the
 * flag, a callback's answer, a diverged loss) is decided together at those averagings, so every
 * rank stops at the same mini-batch; a stop flag is seen within `every` mini-batches. Same
 * spec, seed, partitions, rank count and `every`: the same history bit for bit (for a callback
 * that gives every rank the same bits).
 *
 * Optimisers, regularisation and learning-rate schedules: the options' tail (optim.h has the
 * formulas); the update stays one task per layer and column slice.
 *
 * Checkpoints: every opt->checkpoint_every iterations (once opt->checkpoint_seconds have passed
 * since the last), and when opt->stop stops a run, the run
 * hands its state (weights, optimiser, shuffle generator, position in the iteration, partial
 * sums) to the checkpoint callback; trainer_run_resume continues from such bytes to exactly the
 * history an uninterrupted run gives.
 */
#ifndef TRAINER_TRAIN_H
#define TRAINER_TRAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "mlp.h"

#define TRAINER_MAX_BATCH 65536
#define TRAINER_MAX_ITERATIONS 1000000
#define TRAINER_MAX_PARTITIONS 64
#define TRAINER_MAX_RANKS 4096

/* Replaces v[0 .. n) by its element-wise mean over the run's ranks, the same bits on every rank
 * (e.g. MPI_Allreduce with MPI_SUM, then each element divided by the rank count). Every rank
 * calls it at the same points with the same n. Returns 0, or a negative MLPT_E* code: the run
 * then ends with that code (so should every other rank's). Called on the run's owner thread. */
typedef int (*trainer_average_fn)(void *user, float *v, size_t n);

/* A run trained by several ranks at once (see the file's comment). With ranks == 1 (or no sync
 * at all) the run is the plain one and the callback is never called. */
typedef struct trainer_sync {
    int rank;                   /* this process's place, 0 .. ranks - 1 */
    int ranks;                  /* 1 .. TRAINER_MAX_RANKS */
    size_t every;               /* mini-batches between averagings, >= 1 (ranks > 1) */
    trainer_average_fn average; /* required when ranks > 1 */
    void *user;
} trainer_sync_t;

/* The optimisers (optim.h has the formulas). */
typedef enum trainer_optimizer {
    TRAINER_OPT_SGD = 0,  /* momentum m: 0 plain SGD, else heavy ball (v = m v + g; w -= lr v) */
    TRAINER_OPT_MOMENTUM, /* heavy ball with momentum, 0.9 when momentum is 0 */
    TRAINER_OPT_NESTEROV, /* PyTorch's Nesterov SGD, momentum as TRAINER_OPT_MOMENTUM */
    TRAINER_OPT_ADAM,     /* beta1, beta2, epsilon, bias-corrected; weight_decay L2-coupled */
    TRAINER_OPT_ADAMW,    /* Adam with decoupled weight decay */
    TRAINER_OPT_RMSPROP,  /* rho, epsilon, and momentum when > 0 (PyTorch's RMSprop) */
} trainer_optimizer_t;

/* The learning-rate schedules, pure functions of the position (optim.h). */
typedef enum trainer_schedule {
    TRAINER_SCHED_CONSTANT = 0,
    TRAINER_SCHED_STEP,       /* lr * lr_gamma^floor((iteration - 1) / lr_step) */
    TRAINER_SCHED_COSINE,     /* from lr down to lr_min over the planned iterations */
    TRAINER_SCHED_INVSCALING, /* lr / (samples seen before this iteration + 1)^power_t */
} trainer_schedule_t;

typedef struct trainer_options {
    float learning_rate;       /* > 0 and finite */
    float momentum;            /* in [0, 1); 0 is plain SGD */
    size_t batch_size;         /* 1 .. TRAINER_MAX_BATCH; the last batch of a pass may be smaller */
    size_t iterations;         /* 1 .. TRAINER_MAX_ITERATIONS */
    uint64_t seed;             /* seeds the shuffle */
    const atomic_int *stop;    /* optional: when it reads non-zero, training stops before the next
                                  mini-batch (cancel, shutdown) */
    size_t partitions;         /* parts of each stage of a mini-batch (row ranges or column
                                  slices, see above), 0 or 1 .. TRAINER_MAX_PARTITIONS (0 means
                                  1); the most threads that can share one run */
    size_t checkpoint_every;   /* iterations between checkpoints; 0: only when stopped */
    double checkpoint_seconds; /* and at least this much wall time since the run's start or
                                  its last checkpoint (0: no minimum) */
    int final_checkpoint;      /* non-zero: also a checkpoint (final set) when the run ends on a
                                  whole iteration (its last, or the epoch callback said stop), so
                                  it can go on to more iterations later exactly */
    size_t pause_at;           /* 0, or stop after reporting this iteration (below
                                  `iterations`) as at the run's end (validated inline, the final
                                  checkpoint): MLPT_ESTOPPED, and the run can go on later from
                                  that checkpoint exactly (schedules still see `iterations`) */
    int rescale;               /* non-zero: scale inputs by `scaling`, not the dataset's rule */
    trainer_scaling_t scaling; /* see trainer_scaler_fit_as */
    const trainer_sync_t *sync; /* optional: ranks training this run together (copied by
                                   trainer_run_new); NULL: this process alone */
    /* The optimiser and its regularisation and schedule (optim.h). A zero-initialised tail is
     * today's plain SGD at a constant rate; fields an optimiser or schedule does not use may be
     * 0 (epsilon must be > 0 for adam, adamw and rmsprop; lr_gamma in (0, 1] and lr_step >= 1
     * for step). */
    trainer_optimizer_t optimizer;
    float beta1, beta2; /* [0, 1): Adam's moment decays */
    float epsilon;      /* > 0 where used */
    float rho;          /* [0, 1): RMSprop's squared-gradient decay */
    float l2;           /* >= 0: 0.5 * l2 * sum(W^2) / batch_size in the loss, weights only */
    float weight_decay; /* >= 0: decoupled, w -= lr * weight_decay * w (Adam: added to g) */
    trainer_schedule_t schedule;
    float lr_gamma; /* (0, 1] (step) */
    size_t lr_step; /* >= 1 iterations (step) */
    float lr_min;   /* >= 0 (cosine's floor) */
    float power_t;  /* >= 0 (invscaling) */
    size_t warmup;  /* iterations of linear warmup, 0 .. TRAINER_MAX_ITERATIONS */
    /* dropout */
    float dropout_input;  /* in [0, 1): inverted dropout of the gathered, scaled inputs */
    float dropout_hidden; /* in [0, 1): of every hidden layer's activations; masks from the
                             seed and each row's position in the pass (dropout.h), never at
                             validation or prediction; 0 and 0 is no dropout */
} trainer_options_t;

/* One iteration's record. Losses are mean cross-entropies, accuracies fractions in [0, 1].
 * train_* average over the iteration's mini-batches as they were trained (the weights move
 * during the pass); val_* are measured on the validation rows with the weights at the end of the
 * iteration, and are NaN when there are no validation rows. seconds is the iteration's wall time,
 * validation included. When the loss turns NaN/Inf the iteration is cut short and reported with
 * that loss and NaN validation figures. */
typedef struct trainer_epoch {
    size_t iteration; /* 1-based */
    double train_loss;
    double train_accuracy;
    double val_loss;
    double val_accuracy;
    double seconds;               /* training wall time, plus validation when it ran inline */
    const trainer_model_t *model; /* the weights at the end of this iteration (input scaling
                                     included); valid during the callback only */
} trainer_epoch_t;

/* Called after each iteration; returns 0 to go on, non-zero to stop training. */
typedef int (*trainer_epoch_fn)(const trainer_epoch_t *epoch, void *user);

/* A checkpoint: the run's state after `iteration` reported iterations (and possibly part of the
 * next). bytes is malloc'd and now belongs to the callback. */
typedef struct trainer_checkpoint {
    size_t iteration;
    int final; /* taken at the run's end (options' final_checkpoint), not during it */
    unsigned char *bytes;
    size_t len;
} trainer_checkpoint_t;
typedef void (*trainer_checkpoint_fn)(const trainer_checkpoint_t *ckpt, void *user);

typedef struct trainer_result {
    size_t iterations_done;    /* iterations reported to the callback */
    double best_val_accuracy;  /* NaN without validation rows */
    size_t best_iteration;     /* 0 without validation rows */
    double seconds;            /* whole run */
    double train_seconds;      /* inside mini-batch steps and gathers (no validation) */
    double samples_per_second; /* training rows processed / train_seconds */
    size_t helper_tasks;       /* partitions and slices that helpers ran */
    size_t overlapped;         /* validations that helpers ran while the owner trained on */
    size_t averagings;         /* ranks > 1: calls of the sync callback with the weights */
    double average_seconds;    /* ranks > 1: time inside every sync callback (waiting included) */
} trainer_result_t;

/* Checks options against the limits above (a sync with a rank outside 0 .. ranks - 1, every 0
 * or no callback is MLPT_EINVAL; an optimiser or schedule field outside its domain, NaN or an
 * unknown enum value is MLPT_EINVAL: trainer_optim_check; so is a dropout probability outside
 * [0, 1) or NaN). Returns 0 or MLPT_EINVAL / MLPT_ELIMIT. */
int trainer_options_check(const trainer_options_t *opt);

/* Trains m on ds: first fits m's input scaling on split->train (see trainer_scaler_fit), then
 * runs opt->iterations iterations, calling on_epoch (may be NULL) after each.
 * Returns 0 when every iteration ran; MLPT_ESTOPPED when opt->stop or the callback stopped it;
 * MLPT_EDIVERGED when the loss became NaN/Inf (the step of that mini-batch is not applied);
 * MLPT_EINVAL for options that fail trainer_options_check, an empty training split, or a
 * dataset whose features or classes do not fit the model; MLPT_ENOMEM. *result (may be NULL) is
 * filled when the return is 0, MLPT_ESTOPPED or MLPT_EDIVERGED. The model belongs to the calling
 * thread meanwhile. */
int trainer_train(trainer_model_t *m, const trainer_dataset_t *ds, const trainer_split_t *split,
                  const trainer_options_t *opt, trainer_epoch_fn on_epoch, void *user,
                  trainer_result_t *result);

/* Step by step, with helpers and checkpoints. trainer_run_new fits m's input scaling and
 * allocates everything (returns 0, MLPT_EINVAL as trainer_train or for fewer training rows than
 * ranks, MLPT_ENOMEM). The model belongs to the run until trainer_run_free. With ranks > 1 the
 * model must start the same on every rank (the same seed), and validation is never overlapped
 * (helpers still share the mini-batches). */
typedef struct trainer_run trainer_run_t;
int trainer_run_new(trainer_model_t *m, const trainer_dataset_t *ds, const trainer_split_t *split,
                    const trainer_options_t *opt, trainer_run_t **out);

/* Loads a checkpoint's state into a run that has not started. Returns 0; MLPT_EFORMAT for bytes
 * that are not an intact checkpoint; MLPT_EINVAL when it was taken with another architecture,
 * split size, batch size, partition count, rank count or averaging interval. *iteration (may be
 * NULL) receives the number of reported iterations the checkpoint covers: the history to keep.
 * A run of R > 1 ranks checkpoints only at iteration ends (never when stopped): any rank's
 * checkpoint then resumes every rank. */
int trainer_run_resume(trainer_run_t *r, const void *bytes, size_t len, size_t *iteration);

/* The partition count a checkpoint was taken with (a run resuming it must use the same), or 0
 * when the bytes do not start like a checkpoint. */
size_t trainer_checkpoint_partitions(const void *bytes, size_t len);

/* Trains the remaining iterations on the calling thread, as trainer_train does, calling on_epoch
 * after each and on_ckpt (may be NULL) for checkpoints. result->best_* cover this call's
 * iterations only. Call once per run. */
int trainer_run_go(trainer_run_t *r, trainer_epoch_fn on_epoch, trainer_checkpoint_fn on_ckpt,
                   void *user, trainer_result_t *result);

/* Another thread offers to help: returns 0 when it may now call trainer_run_help, -1 when the
 * run has ended or has as many threads as partitions. */
int trainer_run_join(trainer_run_t *r);

/* After a successful join: works on the run's partitions, slices and validations until the run
 * ends or *leave (may be NULL) reads non-zero (checked between tasks), then returns. */
void trainer_run_help(trainer_run_t *r, const atomic_int *leave);

/* Threads helping now (not counting the owner). */
int trainer_run_helpers(const trainer_run_t *r);

/* Ends the run: waits for helpers to leave, then frees it (not the model). Accepts NULL. */
void trainer_run_free(trainer_run_t *r);

/* Mean loss and accuracy of m on rows idx[0..n) of ds (all rows when idx is NULL, n ignored),
 * applying m's input scaling. Returns 0; MLPT_EINVAL when ds does not fit m or has no rows;
 * MLPT_ENOMEM. */
int trainer_evaluate(const trainer_model_t *m, const trainer_dataset_t *ds, const size_t *idx,
                     size_t n, double *loss, double *accuracy);

#endif
