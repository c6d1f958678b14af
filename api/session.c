/*
 * api/session.c - the session table of session.h: a fixed array of slots under one mutex.
 */
#define _DEFAULT_SOURCE /* getrandom, explicit_bzero */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mlpt_err.h"
#include "session.h"

typedef struct slot {
    unsigned char id[API_SESSION_BYTES];
    int64_t expires_at;
    int live;
} slot_t;

struct api_sessions {
    pthread_mutex_t lock;
    int64_t ttl;
    size_t cap;
    slot_t slots[];
};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(const unsigned char *in, char *out) {
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < API_SESSION_BYTES; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* Decodes exactly API_SESSION_ID_LEN base64url characters. Returns 0, or -1 (the id's shape is
 * not secret: refusing it early leaks nothing). */
static int decode(const char *in, unsigned char *out) {
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    if (!in || strlen(in) != API_SESSION_ID_LEN)
        return -1;
    for (size_t i = 0; i < API_SESSION_ID_LEN; i++) {
        const char *p = strchr(b64url, in[i]);
        if (!p || !in[i])
            return -1;
        acc = (acc << 6) | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* 43 characters carry 258 bits: the last 2 must be zero, so one id has one spelling */
    return (acc & ((1u << bits) - 1)) == 0 && o == API_SESSION_BYTES ? 0 : -1;
}

api_sessions_t *api_sessions_new(size_t cap, int64_t ttl_s) {
    if (cap == 0 || ttl_s < 1)
        return NULL;
    api_sessions_t *t = calloc(1, sizeof(*t) + cap * sizeof(slot_t));
    if (!t)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    t->cap = cap;
    t->ttl = ttl_s;
    return t;
}

void api_sessions_free(api_sessions_t *t) {
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    explicit_bzero(t->slots, t->cap * sizeof(slot_t));
    free(t);
}

static int random_bytes(unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int api_sessions_create(api_sessions_t *t, int64_t now, char id[API_SESSION_ID_LEN + 1]) {
    unsigned char bytes[API_SESSION_BYTES];
    if (random_bytes(bytes, sizeof(bytes)) != 0)
        return MLPT_EIO;
    pthread_mutex_lock(&t->lock);
    slot_t *use = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        slot_t *s = &t->slots[i];
        if (!s->live || s->expires_at <= now) {
            use = s;
            break;
        }
        if (!use || s->expires_at < use->expires_at)
            use = s; /* full: the session closest to its end makes room */
    }
    memcpy(use->id, bytes, sizeof(bytes));
    use->expires_at = now + t->ttl;
    use->live = 1;
    pthread_mutex_unlock(&t->lock);
    encode(bytes, id);
    explicit_bzero(bytes, sizeof(bytes));
    return 0;
}

/* The slot id names, or NULL; every slot is compared in full, whatever matches. Lock held. */
static slot_t *find(api_sessions_t *t, const unsigned char *bytes) {
    slot_t *hit = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        unsigned char diff = 0;
        for (size_t k = 0; k < API_SESSION_BYTES; k++)
            diff |= t->slots[i].id[k] ^ bytes[k];
        if ((diff == 0) & t->slots[i].live)
            hit = &t->slots[i];
    }
    return hit;
}

int api_sessions_check(api_sessions_t *t, const char *id, int64_t now, int64_t *expires_at) {
    unsigned char bytes[API_SESSION_BYTES];
    if (decode(id, bytes) != 0)
        return 0;
    int ok = 0;
    pthread_mutex_lock(&t->lock);
    slot_t *s = find(t, bytes);
    if (s && s->expires_at > now) {
        ok = 1;
        if (expires_at)
            *expires_at = s->expires_at;
    } else if (s) {
        s->live = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

int api_sessions_end(api_sessions_t *t, const char *id) {
    unsigned char bytes[API_SESSION_BYTES];
    if (decode(id, bytes) != 0)
        return 0;
    pthread_mutex_lock(&t->lock);
    slot_t *s = find(t, bytes);
    int was = s != NULL;
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&t->lock);
    return was;
}

size_t api_sessions_count(api_sessions_t *t, int64_t now) {
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->cap; i++)
        n += t->slots[i].live && t->slots[i].expires_at > now;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int api_secret_equal(const char *want, const char *got) {
    if (!got)
        return 0;
    size_t lw = strlen(want), lg = strlen(got);
    unsigned char diff = (unsigned char)(lw != lg);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < lg ? got[i] : 0);
    return diff == 0;
}
