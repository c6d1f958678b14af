/*
 * ingest/csv_header.c - the header row of a CSV file: the delimiter (the most frequent of , ; TAB
 * outside quotes, when not given), the column names (UTF-8), the label column (by name, index,
 * "label" or the last) and the row limit that max_values leaves for that many features.
 */
#include <stdlib.h>
#include <string.h>

#include "csv_private.h"

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

int ingest_csv_header(ingest_csv_t *c, const char *s, const char *e, size_t row0, int quotes) {
    if (c->opt.delimiter == 0)
        c->delim = detect_delimiter(s, e);
    const char *p = s, *t;
    for (;;) {
        if (c->ncols > c->opt.max_features) /* one more column would be max_features + 2 */
            return ingest_csv_fail(c, MLPT_ELIMIT, row0, 0,
                                   "the header has more than %zu feature columns (the limit)",
                                   c->opt.max_features);
        field_t f;
        int rc = ingest_csv_field_next(c, s, p, e, row0, quotes, c->ncols + 1, &f, &t);
        if (rc)
            return rc;
        if (!f.quoted)
            ingest_csv_trim(&f);
        /* Column names reach messages and the label_column match: text, so UTF-8. */
        if (!utf8_valid(f.ptr, f.len))
            return ingest_csv_fail(c, MLPT_EFORMAT, row0, c->ncols + 1,
                                   "the column name is not valid UTF-8 (save the file as UTF-8)");
        if (add_name(c, &f) != MLPT_OK)
            return ingest_csv_fail(c, MLPT_ENOMEM, 0, 0, "out of memory");
        if (t == e)
            break;
        p = t + 1;
    }
    if (c->ncols < 2) {
        char d[8];
        return ingest_csv_fail(
            c, MLPT_EFORMAT, row0, 0,
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
            return ingest_csv_fail(
                c, MLPT_EINVAL, row0, 0, "no column named \"%s\" in the header",
                ingest_escape(esc, sizeof(esc), c->label_name, strlen(c->label_name), 60));
        }
    } else if (c->opt.label_index >= 0) {
        if ((unsigned long)c->opt.label_index >= c->ncols)
            return ingest_csv_fail(c, MLPT_EINVAL, row0, 0,
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
    c->state = CSV_ST_DATA;
    return MLPT_OK;
}
