/*
 * api/http.h - what http.c (the libmicrohttpd side of the server) offers server.c, which owns the
 * server's state and its start and stop order. Private to api/; no libmicrohttpd types.
 */
#ifndef API_HTTP_H
#define API_HTTP_H

#include "server.h"
#include "sse.h"

/* Starts the libmicrohttpd daemon on a->bind and a->port (its internal thread pool of a->threads,
 * a's connection limits, the request and connection callbacks of http.c) and the slow-client
 * watchdog (http_conn.c); sets a->port to the port bound. a->conns_lock must be initialised.
 * Returns 0, or (logged) MLPT_EINVAL when a->bind is not an IPv4 or IPv6 address, MLPT_EIO when
 * it cannot listen, MLPT_ENOMEM when the watchdog thread cannot start; api_http_stop then undoes
 * what was started. Main thread. */
int api_http_start(api_t *a);

/* Stops accepting connections; the listening socket is kept in a->quiesced_fd until
 * api_http_stop. Nothing when the daemon is not running. Main thread, once. */
void api_http_quiesce(api_t *a);

/* Stops the watchdog and the daemon (every connection closed, the HTTP threads joined) and closes
 * the quiesced listening socket. Every event stream must have ended first (no connection may be
 * suspended). Safe after a failed api_http_start or none. Main thread. */
void api_http_stop(api_t *a);

/* Fills the SSE hub's suspend and resume operations: libmicrohttpd's suspension of the
 * connection a stream was attached to (api_sse_attach). */
void api_http_sse_ops(api_sse_ops_t *ops);

#endif
