/*
 * api/sse.c - the Server-Sent Events hub: channels per sweep (id counter, ring of recent events,
 * subscribers), publishing from the loop thread, reading with suspend/resume, resume by
 * Last-Event-ID from the ring or a replay from the store. See sse.h for the design.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"
#include "sse.h"
#include "sse_private.h"

/* ---- hub, channels, ring ----------------------------------------------------------------------
 */

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

api_sse_hub_t *api_sse_hub_new(const api_sse_ops_t *ops, const api_sse_config_t *cfg) {
    api_sse_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return NULL;
    hub->ops = *ops;
    hub->base = cfg && cfg->id_base ? cfg->id_base : now_us();
    hub->ring = cfg && cfg->ring ? cfg->ring : 1024;
    hub->max_buffer = cfg && cfg->max_buffer ? cfg->max_buffer : (size_t)1 << 20;
    hub->heartbeat_s = cfg ? cfg->heartbeat_s : 0;
    pthread_mutex_init(&hub->mu, NULL);
    pthread_cond_init(&hub->hb_cv, NULL);
    if (hub->heartbeat_s) {
        if (pthread_create(&hub->hb_thread, NULL, api_sse_watch_main, hub) != 0) {
            pthread_cond_destroy(&hub->hb_cv);
            pthread_mutex_destroy(&hub->mu);
            free(hub);
            return NULL;
        }
        hub->hb_running = 1;
    }
    return hub;
}

static void ring_clear(api_sse_channel_t *ch) {
    for (size_t i = 0; i < ch->ring_n; i++)
        free(ch->ring[(ch->ring_start + i) % ch->ring_cap].text);
    free(ch->ring);
    ch->ring = NULL;
    ch->ring_cap = ch->ring_n = ch->ring_start = 0;
}

static void stop_heartbeat(api_sse_hub_t *hub) {
    pthread_mutex_lock(&hub->mu);
    int running = hub->hb_running;
    hub->hb_running = 0;
    pthread_cond_broadcast(&hub->hb_cv);
    pthread_mutex_unlock(&hub->mu);
    if (running)
        pthread_join(hub->hb_thread, NULL);
}

void api_sse_hub_free(api_sse_hub_t *hub) {
    if (!hub)
        return;
    stop_heartbeat(hub);
    for (size_t i = 0; i < hub->n_ch; i++) {
        ring_clear(hub->ch[i]);
        free(hub->ch[i]);
    }
    free(hub->ch);
    pthread_cond_destroy(&hub->hb_cv);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}

uint64_t api_sse_id_base(const api_sse_hub_t *hub) {
    return hub->base;
}

/* The channel of a sweep (channels stay sorted by sweep id); created when create is set.
 * Mutex held. NULL when absent or out of memory. */
static api_sse_channel_t *channel_get(api_sse_hub_t *hub, int64_t sweep_id, int create) {
    size_t lo = 0, hi = hub->n_ch;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (hub->ch[mid]->sweep_id < sweep_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < hub->n_ch && hub->ch[lo]->sweep_id == sweep_id)
        return hub->ch[lo];
    if (!create)
        return NULL;
    if (hub->n_ch == hub->cap_ch) {
        size_t cap = hub->cap_ch ? 2 * hub->cap_ch : 16;
        api_sse_channel_t **tmp = realloc(hub->ch, cap * sizeof(*tmp));
        if (!tmp)
            return NULL;
        hub->ch = tmp;
        hub->cap_ch = cap;
    }
    api_sse_channel_t *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->sweep_id = sweep_id;
    memmove(hub->ch + lo + 1, hub->ch + lo, (hub->n_ch - lo) * sizeof(*hub->ch));
    hub->ch[lo] = ch;
    hub->n_ch++;
    return ch;
}

/* Keeps text (taking ownership) as the channel's newest event. Returns 0, -1 without memory
 * (text is then freed). Mutex held. */
static int ring_push(api_sse_hub_t *hub, api_sse_channel_t *ch, uint64_t seq, char *text,
                     size_t len) {
    if (!ch->ring) {
        ch->ring = calloc(hub->ring, sizeof(*ch->ring));
        if (!ch->ring) {
            free(text);
            return -1;
        }
        ch->ring_cap = hub->ring;
    }
    if (ch->ring_n == ch->ring_cap) {
        free(ch->ring[ch->ring_start].text);
        ch->ring_start = (ch->ring_start + 1) % ch->ring_cap;
        ch->ring_n--;
    }
    api_sse_ring_ev_t *ev = &ch->ring[(ch->ring_start + ch->ring_n) % ch->ring_cap];
    ev->seq = seq;
    ev->text = text;
    ev->len = len;
    ch->ring_n++;
    return 0;
}

