/*
 * http_client.c - the HTTP client of `mlptune sweep` on one libcurl easy handle.
 *
 * Every request starts with curl_easy_reset, then sets the options common to all requests and
 * its own: reset keeps the handle's live connections, so keep-alive works across requests while
 * no option of one request (a multipart body, a POST) leaks into the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http_client.h"
#include "mlpt_err.h"

#define MAX_URL 4096

struct svc_http {
    CURL *curl;
    char base[MAX_URL]; /* without trailing '/' */
    char *auth;         /* "Authorization: Bearer ..." or NULL */
    long timeout_s;
    char errbuf[CURL_ERROR_SIZE];
    volatile sig_atomic_t *abort_flag;
    svc_http_progress_fn progress;
    void *progress_user;
    int uploading; /* report upload progress for the request in flight */
    /* the answer being received */
    char *buf;
    size_t len, cap;
    int too_large;
};

static int fail(svc_http_error_t *err, int code, int transient, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(svc_http_error_t *err, int code, int transient, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->transient = transient;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

svc_http_t *svc_http_new(const char *base_url, const char *token, long timeout_s,
                         svc_http_error_t *err) {
    size_t len = base_url ? strlen(base_url) : 0;
    if (!base_url ||
        (strncasecmp(base_url, "http://", 7) != 0 && strncasecmp(base_url, "https://", 8) != 0)) {
        fail(err, MLPT_EINVAL, 0, "\"%s\" is not an http:// or https:// URL",
             base_url ? base_url : "");
        return NULL;
    }
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    if (len >= MAX_URL - 256) {
        fail(err, MLPT_EINVAL, 0, "the server URL is too long");
        return NULL;
    }
    for (const char *p = token; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            fail(err, MLPT_EINVAL, 0, "the token holds spaces or control characters");
            return NULL;
        }
    if (timeout_s < 1)
        timeout_s = 1;

    svc_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        fail(err, MLPT_ENOMEM, 0, "out of memory");
        return NULL;
    }
    memcpy(h->base, base_url, len);
    h->base[len] = '\0';
    h->timeout_s = timeout_s;
    if (token && *token) {
        size_t n = strlen("Authorization: Bearer ") + strlen(token) + 1;
        if (!(h->auth = malloc(n))) {
            free(h);
            fail(err, MLPT_ENOMEM, 0, "out of memory");
            return NULL;
        }
        snprintf(h->auth, n, "Authorization: Bearer %s", token);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(h->auth);
        free(h);
        fail(err, MLPT_EIO, 0, "libcurl could not be initialised");
        return NULL;
    }
    if (!(h->curl = curl_easy_init())) {
        curl_global_cleanup();
        free(h->auth);
        free(h);
        fail(err, MLPT_EIO, 0, "libcurl could not create a handle");
        return NULL;
    }
    return h;
}

void svc_http_free(svc_http_t *h) {
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    curl_global_cleanup();
    if (h->auth) /* the token does not outlive the client in memory */
        memset(h->auth, 0, strlen(h->auth));
    free(h->auth);
    free(h->buf);
    free(h);
}

void svc_http_set_abort_flag(svc_http_t *h, volatile sig_atomic_t *flag) {
    h->abort_flag = flag;
}

void svc_http_set_progress(svc_http_t *h, svc_http_progress_fn fn, void *user) {
    h->progress = fn;
    h->progress_user = user;
}

const char *svc_http_url(const svc_http_t *h, const char *path, char *buf, size_t size) {
    int n = snprintf(buf, size, "%s%s", h->base, path);
    if (n < 0 || (size_t)n >= size)
        buf[0] = '\0';
    return buf;
}

char *svc_http_escape(svc_http_t *h, const char *s) {
    char *e = curl_easy_escape(h->curl, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

void svc_http_answer_deinit(svc_http_answer_t *ans) {
    if (!ans)
        return;
    free(ans->body);
    memset(ans, 0, sizeof *ans);
}

/* ---- one request -------------------------------------------------------------------------- */

static size_t on_data(char *data, size_t size, size_t nmemb, void *user) {
    svc_http_t *h = user;
    size_t n = size * nmemb;
    if (n > SVC_HTTP_MAX_ANSWER - h->len) {
        h->too_large = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    if (h->len + n + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        while (cap < h->len + n + 1)
            cap *= 2;
        char *tmp = realloc(h->buf, cap);
        if (!tmp)
            return 0;
        h->buf = tmp;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, data, n);
    h->len += n;
    h->buf[h->len] = '\0';
    return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    svc_http_t *h = user;
    (void)dltotal;
    (void)dlnow;
    if (h->abort_flag && *h->abort_flag)
        return 1;
    if (h->uploading && h->progress)
        h->progress(h->progress_user, (double)ulnow, (double)ultotal);
    return 0;
}

static int is_transient(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

/* Sets what every request shares. Returns a CURLcode. */
static CURLcode set_common(svc_http_t *h, const char *url, int upload) {
    CURL *c = h->curl;
    long connect_s = h->timeout_s < 10 ? h->timeout_s : 10;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT, connect_s);
    SET(CURLOPT_TIMEOUT, upload ? 0L : h->timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, h->timeout_s);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, (void *)h);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, (void *)h);
    SET(CURLOPT_USERAGENT, "mlptune-sweep/1");
#undef SET
    return rc;
}

typedef enum { REQ_GET, REQ_JSON, REQ_FORM } req_kind_t;

static int perform(svc_http_t *h, req_kind_t kind, const char *path, const json_t *body,
                   const svc_http_part_t *parts, size_t n_parts, svc_http_answer_t *ans,
                   svc_http_error_t *err) {
    static const char *const method_names[] = {"GET", "POST", "POST"};
    const char *method = method_names[kind];
    char url[MAX_URL];
    struct curl_slist *headers = NULL, *tmp;
    curl_mime *mime = NULL;
    char *json_text = NULL;
    int rc = 0;

    memset(ans, 0, sizeof *ans);
    if (!path || path[0] != '/' || !*svc_http_url(h, path, url, sizeof url))
        return fail(err, MLPT_EINVAL, 0, "bad request path");
    curl_easy_reset(h->curl);
    h->errbuf[0] = '\0';
    h->len = 0;
    if (h->buf)
        h->buf[0] = '\0';
    h->too_large = 0;
    h->uploading = kind == REQ_FORM;
    if (set_common(h, url, kind == REQ_FORM) != CURLE_OK)
        return fail(err, MLPT_EIO, 0, "%s %s: libcurl refused an option", method, url);

    const char *lines[3] = {"Accept: application/json, application/problem+json",
                            kind == REQ_JSON ? "Content-Type: application/json" : NULL, h->auth};
    for (size_t i = 0; i < 3; i++) {
        if (!lines[i])
            continue;
        if (!(tmp = curl_slist_append(headers, lines[i]))) {
            rc = fail(err, MLPT_ENOMEM, 0, "out of memory");
            goto done;
        }
        headers = tmp;
    }
    CURLcode cc = curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
    if (cc == CURLE_OK && kind == REQ_JSON) {
        json_text = body ? json_dumps(body, JSON_COMPACT) : strdup("");
        if (!json_text) {
            rc = fail(err, MLPT_ENOMEM, 0, "out of memory");
            goto done;
        }
        cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json_text));
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json_text);
    }
    if (cc == CURLE_OK && kind == REQ_FORM) {
        if (!(mime = curl_mime_init(h->curl))) {
            rc = fail(err, MLPT_ENOMEM, 0, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_parts && cc == CURLE_OK; i++) {
            curl_mimepart *part = curl_mime_addpart(mime);
            if (!part) {
                rc = fail(err, MLPT_ENOMEM, 0, "out of memory");
                goto done;
            }
            cc = curl_mime_name(part, parts[i].name);
            if (cc == CURLE_OK && parts[i].path)
                cc = curl_mime_filedata(part, parts[i].path);
            else if (cc == CURLE_OK)
                cc = curl_mime_data(part, parts[i].value ? parts[i].value : "",
                                    CURL_ZERO_TERMINATED);
            if (cc == CURLE_OK && parts[i].path)
                cc = curl_mime_type(part, "application/octet-stream");
            if (cc != CURLE_OK && parts[i].path) {
                rc = fail(err, MLPT_EIO, 0, "%s: cannot be read for upload: %s", parts[i].path,
                          curl_easy_strerror(cc));
                goto done;
            }
        }
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, mime);
    }
    if (cc != CURLE_OK) {
        rc = fail(err, cc == CURLE_OUT_OF_MEMORY ? MLPT_ENOMEM : MLPT_EIO, 0,
                  "%s %s: cannot prepare the request: %s", method, url, curl_easy_strerror(cc));
        goto done;
    }

    cc = curl_easy_perform(h->curl);
    if (cc != CURLE_OK) {
        const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            rc = fail(err, MLPT_ESTOPPED, 0, "%s %s: interrupted", method, url);
        else if (h->too_large)
            rc = fail(err, MLPT_ELIMIT, 0, "%s %s: the answer is larger than %u MiB", method, url,
                      SVC_HTTP_MAX_ANSWER >> 20);
        else if (cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY)
            rc = fail(err, MLPT_ENOMEM, 0, "%s %s: out of memory", method, url);
        else if (cc == CURLE_READ_ERROR)
            rc = fail(err, MLPT_EIO, 0, "%s %s: a file being uploaded could not be read: %s",
                      method, url, why);
        else {
            long os_errno = 0;
            curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
            const char *sys = os_errno ? strerror((int)os_errno) : "";
            rc = fail(err, MLPT_EIO, is_transient(cc), "%s %s: %s%s%s%s", method, url, why,
                      *sys && !strstr(why, sys) ? " (" : "", *sys && !strstr(why, sys) ? sys : "",
                      *sys && !strstr(why, sys) ? ")" : "");
        }
        goto done;
    }
    char *type = NULL;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &ans->status);
    if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
        snprintf(ans->content_type, sizeof ans->content_type, "%s", type);
    /* Hand the buffer over; an empty answer still gets a "" body. */
    ans->body = h->buf ? h->buf : strdup("");
    if (!ans->body) {
        rc = fail(err, MLPT_ENOMEM, 0, "out of memory");
        goto done;
    }
    ans->len = h->len;
    h->buf = NULL;
    h->len = h->cap = 0;
done:
    if (rc)
        svc_http_answer_deinit(ans);
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    free(json_text);
    /* the options pointed at the freed header list and body: drop them before anyone reuses */
    curl_easy_reset(h->curl);
    return rc;
}

int svc_http_get(svc_http_t *h, const char *path, svc_http_answer_t *ans, svc_http_error_t *err) {
    return perform(h, REQ_GET, path, NULL, NULL, 0, ans, err);
}

int svc_http_post_json(svc_http_t *h, const char *path, const json_t *body, svc_http_answer_t *ans,
                       svc_http_error_t *err) {
    return perform(h, REQ_JSON, path, body, NULL, 0, ans, err);
}

int svc_http_post_form(svc_http_t *h, const char *path, const svc_http_part_t *parts, size_t n,
                       svc_http_answer_t *ans, svc_http_error_t *err) {
    return perform(h, REQ_FORM, path, NULL, parts, n, ans, err);
}
