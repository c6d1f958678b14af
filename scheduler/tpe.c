/*
 * tpe.c - the tree-structured Parzen estimator's proposal (tpe.h): the split into good and
 * bad observations, one Parzen estimator per dimension and side, and the choice among draws
 * from the good one. Numerics: the normal CDF through erfc, its differences taken in the tail
 * where both ends lie (so masses far from a kernel keep their precision), its inverse by
 * Acklam's rational approximation refined by one Halley step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "tpe.h"

#define SQRT1_2 0.70710678118654752440
#define LOG_SQRT_2PI 0.91893853320467274178

/* ---- random numbers ------------------------------------------------------------------------ */

static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniform number in [0, 1) for (seed, k, dimension, candidate, which). */
static double unit(uint64_t seed, uint64_t k, uint64_t d, uint64_t c, uint64_t which) {
    uint64_t h = mix(mix(mix(mix(seed ^ 0x7470655f74706521ULL) ^ k) ^ (d + 1)) ^ (c * 2 + which));
    return (double)(h >> 11) * 0x1.0p-53;
}

/* ---- the normal distribution ------------------------------------------------------------ */

static double ndtr(double x) {
    return 0.5 * erfc(-x * SQRT1_2);
}

/* Phi(b) - Phi(a) for a <= b, in the tail where both lie. */
static double mass(double a, double b) {
    if (a >= 0)
        return 0.5 * (erfc(a * SQRT1_2) - erfc(b * SQRT1_2));
    if (b <= 0)
        return 0.5 * (erfc(-b * SQRT1_2) - erfc(-a * SQRT1_2));
    return 1.0 - 0.5 * erfc(-a * SQRT1_2) - 0.5 * erfc(b * SQRT1_2);
}

/* The inverse of ndtr on (0, 1). */
static double ndtri(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    double x, q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = ndtr(x) - p;                                 /* one Halley step */
    double u = e * 2.50662827463100050242 * exp(x * x / 2); /* sqrt(2 pi) */
    return x - u / (1 + x * u / 2);
}

/* A standard normal truncated to [a, b] at quantile u. */
static double truncnorm_ppf(double a, double b, double u) {
    if (a >= 0) /* both in the right tail: mirror into the left one, where ndtr is precise */
        return -truncnorm_ppf(-b, -a, 1.0 - u);
    double lo = ndtr(a), m = mass(a, b);
    double z = ndtri(lo + u * m);
    if (!isfinite(z) || z < a)
        z = a;
    if (z > b)
        z = b;
    return z;
}

