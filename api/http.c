/*
 * api/http.c - the libmicrohttpd daemon: the only file of api/ that includes microhttpd.h.
 *
 * Request life cycle (libmicrohttpd calls on_request several times per request):
 *   1. first call (headers in): allocate the request, fill the api_request_t, let dispatch
 *      decide (route, auth, 404/405/415, Content-Length over a limit: answered right away);
 *   2. body calls: JSON routes append to a buffer capped at max_body_bytes (over it the rest is
 *      discarded and the answer is 413, never a truncated body); the upload route streams the
 *      bytes into the upload sink (through MHD's multipart parser, or raw for text/csv);
 *   3. last call: dispatch runs the handler and the answer is queued;
 *   4. on_completed: metrics, one log line, everything freed.
 * Server-Sent Events answers are MHD callback responses whose reader suspends the connection
 * when the stream has nothing to send; the SSE hub resumes it.
 *
 * Slow clients (server.h): this file lists every open connection with http_conn.c
 * (MHD_OPTION_NOTIFY_CONNECTION) and reports its phase as requests go (waiting for headers,
 * receiving a body, being answered); http_conn.c's watchdog thread keeps the deadlines.
 *
 * Framing (framing.h): every request's headers are checked on its first call, before anything
 * acts on it; an ambiguous one is answered 400 with "Connection: close" at once.
 *
 * The daemon (http.h): its options, start, quiescing and stop, called by server.c (which owns
 * the server's state); libmicrohttpd's callbacks for the URI (query arguments past the limit),
 * logging and percent-decoding (api_unescape_no_nul, query.c).
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "framing.h"
#include "http.h"
#include "http_conn.h"
#include "mlpt_err.h"
#include "problem.h"
#include "server.h"
#include "upload.h"
#include "validate.h"

#define DISCARD_MAX ((uint64_t)64 << 20)  /* body bytes read past a refusal before closing */
#define DISCARD_SLACK ((uint64_t)1 << 20) /* multipart framing around an upload's files */
#define SSE_BLOCK 16384

typedef struct http_req {
    api_t *a;
    api_conn_t *conn; /* the connection's deadline record (NULL without memory) */
    api_request_t req;
    api_dispatch_t d;
    char *path, *method; /* copies, for the log line */
    char *body;          /* JSON routes */
    size_t len, cap;
    int too_large, multipart, bad_multipart;
    uint64_t discarded;
    struct MHD_PostProcessor *pp;
    unsigned status;
    struct timespec t0;
    api_response_t early; /* decided on the first call, sent on the last (no body announced) */
    int has_early;
    int started; /* on_request's first call has run (the record may come from on_uri) */
    int sse;     /* it holds an event-stream slot (api_conn_sse_claim) */
} http_req_t;

/* ---- connections (their deadlines are kept by http_conn.c) ------------------------------ */

/* The connection whose request line this HTTP thread saw last (on_uri) and whose headers have not
 * reached on_request yet, for mhd_log (see there). Each connection is served by one thread of the
 * pool from its first byte to its close, so a thread's record names one of its own connections;
 * it is cleared when that connection's request starts or the connection closes. */
static _Thread_local struct MHD_Connection *headers_pending;

static void forget_headers_pending(struct MHD_Connection *c) {
    if (headers_pending == c)
        headers_pending = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    api_t *a = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        /* without a record (no memory) this connection has only the idle timeout */
        *socket_context =
            fd ? api_conn_open(a, fd->connect_fd, addr ? addr->client_addr : NULL) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        forget_headers_pending(c);
        /* libmicrohttpd closes the socket after this call: the watchdog, which shuts sockets
         * down under the same lock, can never reach a descriptor number already reused. */
        api_conn_close(a, *socket_context); /* accepts NULL */
        *socket_context = NULL;
    }
}

