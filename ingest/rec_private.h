/*
 * ingest/rec_private.h - the recording parser's state, shared by rec_acc.c (the byte loop that
 * cuts records, the samples, the account, the end) and rec_records.c (the two formats' records:
 * WISDM's fields, the timeseries header and rows, and the constructors). Calls go
 * rec_records.c -> rec_acc.c; rec_acc.c reaches a format's record function only through the
 * pointer the constructor sets. Private to mlpt_ingest.
 */
#ifndef INGEST_REC_PRIVATE_H
#define INGEST_REC_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "recording.h"

/* Which column of a timeseries row is what. */
enum { COL_CHANNEL = 0, COL_SUBJECT = -1, COL_LABEL = -2, COL_TIME = -3 };

struct ingest_rec {
    /* Handles one complete record (no terminator; CR stripped) found on line p->line: 0, or
     * MLPT_E* (sticky, *err filled). */
    int (*record)(ingest_rec_t *p, const char *rec, size_t len, ingest_error_t *err);
    int semicolons; /* WISDM: ';' ends a record too */
    ingest_rec_options_t opt;
    char *subject_col, *time_col, *label_col; /* copies of the options (timeseries) */
    int64_t unit_ns;

    char *carry; /* the partial record between chunks */
    size_t carry_len, carry_cap;
    uint64_t line;       /* 1-based line of the bytes being cut */
    int line_has_record; /* a ';'-ended record was on this line already */
    int rc;              /* sticky failure */
    ingest_error_t err;
    int finished;

    /* Timeseries header. */
    int header_done;
    char delim;
    size_t n_cols;
    int *role;            /* [n_cols]: COL_* or the channel index + 0 */
    char **col_names;     /* [n_cols] */
    char **channel_names; /* [channels] (WISDM: x, y, z, static) */
    size_t channels;

    /* Samples, in file order; the arrays double as they fill. */
    size_t n, cap;
    float *x;
    int32_t *y, *group;
    int64_t *time;

    /* Classes in order of first appearance. */
    char **class_names;
    size_t *class_counts;
    size_t classes, class_cap, last_class;

    ingest_rec_report_t report;
    uint64_t first_used_line;
    uint64_t first_skip_line, first_skip_field;
    char first_skip_name[64];
    char first_skip[200]; /* why the first skipped record was skipped */
    float *row;           /* [channels] the record being read */
};

/* rec_acc.c ---------------------------------------------------------------------------------- */

/* Sets up the shared part (options copied, limits defaulted). 0 or MLPT_ENOMEM. */
int ingest_rec_init(ingest_rec_t *p, const ingest_rec_options_t *opt, const char *label_name);

/* Sets the channel count (and names: copied) once known; allocates the row. 0 or ENOMEM. */
int ingest_rec_set_channels(ingest_rec_t *p, size_t channels, const char *const *names);

/* Counts a quirk on the current line. */
void ingest_rec_quirk(ingest_rec_t *p, ingest_quirk_t q);

/* Counts a skipped record: reason, 1-based field index and name, and why (printf). Returns 0. */
int ingest_rec_skip(ingest_rec_t *p, ingest_skip_t why, size_t field, const char *field_name,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The class id of a label (added when new). 0 with *id, MLPT_ELIMIT, MLPT_ENOMEM (err filled). */
int ingest_rec_class(ingest_rec_t *p, const char *label, size_t len, int32_t *id,
                     ingest_error_t *err);

/* Appends p->row as a sample. 0, MLPT_ELIMIT, MLPT_ENOMEM (err filled). */
int ingest_rec_append(ingest_rec_t *p, int32_t subject, int32_t label, int64_t t_ns,
                      ingest_error_t *err);

/* Fails the parse (sticky): code, field and message at the current line. Returns code. */
int ingest_rec_fail(ingest_rec_t *p, ingest_error_t *err, int code, size_t field,
                    const char *field_name, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Parsing helpers: the text without spaces, tabs and one pair of surrounding double quotes;
 * an integer subject in [0, 2^31); a non-negative timestamp in units of unit_ns (decimals
 * allowed) as ns. Each 0, or -1. */
void ingest_rec_trim(const char **s, size_t *len);
int ingest_rec_parse_subject(const char *s, size_t len, int32_t *out);
int ingest_rec_parse_time(const char *s, size_t len, int64_t unit_ns, int64_t *out);

#endif
