/*
 * api/http_conn.c - the slow-client watchdog. libmicrohttpd's connection timeout
 * (--connection-timeout) only closes a connection that sends nothing; this module bounds the
 * whole exchange (server.h has the limits):
 *   - every open connection is listed with its phase (waiting for headers, receiving a body,
 *     being answered) and since when; http.c reports the transitions;
 *   - a watchdog thread (every 200 ms) shuts down the socket of a connection whose request line
 *     and headers are late, or whose body falls under the minimum rate after its grace (both
 *     capped by the connection timeout; the server's own time on the body's bytes does not
 *     count), and logs why. libmicrohttpd then closes it as if the client had gone;
 *   - the per-address connection limit handed to libmicrohttpd, and the event streams' own caps
 *     (per address and for the server);
 *   - an answer written straight onto a socket, for a refusal that cannot wait for a body's end.
 * No libmicrohttpd here: http.c is the only file of api/ that includes microhttpd.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http_conn.h"

/* One open connection. The list and every field but fd and peer are guarded by a->conns_lock. */
struct api_conn {
    struct api_conn *prev, *next;
    int fd;
    char peer[INET6_ADDRSTRLEN + 8];
    api_conn_phase_t phase; /* API_CONN_BUSY: a request is being answered (no deadline) */
    double since;           /* when the phase began (CLOCK_MONOTONIC seconds) */
    uint64_t body_bytes;
    double server_s;   /* time spent in on_request on this body's bytes: not the client's */
    double call_start; /* > 0 while on_request runs for this connection */
    int shut;          /* the watchdog shut it down */
    int sse;           /* it carries an event stream (api_conn_sse_claim) */
};

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void peer_name(const struct sockaddr *sa, char *out, size_t cap) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    snprintf(out, cap, "%s", ip);
}

api_conn_t *api_conn_open(api_t *a, int fd, const struct sockaddr *peer) {
    api_conn_t *conn = calloc(1, sizeof(*conn));
    if (!conn)
        return NULL;
    conn->fd = fd;
    peer_name(peer, conn->peer, sizeof(conn->peer));
    conn->phase = API_CONN_HEADERS;
    conn->since = mono_s();
    pthread_mutex_lock(&a->conns_lock);
    conn->next = a->conns;
    if (a->conns)
        a->conns->prev = conn;
    a->conns = conn;
    pthread_mutex_unlock(&a->conns_lock);
    return conn;
}

void api_conn_close(api_t *a, api_conn_t *conn) {
    if (!conn)
        return;
    pthread_mutex_lock(&a->conns_lock);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        a->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    pthread_mutex_unlock(&a->conns_lock);
    free(conn);
}

void api_conn_phase(api_t *a, api_conn_t *conn, api_conn_phase_t phase) {
    if (!conn)
        return;
    pthread_mutex_lock(&a->conns_lock);
    conn->phase = phase;
    conn->since = mono_s();
    conn->body_bytes = 0;
    conn->server_s = 0;
    pthread_mutex_unlock(&a->conns_lock);
}

double api_conn_call_begin(api_t *a, api_conn_t *conn, size_t bytes) {
    double t = mono_s();
    if (conn) {
        pthread_mutex_lock(&a->conns_lock);
        conn->call_start = t;
        conn->body_bytes += bytes;
        pthread_mutex_unlock(&a->conns_lock);
    }
    return t;
}

void api_conn_call_end(api_t *a, api_conn_t *conn, double t0) {
    if (!conn)
        return;
    pthread_mutex_lock(&a->conns_lock);
    conn->server_s += mono_s() - t0;
    conn->call_start = 0;
    pthread_mutex_unlock(&a->conns_lock);
}

unsigned api_conn_per_ip_limit(const api_limits_t *limits) {
    unsigned per_ip = limits->max_connections / API_PER_IP_SHARE;
    return per_ip ? per_ip : 1u;
}

unsigned api_conn_sse_per_ip_limit(const api_limits_t *limits) {
    unsigned n = api_conn_per_ip_limit(limits) / API_SSE_PER_IP_SHARE;
    return n ? n : 1u;
}

unsigned api_conn_sse_limit(const api_limits_t *limits) {
    unsigned n = limits->max_connections / API_SSE_SHARE;
    return n ? n : 1u;
}

