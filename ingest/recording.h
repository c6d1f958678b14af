/*
 * ingest/recording.h - sensor recordings: samples of a few channels (an accelerometer's x, y, z)
 * taken at a fixed rate, each with its subject (who wore the phone), its label (the activity)
 * and its timestamp. Two formats read them, both push parsers like CSV's (feed bytes in any
 * chunking, then finish):
 *
 *   wisdm       the WISDM v1.1 raw file (Kwapisz, Weiss and Moore, 2011): one record
 *               `user,activity,timestamp,x,y,z;` per line, timestamp the phone's uptime in ns.
 *               Its quirks are repaired and counted (ingest_quirk_t): a record ending in ",;",
 *               a line without its ';', several records on one line, an empty axis value (the
 *               subject's previous value of that axis is kept), blank lines, CR LF line ends.
 *   timeseries  a CSV file with a header: a subject column (integer ids), a label column, a
 *               timestamp column (integer or decimal, in ns, us, ms or s) and any number of
 *               channel columns (every other column). Delimiter , ; or tab (from the header).
 *
 * A record that cannot be used is skipped and counted by reason (ingest_skip_t), with the first
 * INGEST_REC_FIRST_LINES line numbers; a file is refused only when nothing usable is left: no
 * usable record, one class only, no timestamps (all 0), or a missing column (MLPT_EINVAL for a
 * column option). The message names the line and the field.
 *
 * The parsed recording is a trainer dataset of one row per sample: x the channels, y the label,
 * group the subject, time the timestamp in ns (every pointer owned by the dataset), in file
 * order. The matrix file keeps all of it (matrix.h, version 4). Windows of it are windows.h's.
 *
 * Parsers hold only the samples (about 24 bytes each for three channels, in arrays that double
 * as they fill: no allocation per sample) and one partial record between chunks. A parser is
 * used by one thread at a time; everything else may be called from any thread.
 */
#ifndef INGEST_RECORDING_H
#define INGEST_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "ingest.h"

#define INGEST_REC_FIRST_LINES 5             /* line numbers kept per quirk and per skip reason */
#define INGEST_REC_MAX_CHANNELS ((size_t)64) /* timeseries channel columns */
#define INGEST_REC_MAX_SUBJECTS ((size_t)100000)

typedef enum ingest_time_unit {
    INGEST_TIME_NS = 0,
    INGEST_TIME_US,
    INGEST_TIME_MS,
    INGEST_TIME_S,
} ingest_time_unit_t;

/* "ns", "us", "ms", "s"; the unit for a name (0) or -1. */
const char *ingest_time_unit_name(ingest_time_unit_t u);
int ingest_time_unit_parse(const char *name, ingest_time_unit_t *out);

/* How to read a recording. Initialise with ingest_rec_options_init(). The column options are
 * timeseries': NULL for the defaults (subject: "subject"; label: "label", else "activity";
 * timestamp: "timestamp", else "time"), matched exactly, else in any ASCII case. Copied by the
 * parser. The label column's name comes from ingest_options_t.label_name (format.h). */
typedef struct ingest_rec_options {
    const char *subject_column;
    const char *timestamp_column;
    ingest_time_unit_t timestamp_unit; /* timeseries; WISDM is always ns */
    size_t max_rows;                   /* ELIMIT above this many samples */
    uint64_t max_values;               /* ELIMIT above samples x channels */
    size_t max_line_bytes;             /* ELIMIT for a longer record */
    size_t max_classes;                /* ELIMIT for more distinct labels */
    uint64_t max_gunzip_bytes;         /* file loader only */
} ingest_rec_options_t;

void ingest_rec_options_init(ingest_rec_options_t *opt);

/* What was repaired (counted, the record kept). */
typedef enum ingest_quirk {
    INGEST_QUIRK_TRAILING_COMMA = 0,  /* "...,z,;": the empty last field dropped */
    INGEST_QUIRK_MISSING_SEMICOLON,   /* a WISDM record ended by its line, not by ';' */
    INGEST_QUIRK_SEVERAL_ON_ONE_LINE, /* a record after another on the same line */
    INGEST_QUIRK_EMPTY_VALUE,         /* an empty channel value: the subject's previous one kept */
    INGEST_QUIRK_BLANK_LINE,          /* an empty line (or one of spaces) */
    INGEST_QUIRK_CRLF,                /* a line ended by CR LF */
    INGEST_QUIRK_COUNT
} ingest_quirk_t;

