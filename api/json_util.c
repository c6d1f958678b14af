/*
 * api/json_util.c - non-finite numbers as null, UTF-8-safe strings, compact dumps, body parsing
 * with the parser's line and column.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

json_t *api_json_num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min, cp;
    if ((c & 0xE0) == 0xC0) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int api_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = p[i] ? utf8_seq(p + i) : 1;
        if (n == 0 || i + n > len)
            return 0;
        i += n;
    }
    return 1;
}

json_t *api_json_string(const char *s) {
    if (!s)
        return json_null();
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i);
        if (n == 0) {
            copy[i++] = '?';
            continue;
        }
        memcpy(copy + i, p + i, n);
        i += n;
    }
    copy[len] = '\0';
    json_t *j = json_stringn(copy, len);
    free(copy);
    return j;
}

int api_json_dump(const json_t *j, char **out, size_t *len) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return -1;
    size_t n = strlen(text);
    char *buf = realloc(text, n + 2);
    if (!buf) {
        free(text);
        return -1;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    *out = buf;
    *len = n + 1;
    return 0;
}

json_t *api_json_parse(const char *body, size_t len, char *detail, size_t cap) {
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!j && detail && cap)
        snprintf(detail, cap, "line %d, column %d: %s", e.line, e.column, e.text);
    return j;
}

int api_json_get_number(const json_t *j, double *out) {
    if (json_is_integer(j)) {
        *out = (double)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        *out = json_real_value(j);
        return 0;
    }
    return -1;
}
