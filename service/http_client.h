/*
 * service/http_client.h - the HTTP client of `mlptune sweep` (private to service/): one libcurl
 * easy handle per client, reused for every request so the connection to the server is kept
 * alive, with the server's base URL, an optional bearer token and the timeouts set once.
 *
 * Nothing here prints. A request either gets an answer from the server (return 0, whatever its
 * HTTP status) or does not (a negative MLPT_E* code with a message that names the URL and the
 * reason). Interpreting statuses and problem+json bodies is the caller's business.
 *
 * Single-threaded: a client belongs to the thread that created it.
 */
#ifndef SVC_HTTP_CLIENT_H
#define SVC_HTTP_CLIENT_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#define SVC_HTTP_MAX_ANSWER (256u << 20) /* bytes of one answer body; more is an error */

typedef struct svc_http svc_http_t;

/* Why a request got no usable answer. */
typedef struct svc_http_error {
    int code;      /* MLPT_EIO (no answer), MLPT_ENOMEM, MLPT_ELIMIT (answer too large),
                      MLPT_ESTOPPED (the abort flag was raised), MLPT_EINVAL (bad argument) */
    int transient; /* 1 when asking again later may work: the server could not be reached,
                      did not answer in time or closed the connection */
    char message[512];
} svc_http_error_t;

/* An answer: any HTTP status. body is NUL-terminated (an empty string when there was none). */
typedef struct svc_http_answer {
    long status;
    char *body; /* malloc'd, owned: svc_http_answer_deinit frees it */
    size_t len;
    char content_type[128]; /* "" when the server sent none */
} svc_http_answer_t;

/* One part of a multipart/form-data body: a plain field (value) or a file (path, streamed from
 * disk, sent with its base name as filename). */
typedef struct svc_http_part {
    const char *name;
    const char *value; /* NULL for a file part */
    const char *path;  /* NULL for a plain field */
} svc_http_part_t;

/* Called while a request body is sent: sent and total bytes (total 0 when unknown). */
typedef void (*svc_http_progress_fn)(void *user, double sent, double total);

/* Creates a client for base_url ("http://host:port", an optional path prefix, no trailing
 * slash needed; http and https only). token, when not NULL, is sent as "Authorization: Bearer
 * <token>" on every request. timeout_s bounds connecting (at most 10 s of it), a whole JSON
 * request, and any stall (no byte moving) of an upload. Returns the client, or NULL with err set
 * (MLPT_EINVAL: the URL is not http(s) or the token holds control characters; MLPT_ENOMEM;
 * MLPT_EIO: libcurl could not start). Free with svc_http_free. */
svc_http_t *svc_http_new(const char *base_url, const char *token, long timeout_s,
                         svc_http_error_t *err);

/* Frees the client and closes its connection. Accepts NULL. */
void svc_http_free(svc_http_t *h);

/* When set, a raised *flag (e.g. from a SIGINT handler) aborts the request in progress, which
 * then fails with MLPT_ESTOPPED. NULL to clear. */
void svc_http_set_abort_flag(svc_http_t *h, volatile sig_atomic_t *flag);

/* When set, fn is called with upload progress during svc_http_post_form. NULL to clear. */
void svc_http_set_progress(svc_http_t *h, svc_http_progress_fn fn, void *user);

/* The full URL of path (which starts with '/'), in buf; "" when it does not fit. */
const char *svc_http_url(const svc_http_t *h, const char *path, char *buf, size_t size);

/* GET base_url + path (path includes any query string, already escaped). Returns 0 with *ans
 * filled (caller: svc_http_answer_deinit), or a negative MLPT_E* code with err set and *ans
 * empty. */
int svc_http_get(svc_http_t *h, const char *path, svc_http_answer_t *ans, svc_http_error_t *err);

/* POST body (serialised compactly; NULL sends an empty body) as application/json. Same
 * returns as svc_http_get. */
int svc_http_post_json(svc_http_t *h, const char *path, const json_t *body, svc_http_answer_t *ans,
                       svc_http_error_t *err);

/* POST parts[0..n) as multipart/form-data, in that order, files streamed from disk. No total
 * time limit applies, only the stall limit. Same returns as svc_http_get. */
int svc_http_post_form(svc_http_t *h, const char *path, const svc_http_part_t *parts, size_t n,
                       svc_http_answer_t *ans, svc_http_error_t *err);

/* Percent-encodes s for a query string. Returns a malloc'd string (caller frees) or NULL when
 * memory runs out. */
char *svc_http_escape(svc_http_t *h, const char *s);

/* Frees the answer's body and empties it. Accepts an empty answer. */
void svc_http_answer_deinit(svc_http_answer_t *ans);

#endif
