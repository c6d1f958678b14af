/*
 * api/origin.c - the Host, Origin / Sec-Fetch-Site and Cookie policy of origin.h. Pure.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "origin.h"

static int name_char(unsigned char c) {
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Parses the digits of s[0..n) as a port. Returns it, -1 for no digits, -2 for anything bad. */
static int parse_port(const char *s, size_t n) {
    long v = 0;
    if (n == 0)
        return -1;
    if (n > 5)
        return -2;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -2;
        v = v * 10 + (s[i] - '0');
    }
    return v > 65535 ? -2 : (int)v;
}

int api_host_split(const char *host, char *name, size_t cap, int *port) {
    const char *end, *colon = NULL;
    size_t n;
    if (!host || !*host || cap == 0)
        return -1;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end)
            return -1;
        n = (size_t)(end - host) + 1; /* brackets included */
        char inner[64];
        if (n - 2 == 0 || n - 2 >= sizeof(inner))
            return -1;
        memcpy(inner, host + 1, n - 2);
        inner[n - 2] = '\0';
        unsigned char bin[16];
        if (inet_pton(AF_INET6, inner, bin) != 1)
            return -1;
        if (end[1] == ':')
            colon = end + 1;
        else if (end[1] != '\0')
            return -1;
    } else {
        colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : strlen(host);
        for (size_t i = 0; i < n; i++)
            if (!name_char((unsigned char)host[i]))
                return -1;
        if (n > 1 && host[n - 1] == '.')
            n--; /* "localhost." names the same host as "localhost" */
        if (n == 0 || host[n - 1] == '.')
            return -1; /* "", ".", "a..": an empty last label names no host */
    }
    if (n >= cap)
        return -1;
    int p = -1;
    if (colon) {
        p = parse_port(colon + 1, strlen(colon + 1));
        if (p == -2)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)host[i]);
    name[n] = '\0';
    *port = p;
    return 0;
}

/* The address an IP-literal host name spells (bracketed IPv6 or dotted IPv4): its family, or 0
 * for a name that is not an IP literal. */
static int ip_literal(const char *name, unsigned char bin[16]) {
    if (name[0] == '[') {
        char inner[64];
        size_t n = strlen(name);
        if (n < 3 || n - 2 >= sizeof(inner))
            return 0;
        memcpy(inner, name + 1, n - 2);
        inner[n - 2] = '\0';
        return inet_pton(AF_INET6, inner, bin) == 1 ? AF_INET6 : 0;
    }
    return inet_pton(AF_INET, name, bin) == 1 ? AF_INET : 0;
}

int api_host_policy_init(api_host_policy_t *p, const char *bind, const char *allowed, char *why,
                         size_t why_cap) {
    memset(p, 0, sizeof(*p));
    if (!bind)
        bind = "127.0.0.1";
    if (inet_pton(AF_INET, bind, p->bind_addr) == 1)
        p->bind_family = AF_INET;
    else if (inet_pton(AF_INET6, bind, p->bind_addr) == 1)
        p->bind_family = AF_INET6;
    static const unsigned char zero[16];
    if (p->bind_family)
        p->any_ip = memcmp(p->bind_addr, zero, p->bind_family == AF_INET ? 4 : 16) == 0;
    for (const char *s = allowed; s && *s;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char entry[API_HOST_NAME_MAX + 8];
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            int port = -1;
            if (p->n_allowed == API_MAX_ALLOWED_HOSTS || n >= sizeof(entry)) {
                if (why)
                    snprintf(why, why_cap, "more than %d host names, or one too long",
                             API_MAX_ALLOWED_HOSTS);
                return -1;
            }
            memcpy(entry, s, n);
            entry[n] = '\0';
            api_allowed_host_t *h = &p->allowed[p->n_allowed];
            if (api_host_split(entry, h->name, sizeof(h->name), &port) != 0) {
                if (why)
                    snprintf(why, why_cap, "\"%s\" is not a host name with an optional port",
                             entry);
                return -1;
            }
            h->port = port;
            p->n_allowed++;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    return 0;
}

int api_host_allowed(const api_host_policy_t *p, const char *host) {
    char name[API_HOST_NAME_MAX];
    unsigned char bin[16];
    int port;
    if (!host)
        return 1;
    if (api_host_split(host, name, sizeof(name), &port) != 0)
        return 0;
    if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "[::1]"))
        return 1;
    int fam = ip_literal(name, bin);
    if (fam && p->any_ip)
        return 1;
    if (fam && fam == p->bind_family && memcmp(bin, p->bind_addr, fam == AF_INET ? 4 : 16) == 0)
        return 1;
    for (size_t i = 0; i < p->n_allowed; i++) {
        const api_allowed_host_t *h = &p->allowed[i];
        if (strcmp(h->name, name) != 0)
            continue;
        if (h->port < 0 || h->port == port)
            return 1;
    }
    return 0;
}

int api_origin_matches(const char *origin, const char *host, int tls) {
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    int def = tls ? 443 : 80;
    char on[API_HOST_NAME_MAX], hn[API_HOST_NAME_MAX];
    int op, hp;
    if (!origin || !host || strncasecmp(origin, scheme, sl) != 0)
        return 0;
    const char *rest = origin + sl;
    if (strpbrk(rest, "/@?#")) /* an origin has no path, userinfo, query or fragment */
        return 0;
    if (api_host_split(rest, on, sizeof(on), &op) != 0 ||
        api_host_split(host, hn, sizeof(hn), &hp) != 0)
        return 0;
    return strcmp(on, hn) == 0 && (op < 0 ? def : op) == (hp < 0 ? def : hp);
}

const char *api_cross_site_refusal(api_method_t method, const char *origin, const char *fetch_site,
                                   const char *host, int tls) {
    if (method == API_GET || method == API_HEAD || method == API_OPTIONS)
        return NULL;
    if (fetch_site && strcasecmp(fetch_site, "same-origin") != 0 &&
        strcasecmp(fetch_site, "none") != 0)
        return "a request that changes something must come from this service's own pages "
               "(Sec-Fetch-Site is not same-origin)";
    if (origin && !api_origin_matches(origin, host, tls))
        return "a request that changes something must come from this service's own pages "
               "(Origin is not this service's origin)";
    return NULL;
}

int api_cookie_next(const char **cursor, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    const char *s = *cursor;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *next = s + len;
        if (len > nl && strncmp(s, name, nl) == 0 && s[nl] == '=') {
            const char *v = s + nl + 1;
            size_t vl = len - nl - 1;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
                v++, vl -= 2;
            if (vl < cap) {
                memcpy(out, v, vl);
                out[vl] = '\0';
                *cursor = next;
                return 1;
            }
        }
        s = next;
    }
    *cursor = s;
    return 0;
}
