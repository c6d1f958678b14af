/*
 * trainer/dataset.h - a labelled dataset as one float32 matrix, and the per-trial views of it.
 *
 * A dataset is parsed once (see ingest/) and then shared read-only by every trial that uses it:
 * nothing in the trainer writes to a trainer_dataset_t after it is built. Each trial makes its own
 * stratified train/validation split and its own feature scaling (statistics from its training
 * split only) and applies that scaling while it gathers mini-batches, so the shared matrix stays
 * raw.
 *
 * Scaling rule (documented in README.md):
 *   TRAINER_SCALE_UNIT         features are already in [0, 1] (IDX pixels are divided by 255 by
 *                              the reader); trials use them as they are.
 *   TRAINER_SCALE_STANDARDIZE  (CSV) each feature becomes (x - mean) / std with mean and std from
 *                              the trial's training split; a constant feature (std == 0) becomes 0.
 *
 * Thread safety: a finished dataset may be read from any number of threads at once.
 */
#ifndef TRAINER_DATASET_H
#define TRAINER_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum trainer_scaling {
    TRAINER_SCALE_STANDARDIZE = 0,
    TRAINER_SCALE_UNIT = 1,          /* also "none": the features as they are */
    TRAINER_SCALE_MINMAX = 2,        /* never a dataset's own rule; a trial may ask for it */
    TRAINER_SCALE_GLOBAL_MINMAX = 3, /* the same, one range for all features (images: x/255) */
} trainer_scaling_t;

typedef struct trainer_dataset {
    size_t rows;          /* number of examples, >= 1 */
    size_t features;      /* number of inputs per example, >= 1 */
    size_t classes;       /* number of distinct labels, >= 2 for a trainable set */
    float *x;             /* [rows][features], row-major, every value finite; malloc'd, owned */
    int32_t *y;           /* [rows] class ids in [0, classes); malloc'd, owned */
    char **class_names;   /* [classes] NUL-terminated names, each malloc'd; owned */
    size_t *class_counts; /* [classes] examples per class; malloc'd, owned */
    trainer_scaling_t scaling;
    int32_t *group; /* [rows] each row's group (rows with one id belong together: one recording,
                       one subject), so that a split can keep a group on one side; any values;
                       NULL for none (a recording: its subjects; windows: their subject).
                       malloc'd, owned */
    int64_t *time;  /* [rows] each row's timestamp in ns (a sensor recording's samples), NULL for
                       none; the trainer never reads it. malloc'd, owned */
} trainer_dataset_t;

/* Frees a dataset and everything it owns (every pointer member is released with free()).
 * Accepts NULL. */
void trainer_dataset_free(trainer_dataset_t *ds);

/* Checks the invariants above (sizes, labels in range, finite values, counts that match y).
 * Returns 0, or MLPT_EINVAL when a member is missing or inconsistent, MLPT_EFORMAT when a value
 * of x is NaN/Inf or a label is out of range, MLPT_ENOMEM. Any thread. */
int trainer_dataset_check(const trainer_dataset_t *ds);

/* A trial's view of a dataset: which rows train and which validate. */
typedef struct trainer_split {
    size_t *train; /* [n_train] row indices; owned */
    size_t *val;   /* [n_val] row indices; owned (NULL when n_val == 0) */
    size_t n_train;
    size_t n_val;
    size_t *test; /* [n_test] rows held out as a test set (trainer_split_grouped); owned */
    size_t n_test;
} trainer_split_t;

/* Splits ds into training and validation rows, stratified by class: each class contributes
 * round(count * val_fraction) rows to validation (but always leaves at least one of its rows for
 * training), chosen by a shuffle seeded with `seed`. Row order inside each part is ascending.
 * val_fraction must be in [0, 1); 0 gives an empty validation part.
 * Returns 0 and fills *out (release with trainer_split_deinit), MLPT_EINVAL for a bad fraction
 * or an empty dataset, MLPT_ENOMEM. Same inputs, same split, on every machine. Any thread. */
