/*
 * ingest/ingest.c - error detail, option defaults and format sniffing.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_private.h"

void ingest_csv_options_init(ingest_csv_options_t *opt) {
    memset(opt, 0, sizeof(*opt));
    opt->label_name = NULL;
    opt->label_index = -1;
    opt->delimiter = 0;
    opt->max_features = INGEST_DEFAULT_MAX_FEATURES;
    opt->max_rows = INGEST_DEFAULT_MAX_ROWS;
    opt->max_values = INGEST_DEFAULT_MAX_VALUES;
    opt->max_line_bytes = INGEST_DEFAULT_MAX_LINE_BYTES;
    opt->max_field_bytes = INGEST_DEFAULT_MAX_FIELD_BYTES;
    opt->max_classes = INGEST_DEFAULT_MAX_CLASSES;
    opt->max_gunzip_bytes = INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

void ingest_idx_options_init(ingest_idx_options_t *opt) {
    memset(opt, 0, sizeof(*opt));
    opt->max_features = INGEST_DEFAULT_MAX_FEATURES;
    opt->max_rows = INGEST_DEFAULT_MAX_ROWS;
    opt->max_values = INGEST_DEFAULT_MAX_VALUES;
    opt->max_gunzip_bytes = INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n) {
    size_t i = n;
    /* Step back over continuation bytes to the lead byte of the last sequence. */
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return (n - (i - 1) >= want) ? n : i - 1;
}

char *ingest_escape(char *dst, size_t cap, const char *s, size_t n, size_t max) {
    size_t o = 0;
    int cut = 0;
    if (n > max) {
        n = utf8_cut(s, max);
        cut = 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[5];
        size_t k;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            k = 2;
        } else if (c >= 0x20 && c != 0x7F) {
            tmp[0] = (char)c;
            k = 1;
        } else {
            snprintf(tmp, sizeof(tmp), "\\x%02X", c);
            k = 4;
        }
        if (o + k + 4 > cap) { /* keep room for "..." and the NUL */
            cut = 1;
            break;
        }
        memcpy(dst + o, tmp, k);
        o += k;
    }
    if (cut && o + 4 <= cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

static void set_common(ingest_error_t *err, int code, size_t row, size_t column,
                       const char *column_name) {
    err->code = code;
    err->part = INGEST_PART_NONE;
    err->row = row;
    err->column = column;
    err->column_name[0] = '\0';
    if (column_name) {
        size_t n = strlen(column_name);
        if (n >= sizeof(err->column_name))
            n = utf8_cut(column_name, sizeof(err->column_name) - 1);
        memcpy(err->column_name, column_name, n);
        err->column_name[n] = '\0';
    }
}

void ingest_error_set(ingest_error_t *err, int code, size_t row, size_t column,
                      const char *column_name, const char *fmt, ...) {
    if (!err)
        return;
    set_common(err, code, row, column, column_name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

void ingest_error_vat(ingest_error_t *err, int code, size_t row, size_t column,
                      const char *column_name, const char *fmt, va_list ap) {
    if (!err)
        return;
    set_common(err, code, row, column, column_name);
    char name[96] = "";
    if (column && column_name && column_name[0]) {
        char esc[80];
        ingest_escape(esc, sizeof(esc), column_name, strlen(column_name), 40);
        snprintf(name, sizeof(name), " (\"%s\")", esc);
    }
    int n;
    if (row && column)
        n = snprintf(err->message, sizeof(err->message), "row %zu, column %zu%s: ", row, column,
                     name);
    else if (row)
        n = snprintf(err->message, sizeof(err->message), "row %zu: ", row);
    else if (column)
        n = snprintf(err->message, sizeof(err->message), "column %zu%s: ", column, name);
    else
        n = 0;
    if (n < 0 || (size_t)n >= sizeof(err->message))
        n = 0;
    vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
}

void ingest_error_at(ingest_error_t *err, int code, size_t row, size_t column,
                     const char *column_name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ingest_error_vat(err, code, row, column, column_name, fmt, ap);
    va_end(ap);
}

void ingest_error_copy(ingest_error_t *dst, const ingest_error_t *src) {
    if (dst && dst != src)
        *dst = *src;
}

const char *ingest_strerror(int errnum, char *buf, size_t cap) {
    /* The XSI strerror_r (we build with _POSIX_C_SOURCE and without _GNU_SOURCE). */
    if (strerror_r(errnum, buf, cap) != 0)
        snprintf(buf, cap, "error %d", errnum);
    return buf;
}

ingest_format_t ingest_sniff(const void *head, size_t len) {
    const unsigned char *h = head;
    if (!h || len == 0)
        return INGEST_FORMAT_UNKNOWN;
    if (len >= 2 && h[0] == 0x1F && h[1] == 0x8B)
        return INGEST_FORMAT_GZIP;
    if (len >= 4 && h[0] == 0 && h[1] == 0) {
        switch (h[2]) {
        case 0x08:
        case 0x09:
        case 0x0B:
        case 0x0C:
        case 0x0D:
        case 0x0E:
            if (h[3] == 1)
                return INGEST_FORMAT_IDX_LABELS;
            if (h[3] >= 2)
                return INGEST_FORMAT_IDX_IMAGES;
            return INGEST_FORMAT_UNKNOWN;
        default:
            return INGEST_FORMAT_UNKNOWN;
        }
    }
    size_t n = len < 4096 ? len : 4096, i = 0, printable = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    for (; i < n; i++) {
        unsigned char c = h[i];
        if (c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c < 0x20 || c == 0x7F)
            return INGEST_FORMAT_UNKNOWN;
        printable++;
    }
    return printable ? INGEST_FORMAT_CSV : INGEST_FORMAT_UNKNOWN;
}
