/*
 * api/sse_private.h - the hub's data structures, shared by sse.c (channels, publish, read),
 * sse_replay.c (resume from the store), sse_watch.c (heartbeats, closed clients) and sse_sub.c
 * (the wire format, a subscriber's buffer and filter). Every field is guarded by the hub mutex.
 *
 * Calls go one way: sse.c -> sse_replay.c -> sse_sub.c, sse.c -> sse_watch.c -> sse_sub.c,
 * sse.c -> sse_sub.c.
 */
#ifndef API_SSE_PRIVATE_H
#define API_SSE_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sse.h"

typedef struct api_sse_ring_ev {
    uint64_t seq;
    char *text; /* the formatted event, id line included; owned */
    size_t len;
} api_sse_ring_ev_t;

typedef struct api_sse_channel {
    int64_t sweep_id;
    uint64_t seq;            /* last event number issued for this sweep */
    int finished;            /* sweep_finished was published */
    int store_final;         /* a replay found the sweep finished in the store */
    api_sse_ring_ev_t *ring; /* ring_cap slots, ring_n used from ring_start */
    size_t ring_cap, ring_n, ring_start;
    api_sse_sub_t *subs;
} api_sse_channel_t;

struct api_sse_hub {
    pthread_mutex_t mu;
    api_sse_ops_t ops;
    uint64_t base;
    size_t ring, max_buffer;
    unsigned heartbeat_s;
    api_sse_channel_t **ch; /* sorted by sweep_id; channels live as long as the hub */
    size_t n_ch, cap_ch;
    size_t n_subs;
    int closing;
    pthread_t hb_thread;
    pthread_cond_t hb_cv;
    int hb_running;
};

/* Where a subscriber is (sse.h): replaying the trial list, the trials one by one, the sweep's
 * status; live; or ended after sweep_finished (the buffer drains, then the stream ends). */
typedef enum api_sse_phase { SSE_LIST, SSE_TRIALS, SSE_STATUS, SSE_LIVE, SSE_END } api_sse_phase_t;

/* What the replay has sent of one trial: later live events pass only when newer. */
typedef struct api_sse_trial_state {
    unsigned char started, finished;
    int64_t last_iter;
} api_sse_trial_state_t;

typedef struct api_sse_order {
    int64_t id;
    size_t idx;
} api_sse_order_t;

/* A live event that arrived while its trial was being read. */
typedef struct api_sse_pend {
    sched_event_type_t type;
    int64_t trial_id, iteration;
    char *text; /* without id line; owned */
    size_t len;
} api_sse_pend_t;

struct api_sse_sub {
    api_sse_hub_t *hub;
    api_sse_channel_t *ch;
    api_sse_sub_t *next, *prev;
    int64_t sweep_id;
    void *conn;
    int fd; /* the stream's socket, polled while suspended (api_sse_watch_fd); -1: none */
    int suspended, overflow;
    int gone; /* its client closed the connection: the stream ends */
    api_sse_phase_t phase;
    char *buf; /* bytes to send: buf[off .. len) */
    size_t off, len, cap;
    /* replay */
    int64_t *ids;              /* the sweep's trials in ordinal order */
    size_t n_ids, r;           /* r: the next trial to read */
    int reading;               /* trial r is being read right now */
    api_sse_order_t *order;    /* ids sorted, for lookups */
    api_sse_trial_state_t *fs; /* per trial (NULL after a ring resume: no filtering) */
    api_sse_pend_t *pend;
    size_t n_pend, cap_pend;
    int finish_seen; /* sweep_finished was published while the status was being read */
    char finish_status[16];
};

#define API_SSE_MAX_PENDING 1024

/* sse_sub.c */
/* A status word safe to put in JSON unquoted-free: [a-z_]{1,15}, else "unknown". */
const char *api_sse_safe_status(const char *s);
/* Appends bytes to the subscriber's buffer. live: counted against max_buffer (over it, the
 * subscriber is dropped). Mutex held. Returns 0 or -1 (dropped). */
int api_sse_append(api_sse_sub_t *sub, const char *text, size_t len, int live);
/* Resumes the subscriber's connection if the reader suspended it. Mutex held. */
void api_sse_wake(api_sse_sub_t *sub);
/* Index of trial_id in the subscriber's replay list, or -1. */
long api_sse_trial_index(const api_sse_sub_t *sub, int64_t trial_id);
/* Whether a live event is new to this subscriber given what its replay sent; updates the state
 * when it is. Events of trials the replay does not know pass. Mutex held. */
int api_sse_filter_pass(api_sse_sub_t *sub, sched_event_type_t type, int64_t trial_id,
                        int64_t iteration);

/* sse_watch.c */
/* The hub's watch thread: every API_SSE_WATCH_MS ends the streams whose client has gone
 * (api_sse_reap), every heartbeat_s seconds queues a heartbeat. */
void *api_sse_watch_main(void *arg);

/* sse_replay.c */
/* One step of the replay (mutex held on entry and return; released around store reads).
 * Returns 0, or -1 when the stream must end (store error, out of memory). */
int api_sse_replay_step(api_sse_sub_t *sub);
/* Keeps a copy of a live event of the trial being read. Mutex held. */
void api_sse_pend_push(api_sse_sub_t *sub, sched_event_type_t type, int64_t trial_id,
                       int64_t iteration, const char *text, size_t len);
/* Frees the replay state. */
void api_sse_replay_free(api_sse_sub_t *sub);

#endif