static double log_sum_exp(const double *x, size_t n) {
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    if (!isfinite(m))
        return m;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

/* ---- gamma, weights, split -------------------------------------------------------------- */

size_t sched_tpe_gamma(size_t n) {
    size_t g = (n + 9) / 10; /* ceil(0.1 n) */
    return g < 25 ? g : 25;
}

void sched_tpe_weights(size_t n, double *w) {
    if (n < 25) {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
        return;
    }
    size_t ramp = n - 25; /* linspace(1 / n, 1, ramp) then 25 ones */
    for (size_t i = 0; i < ramp; i++)
        w[i] = ramp == 1
                   ? 1.0 / (double)n
                   : 1.0 / (double)n + (1.0 - 1.0 / (double)n) * (double)i / (double)(ramp - 1);
    for (size_t i = ramp; i < n; i++)
        w[i] = 1.0;
}

typedef struct ranked {
    const sched_tpe_obs_t *o;
    size_t i;
} ranked_t;

/* Better first: completed before pruned; completed by value; pruned by step then value; NaN
 * values last of their kind; then by number. */
static int better_first(const void *pa, const void *pb) {
    const sched_tpe_obs_t *a = ((const ranked_t *)pa)->o, *b = ((const ranked_t *)pb)->o;
    if (a->pruned != b->pruned)
        return a->pruned ? 1 : -1;
    if (a->pruned && a->step != b->step)
        return a->step > b->step ? -1 : 1;
    int an = !isfinite(a->value), bn = !isfinite(b->value);
    if (an != bn)
        return an ? 1 : -1;
    if (!an && a->value != b->value)
        return a->value > b->value ? -1 : 1;
    if (a->number != b->number)
        return a->number < b->number ? -1 : 1;
    size_t ia = ((const ranked_t *)pa)->i, ib = ((const ranked_t *)pb)->i;
    return ia < ib ? -1 : ia > ib;
}

void sched_tpe_split(const sched_tpe_obs_t *obs, size_t n, size_t n_good, int *good) {
    ranked_t *r = malloc((n ? n : 1) * sizeof *r);
    for (size_t i = 0; i < n; i++)
        good[i] = 0;
    if (!r) { /* without memory: the first n_good */
        for (size_t i = 0; i < n && i < n_good; i++)
            good[i] = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (ranked_t){.o = &obs[i], .i = i};
    qsort(r, n, sizeof *r, better_first);
    for (size_t i = 0; i < n && i < n_good; i++)
        good[r[i].i] = 1;
    free(r);
}

/* ---- Parzen estimators ------------------------------------------------------------------- */

void sched_tpe_pe_free(sched_tpe_pe_t *pe) {
    free(pe->w);
    free(pe->mu);
    free(pe->sigma);
    free(pe->p);
    memset(pe, 0, sizeof *pe);
}

/* The mixture weights of n observations and the prior, normalised. */
static int mixture_weights(sched_tpe_pe_t *pe, size_t n) {
    pe->n = n + 1;
    if (!(pe->w = malloc(pe->n * sizeof *pe->w)))
        return MLPT_ENOMEM;
    sched_tpe_weights(n, pe->w);
    pe->w[n] = 1.0; /* prior_weight */
    double s = 0;
    for (size_t i = 0; i < pe->n; i++)
        s += pe->w[i];
    for (size_t i = 0; i < pe->n; i++)
        pe->w[i] /= s;
    return 0;
}

int sched_tpe_pe_categorical(sched_tpe_pe_t *pe, const size_t *x, size_t n, size_t n_choices) {
    memset(pe, 0, sizeof *pe);
    pe->categorical = 1;
    pe->n_choices = n_choices ? n_choices : 1;
    if (mixture_weights(pe, n) != 0 || !(pe->p = malloc(pe->n * pe->n_choices * sizeof *pe->p))) {
        sched_tpe_pe_free(pe);
        return MLPT_ENOMEM;
    }
    for (size_t i = 0; i < pe->n; i++) {
        double *row = &pe->p[i * pe->n_choices];
        for (size_t j = 0; j < pe->n_choices; j++)
            row[j] = 1.0 / (double)pe->n; /* prior_weight / kernels */
        if (i < n && x[i] < pe->n_choices)
            row[x[i]] += 1.0;
        double s = 0;
        for (size_t j = 0; j < pe->n_choices; j++)
            s += row[j];
        for (size_t j = 0; j < pe->n_choices; j++)
            row[j] /= s;
    }
    return 0;
}

typedef struct sorted_mu {
    double v;
    size_t i;
} sorted_mu_t;

static int by_mu(const void *pa, const void *pb) {
    const sorted_mu_t *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int sched_tpe_pe_numeric(sched_tpe_pe_t *pe, const double *x, size_t n, double low, double high,
                         double step) {
    memset(pe, 0, sizeof *pe);
    pe->low = low;
    pe->high = high;
    pe->step = step;
    size_t m = n + 1; /* the observations and the prior's mean */
    sorted_mu_t *s = malloc(m * sizeof *s);
    double *e = malloc((m + 2) * sizeof *e);
    int rc = MLPT_ENOMEM;
    if (!s || !e || mixture_weights(pe, n) != 0 || !(pe->mu = malloc(pe->n * sizeof *pe->mu)) ||
        !(pe->sigma = malloc(pe->n * sizeof *pe->sigma)))
        goto done;
    double mid = 0.5 * (low + high), range = high - low + step;
    for (size_t i = 0; i < n; i++)
        s[i] = (sorted_mu_t){.v = x[i], .i = i};
    s[n] = (sorted_mu_t){.v = mid, .i = n};
    qsort(s, m, sizeof *s, by_mu);
    e[0] = low - step / 2;
    for (size_t i = 0; i < m; i++)
        e[i + 1] = s[i].v;
    e[m + 1] = high + step / 2;
    double minsigma = range / fmin(100.0, 1.0 + (double)n + 1.0), maxsigma = range;
    for (size_t i = 0; i < m; i++) {
        double left = e[i + 1] - e[i], right = e[i + 2] - e[i + 1];
        double sg = left > right ? left : right;
        if (m + 2 >= 4 && i == 0) /* endpoints not considered */
            sg = e[2] - e[1];
        else if (m + 2 >= 4 && i == m - 1)
            sg = e[m] - e[m - 1];
        if (s[i].i < n) {
            pe->mu[s[i].i] = x[s[i].i];
            pe->sigma[s[i].i] = sg < minsigma ? minsigma : sg > maxsigma ? maxsigma : sg;
        }
    }
    pe->mu[n] = mid; /* the prior */
    pe->sigma[n] = range;
    rc = 0;
done:
    free(s);
    free(e);
    if (rc != 0)
        sched_tpe_pe_free(pe);
    return rc;
}

/* log of kernel i's density (continuous) or mass (discrete) at x. */
static double kernel_log_pdf(const sched_tpe_pe_t *pe, size_t i, double x) {
    double mu = pe->mu[i], sg = pe->sigma[i];
    if (pe->step > 0) {
        double h = pe->step / 2;
        double z = mass((pe->low - h - mu) / sg, (pe->high + h - mu) / sg);
        double at = mass((x - h - mu) / sg, (x + h - mu) / sg);
        return log(at) - log(z);
    }
    double z = mass((pe->low - mu) / sg, (pe->high - mu) / sg);
    double t = (x - mu) / sg;
    return -0.5 * t * t - LOG_SQRT_2PI - log(sg) - log(z);
}

double sched_tpe_pe_log_pdf(const sched_tpe_pe_t *pe, double x) {
    if (pe->categorical) {
        if (!(x >= 0) || (size_t)x >= pe->n_choices)
            return -INFINITY;
        size_t c = (size_t)x;
        double s = 0;
        for (size_t i = 0; i < pe->n; i++)
            s += pe->w[i] * pe->p[i * pe->n_choices + c];
        return log(s);
    }
    double buf[64], *t = pe->n <= 64 ? buf : malloc(pe->n * sizeof *t);
    if (!t)
        return -INFINITY;
    for (size_t i = 0; i < pe->n; i++)
        t[i] = log(pe->w[i]) + kernel_log_pdf(pe, i, x);
    double r = log_sum_exp(t, pe->n);
    if (t != buf)
        free(t);
    return r;
}

/* The index whose cumulative share of w[0..n) (rows of stride 1) first passes u. */
static size_t pick(const double *w, size_t n, double u) {
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        c += w[i];
        if (u < c)
            return i;
    }
    return n - 1;
}

double sched_tpe_pe_sample(const sched_tpe_pe_t *pe, double u0, double u1) {
    size_t k = pick(pe->w, pe->n, u0);
    if (pe->categorical)
        return (double)pick(&pe->p[k * pe->n_choices], pe->n_choices, u1);
    double mu = pe->mu[k], sg = pe->sigma[k], h = pe->step / 2;
    double lo = pe->low - h, hi = pe->high + h;
    double x = mu + sg * truncnorm_ppf((lo - mu) / sg, (hi - mu) / sg, u1);
    return x < lo ? lo : x > hi ? hi : x;
}

/* ---- the proposal ------------------------------------------------------------------------ */

/* One dimension of the space: a table row, or the shape's depth or width. */
typedef struct dimref {
    const sched_param_t *row; /* NULL for the shape's */
    const sched_dim_t *d;
    int width;    /* the shape's: 0 hidden_layers, 1 neurons */
    uint64_t key; /* for the random numbers */
    int integer;
} dimref_t;

/* The observation's value in dimension dr: a list's index, a range's value (untransformed).
 * 0, or -1 when it has none there (not in the list, outside the range, no hidden layer). */
static int observed(const dimref_t *dr, const sched_params_t *p, double *out) {
    sched_value_t v;
    memset(&v, 0, sizeof v);
    if (dr->row)
        sched_param_get(dr->row, p, &v);
    else if (!dr->width)
        v.i = p->shape.n_hidden;
    else if (p->shape.n_hidden)
        v.i = p->shape.hidden[0];
    else
        return -1;
    const sched_dim_t *d = dr->d;
    if (d->kind == SCHED_DIM_LIST) {
        for (size_t j = 0; j < d->n; j++) {
            int same = !dr->row || dr->row->type == SCHED_PARAM_INT ? d->list[j].i == v.i
                       : dr->row->type == SCHED_PARAM_REAL          ? d->list[j].r == v.r
                                                                    : d->list[j].e == v.e;
            if (same) {
                *out = (double)j;
                return 0;
            }
        }
        return -1;
    }
    double x = dr->integer ? (double)v.i : v.r;
    if (!(x >= d->low && x <= d->high) || (d->log && !(x > 0)))
        return -1;
    *out = x;
    return 0;
}

/* A range's bounds and step in the transformed space (Optuna's, log integers included). */
static void range_of(const dimref_t *dr, double *low, double *high, double *step) {
    const sched_dim_t *d = dr->d;
    *step = 0;
    if (dr->integer && d->log) {
        *low = log(d->low - 0.5);
        *high = log(d->high + 0.5);
    } else if (d->log) {
        *low = log(d->low);
        *high = log(d->high);
    } else {
        *low = d->low;
        *high = d->high;
        *step = dr->integer ? 1.0 : 0.0;
    }
}

static double untransform(const dimref_t *dr, double y) {
    const sched_dim_t *d = dr->d;
    double x = d->log ? exp(y) : y;
    if (dr->integer)
        x = d->low + round(x - d->low);
    return x < d->low ? d->low : x > d->high ? d->high : x;
}

/* Fits one side's estimator from the observations idx[0..n) (by number) in dimension dr. */
static int fit(const dimref_t *dr, const sched_tpe_obs_t *obs, const size_t *idx, size_t n,
               sched_tpe_pe_t *pe) {
    double *x = malloc((n ? n : 1) * sizeof *x);
    size_t *c = malloc((n ? n : 1) * sizeof *c);
    size_t m = 0;
    int rc = MLPT_ENOMEM;
    if (!x || !c)
        goto done;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (observed(dr, &obs[idx[i]].params, &v) != 0)
            continue;
        c[m] = (size_t)v;
        x[m++] = dr->d->kind == SCHED_DIM_RANGE && dr->d->log ? log(v) : v;
    }
    if (dr->d->kind == SCHED_DIM_LIST) {
        rc = sched_tpe_pe_categorical(pe, c, m, dr->d->n);
    } else {
        double low, high, step;
        range_of(dr, &low, &high, &step);
        rc = sched_tpe_pe_numeric(pe, x, m, low, high, step);
    }
done:
    free(x);
    free(c);
    return rc;
}

/* TPE's value for dimension dr (a list's index, a range's value). */
static int choose(const dimref_t *dr, uint64_t seed, uint64_t k, const sched_tpe_obs_t *obs,
                  const size_t *good, size_t n_good, const size_t *bad, size_t n_bad, double *out) {
    sched_tpe_pe_t l, g;
    int rc = fit(dr, obs, good, n_good, &l);
    if (rc != 0)
        return rc;
    if ((rc = fit(dr, obs, bad, n_bad, &g)) != 0) {
        sched_tpe_pe_free(&l);
        return rc;
    }
    double best = -INFINITY;
    for (uint64_t c = 0; c < SCHED_TPE_N_EI_CANDIDATES; c++) {
        double y =
            sched_tpe_pe_sample(&l, unit(seed, k, dr->key, c, 0), unit(seed, k, dr->key, c, 1));
        double x = y, t = y;
        if (!l.categorical) {
            x = untransform(dr, y);
            t = dr->d->log ? log(x) : x;
        }
        double score = sched_tpe_pe_log_pdf(&l, t) - sched_tpe_pe_log_pdf(&g, t);
        if (c == 0 || score > best) {
            best = score;
            *out = x;
        }
    }
    sched_tpe_pe_free(&l);
    sched_tpe_pe_free(&g);
    return 0;
}

static int by_number(const void *pa, const void *pb, const sched_tpe_obs_t *obs) {
    uint64_t a = obs[*(const size_t *)pa].number, b = obs[*(const size_t *)pb].number;
    return a < b ? -1 : a > b;
}

/* Sorts idx[0..n) by the observations' numbers (insertion sort: stable, n is small). */
static void sort_by_number(size_t *idx, size_t n, const sched_tpe_obs_t *obs) {
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && by_number(&idx[j - 1], &v, obs) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* Sets dimension dr of out to x (a list's index or a range's value); the shape's go to
 * *depth / *width. */
static void set_dim(const dimref_t *dr, double x, sched_params_t *out, size_t *depth,
                    size_t *width) {
    const sched_dim_t *d = dr->d;
    sched_value_t v;
    memset(&v, 0, sizeof v);
    if (d->kind == SCHED_DIM_LIST)
        v = d->list[(size_t)x < d->n ? (size_t)x : d->n - 1];
    else if (dr->integer)
        v.i = (uint64_t)x;
    else
        v.r = x;
    if (dr->row)
        sched_param_set(dr->row, out, &v);
    else if (dr->width)
        *width = (size_t)v.i;
    else
        *depth = (size_t)v.i;
}

int sched_tpe_propose(const sched_space_t *sp, uint64_t seed, uint64_t k, size_t n_startup,
                      const sched_tpe_obs_t *obs, size_t n, sched_params_t *out) {
    sched_space_draw(sp, seed, k, out);
    size_t valued = 0;
    for (size_t i = 0; i < n; i++)
        valued += isfinite(obs[i].value) != 0;
    if (valued == 0 || valued < n_startup)
        return 0;
    int rc = MLPT_ENOMEM;
    int *is_good = malloc(n * sizeof *is_good);
    size_t *good = malloc(n * sizeof *good), *bad = malloc(n * sizeof *bad);
    size_t n_good = 0, n_bad = 0;
    if (!is_good || !good || !bad)
        goto done;
    sched_tpe_split(obs, n, sched_tpe_gamma(n), is_good);
    for (size_t i = 0; i < n; i++) {
        if (is_good[i])
            good[n_good++] = i;
        else
            bad[n_bad++] = i;
    }
    sort_by_number(good, n_good, obs);
    sort_by_number(bad, n_bad, obs);

    dimref_t dims[SCHED_PARAM_MAX + 2];
    size_t nd = 0;
    if (sp->hidden_layers.kind)
        dims[nd++] = (dimref_t){.d = &sp->hidden_layers, .key = SCHED_PARAM_MAX, .integer = 1};
    if (sp->neurons.kind)
        dims[nd++] =
            (dimref_t){.d = &sp->neurons, .width = 1, .key = SCHED_PARAM_MAX + 1, .integer = 1};
    for (size_t i = 0; i < sched_param_count && i < SCHED_PARAM_MAX; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE || sp->dim[i].kind == SCHED_DIM_NONE)
            continue;
        dims[nd++] =
            (dimref_t){.row = r, .d = &sp->dim[i], .key = i, .integer = r->type == SCHED_PARAM_INT};
    }
    sched_params_t p = *out;
    size_t depth = out->shape.n_hidden, width = depth ? out->shape.hidden[0] : 1;
    for (size_t i = 0; i < nd; i++) {
        double x;
        const sched_dim_t *d = dims[i].d;
        if ((d->kind == SCHED_DIM_LIST && d->n < 2) ||
            (d->kind == SCHED_DIM_RANGE && !(d->high > d->low)))
            continue; /* one value: the draw's (Optuna skips a single-valued distribution) */
        if ((rc = choose(&dims[i], seed, k, obs, good, n_good, bad, n_bad, &x)) != 0)
            goto done;
        set_dim(&dims[i], x, &p, &depth, &width);
    }
    if (depth > TRAINER_MAX_HIDDEN)
        depth = TRAINER_MAX_HIDDEN;
    memset(&p.shape, 0, sizeof p.shape);
    p.shape.n_hidden = depth;
    for (size_t l = 0; l < depth; l++)
        p.shape.hidden[l] = width;
    *out = p;
    rc = 0;
done:
    free(is_good);
    free(good);
    free(bad);
    return rc;
}