static api_conn_t *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* ---- answers ---------------------------------------------------------------------------- */

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    long n = api_sse_read(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_free(void *cls) {
    api_sse_unsubscribe(cls);
}

static void sse_suspend(void *conn) {
    MHD_suspend_connection(conn);
}

static void sse_resume(void *conn) {
    MHD_resume_connection(conn);
}

/* Queues res. close: "Connection: close", after which libmicrohttpd reads nothing more from the
 * connection (the framing refusals: what follows their headers is not a request). */
static enum MHD_Result send_answer_close(struct MHD_Connection *c, http_req_t *r,
                                         api_response_t *res, int close) {
    struct MHD_Response *mr = NULL;
    char num[24];
    if (res->kind == API_BODY_SSE) {
        char why[200];
        api_problem_kind_t st = api_conn_sse_claim(r->a, r->conn, why, sizeof(why));
        if (st) { /* over a cap: the subscription goes, a problem answers instead */
            api_response_deinit(res);
            res->retry_after = 5;
            api_problemf(res, st, "%s", why);
        } else {
            r->sse = 1;
        }
    }
    switch (res->kind) {
    case API_BODY_FILE:
        mr = MHD_create_response_from_fd(res->fd_size, res->fd);
        if (mr)
            res->fd = -1; /* MHD closes it */
        break;
    case API_BODY_SSE: {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        api_sse_attach(res->sse, c);
        if (fd)
            api_sse_watch_fd(res->sse, fd->connect_fd);
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_reader, res->sse,
                                               sse_free);
        if (mr)
            res->sse = NULL; /* the response owns the subscription now */
        break;
    }
    default:
        if (res->body_len) {
            mr = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
            if (mr)
                res->body = NULL;
        } else {
            mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
        break;
    }
    if (!mr) {
        api_response_deinit(res);
        return MHD_NO;
    }
    if (res->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    if (res->location[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, res->location);
    if (res->allow[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->disposition[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_DISPOSITION, res->disposition);
    if (res->set_cookie[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE, res->set_cookie);
    if (res->auth_challenge)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (res->retry_after) {
        snprintf(num, sizeof(num), "%d", res->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (res->no_cache || res->kind == API_BODY_SSE)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (res->kind == API_BODY_SSE)
        MHD_add_response_header(mr, "X-Accel-Buffering", "no");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (close)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, res->status, mr);
    MHD_destroy_response(mr);
    r->status = res->status;
    api_response_deinit(res);
    return ok;
}

static enum MHD_Result send_answer(struct MHD_Connection *c, http_req_t *r, api_response_t *res) {
    return send_answer_close(c, r, res, 0);
}

/* Writes res straight onto the socket with "Connection: close", for a refusal decided while a
 * body is still coming that cannot wait for its end (libmicrohttpd 0.9.75 queues an answer only
 * once the headers or the whole body are in, and closing without one leaves the client with a
 * cut-off upload and no reason). Nothing of this request's answer has been sent (an interim
 * "100 Continue" at most), so this is its whole answer; the caller then returns MHD_NO and
 * libmicrohttpd closes the connection. Waits at most about a second for the socket. */
static void answer_raw(struct MHD_Connection *c, http_req_t *r, api_response_t *res) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->status = res->status;
    if (ci)
        api_conn_answer_raw(ci->connect_fd, res, MHD_get_reason_phrase_for(res->status));
    api_response_deinit(res);
}

/* ---- request ---------------------------------------------------------------------------- */

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    http_req_t *r = cls;
    (void)kind;
    if (r->req.n_query == API_MAX_QUERY) {
        r->req.query_overflow = 1;
        return MHD_NO;
    }
    r->req.query[r->req.n_query++] = (api_kv_t){key, value ? value : ""};
    return MHD_YES;
}

static enum MHD_Result on_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size) {
    http_req_t *r = cls;
    (void)kind, (void)content_type, (void)transfer_encoding;
    api_upload_field(r->req.upload, key, filename, data, (size_t)off, size);
    return MHD_YES; /* a refused upload keeps reading (and discarding) to answer at the end */
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    api_framing_header(cls, key, value);
    return MHD_YES;
}

static enum MHD_Result first_call(struct MHD_Connection *c, http_req_t *r, const char *url,
                                  const char *method, const char *version) {
    api_response_t res;
    api_response_init(&res);
    r->path = strdup(url);
    r->method = strdup(method);
    if (!r->path || !r->method)
        return MHD_NO;
    /* Framing first, before anything acts on the request: an ambiguous one is answered now,
     * with "Connection: close", so libmicrohttpd reads none of its body and nothing after it
     * (framing.h). */
    api_framing_t fr;
    char why[160];
    api_framing_init(&fr);
    MHD_get_connection_values(c, MHD_HEADER_KIND, check_header, &fr);
    if (api_framing_verdict(&fr, version, why, sizeof(why)) != 0) {
        r->d.slot = API_SLOT_UNMATCHED;
        api_problemf(&res, API_PROBLEM_MALFORMED, "%s", why);
        return send_answer_close(c, r, &res, 1);
    }
    r->req.method = api_method_parse(method);
    r->req.path = r->path;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, r);
    r->req.content_type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->req.last_event_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    r->req.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    r->req.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    r->req.fetch_site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    r->req.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *clen =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (api_dispatch_begin(r->a, &r->req, auth, clen, &r->d, &res)) {
        /* An answer queued now makes libmicrohttpd skip the body and close the connection.
         * That is right for a client waiting on "Expect: 100-continue" (it then never sends
         * the body) and for a body announced larger than DISCARD_MAX. A client already sending
         * would often see a reset before it reads the answer, so any other body is read and
         * dropped, and the answer goes out on the last call. */
        uint64_t announced = 0;
        const char *expect =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if ((expect && strcasecmp(expect, "100-continue") == 0) ||
            (clen && api_parse_uint(clen, UINT64_MAX, &announced) == 0 && announced > DISCARD_MAX))
            return send_answer(c, r, &res);
        r->early = res;
        r->has_early = 1;
        return MHD_YES;
    }
    if (r->req.upload && strncasecmp(r->req.content_type, "multipart/", 10) == 0) {
        r->multipart = 1;
        r->pp = MHD_create_post_processor(c, 64 * 1024, on_post_field, r);
        if (!r->pp) {
            api_problemf(&res, API_PROBLEM_MALFORMED,
                         "the multipart/form-data body has no boundary");
            return send_answer(c, r, &res);
        }
    }
    return MHD_YES;
}

/* How much of a refused body is read and dropped so that its client can read the answer (an
 * answer cannot be queued while a body is still coming, and closing instead loses it). An upload
 * refused while it streams (a parse error, a decompression limit: status 422 or 413 naming
 * max_gunzip_*) came from a client entitled to send up to the upload limit, so that much is read;
 * any other refusal (over a size limit, or decided on the headers) DISCARD_MAX. */
static uint64_t discard_max(const http_req_t *r) {
    api_problem_kind_t st =
        r->req.upload && !r->has_early ? api_upload_refused(r->req.upload) : API_PROBLEM_NONE;
    if (st == API_PROBLEM_NONE ||
        (st == API_PROBLEM_TOO_LARGE && r->req.upload && api_upload_over_limit(r->req.upload)))
        return DISCARD_MAX;
    uint64_t lim = (uint64_t)r->a->limits.max_upload_bytes + DISCARD_SLACK;
    return lim > DISCARD_MAX ? lim : DISCARD_MAX;
}

/* The answer to a request refused while its body came (see on_request's last call). */
static void refusal(http_req_t *r, api_response_t *res) {
    if (r->has_early) {
        *res = r->early;
        r->has_early = 0;
    } else if (r->too_large) {
        api_dispatch_too_large(r->a, &r->d, res);
    } else if (r->req.upload && api_upload_refused(r->req.upload) != 0) {
        api_upload_problem(r->req.upload, res);
    } else {
        api_problemf(res, API_PROBLEM_MALFORMED, "the multipart/form-data body is malformed");
    }
}

/* Consumes one piece of the body. Returns MHD_NO to close the connection. */
static enum MHD_Result body_call(struct MHD_Connection *c, http_req_t *r, const char *data,
                                 size_t size) {
    const api_route_t *route = r->d.route;
    int refused = r->has_early || r->too_large || r->bad_multipart ||
                  (r->req.upload && api_upload_refused(r->req.upload) != 0);
    if (!route || route->body == API_IN_NONE || refused) {
        r->discarded += size;
        if (r->discarded > discard_max(r) && refused) {
            /* Enough has been read and dropped (a chunked body may never end): answer now
             * and close, rather than cutting the client off with no answer. */
            api_response_t res;
            api_response_init(&res);
            refusal(r, &res);
            answer_raw(c, r, &res);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (route->body == API_IN_JSON || route->body == API_IN_JSON_OPT) {
        if (r->len + size > r->a->limits.max_body_bytes) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return MHD_YES;
        }
        if (r->len + size + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + size + 1)
                cap *= 2;
            char *tmp = realloc(r->body, cap);
            if (!tmp)
                return MHD_NO;
            r->body = tmp;
            r->cap = cap;
        }
        memcpy(r->body + r->len, data, size);
        r->len += size;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->multipart) {
        if (MHD_post_process(r->pp, data, size) != MHD_YES)
            r->bad_multipart = 1;
    } else {
        api_upload_raw(r->req.upload, data, size);
    }
    return MHD_YES;
}

static http_req_t *new_req(api_t *a) {
    http_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->a = a;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    return r;
}

/* libmicrohttpd's URI log callback: the request line is in, its headers are not, and the query
 * string has not been split yet. libmicrohttpd 0.9.75 stores every query argument in the
 * connection's memory pool and, when the pool runs out while it parses the request line, neither
 * answers nor closes (the client waits for the header deadline). So a query with more arguments
 * than a handler ever reads (API_MAX_QUERY) is cut here, in libmicrohttpd's own read buffer,
 * which it parses right after this call (uri points into it; only the query's first byte is
 * overwritten), and the request is marked so that the handlers answer 422 naming the limit.
 * Returns the request record that on_request then receives. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    http_req_t *r = new_req(cls);
    headers_pending = c;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (!q || !q[1])
        return r;
    size_t n = 1;
    for (const char *p = q + 1; *p; p++)
        n += *p == '&';
    if (n > API_MAX_QUERY) {
        ((char *)q)[1] = '\0'; /* libmicrohttpd's buffer, writable; see above */
        if (r)
            r->req.query_overflow = 1;
    }
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls) {
    api_t *a = cls;
    http_req_t *r = *con_cls;
    if (!r || !r->started) {
        forget_headers_pending(c);
        if (!r && !(r = new_req(a)))
            return MHD_NO;
        *con_cls = r;
        r->started = 1;
        r->conn = conn_of(c);
        enum MHD_Result ok = first_call(c, r, url, method, version);
        /* The headers are in: the body's clock starts, unless the answer already went out. */
        api_conn_phase(a, r->conn, r->status ? API_CONN_BUSY : API_CONN_BODY);
        return ok;
    }
    if (*size) {
        double t0 = api_conn_call_begin(a, r->conn, *size);
        enum MHD_Result ok = body_call(c, r, data, *size);
        api_conn_call_end(a, r->conn, t0);
        *size = 0;
        return ok;
    }
    api_conn_phase(a, r->conn, API_CONN_BUSY);
    api_response_t res;
    api_response_init(&res);
    if (r->pp) {
        if (MHD_destroy_post_processor(r->pp) != MHD_YES)
            r->bad_multipart = 1;
        r->pp = NULL;
    }
    if (r->has_early || r->too_large ||
        (r->bad_multipart && api_upload_refused(r->req.upload) == 0)) {
        refusal(r, &res);
    } else {
        r->req.body = r->body ? r->body : "";
        r->req.body_len = r->len;
        api_dispatch_finish(a, &r->req, &r->d, &res);
    }
    return send_answer(c, r, &res);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    api_t *a = cls;
    http_req_t *r = *con_cls;
    if (!r)
        return;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) /* keep-alive: the next request's headers */
        api_conn_phase(a, conn_of(c), API_CONN_HEADERS);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms =
        (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    if (r->status)
        api_metrics_count(&a->metrics, r->d.slot, r->status);
    if (r->sse)
        api_conn_sse_release(a, conn_of(c));
    /* Every request is counted in /metrics; the log gets the ones worth reading (changes,
     * failures, slow or aborted answers) unless every request was asked for: a line per
     * successful read costs real throughput under load. */
    int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    int plain_read = r->method && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"));
    if (r->started &&
        (a->log_all_requests || !plain_read || !ok || r->status >= 400 || ms >= 100.0))
        api_logf(a, "http %s %s %u %.1fms%s", r->method ? r->method : "?", r->path ? r->path : "?",
                 r->status, ms, ok ? "" : " (aborted)");
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->has_early)
        api_response_deinit(&r->early);
    api_upload_free(r->req.upload);
    free(r->body);
    free(r->path);
    free(r->method);
    free(r);
    *con_cls = NULL;
}

