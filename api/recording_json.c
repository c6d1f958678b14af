/*
 * api/recording_json.c - a recording's and windows' details as JSON text (recording_json.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_util.h"
#include "recording_json.h"

/* Sets key to v (a new reference) in obj; *bad when either is missing. */
static void put(json_t *obj, const char *key, json_t *v, int *bad) {
    if (!obj || !v || json_object_set_new(obj, key, v) != 0)
        *bad = 1;
}

static json_t *lines_json(const uint64_t *lines, uint64_t count) {
    json_t *a = json_array();
    for (uint64_t i = 0; a && i < count && i < INGEST_REC_FIRST_LINES; i++)
        json_array_append_new(a, json_integer((json_int_t)lines[i]));
    return a;
}

static int by_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Subjects as [{"id", key: rows}] from the group ids of ds, ascending. */
static json_t *subjects_json(const trainer_dataset_t *ds, const char *key) {
    int32_t *ids = ds->group ? malloc(ds->rows * sizeof *ids) : NULL;
    json_t *a = ids ? json_array() : NULL;
    if (!a) {
        free(ids);
        return NULL;
    }
    memcpy(ids, ds->group, ds->rows * sizeof *ids);
    qsort(ids, ds->rows, sizeof *ids, by_id);
    for (size_t i = 0, start = 0; i < ds->rows; i++)
        if (i + 1 == ds->rows || ids[i + 1] != ids[i]) {
            json_array_append_new(a, json_pack("{sI sI}", "id", (json_int_t)ids[i], key,
                                               (json_int_t)(i + 1 - start)));
            start = i + 1;
        }
    free(ids);
    return a;
}

char *api_recording_details(const ingest_rec_report_t *r, const trainer_dataset_t *rec) {
    ingest_rec_summary_t sum;
    if (!r || !rec || ingest_rec_summarize(rec, &sum) != 0)
        return NULL;
    int bad = 0;
    json_t *d = json_object(), *ch = json_array(), *subjects = json_array();
    for (size_t c = 0; ch && c < r->channels; c++)
        json_array_append_new(ch, api_json_string(r->channel_names[c]));
    put(d, "channels", ch, &bad);
    for (size_t i = 0; subjects && i < sum.n_subjects; i++)
        json_array_append_new(subjects, json_pack("{sI sI}", "id", (json_int_t)sum.subjects[i].id,
                                                  "samples", (json_int_t)sum.subjects[i].samples));
    put(d, "subjects", subjects, &bad);
    put(d, "sampling_rate_hz", json_real(sum.rate_hz), &bad);
    put(d, "sample_period_seconds", json_real(sum.period_s), &bad);
    put(d, "gaps",
        json_pack("{sI sf sf sI}", "count", (json_int_t)sum.gaps, "longest_seconds",
                  sum.longest_gap_s, "threshold_seconds", sum.gap_threshold_s, "backwards",
                  (json_int_t)sum.backwards),
        &bad);
    put(d, "records", json_integer((json_int_t)r->records), &bad);
    json_t *q = json_object(), *ql = json_object(), *sk = json_object(), *skl = json_object();
    for (size_t i = 0; i < INGEST_QUIRK_COUNT; i++) {
        put(q, ingest_quirk_name(i), json_integer((json_int_t)r->quirks[i]), &bad);
        if (r->quirks[i])
            put(ql, ingest_quirk_name(i), lines_json(r->quirk_lines[i], r->quirks[i]), &bad);
    }
    for (size_t i = 0; i < INGEST_SKIP_COUNT; i++) {
        put(sk, ingest_skip_name(i), json_integer((json_int_t)r->skipped[i]), &bad);
        if (r->skipped[i])
            put(skl, ingest_skip_name(i), lines_json(r->skip_lines[i], r->skipped[i]), &bad);
    }
    put(d, "quirks", q, &bad);
    put(d, "quirk_lines", ql, &bad);
    put(d, "skipped", sk, &bad);
    put(d, "skipped_lines", skl, &bad);
    free(sum.subjects);
    char *text = bad ? NULL : json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

char *api_windows_details(int64_t source_id, const char *source_name,
                          const ingest_window_options_t *opt, const ingest_window_shape_t *sh,
                          const ingest_window_stats_t *st, const trainer_dataset_t *windows) {
    int bad = 0;
    json_t *d = json_object();
    put(d, "source",
        json_pack("{sI so}", "dataset_id", (json_int_t)source_id, "name",
                  api_json_string(source_name)),
        &bad);
    json_t *p = json_pack("{sf sf ss sf}", "window_seconds", opt->window_seconds, "step_seconds",
                          opt->step_seconds, "features", ingest_features_name(opt->features),
                          "max_gap_seconds", opt->max_gap_seconds);
    if (p && opt->features == INGEST_FEATURES_SPECTROGRAM) {
        put(p, "frame_seconds", json_real(opt->frame_seconds), &bad);
        put(p, "hop_seconds", json_real(opt->hop_seconds), &bad);
    }
    put(d, "parameters", p, &bad);
    json_t *shape = json_pack("{sf sI sI}", "rate_hz", sh->rate_hz, "window_samples",
                              (json_int_t)sh->window, "step_samples", (json_int_t)sh->step);
    if (shape && opt->features == INGEST_FEATURES_SPECTROGRAM) {
        put(shape, "frame_samples", json_integer((json_int_t)sh->frame), &bad);
        put(shape, "hop_samples", json_integer((json_int_t)sh->hop), &bad);
        put(shape, "frames", json_integer((json_int_t)sh->frames), &bad);
        put(shape, "bins", json_integer((json_int_t)sh->bins), &bad);
    }
    put(d, "shape", shape, &bad);
    put(d, "segments", json_integer((json_int_t)st->segments), &bad);
    put(d, "short_segments", json_integer((json_int_t)st->short_segments), &bad);
    put(d, "dropped_classes", json_integer((json_int_t)st->dropped_classes), &bad);
    put(d, "subjects", subjects_json(windows, "windows"), &bad);
    char *text = bad ? NULL : json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}
