/*
 * sweep_view.c - the progress display and the leaderboard of `mlptune sweep`.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "params.h"
#include "sweep_view.h"

#define PLAIN_HEARTBEAT_SECONDS 30.0 /* plain progress lines: at least this often */

double svc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Copies s into buf with control characters replaced by '?': what the server says must not
 * drive the terminal. Returns buf. */
const char *svc_clean(const char *s, char *buf, size_t size) {
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++, n++)
        buf[n] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    buf[n] = '\0';
    return buf;
}

void svc_sweep_view(const json_t *sw, svc_sweep_view_t *v) {
    const json_t *counts = json_object_get(sw, "trials");
    const json_t *best = json_object_get(sw, "best_trial");
    const json_t *acc = json_object_get(best, "best_val_accuracy");
    v->status = json_string_value(json_object_get(sw, "status"));
    if (!v->status)
        v->status = "?";
    v->total = json_integer_value(json_object_get(sw, "trials_total"));
    v->done = v->total - json_integer_value(json_object_get(counts, "queued")) -
              json_integer_value(json_object_get(counts, "running"));
    if (v->done < 0)
        v->done = 0;
    v->progress = json_number_value(json_object_get(sw, "progress"));
    if (!(v->progress >= 0.0))
        v->progress = 0.0;
    if (v->progress > 1.0)
        v->progress = 1.0;
    v->best = json_is_number(acc) ? json_number_value(acc) : -1.0;
    v->best_id = json_integer_value(json_object_get(best, "id"));
}

void svc_format_elapsed(double s, char *buf, size_t size) {
    long t = (long)s;
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static int terminal_columns(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

void svc_progress_show(svc_progress_t *p, const svc_sweep_view_t *v, double elapsed) {
    char el[32], best[32], line[512], key[96], st[32];
    svc_format_elapsed(elapsed, el, sizeof el);
    if (v->best >= 0)
        snprintf(best, sizeof best, "%.4f", v->best);
    else
        snprintf(best, sizeof best, "-");
    svc_clean(v->status, st, sizeof st);
    if (p->tty) {
        enum { BAR = 20 };
        char bar[BAR + 1];
        int fill = (int)(v->progress * BAR + 0.5);
        for (int i = 0; i < BAR; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[BAR] = '\0';
        int n = snprintf(line, sizeof line,
                         "sweep %" PRId64 " %-9s [%s] %3.0f%%  trials %" JSON_INTEGER_FORMAT
                         "/%" JSON_INTEGER_FORMAT "  best val acc %s  %s",
                         p->id, st, bar, v->progress * 100.0, v->done, v->total, best, el);
        int cols = terminal_columns() - 1;
        if (n > cols && cols < (int)sizeof line)
            line[cols] = '\0';
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        p->drawn = 1;
        return;
    }
    double now = svc_now();
    snprintf(key, sizeof key, "%s %" JSON_INTEGER_FORMAT " %s %d", st, v->done, best,
             (int)(v->progress * 10.0));
    if (!strcmp(key, p->last_key) && now - p->last_line < PLAIN_HEARTBEAT_SECONDS)
        return;
    snprintf(p->last_key, sizeof p->last_key, "%s", key);
    p->last_line = now;
    fprintf(stderr,
            "sweep %" PRId64 ": %s, %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
            " trials done, %.0f%%, best val accuracy %s, elapsed %s\n",
            p->id, st, v->done, v->total, v->progress * 100.0, best, el);
    fflush(stderr);
}

/* A message between progress updates: on a terminal it replaces the bar for now. */

void svc_progress_note(svc_progress_t *p, const char *fmt, ...) {
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->tty) {
        /* one screen line, so that the next redraw replaces all of it */
        int cols = terminal_columns() - 1 - (int)strlen("mlptune: ");
        if (cols > 0 && cols < (int)sizeof line && (int)strlen(line) > cols)
            line[cols] = '\0';
        fprintf(stderr, "\r\033[Kmlptune: %s", line);
    } else {
        fprintf(stderr, "mlptune: %s\n", line);
    }
    fflush(stderr);
    p->drawn = p->tty;
}

void svc_progress_end(svc_progress_t *p) {
    if (p->drawn)
        fputc('\n', stderr);
    p->drawn = 0;
    fflush(stderr);
}

/* A shape's widths: "16", "500-500-2000" or "-" (no hidden layer). */
static void format_widths(const sched_param_t *r, const json_t *params, char *buf, size_t size) {
    const json_t *neurons = json_object_get(params, r->columns[1].key);
    const json_t *layers = json_object_get(params, r->name), *w;
    size_t i, n = 0;
    if (json_is_integer(neurons)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(neurons));
        return;
    }
    buf[0] = '\0';
    json_array_foreach(layers, i, w) {
        int k = snprintf(buf + n, size - n, "%s%" JSON_INTEGER_FORMAT, i ? "-" : "",
                         json_integer_value(w));
        if (k < 0 || (size_t)k >= size - n)
            break;
        n += (size_t)k;
    }
    if (!buf[0])
        snprintf(buf, size, "-");
}

static void format_accuracy(const json_t *v, char *buf, size_t size) {
    if (json_is_number(v))
        snprintf(buf, size, "%.4f", json_number_value(v));
    else
        snprintf(buf, size, "-");
}

/* The parameter columns of the leaderboard: the table's rows it shows, in column order. */
static size_t board_rows(const sched_param_t **rows) {
    const sched_param_t *all[SCHED_PARAM_MAX];
    size_t n = sched_param_columns(all), k = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i]->leaderboard)
            rows[k++] = all[i];
    return k;
}

