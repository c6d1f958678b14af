/*
 * kernels_loops.h - the loops of kernels.c's elementwise kernels, included once per code path:
 * the includer defines LOOP(name) (the function's name for this path) and LOOP_TARGET (its
 * target attribute, or nothing). Private to kernels.c; no include guard on purpose.
 */

LOOP_TARGET static void LOOP(bias_sigmoid)(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++)
            y[j] = 1.0f / (1.0f + exp_poly(-(y[j] + bias[j])));
    }
}

LOOP_TARGET static void LOOP(bias_tanh)(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++)
            y[j] = 1.0f - 2.0f / (exp_poly(2.0f * (y[j] + bias[j])) + 1.0f);
    }
}

LOOP_TARGET static void LOOP(bias_relu)(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        float *y = Y + i * cols;
        for (size_t j = 0; j < cols; j++) {
            float v = y[j] + bias[j];
            y[j] = v < 0.0f ? 0.0f : v; /* NaN stays NaN, so a diverged layer is not zeroed */
        }
    }
}

LOOP_TARGET static void LOOP(sigmoid_backward)(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] *= A[i] * (1.0f - A[i]);
}

LOOP_TARGET static void LOOP(tanh_backward)(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] *= 1.0f - A[i] * A[i];
}

LOOP_TARGET static void LOOP(relu_backward)(float *dA, const float *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        dA[i] = A[i] > 0.0f ? dA[i] : 0.0f;
}

LOOP_TARGET static void LOOP(bias_add)(float *Y, const float *bias, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            Y[i * cols + j] += bias[j];
}

LOOP_TARGET static void LOOP(colsum)(float *out, const float *D, size_t rows, size_t cols,
                                     size_t ld, float alpha, float beta) {
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

LOOP_TARGET static void LOOP(axpy)(float *y, const float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

LOOP_TARGET static void LOOP(scale_row)(float *dst, const float *src, const float *shift,
                                        const float *scale, size_t n) {
    for (size_t j = 0; j < n; j++)
        dst[j] = (src[j] - shift[j]) * scale[j];
}
