/*
 * ingest/win_private.h - one window's features (win_features.c), for windows.c's derivation.
 * Private to mlpt_ingest.
 */
#ifndef INGEST_WIN_PRIVATE_H
#define INGEST_WIN_PRIVATE_H

#include <stddef.h>

#include "windows.h"

/* What computing one kind of features needs, made once per derivation. */
typedef struct win_feat {
    ingest_features_t kind;
    ingest_window_shape_t shape;
    size_t channels;
    void *plan;       /* spectrogram: the shared FFTW plan for shape.frame */
    int owned;        /* plan is this derivation's own (the shared table was full) */
    float *in, *hann; /* [frame] (FFTW-aligned in) */
    void *out;        /* [bins] complex (FFTW-aligned) */
} win_feat_t;

/* 0 or MLPT_ENOMEM. */
int ingest_win_feat_init(win_feat_t *f, ingest_features_t kind, const ingest_window_shape_t *shape,
                         size_t channels);

/* The features of the window whose first sample is s (row-major [window][channels]) into
 * row[shape.features]. */
void ingest_win_feat_row(win_feat_t *f, const float *s, float *row);

void ingest_win_feat_deinit(win_feat_t *f);

#endif
