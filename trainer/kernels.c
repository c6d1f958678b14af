/*
 * kernels.c - elementwise passes and the GEMM dispatch of the MLP step.
 *
 * The elementwise loops are written so that the compiler vectorises them (no branches it cannot
 * turn into selects, no libm calls in the inner loop: exp is our own polynomial). On x86-64 each
 * is compiled three times, for AVX-512, AVX2+FMA and baseline x86-64, and the widest the CPU
 * has is picked at run time from cpuid (trainer_kernels_isa), so one binary runs everywhere at
 * full width. GCC's target_clones did this before, with an "arch=haswell" clone that its
 * resolver only picks on Intel Haswell-family CPUs (__builtin_cpu_is): AMD Zen and newer Intel
 * CPUs without AVX-512 ran the baseline clone, where the sigmoid stayed scalar.
 */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(MLPT_NO_CLONES)
#define KERNEL_VARIANTS 1
#define ALWAYS_INLINE __attribute__((always_inline))
#define TARGET_AVX512 __attribute__((target("avx512f")))
/* The exp-based activations clamp their input with float comparisons. Under the default
 * -ftrapping-math GCC keeps those as branches unless the target has mask registers (AVX-512),
 * and the loop stays scalar; the AVX2 variant lifts that for itself (it only lets the compiler
 * ignore floating-point exception flags, which nothing here reads). The other variants keep
 * their code, and their bits, as they were. Clang vectorises the selects as they are. */
#if defined(__clang__)
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define TARGET_AVX2 __attribute__((target("avx2,fma"), optimize("O3", "no-trapping-math")))
#endif
#else
#define KERNEL_VARIANTS 0
#define ALWAYS_INLINE
#endif

/* The widest code path this CPU runs, capped by trainer_kernels_isa_limit (and, in a build for
 * measuring the AVX2 path on an AVX-512 host, by MLPT_KERNELS_MAX_ISA). */
#ifndef MLPT_KERNELS_MAX_ISA
#define MLPT_KERNELS_MAX_ISA TRAINER_ISA_AVX512
#endif
static atomic_int isa_limit = MLPT_KERNELS_MAX_ISA;

static trainer_isa_t isa_cpu(void) {
#if KERNEL_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return TRAINER_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return TRAINER_ISA_AVX2;
#endif
    return TRAINER_ISA_BASE;
}

trainer_isa_t trainer_kernels_isa(void) {
    trainer_isa_t cpu = isa_cpu();
    int lim = atomic_load_explicit(&isa_limit, memory_order_relaxed);
    return (int)cpu < lim ? cpu : (trainer_isa_t)lim;
}

void trainer_kernels_isa_limit(trainer_isa_t limit) {
    atomic_store(&isa_limit, (int)limit);
}

const char *trainer_isa_name(trainer_isa_t isa) {
    switch (isa) {
    case TRAINER_ISA_BASE:
        return "x86-64";
    case TRAINER_ISA_AVX2:
        return "avx2";
    case TRAINER_ISA_AVX512:
        return "avx512";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------------------------ */
/* exp: clamp, split x = n*ln2 + r with |r| <= ln2/2, degree-7 Taylor polynomial for e^r (relative
 * error < 1e-8 on that interval, well under float's 6e-8), scale by 2^n through the exponent
 * bits. Finite for every input; NaN propagates through the clamps' comparisons as the low bound.
 * Always inlined into the loops (whatever their target), so that they vectorise. */
static inline ALWAYS_INLINE float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + round_magic;
    float n = t - round_magic;
    union {
        float f;
        uint32_t u;
    } tn = {.f = t}, scale;
    /* Unsigned, so that the garbage bits a NaN input leaves here wrap instead of overflowing
     * (undefined behaviour); the NaN itself travels on through r and p. */
    uint32_t nu = tn.u - 0x4B400000u;
    float r = x - n * 0.693359375f; /* ln2 split in two so n * ln2_hi is exact */
    r = r + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r * r + r + 1.0f;
    scale.u = (nu + 127u) << 23;
    return p * scale.f;
}

/* The loops, once per code path (kernels_loops.h), each a function of its own with the loop in
 * its body, so that each path's compiler options apply to the whole loop. */
#define LOOP_TARGET
#define LOOP(name) name##_base
#include "kernels_loops.h"
#undef LOOP
#undef LOOP_TARGET
#if KERNEL_VARIANTS
#define LOOP_TARGET TARGET_AVX2
#define LOOP(name) name##_avx2
#include "kernels_loops.h"
#undef LOOP
#undef LOOP_TARGET
#define LOOP_TARGET TARGET_AVX512
#define LOOP(name) name##_avx512
#include "kernels_loops.h"
#undef LOOP
#undef LOOP_TARGET
#endif

/* DISPATCH(name, (params), (args)) defines `name`, which runs the path trainer_kernels_isa picks.
 */
#if KERNEL_VARIANTS
#define DISPATCH(name, params, args)                                                               \
    static void name params {                                                                      \
        switch (trainer_kernels_isa()) {                                                           \
        case TRAINER_ISA_AVX512:                                                                   \
            name##_avx512 args;                                                                    \
            break;                                                                                 \
        case TRAINER_ISA_AVX2:                                                                     \
            name##_avx2 args;                                                                      \
            break;                                                                                 \
        default:                                                                                   \
            name##_base args;                                                                      \
        }                                                                                          \
    }
#else
#define DISPATCH(name, params, args)                                                               \
    static void name params {                                                                      \
        name##_base args;                                                                          \
    }
#endif

/* ------------------------------------------------------------------------------------------ */
static void gemm_naive(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                       size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                acc += (double)a * (double)b;
            }
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * acc) + prev;
        }
    }
}

