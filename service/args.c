#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void svc_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mlptune: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int svc_parse_u64(const char *name, const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    if (!text || !*text || *text == '-' || *text == ' ') {
        svc_errorf("--%s: expected a non-negative integer, got \"%s\"", name, text ? text : "");
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) {
        svc_errorf("--%s: expected a non-negative integer, got \"%s\"", name, text);
        return -1;
    }
    *out = v;
    return 0;
}

int svc_parse_size(const char *name, const char *text, size_t min, size_t max, size_t *out) {
    uint64_t v;
    if (svc_parse_u64(name, text, &v) != 0)
        return -1;
    if (v < min || v > max) {
        svc_errorf("--%s: %s is out of range [%zu, %zu]", name, text, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int svc_parse_double(const char *name, const char *text, double min, double max, int min_inclusive,
                     double *out) {
    char *end;
    errno = 0;
    double v = text && *text ? strtod(text, &end) : NAN;
    if (!text || !*text || errno || *end || !isfinite(v)) {
        svc_errorf("--%s: expected a finite number, got \"%s\"", name, text ? text : "");
        return -1;
    }
    if ((min_inclusive ? v < min : v <= min) || v > max) {
        svc_errorf("--%s: %s is out of range %s%g, %g]", name, text, min_inclusive ? "[" : "(", min,
                   max);
        return -1;
    }
    *out = v;
    return 0;
}

int svc_parse_size_list(const char *name, const char *text, size_t min, size_t max, size_t *out,
                        size_t cap, size_t *n) {
    size_t count = 0;
    const char *p = text;
    char item[32];
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (count == cap) {
            svc_errorf("--%s: at most %zu entries", name, cap);
            return -1;
        }
        if (len == 0 || len >= sizeof item) {
            svc_errorf("--%s: entry %zu of \"%s\" is not a number", name, count + 1, text);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (svc_parse_size(name, item, min, max, &out[count]) != 0)
            return -1;
        count++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *n = count;
    return 0;
}

int svc_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

char *svc_token_file_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        svc_errorf("--token-file %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SVC_TOKEN_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SVC_TOKEN_MAX_BYTES + 1, f) : 0;
    int bad = !buf ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    const char *why = NULL;
    if (bad)
        svc_errorf("--token-file %s: cannot read: %s", path, strerror(bad));
    else if (n > SVC_TOKEN_MAX_BYTES)
        svc_errorf("--token-file %s: longer than %d bytes", path, SVC_TOKEN_MAX_BYTES);
    if (bad || n > SVC_TOKEN_MAX_BYTES) {
        free(buf);
        return NULL;
    }
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || (buf[start] >= '\t' && buf[start] <= '\r')))
        start++;
    while (n > start && (buf[n - 1] == ' ' || (buf[n - 1] >= '\t' && buf[n - 1] <= '\r')))
        n--;
    memmove(buf, buf + start, n - start);
    n -= start;
    buf[n] = '\0';
    if (n == 0)
        why = "is empty";
    for (size_t i = 0; i < n && !why; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\0')
            why = "holds a NUL byte";
        else if (c == '\n' || c == '\r')
            why = "holds more than one line (the token alone is expected)";
        else if ((c < 0x20 && c != '\t') || c == 0x7F)
            why = "holds a control character";
    }
    if (why) {
        svc_errorf("--token-file %s: %s", path, why);
        memset(buf, 0, n);
        free(buf);
        return NULL;
    }
    return buf;
}