/* Why a record was skipped. */
typedef enum ingest_skip {
    INGEST_SKIP_FIELD_COUNT = 0, /* not subject, label, timestamp and the channels */
    INGEST_SKIP_BAD_SUBJECT,     /* not an integer in [0, 2^31) */
    INGEST_SKIP_EMPTY_LABEL,
    INGEST_SKIP_BAD_TIMESTAMP, /* not a non-negative number, or past 2^63 ns */
    INGEST_SKIP_ZERO_TIMESTAMP,
    INGEST_SKIP_BAD_VALUE,   /* a channel value that is not a finite float32 */
    INGEST_SKIP_EMPTY_VALUE, /* empty, and no earlier value of the subject to keep */
    INGEST_SKIP_COUNT
} ingest_skip_t;

/* "trailing_comma", "missing_semicolon", "several_on_one_line", "empty_value", "blank_line",
 * "crlf"; NULL past the last. */
const char *ingest_quirk_name(size_t q);
/* "field_count", "bad_subject", "empty_label", "bad_timestamp", "zero_timestamp", "bad_value",
 * "empty_value"; NULL past the last. */
const char *ingest_skip_name(size_t s);

/* A parse's account, kept by its parser (ingest_rec_report). */
typedef struct ingest_rec_report {
    uint64_t records; /* records seen (used or skipped) */
    uint64_t quirks[INGEST_QUIRK_COUNT];
    uint64_t quirk_lines[INGEST_QUIRK_COUNT][INGEST_REC_FIRST_LINES]; /* the first ones, 1-based */
    uint64_t skipped[INGEST_SKIP_COUNT];
    uint64_t skip_lines[INGEST_SKIP_COUNT][INGEST_REC_FIRST_LINES];
    size_t channels;
    const char *const *channel_names; /* [channels], the parser's */
} ingest_rec_report_t;

/* ---- the push parsers (the registry's entries "wisdm" and "timeseries" use them) ---- */

typedef struct ingest_rec ingest_rec_t;

/* A parser for WISDM text, or a timeseries CSV. opt NULL for the defaults; label_name is the
 * timeseries label column (NULL: the default). NULL without memory. */
ingest_rec_t *ingest_wisdm_new(const ingest_rec_options_t *opt);
ingest_rec_t *ingest_timeseries_new(const ingest_rec_options_t *opt, const char *label_name);

/* Pushes bytes in any chunking. 0, or MLPT_EINVAL (a column option names no column),
 * MLPT_EFORMAT (no header), MLPT_ELIMIT, MLPT_ENOMEM with *err filled; errors are sticky. */
int ingest_rec_feed(ingest_rec_t *p, const void *buf, size_t len, ingest_error_t *err);

/* Ends the input: the last record, then the refusals (no usable record, one class, no
 * timestamps: MLPT_EFORMAT naming the line and the field). Returns 0 and *out (the caller frees
 * it: trainer_dataset_free; it has group and time), or MLPT_E* with *err. Once. */
int ingest_rec_finish(ingest_rec_t *p, trainer_dataset_t **out, ingest_error_t *err);

/* The parser's account so far (valid while p lives). */
const ingest_rec_report_t *ingest_rec_report(const ingest_rec_t *p);

size_t ingest_rec_mem_bytes(const ingest_rec_t *p);
void ingest_rec_free(ingest_rec_t *p); /* accepts NULL */

/* ---- what a recording holds ---- */

typedef struct ingest_rec_subject {
    int32_t id;
    uint64_t samples;
} ingest_rec_subject_t;

typedef struct ingest_rec_summary {
    double rate_hz;         /* 1 / the median interval between consecutive samples of one subject
                               and label (0 when there is no such pair) */
    double period_s;        /* that median interval */
    double gap_threshold_s; /* a gap: an interval longer than 5 median intervals */
    uint64_t gaps;          /* between consecutive samples of one subject and label */
    double longest_gap_s;
    uint64_t backwards; /* consecutive samples of one subject and label whose time goes back */
    ingest_rec_subject_t *subjects; /* [n_subjects] ascending ids; malloc'd, caller frees */
    size_t n_subjects;
} ingest_rec_summary_t;

/* The summary of a recording (a dataset with group and time). 0, MLPT_EINVAL (no group or
 * time), MLPT_ENOMEM. Any thread. */
int ingest_rec_summarize(const trainer_dataset_t *rec, ingest_rec_summary_t *out);

/* The median interval (ns) between consecutive samples of one subject and label: 0 when none.
 * MLPT_ENOMEM. */
int ingest_rec_median_period(const trainer_dataset_t *rec, int64_t *period_ns);

#endif
