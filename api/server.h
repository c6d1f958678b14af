/*
 * api/server.h - the server's state (struct api) and what handlers share: the per-thread store
 * reader, logging, metrics, helpers that answer common failures. Private to api/.
 */
#ifndef API_SERVER_H
#define API_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "api_types.h"
#include "model_cache.h"
#include "origin.h"
#include "problem.h"
#include "router.h"
#include "session.h"
#include "sse.h"
#include "store.h"

struct MHD_Daemon;
struct api_conn;

/* Slow clients (http_conn.c). libmicrohttpd's connection timeout (limits.connection_timeout_s) only
 * closes a connection that sends nothing at all for that long; these bound the whole exchange:
 *   - the request line and headers must be complete API_HEADER_TIMEOUT_S after the connection
 *     opened, or after the previous answer on a keep-alive connection (or within the connection
 *     timeout when that is shorter);
 *   - a body must arrive at API_BODY_MIN_RATE bytes/s on average once API_BODY_GRACE_S (or the
 *     connection timeout when shorter) have passed since its headers; the time the server spends
 *     on the bytes (parsing, hashing) does not count against the client;
 *   - one client address holds at most max_connections / API_PER_IP_SHARE connections.
 * A connection over a deadline is shut down (and logged); requests being answered, event streams
 * included, are not subject to them. */
#define API_HEADER_TIMEOUT_S 30
#define API_BODY_GRACE_S 10
#define API_BODY_MIN_RATE (8 * 1024)
#define API_PER_IP_SHARE 4

/* Event streams have caps of their own inside those (http_conn.c): one client address holds at
 * most its connection share / API_SSE_PER_IP_SHARE streams (32 by default), so its streams never
 * take the connections its API calls need, and the server at most max_connections /
 * API_SSE_SHARE (256). A stream over a cap answers 429 (the address's) or 503 (the server's)
 * with Retry-After. A stream whose client closes it frees its slot at once (sse_watch.c). */
#define API_SSE_PER_IP_SHARE 4
#define API_SSE_SHARE 2

/* Request counters: one slot per route, plus static files and unmatched paths; one column per
 * status of api_metrics_statuses (the last column counts any other status). */
#define API_SLOT_STATIC ((size_t)API_ROUTE_COUNT)
#define API_SLOT_UNMATCHED ((size_t)API_ROUTE_COUNT + 1)
#define API_SLOTS ((size_t)API_ROUTE_COUNT + 2)
#define API_STATUS_COLUMNS 18

typedef struct api_metrics {
    atomic_uint_fast64_t requests[API_SLOTS][API_STATUS_COLUMNS];
} api_metrics_t;

struct api {
    char *bind, *data_dir, *db_path, *web_dir, *token;
    char *web_real; /* realpath of web_dir, NULL without a dashboard */
    uint16_t port;
    int threads;
    api_limits_t limits;
    sched_t *sched;
    api_log_fn log;
    int log_all_requests;
    void *log_user;
    api_host_policy_t hosts;  /* the Host names answered (origin.h) */
    api_sessions_t *sessions; /* dashboard sessions; NULL without a token */
    int tls; /* requests arrive over TLS: never today; the hook for Origin and cookie Secure */
    struct MHD_Daemon *daemon;
    int quiesced_fd; /* the listening socket after api_quiesce, closed after the daemon stops */
    /* Open connections, for the slow-client deadlines: the list (conns_lock), and the watchdog
     * thread that shuts down those over a deadline. */
    pthread_mutex_t conns_lock;
    pthread_cond_t watchdog_cond;
    pthread_t watchdog;
    struct api_conn *conns;
    int conns_lock_ok, watchdog_running, watchdog_stop;
    atomic_int quiescing;
    pthread_rwlock_t sched_lock; /* read: a scheduler call in flight; write: api_quiesce */
    int sched_closed;            /* set by api_quiesce under the write lock */
    int sched_lock_ok;
    pthread_key_t reader_key; /* the calling thread's STORE_READER (closed at thread exit) */
    int reader_key_ok;
    api_sse_hub_t *hub;
    api_model_cache_t *models;            /* loaded models for predictions */
    struct api_mem_budget *upload_budget; /* limits.max_upload_memory (mem_budget.h) */
    api_metrics_t metrics;
    size_t quarantined_files; /* api_config_t.quarantined_files */
};

/* store_reads.c ------------------------------------------------------------------------------ */

/* The calling thread's read-only store connection, opened on first use. NULL with *err set when
 * the database cannot be opened. HTTP threads only. */
store_t *api_reader(api_t *a, store_error_t *err);

/* Fills the replay part of the SSE hub's operations (trial_ids, trial, sweep_status, user). */
void api_sse_store_ops(api_t *a, api_sse_ops_t *ops);

/* health.c ----------------------------------------------------------------------------------- */

/* 0 while the database file is the one the scheduler opened (or while draining), else why not:
 * MLPT_ENOTFOUND (deleted or moved away) or MLPT_ESTATE (replaced); sticky until a restart. Any
 * HTTP thread (lock-free but for the scheduler bracket). */
int api_health_db_lost(api_t *a);

/* The sentence /healthz and the 503s give for a lost database (code from api_health_db_lost). */
const char *api_health_lost_detail(int code);

