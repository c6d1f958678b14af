/*
 * store/store_json.c - rows to JSON (typed columns, RFC 3339 times, stored JSON parsed back into
 * values), list pages and their cursors.
 *
 * A cursor is 28 bytes, base64url without padding (38 characters):
 *   u8 format (1)  u8 tag ('D', 'S', 'T')  u8 sort  u8 key kind (1 null, 2 integer, 3 real)
 *   i64 scope  i64 key (an integer, or the bits of a double)  i64 id        (big-endian)
 * It names the last item of a page; the next page starts after it in the list's order.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_private.h"

#define CURSOR_FORMAT 1
#define CURSOR_BYTES 28

json_t *store_col_json(sqlite3_stmt *s, int col, store_col_kind_t kind, int *rc) {
    json_t *v = NULL;
    int type = sqlite3_column_type(s, col);
    if (type == SQLITE_NULL && kind != COL_BOOL)
        v = json_null();
    else if (kind == COL_INT)
        v = json_integer((json_int_t)sqlite3_column_int64(s, col));
    else if (kind == COL_REAL) {
        double d = sqlite3_column_double(s, col);
        v = isfinite(d) ? json_real(d) : json_null();
    } else if (kind == COL_TEXT)
        v = json_stringn((const char *)sqlite3_column_text(s, col),
                         (size_t)sqlite3_column_bytes(s, col));
    else if (kind == COL_BOOL)
        v = json_boolean(sqlite3_column_int(s, col) != 0);
    else if (kind == COL_TIME) {
        char buf[32];
        v = store_rfc3339(sqlite3_column_double(s, col), buf) ? json_null() : json_string(buf);
    } else {
        json_error_t jerr;
        const char *text = (const char *)sqlite3_column_text(s, col);
        v = text ? json_loadb(text, (size_t)sqlite3_column_bytes(s, col), JSON_DECODE_ANY, &jerr)
                 : NULL;
        if (!v) {
            *rc = text ? MLPT_EDB : MLPT_ENOMEM; /* stored JSON always parsed when written */
            return NULL;
        }
    }
    if (!v)
        *rc = MLPT_ENOMEM;
    return v;
}

int store_obj_set(json_t *obj, const char *key, json_t *value) {
    if (!value)
        return -1;
    return json_object_set_new(obj, key, value);
}

const store_col_t store_point_cols[STORE_POINT_NCOLS] = {
    {"iteration", COL_INT}, {"train_loss", COL_REAL},   {"train_accuracy", COL_REAL},
    {"val_loss", COL_REAL}, {"val_accuracy", COL_REAL}, {"seconds", COL_REAL},
};

int store_row_into(json_t *obj, sqlite3_stmt *s, int first, const store_col_t *cols, size_t n,
                   int *rc) {
    for (size_t i = 0; i < n; i++) {
        json_t *v = store_col_json(s, first + (int)i, cols[i].kind, rc);
        if (!v)
            return -1;
        if (json_object_set_new(obj, cols[i].key, v)) {
            *rc = MLPT_ENOMEM;
            return -1;
        }
    }
    return 0;
}

