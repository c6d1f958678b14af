/*
 * ingest/windows.h - a recording (recording.h: samples with subject, label and time) cut into
 * windows of consecutive samples, each window one row of features: the dataset a sensor sweep
 * trains on. A window never spans two subjects, two labels, a time going back or a gap longer
 * than max_gap_seconds: the recording is first cut into segments at each of those, and each
 * segment gives the windows that fit in it, every `step` samples from its start.
 *
 * Lengths in seconds become sample counts at the recording's rate (the median interval between
 * consecutive samples, ingest_rec_median_period): window = round(window_seconds x rate), and
 * likewise step, frame and hop. Features per window (`channels` C):
 *   spectrogram  per channel, frames of `frame` samples every `hop` samples (1 + (window -
 *                frame) / hop of them), each multiplied by a periodic Hann window
 *                w[i] = 0.5 - 0.5 cos(2 pi i / frame), its magnitude spectrum |X_k| for
 *                k = 0 .. frame/2 (up to the Nyquist frequency), as log1p(|X_k|); laid out
 *                [channel][frame][k]. The DFTs are FFTW3's single-precision real transforms,
 *                one plan per frame length made once per process (under a lock) and shared.
 *   stats        the 43 features of Kwapisz, Weiss and Moore (2011) for C = 3 (14 C + 1 in
 *                general): per channel the mean, the standard deviation, the average absolute
 *                deviation, the time between peaks (ms: the mean distance between the local
 *                maxima within 10% of the window's highest value, relaxed by 10% steps until
 *                three are found; 0 with fewer than two) and the 10-bin distribution (the
 *                fraction of the samples in each tenth of [min, max]), then the average
 *                resultant acceleration (the mean of the Euclidean norm over the channels);
 *                laid out [mean x C][std x C][aad x C][peaks x C][bins: C x 10][resultant].
 *   raw          the window's samples, [sample][channel].
 * Each row's group is its subject; its label the segment's. Classes without a window are
 * dropped (the others keep the recording's order).
 */
#ifndef INGEST_WINDOWS_H
#define INGEST_WINDOWS_H

#include <stddef.h>

#include "dataset.h"
#include "ingest.h"

typedef enum ingest_features {
    INGEST_FEATURES_SPECTROGRAM = 0,
    INGEST_FEATURES_STATS,
    INGEST_FEATURES_RAW,
} ingest_features_t;

/* "spectrogram", "stats", "raw"; the kind of a name (0) or -1. */
const char *ingest_features_name(ingest_features_t f);
int ingest_features_parse(const char *name, ingest_features_t *out);

typedef struct ingest_window_options {
    double window_seconds; /* > 0 */
    double step_seconds;   /* > 0 */
    ingest_features_t features;
    double frame_seconds;   /* spectrogram: > 0, at most window_seconds */
    double hop_seconds;     /* spectrogram: > 0 */
    double max_gap_seconds; /* >= 0 */
} ingest_window_options_t;

/* The defaults: 10 s windows every 5 s, spectrogram frames of 2 s every 1 s, gaps up to
 * 1 s inside a window. */
void ingest_window_options_init(ingest_window_options_t *opt);

/* The sample counts the options come to at a rate. */
typedef struct ingest_window_shape {
    double rate_hz;
    size_t window, step, frame, hop; /* samples (frame and hop: spectrogram only, else 0) */
    size_t frames, bins;             /* spectrogram: per channel */
    size_t features;                 /* per window */
} ingest_window_shape_t;

/* What a derivation made. */
typedef struct ingest_window_stats {
    size_t windows;
    size_t segments;        /* stretches of one subject and label without a gap */
    size_t short_segments;  /* of them, those shorter than a window (no window) */
    size_t dropped_classes; /* classes of the recording without a window */
} ingest_window_stats_t;

/* Checks opt at a rate for `channels` channels into *shape. 0, or MLPT_EINVAL with *err naming
 * the option in err->column_name ("window_seconds": fewer than 2 samples; "frame_seconds": longer
 * than the window; ...) or MLPT_ELIMIT (over INGEST_DEFAULT_MAX_FEATURES features, naming the
 * option that makes them). Any thread. */
int ingest_window_shape(const ingest_window_options_t *opt, double rate_hz, size_t channels,
                        ingest_window_shape_t *shape, ingest_error_t *err);

/* Cuts rec (with group and time) into windows with opt's features: a new dataset in *out (the
 * caller frees it: trainer_dataset_free; group set, time NULL, scaling standardize), *shape and
 * *stats (each may be NULL). Returns 0; MLPT_EINVAL (rec has no group or time, no rate, or an
 * option as ingest_window_shape says); MLPT_EFORMAT when no window fits or the windows cover one
 * class only (err->column_name "window_seconds"); MLPT_ELIMIT (more than 2^31 values);
 * MLPT_ENOMEM. Memory: the output and one plan's buffers; nothing per sample or per window. Any
 * thread. */
int ingest_windows_derive(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                          trainer_dataset_t **out, ingest_window_shape_t *shape,
                          ingest_window_stats_t *stats, ingest_error_t *err);

/* For a preview: the first window of each class of rec (the segments ingest_windows_derive
 * cuts), starts[c] its first sample, or SIZE_MAX for a class without a window (starts holds
 * rec->classes entries); *shape as ingest_window_shape gives it at rec's rate. 0, or the
 * errors of ingest_window_shape, MLPT_EINVAL (no group or time), MLPT_ENOMEM. Any thread. */
int ingest_windows_first(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                         size_t *starts, ingest_window_shape_t *shape, ingest_error_t *err);

/* The features (opt->features, at *shape) of the window of rec starting at sample `start`
 * (start + shape->window <= rec->rows) into row[shape->features]. 0 or MLPT_ENOMEM. */
int ingest_window_row(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                      const ingest_window_shape_t *shape, size_t start, float *row);

#endif
