/*
 * ingest/csv_number.c - the strtof() fallback of the number parser and its public wrapper.
 */
#include "csv_number.h"

#include <math.h>
#include <stdlib.h>

#include "csv.h"

const double ingest_pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

ingest_num_status_t ingest_num_slow(const char *s, const char *e, float *out) {
    char stack[128];
    char *buf = stack;
    size_t n = (size_t)(e - s);
    ingest_num_status_t st = INGEST_NUM_OK;
    if (n >= sizeof(stack)) {
        buf = malloc(n + 1);
        if (!buf)
            return INGEST_NUM_NOMEM;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    /* The text matched the decimal grammar, so strtof() consumes all of it. Underflow (ERANGE
     * with a zero or subnormal result) is accepted; overflow gives +-HUGE_VALF. */
    float f = strtof(buf, &end);
    if (end != buf + n)
        st = INGEST_NUM_SYNTAX;
    else if (isinf(f))
        st = INGEST_NUM_RANGE;
    else
        *out = f;
    if (buf != stack)
        free(buf);
    return st;
}

ingest_num_status_t ingest_num_parse_text(const char *s, size_t len, float *out) {
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char stack[128];
    char *buf = stack;
    if (len >= sizeof(stack)) {
        buf = malloc(len + 1);
        if (!buf)
            return INGEST_NUM_NOMEM;
    }
    if (len > 0)
        memcpy(buf, s, len);
    buf[len] = '\0'; /* the terminator the fast scan needs */
    const char *end = NULL;
    float f = 0.0f;
    ingest_num_status_t st = ingest_num_parse(buf, &end, &f);
    if (st == INGEST_NUM_OK && end != buf + len)
        st = INGEST_NUM_SYNTAX;
    if (st == INGEST_NUM_OK)
        *out = f;
    if (buf != stack)
        free(buf);
    return st;
}

int ingest_csv_parse_float(const char *s, size_t len, float *out) {
    if ((!s && len > 0) || !out)
        return MLPT_EINVAL;
    switch (ingest_num_parse_text(s ? s : "", len, out)) {
    case INGEST_NUM_OK:
        return MLPT_OK;
    case INGEST_NUM_NOMEM:
        return MLPT_ENOMEM;
    default:
        return MLPT_EFORMAT;
    }
}
