/*
 * tests/support/api_http_client.h - a tiny blocking HTTP/1.x client for the API tests: send a
 * raw request, read one response (Content-Length, chunked, or up to the close), split status,
 * headers and body. Header-only (static inline); include after <cmocka.h>.
 */
#ifndef API_HTTP_CLIENT_H
#define API_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct fx_res {
    int status;
    char head[8192]; /* status line and headers, NUL-terminated */
    char *body;      /* malloc'd, NUL-terminated */
    size_t len;
} fx_res_t;

static inline void fx_res_free(fx_res_t *r) {
    free(r->body);
    r->body = NULL;
}

/* The value of header name (case-insensitive) copied into out, or "" when absent. */
static inline const char *fx_header(const fx_res_t *r, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            break;
        }
    }
    return out;
}

/* A connected socket to 127.0.0.1:port (receive timeout 60 s). */
static inline int fx_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    struct timeval tv = {60, 0};
    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static inline void fx_send(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413): the response is still readable */
        p += n;
        len -= (size_t)n;
    }
}

/* Reads one response from fd. head_only: a HEAD request (no body). */
static inline void fx_read(int fd, fx_res_t *r, int head_only) {
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    char *end = NULL;
    assert_non_null(buf);
    memset(r, 0, sizeof(*r));
    for (;;) { /* until the end of the headers */
        buf[got] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    assert_true(hlen < sizeof(r->head));
    memcpy(r->head, buf, hlen);
    r->head[hlen] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1);
    char v[64];
    long length = -1;
    int chunked = strcasecmp(fx_header(r, "Transfer-Encoding", v, sizeof(v)), "chunked") == 0;
    if (*fx_header(r, "Content-Length", v, sizeof(v)))
        length = atol(v);
    if (head_only || r->status == 204 || r->status == 304)
        length = 0;
    memmove(buf, buf + hlen, got - hlen);
    got -= hlen;
    for (;;) { /* the body: by length, or to the close (chunks are decoded below) */
        if (length >= 0 && got >= (size_t)length)
            break;
        if (got + 1 >= cap) {
            cap *= 2;
            char *tmp = realloc(buf, cap);
            assert_non_null(tmp);
            buf = tmp;
        }
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (chunked && length < 0 && got >= 5 && memcmp(buf + got - 5, "0\r\n\r\n", 5) == 0)
            break;
    }
    if (length >= 0)
        got = (size_t)length;
    if (chunked) { /* decode in place */
        size_t in = 0, out = 0;
        while (in < got) {
            size_t size = strtoul(buf + in, NULL, 16);
            char *crlf = strstr(buf + in, "\r\n");
            if (!crlf || size == 0)
                break;
            in = (size_t)(crlf - buf) + 2;
            memmove(buf + out, buf + in, size);
            out += size;
            in += size + 2;
        }
        got = out;
    }
    buf[got] = '\0';
    r->body = buf;
    r->len = got;
}

/* One request on a new connection ("Connection: close" is the caller's to add). */
static inline void fx_request(uint16_t port, const char *req, size_t len, fx_res_t *r) {
    int fd = fx_connect(port);
    fx_send(fd, req, len);
    fx_read(fd, r, strncmp(req, "HEAD ", 5) == 0);
    close(fd);
}

#endif
