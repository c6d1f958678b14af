/*
 * api/origin.h - who may talk to the service from a browser: the Host names it answers for (DNS
 * rebinding), whether a state-changing request comes from the service's own origin (Origin,
 * Sec-Fetch-Site: cross-site request forgery), and the Cookie header's values.
 *
 * The policy (docs/ARCHITECTURE.md, Security):
 *   - Host: the name must be one the service answers for: the bind address, a localhost name
 *     (localhost, 127.0.0.1, [::1]), any IP literal when bound to a wildcard (0.0.0.0, ::), or an
 *     --allowed-hosts entry. The port is not compared, except for an entry that names one: DNS
 *     rebinding forges the name (the attacker's), never the port, and SSH tunnels and proxies
 *     change the port. A request without Host (HTTP/1.0) passes: no browser sends one.
 *   - Unsafe methods (anything but GET, HEAD, OPTIONS): an Origin header, when present, must be
 *     the request's own scheme://host[:port] (ports compared with the scheme's default filled in;
 *     "null" never matches), and Sec-Fetch-Site, when present, "same-origin" or "none". Requests
 *     with neither (curl, scripts) pass.
 * Pure functions, no allocation: any thread.
 */
#ifndef API_ORIGIN_H
#define API_ORIGIN_H

#include <stddef.h>

#include "api_types.h"

#define API_MAX_ALLOWED_HOSTS 32
#define API_HOST_NAME_MAX 256 /* bytes of a host name, NUL included */

typedef struct api_allowed_host {
    char name[API_HOST_NAME_MAX]; /* lower case, no trailing dot; IPv6 in brackets */
    int port;                     /* -1: any port */
} api_allowed_host_t;

typedef struct api_host_policy {
    int bind_family; /* AF_INET or AF_INET6 (0 when the bind is not an address) */
    unsigned char bind_addr[16];
    int any_ip; /* bound to a wildcard: every IP literal is one of ours */
    api_allowed_host_t allowed[API_MAX_ALLOWED_HOSTS];
    size_t n_allowed;
} api_host_policy_t;

/* Splits a Host header value (or an --allowed-hosts entry) "name[:port]" or "[v6][:port]" into
 * the name (lower-cased, one trailing dot dropped, brackets kept for IPv6) and the port (-1 when
 * absent or empty). Names are letters, digits, '-', '.', '_' and '~'; a bracketed name must be an
 * IPv6 address. Returns 0, or -1 for anything else (empty, a name still ending in '.' once one
 * trailing dot is dropped, bad characters, a port past 65535,
 * a name longer than cap - 1). */
int api_host_split(const char *host, char *name, size_t cap, int *port);

/* Fills *p from the bind address (IPv4 or IPv6 text; NULL means 127.0.0.1) and a comma-separated
 * list of extra host names (NULL or "" for none; blanks around entries are ignored). Returns 0, or
 * -1 with why (may be NULL) naming the bad entry (more than API_MAX_ALLOWED_HOSTS entries, or one
 * that api_host_split refuses). */
int api_host_policy_init(api_host_policy_t *p, const char *bind, const char *allowed, char *why,
                         size_t why_cap);

/* Whether a Host header value is one the service answers for (see above). NULL (no Host header)
 * is allowed; a value api_host_split refuses is not. Returns 1 or 0. */
int api_host_allowed(const api_host_policy_t *p, const char *host);

/* Whether an Origin header value is the request's own origin: scheme "https" when tls else
 * "http", and the same host name and port as the Host header (the scheme's default port stands
 * for a missing one). Returns 1 or 0 (also for "null", a path, userinfo, or no Host). */
int api_origin_matches(const char *origin, const char *host, int tls);

/* Decides whether a request may change state as far as its browser headers go. Returns NULL when
 * it may (a safe method, or an unsafe one with neither header, or with both headers right), else
 * a static sentence saying why not, for a 403 detail. origin, fetch_site and host may be NULL. */
const char *api_cross_site_refusal(api_method_t method, const char *origin, const char *fetch_site,
                                   const char *host, int tls);

/* Iterates over the values of cookie `name` in a Cookie header ("a=1; b=2"): *cursor starts at
 * the header (may be NULL: nothing found). Each call copies the next value of that name (without
 * surrounding double quotes) into out (cap bytes) and returns 1; 0 when there are no more. A
 * value that does not fit is skipped. */
int api_cookie_next(const char **cursor, const char *name, char *out, size_t cap);

#endif
