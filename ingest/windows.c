/*
 * ingest/windows.c - a recording cut into windows (windows.h): options into sample counts, the
 * segments (one subject and label, no gap, time never going back), one pass counting the
 * windows and one computing their features straight into the output matrix.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_private.h"
#include "recording.h"
#include "win_private.h"

static const char *const feature_names[] = {"spectrogram", "stats", "raw"};

const char *ingest_features_name(ingest_features_t f) {
    return (unsigned)f < 3 ? feature_names[f] : "spectrogram";
}

int ingest_features_parse(const char *name, ingest_features_t *out) {
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, feature_names[i]) == 0) {
            *out = (ingest_features_t)i;
            return 0;
        }
    return -1;
}

void ingest_window_options_init(ingest_window_options_t *opt) {
    opt->window_seconds = 10.0;
    opt->step_seconds = 5.0;
    opt->features = INGEST_FEATURES_SPECTROGRAM;
    opt->frame_seconds = 2.0;
    opt->hop_seconds = 1.0;
    opt->max_gap_seconds = 1.0;
}

/* seconds x rate as a sample count (0 when not finite, negative or absurd). */
static size_t samples(double seconds, double rate) {
    double v = seconds * rate;
    return isfinite(v) && v >= 0.5 && v < 1e9 ? (size_t)llround(v) : 0;
}

