/*
 * dropout.c - inverted dropout with counter-based masks (see dropout.h).
 *
 * The hash: a 64-bit key per iteration, mix64(mix64(seed ^ tag) + mix64(iteration)); a 64-bit
 * key per (row position, layer), mix64(key ^ mix64(pos * 17 + layer)), split into words a and b;
 * and per unit u the 32-bit mix32((a + u) ^ b). mix64 is SplitMix64's finaliser, mix32 a
 * two-multiply xorshift-multiply finaliser (the "lowbias32" constants of Wellons' hash
 * prospector); both are bijections, so within a row every unit gets its own hash. A unit is
 * dropped when its hash is below cut = floor(p * 2^32): probability p to 2^-32.
 *
 * The per-unit hash is six 32-bit integer operations, which GCC vectorises (8 lanes on AVX2);
 * the masked loops are compiled for AVX-512, AVX2+FMA and baseline x86-64 as kernels.c's are.
 * A hidden layer's row is activated (kernels.c) and masked in blocks of BLOCK units, each block
 * masked right after its activation while it is in L1: the mask adds no pass over the layer in
 * memory, and the activation stays the one kernels.c tunes, so a kept unit is exactly
 * act(z) / (1 - p) and p = 0 is exactly the plain pass.
 */
#include "dropout.h"

#include <stdlib.h>
#include <string.h>

/* AVX-512, AVX2 and baseline clones picked by the CPU's features (not "arch=haswell", which
 * GCC's resolver picks only on Intel's Haswell family: AMD's Zen would run the baseline). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MLPT_NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define VECTOR_CLONES
#endif

#define BLOCK 1024                            /* units activated and masked at a time */
#define LAYER_CODES (TRAINER_MAX_HIDDEN + 1)  /* the input and each hidden layer */
#define SEED_TAG UINT64_C(0x64726f706f757421) /* "dropout!": apart from the rng's streams */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* The row's key for layer code `layer` (0 input, l + 1 hidden layer l). */
static inline uint64_t row_key(const trainer_dropout_t *d, size_t layer, uint64_t pos) {
    return mix64(d->key ^ mix64(pos * LAYER_CODES + layer));
}

/* v where mask is all ones, +0 where it is 0: a select GCC vectorises (a conditional expression
 * over floats is not if-converted under the default -ftrapping-math). */
static inline float keep_or_zero(float v, uint32_t mask) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= mask;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static uint32_t cut_of(float p) {
    return (uint32_t)((double)p * 4294967296.0); /* p < 1: at most 2^32 - 256 */
}

trainer_dropout_t *trainer_dropout_new(const trainer_arch_t *arch, size_t max_rows, float p_input,
                                       float p_hidden, uint64_t seed) {
    if (!arch || max_rows == 0 || !(p_input >= 0.0f && p_input < 1.0f) ||
        !(p_hidden >= 0.0f && p_hidden < 1.0f) || arch->n_hidden > TRAINER_MAX_HIDDEN)
        return NULL;
    trainer_dropout_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->p_input = p_input;
    d->p_hidden = p_hidden;
    d->inv_input = 1.0f / (1.0f - p_input);
    d->inv_hidden = 1.0f / (1.0f - p_hidden);
    d->cut_input = cut_of(p_input);
    d->cut_hidden = cut_of(p_hidden);
    d->seed_key = mix64(seed ^ SEED_TAG);
    d->max_rows = max_rows;
    d->n_hidden = arch->n_hidden;
    size_t bytes = 0;
    for (size_t l = 0; l < arch->n_hidden; l++) {
        d->width[l] = arch->hidden[l];
        bytes += (max_rows * d->width[l] + 63) / 64 * 64;
    }
    if (p_hidden > 0.0f && bytes > 0) {
        d->block = aligned_alloc(64, bytes);
        if (!d->block) {
            free(d);
            return NULL;
        }
        uint8_t *p = d->block;
        for (size_t l = 0; l < arch->n_hidden; l++) {
            d->mask[l] = p;
            p += (max_rows * d->width[l] + 63) / 64 * 64;
        }
    }
    trainer_dropout_at(d, 1, 0);
    return d;
}

void trainer_dropout_free(trainer_dropout_t *d) {
    if (!d)
        return;
    free(d->block);
    free(d);
}

void trainer_dropout_at(trainer_dropout_t *d, size_t iteration, uint64_t row0) {
    d->key = mix64(d->seed_key + mix64((uint64_t)iteration));
    d->row0 = row0;
}

int trainer_dropout_keep(const trainer_dropout_t *d, size_t layer, uint64_t pos, size_t unit) {
    uint64_t k = row_key(d, layer, pos);
    uint32_t cut = layer == 0 ? d->cut_input : d->cut_hidden;
    return mix32(((uint32_t)k + (uint32_t)unit) ^ (uint32_t)(k >> 32)) >= cut;
}

/* ------------------------------------------------------------------------------------------ */
VECTOR_CLONES
static void gather_scaled(float *dst, const float *src, const float *shift, const float *scale,
                          size_t n, uint32_t a, uint32_t b, uint32_t cut, float inv) {
    for (size_t j = 0; j < n; j++) {
        uint32_t h = mix32((a + (uint32_t)j) ^ b);
        float v = (src[j] - shift[j]) * scale[j] * inv;
        dst[j] = keep_or_zero(v, -(uint32_t)(h >= cut));
    }
}

