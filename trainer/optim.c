/*
 * optim.c - the optimisers' update of one layer and column slice (formulas in optim.h).
 *
 * Each update is the weight-gradient GEMM (into the weights, the velocity or the gradient
 * scratch) and at most one fused pass over the slice: per weight row of the slice, then the
 * biases, a loop reading the gradient and the moments once and writing the moments and the
 * weights once. Calls mlp.c (the GEMM), never train.c or team.c.
 */
#include "optim.h"

#include <math.h>

#include "mlpt_err.h"

static int in_unit_open(float x) {
    return x >= 0.0f && x < 1.0f;
}

static int nonneg(float x) {
    return x >= 0.0f && isfinite(x);
}

int trainer_optim_check(const trainer_options_t *o) {
    if ((unsigned)o->optimizer > TRAINER_OPT_RMSPROP ||
        (unsigned)o->schedule > TRAINER_SCHED_INVSCALING)
        return MLPT_EINVAL;
    if (!in_unit_open(o->beta1) || !in_unit_open(o->beta2) || !in_unit_open(o->rho))
        return MLPT_EINVAL;
    if (!nonneg(o->epsilon) || !nonneg(o->l2) || !nonneg(o->weight_decay) || !nonneg(o->lr_min) ||
        !nonneg(o->power_t) || !(o->lr_gamma >= 0.0f && o->lr_gamma <= 1.0f))
        return MLPT_EINVAL;
    int adaptive = o->optimizer == TRAINER_OPT_ADAM || o->optimizer == TRAINER_OPT_ADAMW ||
                   o->optimizer == TRAINER_OPT_RMSPROP;
    if (adaptive && !(o->epsilon > 0.0f))
        return MLPT_EINVAL;
    if (o->schedule == TRAINER_SCHED_STEP && (!(o->lr_gamma > 0.0f) || o->lr_step < 1))
        return MLPT_EINVAL;
    if (o->warmup > TRAINER_MAX_ITERATIONS || o->lr_step > TRAINER_MAX_ITERATIONS)
        return MLPT_EINVAL;
    return 0;
}

float trainer_optim_momentum(const trainer_options_t *o) {
    if ((o->optimizer == TRAINER_OPT_MOMENTUM || o->optimizer == TRAINER_OPT_NESTEROV) &&
        o->momentum == 0.0f)
        return 0.9f;
    if (o->optimizer == TRAINER_OPT_ADAM || o->optimizer == TRAINER_OPT_ADAMW)
        return 0.0f;
    return o->momentum;
}

void trainer_optim_buffers(const trainer_options_t *o, int *velocity, int *second, int *grad) {
    int adam = o->optimizer == TRAINER_OPT_ADAM || o->optimizer == TRAINER_OPT_ADAMW;
    *velocity = adam || trainer_optim_momentum(o) > 0.0f;
    *second = adam || o->optimizer == TRAINER_OPT_RMSPROP;
    *grad = adam || o->optimizer == TRAINER_OPT_RMSPROP || o->optimizer == TRAINER_OPT_NESTEROV;
}

void trainer_optim_prepare(const trainer_options_t *o, float lr, uint64_t t,
                           trainer_optim_step_t *st) {
    int adam = o->optimizer == TRAINER_OPT_ADAM;
    *st = (trainer_optim_step_t){
        .kind = o->optimizer,
        .lr = lr,
        .momentum = trainer_optim_momentum(o),
        .l2c = o->l2 / (float)o->batch_size,
        .wd = adam ? o->weight_decay : 0.0f,
        .decay = adam ? 1.0f : 1.0f - lr * o->weight_decay,
        .b1 = o->beta1,
        .b2 = o->beta2,
        .eps = o->epsilon,
        .rho = o->rho,
    };
    if (o->optimizer == TRAINER_OPT_ADAM || o->optimizer == TRAINER_OPT_ADAMW) {
        double n = (double)(t ? t : 1);
        st->step_size = (float)((double)lr / (1.0 - pow((double)o->beta1, n)));
        st->inv_bc2 = (float)(1.0 / sqrt(1.0 - pow((double)o->beta2, n)));
    }
    st->folded = (o->optimizer == TRAINER_OPT_SGD || o->optimizer == TRAINER_OPT_MOMENTUM) &&
                 o->l2 == 0.0f && o->weight_decay == 0.0f;
}

/* ---- the fused passes: n elements of one row of a slice, c the L2-like coefficient ---------- */

