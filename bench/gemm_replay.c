/*
 * bench/gemm_replay.c - the GEMMs of a sweep's trials and nothing else: the lower bound a
 * trainer built on OpenBLAS can reach for them on this machine.
 *
 * For each network it replays, with the trainer's exact calls (row-major cblas_sgemm, the same
 * shapes, transposes, leading dimensions and betas; trainer/mlp.c), `iterations` passes of:
 *   - ceil(train_rows / batch) mini-batches (the last one short): the forward GEMM of every
 *     layer, the input-gradient GEMM of every layer but the first, the weight update GEMM
 *     (beta 1, straight into the weights) of every layer;
 *   - the validation forward pass over val_rows in chunks of 256 rows (trainer/train.c).
 * No activations, softmax, gathering, SQLite or HTTP: what remains above this in a sweep's wall is
 * ours. One OpenBLAS thread; run one process per core to replay a grid (bench/sweep_vs_peers).
 *
 * usage: gemm_replay ITERATIONS TRAIN_ROWS VAL_ROWS BATCH NET [NET...]
 *        NET is the widths, e.g. 784-1000-1000-10
 * prints one JSON object: seconds, GFLOP, GFLOP/s, per network seconds, OpenBLAS core name.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 17
#define EVAL_ROWS 256

/* OpenBLAS's own prototypes (not in every cblas.h). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *filled(size_t n, float scale) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "gemm_replay: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = scale * ((float)(i % 97) / 97.0f - 0.5f);
    return p;
}

static int parse_net(const char *s, size_t *w) {
    size_t n = 0;
    while (*s && n < MAX_LAYERS + 1) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1)
            return -1;
        w[n++] = (size_t)v;
        s = *end == '-' ? end + 1 : end;
        if (*end && *end != '-')
            return -1;
    }
    return n >= 2 && !*s ? (int)n : -1;
}

/* The forward GEMM of every layer for `rows` rows (trainer_mlp_forward); returns its FLOPs. */
static double forward(const size_t *w, int layers, int rows, float *const *W, float *const *act) {
    double flops = 0.0;
    for (int l = 0; l < layers; l++) {
        int in = (int)w[l], out = (int)w[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, act[l], in,
                    W[l], out, 0.0f, act[l + 1], out);
        flops += 2.0 * rows * in * out;
    }
    return flops;
}

/* Replays one network; returns its FLOPs and sets *secs to its seconds. */
static double replay(const size_t *w, int n, size_t iters, size_t train, size_t val, size_t batch,
                     double *secs) {
    int layers = n - 1;
    size_t width_max = 0;
    for (int l = 0; l < n; l++)
        width_max = w[l] > width_max ? w[l] : width_max;
    size_t rows_max = batch > EVAL_ROWS ? batch : EVAL_ROWS;
    float *W[MAX_LAYERS], *act[MAX_LAYERS + 1], *grad[MAX_LAYERS + 1];
    for (int l = 0; l < layers; l++)
        W[l] = filled(w[l] * w[l + 1], 0.05f);
    for (int l = 0; l < n; l++) {
        act[l] = filled(rows_max * width_max, 1.0f);
        grad[l] = filled(rows_max * width_max, 0.01f);
    }
    double flops = 0.0, t0 = now();
    for (size_t it = 0; it < iters; it++) {
        for (size_t r0 = 0; r0 < train; r0 += batch) {
            int rows = (int)(train - r0 < batch ? train - r0 : batch);
            flops += forward(w, layers, rows, W, act);
            for (int l = layers - 1; l >= 1; l--) {
                int in = (int)w[l], out = (int)w[l + 1];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f,
                            grad[l + 1], out, W[l], out, 0.0f, grad[l], in);
                flops += 2.0 * rows * in * out;
            }
            for (int l = 0; l < layers; l++) {
                int in = (int)w[l], out = (int)w[l + 1];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows,
                            -1e-6f / (float)batch, act[l], in, grad[l + 1], out, 1.0f, W[l], out);
                flops += 2.0 * rows * in * out;
            }
        }
        for (size_t r0 = 0; r0 < val; r0 += EVAL_ROWS) {
            int rows = (int)(val - r0 < EVAL_ROWS ? val - r0 : EVAL_ROWS);
            flops += forward(w, layers, rows, W, act);
        }
    }
    *secs = now() - t0;
    for (int l = 0; l < layers; l++)
        free(W[l]);
    for (int l = 0; l < n; l++) {
        free(act[l]);
        free(grad[l]);
    }
    return flops;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s ITERATIONS TRAIN_ROWS VAL_ROWS BATCH NET [NET...]\n", argv[0]);
        return 2;
    }
    long iters = atol(argv[1]), train = atol(argv[2]), val = atol(argv[3]), batch = atol(argv[4]);
    if (iters < 1 || train < 1 || val < 0 || batch < 1) {
        fprintf(stderr, "gemm_replay: ITERATIONS, TRAIN_ROWS and BATCH must be >= 1\n");
        return 2;
    }
    size_t w[64][MAX_LAYERS + 1];
    int nw[64], nets = argc - 5;
    if (nets > 64) {
        fprintf(stderr, "gemm_replay: at most 64 networks\n");
        return 2;
    }
    for (int a = 0; a < nets; a++)
        if ((nw[a] = parse_net(argv[a + 5], w[a])) < 0) {
            fprintf(stderr, "gemm_replay: bad network \"%s\" (widths joined by '-')\n",
                    argv[a + 5]);
            return 2;
        }
    openblas_set_num_threads(1);
    double total_s = 0.0, total_f = 0.0;
    printf("{\"corename\": \"%s\", \"networks\": [", openblas_get_corename());
    for (int a = 0; a < nets; a++) {
        double s = 0.0;
        double f =
            replay(w[a], nw[a], (size_t)iters, (size_t)train, (size_t)val, (size_t)batch, &s);
        total_s += s;
        total_f += f;
        printf("%s{\"net\": \"%s\", \"seconds\": %.4f, \"gflop\": %.3f}", a ? ", " : "",
               argv[a + 5], s, f / 1e9);
    }
    printf("], \"seconds\": %.4f, \"gflop\": %.3f, \"gflops\": %.2f}\n", total_s, total_f / 1e9,
           total_f / total_s / 1e9);
    return 0;
}