VECTOR_CLONES
static void gather_plain(float *dst, const float *src, size_t n, uint32_t a, uint32_t b,
                         uint32_t cut, float inv) {
    for (size_t j = 0; j < n; j++) {
        uint32_t h = mix32((a + (uint32_t)j) ^ b);
        dst[j] = keep_or_zero(src[j] * inv, -(uint32_t)(h >= cut));
    }
}

void trainer_dropout_gather_row(const trainer_dropout_t *d, float *dst, const float *src,
                                const float *shift, const float *scale, size_t features,
                                uint64_t pos) {
    uint64_t k = row_key(d, 0, pos);
    uint32_t a = (uint32_t)k, b = (uint32_t)(k >> 32);
    if (shift)
        gather_scaled(dst, src, shift, scale, features, a, b, d->cut_input, d->inv_input);
    else
        gather_plain(dst, src, features, a, b, d->cut_input, d->inv_input);
}

/* y[n] (units u0 .. u0 + n of the row) kept and scaled or zeroed; keep[n] their keep bytes. */
VECTOR_CLONES
static void mask_block(float *y, uint8_t *keep, size_t n, uint32_t a, uint32_t b, uint32_t u0,
                       uint32_t cut, float inv) {
    for (size_t j = 0; j < n; j++) {
        uint32_t h = mix32((a + u0 + (uint32_t)j) ^ b);
        keep[j] = (uint8_t)(h >= cut);
        y[j] = keep_or_zero(y[j] * inv, -(uint32_t)(h >= cut));
    }
}

void trainer_dropout_bias_act(trainer_dropout_t *d, size_t l, float *Y, size_t ld,
                              const float *bias, size_t r0, size_t rows, size_t c0, size_t cols,
                              trainer_activation_t act) {
    if (d->p_hidden == 0.0f) { /* the plain pass, bit for bit */
        for (size_t r = 0; r < rows; r++)
            trainer_bias_act_forward(Y + r * ld, bias, 1, cols, act);
        return;
    }
    size_t width = d->width[l];
    for (size_t r = 0; r < rows; r++) {
        uint64_t k = row_key(d, l + 1, d->row0 + r0 + r);
        uint32_t a = (uint32_t)k, b = (uint32_t)(k >> 32);
        float *y = Y + r * ld;
        uint8_t *keep = d->mask[l] + (r0 + r) * width + c0;
        for (size_t j = 0; j < cols; j += BLOCK) {
            size_t n = cols - j < BLOCK ? cols - j : BLOCK;
            trainer_bias_act_forward(y + j, bias + j, 1, n, act);
            mask_block(y + j, keep + j, n, a, b, (uint32_t)(c0 + j), d->cut_hidden, d->inv_hidden);
        }
    }
}

/* dA[n] *= keep * d(A_s)/dz for A_s = keep * act(z) / q, the stored output (q = 1 - p):
 * act(z) = q * A_s for a kept unit. */
VECTOR_CLONES
static void back_sigmoid(float *dA, const float *A, const uint8_t *keep, size_t n, float q) {
    for (size_t j = 0; j < n; j++) { /* (1/q) * a * (1 - a) with a = q * A_s */
        dA[j] = keep_or_zero(dA[j] * A[j] * (1.0f - q * A[j]), -(uint32_t)keep[j]);
    }
}

VECTOR_CLONES
static void back_tanh(float *dA, const float *A, const uint8_t *keep, size_t n, float q,
                      float inv) {
    for (size_t j = 0; j < n; j++) {
        float a = q * A[j];
        dA[j] = keep_or_zero(dA[j] * inv * (1.0f - a * a), -(uint32_t)keep[j]);
    }
}

VECTOR_CLONES
static void back_relu(float *dA, const float *A, const uint8_t *keep, size_t n, float inv) {
    for (size_t j = 0; j < n; j++) {
        uint32_t on = (uint32_t)keep[j] & (uint32_t)(A[j] > 0.0f);
        dA[j] = keep_or_zero(dA[j] * inv, -on);
    }
}

void trainer_dropout_act_backward(const trainer_dropout_t *d, size_t l, float *dA, const float *A,
                                  size_t ld, size_t r0, size_t rows, size_t c0, size_t cols,
                                  trainer_activation_t act) {
    size_t width = d->width[l];
    float q = 1.0f - d->p_hidden, inv = d->inv_hidden;
    for (size_t r = 0; r < rows; r++) {
        float *g = dA + r * ld;
        const float *y = A + r * ld;
        if (d->p_hidden == 0.0f) {
            trainer_act_backward(g, y, cols, act);
            continue;
        }
        const uint8_t *keep = d->mask[l] + (r0 + r) * width + c0;
        switch (act) {
        case TRAINER_ACT_SIGMOID:
            back_sigmoid(g, y, keep, cols, q);
            break;
        case TRAINER_ACT_TANH:
            back_tanh(g, y, keep, cols, q, inv);
            break;
        case TRAINER_ACT_RELU:
            back_relu(g, y, keep, cols, inv);
            break;
        }
    }
}
