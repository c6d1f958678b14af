#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "rng.h"

void trainer_dataset_free(trainer_dataset_t *ds) {
    if (!ds)
        return;
    if (ds->class_names)
        for (size_t c = 0; c < ds->classes; c++)
            free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->class_counts);
    free(ds->x);
    free(ds->y);
    free(ds->group);
    free(ds->time);
    free(ds);
}

int trainer_dataset_check(const trainer_dataset_t *ds) {
    if (!ds || ds->rows == 0 || ds->features == 0 || ds->classes == 0 || !ds->x || !ds->y ||
        !ds->class_names || !ds->class_counts)
        return MLPT_EINVAL;
    size_t total = 0;
    for (size_t c = 0; c < ds->classes; c++) {
        if (!ds->class_names[c])
            return MLPT_EINVAL;
        total += ds->class_counts[c];
    }
    if (total != ds->rows)
        return MLPT_EINVAL;
    for (size_t i = 0; i < ds->rows; i++)
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= ds->classes)
            return MLPT_EFORMAT;
    size_t *seen = calloc(ds->classes, sizeof *seen);
    if (!seen)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < ds->rows; i++)
        seen[ds->y[i]]++;
    int rc = memcmp(seen, ds->class_counts, ds->classes * sizeof *seen) ? MLPT_EINVAL : 0;
    free(seen);
    if (rc != 0)
        return rc;
    /* Finite means the exponent bits are not all ones; OR-ing a flag keeps the loop
     * vectorisable (every dataset is checked once when it is parsed and once when loaded). */
    size_t n = ds->rows * ds->features;
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &ds->x[i], sizeof b);
        bad |= (b & 0x7F800000u) == 0x7F800000u;
    }
    return bad ? MLPT_EFORMAT : 0;
}

int trainer_split_stratified(const trainer_dataset_t *ds, double val_fraction, uint64_t seed,
                             trainer_split_t *out) {
    int rc = MLPT_ENOMEM;
    size_t *order = NULL, *start = NULL;
    unsigned char *is_val = NULL;
    memset(out, 0, sizeof *out);
    if (!ds || ds->rows == 0 || ds->classes == 0 || !(val_fraction >= 0.0 && val_fraction < 1.0))
        return MLPT_EINVAL;

    /* Bucket the rows by class (counting sort keeps each bucket in ascending row order). */
    order = malloc(ds->rows * sizeof *order);
    start = calloc(2 * ds->classes + 1, sizeof *start); /* bucket starts, then cursors */
    is_val = calloc(ds->rows, 1);
    if (!order || !start || !is_val)
        goto done;
    for (size_t i = 0; i < ds->rows; i++)
        start[ds->y[i] + 1]++;
    for (size_t c = 0; c < ds->classes; c++)
        start[c + 1] += start[c];
    size_t *fill = start + ds->classes + 1;
    memcpy(fill, start, ds->classes * sizeof *fill);
    for (size_t i = 0; i < ds->rows; i++)
        order[fill[ds->y[i]]++] = i;

    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, TRAINER_RNG_SPLIT);
    size_t n_val = 0;
    for (size_t c = 0; c < ds->classes; c++) {
        size_t count = start[c + 1] - start[c];
        size_t take = (size_t)floor((double)count * val_fraction + 0.5);
        if (count > 0 && take >= count)
            take = count - 1;
        trainer_rng_shuffle(&rng, order + start[c], count);
        for (size_t k = 0; k < take; k++)
            is_val[order[start[c] + k]] = 1;
        n_val += take;
    }
    out->n_val = n_val;
    out->n_train = ds->rows - n_val;
    out->train = malloc(out->n_train * sizeof(size_t));
    out->val = n_val ? malloc(n_val * sizeof(size_t)) : NULL;
    if (!out->train || (n_val && !out->val)) {
        trainer_split_deinit(out);
        goto done;
    }
    for (size_t i = 0, t = 0, v = 0; i < ds->rows; i++) {
        if (is_val[i])
            out->val[v++] = i;
        else
            out->train[t++] = i;
    }
    rc = 0;
done:
    free(order);
    free(start);
    free(is_val);
    return rc;
}

void trainer_split_deinit(trainer_split_t *split) {
    if (!split)
        return;
    free(split->train);
    free(split->val);
    free(split->test);
    memset(split, 0, sizeof *split);
}

int trainer_scaler_fit(const trainer_dataset_t *ds, const size_t *idx, size_t n, float *shift,
                       float *scale) {
    return trainer_scaler_fit_as(ds, ds->scaling, idx, n, shift, scale);
}

static void fit_minmax(const trainer_dataset_t *ds, const size_t *idx, size_t n, float *shift,
                       float *scale) {
    size_t f = ds->features;
    for (size_t j = 0; j < f; j++) {
        shift[j] = ds->x[idx[0] * f + j];
        scale[j] = shift[j]; /* the max, for now */
    }
    for (size_t i = 1; i < n; i++) {
        const float *row = ds->x + idx[i] * f;
        for (size_t j = 0; j < f; j++) {
            shift[j] = row[j] < shift[j] ? row[j] : shift[j];
            scale[j] = row[j] > scale[j] ? row[j] : scale[j];
        }
    }
    for (size_t j = 0; j < f; j++) {
        double range = (double)scale[j] - (double)shift[j];
        scale[j] = range > 0.0 ? (float)(1.0 / range) : 0.0f;
    }
}

