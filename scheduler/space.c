/*
 * space.c - the draw of a sampling sweep's k-th trial (space.h): each dimension's uniform
 * number comes from a counter-based generator keyed by (seed, k, dimension), so no state is
 * carried from one trial to the next.
 */
#include <math.h>
#include <string.h>

#include "space.h"

/* SplitMix64's finaliser: a good 64-bit mix of its input. */
static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniform number in [0, 1) for dimension d of trial k. */
static double unit(uint64_t seed, uint64_t k, uint64_t d) {
    uint64_t h = mix(mix(mix(seed) ^ k) ^ (d + 1) * 0x2545f4914f6cdd1dULL);
    return (double)(h >> 11) * 0x1.0p-53;
}

static size_t pick(size_t n, double u) {
    size_t i = (size_t)(u * (double)n);
    return i < n ? i : n - 1;
}

/* An integer of a range or list dimension. */
static uint64_t draw_int(const sched_dim_t *d, double u) {
    if (d->kind == SCHED_DIM_LIST)
        return d->list[pick(d->n, u)].i;
    double x;
    if (d->log) /* log-uniform over [low, high + 1), then floored */
        x = floor(exp(log(d->low) + u * (log(d->high + 1.0) - log(d->low))));
    else
        x = d->low + floor(u * (d->high - d->low + 1.0));
    if (x > d->high)
        x = d->high;
    if (x < d->low)
        x = d->low;
    return (uint64_t)x;
}

static double draw_real(const sched_dim_t *d, double u) {
    if (d->kind == SCHED_DIM_LIST)
        return d->list[pick(d->n, u)].r;
    double x = d->log ? exp(log(d->low) + u * (log(d->high) - log(d->low)))
                      : d->low + u * (d->high - d->low);
    return x > d->high ? d->high : x < d->low ? d->low : x;
}

void sched_space_draw(const sched_space_t *sp, uint64_t seed, uint64_t k, sched_params_t *out) {
    *out = sp->base;
    uint64_t d = 0;
    for (size_t i = 0; i < sched_param_count && i < SCHED_PARAM_MAX; i++) {
        const sched_param_t *r = &sched_param_table[i];
        const sched_dim_t *dim = &sp->dim[i];
        double u = unit(seed, k, d++);
        if (r->type == SCHED_PARAM_SHAPE) {
            size_t depth = sp->hidden_layers.kind ? (size_t)draw_int(&sp->hidden_layers, u) : 0;
            size_t width =
                sp->neurons.kind ? (size_t)draw_int(&sp->neurons, unit(seed, k, d++)) : 1;
            if (depth > TRAINER_MAX_HIDDEN)
                depth = TRAINER_MAX_HIDDEN;
            memset(&out->shape, 0, sizeof out->shape);
            out->shape.n_hidden = depth;
            for (size_t l = 0; l < depth; l++)
                out->shape.hidden[l] = width;
            continue;
        }
        if (dim->kind == SCHED_DIM_NONE)
            continue;
        sched_value_t v;
        memset(&v, 0, sizeof v);
        if (r->type == SCHED_PARAM_INT)
            v.i = draw_int(dim, u);
        else if (r->type == SCHED_PARAM_REAL)
            v.r = draw_real(dim, u);
        else
            v.e = dim->list[pick(dim->n, u)].e;
        sched_param_set(r, out, &v);
    }
}