json_t *store_row_json(sqlite3_stmt *s, int first, const store_col_t *cols, size_t n, int *rc) {
    json_t *obj = json_object();
    if (!obj) {
        *rc = MLPT_ENOMEM;
        return NULL;
    }
    if (store_row_into(obj, s, first, cols, n, rc)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int store_row_failed(store_error_t *err, int rc) {
    if (rc == 0)
        rc = MLPT_ENOMEM;
    return store_error_set(err, rc, 0, "%s",
                           rc == MLPT_EDB ? "stored JSON is malformed" : mlpt_strerror(rc));
}

int store_rfc3339(double t, char out[32]) {
    /* 1970 .. 9999: the format has four digits for the year. */
    if (!isfinite(t) || t < 0.0 || t >= 253402300800.0)
        return -1;
    long long ms = llround(t * 1000.0);
    int frac = (int)(ms % 1000);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
        return -1;
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    out[23] = 'Z';
    out[24] = '\0';
    return 0;
}

int store_check_json(const char *text, json_type type, const char *what, store_error_t *err) {
    if (!text)
        return store_error_set(err, MLPT_EINVAL, 0, "%s is missing", what);
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    int ok = v && json_typeof(v) == type;
    json_decref(v);
    if (ok)
        return 0;
    if (!v)
        return store_error_set(err, MLPT_EINVAL, 0, "%s is not valid JSON: %s", what, jerr.text);
    return store_error_set(err, MLPT_EINVAL, 0, "%s is not a JSON %s", what,
                           type == JSON_OBJECT ? "object" : "array");
}

/* ---- cursors ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int b64_value(char c) {
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

void store_cursor_encode(const store_cursor_t *c, char out[STORE_CURSOR_MAX]) {
    unsigned char raw[CURSOR_BYTES + 2] = {0}; /* + 2: the last 3-byte group reads past 28 */
    uint64_t key = (uint64_t)c->ikey;
    if (c->kind == KEY_REAL)
        memcpy(&key, &c->rkey, sizeof(key));
    else if (c->kind == KEY_NULL)
        key = 0;
    raw[0] = CURSOR_FORMAT;
    raw[1] = (unsigned char)c->tag;
    raw[2] = (unsigned char)c->sort;
    raw[3] = (unsigned char)c->kind;
    put_be64(raw + 4, (uint64_t)c->scope);
    put_be64(raw + 12, key);
    put_be64(raw + 20, (uint64_t)c->id);
    size_t o = 0;
    for (size_t i = 0; i < CURSOR_BYTES; i += 3) {
        uint32_t g = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        size_t chars = CURSOR_BYTES - i >= 3 ? 4 : CURSOR_BYTES - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64url[(g >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

int store_cursor_decode(const char *text, store_cursor_tag_t tag, int sort, int64_t scope,
                        store_cursor_t *c, store_error_t *err) {
    unsigned char raw[CURSOR_BYTES + 2] = {0};
    size_t len = text ? strlen(text) : 0;
    if (len != (CURSOR_BYTES * 4 + 2) / 3) /* 38 */
        goto bad;
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(text[i]);
        if (v < 0)
            goto bad;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (o != CURSOR_BYTES || acc != 0) /* leftover bits must be zero: one spelling per cursor */
        goto bad;
    if (raw[0] != CURSOR_FORMAT || raw[1] != (unsigned char)tag || raw[2] != sort ||
        raw[3] < KEY_NULL || raw[3] > KEY_REAL)
        goto bad;
    memset(c, 0, sizeof(*c));
    c->tag = tag;
    c->sort = sort;
    c->kind = (store_key_kind_t)raw[3];
    c->scope = (int64_t)get_be64(raw + 4);
    uint64_t key = get_be64(raw + 12);
    c->id = (int64_t)get_be64(raw + 20);
    if (c->scope != scope)
        goto bad;
    if (c->kind == KEY_REAL) {
        memcpy(&c->rkey, &key, sizeof(key));
        if (!isfinite(c->rkey))
            goto bad;
    } else if (c->kind == KEY_INT) {
        c->ikey = (int64_t)key;
    } else if (key != 0) {
        goto bad;
    }
    return 0;
bad:
    return store_error_set(err, MLPT_EINVAL, 0, "cursor is not valid for this list");
}

void store_bind_cursor_key(sqlite3_stmt *s, int i, const store_cursor_t *c, int *rc) {
    if (c->kind == KEY_INT)
        store_bind_i64(s, i, c->ikey, rc);
    else if (c->kind == KEY_REAL)
        store_bind_real(s, i, c->rkey, rc);
    else
        store_bind_null(s, i, rc);
}

int store_check_limit(size_t limit, store_error_t *err) {
    if (limit < 1 || limit > STORE_LIST_MAX)
        return store_error_set(err, MLPT_EINVAL, 0, "limit must be 1..%d", STORE_LIST_MAX);
    return 0;
}

/* The cursor naming the current row as the last of its page. */
static void row_cursor(sqlite3_stmt *s, int key_col, store_cursor_t *c) {
    switch (sqlite3_column_type(s, key_col)) {
    case SQLITE_NULL:
        c->kind = KEY_NULL;
        break;
    case SQLITE_INTEGER:
        c->kind = KEY_INT;
        c->ikey = sqlite3_column_int64(s, key_col);
        break;
    default:
        c->kind = KEY_REAL;
        c->rkey = sqlite3_column_double(s, key_col);
        break;
    }
    c->id = sqlite3_column_int64(s, key_col + 1);
}

json_t *store_page(store_t *st, sqlite3_stmt *s, store_row_fn row, size_t limit, int key_col,
                   store_cursor_tag_t tag, int sort, int64_t scope, store_error_t *err) {
    json_t *page = NULL, *items = json_array();
    store_cursor_t last = {.tag = tag, .sort = sort, .scope = scope};
    int rc = 0, more = 0;
    if (!items) {
        rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (;;) {
        int step = sqlite3_step(s);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_fail_sql(st, err, step, "reading a list");
            goto out;
        }
        if (json_array_size(items) == limit) {
            more = 1; /* the statement asks for limit + 1 rows: there is a next page */
            break;
        }
        json_t *item = row(s, &rc);
        if (!item || json_array_append_new(items, item)) {
            rc = store_row_failed(err, rc);
            goto out;
        }
        row_cursor(s, key_col, &last);
    }
    page = json_object();
    char text[STORE_CURSOR_MAX];
    if (more)
        store_cursor_encode(&last, text);
    if (!page || store_obj_set(page, "items", json_incref(items)) ||
        store_obj_set(page, "next_cursor", more ? json_string(text) : json_null())) {
        rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        goto out;
    }
out:
    json_decref(items);
    if (rc) {
        json_decref(page);
        page = NULL;
    }
    return page;
}
