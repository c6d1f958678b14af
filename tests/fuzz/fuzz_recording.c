/*
 * tests/fuzz/fuzz_recording.c - libFuzzer harness for the sensor recording parsers
 * (ingest/recording.h: wisdm and timeseries) and the windows cut from what they parse
 * (ingest/windows.h).
 *
 * Input: [options byte] [2 chunk-seed bytes] [the file].
 *   options bit 0: timeseries (else wisdm); bits 1-2: timestamp unit (timeseries);
 *           bit 3: max_line_bytes 48 and max_rows 6 (small limits reach every ELIMIT path);
 *           bits 4-5: window features; bit 6: subject_column "user".
 *
 * The file is parsed twice: in one feed, and in chunks whose sizes come from the seed bytes.
 * Invariants:
 *   - both parses end alike: the same code and the same dataset bit for bit (x, y, group,
 *     time) and the same account, or the same error (code, row, column, message);
 *   - errors are sticky: a feed after a failure answers the same error;
 *   - a dataset passes trainer_dataset_check, has 2 classes or more, one group and one time
 *     (> 0) per row, as many rows as records used (records - skipped), within the limits;
 *   - a failure is documented: EFORMAT or EINVAL (a timeseries column), ELIMIT only with the
 *     small limits or too many timeseries columns, with a non-empty message;
 *   - windows derived from the dataset (1 s windows, 0.5 s steps, a 5-sample frame) either come
 *     out consistent (every row's group a subject of the recording, classes >= 2, checked) or
 *     are refused with EINVAL / EFORMAT / ELIMIT naming an option.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "fuzz_util.h"
#include "mlpt_err.h"
#include "recording.h"
#include "windows.h"

typedef struct outcome {
    int rc;
    ingest_error_t err;
    trainer_dataset_t *ds;
    ingest_rec_report_t rep;
} outcome_t;

static ingest_rec_t *new_parser(uint8_t b, ingest_rec_options_t *opt) {
    ingest_rec_options_init(opt);
    opt->timestamp_unit = (ingest_time_unit_t)((b >> 1) & 3);
    if (b & 8) {
        opt->max_line_bytes = 48;
        opt->max_rows = 6;
    }
    if (b & 0x40)
        opt->subject_column = "user";
    return b & 1 ? ingest_timeseries_new(opt, NULL) : ingest_wisdm_new(opt);
}

static outcome_t run(uint8_t b, const uint8_t *data, size_t size, uint64_t seed, int chunked) {
    outcome_t o;
    ingest_rec_options_t opt;
    memset(&o, 0, sizeof o);
    ingest_rec_t *p = new_parser(b, &opt);
    FUZZ_CHECK(p != NULL, "no parser");
    fuzz_chunker_t c;
    fuzz_chunker_init(&c, seed);
    size_t off = 0;
    while (off < size && !o.rc) {
        size_t n = chunked ? fuzz_chunk(&c, size - off) : size - off;
        o.rc = ingest_rec_feed(p, data + off, n, &o.err);
        off += n;
    }
    if (o.rc) {
        ingest_error_t again;
        memset(&again, 0, sizeof again);
        FUZZ_CHECK(ingest_rec_feed(p, "x", 1, &again) == o.rc, "errors are sticky");
        FUZZ_CHECK(strcmp(again.message, o.err.message) == 0, "the same error again");
    } else {
        o.rc = ingest_rec_finish(p, &o.ds, &o.err);
    }
    o.rep = *ingest_rec_report(p);
    o.rep.channel_names = NULL;
    ingest_rec_free(p);
    return o;
}

static void check_windows(const trainer_dataset_t *rec, uint8_t b) {
    ingest_window_options_t w;
    ingest_window_options_init(&w);
    w.window_seconds = 1.0;
    w.step_seconds = 0.5;
    w.frame_seconds = 0.25;
    w.hop_seconds = 0.1;
    w.features = (ingest_features_t)(((b >> 4) & 3) % 3);
    trainer_dataset_t *out = NULL;
    ingest_error_t e;
    memset(&e, 0, sizeof e);
    int rc = ingest_windows_derive(rec, &w, &out, NULL, NULL, &e);
    if (rc) {
        FUZZ_CHECK(rc == MLPT_EINVAL || rc == MLPT_EFORMAT || rc == MLPT_ELIMIT,
                   "windows: undocumented code %d", rc);
        FUZZ_CHECK(e.column_name[0] && e.message[0], "windows: a refusal names its option");
        FUZZ_CHECK(out == NULL, "no dataset on failure");
        return;
    }
    FUZZ_CHECK(trainer_dataset_check(out) == 0 && out->classes >= 2, "windows: consistent");
    for (size_t i = 0; i < out->rows; i++) {
        int known = 0;
        for (size_t j = 0; j < rec->rows && !known; j++)
            known = rec->group[j] == out->group[i];
        FUZZ_CHECK(known, "windows: row %zu's subject %d is not the recording's", i,
                   (int)out->group[i]);
    }
    trainer_dataset_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t b = (uint8_t)fuzz_take(&data, &size, 1);
    uint64_t seed = fuzz_take(&data, &size, 2);
    outcome_t whole = run(b, data, size, seed, 0);
    outcome_t parts = run(b, data, size, seed, 1);
    FUZZ_CHECK(whole.rc == parts.rc, "codes differ: %d vs %d", whole.rc, parts.rc);
    if (whole.rc) {
        FUZZ_CHECK(strcmp(whole.err.message, parts.err.message) == 0 &&
                       whole.err.row == parts.err.row && whole.err.column == parts.err.column,
                   "errors differ: \"%s\" vs \"%s\"", whole.err.message, parts.err.message);
        FUZZ_CHECK(whole.err.message[0], "an error has a message");
        FUZZ_CHECK(
            whole.rc == MLPT_EFORMAT || (whole.rc == MLPT_EINVAL && (b & 1)) ||
                (whole.rc == MLPT_ELIMIT && ((b & 8) || strstr(whole.err.message, "columns"))),
            "undocumented code %d: %s", whole.rc, whole.err.message);
        return 0;
    }
    trainer_dataset_t *a = whole.ds, *c = parts.ds;
    FUZZ_CHECK(memcmp(&whole.rep, &parts.rep, sizeof whole.rep) == 0, "accounts differ");
    FUZZ_CHECK(a->rows == c->rows && a->features == c->features && a->classes == c->classes,
               "shapes differ");
    FUZZ_CHECK(memcmp(a->x, c->x, a->rows * a->features * sizeof(float)) == 0 &&
                   memcmp(a->y, c->y, a->rows * sizeof(int32_t)) == 0 &&
                   memcmp(a->group, c->group, a->rows * sizeof(int32_t)) == 0 &&
                   memcmp(a->time, c->time, a->rows * sizeof(int64_t)) == 0,
               "datasets differ");
    FUZZ_CHECK(trainer_dataset_check(a) == 0 && a->classes >= 2, "a dataset is consistent");
    uint64_t skipped = 0;
    for (size_t s = 0; s < INGEST_SKIP_COUNT; s++)
        skipped += whole.rep.skipped[s];
    FUZZ_CHECK(whole.rep.records == a->rows + skipped, "records %llu != %zu used + %llu skipped",
               (unsigned long long)whole.rep.records, a->rows, (unsigned long long)skipped);
    for (size_t i = 0; i < a->rows; i++)
        FUZZ_CHECK(a->time[i] > 0 && a->group[i] >= 0, "row %zu: time and subject", i);
    FUZZ_CHECK(!(b & 8) || a->rows <= 6, "max_rows");
    check_windows(a, b);
    trainer_dataset_free(a);
    trainer_dataset_free(c);
    return 0;
}
