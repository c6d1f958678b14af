/*
 * ingest/idx.c - streaming IDX parsers (images, labels) and their pairing into a dataset.
 *
 * A parser is a small state machine: the 4-byte magic, then 4 bytes per dimension, then the data.
 * The header is validated in full (limits included) before the first data byte is stored, and the
 * data buffer grows geometrically with what arrives, capped at what the header promised.
 */
#include "idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_private.h"

enum { ST_HEAD, ST_DATA, ST_DONE, ST_FAILED, ST_TAKEN };

#define IDX_MAX_HEADER (4 + 4 * 255)

struct ingest_idx {
    ingest_idx_kind_t kind;
    ingest_idx_options_t opt;
    const char *role; /* "images" or "labels", for messages */
    int state;
    ingest_error_t error;              /* sticky once state == ST_FAILED */
    unsigned char hdr[IDX_MAX_HEADER]; /* the header bytes so far */
    size_t hdr_len, hdr_need;          /* hdr_need: 4, then 4 + 4 * ndim */
    size_t items, item_size;           /* item_size: features (images) or 1 (labels) */
    uint64_t total, got;               /* data bytes promised / received */
    float *x;                          /* images: [cap] pixels / 255 */
    unsigned char *lab;                /* labels: [cap] raw label bytes */
    size_t cap;
    float lut[256]; /* byte -> byte / 255.0f */
};

static ingest_part_t idx_part(ingest_idx_kind_t kind) {
    return kind == INGEST_IDX_IMAGES ? INGEST_PART_IMAGES : INGEST_PART_LABELS;
}

static int idx_fail(ingest_idx_t *ix, int code, size_t row, const char *fmt, ...)
    INGEST_PRINTF(4, 5);
static int idx_fail(ingest_idx_t *ix, int code, size_t row, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ingest_error_set(&ix->error, code, row, 0, NULL, "%s: %s", ix->role, msg);
    ix->error.part = idx_part(ix->kind);
    ix->state = ST_FAILED;
    return code;
}