/* While the database is lost: answers 503 problem+json saying why and returns 1; else 0. */
int api_health_refuse_if_lost(api_t *a, api_response_t *res);

/* Whether the data dir's uploads/ and datasets/ take a new file (one is created and removed in
 * each): 0, or -1 with a sentence naming the folder (relative to the data dir) in detail. */
int api_health_folders(api_t *a, char *detail, size_t len);

/* metrics.c ---------------------------------------------------------------------------------- */

/* Counts one answered request. Any thread (atomics). */
void api_metrics_count(api_metrics_t *m, size_t slot, unsigned status);

/* The Prometheus text exposition of the request counters, the scheduler's figures and the SSE
 * subscribers into *out (malloc'd) and *len. Returns 0 or -1 without memory. */
int api_metrics_render(api_t *a, char **out, size_t *len);

/* base.c ------------------------------------------------------------------------------------ */

/* One log line (printf-style) through the configured callback; nothing without one. */
void api_logf(api_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Brackets every use of the scheduler from an HTTP thread. Returns 0 (then call
 * api_sched_release after the call), or -1 once api_quiesce has run (the scheduler may be gone:
 * answer 503 without touching it). */
int api_sched_acquire(api_t *a);
void api_sched_release(api_t *a);

/* dispatch.c --------------------------------------------------------------------------------- */

/* How a request will be handled, decided when its headers are in. */
typedef struct api_dispatch {
    const api_route_t *route; /* NULL for static files and unmatched paths */
    size_t slot;              /* metrics slot */
    int is_static;
} api_dispatch_t;

/* Decides a request from its method, path and headers: route, authentication, quiescing, 404,
 * 405, content type (415), Content-Length against the limits (413). For the upload route it
 * creates req->upload. Returns 1 when res holds the answer to send right away (the rest of the
 * body is then discarded), 0 to read the body and call api_dispatch_finish. */
int api_dispatch_begin(api_t *a, api_request_t *req, const char *authorization,
                       const char *content_length, api_dispatch_t *d, api_response_t *res);

/* Answers a request whose body went over its limit (413 naming it). */
void api_dispatch_too_large(api_t *a, const api_dispatch_t *d, api_response_t *res);

/* Runs the handler (or serves the static file) once the whole body is in. */
void api_dispatch_finish(api_t *a, const api_request_t *req, const api_dispatch_t *d,
                         api_response_t *res);

/* h_common.c, h_session.c: below dispatch.c and the handlers ------------------------------- */

/* Seconds of CLOCK_MONOTONIC: the session table's clock (h_common.c). */
int64_t api_now_s(void);

typedef enum api_auth {
    API_AUTH_NONE = 0, /* a token is configured and the request carries no valid credential */
    API_AUTH_OPEN,     /* no token configured: everybody is in */
    API_AUTH_BEARER,   /* Authorization: Bearer <the token> */
    API_AUTH_SESSION,  /* a live session cookie */
} api_auth_t;

/* How the request is authenticated (req->authorization and req->cookie; h_session.c). With a
 * session, *expires_at (may be NULL) gets its end on api_now_s's clock. Any HTTP thread. */
api_auth_t api_authenticated(api_t *a, const api_request_t *req, int64_t *expires_at);

/* Handler helpers (h_common.c) ------------------------------------------------------------- */

/* Parses the route's {id}; on failure answers 404 "<what> <param> not found" and returns -1. */
int api_h_id(const api_request_t *req, const char *what, int64_t *id, api_response_t *res);

/* The thread's reader; on failure answers 503 and returns NULL. */
store_t *api_h_reader(api_t *a, api_response_t *res);

/* Answers a failed store read or scheduler command: MLPT_ENOTFOUND 404 "<what> <id> not found",
 * everything else through api_error_kind with the store's message (logged). */
void api_h_fail(api_t *a, api_response_t *res, int rc, const store_error_t *err, const char *what,
                int64_t id);

/* Checks the query arguments against allowed (NULL-terminated). With errs NULL, a failure is
 * answered (422) right away; otherwise the errors are added to errs for the caller to answer.
 * Returns 0 or -1. */
int api_h_query(const api_request_t *req, const char *const *allowed, api_errors_t *errs,
                api_response_t *res);

/* Answers 422 with every field error of errs (the detail names the first). */
void api_h_invalid(api_response_t *res, const api_errors_t *errs);

/* The query of a list route: only `allowed` arguments (NULL-terminated), a valid `limit`, and
 * with `status` not NULL a sweep status filter, with `sort` not NULL a trial sort key. Returns 0,
 * or -1 after answering 422 with every error found. */
int api_h_list_query(const api_request_t *req, const char *const *allowed, size_t *limit,
                     const char **status, const char **sort, api_response_t *res);

/* Answers a list read: 200 with page (taking it), 422 naming query.cursor when the store refused
 * the cursor, otherwise through api_h_fail with what and id. */
void api_h_page(api_t *a, api_response_t *res, json_t *page, const store_error_t *err,
                const char *what, int64_t id);

/* Parses the JSON body; on failure answers 400 with jansson's line and column and returns NULL. */
json_t *api_h_body(const api_request_t *req, api_response_t *res);

/* The embedded api/openapi.json (generated at build time by embed.cmake). */
extern const unsigned char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
