/*
 * trainer/split_group.c - the split by group (dataset.h: trainer_split_grouped): every row of a
 * group (a subject) on one side, stratified by class as far as whole groups allow, and the
 * groups named as a test set held out of both sides.
 */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "mlpt_err.h"
#include "rng.h"

static int by_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The index of id in the sorted ids[0..n), or -1. */
static long find(const int32_t *ids, size_t n, int32_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? (long)lo : -1;
}

/* How far validation counts val[0..K) are from the targets. */
static double cost(const double *val, const double *target, size_t K) {
    double c = 0.0;
    for (size_t k = 0; k < K; k++) {
        double d = val[k] - target[k];
        c += d * d / (target[k] + 1.0);
    }
    return c;
}

/* The cost with group g's counts added to val. */
static double cost_with(const double *val, const size_t *counts, const double *target, size_t K) {
    double c = 0.0;
    for (size_t k = 0; k < K; k++) {
        double d = val[k] + (double)counts[k] - target[k];
        c += d * d / (target[k] + 1.0);
    }
    return c;
}

int trainer_split_grouped(const trainer_dataset_t *ds, double val_fraction, uint64_t seed,
                          const int32_t *test_groups, size_t n_test_groups, trainer_split_t *out) {
    memset(out, 0, sizeof *out);
    if (!ds || ds->rows == 0 || ds->classes == 0 || !ds->group ||
        !(val_fraction >= 0.0 && val_fraction < 1.0) || (n_test_groups && !test_groups))
        return MLPT_EINVAL;
    int rc = MLPT_ENOMEM;
    size_t K = ds->classes, G = 0;
    int32_t *ids = malloc(ds->rows * sizeof *ids), *tests = NULL;
    size_t *counts = NULL, *order = NULL;
    unsigned char *side = NULL; /* per group: 0 train, 1 validation, 2 test */
    double *val = NULL, *target = NULL;
    if (!ids)
        goto done;
    memcpy(ids, ds->group, ds->rows * sizeof *ids);
    qsort(ids, ds->rows, sizeof *ids, by_id);
    for (size_t i = 0; i < ds->rows; i++)
        if (i == 0 || ids[i] != ids[i - 1])
            ids[G++] = ids[i];
    counts = calloc(G * K, sizeof *counts);
    order = malloc(G * sizeof *order);
    side = calloc(G, 1);
    val = calloc(K, sizeof *val);
    target = calloc(K, sizeof *target);
    if (!counts || !order || !side || !val || !target)
        goto done;
    for (size_t t = 0; t < n_test_groups; t++) {
        long g = find(ids, G, test_groups[t]);
        if (g >= 0)
            side[g] = 2;
    }
    size_t *per_class = calloc(K, sizeof *per_class);
    if (!per_class)
        goto done;
    for (size_t i = 0; i < ds->rows; i++) {
        size_t g = (size_t)find(ids, G, ds->group[i]);
        counts[g * K + (size_t)ds->y[i]]++;
        if (side[g] != 2)
            per_class[ds->y[i]]++;
    }
    size_t n_pool = 0;
    for (size_t g = 0; g < G; g++)
        if (side[g] != 2)
            order[n_pool++] = g;
    for (size_t k = 0; k < K; k++)
        target[k] = (double)(size_t)((double)per_class[k] * val_fraction + 0.5);
    free(per_class);
    rc = MLPT_EINVAL;
    if (n_pool == 0)
        goto done;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, TRAINER_RNG_SPLIT);
    trainer_rng_shuffle(&rng, order, n_pool);
    size_t n_val = 0;
    for (size_t j = 0; j < n_pool && val_fraction > 0.0; j++) {
        size_t g = order[j];
        if (n_val + 1 >= n_pool)
            break; /* one group at least trains */
        if (cost_with(val, counts + g * K, target, K) < cost(val, target, K)) {
            side[g] = 1;
            n_val++;
            for (size_t k = 0; k < K; k++)
                val[k] += (double)counts[g * K + k];
        }
    }
    if (n_val == 0 && val_fraction > 0.0 && n_pool >= 2) { /* the group that fits best */
        size_t best = order[0];
        for (size_t j = 1; j < n_pool; j++)
            if (cost_with(val, counts + order[j] * K, target, K) <
                cost_with(val, counts + best * K, target, K))
                best = order[j];
        side[best] = 1;
    }
    for (size_t i = 0; i < ds->rows; i++) {
        unsigned char s = side[find(ids, G, ds->group[i])];
        out->n_train += s == 0;
        out->n_val += s == 1;
        out->n_test += s == 2;
    }
    rc = MLPT_ENOMEM;
    out->train = malloc((out->n_train ? out->n_train : 1) * sizeof(size_t));
    out->val = out->n_val ? malloc(out->n_val * sizeof(size_t)) : NULL;
    out->test = out->n_test ? malloc(out->n_test * sizeof(size_t)) : NULL;
    if (!out->train || (out->n_val && !out->val) || (out->n_test && !out->test)) {
        trainer_split_deinit(out);
        goto done;
    }
    for (size_t i = 0, t = 0, v = 0, x = 0; i < ds->rows; i++) {
        unsigned char s = side[find(ids, G, ds->group[i])];
        if (s == 0)
            out->train[t++] = i;
        else if (s == 1)
            out->val[v++] = i;
        else
            out->test[x++] = i;
    }
    rc = 0;
    if (out->n_train == 0) {
        trainer_split_deinit(out);
        rc = MLPT_EINVAL;
    }
done:
    free(ids);
    free(tests);
    free(counts);
    free(order);
    free(side);
    free(val);
    free(target);
    return rc;
}
