/*
 * ingest/formats.c - the registry of dataset formats (format.h): CSV, IDX and the sensor
 * recordings (wisdm, timeseries: recording.h, chosen by name). A new format is
 * one more entry in `formats` below, with its parts' parser functions and its build.
 */
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "format.h"
#include "idx.h"
#include "ingest_private.h"
#include "recording.h"

void ingest_options_init(ingest_options_t *opt) {
    opt->label_name = NULL;
    ingest_csv_options_init(&opt->csv);
    ingest_idx_options_init(&opt->idx);
    ingest_rec_options_init(&opt->rec);
}

/* ---- CSV: one part, "file" ---- */

static int csv_detect(const void *head, size_t len) {
    return ingest_sniff(head, len) == INGEST_FORMAT_CSV;
}

static void *csv_new(const ingest_options_t *opt) {
    ingest_csv_options_t csv = opt->csv;
    if (opt->label_name) {
        csv.label_name = opt->label_name;
        csv.label_index = -1;
    }
    return ingest_csv_new(&csv);
}

static int csv_feed(void *p, const void *buf, size_t len, ingest_error_t *err) {
    return ingest_csv_feed(p, buf, len, err);
}

static size_t csv_mem(const void *p) {
    return ingest_csv_mem_bytes(p);
}

static void csv_free(void *p) {
    ingest_csv_free(p);
}

