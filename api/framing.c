/*
 * api/framing.c - request framing checks against smuggling (see framing.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "framing.h"
#include "mlpt_err.h"

void api_framing_init(api_framing_t *f) {
    f->n_length = f->n_encoding = f->n_host = 0;
    f->bad_length = f->bad_encoding = 0;
}

static int all_digits(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

void api_framing_header(api_framing_t *f, const char *name, const char *value) {
    if (!name)
        return;
    if (!value)
        value = "";
    if (strcasecmp(name, "Content-Length") == 0) {
        f->n_length++;
        /* digits only: a sign, a list ("2, 2"), spaces or a 0x prefix are each read
         * differently by some parser on the way */
        if (!all_digits(value))
            f->bad_length = 1;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        f->n_encoding++;
        /* the only coding the server decodes; "gzip, chunked" or "chunked, identity" would be
         * framed by one party and not by another */
        if (strcasecmp(value, "chunked") != 0)
            f->bad_encoding = 1;
    } else if (strcasecmp(name, "Host") == 0) {
        f->n_host++;
    }
}

int api_framing_verdict(const api_framing_t *f, const char *version, char *detail, size_t cap) {
    const char *why = NULL;
    int http11 =
        version && strncmp(version, "HTTP/1.", 7) == 0 && version[7] >= '1' && version[7] <= '9';
    if (f->n_length && f->n_encoding)
        why = "a request may not carry both Content-Length and Transfer-Encoding";
    else if (f->n_length > 1)
        why = "a request may carry only one Content-Length header";
    else if (f->bad_length)
        why = "Content-Length must be a decimal number of bytes";
    else if (f->n_encoding > 1)
        why = "a request may carry only one Transfer-Encoding header";
    else if (f->bad_encoding)
        why = "the only Transfer-Encoding accepted is chunked";
    else if (f->n_host > 1)
        why = "a request may carry only one Host header";
    else if (http11 && f->n_host == 0)
        why = "an HTTP/1.1 request needs a Host header";
    if (!why)
        return 0;
    if (cap)
        snprintf(detail, cap, "%s", why);
    return MLPT_EFORMAT;
}