/* Fails naming the option (err->column_name) with the message option: fmt. Returns code. */
static int bad_option(ingest_error_t *err, int code, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad_option(ingest_error_t *err, int code, const char *option, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ingest_error_set(err, code, 0, 0, option, "%s", msg);
    if (err)
        snprintf(err->column_name, sizeof err->column_name, "%s", option);
    return code;
}

int ingest_window_shape(const ingest_window_options_t *opt, double rate_hz, size_t channels,
                        ingest_window_shape_t *sh, ingest_error_t *err) {
    memset(sh, 0, sizeof *sh);
    sh->rate_hz = rate_hz;
    if (!(rate_hz > 0.0) || !isfinite(rate_hz) || channels == 0)
        return bad_option(err, MLPT_EINVAL, "dataset_id",
                          "the recording has no sampling rate (%g Hz) or no channel (%zu)", rate_hz,
                          channels);
    sh->window = samples(opt->window_seconds, rate_hz);
    sh->step = samples(opt->step_seconds, rate_hz);
    if (sh->window < 2)
        return bad_option(err, MLPT_EINVAL, "window_seconds",
                          "%g s is fewer than 2 samples at the recording's %.4g Hz",
                          opt->window_seconds, rate_hz);
    if (sh->step < 1)
        return bad_option(err, MLPT_EINVAL, "step_seconds",
                          "%g s is less than one sample at the recording's %.4g Hz",
                          opt->step_seconds, rate_hz);
    if (!(opt->max_gap_seconds >= 0.0) || !isfinite(opt->max_gap_seconds))
        return bad_option(err, MLPT_EINVAL, "max_gap_seconds", "must be >= 0 (got %g)",
                          opt->max_gap_seconds);
    double feats;
    switch (opt->features) {
    case INGEST_FEATURES_SPECTROGRAM:
        sh->frame = samples(opt->frame_seconds, rate_hz);
        sh->hop = samples(opt->hop_seconds, rate_hz);
        if (sh->frame < 2)
            return bad_option(err, MLPT_EINVAL, "frame_seconds",
                              "%g s is fewer than 2 samples at the recording's %.4g Hz",
                              opt->frame_seconds, rate_hz);
        if (sh->frame > sh->window)
            return bad_option(err, MLPT_EINVAL, "frame_seconds",
                              "%g s is longer than the window (window_seconds %g)",
                              opt->frame_seconds, opt->window_seconds);
        if (sh->hop < 1)
            return bad_option(err, MLPT_EINVAL, "hop_seconds",
                              "%g s is less than one sample at the recording's %.4g Hz",
                              opt->hop_seconds, rate_hz);
        sh->frames = 1 + (sh->window - sh->frame) / sh->hop;
        sh->bins = sh->frame / 2 + 1;
        feats = (double)channels * (double)sh->frames * (double)sh->bins;
        break;
    case INGEST_FEATURES_STATS:
        feats = 14.0 * (double)channels + 1.0;
        break;
    default:
        feats = (double)sh->window * (double)channels;
    }
    if (feats > (double)INGEST_DEFAULT_MAX_FEATURES)
        return bad_option(err, MLPT_ELIMIT, "window_seconds",
                          "these options make %.0f features a window, over the limit of %.0f",
                          feats, (double)INGEST_DEFAULT_MAX_FEATURES);
    sh->features = (size_t)feats;
    return 0;
}

/* Whether sample i starts a new segment (i > 0). */
static int breaks(const trainer_dataset_t *r, size_t i, int64_t max_gap) {
    int64_t dt = r->time[i] - r->time[i - 1];
    return r->group[i] != r->group[i - 1] || r->y[i] != r->y[i - 1] || dt < 0 || dt > max_gap;
}

/* Calls fn(start sample, user) for every window of r, segment by segment; counts into *st. */
static void walk(const trainer_dataset_t *r, const ingest_window_shape_t *sh, int64_t max_gap,
                 ingest_window_stats_t *st, void (*fn)(size_t start, void *user), void *user) {
    size_t seg = 0;
    memset(st, 0, sizeof *st);
    for (size_t i = 1; i <= r->rows; i++) {
        if (i < r->rows && !breaks(r, i, max_gap))
            continue;
        size_t len = i - seg;
        st->segments++;
        if (len < sh->window)
            st->short_segments++;
        for (size_t s = seg; len >= sh->window && s + sh->window <= i; s += sh->step) {
            st->windows++;
            if (fn)
                fn(s, user);
        }
        seg = i;
    }
}

typedef struct fill {
    const trainer_dataset_t *rec;
    trainer_dataset_t *ds;
    const int32_t *class_map;
    size_t *per_class; /* windows per source class (the counting pass) */
    win_feat_t feat;
    size_t row;
} fill_t;

static void count_class(size_t start, void *user) {
    fill_t *f = user;
    f->per_class[f->rec->y[start]]++;
}

static void fill_row(size_t start, void *user) {
    fill_t *f = user;
    const trainer_dataset_t *r = f->rec;
    trainer_dataset_t *ds = f->ds;
    ingest_win_feat_row(&f->feat, r->x + start * r->features, ds->x + f->row * ds->features);
    ds->y[f->row] = f->class_map[r->y[start]];
    ds->group[f->row] = r->group[start];
    f->row++;
}

/* The output's classes: those with windows, in the recording's order. */
static int make_classes(const trainer_dataset_t *rec, fill_t *f, int32_t *map,
                        ingest_window_stats_t *st) {
    trainer_dataset_t *ds = f->ds;
    size_t k = 0;
    for (size_t c = 0; c < rec->classes; c++)
        k += f->per_class[c] > 0;
    ds->class_names = calloc(k ? k : 1, sizeof *ds->class_names);
    ds->class_counts = calloc(k ? k : 1, sizeof *ds->class_counts);
    if (!ds->class_names || !ds->class_counts)
        return MLPT_ENOMEM;
    ds->classes = k;
    k = 0;
    for (size_t c = 0; c < rec->classes; c++) {
        if (!f->per_class[c]) {
            map[c] = -1;
            st->dropped_classes++;
            continue;
        }
        map[c] = (int32_t)k;
        ds->class_counts[k] = f->per_class[c];
        if (!(ds->class_names[k++] = strdup(rec->class_names[c])))
            return MLPT_ENOMEM;
    }
    return 0;
}

int ingest_windows_derive(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                          trainer_dataset_t **out, ingest_window_shape_t *shape_out,
                          ingest_window_stats_t *stats_out, ingest_error_t *err) {
    ingest_window_shape_t sh;
    ingest_window_stats_t st;
    int64_t period = 0;
    *out = NULL;
    if (!rec || !rec->group || !rec->time || !opt)
        return bad_option(err, MLPT_EINVAL, "dataset_id",
                          "not a recording: it has no subjects or no timestamps");
    int rc = ingest_rec_median_period(rec, &period);
    if (rc)
        return rc;
    rc = ingest_window_shape(opt, period > 0 ? 1e9 / (double)period : 0.0, rec->features, &sh, err);
    if (rc)
        return rc;
    double gap = opt->max_gap_seconds * 1e9;
    int64_t max_gap = gap >= 9e18 ? INT64_MAX : (int64_t)gap;
    fill_t f = {.rec = rec};
    int32_t *map = malloc(rec->classes * sizeof *map);
    f.per_class = calloc(rec->classes, sizeof *f.per_class);
    f.ds = calloc(1, sizeof *f.ds);
    rc = MLPT_ENOMEM;
    if (!map || !f.per_class || !f.ds)
        goto fail;
    walk(rec, &sh, max_gap, &st, count_class, &f);
    if (st.windows == 0) {
        rc = bad_option(err, MLPT_EFORMAT, "window_seconds",
                        "no window fits: none of the %zu stretches of one subject and label "
                        "without a gap over max_gap_seconds holds %zu samples (%g s)",
                        st.segments, sh.window, opt->window_seconds);
        goto fail;
    }
    if ((double)st.windows * (double)sh.features > (double)INGEST_DEFAULT_MAX_VALUES) {
        rc = bad_option(err, MLPT_ELIMIT, "step_seconds",
                        "%zu windows of %zu features are more than 2^31 values", st.windows,
                        sh.features);
        goto fail;
    }
    if ((rc = make_classes(rec, &f, map, &st)) != 0)
        goto fail;
    if (f.ds->classes < 2) {
        rc = bad_option(err, MLPT_EFORMAT, "window_seconds",
                        "the windows cover one class only (\"%.60s\"): a dataset needs two",
                        f.ds->class_names[0]);
        goto fail;
    }
    f.class_map = map;
    f.ds->rows = st.windows;
    f.ds->features = sh.features;
    f.ds->scaling = TRAINER_SCALE_STANDARDIZE;
    f.ds->x = malloc(st.windows * sh.features * sizeof *f.ds->x);
    f.ds->y = malloc(st.windows * sizeof *f.ds->y);
    f.ds->group = malloc(st.windows * sizeof *f.ds->group);
    rc = MLPT_ENOMEM;
    if (!f.ds->x || !f.ds->y || !f.ds->group ||
        ingest_win_feat_init(&f.feat, opt->features, &sh, rec->features) != 0)
        goto fail;
    walk(rec, &sh, max_gap, &st, fill_row, &f);
    ingest_win_feat_deinit(&f.feat);
    for (size_t c = 0; c < rec->classes; c++)
        st.dropped_classes += f.per_class[c] == 0;
    rc = trainer_dataset_check(f.ds);
    if (rc) {
        bad_option(err, rc, "features", "the features are not finite");
        goto fail;
    }
    *out = f.ds;
    f.ds = NULL;
    if (shape_out)
        *shape_out = sh;
    if (stats_out)
        *stats_out = st;
    rc = 0;
fail:
    if (rc == MLPT_ENOMEM)
        ingest_error_set(err, rc, 0, 0, NULL, "out of memory deriving windows");
    trainer_dataset_free(f.ds);
    free(map);
    free(f.per_class);
    return rc;
}

typedef struct firsts {
    const trainer_dataset_t *rec;
    size_t *starts;
} firsts_t;

static void first_of_class(size_t start, void *user) {
    firsts_t *f = user;
    size_t c = (size_t)f->rec->y[start];
    if (f->starts[c] == SIZE_MAX)
        f->starts[c] = start;
}

int ingest_windows_first(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                         size_t *starts, ingest_window_shape_t *shape, ingest_error_t *err) {
    int64_t period = 0;
    ingest_window_stats_t st;
    if (!rec || !rec->group || !rec->time || !opt)
        return bad_option(err, MLPT_EINVAL, "dataset_id",
                          "not a recording: it has no subjects or no timestamps");
    int rc = ingest_rec_median_period(rec, &period);
    if (!rc)
        rc = ingest_window_shape(opt, period > 0 ? 1e9 / (double)period : 0.0, rec->features, shape,
                                 err);
    if (rc)
        return rc;
    double gap = opt->max_gap_seconds * 1e9;
    firsts_t f = {rec, starts};
    for (size_t c = 0; c < rec->classes; c++)
        starts[c] = SIZE_MAX;
    walk(rec, shape, gap >= 9e18 ? INT64_MAX : (int64_t)gap, &st, first_of_class, &f);
    return 0;
}

int ingest_window_row(const trainer_dataset_t *rec, const ingest_window_options_t *opt,
                      const ingest_window_shape_t *shape, size_t start, float *row) {
    win_feat_t f;
    if (ingest_win_feat_init(&f, opt->features, shape, rec->features) != 0)
        return MLPT_ENOMEM;
    ingest_win_feat_row(&f, rec->x + start * rec->features, row);
    ingest_win_feat_deinit(&f);
    return 0;
}