/* Each pass compiled for AVX-512, AVX2 and baseline x86-64, picked at load by the CPU's
 * features. Not "arch=haswell": GCC's resolver picks that clone only on Intel's Haswell family,
 * so AMD's Zen (AVX2 + FMA) ran the baseline one (see kernels.c, which dispatches by cpuid). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MLPT_NO_CLONES)
#define PASS_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define PASS_CLONES
#endif

PASS_CLONES static void pass_heavy_ball(const trainer_optim_step_t *st, float *restrict w,
                                        float *restrict v, size_t n, float c) {
    const float lr = st->lr, d = st->decay;
    for (size_t i = 0; i < n; i++) {
        float vi = v[i] + c * w[i];
        v[i] = vi;
        w[i] = d * w[i] - lr * vi;
    }
}

PASS_CLONES static void pass_nesterov(const trainer_optim_step_t *st, float *restrict w,
                                      const float *restrict g, float *restrict v, size_t n,
                                      float c) {
    const float lr = st->lr, d = st->decay, mu = st->momentum;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + c * w[i];
        float vi = mu * v[i] + gi;
        v[i] = vi;
        w[i] = d * w[i] - lr * (gi + mu * vi);
    }
}

PASS_CLONES static void pass_rmsprop(const trainer_optim_step_t *st, float *restrict w,
                                     const float *restrict g, float *restrict v, float *restrict s,
                                     size_t n, float c) {
    const float lr = st->lr, d = st->decay, rho = st->rho, eps = st->eps, mu = st->momentum;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + c * w[i];
        float si = rho * s[i] + (1.0f - rho) * gi * gi;
        s[i] = si;
        float u = gi / (sqrtf(si) + eps);
        if (mu > 0.0f) {
            u = mu * v[i] + u;
            v[i] = u;
        }
        w[i] = d * w[i] - lr * u;
    }
}

PASS_CLONES static void pass_adam(const trainer_optim_step_t *st, float *restrict w,
                                  const float *restrict g, float *restrict a, float *restrict s,
                                  size_t n, float c) {
    const float b1 = st->b1, b2 = st->b2, eps = st->eps, k = st->step_size, ib = st->inv_bc2;
    const float d = st->decay;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + c * w[i];
        float ai = b1 * a[i] + (1.0f - b1) * gi;
        float si = b2 * s[i] + (1.0f - b2) * gi * gi;
        a[i] = ai;
        s[i] = si;
        w[i] = d * w[i] - k * ai / (sqrtf(si) * ib + eps);
    }
}

/* One row segment: weights (c = the weights' coefficient) or biases. */
static void fused(const trainer_optim_step_t *st, const trainer_optim_state_t *x, size_t off,
                  float *w, size_t n, float c) {
    float *g = x->grad ? x->grad + off : NULL, *v = x->velocity ? x->velocity + off : NULL;
    float *s = x->second ? x->second + off : NULL;
    switch (st->kind) {
    case TRAINER_OPT_SGD:
    case TRAINER_OPT_MOMENTUM:
        pass_heavy_ball(st, w, v, n, c);
        break;
    case TRAINER_OPT_NESTEROV:
        pass_nesterov(st, w, g, v, n, c);
        break;
    case TRAINER_OPT_RMSPROP:
        pass_rmsprop(st, w, g, v, s, n, c);
        break;
    case TRAINER_OPT_ADAM:
    case TRAINER_OPT_ADAMW:
        pass_adam(st, w, g, v, s, n, c);
        break;
    }
}

void trainer_optim_update(trainer_model_t *m, trainer_scratch_t *s, size_t rows, size_t l,
                          size_t c0, size_t c1, const trainer_optim_step_t *st,
                          const trainer_optim_state_t *x) {
    if (st->folded) { /* sgd and momentum as they always were */
        trainer_mlp_part_update(m, s, rows, l, c0, c1, st->lr, st->momentum, x->velocity);
        return;
    }
    size_t in, out, w = c1 - c0;
    float *W = trainer_layer_weights(&m->arch, m->params, l, &in, &out);
    size_t base = (size_t)(W - m->params);
    if (w == 0)
        return;
    int heavy = st->kind == TRAINER_OPT_SGD || st->kind == TRAINER_OPT_MOMENTUM;
    if (heavy && !(st->momentum > 0.0f)) { /* plain SGD: all of it inside the GEMM */
        float lr = st->lr;
        trainer_mlp_part_gemm(m, s, rows, l, c0, c1, -lr, st->decay - lr * st->l2c, st->decay,
                              m->params);
        return;
    }
    if (heavy) /* v = m v + g in the GEMM, then the L2 term and the decay in one pass */
        trainer_mlp_part_gemm(m, s, rows, l, c0, c1, 1.0f, st->momentum, st->momentum, x->velocity);
    else
        trainer_mlp_part_gemm(m, s, rows, l, c0, c1, 1.0f, 0.0f, 0.0f, x->grad);
    for (size_t i = 0; i < in; i++)
        fused(st, x, base + i * out + c0, W + i * out + c0, w, st->l2c + st->wd);
    fused(st, x, base + in * out + c0, W + in * out + c0, w, st->wd);
}
