/*
 * api/framing.h - the checks RFC 9112 asks of a request's framing headers before its body is
 * read, which libmicrohttpd 0.9.75 does not make (it takes the first of two Content-Length
 * headers, prefers Transfer-Encoding over Content-Length, and accepts HTTP/1.1 without Host):
 * a request that two parties could frame differently is refused with 400 and its connection
 * closed, so no byte after its headers is ever read as another request (request smuggling).
 *
 * Refused: more than one Content-Length header (even with equal values), a Content-Length
 * that is not 1*DIGIT, Content-Length together with Transfer-Encoding, a Transfer-Encoding
 * other than exactly one "chunked", an HTTP/1.1 request without a Host header, and two Host
 * headers in any version.
 *
 * Pure (no libmicrohttpd): http.c feeds it every request header in order. Private to api/.
 */
#ifndef API_FRAMING_H
#define API_FRAMING_H

#include <stddef.h>

typedef struct api_framing {
    unsigned n_length, n_encoding, n_host;
    int bad_length;   /* a Content-Length value that is not 1*DIGIT */
    int bad_encoding; /* a Transfer-Encoding value other than "chunked" */
} api_framing_t;

/* Starts a check (all counts 0). */
void api_framing_init(api_framing_t *f);

/* Notes one request header (name case-insensitive; value as received, NULL taken as ""). */
void api_framing_header(api_framing_t *f, const char *name, const char *value);

/* The verdict once every header is in: 0 when the framing is unambiguous, or MLPT_EFORMAT (the
 * request is malformed) with a one-sentence reason in detail (cap bytes, NUL-terminated).
 * version: the request line's ("HTTP/1.1"; Host is required from HTTP/1.1 on; NULL taken as
 * HTTP/1.0). */
int api_framing_verdict(const api_framing_t *f, const char *version, char *detail, size_t cap);

#endif