void trainer_gemm(trainer_gemm_impl_t impl, int ta, int tb, size_t M, size_t N, size_t K,
                  float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
                  float *C, size_t ldc) {
    if (M == 0 || N == 0)
        return;
    if (impl == TRAINER_GEMM_NAIVE) {
        gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* ------------------------------------------------------------------------------------------ */
DISPATCH(bias_sigmoid, (float *Y, const float *bias, size_t rows, size_t cols),
         (Y, bias, rows, cols))

DISPATCH(bias_tanh, (float *Y, const float *bias, size_t rows, size_t cols), (Y, bias, rows, cols))

DISPATCH(bias_relu, (float *Y, const float *bias, size_t rows, size_t cols), (Y, bias, rows, cols))

void trainer_bias_act_forward(float *Y, const float *bias, size_t rows, size_t cols,
                              trainer_activation_t act) {
    switch (act) {
    case TRAINER_ACT_SIGMOID:
        bias_sigmoid(Y, bias, rows, cols);
        break;
    case TRAINER_ACT_TANH:
        bias_tanh(Y, bias, rows, cols);
        break;
    case TRAINER_ACT_RELU:
        bias_relu(Y, bias, rows, cols);
        break;
    }
}

DISPATCH(sigmoid_backward, (float *dA, const float *A, size_t n), (dA, A, n))

DISPATCH(tanh_backward, (float *dA, const float *A, size_t n), (dA, A, n))

DISPATCH(relu_backward, (float *dA, const float *A, size_t n), (dA, A, n))

void trainer_act_backward(float *dA, const float *A, size_t n, trainer_activation_t act) {
    switch (act) {
    case TRAINER_ACT_SIGMOID:
        sigmoid_backward(dA, A, n);
        break;
    case TRAINER_ACT_TANH:
        tanh_backward(dA, A, n);
        break;
    case TRAINER_ACT_RELU:
        relu_backward(dA, A, n);
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
void trainer_softmax_xent(float *Z, float *probs, const int32_t *y, size_t rows, size_t cols,
                          float grad_scale, double *loss_sum, size_t *correct) {
    double loss = 0.0;
    size_t hits = 0;
    for (size_t i = 0; i < rows; i++) {
        float *z = Z + i * cols;
        size_t arg = 0;
        float zmax = z[0];
        int finite = isfinite(z[0]) != 0;
        for (size_t j = 1; j < cols; j++) {
            if (z[j] > zmax) {
                zmax = z[j];
                arg = j;
            }
            finite &= isfinite(z[j]) != 0;
        }
        float zy = z[y[i]];
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            z[j] = expf(z[j] - zmax);
            sum += z[j];
        }
        /* A -Inf logit off the label would leave the shifted sum finite: say NaN instead. */
        loss += finite ? log(sum) - (double)(zy - zmax) : NAN;
        hits += arg == (size_t)y[i];
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < cols; j++) {
            float p = z[j] * inv;
            if (probs)
                probs[i * cols + j] = p;
            z[j] = (p - (j == (size_t)y[i] ? 1.0f : 0.0f)) * grad_scale;
        }
    }
    *loss_sum += loss;
    *correct += hits;
}

void trainer_softmax(float *Z, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *z = Z + i * cols;
        float zmax = z[0];
        for (size_t j = 1; j < cols; j++)
            zmax = z[j] > zmax ? z[j] : zmax;
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            z[j] = expf(z[j] - zmax);
            sum += z[j];
        }
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < cols; j++)
            z[j] *= inv;
    }
}

DISPATCH(bias_add, (float *Y, const float *bias, size_t rows, size_t cols), (Y, bias, rows, cols))

void trainer_bias_add(float *Y, const float *bias, size_t rows, size_t cols) {
    bias_add(Y, bias, rows, cols);
}

DISPATCH(colsum,
         (float *out, const float *D, size_t rows, size_t cols, size_t ld, float alpha, float beta),
         (out, D, rows, cols, ld, alpha, beta))

void trainer_colsum(float *out, const float *D, size_t rows, size_t cols, size_t ld, float alpha,
                    float beta) {
    colsum(out, D, rows, cols, ld, alpha, beta);
}

DISPATCH(axpy, (float *y, const float *x, size_t n, float a), (y, x, n, a))

void trainer_axpy(float *y, const float *x, size_t n, float a) {
    axpy(y, x, n, a);
}

DISPATCH(scale_row,
         (float *dst, const float *src, const float *shift, const float *scale, size_t n),
         (dst, src, shift, scale, n))

void trainer_scale_row(float *dst, const float *src, const float *shift, const float *scale,
                       size_t n) {
    scale_row(dst, src, shift, scale, n);
}

/* ------------------------------------------------------------------------------------------ */
void trainer_blas_set_threads(int threads) {
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}

int trainer_blas_threads(void) {
    return openblas_get_num_threads();
}

const char *trainer_blas_core(void) {
    return openblas_get_corename();
}

const char *trainer_blas_better_core(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    static const char *const generic[] = {
        "Prescott",   "Core2",     "Penryn", "Dunnington", "Nehalem",   "Atom",   "Katmai",
        "Coppermine", "Northwood", "Banias", "Opteron",    "Barcelona", "Bobcat", "Sandybridge"};
    const char *core = openblas_get_corename();
    int fallback = 0;
    for (size_t i = 0; core && i < sizeof generic / sizeof generic[0]; i++)
        fallback |= strcasecmp(core, generic[i]) == 0;
    if (!fallback)
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}
