/*
 * train.c - the iteration loop: shuffle, gather, step, measure, validate, report.
 * No allocation happens inside the loop: every buffer is made before the first iteration.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"
#include "rng.h"

#define EVAL_ROWS 256 /* rows per forward pass when measuring */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int trainer_options_check(const trainer_options_t *opt) {
    if (!opt || !(opt->learning_rate > 0.0f) || !isfinite(opt->learning_rate))
        return MLPT_EINVAL;
    if (!(opt->momentum >= 0.0f && opt->momentum < 1.0f))
        return MLPT_EINVAL;
    if (opt->batch_size < 1 || opt->iterations < 1)
        return MLPT_EINVAL;
    if (opt->batch_size > TRAINER_MAX_BATCH || opt->iterations > TRAINER_MAX_ITERATIONS)
        return MLPT_ELIMIT;
    return 0;
}

/* True when the model's input map is the identity (then rows are copied as they are). */
static int scaling_is_identity(const trainer_model_t *m) {
    for (size_t j = 0; j < m->arch.inputs; j++)
        if (m->input_shift[j] != 0.0f || m->input_scale[j] != 1.0f)
            return 0;
    return 1;
}

/* dst[n][f] = (x[idx[i]] - shift) * scale; labels alongside. */
static void gather(float *dst, int32_t *labels, const trainer_dataset_t *ds, const size_t *idx,
                   size_t n, const float *shift, const float *scale, int identity) {
    size_t f = ds->features;
    for (size_t i = 0; i < n; i++) {
        const float *src = ds->x + idx[i] * f;
        float *d = dst + i * f;
        if (identity) {
            memcpy(d, src, f * sizeof *d);
        } else {
            for (size_t j = 0; j < f; j++)
                d[j] = (src[j] - shift[j]) * scale[j];
        }
        labels[i] = ds->y[idx[i]];
    }
}

static int fits(const trainer_model_t *m, const trainer_dataset_t *ds) {
    return ds && ds->rows > 0 && ds->features == m->arch.inputs && ds->classes <= m->arch.outputs;
}

/* Forward passes over idx[0..n) (or rows 0..n when idx is NULL) in chunks of the scratch. */
static void measure(const trainer_model_t *m, trainer_scratch_t *s, size_t chunk, int32_t *labels,
                    size_t *tmp_idx, const trainer_dataset_t *ds, const size_t *idx, size_t n,
                    double *loss, double *accuracy) {
    double loss_sum = 0.0;
    size_t correct = 0;
    int identity = scaling_is_identity(m);
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        const size_t *rows = idx ? idx + r0 : tmp_idx;
        if (!idx)
            for (size_t i = 0; i < k; i++)
                tmp_idx[i] = r0 + i;
        gather(trainer_scratch_input(s), labels, ds, rows, k, m->input_shift, m->input_scale,
               identity);
        trainer_mlp_forward(m, s, k, labels, &loss_sum, &correct);
    }
    *loss = loss_sum / (double)n;
    *accuracy = (double)correct / (double)n;
}

int trainer_evaluate(const trainer_model_t *m, const trainer_dataset_t *ds, const size_t *idx,
                     size_t n, double *loss, double *accuracy) {
    if (!fits(m, ds))
        return MLPT_EINVAL;
    if (!idx)
        n = ds->rows;
    if (n == 0)
        return MLPT_EINVAL;
    int rc = MLPT_ENOMEM;
    trainer_scratch_t *s = trainer_scratch_new(&m->arch, EVAL_ROWS);
    int32_t *labels = malloc(EVAL_ROWS * sizeof *labels);
    size_t *tmp = malloc(EVAL_ROWS * sizeof *tmp);
    if (s && labels && tmp) {
        measure(m, s, EVAL_ROWS, labels, tmp, ds, idx, n, loss, accuracy);
        rc = 0;
    }
    trainer_scratch_free(s);
    free(labels);
    free(tmp);
    return rc;
}

