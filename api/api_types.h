/*
 * api/api_types.h - what a handler sees of an HTTP exchange: a small request struct (method,
 * path, the route's path parameter, query arguments, a few headers, the body) and a response
 * struct (status, content type, and a buffer, a file or an event stream as body).
 *
 * Private to api/. Only http.c knows libmicrohttpd; it fills an api_request_t from the
 * connection and turns an api_response_t into an MHD response, so handlers, the router and the
 * validators are plain functions that tests call without sockets.
 */
#ifndef API_TYPES_H
#define API_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum api_method {
    API_GET = 0,
    API_HEAD,
    API_POST,
    API_PUT,
    API_DELETE,
    API_PATCH,
    API_OPTIONS,
    API_METHOD_OTHER,
    API_METHOD_COUNT
} api_method_t;

/* "GET", "POST", ... ("OTHER" for API_METHOD_OTHER). */
const char *api_method_name(api_method_t m);

/* The method named by s (exact, upper case), or API_METHOD_OTHER. */
api_method_t api_method_parse(const char *s);

#define API_MAX_QUERY 16 /* query arguments kept per request; more answer 422 */
#define API_MAX_PARAM 32 /* bytes of a path parameter, NUL included */

typedef struct api_kv {
    const char *key;
    const char *value; /* "" for a key without '=' */
} api_kv_t;

struct api_upload;

typedef struct api_request {
    api_method_t method;
    const char *path;              /* percent-decoded by the HTTP layer, no query */
    char param[API_MAX_PARAM];     /* the route's {id} segment, "" when it has none */
    api_kv_t query[API_MAX_QUERY]; /* valid during the request */
    size_t n_query;
    int query_overflow;        /* more than API_MAX_QUERY arguments came */
    const char *content_type;  /* NULL when absent */
    const char *last_event_id; /* NULL when absent */
    const char *host;          /* Host, NULL when absent */
    const char *origin;        /* Origin, NULL when absent */
    const char *fetch_site;    /* Sec-Fetch-Site, NULL when absent */
    const char *cookie;        /* Cookie, NULL when absent */
    const char *authorization; /* Authorization, NULL when absent (set by api_dispatch_begin) */
    const char *body;          /* JSON routes: the whole body, NUL-terminated (never NULL) */
    size_t body_len;
    struct api_upload *upload; /* the upload route: the finished upload sink */
} api_request_t;

/* The value of query argument key, or NULL. */
const char *api_query(const api_request_t *req, const char *key);

typedef enum api_body_kind {
    API_BODY_BUFFER = 0, /* body/body_len (may be empty) */
    API_BODY_FILE,       /* fd/fd_size: the HTTP layer sends and closes it */
    API_BODY_SSE,        /* sse: a Server-Sent Events subscription (sse.h) */
} api_body_kind_t;

struct api_sse_sub;

typedef struct api_response {
    unsigned status;          /* 0 until answered */
    const char *content_type; /* static string; NULL for no body */
    api_body_kind_t kind;
    char *body; /* malloc'd, owned */
    size_t body_len;
    int fd; /* -1 when none; owned */
    uint64_t fd_size;
    struct api_sse_sub *sse; /* owned until the HTTP layer takes it */
    char location[96];       /* "" for none */
    char allow[64];          /* "" for none */
    char disposition[96];    /* Content-Disposition, "" for none */
    char set_cookie[192];    /* Set-Cookie, "" for none */
    int auth_challenge;      /* add WWW-Authenticate: Bearer */
    int retry_after;         /* seconds; 0 for none */
    int no_cache;            /* Cache-Control: no-cache */
} api_response_t;

/* Empty response: status 0, fd -1. */
void api_response_init(api_response_t *res);

/* Releases what the response owns (body, fd, subscription) and re-initialises it. */
void api_response_deinit(api_response_t *res);

#endif
