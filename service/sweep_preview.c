/*
 * sweep_preview.c - the text of `mlptune sweep --preview`: what the server estimated for a sweep
 * it did not create. Numbers are formatted here, from the answer's members only; nothing is
 * computed on this side, so the client never disagrees with the server's own estimate.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sweep_preview.h"

int svc_preview_is(const json_t *answer) {
    return json_is_true(json_object_get(answer, "dry_run"));
}

/* A count, or "?" when v is not a non-negative number. */
static const char *count_text(const json_t *v, char *buf, size_t size) {
    double d = json_number_value(v);
    if (!json_is_number(v) || !(d >= 0.0))
        snprintf(buf, size, "?");
    else
        snprintf(buf, size, "%.0f", d);
    return buf;
}

/* A large number with an SI prefix: "1.23e+13 (12.3 T)". */
static const char *flops_text(const json_t *v, char *buf, size_t size) {
    static const char *const prefix[] = {"", "k", "M", "G", "T", "P", "E"};
    double d = json_number_value(v), s = d;
    size_t k = 0;
    if (!json_is_number(v) || !(d >= 0.0) || !isfinite(d)) {
        snprintf(buf, size, "?");
        return buf;
    }
    while (s >= 1000.0 && k + 1 < sizeof prefix / sizeof prefix[0]) {
        s /= 1000.0;
        k++;
    }
    snprintf(buf, size, "%.3g (%.3g %sFLOP)", d, s, prefix[k]);
    return buf;
}

/* Seconds as "238 s (3:58)" or "?". */
static const char *seconds_text(const json_t *v, char *buf, size_t size) {
    double d = json_number_value(v);
    if (!json_is_number(v) || !(d >= 0.0) || !(d < 1e12)) {
        snprintf(buf, size, "?");
        return buf;
    }
    long t = lround(d);
    if (t >= 3600)
        snprintf(buf, size, "%.0f s (%ld:%02ld:%02ld)", d, t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%.0f s (%ld:%02ld)", d, t / 60, t % 60);
    return buf;
}

/* The search type, letters, digits and '_' only (server text is shown as data). */
static const char *word(const json_t *v, char *buf, size_t size) {
    const char *s = json_string_value(v);
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        buf[n++] = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                           (*s >= '0' && *s <= '9') || *s == '_'
                       ? *s
                       : '?';
    buf[n] = '\0';
    if (!n)
        snprintf(buf, size, "?");
    return buf;
}

/* "max_trials 60, max_seconds 600" from the budget object; "" when there is none. */
static void budget_text(const json_t *budget, char *buf, size_t size) {
    static const char *const keys[] = {"max_trials", "max_seconds", "max_iterations_total"};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const json_t *v = json_object_get(budget, keys[k]);
        if (!json_is_number(v) || n >= size)
            continue;
        int w =
            snprintf(buf + n, size - n, "%s%s %.6g", n ? ", " : "", keys[k], json_number_value(v));
        n += w > 0 ? (size_t)w : 0;
    }
}

int svc_preview_print(FILE *out, const json_t *answer) {
    char search[32], trials[32], budget[160], its[32], flops[64], thr[32], workers[32], est[64];
    const json_t *t = json_object_get(answer, "trials");
    budget_text(json_object_get(answer, "budget"), budget, sizeof budget);
    if (json_is_number(t))
        count_text(t, trials, sizeof trials);
    else
        snprintf(trials, sizeof trials, "%s", budget[0] ? "bounded by the budget" : "?");
    const json_t *g = json_object_get(answer, "throughput_gflops");
    if (json_is_number(g) && json_number_value(g) >= 0.0)
        snprintf(thr, sizeof thr, "%.3g GFLOP/s", json_number_value(g));
    else
        snprintf(thr, sizeof thr, "?");
    int rc = fprintf(out,
                     "preview (nothing was created): %s search\n"
                     "  trials       %s%s%s%s\n"
                     "  iterations   at most %s in all\n"
                     "  GEMM FLOPs   at most %s\n"
                     "  throughput   %s (%s workers, measured by the server)\n"
                     "  estimated    %s on this server\n",
                     word(json_object_get(answer, "search"), search, sizeof search), trials,
                     budget[0] ? " (budget: " : "", budget, budget[0] ? ")" : "",
                     count_text(json_object_get(answer, "iterations_total"), its, sizeof its),
                     flops_text(json_object_get(answer, "gemm_flops"), flops, sizeof flops), thr,
                     count_text(json_object_get(answer, "workers"), workers, sizeof workers),
                     seconds_text(json_object_get(answer, "estimated_seconds"), est, sizeof est));
    return rc < 0 || fflush(out) != 0 ? -1 : 0;
}