int trainer_train(trainer_model_t *m, const trainer_dataset_t *ds, const trainer_split_t *split,
                  const trainer_options_t *opt, trainer_epoch_fn on_epoch, void *user,
                  trainer_result_t *result) {
    if (trainer_options_check(opt) != 0 || !fits(m, ds) || !split || split->n_train == 0)
        return MLPT_EINVAL;
    const double t_start = now_seconds();
    trainer_result_t res = {.best_val_accuracy = NAN};
    size_t batch = opt->batch_size;
    size_t rows_cap = batch > EVAL_ROWS ? batch : EVAL_ROWS;
    int rc = MLPT_ENOMEM;
    trainer_scratch_t *s = trainer_scratch_new(&m->arch, rows_cap);
    int32_t *labels = malloc(rows_cap * sizeof *labels);
    size_t *order = malloc(split->n_train * sizeof *order);
    float *velocity = opt->momentum > 0.0f ? calloc(m->n_params, sizeof(float)) : NULL;
    if (!s || !labels || !order || (opt->momentum > 0.0f && !velocity))
        goto done;
    rc = trainer_scaler_fit(ds, split->train, split->n_train, m->input_shift, m->input_scale);
    if (rc != 0)
        goto done;
    memcpy(order, split->train, split->n_train * sizeof *order);
    int identity = scaling_is_identity(m);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, opt->seed, TRAINER_RNG_SHUFFLE);
    size_t samples = 0;

    for (size_t it = 1; it <= opt->iterations; it++) {
        double t0 = now_seconds();
        double loss_sum = 0.0;
        size_t correct = 0, seen = 0;
        trainer_rng_shuffle(&rng, order, split->n_train);
        for (size_t b0 = 0; b0 < split->n_train; b0 += batch) {
            if (opt->stop && atomic_load(opt->stop)) {
                rc = MLPT_ESTOPPED;
                goto stopped;
            }
            size_t n = split->n_train - b0 < batch ? split->n_train - b0 : batch;
            gather(trainer_scratch_input(s), labels, ds, order + b0, n, m->input_shift,
                   m->input_scale, identity);
            double batch_loss = 0.0;
            trainer_mlp_forward(m, s, n, labels, &batch_loss, &correct);
            loss_sum += batch_loss;
            seen += n;
            if (!isfinite(batch_loss))
                break;
            trainer_mlp_sgd_step(m, s, n, opt->learning_rate, opt->momentum, velocity);
        }
        samples += seen;
        double t_trained = now_seconds();
        res.train_seconds += t_trained - t0;
        trainer_epoch_t ep = {.iteration = it,
                              .train_loss = loss_sum / (double)seen,
                              .train_accuracy = (double)correct / (double)seen,
                              .val_loss = NAN,
                              .val_accuracy = NAN};
        int diverged = !isfinite(loss_sum);
        if (!diverged && split->n_val > 0) {
            measure(m, s, rows_cap, labels, NULL, ds, split->val, split->n_val, &ep.val_loss,
                    &ep.val_accuracy);
            if (isnan(res.best_val_accuracy) || ep.val_accuracy > res.best_val_accuracy) {
                res.best_val_accuracy = ep.val_accuracy;
                res.best_iteration = it;
            }
        }
        ep.seconds = now_seconds() - t0;
        res.iterations_done = it;
        int stop = on_epoch ? on_epoch(&ep, user) : 0;
        if (diverged) {
            rc = MLPT_EDIVERGED;
            goto stopped;
        }
        if (stop) {
            rc = MLPT_ESTOPPED;
            goto stopped;
        }
    }
    rc = 0;
stopped:
    res.seconds = now_seconds() - t_start;
    res.samples_per_second = res.train_seconds > 0.0 ? (double)samples / res.train_seconds : 0.0;
    if (result)
        *result = res;
done:
    trainer_scratch_free(s);
    free(labels);
    free(order);
    free(velocity);
    return rc;
}
