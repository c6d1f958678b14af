/*
 * tests/fuzz/fuzz_router.c - libFuzzer harness for the pure route matcher (api/router.h).
 *
 * Input: [method byte] [path bytes]. The method is byte % API_METHOD_COUNT; the path is the rest,
 * up to its first NUL (as the HTTP layer hands it over: percent-decoded, no query).
 *
 * A second matcher written here, segment by segment (literal segments equal, "{id}" one non-empty
 * segment shorter than API_MAX_PARAM), is the oracle. Invariants:
 *   - api_pattern_match agrees with the oracle for every pattern of the table, and its param is
 *     the path's segment at the pattern's "{id}" ("" for a pattern without one);
 *   - api_route_match: OK only with the first route whose pattern matches and whose method is the
 *     request's (GET for HEAD), its param included; NOT_ALLOWED exactly when patterns match but
 *     none with that method, allow then being the methods of those routes (HEAD with GET);
 *     NOT_FOUND exactly when no pattern matches;
 *   - api_parse_id accepts exactly the positive decimals without sign or leading zero up to
 *     INT64_MAX (checked on the matched param and on the raw path), api_parse_uint exactly the
 *     digit strings up to its max, with the right value;
 *   - api_allow_format writes whole method names only, terminated within the capacity;
 *   - api_method_parse(api_method_name(m)) == m.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_types.h"
#include "fuzz_util.h"
#include "router.h"

/* The oracle: does path match pattern, segment by segment? Sets param to the {id} segment. */
static int oracle_match(const char *pattern, const char *path, char *param, size_t cap) {
    const char *p = pattern, *s = path;
    param[0] = '\0';
    for (;;) {
        size_t pn = strcspn(p, "/"), sn = strcspn(s, "/");
        if (pn == 4 && memcmp(p, "{id}", 4) == 0) {
            if (sn == 0 || sn >= API_MAX_PARAM || sn >= cap)
                return 0;
            memcpy(param, s, sn);
            param[sn] = '\0';
        } else if (pn != sn || memcmp(p, s, pn) != 0) {
            return 0;
        }
        p += pn;
        s += sn;
        if (*p == '\0' || *s == '\0')
            return *p == '\0' && *s == '\0';
        p++; /* both at '/' */
        s++;
    }
}

/* The oracle for api_parse_uint: digits only, at least one, value <= max. */
static int oracle_uint(const char *s, uint64_t max, uint64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || strspn(s, "0123456789") != n)
        return -1;
    unsigned __int128 v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static void check_parse(const char *s, uint64_t max) {
    uint64_t a = 0, b = 0;
    int ra = api_parse_uint(s, max, &a), rb = oracle_uint(s, max, &b);
    FUZZ_CHECK(ra == rb && (ra != 0 || a == b),
               "api_parse_uint(\"%s\", %llu): %d %llu, want %d %llu", s, (unsigned long long)max,
               ra, (unsigned long long)a, rb, (unsigned long long)b);
    int64_t id = 0;
    int ri = api_parse_id(s, &id);
    int want = s[0] != '0' && oracle_uint(s, INT64_MAX, &b) == 0 ? 0 : -1;
    FUZZ_CHECK(ri == want && (ri != 0 || (id > 0 && (uint64_t)id == b)),
               "api_parse_id(\"%s\"): %d %lld, want %d", s, ri, (long long)id, want);
}