ingest_idx_t *ingest_idx_new(ingest_idx_kind_t kind, const ingest_idx_options_t *opt) {
    if (kind != INGEST_IDX_IMAGES && kind != INGEST_IDX_LABELS)
        return NULL;
    ingest_idx_t *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    ingest_idx_options_t def;
    ingest_idx_options_init(&def);
    ix->opt = opt ? *opt : def;
    if (!ix->opt.max_features)
        ix->opt.max_features = def.max_features;
    if (!ix->opt.max_rows)
        ix->opt.max_rows = def.max_rows;
    if (!ix->opt.max_values)
        ix->opt.max_values = def.max_values;
    if (!ix->opt.max_gunzip_bytes)
        ix->opt.max_gunzip_bytes = def.max_gunzip_bytes;
    ix->kind = kind;
    ix->role = kind == INGEST_IDX_IMAGES ? "images" : "labels";
    ix->state = ST_HEAD;
    ix->hdr_need = 4;
    for (int b = 0; b < 256; b++)
        ix->lut[b] = (float)b / 255.0f;
    return ix;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The first 4 bytes: 00 00 type ndim. */
static int check_magic(ingest_idx_t *ix) {
    const unsigned char *h = ix->hdr;
    if (h[0] != 0 || h[1] != 0)
        return idx_fail(
            ix, MLPT_EFORMAT, 0,
            "not an IDX file: it starts with %02X %02X %02X %02X, not 00 00 08%s", h[0], h[1], h[2],
            h[3], (h[0] == 0x1F && h[1] == 0x8B) ? " (this is gzip data: decompress it)" : "");
    if (h[2] != 0x08)
        return idx_fail(ix, MLPT_EFORMAT, 0,
                        "IDX element type 0x%02X is not supported; only 0x08 (unsigned byte)",
                        h[2]);
    if (ix->kind == INGEST_IDX_IMAGES && h[3] < 2)
        return idx_fail(ix, MLPT_EFORMAT, 0,
                        "an images file needs at least 2 dimensions (items, pixels...), this one "
                        "has %u",
                        h[3]);
    if (ix->kind == INGEST_IDX_LABELS && h[3] != 1)
        return idx_fail(ix, MLPT_EFORMAT, 0,
                        "a labels file has exactly 1 dimension (items), this one has %u", h[3]);
    ix->hdr_need = 4 + 4 * (size_t)h[3];
    return MLPT_OK;
}

/* The dimensions: each > 0, and every limit, before anything is allocated. */
static int check_dims(ingest_idx_t *ix) {
    size_t ndim = ix->hdr[3];
    uint64_t items = be32(ix->hdr + 4), features = 1;
    for (size_t i = 0; i < ndim; i++)
        if (be32(ix->hdr + 4 + 4 * i) == 0)
            return idx_fail(ix, MLPT_EFORMAT, 0, "dimension %zu of %zu is 0", i + 1, ndim);
    if (items > ix->opt.max_rows)
        return idx_fail(ix, MLPT_ELIMIT, 0, "%llu items exceed the limit of %zu",
                        (unsigned long long)items, ix->opt.max_rows);
    for (size_t i = 1; i < ndim; i++) {
        uint64_t d = be32(ix->hdr + 4 + 4 * i);
        if (d > ix->opt.max_features / features) /* features * d > max_features, no overflow */
            return idx_fail(ix, MLPT_ELIMIT, 0,
                            "an image of more than %zu values exceeds the feature limit",
                            ix->opt.max_features);
        features *= d;
    }
    /* Compare by division so that no limit can overflow the product. */
    if (items > ix->opt.max_values / features)
        return idx_fail(ix, MLPT_ELIMIT, 0,
                        "%llu items x %llu values exceed the limit of %llu values",
                        (unsigned long long)items, (unsigned long long)features,
                        (unsigned long long)ix->opt.max_values);
    ix->items = (size_t)items;
    ix->item_size = (size_t)features;
    ix->total = items * features;
    if (ix->total > SIZE_MAX / sizeof(float))
        return idx_fail(ix, MLPT_ENOMEM, 0, "%llu values do not fit in memory",
                        (unsigned long long)ix->total);
    ix->state = ST_DATA;
    return MLPT_OK;
}

static int reserve(ingest_idx_t *ix, uint64_t need) {
    if (need <= ix->cap)
        return MLPT_OK;
    uint64_t cap = ix->cap ? (uint64_t)ix->cap * 2 : ((uint64_t)1 << 16);
    if (cap < need)
        cap = need;
    if (cap > ix->total)
        cap = ix->total;
    if (ix->kind == INGEST_IDX_IMAGES) {
        float *tmp = realloc(ix->x, (size_t)cap * sizeof(float));
        if (!tmp)
            return idx_fail(ix, MLPT_ENOMEM, 0, "out of memory for %llu values",
                            (unsigned long long)cap);
        ix->x = tmp;
    } else {
        unsigned char *tmp = realloc(ix->lab, (size_t)cap);
        if (!tmp)
            return idx_fail(ix, MLPT_ENOMEM, 0, "out of memory for %llu labels",
                            (unsigned long long)cap);
        ix->lab = tmp;
    }
    ix->cap = (size_t)cap;
    return MLPT_OK;
}

static int idx_unusable(ingest_idx_t *ix, ingest_error_t *err) {
    if (ix->state == ST_FAILED) {
        ingest_error_copy(err, &ix->error);
        return ix->error.code;
    }
    if (ix->state == ST_DONE || ix->state == ST_TAKEN) {
        ingest_error_set(err, MLPT_ESTATE, 0, 0, NULL, "%s: the parser is already finished",
                         ix->role);
        return MLPT_ESTATE;
    }
    return MLPT_OK;
}

int ingest_idx_feed(ingest_idx_t *ix, const void *buf, size_t len, ingest_error_t *err) {
    if (!ix || (!buf && len > 0)) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_idx_feed: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = idx_unusable(ix, err);
    if (rc)
        return rc;
    const unsigned char *p = buf;
    while (len > 0 && rc == MLPT_OK) {
        if (ix->state == ST_HEAD) {
            size_t n = ix->hdr_need - ix->hdr_len;
            if (n > len)
                n = len;
            memcpy(ix->hdr + ix->hdr_len, p, n);
            ix->hdr_len += n;
            p += n;
            len -= n;
            if (ix->hdr_len < ix->hdr_need)
                break;
            rc = ix->hdr_len == 4 ? check_magic(ix) : check_dims(ix);
            continue;
        }
        uint64_t left = ix->total - ix->got;
        if (len > left) {
            rc = idx_fail(ix, MLPT_EFORMAT, 0,
                          "the file is longer than its header says (%zu items of %zu bytes): "
                          "unexpected bytes after the last item",
                          ix->items, ix->item_size);
            break;
        }
        rc = reserve(ix, ix->got + len);
        if (rc)
            break;
        if (ix->kind == INGEST_IDX_IMAGES) {
            float *dst = ix->x + ix->got;
            for (size_t i = 0; i < len; i++)
                dst[i] = ix->lut[p[i]];
        } else {
            memcpy(ix->lab + ix->got, p, len);
        }
        ix->got += len;
        len = 0;
    }
    if (rc)
        ingest_error_copy(err, &ix->error);
    return rc;
}

int ingest_idx_finish(ingest_idx_t *ix, ingest_error_t *err) {
    if (!ix) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_idx_finish: NULL argument");
        return MLPT_EINVAL;
    }
    int rc = idx_unusable(ix, err);
    if (rc)
        return rc;
    if (ix->state == ST_HEAD && ix->hdr_len == 0)
        rc = idx_fail(ix, MLPT_EFORMAT, 0, "the file is empty");
    else if (ix->state == ST_HEAD)
        rc = idx_fail(ix, MLPT_EFORMAT, 0, "the file ends inside the header (%zu of %zu bytes)",
                      ix->hdr_len, ix->hdr_need);
    else if (ix->got < ix->total)
        rc = idx_fail(ix, MLPT_EFORMAT, (size_t)(ix->got / ix->item_size) + 1,
                      "the file is truncated: it ends inside item %zu of %zu (%llu of %llu data "
                      "bytes)",
                      (size_t)(ix->got / ix->item_size) + 1, ix->items, (unsigned long long)ix->got,
                      (unsigned long long)ix->total);
    else
        ix->state = ST_DONE;
    if (rc)
        ingest_error_copy(err, &ix->error);
    return rc;
}

