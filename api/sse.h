/*
 * api/sse.h - the Server-Sent Events hub: per-sweep channels, their subscribers, resume.
 *
 * Stream format: "id: <id>\nevent: <type>\ndata: <json>\n\n" with types trial_started,
 * iteration, trial_finished, sweep_finished; ": heartbeat" comments every heartbeat_s seconds;
 * "retry: 3000" first. The stream ends after sweep_finished.
 *
 * Event ids. The hub numbers the events of each sweep as it publishes them: id = base + seq,
 * seq = 1, 2, 3 ... per sweep, base = the hub's creation time in microseconds since the epoch.
 * Ids therefore grow per sweep, also across restarts of the server (a later process has a larger
 * base), and an id tells which process issued it. Each channel keeps its last `ring` events.
 * On (re)connect with Last-Event-ID k:
 *   - k issued by this process and still covered by the ring: exactly the events after k are
 *     sent from the ring, then the live ones;
 *   - k is the channel's last id and the sweep has finished: 204 No Content (an EventSource
 *     stops reconnecting), nothing to replay;
 *   - otherwise (no header, an older process, fallen out of the ring): a replay from the store,
 *     trial by trial in ordinal order (trial_started, every iteration, trial_finished), then
 *     sweep_finished if it has finished. Replayed events carry no id; when the replay is done a
 *     bare "id: <current id>" line moves the client's Last-Event-ID to the point the replay
 *     covers. Live events published during the replay are merged without duplicates: an event
 *     committed before a trial's rows were read is dropped, a later one is sent (the scheduler
 *     publishes only after committing, so every event is either in a read or after it).
 * A subscriber whose buffer would exceed max_buffer bytes is dropped (its stream ends); it
 * reconnects with its Last-Event-ID and resumes.
 *
 * Threads: api_sse_publish runs on the scheduler's loop thread and never waits for I/O: it takes
 * the hub mutex, which other threads hold only to copy bytes. api_sse_read runs on the HTTP
 * thread of the stream; when it has nothing to send it suspends the connection (ops.suspend,
 * called under the mutex) and publish resumes it (ops.resume, under the mutex), so an idle
 * stream holds no thread. The replay reads (ops.trial_ids, ops.trial, ops.sweep_status) run on
 * that HTTP thread without the mutex.
 */
#ifndef API_SSE_H
#define API_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "sched.h"

typedef struct api_sse_hub api_sse_hub_t;
typedef struct api_sse_sub api_sse_sub_t;

/* One trial as the store has it, for the replay. */
typedef struct api_sse_trial {
    int started;             /* it has started (it has a start time or history rows) */
    int finished;            /* its status is final */
    char status[16];         /* "queued", "running", "completed", ... */
    store_metric_t *history; /* malloc'd rows, ascending iterations; freed by the hub */
    size_t n_history;
} api_sse_trial_t;

typedef struct api_sse_ops {
    void (*suspend)(void *conn); /* suspend this stream's connection (from api_sse_read) */
    void (*resume)(void *conn);  /* resume it (any thread) */
    /* The sweep's trial ids in ordinal order (*ids malloc'd, the hub frees it). 0 or MLPT_E*. */
    int (*trial_ids)(void *user, int64_t sweep_id, int64_t **ids, size_t *n);
    /* One trial's state and history. 0 or MLPT_E*. */
    int (*trial)(void *user, int64_t trial_id, api_sse_trial_t *out);
    /* The sweep's status; *finished = 1 when it is final. 0 or MLPT_E*. */
    int (*sweep_status)(void *user, int64_t sweep_id, char status[16], int *finished);
    void *user;
} api_sse_ops_t;

typedef struct api_sse_config {
    uint64_t id_base;     /* 0: microseconds since the epoch, now */
    size_t ring;          /* events kept per sweep for resume; 0: 1024 */
    size_t max_buffer;    /* bytes queued per subscriber; 0: 1 MiB */
    unsigned heartbeat_s; /* 0: no heartbeat thread (tests call api_sse_heartbeat) */
} api_sse_config_t;

/* Creates a hub (and its watch thread: heartbeats, and closed clients noticed at once). Returns
 * NULL when memory or a thread cannot be had. ops is copied. */
api_sse_hub_t *api_sse_hub_new(const api_sse_ops_t *ops, const api_sse_config_t *cfg);

