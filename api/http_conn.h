/*
 * api/http_conn.h - the slow-client watchdog (http_conn.c): every open connection with the phase
 * it is in and since when, and a thread that shuts down the socket of one over its deadline (the
 * limits are in server.h). Private to api/: http.c feeds it from libmicrohttpd's callbacks; it
 * sees no libmicrohttpd type itself.
 *
 * Every function taking a record accepts NULL (a connection whose record could not be allocated
 * has only libmicrohttpd's idle timeout) and may be called from any thread: the list and the
 * records are guarded by a->conns_lock, which api_start initialises before the daemon starts.
 */
#ifndef API_HTTP_CONN_H
#define API_HTTP_CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include "problem.h"
#include "server.h"

typedef struct api_conn api_conn_t;

typedef enum {
    API_CONN_HEADERS, /* waiting for the request line and headers */
    API_CONN_BODY,    /* receiving a body */
    API_CONN_BUSY     /* a request is being answered: no deadline */
} api_conn_phase_t;

/* Lists a connection that just opened on socket fd from peer (may be NULL), in API_CONN_HEADERS.
 * Returns its record (freed by api_conn_close), or NULL without memory. */
api_conn_t *api_conn_open(api_t *a, int fd, const struct sockaddr *peer);

/* Unlists and frees a connection's record. Must be called before its socket is closed: the
 * watchdog shuts sockets down under the same lock, so it never reaches a descriptor number
 * that was already reused. */
void api_conn_close(api_t *a, api_conn_t *conn);

/* The connection enters a phase: its deadline restarts and its body count is reset. */
void api_conn_phase(api_t *a, api_conn_t *conn, api_conn_phase_t phase);

/* Brackets the server's work on `bytes` body bytes (counted for the body rate): that time is
 * not held against the client. api_conn_call_begin returns the start time to hand to
 * api_conn_call_end. */
double api_conn_call_begin(api_t *a, api_conn_t *conn, size_t bytes);
void api_conn_call_end(api_t *a, api_conn_t *conn, double t0);

/* The most connections one client address may hold: max_connections / API_PER_IP_SHARE, at
 * least 1. */
unsigned api_conn_per_ip_limit(const api_limits_t *limits);

/* The caps on event streams (server.h): per client address and for the whole server. */
unsigned api_conn_sse_per_ip_limit(const api_limits_t *limits);
unsigned api_conn_sse_limit(const api_limits_t *limits);

/* Marks the connection as carrying an event stream if the caps allow one more. Returns 0 (call
 * api_conn_sse_release when the stream's request ends; closing the connection also releases
 * it), or API_PROBLEM_TOO_MANY when its address has api_conn_sse_per_ip_limit streams,
 * API_PROBLEM_UNAVAILABLE when the server has api_conn_sse_limit, with the reason naming the limit
 * in why (cap bytes). A NULL conn (no record) is let through. */
api_problem_kind_t api_conn_sse_claim(api_t *a, api_conn_t *conn, char *why, size_t cap);
void api_conn_sse_release(api_t *a, api_conn_t *conn);

/* Writes an answer straight onto socket fd: "HTTP/1.1 <status> <reason>", Connection: close, the
 * content type and length, res's buffer body; then shuts the socket down for writing. For a
 * refusal that cannot wait for the body's end (http.c); the caller closes the connection next.
 * Waits at most about a second for room in the socket; a client gone is ignored. */
void api_conn_answer_raw(int fd, const api_response_t *res, const char *reason);

/* Starts the watchdog thread (every 200 ms). Returns 0, or -1 when the thread or its condition
 * variable cannot be created (nothing is then running). */
int api_conn_watchdog_start(api_t *a);

/* Stops and joins the watchdog thread; nothing when it is not running. */
void api_conn_watchdog_stop(api_t *a);

#endif
