/*
 * trainer/dropout.h - inverted dropout whose masks are a pure function of the position.
 *
 * A unit is kept with probability 1 - p and then scaled by 1 / (1 - p), else zeroed, so the
 * expected activation is unchanged and validation and prediction run the net as it is.
 * Which units are kept is decided by a counter-based hash of
 *     (seed, iteration, position of the row in the pass's shuffled order, layer, unit)
 * and nothing else: not the partition count, the thread that runs a slice, the helpers, the rank
 * that trains the row (ranks train shares of the same order) or an interruption (a resumed run
 * sits at the same positions), so all of these draw the same masks bit for bit.
 *
 * The input layer's mask applies to the gathered, scaled batch (trainer_dropout_gather_row): the
 * first layer's weight gradient sees the dropped inputs. A hidden layer's mask is drawn in its
 * activation pass (trainer_dropout_bias_act, called by mlp.c's forward when a dropout is attached
 * to the scratch: trainer_scratch_set_dropout) and kept as one byte per unit, so the backward
 * pass (trainer_dropout_act_backward) multiplies the gradient by the same mask without drawing
 * it again: one byte load per unit instead of a second hash.
 *
 * Threads: the state is written by the run's owner between mini-batches (trainer_dropout_at);
 * during a mini-batch any thread may run the kernels on disjoint rows or columns.
 */
#ifndef TRAINER_DROPOUT_H
#define TRAINER_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "mlp.h"

typedef struct trainer_dropout {
    float p_input, p_hidden;        /* drop probabilities, [0, 1) */
    float inv_input, inv_hidden;    /* 1 / (1 - p) */
    uint32_t cut_input, cut_hidden; /* a unit is dropped when its 32-bit hash is below this */
    uint64_t seed_key;              /* from the seed */
    uint64_t key;                   /* from the seed and the iteration (trainer_dropout_at) */
    uint64_t row0;                  /* the pass position of the scratch's row 0 */
    size_t max_rows;
    size_t n_hidden;
    size_t width[TRAINER_MAX_HIDDEN];  /* hidden widths: the masks' row strides */
    uint8_t *mask[TRAINER_MAX_HIDDEN]; /* hidden layer l's keep bytes, [max_rows][hidden[l]] */
    uint8_t *block;                    /* one allocation for the masks */
} trainer_dropout_t;

/* Creates the state for an architecture, mini-batches of up to max_rows rows, probabilities
 * p_input and p_hidden in [0, 1) and a seed. Returns NULL for a probability outside [0, 1) (or
 * NaN), max_rows 0 or memory running out. Free with trainer_dropout_free (accepts NULL). */
trainer_dropout_t *trainer_dropout_new(const trainer_arch_t *arch, size_t max_rows, float p_input,
                                       float p_hidden, uint64_t seed);
void trainer_dropout_free(trainer_dropout_t *d);

/* Places the next mini-batch: iteration (1-based) and the pass position of its first row (its
 * index in the pass's shuffled order of the training rows). [owner] */
void trainer_dropout_at(trainer_dropout_t *d, size_t iteration, uint64_t row0);

/* The keep decision of unit `unit` of layer `layer` (0 the input, l + 1 hidden layer l) for the
 * row at pass position `pos`, with d's current iteration: 1 kept, 0 dropped. The reference the
 * kernels follow (tests). */
int trainer_dropout_keep(const trainer_dropout_t *d, size_t layer, uint64_t pos, size_t unit);

/* Whether d drops hidden units (d not NULL, p_hidden > 0): mlp.c's passes take the masked
 * kernels below only then, so p_hidden = 0 runs the plain kernels exactly as without d. */
static inline int trainer_dropout_hidden_on(const trainer_dropout_t *d) {
    return d && d->p_hidden > 0.0f;
}

/* Gathers one row with input dropout: dst[j] = (src[j] - shift[j]) * scale[j] * 1/(1-p), or 0
 * for a dropped feature (shift and scale NULL: the identity map). `pos` is the row's pass
 * position. */
void trainer_dropout_gather_row(const trainer_dropout_t *d, float *dst, const float *src,
                                const float *shift, const float *scale, size_t features,
                                uint64_t pos);

/* Hidden layer `l`'s activation with dropout, rows [r0, r0 + rows) of the scratch and columns
 * [c0, c0 + cols): Y (row r0, column c0; row stride ld) = act(Y + bias) (bias at column c0), then
 * each unit kept and scaled or zeroed, its keep byte stored for the backward pass. With
 * p_hidden = 0, the plain activation row by row. */
void trainer_dropout_bias_act(trainer_dropout_t *d, size_t l, float *Y, size_t ld,
                              const float *bias, size_t r0, size_t rows, size_t c0, size_t cols,
                              trainer_activation_t act);

/* The backward of trainer_dropout_bias_act: dA (row r0, column c0; stride ld) *= mask / (1-p) *
 * act'(z), with A (same place and stride) the stored, dropped output: the derivative is taken of
 * the activation before dropout. */
void trainer_dropout_act_backward(const trainer_dropout_t *d, size_t l, float *dA, const float *A,
                                  size_t ld, size_t r0, size_t rows, size_t c0, size_t cols,
                                  trainer_activation_t act);

#endif