static void check_allow(unsigned allow, size_t cap) {
    char *buf = malloc(cap); /* exact size: ASan sees a write past it */
    FUZZ_CHECK(buf, "malloc");
    api_allow_format(allow, buf, cap);
    FUZZ_CHECK(memchr(buf, '\0', cap) != NULL, "allow list not terminated in %zu bytes", cap);
    /* Every item is a whole method name of the mask, in enum order. */
    const char *p = buf;
    int last = -1;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int m = 0; m < API_METHOD_OTHER; m++)
            if (strlen(api_method_name((api_method_t)m)) == n &&
                memcmp(p, api_method_name((api_method_t)m), n) == 0)
                found = m;
        FUZZ_CHECK(found > last && (allow & (1u << found)), "allow list \"%s\" for mask %#x", buf,
                   allow);
        last = found;
        p += n;
        if (*p == ',') {
            FUZZ_CHECK(p[1] == ' ' && p[2] != '\0', "allow list \"%s\"", buf);
            p += 2;
        }
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    api_method_t method = (api_method_t)(fuzz_take(&data, &size, 1) % API_METHOD_COUNT);
    char *path = malloc(size + 1);
    FUZZ_CHECK(path, "malloc");
    memcpy(path, data, size);
    path[size] = '\0';

    FUZZ_CHECK(api_method_parse(api_method_name(method)) == method, "method %d", (int)method);
    api_method_t want = method == API_HEAD ? API_GET : method;

    int first_ok = -1;
    unsigned allow = 0;
    char first_param[API_MAX_PARAM] = "";
    for (size_t i = 0; i < API_ROUTE_COUNT; i++) {
        const api_route_t *r = &api_routes[i];
        FUZZ_CHECK(r->id == (api_route_id_t)i, "route %zu has id %d", i, (int)r->id);
        char got[API_MAX_PARAM], exp[API_MAX_PARAM];
        memset(got, 'x', sizeof(got));
        int a = api_pattern_match(r->pattern, path, got);
        int b = oracle_match(r->pattern, path, exp, sizeof(exp));
        FUZZ_CHECK(a == b, "pattern %s, path \"%s\": matcher %d, oracle %d", r->pattern, path, a,
                   b);
        FUZZ_CHECK(api_pattern_match(r->pattern, path, NULL) == a, "a NULL param changes it");
        if (!a)
            continue;
        FUZZ_CHECK(strcmp(got, exp) == 0, "pattern %s, path \"%s\": param \"%s\", want \"%s\"",
                   r->pattern, path, got, exp);
        FUZZ_CHECK(strchr(got, '/') == NULL &&
                       (got[0] != '\0') == (strstr(r->pattern, "{id}") != NULL),
                   "param \"%s\" for pattern %s", got, r->pattern);
        check_parse(got, INT64_MAX);
        if (r->method == want && first_ok < 0) {
            first_ok = (int)i;
            memcpy(first_param, got, sizeof(got));
        }
        allow |= 1u << r->method;
        if (r->method == API_GET)
            allow |= 1u << API_HEAD;
    }

    api_match_t m;
    memset(&m, 0x5A, sizeof(m));
    api_match_status_t st = api_route_match(method, path, &m);
    if (first_ok >= 0) {
        FUZZ_CHECK(st == API_MATCH_OK && m.route == &api_routes[first_ok] && m.allow == 0 &&
                       strcmp(m.param, first_param) == 0,
                   "%s %s: status %d, want route %d", api_method_name(method), path, (int)st,
                   first_ok);
        FUZZ_CHECK(api_pattern_match(m.route->pattern, path, NULL) == 1,
                   "the route does not match");
    } else if (allow) {
        FUZZ_CHECK(st == API_MATCH_NOT_ALLOWED && m.route == NULL && m.allow == allow,
                   "%s %s: status %d allow %#x, want 405 with %#x", api_method_name(method), path,
                   (int)st, m.allow, allow);
        check_allow(m.allow, 1 + size % 40);
        check_allow(m.allow, 64);
    } else {
        FUZZ_CHECK(st == API_MATCH_NOT_FOUND && m.route == NULL && m.allow == 0,
                   "%s %s: status %d, want 404", api_method_name(method), path, (int)st);
    }

    /* The id and integer parsers on the raw path (and on what follows its last '/'). */
    const char *tail = strrchr(path, '/');
    check_parse(path, INT64_MAX);
    check_parse(tail ? tail + 1 : path, (uint64_t)size * 1000);
    check_parse(path, UINT64_MAX);
    free(path);
    return 0;
}