int trainer_split_stratified(const trainer_dataset_t *ds, double val_fraction, uint64_t seed,
                             trainer_split_t *out);

/* Splits ds by group (ds->group, every row of a group on one side: windows of one subject are
 * near copies of each other, and a split by rows would score the model on its training data).
 * Rows whose group is among test_groups[0..n_test_groups) go to out->test (ascending) and
 * neither to training nor validation. The other groups are visited in an order shuffled by
 * `seed`; each goes to validation when that brings the validation rows of every class closer
 * to round(count * val_fraction) (squared distances, each class's relative to its target), so
 * the split is stratified as far as whole groups allow. With val_fraction > 0 and two groups
 * or more, at least one group validates and at least one trains. Returns 0 and fills *out
 * (trainer_split_deinit); MLPT_EINVAL for no groups, a bad fraction, or no row left to train
 * on (every group is a test group); MLPT_ENOMEM. Same inputs, same split. Any thread. */
int trainer_split_grouped(const trainer_dataset_t *ds, double val_fraction, uint64_t seed,
                          const int32_t *test_groups, size_t n_test_groups, trainer_split_t *out);

/* Releases what a split owns and zeroes it. Accepts a zeroed split. */
void trainer_split_deinit(trainer_split_t *split);

/* Computes the per-feature affine map x' = (x - shift) * scale that a trial applies, from the
 * rows idx[0..n) only, by the dataset's own rule: for TRAINER_SCALE_UNIT shift = 0 and scale = 1;
 * for TRAINER_SCALE_STANDARDIZE shift = mean and scale = 1/std (0 when std is 0).
 * shift and scale must each hold ds->features floats. Returns 0, MLPT_EINVAL when n == 0. */
int trainer_scaler_fit(const trainer_dataset_t *ds, const size_t *idx, size_t n, float *shift,
                       float *scale);

/* The same with a rule of the caller's choice; TRAINER_SCALE_MINMAX maps each feature's range
 * over the rows to [0, 1]: shift = min, scale = 1/(max - min) (0 when the feature is constant);
 * TRAINER_SCALE_GLOBAL_MINMAX maps the range of all features together to [0, 1] (pixels that
 * span 0..255 anywhere: x/255 for every feature, a rare border pixel included). MLPT_EINVAL
 * for an unknown rule. */
int trainer_scaler_fit_as(const trainer_dataset_t *ds, trainer_scaling_t rule, const size_t *idx,
                          size_t n, float *shift, float *scale);

/* Renumbers the labels of `other` (say a test set) into `ref`'s class ids, matching classes by
 * name, so a model trained on ref scores other correctly; other's class names and counts are
 * replaced by ref's. Returns 0; MLPT_EINVAL when the feature counts differ; MLPT_EFORMAT when
 * rows of other carry a class ref does not know (a class without rows is dropped) (its index is
 * stored in *unknown_class when not NULL, and other is left unchanged); MLPT_ENOMEM. */
int trainer_dataset_align_classes(trainer_dataset_t *other, const trainer_dataset_t *ref,
                                  size_t *unknown_class);

/* The same remapping without touching `other` (a dataset shared read-only, say by every trial
 * that tests on it): fills *view with other's matrix (borrowed: valid while other lives), ref's
 * classes and class names (borrowed from ref), class_counts NULL, and labels renumbered into
 * ref's ids in a new array, also returned in *labels (the caller frees it; the view must not be
 * passed to trainer_dataset_free). Returns 0; MLPT_EINVAL when the feature counts differ;
 * MLPT_EFORMAT when a class of other with rows is not in ref (its index in *unknown_class when
 * not NULL); MLPT_ENOMEM. *labels is NULL on failure. Any thread. */
int trainer_dataset_view_classes(const trainer_dataset_t *other, const trainer_dataset_t *ref,
                                 trainer_dataset_t *view, int32_t **labels, size_t *unknown_class);

#endif
