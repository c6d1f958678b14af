/*
 * api/sse_sub.c - the bottom of the event hub: the event wire format, a subscriber's buffer,
 * waking its connection, and the filter that keeps replayed events from repeating. sse.c (the
 * hub, publish, read), sse_replay.c (resume from the store) and sse_watch.c (heartbeats, closed
 * clients) call it; it calls none of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "sse_private.h"

/* ---- formatting ----------------------------------------------------------------------------- */

static const char *type_name(sched_event_type_t t) {
    switch (t) {
    case SCHED_EVENT_TRIAL_STARTED:
        return "trial_started";
    case SCHED_EVENT_ITERATION:
        return "iteration";
    case SCHED_EVENT_TRIAL_FINISHED:
        return "trial_finished";
    default:
        return "sweep_finished";
    }
}

/* A status word safe to put in JSON unquoted-free: [a-z_]{1,15}, else "unknown". */
const char *api_sse_safe_status(const char *s) {
    if (!s || !*s || strlen(s) > 15)
        return "unknown";
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return "unknown";
    return s;
}

static int put_num(char *buf, size_t cap, const char *key, double v) {
    return isfinite(v) ? snprintf(buf, cap, ",\"%s\":%.17g", key, v)
                       : snprintf(buf, cap, ",\"%s\":null", key);
}

size_t api_sse_format(char *buf, size_t cap, uint64_t id, sched_event_type_t type, int64_t sweep_id,
                      int64_t trial_id, const char *status, const store_metric_t *m) {
    size_t used = 0;
    int n;
#define PUT(expr)                                                                                  \
    do {                                                                                           \
        n = (expr);                                                                                \
        if (n < 0 || (size_t)n >= cap - used)                                                      \
            return 0;                                                                              \
        used += (size_t)n;                                                                         \
    } while (0)
    if (cap == 0)
        return 0;
    if (id)
        PUT(snprintf(buf, cap, "id: %llu\n", (unsigned long long)id));
    PUT(snprintf(buf + used, cap - used, "event: %s\ndata: {\"sweep_id\":%lld", type_name(type),
                 (long long)sweep_id));
    if (type != SCHED_EVENT_SWEEP_FINISHED)
        PUT(snprintf(buf + used, cap - used, ",\"trial_id\":%lld", (long long)trial_id));
    if (type == SCHED_EVENT_ITERATION && m) {
        PUT(snprintf(buf + used, cap - used, ",\"iteration\":%lld", (long long)m->iteration));
        PUT(put_num(buf + used, cap - used, "train_loss", m->train_loss));
        PUT(put_num(buf + used, cap - used, "train_accuracy", m->train_accuracy));
        PUT(put_num(buf + used, cap - used, "val_loss", m->val_loss));
        PUT(put_num(buf + used, cap - used, "val_accuracy", m->val_accuracy));
        PUT(put_num(buf + used, cap - used, "seconds", m->seconds));
        char at[32];
        if (m->ended_at > 0.0 && store_rfc3339(m->ended_at, at) == 0) /* live events */
            PUT(snprintf(buf + used, cap - used, ",\"ended_at\":\"%s\"", at));
    } else {
        PUT(snprintf(buf + used, cap - used, ",\"status\":\"%s\"", api_sse_safe_status(status)));
    }
    PUT(snprintf(buf + used, cap - used, "}\n\n"));
#undef PUT
    return used;
}

/* ---- subscriber buffers -----------------------------------------------------------------------
 */

/* Appends bytes to the subscriber's buffer. live: counted against max_buffer (over it, the
 * subscriber is dropped). Mutex held. Returns 0 or -1 (dropped). */
int api_sse_append(api_sse_sub_t *sub, const char *text, size_t len, int live) {
    if (sub->overflow)
        return -1;
    if (sub->off && sub->off == sub->len)
        sub->off = sub->len = 0;
    if (live && sub->len - sub->off + len > sub->hub->max_buffer) {
        sub->overflow = 1;
        return -1;
    }
    if (sub->len + len > sub->cap) {
        if (sub->off) { /* compact before growing */
            memmove(sub->buf, sub->buf + sub->off, sub->len - sub->off);
            sub->len -= sub->off;
            sub->off = 0;
        }
        size_t cap = sub->cap ? sub->cap : 4096;
        while (cap < sub->len + len)
            cap *= 2;
        if (cap > sub->cap) {
            char *tmp = realloc(sub->buf, cap);
            if (!tmp) {
                sub->overflow = 1;
                return -1;
            }
            sub->buf = tmp;
            sub->cap = cap;
        }
    }
    memcpy(sub->buf + sub->len, text, len);
    sub->len += len;
    return 0;
}

/* Resumes the subscriber's connection if the reader suspended it. Mutex held. */
void api_sse_wake(api_sse_sub_t *sub) {
    if (sub->suspended && sub->conn) {
        sub->suspended = 0;
        sub->hub->ops.resume(sub->conn);
    }
}

/* Index of trial_id in the subscriber's replay list, or -1. */
long api_sse_trial_index(const api_sse_sub_t *sub, int64_t trial_id) {
    size_t lo = 0, hi = sub->n_ids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sub->order[mid].id < trial_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sub->n_ids && sub->order[lo].id == trial_id ? (long)sub->order[lo].idx : -1;
}

/* Whether a live event is new to this subscriber given what its replay sent; updates the
 * state when it is. Events of trials the replay does not know pass. */
int api_sse_filter_pass(api_sse_sub_t *sub, sched_event_type_t type, int64_t trial_id,
                        int64_t iteration) {
    if (!sub->fs || type == SCHED_EVENT_SWEEP_FINISHED)
        return 1;
    long i = api_sse_trial_index(sub, trial_id);
    if (i < 0)
        return 1;
    api_sse_trial_state_t *s = &sub->fs[i];
    switch (type) {
    case SCHED_EVENT_TRIAL_STARTED:
        if (s->started)
            return 0;
        s->started = 1;
        return 1;
    case SCHED_EVENT_ITERATION:
        if (iteration <= s->last_iter)
            return 0;
        s->last_iter = iteration;
        s->started = 1;
        return 1;
    default:
        if (s->finished)
            return 0;
        s->finished = 1;
        return 1;
    }
}
