/*
 * service/sweep_view.h - how `mlptune sweep` shows a sweep (private to service/): the progress
 * display on stderr while it waits, and the leaderboard on stdout. Main thread only.
 */
#ifndef SVC_SWEEP_VIEW_H
#define SVC_SWEEP_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What the progress display shows of a sweep. */
typedef struct svc_sweep_view {
    const char *status;
    json_int_t total, done;
    double progress;    /* 0..1 */
    double best;        /* < 0 when none yet */
    json_int_t best_id; /* 0 when none */
} svc_sweep_view_t;

/* The progress display on stderr: a bar redrawn in place on a terminal, plain lines when
 * something changed otherwise. */
typedef struct progress {
    int tty, drawn;
    int64_t id;
    double last_line; /* plain mode: when the last line went out */
    char last_key[96];
} svc_progress_t;

/* Reads the figures the display shows from a sweep's JSON (GET /api/v1/sweeps/{id}). */
void svc_sweep_view(const json_t *sw, svc_sweep_view_t *v);

/* "m:ss" or "h:mm:ss". */
void svc_format_elapsed(double s, char *buf, size_t size);

/* Draws the progress: a bar redrawn in place on a terminal, a plain line when something changed
 * otherwise. */
void svc_progress_show(svc_progress_t *p, const svc_sweep_view_t *v, double elapsed);

/* A message between progress updates (clears the bar first on a terminal). */
void svc_progress_note(svc_progress_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the display (a newline after a bar on a terminal). */
void svc_progress_end(svc_progress_t *p);

/* The summary line and one row per trial, on stdout. */
void svc_leaderboard_print(const json_t *sw, const json_t *trials, double elapsed);

/* Copies s into buf without control characters (server text is shown as data); "" for NULL. */
const char *svc_clean(const char *s, char *buf, size_t size);

/* Monotonic seconds. */
double svc_now(void);

#endif
