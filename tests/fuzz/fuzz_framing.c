/*
 * tests/fuzz/fuzz_framing.c - libFuzzer harness for the request framing checks
 * (api/framing.h) that refuse smuggling-prone requests before their body is read.
 *
 * Input: [version byte] then header lines "name:value", separated by '\n' (a line without ':'
 * is a name with an empty value). The version byte picks the request line's version: HTTP/1.0,
 * HTTP/1.1, HTTP/1.9, HTTP/2.0, "HTTP/1." or NULL.
 *
 * The oracle, written here from RFC 9112's rules as framing.h states them: a request is refused
 * (MLPT_EFORMAT, with a non-empty reason that fits the buffer) exactly when it has Content-Length
 * and Transfer-Encoding together, more than one of either, a Content-Length that is not 1*DIGIT, a
 * Transfer-Encoding other than "chunked" (any case), more than one Host, or no Host on
 * HTTP/1.1 or later 1.x; otherwise the verdict is 0. Header names compare case-insensitively.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framing.h"
#include "fuzz_util.h"
#include "mlpt_err.h"

static int digits_only(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const versions[] = {"HTTP/1.0", "HTTP/1.1", "HTTP/1.9",
                                           "HTTP/2.0", "HTTP/1.",  NULL};
    const char *version = versions[fuzz_take(&data, &size, 1) % 6];
    int http11 = version && (!strcmp(version, "HTTP/1.1") || !strcmp(version, "HTTP/1.9"));
    char *buf = malloc(size + 1);
    FUZZ_CHECK(buf, "malloc");
    memcpy(buf, data, size);
    buf[size] = '\0';

    api_framing_t f;
    api_framing_init(&f);
    unsigned n_len = 0, n_te = 0, n_host = 0;
    int bad_len = 0, bad_te = 0;
    for (char *line = buf; line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        const char *value = "";
        if (colon) {
            *colon = '\0';
            value = colon + 1;
        }
        api_framing_header(&f, line, value);
        if (!strcasecmp(line, "Content-Length")) {
            n_len++;
            bad_len |= !digits_only(value);
        } else if (!strcasecmp(line, "Transfer-Encoding")) {
            n_te++;
            bad_te |= strcasecmp(value, "chunked") != 0;
        } else if (!strcasecmp(line, "Host")) {
            n_host++;
        }
        line = next;
    }
    api_framing_header(&f, NULL, "ignored"); /* no name: nothing noted */
    int refuse = (n_len && n_te) || n_len > 1 || bad_len || n_te > 1 || bad_te || n_host > 1 ||
                 (http11 && n_host == 0);
    char detail[48];
    memset(detail, 'x', sizeof detail);
    int v = api_framing_verdict(&f, version, detail, sizeof detail);
    FUZZ_CHECK(v == (refuse ? MLPT_EFORMAT : 0),
               "verdict %d, oracle %d (CL %u%s, TE %u%s, Host %u, %s)", v, refuse, n_len,
               bad_len ? " bad" : "", n_te, bad_te ? " bad" : "", n_host,
               version ? version : "no version");
    if (v)
        FUZZ_CHECK(memchr(detail, '\0', sizeof detail) && detail[0], "reason not terminated");
    FUZZ_CHECK(api_framing_verdict(&f, version, NULL, 0) == v, "verdict depends on the buffer");
    free(buf);
    return 0;
}
