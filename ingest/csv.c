/*
 * ingest/csv.c - the streaming CSV parser.
 *
 * Two steps per record. record_end() finds the LF that ends it: memchr() for LF, memchr() for a
 * quote before it, and only when a quote is present a byte loop tracking quote parity (an LF inside
 * quotes belongs to the field). Then csv_record() parses the complete record [s, e) where *e is
 * the LF (or CR before it): the byte at e can never continue a number, which lets the inline
 * number scanner run without bounds checks. A record cut by the end of a chunk is copied into
 * `carry` and completed by the next feed (only that one record is copied; the rest is parsed in
 * place). Because a record is parsed only once it is complete, errors and row numbers do not
 * depend on how the input was chunked.
 *
 * Per feature the hot loop is: the inline number scan, one compare for the delimiter, a store into
 * the row. Anything unusual (quotes, tabs, garbage, errors) goes to field_next(), the general
 * RFC 4180 field reader, and then to the error reporting.
 */
#include "csv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csv_labels.h"
#include "csv_number.h"
#include "ingest_private.h"

enum { ST_HEADER, ST_DATA, ST_DONE, ST_FAILED };

struct ingest_csv {
    ingest_csv_options_t opt; /* limits resolved; opt.label_name == label_name below */
    char *label_name;
    char delim;
    int state;
    ingest_error_t error; /* the sticky error once state == ST_FAILED */
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

static const char *col_name(const ingest_csv_t *c, size_t col) {
    if (c->state != ST_DATA || col == 0 || col > c->ncols)
        return NULL;
    return c->names + c->name_off[col - 1];
}

/* Records an error at (row, col) as the sticky error and returns its code. */
static int csv_fail(ingest_csv_t *c, int code, size_t row, size_t col, const char *fmt, ...)
    INGEST_PRINTF(5, 6);
static int csv_fail(ingest_csv_t *c, int code, size_t row, size_t col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ingest_error_vat(&c->error, code, row, col, col_name(c, col), fmt, ap);
    va_end(ap);
    c->state = ST_FAILED;
    return code;
}

static int ascii_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static int is_blank(char ch, char delim) {
    return ch == ' ' || (ch == '\t' && delim != '\t');
}

/* The physical line of pos inside the record that starts at s on line row0. */
static size_t row_at(const char *s, const char *pos, size_t row0, int quotes) {
    size_t row = row0;
    if (quotes)
        for (const char *q = s; q < pos && (q = memchr(q, '\n', (size_t)(pos - q))); q++)
            row++;
    return row;
}

/* The 1-based field that holds pos (delimiters outside quotes before it, plus one). */
static size_t col_at(const char *s, const char *pos, char delim) {
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
static int fail_on_nul(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes) {
    const char *z = memchr(s, '\0', (size_t)(e - s));
    if (!z)
        return 0;
    return csv_fail(c, MLPT_EFORMAT, row_at(s, z, row0, quotes), col_at(s, z, c->delim),
                    "NUL byte in the data (is this a binary file?)");
}

/* Finds the LF that ends a record continuing at p (n bytes); *inq says whether p is inside quotes
 * and is updated. Sets *quotes when a quote is seen. Returns the LF, or NULL when the record goes
 * on past p + n. */
static const char *record_end(const char *p, size_t n, int *inq, int *quotes) {
    const char *end = p + n;
    if (!*inq) {
        const char *nl = memchr(p, '\n', n);
        const char *lim = nl ? nl : end;
        const char *q = memchr(p, '"', (size_t)(lim - p));
        if (!q)
            return nl;
        p = q;
    }
    *quotes = 1;
    for (; p < end; p++) {
        if (*p == '"') {
            *inq = !*inq;
        } else if (*p == '\n' && !*inq) {
            return p;
        } else if (*inq) {
            const char *q = memchr(p, '"', (size_t)(end - p)); /* skip to the next quote */
            if (!q)
                return NULL;
            p = q - 1;
        }
    }
    return NULL;
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
static int field_next(ingest_csv_t *c, const char *s, const char *p, const char *e, size_t row0,
                      int quotes, size_t col, field_t *f, const char **term) {
    const char *q = p;
    while (q < e && is_blank(*q, c->delim))
        q++;
    if (q < e && *q == '"') {
        const char *r = q + 1, *close;
        int escaped = 0;
        for (;;) {
            close = memchr(r, '"', (size_t)(e - r));
            if (!close)
                return csv_fail(c, MLPT_EFORMAT, row_at(s, p, row0, quotes), col,
                                "a quoted field is still open at the end of the file");
            if (close + 1 < e && close[1] == '"') {
                escaped = 1;
                r = close + 2;
                continue;
            }
            break;
        }
        r = close + 1;
        while (r < e && is_blank(*r, c->delim))
            r++;
        if (r < e && *r != c->delim) {
            char esc[16];
            return csv_fail(c, MLPT_EFORMAT, row_at(s, r, row0, quotes), col,
                            "unexpected \"%s\" after a closing quote",
                            ingest_escape(esc, sizeof(esc), r, 1, 1));
        }
        if ((size_t)(r - p) > c->opt.max_field_bytes)
            return csv_fail(c, MLPT_ELIMIT, row_at(s, p, row0, quotes), col,
                            "the field is longer than the limit of %zu bytes",
                            c->opt.max_field_bytes);
        const char *body = q + 1;
        size_t n = (size_t)(close - body);
        const char *z = memchr(body, '\0', n);
        if (z)
            return csv_fail(c, MLPT_EFORMAT, row_at(s, z, row0, quotes), col,
                            "NUL byte in the data (is this a binary file?)");
        if (escaped) {
            if (scratch_reserve(c, n) != MLPT_OK)
                return csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
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
            return csv_fail(c, MLPT_EFORMAT, row_at(s, r, row0, quotes), col,
                            "a quote inside an unquoted field (quote the whole field and "
                            "double the quote)");
        if (*r == '\0')
            return csv_fail(c, MLPT_EFORMAT, row_at(s, r, row0, quotes), col,
                            "NUL byte in the data (is this a binary file?)");
        r++;
    }
    if ((size_t)(r - p) > c->opt.max_field_bytes)
        return csv_fail(c, MLPT_ELIMIT, row_at(s, p, row0, quotes), col,
                        "the field is longer than the limit of %zu bytes", c->opt.max_field_bytes);
    f->ptr = p;
    f->len = (size_t)(r - p);
    f->quoted = 0;
    *term = r;
    return MLPT_OK;
}

static void trim(field_t *f) {
    while (f->len > 0 && (f->ptr[0] == ' ' || f->ptr[0] == '\t')) {
        f->ptr++;
        f->len--;
    }
    while (f->len > 0 && (f->ptr[f->len - 1] == ' ' || f->ptr[f->len - 1] == '\t'))
        f->len--;
}

/* ---- header ---------------------------------------------------------------------------------- */

static char detect_delimiter(const char *s, const char *e) {
    size_t comma = 0, semi = 0, tab = 0;
    int inq = 0;
    for (const char *p = s; p < e; p++) {
        switch (*p) {
        case '"':
            inq = !inq;
            break;
        case ',':
            comma += !inq;
            break;
        case ';':
            semi += !inq;
            break;
        case '\t':
            tab += !inq;
            break;
        default:
            break;
        }
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

static int add_name(ingest_csv_t *c, const field_t *f) {
    if (c->ncols == c->name_off_cap) {
        size_t cap = c->name_off_cap ? c->name_off_cap * 2 : 64;
        size_t *tmp = realloc(c->name_off, cap * sizeof(*tmp));
        if (!tmp)
            return MLPT_ENOMEM;
        c->name_off = tmp;
        c->name_off_cap = cap;
    }
    if (f->len + 1 > c->names_cap - c->names_len) {
        size_t cap = c->names_cap ? c->names_cap : 1024;
        while (f->len + 1 > cap - c->names_len)
            cap *= 2;
        char *tmp = realloc(c->names, cap);
        if (!tmp)
            return MLPT_ENOMEM;
        c->names = tmp;
        c->names_cap = cap;
    }
    c->name_off[c->ncols] = c->names_len;
    memcpy(c->names + c->names_len, f->ptr, f->len);
    c->names[c->names_len + f->len] = '\0';
    c->names_len += f->len + 1;
    c->ncols++;
    return MLPT_OK;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_valid(const char *str, size_t len) {
    const unsigned char *p = (const unsigned char *)str, *end = p + len;
    while (p < end) {
        unsigned char b = *p;
        size_t n = b < 0x80                 ? 0
                   : b >= 0xC2 && b <= 0xDF ? 1
                   : b >= 0xE0 && b <= 0xEF ? 2
                   : b >= 0xF0 && b <= 0xF4 ? 3
                                            : 4;
        if (n == 4 || (size_t)(end - p) <= n) /* not a lead byte, or cut short */
            return 0;
        unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
        else if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
        if (n > 0 && (p[1] < lo || p[1] > hi))
            return 0;
        for (size_t k = 2; k <= n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return 0;
        p += n + 1;
    }
    return 1;
}

static int csv_header(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes) {
    if (c->opt.delimiter == 0)
        c->delim = detect_delimiter(s, e);
    const char *p = s, *t;
    for (;;) {
        if (c->ncols > c->opt.max_features) /* one more column would be max_features + 2 */
            return csv_fail(c, MLPT_ELIMIT, row0, 0,
                            "the header has more than %zu feature columns (the limit)",
                            c->opt.max_features);
        field_t f;
        int rc = field_next(c, s, p, e, row0, quotes, c->ncols + 1, &f, &t);
        if (rc)
            return rc;
        if (!f.quoted)
            trim(&f);
        /* Column names reach messages and the label_column match: text, so UTF-8. */
        if (!utf8_valid(f.ptr, f.len))
            return csv_fail(c, MLPT_EFORMAT, row0, c->ncols + 1,
                            "the column name is not valid UTF-8 (save the file as UTF-8)");
        if (add_name(c, &f) != MLPT_OK)
            return csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
        if (t == e)
            break;
        p = t + 1;
    }
    if (c->ncols < 2) {
        char d[8];
        return csv_fail(c, MLPT_EFORMAT, row0, 0,
                        "the header has a single column (delimiter \"%s\"); a label column and at "
                        "least one feature column are needed",
                        ingest_escape(d, sizeof(d), &c->delim, 1, 1));
    }
    size_t lc = c->ncols;
    if (c->label_name) {
        for (size_t j = 0; j < c->ncols && lc == c->ncols; j++)
            if (strcmp(c->names + c->name_off[j], c->label_name) == 0)
                lc = j;
        for (size_t j = 0; j < c->ncols && lc == c->ncols; j++)
            if (ascii_ieq(c->names + c->name_off[j], c->label_name))
                lc = j;
        if (lc == c->ncols) {
            char esc[96];
            return csv_fail(
                c, MLPT_EINVAL, row0, 0, "no column named \"%s\" in the header",
                ingest_escape(esc, sizeof(esc), c->label_name, strlen(c->label_name), 60));
        }
    } else if (c->opt.label_index >= 0) {
        if ((unsigned long)c->opt.label_index >= c->ncols)
            return csv_fail(c, MLPT_EINVAL, row0, 0,
                            "label_index %ld is out of range: the header has %zu columns",
                            c->opt.label_index, c->ncols);
        lc = (size_t)c->opt.label_index;
    } else {
        for (size_t j = 0; j < c->ncols && lc == c->ncols; j++)
            if (ascii_ieq(c->names + c->name_off[j], "label"))
                lc = j;
        if (lc == c->ncols)
            lc = c->ncols - 1;
    }
    c->label_col = lc;
    c->features = c->ncols - 1;
    uint64_t by_values = c->opt.max_values / c->features;
    c->row_limit = c->opt.max_rows;
    if (by_values < (uint64_t)c->row_limit)
        c->row_limit = (size_t)by_values;
    c->state = ST_DATA;
    return MLPT_OK;
}

/* ---- data rows ------------------------------------------------------------------------------- */

static int csv_grow(ingest_csv_t *c, size_t row0) {
    if (c->rows >= c->row_limit) {
        if (c->rows >= c->opt.max_rows)
            return csv_fail(c, MLPT_ELIMIT, row0, 0, "more than %zu data rows (the limit)",
                            c->opt.max_rows);
        return csv_fail(c, MLPT_ELIMIT, row0, 0,
                        "more than %llu values (rows x %zu features; the limit)",
                        (unsigned long long)c->opt.max_values, c->features);
    }
    size_t f = c->features;
    size_t cap = c->cap_rows ? c->cap_rows * 2 : ((size_t)1 << 14) / f + 16; /* 64 KiB first */
    if (cap > c->row_limit)
        cap = c->row_limit;
    if (cap > SIZE_MAX / sizeof(float) / f)
        return csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory");
    float *x = realloc(c->x, cap * f * sizeof(float));
    if (!x)
        return csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory for %zu rows", cap);
    c->x = x;
    int32_t *y = realloc(c->y, cap * sizeof(int32_t));
    if (!y)
        return csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory for %zu rows", cap);
    c->y = y;
    c->cap_rows = cap;
    return MLPT_OK;
}

static int is_nonfinite_word(const field_t *f) {
    const char *p = f->ptr;
    size_t n = f->len;
    if (n > 0 && (*p == '+' || *p == '-')) {
        p++;
        n--;
    }
    char w[9];
    if (n == 0 || n > 8)
        return 0;
    for (size_t i = 0; i < n; i++)
        w[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] - 'A' + 'a' : p[i]);
    w[n] = '\0';
    return strcmp(w, "nan") == 0 || strcmp(w, "inf") == 0 || strcmp(w, "infinity") == 0;
}

/* The general path for the feature at p (column col): read the field, convert it, or report why
 * not. */
static int feature_slow(ingest_csv_t *c, const char *s, const char *p, const char *e, size_t row0,
                        int quotes, size_t col, float *v, const char **term) {
    field_t f;
    int rc = field_next(c, s, p, e, row0, quotes, col, &f, term);
    if (rc)
        return rc;
    trim(&f);
    size_t row = row_at(s, p, row0, quotes);
    if (f.len == 0)
        return csv_fail(c, MLPT_EFORMAT, row, col,
                        "the value is empty (a feature must be a number)");
    char esc[64];
    switch (ingest_num_parse_text(f.ptr, f.len, v)) {
    case INGEST_NUM_OK:
        return MLPT_OK;
    case INGEST_NUM_RANGE:
        return csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is outside the float32 range",
                        ingest_escape(esc, sizeof(esc), f.ptr, f.len, 40));
    case INGEST_NUM_NOMEM:
        return csv_fail(c, MLPT_ENOMEM, row, col, "out of memory");
    default:
        if (is_nonfinite_word(&f))
            return csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is not a finite number",
                            ingest_escape(esc, sizeof(esc), f.ptr, f.len, 40));
        return csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is not a number",
                        ingest_escape(esc, sizeof(esc), f.ptr, f.len, 40));
    }
}

/* Reads the label at p (column col) and interns it into *id. */
static int label_field(ingest_csv_t *c, const char *s, const char *p, const char *e, size_t row0,
                       int quotes, size_t col, int32_t *id, const char **term) {
    const char d = c->delim;
    const char *r = p;
    field_t f;
    while (r < e && *r != d && *r != '"' && *r != '\0')
        r++;
    if ((r < e && *r != d) || (size_t)(r - p) > c->opt.max_field_bytes) {
        int rc = field_next(c, s, p, e, row0, quotes, col, &f, term);
        if (rc)
            return rc;
    } else {
        f.ptr = p;
        f.len = (size_t)(r - p);
        f.quoted = 0;
        *term = r;
    }
    if (!f.quoted)
        trim(&f);
    if (f.len == 0)
        return csv_fail(c, MLPT_EFORMAT, row_at(s, p, row0, quotes), col, "the label is empty");
    int32_t k = ingest_labels_intern(&c->labels, f.ptr, f.len, c->opt.max_classes);
    if (k == MLPT_ELIMIT)
        return csv_fail(c, MLPT_ELIMIT, row_at(s, p, row0, quotes), col,
                        "more than %zu distinct labels (the limit); is this the label column?",
                        c->opt.max_classes);
    if (k < 0)
        return csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
    *id = k;
    return MLPT_OK;
}

static size_t count_fields(const char *s, const char *e, char delim) {
    return col_at(s, e, delim);
}

static int csv_data(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes) {
    if (c->rows == c->cap_rows) {
        int rc = csv_grow(c, row0);
        if (rc)
            return rc;
    }
    const size_t ncols = c->ncols, lc = c->label_col, maxf = c->opt.max_field_bytes;
    const char d = c->delim;
    float *xr = c->x + c->rows * c->features;
    int32_t id = 0;
    const char *p = s, *t = s;
    for (size_t j = 0; j < ncols; j++) {
        int rc;
        if (j == lc) {
            rc = label_field(c, s, p, e, row0, quotes, j + 1, &id, &t);
            if (rc)
                return rc;
        } else {
            float v;
            if (ingest_num_parse(p, &t, &v) != INGEST_NUM_OK || (t != e && *t != d) ||
                (size_t)(t - p) > maxf) {
                rc = feature_slow(c, s, p, e, row0, quotes, j + 1, &v, &t);
                if (rc)
                    return rc;
            }
            *xr++ = v;
        }
        if (t == e) {
            if (j + 1 < ncols) {
                int rc2 = fail_on_nul(c, s, e, row0, quotes);
                if (rc2)
                    return rc2;
                return csv_fail(c, MLPT_EFORMAT, row_at(s, e, row0, quotes), j + 2,
                                "missing field: the row has %zu fields, the header %zu", j + 1,
                                ncols);
            }
        } else {
            p = t + 1;
        }
    }
    if (t != e) {
        int rc2 = fail_on_nul(c, s, e, row0, quotes);
        if (rc2)
            return rc2;
        size_t n = ncols + count_fields(t + 1, e, d);
        return csv_fail(c, MLPT_EFORMAT, row_at(s, t, row0, quotes), ncols + 1,
                        "extra field: the row has %zu fields, the header %zu", n, ncols);
    }
    c->y[c->rows++] = id;
    return MLPT_OK;
}

/* Processes the complete record [s, e), *e being its LF (or the sentinel after the last record). */
static int csv_record(ingest_csv_t *c, const char *s, const char *e, int quotes) {
    size_t row0 = c->line + 1;
    size_t span = 1;
    if (quotes)
        for (const char *q = s; q < e && (q = memchr(q, '\n', (size_t)(e - q))); q++)
            span++;
    c->line += span;
    if (e > s && e[-1] == '\r')
        e--;
    if ((size_t)(e - s) > c->opt.max_line_bytes)
        return csv_fail(c, MLPT_ELIMIT, row0, 0, "the line is longer than the limit of %zu bytes",
                        c->opt.max_line_bytes);
    if (c->first) {
        c->first = 0;
        if (e - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
    }
    const char *q = s;
    while (q < e && (*q == ' ' || *q == '\t'))
        q++;
    if (q == e)
        return MLPT_OK; /* blank line */
    if (c->state == ST_HEADER)
        return csv_header(c, s, e, row0, quotes);
    return csv_data(c, s, e, row0, quotes);
}

/* Appends p[0..n) to the carry, keeping room for the sentinel. */
static int carry_append(ingest_csv_t *c, const char *p, size_t n) {
    if (c->carry_len + n + 1 > c->carry_cap) {
        size_t cap = c->carry_cap ? c->carry_cap : 4096;
        while (c->carry_len + n + 1 > cap)
            cap *= 2;
        char *tmp = realloc(c->carry, cap);
        if (!tmp)
            return csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
        c->carry = tmp;
        c->carry_cap = cap;
    }
    memcpy(c->carry + c->carry_len, p, n);
    c->carry_len += n;
    return MLPT_OK;
}

static int line_too_long(ingest_csv_t *c) {
    return csv_fail(c, MLPT_ELIMIT, c->line + 1, 0,
                    "the line is longer than the limit of %zu bytes", c->opt.max_line_bytes);
}

static void check_options(ingest_csv_t *c) {
    const ingest_csv_options_t *o = &c->opt;
    char d = o->delimiter;
    if (o->label_name && o->label_index >= 0)
        csv_fail(c, MLPT_EINVAL, 0, 0, "label_name and label_index are both set; choose one");
    else if (o->label_index < -1)
        csv_fail(c, MLPT_EINVAL, 0, 0, "label_index must be -1 or a column index, not %ld",
                 o->label_index);
    else if (d && d != ',' && d != ';' && d != '\t' && d != '|' && d != ':')
        csv_fail(c, MLPT_EINVAL, 0, 0, "the delimiter must be one of , ; TAB | : (or 0 to detect)");
}

ingest_csv_t *ingest_csv_new(const ingest_csv_options_t *opt) {
    ingest_csv_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    ingest_csv_options_t def;
    ingest_csv_options_init(&def);
    c->opt = opt ? *opt : def;
    if (c->opt.label_name) {
        size_t n = strlen(c->opt.label_name);
        c->label_name = malloc(n + 1);
        if (!c->label_name) {
            free(c);
            return NULL;
        }
        memcpy(c->label_name, c->opt.label_name, n + 1);
        c->opt.label_name = c->label_name;
    }
    if (!c->opt.max_features)
        c->opt.max_features = def.max_features;
    if (!c->opt.max_rows)
        c->opt.max_rows = def.max_rows;
    if (!c->opt.max_values)
        c->opt.max_values = def.max_values;
    if (!c->opt.max_line_bytes)
        c->opt.max_line_bytes = def.max_line_bytes;
    if (!c->opt.max_field_bytes)
        c->opt.max_field_bytes = def.max_field_bytes;
    if (!c->opt.max_classes)
        c->opt.max_classes = def.max_classes;
    if (!c->opt.max_gunzip_bytes)
        c->opt.max_gunzip_bytes = def.max_gunzip_bytes;
    c->delim = c->opt.delimiter ? c->opt.delimiter : ',';
    c->state = ST_HEADER;
    c->first = 1;
    ingest_labels_init(&c->labels);
    check_options(c);
    return c;
}

/* Returns the sticky error, or an ESTATE error after finish, or 0 when the parser may go on. */
static int csv_unusable(ingest_csv_t *c, ingest_error_t *err) {
    if (c->state == ST_FAILED) {
        ingest_error_copy(err, &c->error);
        return c->error.code;
    }
    if (c->state == ST_DONE) {
        ingest_error_set(err, MLPT_ESTATE, 0, 0, NULL, "the CSV parser is already finished");
        return MLPT_ESTATE;
    }
    return MLPT_OK;
}

int ingest_csv_feed(ingest_csv_t *c, const char *buf, size_t len, ingest_error_t *err) {
    if (!c || (!buf && len > 0)) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_csv_feed: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = csv_unusable(c, err);
    if (rc || len == 0) /* buf may be NULL when len is 0, and NULL + 0 is undefined in C */
        return rc;
    const char *p = buf, *end = buf + len;
    if (c->carry_len > 0 && p < end) {
        int quotes = c->carry_quotes;
        const char *nl = record_end(p, len, &c->carry_inq, &quotes);
        size_t n = nl ? (size_t)(nl - p) + 1 : len;
        size_t content = c->carry_len + n - (nl ? 1 : 0);
        if (content > c->opt.max_line_bytes + 1) {
            rc = line_too_long(c);
            goto out;
        }
        rc = carry_append(c, p, n);
        if (rc)
            goto out;
        c->carry_quotes = quotes;
        p += n;
        if (!nl)
            goto out;
        rc = csv_record(c, c->carry, c->carry + c->carry_len - 1, quotes);
        c->carry_len = 0;
        c->carry_inq = 0;
        c->carry_quotes = 0;
        if (rc)
            goto out;
    }
    while (p < end) {
        int inq = 0, quotes = 0;
        const char *nl = record_end(p, (size_t)(end - p), &inq, &quotes);
        if (!nl) {
            if ((size_t)(end - p) > c->opt.max_line_bytes + 1) {
                rc = line_too_long(c);
                goto out;
            }
            rc = carry_append(c, p, (size_t)(end - p));
            c->carry_inq = inq;
            c->carry_quotes = quotes;
            goto out;
        }
        rc = csv_record(c, p, nl, quotes);
        if (rc)
            goto out;
        p = nl + 1;
    }
out:
    if (rc)
        ingest_error_copy(err, &c->error);
    return rc;
}

/* Builds the dataset from the parsed rows (classes sorted, ids remapped). */
static int csv_build(ingest_csv_t *c, trainer_dataset_t **out) {
    int rc = MLPT_ENOMEM;
    trainer_dataset_t *ds = NULL;
    int32_t *rank = malloc(c->labels.n * sizeof(*rank));
    if (!rank)
        goto fail_nomem;
    size_t k = 0;
    char **names = NULL;
    size_t *counts = NULL;
    if (ingest_labels_resolve(&c->labels, rank, &k, &names, &counts) != MLPT_OK)
        goto fail_nomem;
    ds = calloc(1, sizeof(*ds));
    if (!ds) {
        for (size_t i = 0; i < k; i++)
            free(names[i]);
        free(names);
        free(counts);
        goto fail_nomem;
    }
    ds->classes = k;
    ds->class_names = names;
    ds->class_counts = counts;
    ds->rows = c->rows;
    ds->features = c->features;
    ds->scaling = TRAINER_SCALE_STANDARDIZE;
    if (k < 2) {
        char esc[64];
        const char *nm = names[0];
        rc = csv_fail(c, MLPT_EFORMAT, 0, c->label_col + 1,
                      "every row has the label \"%s\"; at least 2 classes are needed",
                      ingest_escape(esc, sizeof(esc), nm, strlen(nm), 40));
        goto out;
    }
    for (size_t i = 0; i < c->rows; i++)
        c->y[i] = rank[c->y[i]];
    /* Shrink to fit; a failed shrink keeps the larger block. */
    if (c->rows < c->cap_rows) {
        float *x = realloc(c->x, c->rows * c->features * sizeof(float));
        if (x)
            c->x = x;
        int32_t *y = realloc(c->y, c->rows * sizeof(int32_t));
        if (y)
            c->y = y;
        c->cap_rows = c->rows;
    }
    ds->x = c->x;
    ds->y = c->y;
    c->x = NULL;
    c->y = NULL;
    c->rows = c->cap_rows = 0;
    rc = ingest_dataset_validate(ds);
    if (rc) {
        rc = csv_fail(c, rc, 0, 0, "internal error: the dataset breaks its invariants");
        goto out;
    }
    *out = ds;
    ds = NULL;
    goto out;
fail_nomem:
    rc = csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
out:
    trainer_dataset_free(ds);
    free(rank);
    return rc;
}

int ingest_csv_finish(ingest_csv_t *c, trainer_dataset_t **out, ingest_error_t *err) {
    if (out)
        *out = NULL;
    if (!c || !out) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_csv_finish: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = csv_unusable(c, err);
    if (rc)
        return rc;
    if (c->carry_len > 0) {
        c->carry[c->carry_len] = '\n'; /* the sentinel; carry_append() kept room for it */
        rc = csv_record(c, c->carry, c->carry + c->carry_len, c->carry_quotes);
        c->carry_len = 0;
        if (rc)
            goto out;
    }
    if (c->state == ST_HEADER) {
        rc = csv_fail(c, MLPT_EFORMAT, 0, 0, "the file is empty: a header row is required");
        goto out;
    }
    if (c->rows == 0) {
        rc = csv_fail(c, MLPT_EFORMAT, 0, 0, "the file has a header but no data rows");
        goto out;
    }
    rc = csv_build(c, out);
    if (rc == MLPT_OK)
        c->state = ST_DONE;
out:
    if (rc)
        ingest_error_copy(err, &c->error);
    return rc;
}

void ingest_csv_free(ingest_csv_t *c) {
    if (!c)
        return;
    free(c->label_name);
    free(c->carry);
    free(c->names);
    free(c->name_off);
    free(c->x);
    free(c->y);
    ingest_labels_deinit(&c->labels);
    free(c->scratch);
    free(c);
}
