/*
 * ingest/csv_field.c - the CSV parser's general field reader (RFC 4180 quoting, blanks around
 * quotes, doubled quotes undone into scratch) and the positions and messages of its errors. The
 * hot path in csv.c reads plain numbers itself and comes here only for anything unusual.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csv_private.h"

static const char *col_name(const ingest_csv_t *c, size_t col) {
    if (c->state != CSV_ST_DATA || col == 0 || col > c->ncols)
        return NULL;
    return c->names + c->name_off[col - 1];
}

int ingest_csv_fail(ingest_csv_t *c, int code, size_t row, size_t col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ingest_error_vat(&c->error, code, row, col, col_name(c, col), fmt, ap);
    va_end(ap);
    c->state = CSV_ST_FAILED;
    return code;
}

/* The physical line of pos inside the record that starts at s on line row0. */
size_t ingest_csv_row_at(const char *s, const char *pos, size_t row0, int quotes) {
    size_t row = row0;
    if (quotes)
        for (const char *q = s; q < pos && (q = memchr(q, '\n', (size_t)(pos - q))); q++)
            row++;
    return row;
}

/* The 1-based field that holds pos (delimiters outside quotes before it, plus one). */
size_t ingest_csv_col_at(const char *s, const char *pos, char delim) {
    size_t col = 1;
    int inq = 0;
    for (const char *q = s; q < pos; q++) {
        if (*q == '"')
            inq = !inq;
        else if (*q == delim && !inq)
            col++;
    }
    return col;
}

/* When the record [s, e) holds a NUL byte, reports it (this error wins over what the NUL caused)
 * and returns its code; else returns 0. */
int ingest_csv_fail_on_nul(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes) {
    const char *z = memchr(s, '\0', (size_t)(e - s));
    if (!z)
        return 0;
    return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, z, row0, quotes),
                           ingest_csv_col_at(s, z, c->delim),
                           "NUL byte in the data (is this a binary file?)");
}

static int scratch_reserve(ingest_csv_t *c, size_t n) {
    if (n <= c->scratch_cap)
        return MLPT_OK;
    size_t cap = c->scratch_cap ? c->scratch_cap : 256;
    while (cap < n)
        cap *= 2;
    char *tmp = realloc(c->scratch, cap);
    if (!tmp)
        return MLPT_ENOMEM;
    c->scratch = tmp;
    c->scratch_cap = cap;
    return MLPT_OK;
}

/* Reads the field at p (column col, 1-based) of the record [s, e) that starts on row0: RFC 4180
 * quoting, spaces/tabs around quotes. Sets *f and *term (the delimiter after the field, or e).
 * Returns 0 or an error code (reported). */
int ingest_csv_field_next(ingest_csv_t *c, const char *s, const char *p, const char *e, size_t row0,
                          int quotes, size_t col, field_t *f, const char **term) {
    const char *q = p;
    while (q < e && ingest_csv_is_blank(*q, c->delim))
        q++;
    if (q < e && *q == '"') {
        const char *r = q + 1, *close;
        int escaped = 0;
        for (;;) {
            close = memchr(r, '"', (size_t)(e - r));
            if (!close)
                return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, p, row0, quotes), col,
                                       "a quoted field is still open at the end of the file");
            if (close + 1 < e && close[1] == '"') {
                escaped = 1;
                r = close + 2;
                continue;
            }
            break;
        }
        r = close + 1;
        while (r < e && ingest_csv_is_blank(*r, c->delim))
            r++;
        if (r < e && *r != c->delim) {
            char esc[16];
            return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, r, row0, quotes), col,
                                   "unexpected \"%s\" after a closing quote",
                                   ingest_escape(esc, sizeof(esc), r, 1, 1));
        }
        if ((size_t)(r - p) > c->opt.max_field_bytes)
            return ingest_csv_fail(c, MLPT_ELIMIT, ingest_csv_row_at(s, p, row0, quotes), col,
                                   "the field is longer than the limit of %zu bytes",
                                   c->opt.max_field_bytes);
        const char *body = q + 1;
        size_t n = (size_t)(close - body);
        const char *z = memchr(body, '\0', n);
        if (z)
            return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, z, row0, quotes), col,
                                   "NUL byte in the data (is this a binary file?)");
        if (escaped) {
            if (scratch_reserve(c, n) != MLPT_OK)
                return ingest_csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                c->scratch[o++] = body[i];
                if (body[i] == '"')
                    i++; /* "" -> " */
            }
            f->ptr = c->scratch;
            f->len = o;
        } else {
            f->ptr = body;
            f->len = n;
        }
        f->quoted = 1;
        *term = r;
        return MLPT_OK;
    }
    const char *r = p;
    while (r < e && *r != c->delim) {
        if (*r == '"')
            return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, r, row0, quotes), col,
                                   "a quote inside an unquoted field (quote the whole field and "
                                   "double the quote)");
        if (*r == '\0')
            return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, r, row0, quotes), col,
                                   "NUL byte in the data (is this a binary file?)");
        r++;
    }
    if ((size_t)(r - p) > c->opt.max_field_bytes)
        return ingest_csv_fail(c, MLPT_ELIMIT, ingest_csv_row_at(s, p, row0, quotes), col,
                               "the field is longer than the limit of %zu bytes",
                               c->opt.max_field_bytes);
    f->ptr = p;
    f->len = (size_t)(r - p);
    f->quoted = 0;
    *term = r;
    return MLPT_OK;
}

void ingest_csv_trim(field_t *f) {
    while (f->len > 0 && (f->ptr[0] == ' ' || f->ptr[0] == '\t')) {
        f->ptr++;
        f->len--;
    }
    while (f->len > 0 && (f->ptr[f->len - 1] == ' ' || f->ptr[f->len - 1] == '\t'))
        f->len--;
}
