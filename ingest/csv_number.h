/*
 * ingest/csv_number.h - decimal text to float32, correctly rounded; private to mlpt_ingest.
 *
 * The fast path is inline because the CSV parser calls it for every feature. Why it is exact:
 * a mantissa m <= 2^53 and a power 10^|k| with |k| <= 22 are both exact doubles, so m * 10^k or
 * m / 10^-k is one correctly rounded double d. Rounding d to float gives the float nearest to
 * the exact value unless d lands exactly half-way between two floats (a double rounding can only
 * go wrong there, because every such half-way point is itself a double and rounding to the nearest
 * double never crosses it). Those ties, longer mantissas and larger exponents go to strtof().
 * Over that fast range d stays within [1e-22, 9.1e37], inside the normal float range, so the
 * half-way test is on the 29 low bits of d's significand.
 */
#ifndef INGEST_CSV_NUMBER_H
#define INGEST_CSV_NUMBER_H

#include <stdint.h>
#include <string.h>

typedef enum ingest_num_status {
    INGEST_NUM_OK = 0,
    INGEST_NUM_SYNTAX, /* not a decimal number */
    INGEST_NUM_RANGE,  /* overflows float32 */
    INGEST_NUM_NOMEM,  /* the strtof() copy could not be allocated */
} ingest_num_status_t;

extern const double ingest_pow10_exact[23];

/* The slow path: converts the number text [s, e) (already known to match the decimal grammar)
 * with strtof(). */
ingest_num_status_t ingest_num_slow(const char *s, const char *e, float *out);

/* Parses the whole text s[0..len) (spaces and tabs around the number allowed, no terminator
 * needed). Returns INGEST_NUM_SYNTAX for an empty text or trailing garbage. */
ingest_num_status_t ingest_num_parse_text(const char *s, size_t len, float *out);

/* Parses a decimal number at s: spaces, [+-], digits, optional '.' digits, optional exponent,
 * spaces. The byte after the number (and its trailing spaces) must exist and be none of
 * "0123456789.eE+- ", e.g. a delimiter, CR, LF or NUL: the scan relies on it to stop.
 * Returns INGEST_NUM_OK with *out and *endp (the first byte after the trailing spaces), or
 * INGEST_NUM_SYNTAX / INGEST_NUM_RANGE / INGEST_NUM_NOMEM (*endp is then unspecified). */
static inline ingest_num_status_t ingest_num_parse(const char *s, const char **endp, float *out) {
    const char *p = s;
    while (*p == ' ')
        p++;
    const char *num = p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    } else if (*p == '+') {
        p++;
    }
    uint64_t m = 0; /* wraps past 19 digits; nd > 19 sends those to strtof() */
    const char *d0 = p;
    while ((unsigned)(*p - '0') < 10u) {
        m = m * 10 + (uint64_t)(*p - '0');
        p++;
    }
    size_t nd = (size_t)(p - d0), nfrac = 0;
    if (*p == '.') {
        p++;
        const char *f0 = p;
        while ((unsigned)(*p - '0') < 10u) {
            m = m * 10 + (uint64_t)(*p - '0');
            p++;
        }
        nfrac = (size_t)(p - f0);
        nd += nfrac;
    }
    if (nd == 0)
        return INGEST_NUM_SYNTAX;
    long e10 = 0;
    if ((*p | 0x20) == 'e') {
        p++;
        int eneg = 0;
        if (*p == '-') {
            eneg = 1;
            p++;
        } else if (*p == '+') {
            p++;
        }
        const char *e0 = p;
        while ((unsigned)(*p - '0') < 10u) {
            if (e10 < 100000) /* saturate: anything this large is 0 or out of range anyway */
                e10 = e10 * 10 + (*p - '0');
            p++;
        }
        if (p == e0)
            return INGEST_NUM_SYNTAX;
        if (eneg)
            e10 = -e10;
    }
    const char *numend = p;
    while (*p == ' ')
        p++;
    *endp = p;

    float f;
    if (nd > 19)
        return ingest_num_slow(num, numend, out);
    if (m == 0) {
        f = 0.0f;
    } else {
        long k = e10 - (long)nfrac;
        if (k == 0 && m <= ((uint64_t)1 << 24)) {
            f = (float)m; /* exact */
        } else if (m <= ((uint64_t)1 << 53) && k >= -22 && k <= 22) {
            double d =
                k >= 0 ? (double)m * ingest_pow10_exact[k] : (double)m / ingest_pow10_exact[-k];
            uint64_t bits;
            memcpy(&bits, &d, sizeof(bits));
            if ((bits & 0x1FFFFFFFu) == 0x10000000u)
                return ingest_num_slow(num, numend, out); /* exactly half-way: let strtof decide */
            f = (float)d;
        } else {
            return ingest_num_slow(num, numend, out);
        }
    }
    *out = neg ? -f : f;
    return INGEST_NUM_OK;
}

#endif
