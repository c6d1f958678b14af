/*
 * ingest/win_features.c - one window's features (windows.h): the spectrogram through FFTW3's
 * single-precision real DFT, the 43 statistics of Kwapisz et al., the raw samples.
 *
 * FFTW's planner is not thread-safe but executing a plan is (with the new-array interface on
 * buffers of the same alignment: fftwf_malloc's). So plans are made once per frame length,
 * under a lock, kept in a small table for the process's life and shared by every derivation.
 */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "win_private.h"

#define MAX_PLANS 32
#define TWO_PI 6.28318530717958647692

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    size_t n;
    fftwf_plan plan;
} plans[MAX_PLANS];
static size_t n_plans;

/* The shared plan of a real DFT of n points, or NULL (no memory, or the table is full: a
 * plan made then is kept by the caller's derivation alone). */
static fftwf_plan plan_for(size_t n, int *owned) {
    fftwf_plan p = NULL;
    *owned = 0;
    pthread_mutex_lock(&plan_lock);
    for (size_t i = 0; i < n_plans && !p; i++)
        if (plans[i].n == n)
            p = plans[i].plan;
    if (!p) {
        float *in = fftwf_malloc(n * sizeof *in);
        fftwf_complex *out = fftwf_malloc((n / 2 + 1) * sizeof *out);
        if (in && out)
            p = fftwf_plan_dft_r2c_1d((int)n, in, out, FFTW_ESTIMATE);
        fftwf_free(in);
        fftwf_free(out);
        if (p && n_plans < MAX_PLANS) {
            plans[n_plans].n = n;
            plans[n_plans++].plan = p;
        } else if (p) {
            *owned = 1;
        }
    }
    pthread_mutex_unlock(&plan_lock);
    return p;
}

int ingest_win_feat_init(win_feat_t *f, ingest_features_t kind, const ingest_window_shape_t *shape,
                         size_t channels) {
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->shape = *shape;
    f->channels = channels;
    if (kind != INGEST_FEATURES_SPECTROGRAM)
        return 0;
    size_t n = shape->frame;
    int owned = 0;
    f->in = fftwf_malloc(n * sizeof *f->in);
    f->out = fftwf_malloc(shape->bins * sizeof(fftwf_complex));
    f->hann = malloc(n * sizeof *f->hann);
    f->plan = f->in && f->out && f->hann ? plan_for(n, &owned) : NULL;
    if (!f->plan) {
        ingest_win_feat_deinit(f);
        return MLPT_ENOMEM;
    }
    f->owned = owned; /* the table is full: this derivation's own plan */
    for (size_t i = 0; i < n; i++)
        f->hann[i] = (float)(0.5 - 0.5 * cos(TWO_PI * (double)i / (double)n));
    return 0;
}

void ingest_win_feat_deinit(win_feat_t *f) {
    if (f->owned) {
        pthread_mutex_lock(&plan_lock);
        fftwf_destroy_plan((fftwf_plan)f->plan);
        pthread_mutex_unlock(&plan_lock);
    }
    f->owned = 0;
    f->plan = NULL;
    fftwf_free(f->in);
    fftwf_free(f->out);
    free(f->hann);
    f->in = NULL;
    f->out = NULL;
    f->hann = NULL;
}

static void spectrogram(win_feat_t *f, const float *s, float *row) {
    const ingest_window_shape_t *sh = &f->shape;
    size_t C = f->channels;
    fftwf_complex *out = f->out;
    for (size_t c = 0; c < C; c++)
        for (size_t fr = 0; fr < sh->frames; fr++) {
            const float *x = s + fr * sh->hop * C + c;
            for (size_t i = 0; i < sh->frame; i++)
                f->in[i] = x[i * C] * f->hann[i];
            fftwf_execute_dft_r2c((fftwf_plan)f->plan, f->in, out);
            float *o = row + (c * sh->frames + fr) * sh->bins;
            for (size_t k = 0; k < sh->bins; k++)
                o[k] = log1pf(sqrtf(out[k][0] * out[k][0] + out[k][1] * out[k][1]));
        }
}

/* The mean distance (in samples) between the peaks of channel c within `frac` of its highest
 * value above the mean; *n receives the number of peaks. */
static double peak_distance(const float *s, size_t W, size_t C, size_t c, double mean, double max,
                            double frac, size_t *n) {
    double thr = max - frac * (max - mean);
    size_t first = 0, last = 0, k = 0;
    for (size_t i = 1; i + 1 < W; i++) {
        float v = s[i * C + c];
        if (v > s[(i - 1) * C + c] && v >= s[(i + 1) * C + c] && v >= thr) {
            if (!k)
                first = i;
            last = i;
            k++;
        }
    }
    *n = k;
    return k >= 2 ? (double)(last - first) / (double)(k - 1) : 0.0;
}

static void stats(win_feat_t *f, const float *s, float *row) {
    size_t W = f->shape.window, C = f->channels;
    double period_ms = 1000.0 / f->shape.rate_hz;
    for (size_t c = 0; c < C; c++) {
        double sum = 0.0, mn = s[c], mx = s[c];
        for (size_t i = 0; i < W; i++) {
            double v = s[i * C + c];
            sum += v;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        double mean = sum / (double)W, var = 0.0, aad = 0.0;
        for (size_t i = 0; i < W; i++) {
            double d = s[i * C + c] - mean;
            var += d * d;
            aad += fabs(d);
        }
        row[c] = (float)mean;
        row[C + c] = (float)sqrt(var / (double)W);
        row[2 * C + c] = (float)(aad / (double)W);
        size_t n = 0;
        double dist = 0.0;
        for (double frac = 0.1; frac <= 1.0001 && n < 3; frac += 0.1)
            dist = peak_distance(s, W, C, c, mean, mx, frac, &n);
        row[3 * C + c] = (float)(dist * period_ms);
        float *bins = row + 4 * C + c * 10;
        for (size_t b = 0; b < 10; b++)
            bins[b] = 0.0f;
        double width = (mx - mn) / 10.0;
        for (size_t i = 0; i < W; i++) {
            size_t b = width > 0.0 ? (size_t)((s[i * C + c] - mn) / width) : 0;
            bins[b > 9 ? 9 : b] += 1.0f;
        }
        for (size_t b = 0; b < 10; b++)
            bins[b] /= (float)W;
    }
    double res = 0.0;
    for (size_t i = 0; i < W; i++) {
        double q = 0.0;
        for (size_t c = 0; c < C; c++)
            q += (double)s[i * C + c] * s[i * C + c];
        res += sqrt(q);
    }
    row[14 * C] = (float)(res / (double)W);
}

void ingest_win_feat_row(win_feat_t *f, const float *s, float *row) {
    switch (f->kind) {
    case INGEST_FEATURES_SPECTROGRAM:
        spectrogram(f, s, row);
        break;
    case INGEST_FEATURES_STATS:
        stats(f, s, row);
        break;
    default:
        memcpy(row, s, f->shape.window * f->channels * sizeof *row);
    }
}
