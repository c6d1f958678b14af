/*
 * api/router.c - the static route table and the pure matcher: method + path -> route and its
 * {id} parameter, or 404, or 405 with the allowed methods. No allocation, no I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "router.h"

const api_route_t api_routes[API_ROUTE_COUNT] = {
#define API_ROUTE_ROW(id, method, pattern, body, handler) {API_R_##id, method, pattern, body},
    API_ROUTES(API_ROUTE_ROW)
#undef API_ROUTE_ROW
};

static const char *const method_names[API_METHOD_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
};

const char *api_method_name(api_method_t m) {
    return (unsigned)m < API_METHOD_COUNT ? method_names[m] : "OTHER";
}

api_method_t api_method_parse(const char *s) {
    for (int m = 0; s && m < API_METHOD_OTHER; m++)
        if (strcmp(s, method_names[m]) == 0)
            return (api_method_t)m;
    return API_METHOD_OTHER;
}

const char *api_query(const api_request_t *req, const char *key) {
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

int api_pattern_match(const char *pattern, const char *path, char *param) {
    const char *p = pattern, *s = path;
    if (param)
        param[0] = '\0';
    while (*p && *s) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            if (n == 0 || n >= API_MAX_PARAM)
                return 0;
            if (param) {
                memcpy(param, s, n);
                param[n] = '\0';
            }
            p += 4;
            s += n;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

api_match_status_t api_route_match(api_method_t method, const char *path, api_match_t *m) {
    memset(m, 0, sizeof(*m));
    if (!path)
        return API_MATCH_NOT_FOUND;
    api_method_t want = method == API_HEAD ? API_GET : method;
    for (size_t i = 0; i < API_ROUTE_COUNT; i++) {
        char param[API_MAX_PARAM];
        if (!api_pattern_match(api_routes[i].pattern, path, param))
            continue;
        if (api_routes[i].method == want) {
            m->route = &api_routes[i];
            memcpy(m->param, param, sizeof(param));
            m->allow = 0;
            return API_MATCH_OK;
        }
        m->allow |= 1u << api_routes[i].method;
        if (api_routes[i].method == API_GET)
            m->allow |= 1u << API_HEAD;
    }
    return m->allow ? API_MATCH_NOT_ALLOWED : API_MATCH_NOT_FOUND;
}

void api_allow_format(unsigned allow, char *buf, size_t cap) {
    size_t used = 0;
    if (cap == 0)
        return;
    buf[0] = '\0';
    for (int m = 0; m < API_METHOD_OTHER; m++) {
        if (!(allow & (1u << m)))
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", method_names[m]);
        if (n < 0 || (size_t)n >= cap - used) {
            buf[used] = '\0'; /* whole names only */
            return;
        }
        used += (size_t)n;
    }
}

int api_parse_uint(const char *s, uint64_t max, uint64_t *out) {
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int api_parse_id(const char *s, int64_t *id) {
    uint64_t v;
    if (!s || s[0] == '0' || api_parse_uint(s, INT64_MAX, &v) != 0)
        return -1;
    *id = (int64_t)v;
    return 0;
}