/* Stops the heartbeat and frees the hub. Every subscriber must have been unsubscribed (call
 * api_sse_close, stop the HTTP daemon, then this). Accepts NULL. */
void api_sse_hub_free(api_sse_hub_t *hub);

/* The id base (for tests and logs). */
uint64_t api_sse_id_base(const api_sse_hub_t *hub);

/* Fans a scheduler event out to the sweep's subscribers and its ring. Loop thread. */
void api_sse_publish(api_sse_hub_t *hub, const sched_event_t *ev);

/* api_sse_subscribe's answer when the client has already seen the sweep's end. */
#define API_SSE_SEEN_END 1

/* Subscribes to a sweep's events; last_event_id (may be NULL) is the request's Last-Event-ID.
 * Returns 0 with *out set (owned by the caller until the stream's response frees it with
 * api_sse_unsubscribe), API_SSE_SEEN_END when the client has already seen the end (nothing to
 * stream: the route answers 204), MLPT_EBUSY when the hub is closing, MLPT_ENOMEM. */
int api_sse_subscribe(api_sse_hub_t *hub, int64_t sweep_id, const char *last_event_id,
                      api_sse_sub_t **out);

/* Sets the connection handed to ops.suspend/resume. Call before the first api_sse_read. */
void api_sse_attach(api_sse_sub_t *sub, void *conn);

/* Sets the socket of the stream's connection (fd >= 0), polled while the stream is suspended so
 * that a stream whose client closed it ends at once (api_sse_reap) rather than at the next
 * heartbeat's failed write. The descriptor must stay open while the connection is suspended
 * (libmicrohttpd never closes a suspended connection). Call after api_sse_attach. */
void api_sse_watch_fd(api_sse_sub_t *sub, int fd);

/* Ends (and resumes, so their connections close) the suspended streams whose client has closed
 * or reset the connection: one poll(2) over their sockets, no waiting. Returns how many ended.
 * Called by the hub's watch thread every API_SSE_WATCH_MS; any thread. */
size_t api_sse_reap(api_sse_hub_t *hub);

#define API_SSE_WATCH_MS 200

/* Copies up to max bytes of the stream into buf. Returns the count (> 0); 0 after suspending
 * the connection (nothing to send now; a publish resumes it); -1 when the stream has ended
 * (after sweep_finished, a dropped subscriber, a store error, or api_sse_close). The stream's
 * HTTP thread. */
long api_sse_read(api_sse_sub_t *sub, char *buf, size_t max);

/* Removes and frees a subscriber. Accepts NULL. Any thread but the loop's. */
void api_sse_unsubscribe(api_sse_sub_t *sub);

/* Queues a heartbeat comment to every idle stream and resumes it. Any thread. */
void api_sse_heartbeat(api_sse_hub_t *hub);

/* Ends every stream (resuming the suspended ones so they can finish) and refuses new
 * subscribers. Call before stopping the HTTP daemon. */
void api_sse_close(api_sse_hub_t *hub);

/* A sweep was deleted: ends its streams (they close without more bytes, like a dropped
 * subscriber; a reconnect then finds no sweep) and forgets its channel's events and end, so
 * nothing of the deleted sweep is resumed from the ring and a later sweep published under the
 * same id (a database from before ids only grew) is delivered, not dropped as finished. Event
 * ids keep growing. Accepts a NULL hub. Any thread but the loop's (the HTTP thread of the
 * delete). */
void api_sse_forget(api_sse_hub_t *hub, int64_t sweep_id);

/* A finished sweep goes on (extend, retry, warm start): its channel takes events again (ids
 * continue from the last; streams that ended stay ended, a reconnect resumes). Call before the
 * scheduler command, so no event of the reopened sweep is dropped. Accepts NULL. */
void api_sse_reopen(api_sse_hub_t *hub, int64_t sweep_id);

/* Current subscribers. */
size_t api_sse_count(api_sse_hub_t *hub);

/* Formats one event: ["id: <id>\n" when id != 0] "event: <type>\ndata: <json>\n\n" into
 * buf. Non-finite metric values are null. Returns the length, or 0 when it does not fit. */
size_t api_sse_format(char *buf, size_t cap, uint64_t id, sched_event_type_t type, int64_t sweep_id,
                      int64_t trial_id, const char *status, const store_metric_t *m);

#endif
