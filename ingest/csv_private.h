/*
 * ingest/csv_private.h - what the sources of the CSV parser share (csv.c: records, data rows,
 * feed and finish; csv_field.c: the RFC 4180 field reader and error positions; csv_header.c: the
 * header row). Private to mlpt_ingest; the contract is csv.h.
 */
#ifndef INGEST_CSV_PRIVATE_H
#define INGEST_CSV_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "csv.h"
#include "csv_labels.h"
#include "ingest_private.h"

enum { CSV_ST_HEADER, CSV_ST_DATA, CSV_ST_DONE, CSV_ST_FAILED };

struct ingest_csv {
    ingest_csv_options_t opt; /* limits resolved; opt.label_name == label_name below */
    char *label_name;
    char delim;
    int state;
    ingest_error_t error; /* the sticky error once state == CSV_ST_FAILED */
    int first;            /* no record processed yet: a BOM may start the next one */
    size_t line;          /* physical lines consumed so far */

    char *carry; /* the incomplete record at the end of the last feed, plus room for a sentinel */
    size_t carry_len, carry_cap;
    int carry_inq;    /* the carry ends inside quotes */
    int carry_quotes; /* the carry holds a quote */

    size_t ncols, label_col, features;
    size_t row_limit; /* min(max_rows, max_values / features) */
    char *names;      /* header names, NUL-terminated, at names + name_off[col] */
    size_t names_len, names_cap;
    size_t *name_off;
    size_t name_off_cap;

    float *x;   /* [cap_rows][features] */
    int32_t *y; /* [cap_rows] label ids in order of first appearance until finish */
    size_t rows, cap_rows;
    ingest_labels_t labels;

    char *scratch; /* unescaped quoted fields */
    size_t scratch_cap;
};

/* A field's text: ptr/len (inside the input or in scratch), quoted or not. */
typedef struct field {
    const char *ptr;
    size_t len;
    int quoted;
} field_t;

static inline int ingest_csv_is_blank(char ch, char delim) {
    return ch == ' ' || (ch == '\t' && delim != '\t');
}

/* csv_field.c ------------------------------------------------------------------------------- */

/* Records an error at (row, col) as the sticky error (state CSV_ST_FAILED; the message gets the
 * position and, once the header is known, the column's name) and returns its code. */
int ingest_csv_fail(ingest_csv_t *c, int code, size_t row, size_t col, const char *fmt, ...)
    INGEST_PRINTF(5, 6);

/* The physical line of pos inside the record that starts at s on line row0 (quotes: the record
 * holds a quote, so it may span lines). */
size_t ingest_csv_row_at(const char *s, const char *pos, size_t row0, int quotes);

/* The 1-based field that holds pos (delimiters outside quotes before it, plus one). */
size_t ingest_csv_col_at(const char *s, const char *pos, char delim);

/* When the record [s, e) holds a NUL byte, reports it (this error wins over what the NUL caused)
 * and returns its code; else returns 0. */
int ingest_csv_fail_on_nul(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes);

/* Reads the field at p (column col, 1-based) of the record [s, e) that starts on row0: RFC 4180
 * quoting, spaces/tabs around quotes. Sets *f (pointing into the record, or into c->scratch when
 * doubled quotes were undone) and *term (the delimiter after the field, or e). Returns 0 or an
 * error code (reported). */
int ingest_csv_field_next(ingest_csv_t *c, const char *s, const char *p, const char *e, size_t row0,
                          int quotes, size_t col, field_t *f, const char **term);

/* Drops spaces and tabs around the field's text. */
void ingest_csv_trim(field_t *f);

/* csv_header.c ------------------------------------------------------------------------------ */

/* Parses the header record [s, e) on line row0: the delimiter (when detected), the column names,
 * the label column and the row limit; the parser then expects data rows. Returns 0 or an error
 * code (reported). */
int ingest_csv_header(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes);

#endif
