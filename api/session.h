/*
 * api/session.h - dashboard sessions: the token exchanged once (POST /api/v1/session) for a
 * random 256-bit session id that the browser keeps in an HttpOnly, SameSite=Strict cookie.
 *
 * The table lives in memory only (a restart signs everybody out), holds at most `cap` sessions
 * (the one closest to expiry makes room for a new one: only holders of the token can create
 * sessions, so a full table is a user signing in often, not an attack) and each expires `ttl`
 * seconds after it was created (no sliding renewal). Ids are 32 bytes from getrandom(2), written
 * as 43 base64url characters; looking one up compares it with every live slot in constant time.
 * Times are whatever clock the caller passes (the server uses CLOCK_MONOTONIC seconds, so a
 * wall-clock change never ends or prolongs a session).
 *
 * Thread safety: every function takes the table's own lock; any thread.
 */
#ifndef API_SESSION_H
#define API_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define API_SESSION_BYTES 32
#define API_SESSION_ID_LEN 43 /* base64url characters of API_SESSION_BYTES, no padding */
#define API_SESSION_COOKIE "mlptune_session"
#define API_SESSION_TTL_S (12 * 3600)
#define API_SESSION_CAP 64

typedef struct api_sessions api_sessions_t;

/* A table of at most cap (>= 1) sessions living ttl_s (>= 1) seconds. NULL without memory or
 * with a bad argument. Free with api_sessions_free. */
api_sessions_t *api_sessions_new(size_t cap, int64_t ttl_s);

/* Frees the table (accepts NULL). No other thread may be using it. */
void api_sessions_free(api_sessions_t *t);

/* Starts a session at time now: writes its id (API_SESSION_ID_LEN characters and a NUL) into id.
 * Returns 0, or MLPT_EIO when the system gives no random bytes. */
int api_sessions_create(api_sessions_t *t, int64_t now, char id[API_SESSION_ID_LEN + 1]);

/* Whether id names a live session at time now. Returns 1 (and *expires_at, may be NULL, gets its
 * end) or 0 (unknown, malformed, expired or ended; an expired slot is freed). */
int api_sessions_check(api_sessions_t *t, const char *id, int64_t now, int64_t *expires_at);

/* Ends the session id names. Returns 1 when one was live, else 0. */
int api_sessions_end(api_sessions_t *t, const char *id);

/* Live sessions at time now. */
size_t api_sessions_count(api_sessions_t *t, int64_t now);

/* Whether got equals want, in time that depends only on want's length (got may be NULL: 0). */
int api_secret_equal(const char *want, const char *got);

#endif
