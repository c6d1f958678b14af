#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Copies msg into out (cap bytes, NUL-terminated, cut short when it does not fit) with every
 * control character written as \xNN: C0 (0x00-0x1f, newline and tab included), DEL, and the C1
 * controls in their UTF-8 form (c2 80 - c2 9f). Log lines carry client text (paths, queries,
 * header values, names), so none can end a line early and forge the next one, or send escape
 * sequences to a terminal that shows the log. Returns the length written. */
static size_t escape_controls(char *out, size_t cap, const char *msg) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
        if (*p < 0x20 || *p == 0x7f || c1) {
            size_t need = c1 ? 8 : 4;
            if (n + need >= cap)
                break;
            for (int k = 0; k < (c1 ? 2 : 1); k++) {
                out[n++] = '\\';
                out[n++] = 'x';
                out[n++] = hex[p[k] >> 4];
                out[n++] = hex[p[k] & 15];
            }
            p += c1;
        } else {
            if (n + 1 >= cap)
                break;
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return n;
}

static void emit(const char *level, const char *msg) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[1400];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return;
    n += (int)escape_controls(line + n, sizeof line - 1 - (size_t)n, msg);
    line[n++] = '\n';
    /* One write(2) per line keeps lines whole when threads log at once. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void svc_logf(const char *level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg);
}

void svc_log_line(void *user, const char *line) {
    emit(user ? (const char *)user : "info", line);
}