/* ---- the daemon ------------------------------------------------------------------------- */

static enum MHD_Result find_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    *(const char **)cls = value ? value : "";
    return MHD_NO;
}

/* libmicrohttpd 0.9.75 answers a Content-Length it cannot parse itself, before any callback of
 * ours, and sends that answer's status line and headers twice (its error path's state is
 * overwritten by its caller): the client reads the second header block as the body. It logs the
 * failure first, on the connection's own thread, so this is where the server can still answer:
 * when the connection whose headers this thread is parsing (headers_pending) does carry a
 * Content-Length that is not a number, a proper problem+json answer goes onto its socket and
 * the socket is shut down for writing; libmicrohttpd's own answer then fails to send and it
 * closes the connection. Nothing is done when the record is missing or does not match. */
static void answer_bad_length(void) {
    struct MHD_Connection *c = headers_pending;
    const char *value = NULL;
    uint64_t n;
    headers_pending = NULL;
    if (c)
        MHD_get_connection_values(c, MHD_HEADER_KIND, find_length, &value);
    int digits = value && *value && strspn(value, "0123456789") == strlen(value);
    if (!value || (digits && api_parse_uint(value, UINT64_MAX, &n) == 0))
        return; /* no Content-Length, or one that parses: not this connection's failure */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    api_response_t res;
    api_response_init(&res);
    if (digits)
        api_problemf(&res, API_PROBLEM_TOO_LARGE,
                     "Content-Length is larger than any body this server takes");
    else
        api_problemf(&res, API_PROBLEM_MALFORMED,
                     "Content-Length must be a decimal number of bytes");
    if (ci)
        api_conn_answer_raw(ci->connect_fd, &res, MHD_get_reason_phrase_for(res.status));
    api_response_deinit(&res);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    api_t *a = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    api_logf(a, "http: %s", line);
    if (strstr(line, "Content-Length' header"))
        answer_bad_length();
}

