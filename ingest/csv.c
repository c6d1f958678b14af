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
 * the row. Anything unusual (quotes, tabs, garbage, errors) goes to ingest_csv_field_next(), the
 * general RFC 4180 field reader, and then to the error reporting (both in csv_field.c). The header
 * row is parsed by csv_header.c; the parser's state is in csv_private.h.
 */
#include "csv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csv_labels.h"
#include "csv_number.h"
#include "csv_private.h"

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

/* ---- data rows ------------------------------------------------------------------------------- */

static int csv_grow(ingest_csv_t *c, size_t row0) {
    if (c->rows >= c->row_limit) {
        if (c->rows >= c->opt.max_rows)
            return ingest_csv_fail(c, MLPT_ELIMIT, row0, 0, "more than %zu data rows (the limit)",
                                   c->opt.max_rows);
        return ingest_csv_fail(c, MLPT_ELIMIT, row0, 0,
                               "more than %llu values (rows x %zu features; the limit)",
                               (unsigned long long)c->opt.max_values, c->features);
    }
    size_t f = c->features;
    size_t cap = c->cap_rows ? c->cap_rows * 2 : ((size_t)1 << 14) / f + 16; /* 64 KiB first */
    if (cap > c->row_limit)
        cap = c->row_limit;
    if (cap > SIZE_MAX / sizeof(float) / f)
        return ingest_csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory");
    float *x = realloc(c->x, cap * f * sizeof(float));
    if (!x)
        return ingest_csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory for %zu rows", cap);
    c->x = x;
    int32_t *y = realloc(c->y, cap * sizeof(int32_t));
    if (!y)
        return ingest_csv_fail(c, MLPT_ENOMEM, row0, 0, "out of memory for %zu rows", cap);
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
    int rc = ingest_csv_field_next(c, s, p, e, row0, quotes, col, &f, term);
    if (rc)
        return rc;
    ingest_csv_trim(&f);
    size_t row = ingest_csv_row_at(s, p, row0, quotes);
    if (f.len == 0)
        return ingest_csv_fail(c, MLPT_EFORMAT, row, col,
                               "the value is empty (a feature must be a number)");
    char esc[64];
    switch (ingest_num_parse_text(f.ptr, f.len, v)) {
    case INGEST_NUM_OK:
        return MLPT_OK;
    case INGEST_NUM_RANGE:
        return ingest_csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is outside the float32 range",
                               ingest_escape(esc, sizeof(esc), f.ptr, f.len, 40));
    case INGEST_NUM_NOMEM:
        return ingest_csv_fail(c, MLPT_ENOMEM, row, col, "out of memory");
    default:
        if (is_nonfinite_word(&f))
            return ingest_csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is not a finite number",
                                   ingest_escape(esc, sizeof(esc), f.ptr, f.len, 40));
        return ingest_csv_fail(c, MLPT_EFORMAT, row, col, "\"%s\" is not a number",
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
        int rc = ingest_csv_field_next(c, s, p, e, row0, quotes, col, &f, term);
        if (rc)
            return rc;
    } else {
        f.ptr = p;
        f.len = (size_t)(r - p);
        f.quoted = 0;
        *term = r;
    }
    if (!f.quoted)
        ingest_csv_trim(&f);
    if (f.len == 0)
        return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, p, row0, quotes), col,
                               "the label is empty");
    int32_t k = ingest_labels_intern(&c->labels, f.ptr, f.len, c->opt.max_classes);
    if (k == MLPT_ELIMIT)
        return ingest_csv_fail(
            c, MLPT_ELIMIT, ingest_csv_row_at(s, p, row0, quotes), col,
            "more than %zu distinct labels (the limit); is this the label column?",
            c->opt.max_classes);
    if (k < 0)
        return ingest_csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
    *id = k;
    return MLPT_OK;
}

