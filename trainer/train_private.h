/*
 * trainer/train_private.h - a run's state, shared by train.c (the owner's loop), team.c (the
 * phases helpers share), rows.c (gathering and measuring rows) and checkpoint.c (saving and
 * restoring it). Private to trainer/.
 *
 * Calls go one way: train.c -> team.c -> rows.c, train.c -> rows.c, train.c -> checkpoint.c,
 * team.c -> optim.c -> mlp.c, train.c -> optim.c and schedule.c;
 * nothing calls back up.
 *
 * Ownership: fields marked [owner] are touched only by the thread in trainer_run_go; [phase]
 * fields are written by the owner before it publishes a phase and read by whoever claims a task
 * of it; atomics by anyone.
 */
#ifndef TRAINER_TRAIN_PRIVATE_H
#define TRAINER_TRAIN_PRIVATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "dropout.h"
#include "optim.h"
#include "rng.h"
#include "train.h"

/* The stages of a mini-batch, in order; each has `parts` tasks (UPDATE: one per layer and
 * column slice). GATHER and LOSS split the rows, the others the columns (see mlp.h). */
enum { PHASE_GATHER = 1, PHASE_FORWARD, PHASE_LOSS, PHASE_BACKWARD, PHASE_UPDATE };
enum { VAL_NONE = 0, VAL_PENDING = 1, VAL_TAKEN = 2, VAL_DONE = 3 };

/* Where a run stands: what a checkpoint holds besides the weights and the velocity. */
typedef struct run_position {
    size_t iteration;  /* the iteration in progress or next, 1-based */
    size_t batch;      /* mini-batches of it already trained */
    trainer_rng_t rng; /* the shuffle generator as it was before this iteration's shuffle */
    double loss_sum;   /* partial sums of the iteration so far */
    uint64_t correct;
    uint64_t seen;
    double seconds; /* training time of the iteration so far */
} run_position_t;

struct trainer_run {
    trainer_model_t *m;
    const trainer_dataset_t *ds;
    const trainer_split_t *split;
    trainer_options_t opt;
    size_t parts;    /* partitions per mini-batch, >= 1 */
    size_t rows_cap; /* scratch rows: the batch, or the evaluation chunk when larger */
    int identity;    /* the input scaling is the identity */

    /* Ranks (train.h): this rank trains rows order[share_off .. share_off + share_n) of each
     * pass; sync.ranks == 1 (no sync given) is the plain run, share_off 0, share_n n_train. */
    trainer_sync_t sync;
    size_t share_off, share_n;
    float vote[4]; /* [owner] what the ranks average at each averaging: stop, diverged, and at
                      a pass's end its mean train loss and accuracy */

    trainer_scratch_t *s; /* the mini-batch's buffers, shared by the partitions */
    int32_t *labels;      /* [rows_cap] */
    size_t *order;        /* [n_train], this iteration's order */
    float *velocity;      /* the optimiser's first moment or velocity (optim.h), or NULL */
    float *second;        /* its second moment (rmsprop, adam, adamw), or NULL */
    float *grad;          /* the gradient scratch of nesterov, rmsprop, adam, adamw, or NULL */
    double *part_loss;    /* [parts] */
    size_t *part_correct; /* [parts] */

    /* Dropout only (NULL without): attached to s during a mini-batch's phases. */
    trainer_dropout_t *drop;

    /* Overlapped validation: a copy of the weights and its own buffers. */
    trainer_model_t *snapshot; /* NULL when the run cannot overlap */
    trainer_scratch_t *vs;
    int32_t *vlabels;
    double val_loss, val_accuracy; /* results of the last validation of the snapshot */
    atomic_int val_state;          /* VAL_* */

    run_position_t pos; /* [owner] */
    int resumed;        /* [owner] pos came from a checkpoint */

    /* Phases: claim packs gen (24 bits) | task count (20) | next task (20). */
    _Atomic uint64_t claim;
    atomic_uint done;
    uint32_t gen;                 /* [owner] */
    int phase;                    /* [phase] PHASE_* */
    size_t phase_layer;           /* [phase] FORWARD and BACKWARD: the layer */
    size_t phase_rows;            /* [phase] rows of the current mini-batch */
    const size_t *phase_idx;      /* [phase] their indices in the dataset */
    trainer_optim_step_t step;    /* [phase] UPDATE: this mini-batch's constants */
    trainer_optim_state_t ostate; /* the buffers above, as optim.c takes them */

    atomic_int helpers;                     /* threads inside trainer_run_help */
    atomic_size_t helper_tasks, overlapped; /* figures for the result */
    atomic_int closed;                      /* the owner has finished */
};

/* rows.c */
/* True when m's input map is the identity (then rows are copied as they are). */
int run_scaling_is_identity(const trainer_model_t *m);
/* dst[n][f] = (x[idx[i]] - shift) * scale with m's input map (copied as is when identity);
 * labels alongside. With drop (may be NULL) and its p_input > 0, input dropout on the way, row i
 * at pass position pos0 + i. */
void gather_rows(const trainer_dataset_t *ds, const trainer_model_t *m, int identity, float *dst,
                 int32_t *labels, const size_t *idx, size_t n, const trainer_dropout_t *drop,
                 uint64_t pos0);
/* Mean loss and accuracy of m over rows idx[0..n) (rows 0..n when idx is NULL, using tmp_idx),
 * in forward passes of `chunk` rows through s. */
void measure_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t chunk, int32_t *labels,
                  size_t *tmp_idx, const trainer_dataset_t *ds, const size_t *idx, size_t n,
                  double *loss, double *accuracy);

/* team.c */
/* Publishes a phase of n tasks, works on it, and returns when every task is done. [owner] */
void run_phase(trainer_run_t *r, int phase, size_t n);

/* The mini-batches of one pass of this rank (the share's rows over the batch size). */
static inline size_t run_batches(const trainer_run_t *r) {
    return (r->share_n + r->opt.batch_size - 1) / r->opt.batch_size;
}

/* The 1-based count of the mini-batch at pos (the optimiser's step t). */
static inline uint64_t run_step_count(const trainer_run_t *r, const run_position_t *pos) {
    return (uint64_t)(pos->iteration - 1) * run_batches(r) + pos->batch + 1;
}

/* checkpoint.c */
/* Serialises pos, the weights and the optimiser's state (format 2). Returns 0 or MLPT_ENOMEM. */
int run_checkpoint_save(const trainer_run_t *r, const run_position_t *pos, unsigned char **buf,
                        size_t *len);
/* Parses bytes (format 1 or 2) into pos, the weights and the optimiser's state. Returns 0,
 * MLPT_EFORMAT, MLPT_EINVAL. */
int run_checkpoint_load(trainer_run_t *r, const void *bytes, size_t len, run_position_t *pos);

#endif
