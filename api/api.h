/*
 * api/api.h - the HTTP/JSON API of mlptune on libmicrohttpd: routes under /api/v1, /healthz,
 * /metrics, /openapi.json, the dashboard's static files, and Server-Sent Events.
 *
 * Threads: api_start runs libmicrohttpd with its own internal thread pool. Handlers parse and
 * validate on those threads, read through per-thread read-only store connections, and hand
 * commands to the scheduler (sched.h), never waiting on training. api_on_event is the
 * scheduler's event listener and runs on the scheduler's loop thread.
 */
#ifndef API_API_H
#define API_API_H

#include <stddef.h>
#include <stdint.h>

#include "sched.h"

typedef struct api api_t;

typedef void (*api_log_fn)(void *user, const char *line);

typedef struct api_limits {
    size_t max_body_bytes;         /* JSON request bodies; 413 above (default 1 MiB) */
    size_t max_upload_bytes;       /* dataset uploads as received; 413 above (default 1 GiB) */
    size_t max_trials;             /* per sweep; 422 above (default SCHED_DEFAULT_MAX_TRIALS) */
    size_t max_neurons;            /* per hidden layer; 422 above (default 4096) */
    size_t max_layers;             /* hidden layers; 422 above (default 8) */
    size_t max_iterations;         /* per trial; 422 above (default 10000) */
    size_t max_batch_size;         /* 422 above (default 8192) */
    size_t max_model_bytes;        /* the model a trial of a new sweep implies (parameters x 4
                                      bytes, from the dataset's features and classes); 422
                                      above, naming the field (default 1 GiB) */
    unsigned max_connections;      /* concurrent connections (default 512) */
    unsigned connection_timeout_s; /* idle connections are closed (default 60) */
    /* Bytes all uploads together may fill while they are decoded and parsed (the matrices being
     * built, the parsers' buffers): an upload that would go over it waits up to 2 s, then 503
     * with Retry-After (413 when it alone needs more than all of it) (default 1 GiB). */
    size_t max_upload_memory;
    /* Ranks this service trains on: a sweep's training.ranks above it is refused, 422 naming the
     * field (default 1, one process; `mlptune serve --mpi` sets its rank count). */
    size_t max_ranks;
} api_limits_t;

/* Fills *l with the defaults above. A field left at 0 in api_config_t.limits also takes its
 * default. Every refusal names its limit ("exceeds the limit max_neurons (4096)"). */
void api_limits_init(api_limits_t *l);

typedef struct api_config {
    const char *bind;         /* address to listen on, e.g. "127.0.0.1" */
    uint16_t port;            /* 0 picks an ephemeral port (see api_port) */
    const char *data_dir;     /* where uploads and dataset matrices go */
    const char *db_path;      /* the SQLite database, opened read-only per HTTP thread */
    const char *web_dir;      /* static files served at / (may be NULL: no dashboard) */
    const char *token;        /* when set (non-empty), every /api request needs
                                 "Authorization: Bearer <token>" (compared in constant time) or a
                                 session cookie from POST /api/v1/session, or gets 401; /healthz,
                                 /metrics, /openapi.json, static files and /api/v1/session stay
                                 open */
    int threads;              /* HTTP threads (default 4 when 0) */
    size_t model_cache_bytes; /* models kept loaded for predictions, least recently used out
                                 first (default 256 MiB when 0) */
    api_limits_t limits;
    sched_t *sched;       /* commands go there */
    api_log_fn log;       /* one line per event; may be NULL */
    int log_all_requests; /* log every request; otherwise only changes (not GET/HEAD), answers
                             >= 400, aborted ones and those slower than 100 ms */
    void *log_user;
    /* Comma-separated host names ("name" or "name:port") the service answers for besides its
     * bind address and the localhost names; any other Host header gets 403 (NULL: none). */
    const char *allowed_hosts;
    size_t quarantined_files; /* dataset files the start-up moved to <data_dir>/quarantine/
                                 (shown by /healthz and /metrics) */
} api_config_t;

/* Starts listening: creates <data_dir>/uploads and <data_dir>/datasets when missing, the SSE hub
 * (with its heartbeat thread) and the libmicrohttpd daemon (internal thread pool of `threads`,
 * epoll where available, suspend/resume for event streams). The database must exist (the
 * scheduler creates and migrates it). A web_dir that cannot be opened is logged and the server
 * runs without a dashboard. Returns the server, or NULL with *err (may be NULL) set to MLPT_EIO
 * (cannot bind, or cannot create the folders: the message goes to the log), MLPT_EINVAL (no
 * sched, data_dir or db_path; a bind that is not an IPv4 or IPv6 address) or MLPT_ENOMEM. Main
 * thread. */
api_t *api_start(const api_config_t *cfg, int *err);

/* Checks an api_config_t.allowed_hosts list (NULL or "" is fine). Returns 0, or MLPT_EINVAL with
 * why (cap bytes, may be NULL) naming the bad entry. Any thread. */
int api_allowed_hosts_check(const char *allowed_hosts, char *why, size_t cap);

/* The port actually bound (useful with port 0). */
uint16_t api_port(const api_t *a);

/* Stops accepting new connections; requests in flight go on, new /api calls answer 503 (with
 * Retry-After) and /healthz answers 503 "draining". Waits for the scheduler commands in flight:
 * once it returns, no HTTP thread calls into the scheduler again (commands answer 503, /metrics
 * reports its figures as 0), so sched_stop may follow while event streams stay open and
 * api_on_event keeps working until api_stop. Main thread; idempotent. */
void api_quiesce(api_t *a);

/* Quiesces if that was not done, ends every event stream, closes every connection, joins the
 * HTTP threads (their store readers close) and frees the server. Accepts NULL. Main thread. */
void api_stop(api_t *a);

/* The scheduler's event listener (sched_set_listener(s, api_on_event, api)): fans the event out
 * to the Server-Sent Events subscribers of its sweep. Loop thread; never blocks. */
void api_on_event(const sched_event_t *ev, void *user);

/* The strategy of a sweep the scheduler resumes at start-up (sched_config_t.strategy_new, user:
 * an api_strategy_ctx_t that outlives the scheduler): the sweep's stored spec is validated with
 * the same limits as at creation; a random search continues its seeded draws after the trials
 * it has stored (search_resume.c); for any other sweep it returns NULL, and the scheduler uses its
 * own (grid search with the pruner and early stopping the spec names). Opens a reader of db_path.
 */
typedef struct api_strategy_ctx {
    const char *db_path;
    api_limits_t limits;
    size_t workers;
} api_strategy_ctx_t;
sched_strategy_t *api_sweep_strategy(void *user, int64_t sweep_id);

#endif