static size_t count_fields(const char *s, const char *e, char delim) {
    return ingest_csv_col_at(s, e, delim);
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
                int rc2 = ingest_csv_fail_on_nul(c, s, e, row0, quotes);
                if (rc2)
                    return rc2;
                return ingest_csv_fail(
                    c, MLPT_EFORMAT, ingest_csv_row_at(s, e, row0, quotes), j + 2,
                    "missing field: the row has %zu fields, the header %zu", j + 1, ncols);
            }
        } else {
            p = t + 1;
        }
    }
    if (t != e) {
        int rc2 = ingest_csv_fail_on_nul(c, s, e, row0, quotes);
        if (rc2)
            return rc2;
        size_t n = ncols + count_fields(t + 1, e, d);
        return ingest_csv_fail(c, MLPT_EFORMAT, ingest_csv_row_at(s, t, row0, quotes), ncols + 1,
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
        return ingest_csv_fail(c, MLPT_ELIMIT, row0, 0,
                               "the line is longer than the limit of %zu bytes",
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
    if (c->state == CSV_ST_HEADER)
        return ingest_csv_header(c, s, e, row0, quotes);
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
            return ingest_csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
        c->carry = tmp;
        c->carry_cap = cap;
    }
    memcpy(c->carry + c->carry_len, p, n);
    c->carry_len += n;
    return MLPT_OK;
}

static int line_too_long(ingest_csv_t *c) {
    return ingest_csv_fail(c, MLPT_ELIMIT, c->line + 1, 0,
                           "the line is longer than the limit of %zu bytes", c->opt.max_line_bytes);
}

static void check_options(ingest_csv_t *c) {
    const ingest_csv_options_t *o = &c->opt;
    char d = o->delimiter;
    if (o->label_name && o->label_index >= 0)
        ingest_csv_fail(c, MLPT_EINVAL, 0, 0,
                        "label_name and label_index are both set; choose one");
    else if (o->label_index < -1)
        ingest_csv_fail(c, MLPT_EINVAL, 0, 0, "label_index must be -1 or a column index, not %ld",
                        o->label_index);
    else if (d && d != ',' && d != ';' && d != '\t' && d != '|' && d != ':')
        ingest_csv_fail(c, MLPT_EINVAL, 0, 0,
                        "the delimiter must be one of , ; TAB | : (or 0 to detect)");
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
    c->state = CSV_ST_HEADER;
    c->first = 1;
    ingest_labels_init(&c->labels);
    check_options(c);
    return c;
}

/* Returns the sticky error, or an ESTATE error after finish, or 0 when the parser may go on. */
static int csv_unusable(ingest_csv_t *c, ingest_error_t *err) {
    if (c->state == CSV_ST_FAILED) {
        ingest_error_copy(err, &c->error);
        return c->error.code;
    }
    if (c->state == CSV_ST_DONE) {
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
        rc = ingest_csv_fail(c, MLPT_EFORMAT, 0, c->label_col + 1,
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
    rc = trainer_dataset_check(ds);
    if (rc) {
        rc = ingest_csv_fail(c, rc, 0, 0, "internal error: the dataset breaks its invariants");
        goto out;
    }
    *out = ds;
    ds = NULL;
    goto out;
fail_nomem:
    rc = ingest_csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
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
    if (c->state == CSV_ST_HEADER) {
        rc = ingest_csv_fail(c, MLPT_EFORMAT, 0, 0, "the file is empty: a header row is required");
        goto out;
    }
    if (c->rows == 0) {
        rc = ingest_csv_fail(c, MLPT_EFORMAT, 0, 0, "the file has a header but no data rows");
        goto out;
    }
    rc = csv_build(c, out);
    if (rc == MLPT_OK)
        c->state = CSV_ST_DONE;
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

size_t ingest_csv_mem_bytes(const ingest_csv_t *c) {
    if (!c)
        return 0;
    return c->rows * (c->features * sizeof(float) + sizeof(int32_t)) + c->carry_cap +
           c->scratch_cap + c->names_cap + c->name_off_cap * sizeof(size_t) + c->labels.arena_cap +
           c->labels.items_cap * sizeof(ingest_label_t) + c->labels.nslots * sizeof(uint32_t);
}