/* libmicrohttpd's unescape callback: api_unescape_no_nul (validate.h). */
static size_t unescape_no_nul(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return api_unescape_no_nul(s);
}

int api_http_start(api_t *a) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    const struct sockaddr *addr;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    const char *bind = a->bind ? a->bind : "127.0.0.1";
    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, bind, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(a->port);
        addr = (const struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, bind, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(a->port);
        addr = (const struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        api_logf(a, "api: --bind %s is not an IPv4 or IPv6 address", bind);
        return MLPT_EINVAL;
    }
    a->daemon = MHD_start_daemon(
        flags, a->port, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->threads, MHD_OPTION_CONNECTION_LIMIT,
        a->limits.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        api_conn_per_ip_limit(&a->limits), MHD_OPTION_CONNECTION_TIMEOUT,
        a->limits.connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, a, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_no_nul, NULL, MHD_OPTION_END);
    if (!a->daemon) {
        api_logf(a, "api: cannot listen on %s port %u", bind, (unsigned)a->port);
        return MLPT_EIO;
    }
    if (api_conn_watchdog_start(a) != 0) {
        api_logf(a, "api: cannot start the connection watchdog thread");
        return MLPT_ENOMEM;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        a->port = info->port;
    return 0;
}

void api_http_quiesce(api_t *a) {
    /* The listening socket is returned to us; it may only be closed after MHD_stop_daemon. */
    if (a->daemon)
        a->quiesced_fd = MHD_quiesce_daemon(a->daemon);
}

void api_http_stop(api_t *a) {
    api_conn_watchdog_stop(a);
    if (a->daemon)
        MHD_stop_daemon(a->daemon);
    if (a->quiesced_fd >= 0)
        close(a->quiesced_fd);
}

void api_http_sse_ops(api_sse_ops_t *ops) {
    ops->suspend = sse_suspend;
    ops->resume = sse_resume;
}