/* Column `col` of row r in a trial's params (the header when params is NULL), after its
 * separator: two spaces where text follows a number, else one. *left: whether this column is
 * text (left-aligned). */
static void print_param(const sched_param_t *r, size_t col, const json_t *params, int *left) {
    const sched_param_column_t *c = &r->columns[col];
    const json_t *v = json_object_get(params, c->key);
    char buf[64];
    int text = sched_param_column_left(r, col);
    fputs(text && !*left ? "  " : " ", stdout);
    *left = text;
    if (!params)
        printf(text ? "%-*s" : "%*s", c->width, c->head);
    else if (r->type == SCHED_PARAM_SHAPE && col > 0) {
        format_widths(r, params, buf, sizeof buf);
        printf("%-*s", c->width, buf);
    } else if (r->type == SCHED_PARAM_REAL)
        printf("%-*.6g", c->width, json_number_value(v));
    else if (r->type == SCHED_PARAM_ENUM) /* a name: 31 characters at most, as before */
        printf("%-*s", c->width, svc_clean(json_string_value(v), buf, 32));
    else
        printf("%*" JSON_INTEGER_FORMAT, c->width, json_integer_value(v));
}

/* One line of the table: the header (t NULL) or trial t at `rank`. */
static void print_board_line(const sched_param_t *const *rows, size_t n_rows, const json_t *t,
                             size_t rank) {
    const json_t *params = t ? json_object_get(t, "params") : NULL;
    int left = 0;
    char a[32], b[32], ts[32];
    if (t)
        printf("%4zu %6" JSON_INTEGER_FORMAT, rank, json_integer_value(json_object_get(t, "id")));
    else
        printf("%4s %6s", "rank", "trial");
    for (size_t i = 0; i < n_rows; i++)
        for (size_t col = 0; col < rows[i]->n_columns; col++)
            print_param(rows[i], col, t ? (params ? params : json_null()) : NULL, &left);
    if (!t) {
        printf(" %8s %9s  %s\n", "best_val", "final_val", "status");
        return;
    }
    format_accuracy(json_object_get(t, "best_val_accuracy"), a, sizeof a);
    format_accuracy(json_object_get(t, "final_val_accuracy"), b, sizeof b);
    printf(" %8s %9s  %s\n", a, b,
           svc_clean(json_string_value(json_object_get(t, "status")), ts, sizeof ts));
}

/* The summary line and one row per trial, on stdout. */
void svc_leaderboard_print(const json_t *sw, const json_t *trials, double elapsed) {
    static const char *const states[] = {"completed", "failed",   "diverged", "pruned",
                                         "stopped",   "canceled", "running",  "queued"};
    const json_t *counts = json_object_get(sw, "trials");
    char el[32], st[32], tally[256] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        json_int_t c = json_integer_value(json_object_get(counts, states[i]));
        if (c > 0 && n < sizeof tally) {
            int k = snprintf(tally + n, sizeof tally - n, "%s%" JSON_INTEGER_FORMAT " %s",
                             n ? ", " : "", c, states[i]);
            n += k > 0 ? (size_t)k : 0;
        }
    }
    svc_sweep_view_t v;
    svc_sweep_view(sw, &v);
    svc_format_elapsed(elapsed, el, sizeof el);
    printf("sweep %" JSON_INTEGER_FORMAT " %s after %s: %" JSON_INTEGER_FORMAT " trials (%s)",
           json_integer_value(json_object_get(sw, "id")), svc_clean(v.status, st, sizeof st), el,
           v.total, tally[0] ? tally : "none run");
    if (v.best >= 0)
        printf("; best val accuracy %.4f (trial %" JSON_INTEGER_FORMAT ")", v.best, v.best_id);
    printf("\n\n");
    const sched_param_t *rows[SCHED_PARAM_MAX];
    size_t n_rows = board_rows(rows);
    print_board_line(rows, n_rows, NULL, 0);
    const json_t *t;
    size_t i;
    json_array_foreach(trials, i, t) print_board_line(rows, n_rows, t, i + 1);
}
