/*
 * trainer/kernels.h - the numeric kernels of an MLP step, in float32.
 *
 * Conventions: outputs first, then inputs, then sizes. Matrices are row-major. In the comments
 * B is the number of rows of a mini-batch, IN and OUT a layer's input and output widths.
 * Each forward kernel sits beside its backward. Matrix products go through trainer_gemm(), which
 * calls cblas_sgemm or, for tests, a naive triple loop that serves as the oracle.
 * All kernels are pure functions of their arguments: any thread, no allocation.
 */
#ifndef TRAINER_KERNELS_H
#define TRAINER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum trainer_activation {
    TRAINER_ACT_SIGMOID = 0,
    TRAINER_ACT_RELU = 1,
    TRAINER_ACT_TANH = 2,
} trainer_activation_t;

/* Which implementation trainer_gemm runs. */
typedef enum trainer_gemm_impl {
    TRAINER_GEMM_BLAS = 0,  /* cblas_sgemm (OpenBLAS) */
    TRAINER_GEMM_NAIVE = 1, /* plain loops with double accumulation: the test oracle */
} trainer_gemm_impl_t;

/* C[M][N] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T as ta/tb say (0 or 1).
 * lda/ldb/ldc are the row strides of A, B, C as stored. With beta == 0, C is not read. */
void trainer_gemm(trainer_gemm_impl_t impl, int ta, int tb, size_t M, size_t N, size_t K,
                  float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
                  float *C, size_t ldc);

/* Y[B][OUT] = act(Y + bias) in place, bias broadcast over rows. */
void trainer_bias_act_forward(float *Y, const float *bias, size_t rows, size_t cols,
                              trainer_activation_t act);

/* dA[n] *= act'(z) where A = act(z) is the forward output (the derivative is computed from A). */
void trainer_act_backward(float *dA, const float *A, size_t n, trainer_activation_t act);

/* Softmax + cross-entropy over Z[B][C] (logits), in one pass per row. Overwrites Z with
 * dZ = (softmax(Z) - onehot(y)) * grad_scale (pass 1/B for the mean loss's gradient); when
 * probs is not NULL it also receives softmax(Z). Adds the summed loss -log p[y] to *loss_sum and
 * the number of rows whose arg-max equals y to *correct. A row whose logits are not finite adds
 * a non-finite loss. */
void trainer_softmax_xent(float *Z, float *probs, const int32_t *y, size_t rows, size_t cols,
                          float grad_scale, double *loss_sum, size_t *correct);

/* Softmax of each row of Z[B][C] in place (probabilities). */
void trainer_softmax(float *Z, size_t rows, size_t cols);

/* Y[B][N] += bias, broadcast over rows (the output layer's linear part). */
void trainer_bias_add(float *Y, const float *bias, size_t rows, size_t cols);

/* out[N] = beta * out + alpha * sum over rows of D[rows][N] (row stride ld >= N): the bias
 * gradient, or a slice of its columns. */
void trainer_colsum(float *out, const float *D, size_t rows, size_t cols, size_t ld, float alpha,
                    float beta);

/* y[n] += a * x[n]. */
void trainer_axpy(float *y, const float *x, size_t n, float a);

/* dst[n] = (src[n] - shift[n]) * scale[n]: one input row into the model's scaling (dst and src
 * do not overlap). */
void trainer_scale_row(float *dst, const float *src, const float *shift, const float *scale,
                       size_t n);

/* The code paths of the elementwise kernels above. On x86-64 each is built for every level and
 * the widest the CPU supports (cpuid) runs; elsewhere only TRAINER_ISA_BASE exists. The paths
 * agree within float rounding, not bit for bit (FMA, and how the compiler fuses each loop's
 * tail): a run's history is reproducible on one kind of CPU. */
typedef enum trainer_isa {
    TRAINER_ISA_BASE = 0,   /* the compiler's baseline (SSE2 on x86-64) */
    TRAINER_ISA_AVX2 = 1,   /* AVX2 + FMA (Haswell, AMD Zen and later) */
    TRAINER_ISA_AVX512 = 2, /* AVX-512F */
} trainer_isa_t;

/* The path the kernels take now: the CPU's widest, capped by trainer_kernels_isa_limit. */
trainer_isa_t trainer_kernels_isa(void);

/* Caps the path at `limit` for the whole process (tests compare the paths on one machine; a
 * benchmark measures the AVX2 path on an AVX-512 host). Call before training starts, never
 * while a kernel runs elsewhere. The build's cap is MLPT_KERNELS_MAX_ISA (default AVX-512). */
void trainer_kernels_isa_limit(trainer_isa_t limit);

/* "x86-64", "avx2" or "avx512". */
const char *trainer_isa_name(trainer_isa_t isa);

/* Sets the number of threads OpenBLAS uses in this process (>= 1). Call before training starts,
 * never while a GEMM runs. */
void trainer_blas_set_threads(int threads);

/* Returns the number of threads OpenBLAS uses now. */
int trainer_blas_threads(void);

/* Returns OpenBLAS's name for the kernel it picked (e.g. "Haswell"); static string. */
const char *trainer_blas_core(void);

/* The kernel OpenBLAS should use when it fell back to a generic pre-AVX2 one (e.g. "Prescott":
 * Debian's OpenBLAS 0.3.21 does on CPUs newer than it knows, at a fifth of the speed) on a CPU
 * that has AVX2 and FMA ("Haswell") or AVX-512 F/CD/BW/DQ/VL ("SkylakeX"); NULL when its own
 * pick stands. OpenBLAS reads OPENBLAS_CORETYPE only when it loads: a process sets it and
 * executes itself again (service/main.c). */
const char *trainer_blas_better_core(void);

#endif