api_problem_kind_t api_conn_sse_claim(api_t *a, api_conn_t *conn, char *why, size_t cap) {
    unsigned per_ip = api_conn_sse_per_ip_limit(&a->limits), all = api_conn_sse_limit(&a->limits);
    unsigned n_ip = 0, n_all = 0;
    api_problem_kind_t status = API_PROBLEM_NONE;
    if (!conn)
        return API_PROBLEM_NONE;
    pthread_mutex_lock(&a->conns_lock);
    for (const api_conn_t *o = a->conns; o; o = o->next)
        if (o->sse && o != conn) {
            n_all++;
            n_ip += strcmp(o->peer, conn->peer) == 0;
        }
    if (n_ip >= per_ip) {
        status = API_PROBLEM_TOO_MANY;
        snprintf(why, cap,
                 "this address has %u event streams open, the most one address may hold "
                 "(max_sse_per_address %u); close one or retry later",
                 n_ip, per_ip);
    } else if (n_all >= all) {
        status = API_PROBLEM_UNAVAILABLE;
        snprintf(why, cap,
                 "the server has %u event streams open, the most it serves (max_sse_streams %u); "
                 "retry later",
                 n_all, all);
    } else {
        conn->sse = 1;
    }
    pthread_mutex_unlock(&a->conns_lock);
    return status;
}

void api_conn_sse_release(api_t *a, api_conn_t *conn) {
    if (!conn)
        return;
    pthread_mutex_lock(&a->conns_lock);
    conn->sse = 0;
    pthread_mutex_unlock(&a->conns_lock);
}

void api_conn_answer_raw(int fd, const api_response_t *res, const char *reason) {
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nX-Content-Type-Options: nosniff\r\n\r\n",
                     res->status, reason && *reason ? reason : "Error",
                     res->content_type ? res->content_type : "text/plain",
                     res->body ? res->body_len : 0);
    if (n <= 0 || (size_t)n >= sizeof(head))
        return;
    const char *parts[2] = {head, res->body ? res->body : ""};
    size_t lens[2] = {(size_t)n, res->body ? res->body_len : 0};
    int waits = 0;
    for (int i = 0; i < 2 && waits < 20; i++) {
        size_t off = 0;
        while (off < lens[i] && waits < 20) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, 50);
                waits++;
            } else {
                waits = 20; /* the client is gone */
            }
        }
    }
    shutdown(fd, SHUT_WR);
}

/* Why a connection is over its deadline at `now`, or NULL. */
static const char *conn_overdue(const api_t *a, const api_conn_t *conn, double now, char *why,
                                size_t cap) {
    double limit = a->limits.connection_timeout_s;
    double head = limit < API_HEADER_TIMEOUT_S ? limit : API_HEADER_TIMEOUT_S;
    double grace = limit < API_BODY_GRACE_S ? limit : API_BODY_GRACE_S;
    if (conn->shut || conn->phase == API_CONN_BUSY || conn->call_start > 0)
        return NULL;
    double waited = now - conn->since - conn->server_s; /* the client's time */
    if (conn->phase == API_CONN_HEADERS && waited > head) {
        snprintf(why, cap, "no complete request line and headers within %.0f s", head);
        return why;
    }
    if (conn->phase == API_CONN_BODY && waited > grace &&
        (double)conn->body_bytes < API_BODY_MIN_RATE * (waited - grace)) {
        snprintf(why, cap,
                 "the body came at %.0f bytes/s, under the minimum of %d bytes/s (%llu bytes in "
                 "%.1f s)",
                 (double)conn->body_bytes / waited, API_BODY_MIN_RATE,
                 (unsigned long long)conn->body_bytes, waited);
        return why;
    }
    return NULL;
}

static void *watchdog_main(void *arg) {
    api_t *a = arg;
    pthread_mutex_lock(&a->conns_lock);
    while (!a->watchdog_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 200 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->watchdog_cond, &a->conns_lock, &until);
        double now = mono_s();
        for (api_conn_t *conn = a->conns; conn && !a->watchdog_stop; conn = conn->next) {
            char why[160];
            if (!conn_overdue(a, conn, now, why, sizeof(why)))
                continue;
            conn->shut = 1;
            shutdown(conn->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
            api_logf(a, "http: closed the connection of %s: %s", conn->peer, why);
        }
    }
    pthread_mutex_unlock(&a->conns_lock);
    return NULL;
}

int api_conn_watchdog_start(api_t *a) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
             pthread_cond_init(&a->watchdog_cond, &attr) != 0;
    pthread_condattr_destroy(&attr);
    if (rc)
        return -1;
    if (pthread_create(&a->watchdog, NULL, watchdog_main, a) != 0) {
        pthread_cond_destroy(&a->watchdog_cond);
        return -1;
    }
    a->watchdog_running = 1;
    return 0;
}

void api_conn_watchdog_stop(api_t *a) {
    if (!a->watchdog_running)
        return;
    pthread_mutex_lock(&a->conns_lock);
    a->watchdog_stop = 1;
    pthread_cond_signal(&a->watchdog_cond);
    pthread_mutex_unlock(&a->conns_lock);
    pthread_join(a->watchdog, NULL);
    pthread_cond_destroy(&a->watchdog_cond);
    a->watchdog_running = 0;
}