static int combine_check(const ingest_idx_t *ix, ingest_idx_kind_t kind, ingest_error_t *err) {
    const char *role = kind == INGEST_IDX_IMAGES ? "images" : "labels";
    int rc = MLPT_OK;
    if (ix->kind != kind) {
        rc = MLPT_EINVAL;
        ingest_error_set(err, rc, 0, 0, NULL,
                         "%s: ingest_idx_combine got a parser of the other kind", role);
    } else if (ix->state == ST_TAKEN) {
        rc = MLPT_ESTATE;
        ingest_error_set(err, rc, 0, 0, NULL, "%s: the data was already combined", role);
    } else if (ix->state != ST_DONE) {
        rc = MLPT_ESTATE;
        ingest_error_set(err, rc, 0, 0, NULL, "%s: the parser has not finished successfully", role);
    }
    if (rc && err)
        err->part = idx_part(kind);
    return rc;
}

int ingest_idx_combine(ingest_idx_t *images, ingest_idx_t *labels, trainer_dataset_t **out,
                       ingest_error_t *err) {
    int rc = MLPT_OK;
    trainer_dataset_t *ds = NULL;
    if (out)
        *out = NULL;
    if (!images || !labels || !out) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_idx_combine: NULL argument");
        return MLPT_EINVAL;
    }
    rc = combine_check(images, INGEST_IDX_IMAGES, err);
    if (!rc)
        rc = combine_check(labels, INGEST_IDX_LABELS, err);
    if (rc)
        return rc;
    if (images->items != labels->items) {
        ingest_error_set(err, MLPT_EFORMAT, 0, 0, NULL,
                         "images has %zu items but labels has %zu: they must match", images->items,
                         labels->items);
        if (err)
            err->part = INGEST_PART_IMAGES;
        return MLPT_EFORMAT;
    }
    size_t n = labels->items, count[256] = {0};
    for (size_t i = 0; i < n; i++)
        count[labels->lab[i]]++;
    int32_t map[256];
    size_t k = 0;
    for (int v = 0; v < 256; v++)
        map[v] = count[v] ? (int32_t)k++ : -1;
    if (k < 2) {
        ingest_error_set(err, MLPT_EFORMAT, 0, 0, NULL,
                         "labels: every item has the label %u; at least 2 classes are needed",
                         labels->lab[0]);
        if (err)
            err->part = INGEST_PART_LABELS;
        return MLPT_EFORMAT;
    }
    rc = MLPT_ENOMEM;
    ds = calloc(1, sizeof(*ds));
    if (!ds)
        goto out;
    ds->classes = k;
    ds->class_names = calloc(k, sizeof(char *));
    ds->class_counts = calloc(k, sizeof(size_t));
    ds->y = malloc(n * sizeof(int32_t));
    if (!ds->class_names || !ds->class_counts || !ds->y)
        goto out;
    for (int v = 0; v < 256; v++) {
        if (map[v] < 0)
            continue;
        char name[12];
        snprintf(name, sizeof(name), "%d", v);
        ds->class_names[map[v]] = malloc(strlen(name) + 1);
        if (!ds->class_names[map[v]])
            goto out;
        memcpy(ds->class_names[map[v]], name, strlen(name) + 1);
        ds->class_counts[map[v]] = count[v];
    }
    for (size_t i = 0; i < n; i++)
        ds->y[i] = map[labels->lab[i]];
    ds->rows = n;
    ds->features = images->item_size;
    ds->scaling = TRAINER_SCALE_UNIT;
    ds->x = images->x; /* moved: the header promised exactly total values and all arrived */
    images->x = NULL;
    images->state = ST_TAKEN;
    labels->state = ST_TAKEN;
    rc = trainer_dataset_check(ds);
    if (rc) {
        ingest_error_set(err, rc, 0, 0, NULL,
                         "internal error: the IDX dataset breaks its invariants");
        goto out;
    }
    *out = ds;
    ds = NULL;
out:
    if (rc == MLPT_ENOMEM)
        ingest_error_set(err, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
    trainer_dataset_free(ds);
    return rc;
}

void ingest_idx_free(ingest_idx_t *ix) {
    if (!ix)
        return;
    free(ix->x);
    free(ix->lab);
    free(ix);
}

size_t ingest_idx_mem_bytes(const ingest_idx_t *ix) {
    if (!ix)
        return 0;
    return (size_t)ix->got * (ix->kind == INGEST_IDX_IMAGES ? sizeof(float) : 1);
}