static uint64_t csv_gunzip(const ingest_options_t *opt) {
    return opt->csv.max_gunzip_bytes ? opt->csv.max_gunzip_bytes : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

static int csv_build(void *const *parsers, trainer_dataset_t **out, size_t *part,
                     ingest_error_t *err) {
    *part = 0;
    return ingest_csv_finish(parsers[0], out, err);
}

/* ---- IDX: two parts, "images" and "labels" ---- */

static int idx_images_detect(const void *head, size_t len) {
    return ingest_sniff(head, len) == INGEST_FORMAT_IDX_IMAGES;
}

static int idx_labels_detect(const void *head, size_t len) {
    return ingest_sniff(head, len) == INGEST_FORMAT_IDX_LABELS;
}

static void *idx_images_new(const ingest_options_t *opt) {
    return ingest_idx_new(INGEST_IDX_IMAGES, &opt->idx);
}

static void *idx_labels_new(const ingest_options_t *opt) {
    return ingest_idx_new(INGEST_IDX_LABELS, &opt->idx);
}

static int idx_feed(void *p, const void *buf, size_t len, ingest_error_t *err) {
    return ingest_idx_feed(p, buf, len, err);
}

static int idx_end(void *p, ingest_error_t *err) {
    return ingest_idx_finish(p, err);
}

static size_t idx_mem(const void *p) {
    return ingest_idx_mem_bytes(p);
}

static void idx_free(void *p) {
    ingest_idx_free(p);
}

static uint64_t idx_gunzip(const ingest_options_t *opt) {
    return opt->idx.max_gunzip_bytes ? opt->idx.max_gunzip_bytes : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

static int idx_build(void *const *parsers, trainer_dataset_t **out, size_t *part,
                     ingest_error_t *err) {
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = ingest_idx_combine(parsers[0], parsers[1], out, &e);
    /* The pairing names the file at fault in e.part (a count mismatch is the images'). */
    *part = e.part == INGEST_PART_LABELS ? 1 : 0;
    if (rc)
        ingest_error_copy(err, &e);
    return rc;
}

/* ---- recordings: one part, "file", chosen by name (wisdm, timeseries) ---- */

static int rec_detect(const void *head, size_t len) {
    (void)head;
    (void)len;
    return 0;
}

static void *wisdm_new(const ingest_options_t *opt) {
    return ingest_wisdm_new(&opt->rec);
}

static void *timeseries_new(const ingest_options_t *opt) {
    return ingest_timeseries_new(&opt->rec, opt->label_name);
}

static int rec_feed(void *p, const void *buf, size_t len, ingest_error_t *err) {
    return ingest_rec_feed(p, buf, len, err);
}

static size_t rec_mem(const void *p) {
    return ingest_rec_mem_bytes(p);
}

static void rec_free(void *p) {
    ingest_rec_free(p);
}

static uint64_t rec_gunzip(const ingest_options_t *opt) {
    return opt->rec.max_gunzip_bytes ? opt->rec.max_gunzip_bytes : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

static int rec_build(void *const *parsers, trainer_dataset_t **out, size_t *part,
                     ingest_error_t *err) {
    *part = 0;
    return ingest_rec_finish(parsers[0], out, err);
}

static const ingest_rec_report_t *rec_report(const void *p) {
    return ingest_rec_report(p);
}

/* ---- the registry ---- */

static const ingest_format_def_t formats[] = {
    {
        .name = "csv",
        .title = "CSV",
        .files = "a CSV file",
        .n_parts = 1,
        .parts = {{"file", csv_detect, csv_new, csv_feed, NULL, csv_mem, csv_free}},
        .label_column = 1,
        .max_gunzip = csv_gunzip,
        .build = csv_build,
    },
    {
        .name = "idx",
        .title = "IDX",
        .files = "IDX files",
        .n_parts = 2,
        .parts = {{"images", idx_images_detect, idx_images_new, idx_feed, idx_end, idx_mem,
                   idx_free},
                  {"labels", idx_labels_detect, idx_labels_new, idx_feed, idx_end, idx_mem,
                   idx_free}},
        .max_gunzip = idx_gunzip,
        .build = idx_build,
    },
    {
        .name = "wisdm",
        .title = "WISDM",
        .files = "a WISDM recording",
        .n_parts = 1,
        .parts = {{"file", rec_detect, wisdm_new, rec_feed, NULL, rec_mem, rec_free}},
        .max_gunzip = rec_gunzip,
        .build = rec_build,
        .by_name = 1,
        .report = rec_report,
    },
    {
        .name = "timeseries",
        .title = "timeseries CSV",
        .files = "a timeseries CSV",
        .n_parts = 1,
        .parts = {{"file", rec_detect, timeseries_new, rec_feed, NULL, rec_mem, rec_free}},
        .label_column = 1,
        .max_gunzip = rec_gunzip,
        .build = rec_build,
        .by_name = 1,
        .report = rec_report,
    },
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

size_t ingest_format_count(void) {
    return N_FORMATS;
}

const ingest_format_def_t *ingest_format_at(size_t i) {
    return i < N_FORMATS ? &formats[i] : NULL;
}

const ingest_format_def_t *ingest_format_find(const char *name) {
    for (size_t i = 0; name && i < N_FORMATS; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

size_t ingest_field_count(void) {
    size_t n = 0;
    for (size_t i = 0; i < N_FORMATS; i++)
        n += formats[i].by_name ? 0 : formats[i].n_parts;
    return n;
}

const ingest_format_def_t *ingest_field_format(size_t i, size_t *part) {
    for (size_t f = 0; f < N_FORMATS; f++) {
        if (formats[f].by_name)
            continue;
        if (i < formats[f].n_parts) {
            if (part)
                *part = i;
            return &formats[f];
        }
        i -= formats[f].n_parts;
    }
    return NULL;
}

const char *ingest_field_name(size_t i) {
    size_t part;
    const ingest_format_def_t *f = ingest_field_format(i, &part);
    return f ? f->parts[part].field : NULL;
}

long ingest_field_find(const char *name) {
    const char *field;
    for (size_t i = 0; name && (field = ingest_field_name(i)) != NULL; i++)
        if (strcmp(field, name) == 0)
            return (long)i;
    return -1;
}

const ingest_format_def_t *ingest_format_detect(const void *head, size_t len, size_t *part) {
    for (size_t f = 0; f < N_FORMATS; f++)
        for (size_t p = 0; p < formats[f].n_parts && !formats[f].by_name; p++)
            if (formats[f].parts[p].detect(head, len)) {
                if (part)
                    *part = p;
                return &formats[f];
            }
    return NULL;
}

/* Appends text to buf[*used..cap), truncating. */
static void put(char *buf, size_t cap, size_t *used, const char *text) {
    int n = snprintf(buf + *used, cap - *used, "%s", text);
    if (n > 0)
        *used = *used + (size_t)n < cap ? *used + (size_t)n : cap - 1;
}

/* A format's fields: "file", "images and labels". */
static void put_fields(char *buf, size_t cap, size_t *used, const ingest_format_def_t *f) {
    for (size_t p = 0; p < f->n_parts; p++) {
        if (p)
            put(buf, cap, used, p + 1 == f->n_parts ? " and " : ", ");
        put(buf, cap, used, f->parts[p].field);
    }
}

const char *ingest_format_list(char *buf, size_t cap, ingest_list_style_t style) {
    size_t used = 0;
    if (!cap)
        return buf;
    buf[0] = '\0';
    if (style == INGEST_LIST_QUOTED) {
        const char *field;
        for (size_t i = 0; (field = ingest_field_name(i)) != NULL; i++) {
            put(buf, cap, &used, i ? ", \"" : "\"");
            put(buf, cap, &used, field);
            put(buf, cap, &used, "\"");
        }
        return buf;
    }
    for (size_t i = 0; i < N_FORMATS; i++) {
        const ingest_format_def_t *f = &formats[i];
        if (f->by_name)
            continue;
        if (i)
            put(buf, cap, &used, style == INGEST_LIST_EITHER ? " or " : ", or ");
        if (style == INGEST_LIST_SEND) {
            put(buf, cap, &used, f->files);
            put(buf, cap, &used, " as ");
        }
        put_fields(buf, cap, &used, f);
        if (style == INGEST_LIST_EITHER) {
            put(buf, cap, &used, " (");
            put(buf, cap, &used, f->title);
            put(buf, cap, &used, ")");
        }
    }
    return buf;
}