/* Hands one published event to a subscriber according to its phase (see sse.h). Mutex held. */
static void deliver(api_sse_sub_t *sub, const sched_event_t *ev, const char *text, size_t len,
                    size_t id_len) {
    int64_t iter = ev->type == SCHED_EVENT_ITERATION ? ev->metric.iteration : 0;
    if (sub->overflow || sub->phase == SSE_END)
        return;
    switch (sub->phase) {
    case SSE_LIST:
        return; /* the replay's reads come later and will include it */
    case SSE_TRIALS: {
        if (ev->type == SCHED_EVENT_SWEEP_FINISHED)
            return; /* the status read at the end will see it */
        long i = api_sse_trial_index(sub, ev->trial_id);
        if (i < 0 || (size_t)i > sub->r || ((size_t)i == sub->r && !sub->reading))
            return; /* not read yet: its read will include it */
        if ((size_t)i == sub->r) {
            api_sse_pend_push(sub, ev->type, ev->trial_id, iter, text + id_len, len - id_len);
            return;
        }
        if (api_sse_filter_pass(sub, ev->type, ev->trial_id, iter))
            api_sse_append(sub, text + id_len, len - id_len, 1);
        break;
    }
    case SSE_STATUS:
        if (ev->type == SCHED_EVENT_SWEEP_FINISHED) {
            sub->finish_seen = 1;
            snprintf(sub->finish_status, sizeof(sub->finish_status), "%s",
                     api_sse_safe_status(ev->status));
            return;
        }
        if (api_sse_filter_pass(sub, ev->type, ev->trial_id, iter))
            api_sse_append(sub, text + id_len, len - id_len, 1);
        break;
    default: /* SSE_LIVE */
        if (api_sse_filter_pass(sub, ev->type, ev->trial_id, iter))
            api_sse_append(sub, text, len, 1);
        if (ev->type == SCHED_EVENT_SWEEP_FINISHED)
            sub->phase = SSE_END;
        break;
    }
    api_sse_wake(sub);
}

void api_sse_publish(api_sse_hub_t *hub, const sched_event_t *ev) {
    char tmp[1024];
    pthread_mutex_lock(&hub->mu);
    api_sse_channel_t *ch = hub->closing ? NULL : channel_get(hub, ev->sweep_id, 1);
    if (!ch || ch->finished)
        goto out;
    uint64_t seq = ++ch->seq;
    size_t len = api_sse_format(tmp, sizeof(tmp), hub->base + seq, ev->type, ev->sweep_id,
                                ev->trial_id, ev->status, &ev->metric);
    char *text = len ? malloc(len + 1) : NULL;
    if (!text) { /* the event cannot be kept: its subscribers end and resume from the store */
        for (api_sse_sub_t *s = ch->subs; s; s = s->next) {
            s->overflow = 1;
            api_sse_wake(s);
        }
        goto out;
    }
    memcpy(text, tmp, len + 1);
    size_t id_len = strchr(tmp, '\n') - tmp + 1;
    for (api_sse_sub_t *s = ch->subs; s; s = s->next)
        deliver(s, ev, text, len, id_len);
    ring_push(hub, ch, seq, text, len);
    if (ev->type == SCHED_EVENT_SWEEP_FINISHED) {
        ch->finished = 1;
        if (!ch->subs)
            ring_clear(ch);
    }
out:
    pthread_mutex_unlock(&hub->mu);
}

/* ---- subscribe / read / unsubscribe ------------------------------------------------------------
 */

