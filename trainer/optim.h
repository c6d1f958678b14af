/*
 * trainer/optim.h - the optimisers, their regularisation and the learning-rate schedules of a
 * run (trainer_options_t's tail, train.h).
 *
 * Per mini-batch the owner computes the step's constants (trainer_optim_prepare, with the rate
 * trainer_schedule_lr gives for the position); then every task of the update stage applies them
 * to one layer and column slice (trainer_optim_update), so the update still shares out like the
 * rest of the step and its numbers do not depend on which thread runs which slice.
 *
 * With g the gradient of the mean loss (data term, over the nominal batch size B), lr the
 * scheduled rate, m the momentum (TRAINER_OPT_MOMENTUM / NESTEROV: 0.9 when the options say 0),
 * c = l2 / B on weights (never biases), and the decay d = 1 - lr * weight_decay applied to
 * weights and biases by every optimiser but adam:
 *   sgd, momentum:  v = m v + g + c w;  w = d w - lr v          (m = 0: w = d w - lr (g + c w))
 *   nesterov:       g' = g + c w;  v = m v + g';  w = d w - lr (g' + m v)
 *   rmsprop:        g' = g + c w;  s = rho s + (1 - rho) g'^2;  u = g' / (sqrt(s) + eps);
 *                   with m > 0: v = m v + u, w = d w - lr v; else w = d w - lr u
 *   adam:           g' = g + c w + weight_decay w;  t = the step's 1-based count;
 *                   a = b1 a + (1 - b1) g';  s = b2 s + (1 - b2) g'^2;
 *                   w = w - lr / (1 - b1^t) * a / (sqrt(s) / sqrt(1 - b2^t) + eps)
 *   adamw:          adam with g' = g + c w, then the decay: w = d w_old - (adam's step)
 * (PyTorch's SGD(nesterov), RMSprop, Adam and AdamW; the Adam formula is PyTorch's, which puts
 * eps outside the bias correction.) The plain SGD step is folded into the weight-gradient GEMM
 * (alpha -lr, beta d - lr c); heavy ball makes the GEMM write the velocity (beta m); the others
 * have the GEMM write the gradient slice and then make one fused pass over it, the moments and
 * the weights. sgd and momentum without l2 or weight decay run exactly the code of before
 * (trainer_mlp_part_update), bit for bit.
 *
 * Schedules, pure functions of the position (iteration e, 1-based; mini-batch b of the pass,
 * 0-based; batches per pass N; planned iterations E; rows per pass n), with k = (e - 1) N + b
 * the mini-batches trained before this one:
 *   constant:   lr
 *   step:       lr * lr_gamma^floor((e - 1) / lr_step)
 *   cosine:     lr_min + (lr - lr_min) (1 + cos(pi * max(0, k - W) / (E N - W))) / 2
 *   invscaling: lr / ((e - 1) n + 1)^power_t   (scikit-learn's, updated per iteration)
 * then, within the warmup's W = warmup * N mini-batches, times (k + 1) / W.
 *
 * Pure functions on the caller's buffers: any thread.
 */
#ifndef TRAINER_OPTIM_H
#define TRAINER_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "train.h"

/* One mini-batch's constants, the same for every slice of its update. */
typedef struct trainer_optim_step {
    trainer_optimizer_t kind;
    float lr;       /* the scheduled rate */
    float momentum; /* the effective momentum (0: none) */
    float l2c;      /* l2 / batch_size, on weights */
    float wd;       /* adam: weight_decay, added to the gradient of weights and biases */
    float decay;    /* 1 - lr * weight_decay (1 for adam) */
    float b1, b2, eps, rho;
    float step_size; /* adam: lr / (1 - b1^t) */
    float inv_bc2;   /* adam: 1 / sqrt(1 - b2^t) */
    int folded;      /* sgd and momentum with neither l2 nor weight_decay: today's path */
} trainer_optim_step_t;

/* The optimiser's state, n_params floats each in the parameter layout, NULL when unused. */
typedef struct trainer_optim_state {
    float *velocity; /* heavy ball's and nesterov's v, rmsprop's momentum buffer, adam's a */
    float *second;   /* rmsprop's and adam's s */
    float *grad;     /* scratch: the gradient, for the optimisers that need it apart */
} trainer_optim_state_t;

/* Checks the optimiser and schedule fields (see train.h). Returns 0 or MLPT_EINVAL. */
int trainer_optim_check(const trainer_options_t *opt);

/* The momentum the optimiser uses (0.9 for momentum and nesterov when opt->momentum is 0). */
float trainer_optim_momentum(const trainer_options_t *opt);

/* Which buffers of trainer_optim_state_t the options need (non-zero: needed). */
void trainer_optim_buffers(const trainer_options_t *opt, int *velocity, int *second, int *grad);

/* The constants of the t-th mini-batch (1-based) trained at rate lr. */
void trainer_optim_prepare(const trainer_options_t *opt, float lr, uint64_t t,
                           trainer_optim_step_t *st);

/* Applies the batch's gradient (rows rows in s, after the backward stage) to output columns
 * [c0, c1) of layer l, with the state's slices of the same columns. */
void trainer_optim_update(trainer_model_t *m, trainer_scratch_t *s, size_t rows, size_t l,
                          size_t c0, size_t c1, const trainer_optim_step_t *st,
                          const trainer_optim_state_t *state);

/* The scheduled rate at mini-batch `batch` (0-based) of iteration `iteration` (1-based), with
 * `batches` mini-batches and `rows` training rows per pass. */
float trainer_schedule_lr(const trainer_options_t *opt, size_t iteration, size_t batch,
                          size_t batches, size_t rows);

#endif
