/*
 * kernels.c - elementwise passes and the GEMM dispatch of the MLP step.
 *
 * The elementwise loops are written so that GCC vectorises them (no branches, no libm calls in
 * the inner loop: exp is our own polynomial), and each is compiled for AVX-512, AVX2+FMA and
 * baseline x86-64, picked at load time, so one binary runs everywhere at full width.
 */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MLPT_NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("default", "arch=haswell", "avx512f")))
#else
#define VECTOR_CLONES
#endif

/* ------------------------------------------------------------------------------------------ */
/* exp: clamp, split x = n*ln2 + r with |r| <= ln2/2, degree-7 Taylor polynomial for e^r (relative
 * error < 1e-8 on that interval, well under float's 6e-8), scale by 2^n through the exponent
 * bits. Finite for every input; NaN propagates through the clamps' comparisons as the low bound. */
static inline float exp_poly(float x) {
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
VECTOR_CLONES
static void bias_sigmoid(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++)
            y[j] = 1.0f / (1.0f + exp_poly(-(y[j] + bias[j])));
    }
}

VECTOR_CLONES
static void bias_tanh(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++)
            y[j] = 1.0f - 2.0f / (exp_poly(2.0f * (y[j] + bias[j])) + 1.0f);
    }
}

VECTOR_CLONES
static void bias_relu(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++) {
            float v = y[j] + bias[j];
            y[j] = v < 0.0f ? 0.0f : v; /* NaN stays NaN, so a diverged layer is not zeroed */
        }
    }
}

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

VECTOR_CLONES
static void sigmoid_backward(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] *= A[i] * (1.0f - A[i]);
}

VECTOR_CLONES
static void tanh_backward(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] *= 1.0f - A[i] * A[i];
}

VECTOR_CLONES
static void relu_backward(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] = A[i] > 0.0f ? dA[i] : 0.0f;
}

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

VECTOR_CLONES
void trainer_bias_add(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            Y[i * cols + j] += bias[j];
}

VECTOR_CLONES
void trainer_colsum(float *out, const float *D, size_t rows, size_t cols, size_t ld, float alpha,
                    float beta) {
    if (beta == 0.0f)
        memset(out, 0, cols * sizeof *out);
    else if (beta != 1.0f)
        for (size_t j = 0; j < cols; j++)
            out[j] *= beta;
    for (size_t i = 0; i < rows; i++) {
        const float *d = D + i * ld;
        for (size_t j = 0; j < cols; j++)
            out[j] += alpha * d[j];
    }
}

VECTOR_CLONES
void trainer_axpy(float *y, const float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
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