/* Parses a Last-Event-ID; 0 when absent or not a number. */
static uint64_t parse_id(const char *s) {
    uint64_t v = 0;
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

int api_sse_subscribe(api_sse_hub_t *hub, int64_t sweep_id, const char *last_event_id,
                      api_sse_sub_t **out) {
    static const char hello[] = "retry: 3000\n\n";
    int rc = MLPT_ENOMEM;
    *out = NULL;
    api_sse_sub_t *sub = calloc(1, sizeof(*sub));
    if (!sub)
        return MLPT_ENOMEM;
    sub->hub = hub;
    sub->sweep_id = sweep_id;
    sub->fd = -1;
    pthread_mutex_lock(&hub->mu);
    if (hub->closing) {
        rc = MLPT_EBUSY;
        goto fail;
    }
    api_sse_channel_t *ch = channel_get(hub, sweep_id, 1);
    if (!ch)
        goto fail;
    uint64_t k = parse_id(last_event_id);
    if ((ch->finished || ch->store_final) && k && k == hub->base + ch->seq) {
        rc = API_SSE_SEEN_END;
        goto fail;
    }
    if (api_sse_append(sub, hello, sizeof(hello) - 1, 0) != 0)
        goto fail;
    uint64_t oldest = ch->ring_n ? ch->ring[ch->ring_start].seq : ch->seq + 1;
    if (k >= hub->base && k - hub->base <= ch->seq && k - hub->base + 1 >= oldest) {
        uint64_t kseq = k - hub->base; /* exact resume from the ring */
        for (size_t i = 0; i < ch->ring_n; i++) {
            api_sse_ring_ev_t *ev = &ch->ring[(ch->ring_start + i) % ch->ring_cap];
            if (ev->seq > kseq && api_sse_append(sub, ev->text, ev->len, 0) != 0)
                goto fail;
        }
        sub->phase = ch->finished ? SSE_END : SSE_LIVE;
    } else {
        sub->phase = SSE_LIST;
    }
    sub->ch = ch;
    sub->next = ch->subs;
    if (ch->subs)
        ch->subs->prev = sub;
    ch->subs = sub;
    hub->n_subs++;
    pthread_mutex_unlock(&hub->mu);
    *out = sub;
    return 0;
fail:
    pthread_mutex_unlock(&hub->mu);
    free(sub->buf);
    free(sub);
    return rc;
}

void api_sse_attach(api_sse_sub_t *sub, void *conn) {
    pthread_mutex_lock(&sub->hub->mu);
    sub->conn = conn;
    pthread_mutex_unlock(&sub->hub->mu);
}

long api_sse_read(api_sse_sub_t *sub, char *buf, size_t max) {
    api_sse_hub_t *hub = sub->hub;
    long rc;
    pthread_mutex_lock(&hub->mu);
    for (;;) {
        if (hub->closing || sub->overflow || sub->gone) {
            rc = -1;
            break;
        }
        if (sub->len > sub->off) {
            size_t n = sub->len - sub->off < max ? sub->len - sub->off : max;
            memcpy(buf, sub->buf + sub->off, n);
            sub->off += n;
            if (sub->off == sub->len)
                sub->off = sub->len = 0;
            rc = (long)n;
            break;
        }
        if (sub->phase == SSE_END) {
            rc = -1;
            break;
        }
        if (sub->phase == SSE_LIVE) {
            sub->suspended = 1;
            hub->ops.suspend(sub->conn);
            rc = 0;
            break;
        }
        if (api_sse_replay_step(sub) != 0) { /* unlocks around the store reads */
            rc = -1;
            break;
        }
    }
    pthread_mutex_unlock(&hub->mu);
    return rc;
}

void api_sse_unsubscribe(api_sse_sub_t *sub) {
    if (!sub)
        return;
    api_sse_hub_t *hub = sub->hub;
    pthread_mutex_lock(&hub->mu);
    api_sse_channel_t *ch = sub->ch;
    if (ch) {
        if (sub->prev)
            sub->prev->next = sub->next;
        else
            ch->subs = sub->next;
        if (sub->next)
            sub->next->prev = sub->prev;
        if (ch->finished && !ch->subs)
            ring_clear(ch);
        hub->n_subs--;
    }
    pthread_mutex_unlock(&hub->mu);
    api_sse_replay_free(sub);
    free(sub->buf);
    free(sub);
}

void api_sse_close(api_sse_hub_t *hub) {
    pthread_mutex_lock(&hub->mu);
    hub->closing = 1;
    for (size_t i = 0; i < hub->n_ch; i++)
        for (api_sse_sub_t *s = hub->ch[i]->subs; s; s = s->next)
            api_sse_wake(s);
    pthread_mutex_unlock(&hub->mu);
    stop_heartbeat(hub);
}

void api_sse_forget(api_sse_hub_t *hub, int64_t sweep_id) {
    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    api_sse_channel_t *ch = channel_get(hub, sweep_id, 0);
    if (ch) {
        for (api_sse_sub_t *s = ch->subs; s; s = s->next) {
            s->overflow = 1; /* api_sse_read ends the stream; publish skips it */
            api_sse_wake(s);
        }
        ring_clear(ch);
        ch->finished = ch->store_final = 0;
    }
    pthread_mutex_unlock(&hub->mu);
}

void api_sse_reopen(api_sse_hub_t *hub, int64_t sweep_id) {
    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    api_sse_channel_t *ch = channel_get(hub, sweep_id, 0);
    if (ch)
        ch->finished = ch->store_final = 0;
    pthread_mutex_unlock(&hub->mu);
}

size_t api_sse_count(api_sse_hub_t *hub) {
    pthread_mutex_lock(&hub->mu);
    size_t n = hub->n_subs;
    pthread_mutex_unlock(&hub->mu);
    return n;
}
