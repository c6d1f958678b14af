/*
 * trainer/train.h - the training loop: mini-batch SGD over a split of a shared dataset.
 *
 * One iteration is one pass over the training rows in a fresh shuffled order (stream
 * TRAINER_RNG_SHUFFLE of the seed), in mini-batches gathered contiguously and scaled on the way.
 * After each iteration the loop reports an epoch record to a callback, which can stop training.
 * Same model, data, split, options and seed: the same history bit for bit (for a fixed number of
 * BLAS threads on the same machine).
 *
 * Threads: trainer_train runs on the calling thread (plus OpenBLAS's own threads, as configured
 * with trainer_blas_set_threads); the callback runs on that thread too. The dataset is only read,
 * so many trainings may share it.
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

typedef struct trainer_options {
    float learning_rate;    /* > 0 and finite */
    float momentum;         /* in [0, 1); 0 is plain SGD */
    size_t batch_size;      /* 1 .. TRAINER_MAX_BATCH; the last batch of a pass may be smaller */
    size_t iterations;      /* 1 .. TRAINER_MAX_ITERATIONS */
    uint64_t seed;          /* seeds the shuffle */
    const atomic_int *stop; /* optional: when it reads non-zero, training stops before the next
                               mini-batch (cancel, shutdown) */
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
    double seconds;
} trainer_epoch_t;

/* Called after each iteration; returns 0 to go on, non-zero to stop training. */
typedef int (*trainer_epoch_fn)(const trainer_epoch_t *epoch, void *user);

typedef struct trainer_result {
    size_t iterations_done;    /* iterations reported to the callback */
    double best_val_accuracy;  /* NaN without validation rows */
    size_t best_iteration;     /* 0 without validation rows */
    double seconds;            /* whole run */
    double train_seconds;      /* inside mini-batch steps and gathers (no validation) */
    double samples_per_second; /* training rows processed / train_seconds */
} trainer_result_t;

/* Checks options against the limits above. Returns 0 or MLPT_EINVAL / MLPT_ELIMIT. */
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

/* Mean loss and accuracy of m on rows idx[0..n) of ds (all rows when idx is NULL, n ignored),
 * applying m's input scaling. Returns 0; MLPT_EINVAL when ds does not fit m or has no rows;
 * MLPT_ENOMEM. */
int trainer_evaluate(const trainer_model_t *m, const trainer_dataset_t *ds, const size_t *idx,
                     size_t n, double *loss, double *accuracy);

#endif
