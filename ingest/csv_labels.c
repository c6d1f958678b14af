/*
 * ingest/csv_labels.c - interning class labels and sorting them into classes.
 */
#include "csv_labels.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"

void ingest_labels_init(ingest_labels_t *t) {
    memset(t, 0, sizeof(*t));
}

void ingest_labels_deinit(ingest_labels_t *t) {
    free(t->arena);
    free(t->items);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* FNV-1a, 64 bit. */
static uint64_t label_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static int slots_grow(ingest_labels_t *t) {
    size_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return MLPT_ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = (size_t)t->items[id].hash & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return MLPT_OK;
}

int32_t ingest_labels_intern(ingest_labels_t *t, const char *s, size_t len, size_t max_labels) {
    uint64_t h = label_hash(s, len);
    if (t->nslots) {
        size_t i = (size_t)h & (t->nslots - 1);
        while (t->slots[i]) {
            ingest_label_t *it = &t->items[t->slots[i] - 1];
            if (it->hash == h && it->len == len && memcmp(t->arena + it->off, s, len) == 0) {
                it->count++;
                return (int32_t)(t->slots[i] - 1);
            }
            i = (i + 1) & (t->nslots - 1);
        }
    }
    if (t->n >= max_labels || t->n >= (size_t)INT32_MAX - 1)
        return MLPT_ELIMIT;
    if ((t->n + 1) * 2 > t->nslots && slots_grow(t) != MLPT_OK)
        return MLPT_ENOMEM;
    if (t->n == t->items_cap) {
        size_t cap = t->items_cap ? t->items_cap * 2 : 16;
        ingest_label_t *tmp = realloc(t->items, cap * sizeof(*tmp));
        if (!tmp)
            return MLPT_ENOMEM;
        t->items = tmp;
        t->items_cap = cap;
    }
    if (len + 1 > t->arena_cap - t->arena_len) {
        size_t cap = t->arena_cap ? t->arena_cap : 256;
        while (len + 1 > cap - t->arena_len) {
            if (cap > SIZE_MAX / 2)
                return MLPT_ENOMEM;
            cap *= 2;
        }
        char *tmp = realloc(t->arena, cap);
        if (!tmp)
            return MLPT_ENOMEM;
        t->arena = tmp;
        t->arena_cap = cap;
    }
    ingest_label_t *it = &t->items[t->n];
    it->off = t->arena_len;
    it->len = len;
    it->hash = h;
    it->count = 1;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena[t->arena_len + len] = '\0';
    t->arena_len += len + 1;
    size_t i = (size_t)h & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = (uint32_t)t->n + 1;
    return (int32_t)t->n++;
}

/* Parses s as [+-]digits fitting int64. Returns 1 and *v, or 0. */
static int label_int(const char *s, int64_t *v) {
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!*s)
        return 0;
    uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || mag > (lim - d) / 10)
            return 0;
        mag = mag * 10 + d;
    }
    *v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return 1;
}

typedef struct sort_ent {
    const char *s;
    int64_t v;
    int32_t id;
} sort_ent_t;

static int cmp_int(const void *a, const void *b) {
    int64_t x = ((const sort_ent_t *)a)->v, y = ((const sort_ent_t *)b)->v;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(((const sort_ent_t *)a)->s, ((const sort_ent_t *)b)->s);
}

int ingest_labels_resolve(const ingest_labels_t *t, int32_t *rank, size_t *nclasses, char ***names,
                          size_t **counts) {
    int rc = MLPT_ENOMEM;
    size_t k = 0;
    char **nm = NULL;
    size_t *cnt = NULL;
    sort_ent_t *ent = malloc((t->n ? t->n : 1) * sizeof(*ent));
    if (!ent)
        goto out;
    int all_int = 1;
    for (size_t id = 0; id < t->n; id++) {
        ent[id].s = t->arena + t->items[id].off;
        ent[id].id = (int32_t)id;
        ent[id].v = 0;
        if (all_int && !label_int(ent[id].s, &ent[id].v))
            all_int = 0;
    }
    qsort(ent, t->n, sizeof(*ent), all_int ? cmp_int : cmp_str);
    /* Integer labels that spell the same value ("7", "07", "+7") are one class. */
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0 && !(all_int && ent[i].v == ent[i - 1].v))
            k++;
        rank[ent[i].id] = (int32_t)k;
    }
    k = t->n ? k + 1 : 0;
    nm = calloc(k ? k : 1, sizeof(*nm));
    cnt = calloc(k ? k : 1, sizeof(*cnt));
    if (!nm || !cnt)
        goto out;
    for (size_t i = 0; i < t->n; i++) {
        size_t c = (size_t)rank[ent[i].id];
        cnt[c] += t->items[ent[i].id].count;
        if (nm[c])
            continue;
        if (all_int) {
            char num[24];
            snprintf(num, sizeof(num), "%" PRId64, ent[i].v);
            nm[c] = malloc(strlen(num) + 1);
            if (nm[c])
                memcpy(nm[c], num, strlen(num) + 1);
        } else {
            size_t len = t->items[ent[i].id].len;
            nm[c] = malloc(len + 1);
            if (nm[c])
                memcpy(nm[c], ent[i].s, len + 1);
        }
        if (!nm[c])
            goto out;
    }
    *nclasses = k;
    *names = nm;
    *counts = cnt;
    nm = NULL;
    cnt = NULL;
    rc = MLPT_OK;
out:
    if (nm)
        for (size_t c = 0; c < k; c++)
            free(nm[c]);
    free(nm);
    free(cnt);
    free(ent);
    return rc;
}
