/*
 * ingest/format.h - the dataset formats as a registry: one entry per format (CSV, IDX) with its
 * name, the files (upload parts) it takes, how each is recognised, each part's push parser
 * (constructor, feed, end, memory, free) and how the parsed parts become one dataset. The HTTP
 * upload (api/upload*.c) and the command line's loader (ingest_load_files) only go through it,
 * so a new format (sensor recordings) is one entry in formats.c (plus its name in the store's
 * list of formats, store/datasets.c).
 *
 * Entries are constant and shared: every function here may be called from any thread. A parser
 * made by a part's parser_new is used by one thread at a time.
 */
#ifndef INGEST_FORMAT_H
#define INGEST_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "ingest.h"
#include "recording.h"

#define INGEST_FORMAT_MAX_PARTS 4 /* files one format takes */
#define INGEST_FIELDS_MAX 8       /* upload fields (parts) over every format */

/* What every parser constructor gets; each format reads its own member. ingest_options_init
 * sets every member's defaults. */
typedef struct ingest_options {
    /* The label column by name, for the formats that have one (label_column below), over their
     * own option (CSV: csv.label_name); NULL for the format's default. Copied by the parser. */
    const char *label_name;
    ingest_csv_options_t csv;
    ingest_idx_options_t idx;
    ingest_rec_options_t rec; /* wisdm and timeseries */
} ingest_options_t;

void ingest_options_init(ingest_options_t *opt);

/* One file of a format: an upload part named `field`, a path on the command line. */
typedef struct ingest_part_def {
    const char *field; /* the multipart field and the role in messages: "file", "images" */
    /* Whether the first bytes of the file (after gzip) look like this part: a guess; the
     * parser validates. head may be NULL when len is 0. */
    int (*detect)(const void *head, size_t len);
    /* A new push parser for this part, or NULL without memory. */
    void *(*parser_new)(const ingest_options_t *opt);
    /* Pushes bytes in any chunking: 0 or MLPT_E* with *err filled (sticky). */
    int (*feed)(void *parser, const void *buf, size_t len, ingest_error_t *err);
    /* The part's bytes are all in: 0 or MLPT_E*. NULL when the part has nothing to check then
     * (its format's build does it). */
    int (*end)(void *parser, ingest_error_t *err);
    size_t (*mem_bytes)(const void *parser); /* memory it holds now; 0 for NULL */
    void (*parser_free)(void *parser);       /* accepts NULL */
} ingest_part_def_t;

typedef struct ingest_format_def {
    const char *name;  /* as stored (datasets.format) and answered: "csv", "idx" */
    const char *title; /* in messages: "CSV", "IDX" */
    const char *files; /* in messages, what to send: "a CSV file", "IDX files" */
    size_t n_parts;
    ingest_part_def_t parts[INGEST_FORMAT_MAX_PARTS];
    /* The upload's label_column applies to parts[0] (a late one makes it parse again). */
    int label_column;
    /* The most bytes a gzip-compressed file of this format may inflate to, for the loader. */
    uint64_t (*max_gunzip)(const ingest_options_t *opt);
    /* The dataset from the parts' parsers (parsers[i] for parts[i], each fed to its end and
     * ended). Returns 0 with *out (the caller frees it: trainer_dataset_free), or MLPT_E* with
     * *err filled and *part the index of the part the failure is about. */
    int (*build)(void *const *parsers, trainer_dataset_t **out, size_t *part, ingest_error_t *err);
    /* A format chosen only by name (the upload's `format` field, the command line's --format):
     * its parts share the field names of the formats before it ("file"), so it adds no upload
     * field and is never detected. 0 for CSV and IDX. */
    int by_name;
    /* Recordings (recording.h): what the parse of parts[0] repaired and skipped; NULL for a
     * format whose datasets are tables (CSV, IDX). */
    const ingest_rec_report_t *(*report)(const void *parser);
} ingest_format_def_t;

/* The registry, in order: entry 0 is CSV (the format of a raw text/csv upload body). */
size_t ingest_format_count(void);
const ingest_format_def_t *ingest_format_at(size_t i);           /* NULL past the last */
const ingest_format_def_t *ingest_format_find(const char *name); /* NULL when unknown */

/* Every format's parts in registry order (but those of formats chosen by name, which reuse the
 * fields before them): the upload's file fields. Field i's name (NULL past
 * the last) and its format (*part, when not NULL, receives its index there). */
size_t ingest_field_count(void);
const char *ingest_field_name(size_t i);
const ingest_format_def_t *ingest_field_format(size_t i, size_t *part);
/* The index of a field by name, or -1. */
long ingest_field_find(const char *name);

/* The format and part whose detect accepts these first bytes (the first match in registry
 * order), or NULL. */
const ingest_format_def_t *ingest_format_detect(const void *head, size_t len, size_t *part);

/* Lists for messages, built from the registry into buf (cap bytes, truncated to fit):
 *   INGEST_LIST_SEND    "a CSV file as file, or IDX files as images and labels"
 *   INGEST_LIST_FIELDS  "file, or images and labels"
 *   INGEST_LIST_EITHER  "file (CSV) or images and labels (IDX)"
 *   INGEST_LIST_QUOTED  "\"file\", \"images\", \"labels\""
 * Returns buf. */
typedef enum ingest_list_style {
    INGEST_LIST_SEND,
    INGEST_LIST_FIELDS,
    INGEST_LIST_EITHER,
    INGEST_LIST_QUOTED,
} ingest_list_style_t;
const char *ingest_format_list(char *buf, size_t cap, ingest_list_style_t style);

/* Reads a format's files (paths[i] for parts[i], each plain or gzip-compressed: detected by the
 * magic bytes 1f 8b, not the name) into a new dataset through its parsers, 1 MiB at a time.
 * opt NULL for the defaults. For a format of several parts, a failure that is not the parser's
 * (I/O, gzip) names the part first ("labels: cannot open ..."); the parsers name theirs.
 * Returns 0 and sets *out (the caller frees it: trainer_dataset_free); on failure *out is NULL
 * and the code is MLPT_EIO, MLPT_EFORMAT, MLPT_ELIMIT, MLPT_EINVAL or MLPT_ENOMEM, as the
 * format's loaders in ingest.h document. Any thread. */
int ingest_load_files(const ingest_format_def_t *fmt, const char *const *paths,
                      const ingest_options_t *opt, trainer_dataset_t **out, ingest_error_t *err);

#endif
