/*
 * tests/fuzz/fuzz_origin.c - libFuzzer harness for the browser-facing header parsers of
 * api/origin.h: Host splitting, the allowed-host policy, Origin matching, the cross-site refusal
 * and the Cookie iterator. Their inputs come straight from any client's headers.
 *
 * Input: [capacity byte] then up to five NUL-separated strings: a Host value, an Origin value, a
 * Sec-Fetch-Site value, a Cookie header and an --allowed-hosts list (a missing string is NULL).
 *
 * Invariants:
 *   - api_host_split: an accepted name is terminated inside the buffer, lower case, made of name
 *     characters (or a bracketed IPv6 literal), the port is -1 or 0..65535, and splitting the
 *     name (with its port put back) again gives the same name and port;
 *   - api_host_allowed never allows a Host value that api_host_split refuses, and allows every
 *     entry the allowed-host list was built from;
 *   - a Host's own origin ("http://" + Host, or "https://" with TLS) matches it exactly when the
 *     Host splits;
 *   - api_cross_site_refusal never refuses a safe method, nor an unsafe one with neither header,
 *     and never lets through an Origin that does not match;
 *   - api_cookie_next copies values that fit their buffer, hold no ';', move the cursor forward
 *     inside the header, and ends within as many calls as the header has bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "origin.h"

#define N_PARTS 5

static int lower_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

static void check_split(const char *host, size_t cap) {
    char *name = malloc(cap);
    FUZZ_CHECK(name, "malloc");
    int port = -7;
    if (api_host_split(host, name, cap, &port) == 0) {
        size_t n = strnlen(name, cap);
        FUZZ_CHECK(n < cap && n > 0, "name of \"%s\" not terminated in %zu bytes", host, cap);
        FUZZ_CHECK(port >= -1 && port <= 65535, "port %d of \"%s\"", port, host);
        if (name[0] == '[') {
            FUZZ_CHECK(name[n - 1] == ']', "\"%s\" -> \"%s\"", host, name);
        } else {
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(lower_name_char(name[i]), "\"%s\" -> \"%s\"", host, name);
        }
        char again[API_HOST_NAME_MAX + 16], name2[API_HOST_NAME_MAX];
        int port2 = -7;
        if (port >= 0)
            snprintf(again, sizeof(again), "%s:%d", name, port);
        else
            snprintf(again, sizeof(again), "%s", name);
        if (n < API_HOST_NAME_MAX) {
            FUZZ_CHECK(api_host_split(again, name2, sizeof(name2), &port2) == 0,
                       "\"%s\" (from \"%s\") refused", again, host);
            FUZZ_CHECK(strcmp(name, name2) == 0 && port == port2, "\"%s\" -> \"%s\" %d, then %d",
                       host, name2, port, port2);
        }
    }
    free(name);
}

static void check_cookies(const char *header, size_t cap) {
    char *out = malloc(cap);
    FUZZ_CHECK(out, "malloc");
    const char *cursor = header, *prev = header;
    size_t len = header ? strlen(header) : 0, calls = 0;
    static const char *const names[] = {"mlptune_session", "a", ""};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        cursor = prev = header;
        calls = 0;
        while (api_cookie_next(&cursor, names[k], out, cap)) {
            FUZZ_CHECK(++calls <= len + 1, "more values than bytes in \"%s\"", header);
            FUZZ_CHECK(strnlen(out, cap) < cap, "value not terminated");
            FUZZ_CHECK(strchr(out, ';') == NULL, "value \"%s\" holds ';'", out);
            FUZZ_CHECK(cursor > prev && cursor <= header + len, "cursor did not move forward");
            prev = cursor;
        }
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t cap = 1 + (size_t)fuzz_take(&data, &size, 1);
    char *buf = malloc(size + 1);
    FUZZ_CHECK(buf, "malloc");
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *part[N_PARTS] = {0};
    char *s = buf;
    for (int i = 0; i < N_PARTS && s <= buf + size; i++) {
        part[i] = s;
        s += strlen(s) + 1;
    }
    const char *host = part[0], *origin = part[1], *site = part[2], *cookie = part[3];

    if (host)
        check_split(host, cap);

    api_host_policy_t policy;
    if (api_host_policy_init(&policy, NULL, part[4], NULL, 0) == 0) {
        char nm[API_HOST_NAME_MAX];
        int port;
        if (host && api_host_allowed(&policy, host))
            FUZZ_CHECK(api_host_split(host, nm, sizeof(nm), &port) == 0,
                       "\"%s\" allowed but refused by the splitter", host);
        for (size_t i = 0; i < policy.n_allowed; i++) {
            char entry[API_HOST_NAME_MAX + 16];
            int p = policy.allowed[i].port;
            snprintf(entry, sizeof(entry), p >= 0 ? "%s:%d" : "%s", policy.allowed[i].name, p);
            if (strlen(policy.allowed[i].name) + 1 < API_HOST_NAME_MAX)
                FUZZ_CHECK(api_host_allowed(&policy, entry), "entry \"%s\" not allowed", entry);
        }
    }

    if (host && strlen(host) < API_HOST_NAME_MAX) {
        char own[API_HOST_NAME_MAX + 16], nm[API_HOST_NAME_MAX];
        int port;
        int splits = api_host_split(host, nm, sizeof(nm), &port) == 0;
        for (int tls = 0; tls <= 1; tls++) {
            snprintf(own, sizeof(own), "%s%s", tls ? "https://" : "http://", host);
            FUZZ_CHECK(api_origin_matches(own, host, tls) == splits,
                       "own origin \"%s\" of \"%s\": %d", own, host, splits);
        }
    }

    static const api_method_t safe[] = {API_GET, API_HEAD, API_OPTIONS};
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        FUZZ_CHECK(api_cross_site_refusal(safe[i], origin, site, host, 0) == NULL,
                   "safe method refused");
    FUZZ_CHECK(api_cross_site_refusal(API_POST, NULL, NULL, host, 0) == NULL,
               "a request with neither header refused");
    if (origin && api_cross_site_refusal(API_DELETE, origin, site, host, 0) == NULL)
        FUZZ_CHECK(api_origin_matches(origin, host, 0), "foreign origin \"%s\" for \"%s\" passed",
                   origin, host ? host : "(none)");

    check_cookies(cookie, cap);
    free(buf);
    return 0;
}
