/*
 * rows.c - rows of the shared dataset into a forward pass: gathered and scaled into a buffer,
 * and measured (mean loss and accuracy) in chunks. The lowest layer of a run: train.c (the
 * owner's loop) and team.c (the tasks helpers share) both call it, and it calls neither.
 */
#include <string.h>

#include "train_private.h"

int run_scaling_is_identity(const trainer_model_t *m) {
    for (size_t j = 0; j < m->arch.inputs; j++)
        if (m->input_shift[j] != 0.0f || m->input_scale[j] != 1.0f)
            return 0;
    return 1;
}

void gather_rows(const trainer_dataset_t *ds, const trainer_model_t *m, int identity, float *dst,
                 int32_t *labels, const size_t *idx, size_t n, const trainer_dropout_t *drop,
                 uint64_t pos0) {
    const float *shift = m->input_shift, *scale = m->input_scale;
    size_t f = ds->features;
    if (drop && drop->p_input == 0.0f)
        drop = NULL;
    for (size_t i = 0; i < n; i++) {
        const float *src = ds->x + idx[i] * f;
        float *d = dst + i * f;
        if (drop) {
            trainer_dropout_gather_row(drop, d, src, identity ? NULL : shift,
                                       identity ? NULL : scale, f, pos0 + i);
        } else if (identity) {
            memcpy(d, src, f * sizeof *d);
        } else {
            trainer_scale_row(d, src, shift, scale, f);
        }
        labels[i] = ds->y[idx[i]];
    }
}

void measure_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t chunk, int32_t *labels,
                  size_t *tmp_idx, const trainer_dataset_t *ds, const size_t *idx, size_t n,
                  double *loss, double *accuracy) {
    double loss_sum = 0.0;
    size_t correct = 0;
    int identity = run_scaling_is_identity(m);
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        const size_t *rows = idx ? idx + r0 : tmp_idx;
        if (!idx)
            for (size_t i = 0; i < k; i++)
                tmp_idx[i] = r0 + i;
        gather_rows(ds, m, identity, trainer_scratch_input(s), labels, rows, k, NULL, 0);
        trainer_mlp_forward(m, s, k, labels, &loss_sum, &correct);
    }
    *loss = loss_sum / (double)n;
    *accuracy = (double)correct / (double)n;
}