/* One range for every feature: the min and max over all of them. */
static void fit_global_minmax(const trainer_dataset_t *ds, const size_t *idx, size_t n,
                              float *shift, float *scale) {
    size_t f = ds->features;
    float lo = ds->x[idx[0] * f], hi = lo;
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + idx[i] * f;
        for (size_t j = 0; j < f; j++) {
            lo = row[j] < lo ? row[j] : lo;
            hi = row[j] > hi ? row[j] : hi;
        }
    }
    double range = (double)hi - (double)lo;
    for (size_t j = 0; j < f; j++) {
        shift[j] = lo;
        scale[j] = range > 0.0 ? (float)(1.0 / range) : 0.0f;
    }
}

int trainer_scaler_fit_as(const trainer_dataset_t *ds, trainer_scaling_t rule, const size_t *idx,
                          size_t n, float *shift, float *scale) {
    size_t f = ds->features;
    if (n == 0 || (rule != TRAINER_SCALE_UNIT && rule != TRAINER_SCALE_STANDARDIZE &&
                   rule != TRAINER_SCALE_MINMAX && rule != TRAINER_SCALE_GLOBAL_MINMAX))
        return MLPT_EINVAL;
    if (rule == TRAINER_SCALE_UNIT) {
        for (size_t j = 0; j < f; j++) {
            shift[j] = 0.0f;
            scale[j] = 1.0f;
        }
        return 0;
    }
    if (rule == TRAINER_SCALE_MINMAX || rule == TRAINER_SCALE_GLOBAL_MINMAX) {
        (rule == TRAINER_SCALE_MINMAX ? fit_minmax : fit_global_minmax)(ds, idx, n, shift, scale);
        return 0;
    }
    double *mean = calloc(2 * f, sizeof *mean);
    if (!mean)
        return MLPT_ENOMEM;
    double *var = mean + f;
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + idx[i] * f;
        for (size_t j = 0; j < f; j++)
            mean[j] += row[j];
    }
    for (size_t j = 0; j < f; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + idx[i] * f;
        for (size_t j = 0; j < f; j++) {
            double d = row[j] - mean[j];
            var[j] += d * d;
        }
    }
    for (size_t j = 0; j < f; j++) {
        double sd = sqrt(var[j] / (double)n);
        shift[j] = (float)mean[j];
        scale[j] = sd > 0.0 ? (float)(1.0 / sd) : 0.0f;
    }
    free(mean);
    return 0;
}

/* The one remapping of labels between datasets: map[c] = ref's id of other's class c, matched
 * by name (the last equal name wins), or -1. Returns 0, or MLPT_EFORMAT with *unknown_class (when
 * not NULL) when a class of other that has rows (every class, without class_counts) is not in
 * ref. */
static int class_map(const trainer_dataset_t *other, const trainer_dataset_t *ref, int32_t *map,
                     size_t *unknown_class) {
    for (size_t c = 0; c < other->classes; c++) {
        map[c] = -1;
        for (size_t r = 0; r < ref->classes; r++)
            if (strcmp(other->class_names[c], ref->class_names[r]) == 0)
                map[c] = (int32_t)r;
        if (map[c] < 0 && (!other->class_counts || other->class_counts[c] > 0)) {
            if (unknown_class)
                *unknown_class = c;
            return MLPT_EFORMAT;
        }
    }
    return 0;
}

int trainer_dataset_view_classes(const trainer_dataset_t *other, const trainer_dataset_t *ref,
                                 trainer_dataset_t *view, int32_t **labels, size_t *unknown_class) {
    *labels = NULL;
    if (other->features != ref->features)
        return MLPT_EINVAL;
    int32_t *map = malloc((other->classes ? other->classes : 1) * sizeof *map);
    int32_t *y = malloc((other->rows ? other->rows : 1) * sizeof *y);
    int rc = map && y ? class_map(other, ref, map, unknown_class) : MLPT_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < other->rows; i++)
            y[i] = map[other->y[i]];
        *view = *other;
        view->y = y;
        view->classes = ref->classes;
        view->class_names = ref->class_names;
        view->class_counts = NULL;
        *labels = y;
        y = NULL;
    }
    free(map);
    free(y);
    return rc;
}

int trainer_dataset_align_classes(trainer_dataset_t *other, const trainer_dataset_t *ref,
                                  size_t *unknown_class) {
    if (other->features != ref->features)
        return MLPT_EINVAL;
    int rc = MLPT_ENOMEM;
    int32_t *map = malloc(other->classes * sizeof *map);
    size_t *counts = calloc(ref->classes, sizeof *counts);
    char **names = calloc(ref->classes, sizeof *names);
    if (!map || !counts || !names)
        goto done;
    if ((rc = class_map(other, ref, map, unknown_class)) != 0)
        goto done;
    rc = MLPT_ENOMEM;
    for (size_t r = 0; r < ref->classes; r++)
        if (!(names[r] = strdup(ref->class_names[r])))
            goto done;
    for (size_t i = 0; i < other->rows; i++) {
        other->y[i] = map[other->y[i]];
        counts[other->y[i]]++;
    }
    for (size_t c = 0; c < other->classes; c++)
        free(other->class_names[c]);
    free(other->class_names);
    free(other->class_counts);
    other->class_names = names;
    other->class_counts = counts;
    other->classes = ref->classes;
    names = NULL;
    counts = NULL;
    rc = 0;
done:
    if (names)
        for (size_t r = 0; r < ref->classes; r++)
            free(names[r]);
    free(names);
    free(counts);
    free(map);
    return rc;
}
