/*
 * tests/fuzz/fuzz_idx.c - libFuzzer harness for the IDX readers and their pairing (ingest/idx.h).
 *
 * Input: [options byte] [2 split bytes] [2 chunk-seed bytes] [images file | labels file].
 *   options bit 0: max_rows 3; bit 1: max_features 4; bit 2: max_values 8 (small limits reach
 *   every ELIMIT path); the split (little-endian, modulo the rest's length + 1) is where the
 *   images file ends and the labels file starts.
 *
 * Each file is parsed in one feed and in chunks (sizes from the seed bytes). Invariants:
 *   - both parses of a file end alike (code and error);
 *   - the outcome is the one a plain reading of the header predicts (an oracle written here):
 *     0 exactly when magic, type, dimensions, limits and length are right; ELIMIT exactly when a
 *     complete, well-formed header exceeds a limit; EFORMAT for everything else;
 *   - errors are sticky, and a finished parser answers MLPT_ESTATE;
 *   - ingest_sniff() recognises a file the parser accepted;
 *   - combining two accepted files succeeds exactly when the item counts match and there are at
 *     least 2 distinct labels; the dataset then passes trainer_dataset_check() and holds exactly
 *     the file's pixels / 255 and labels (class names the decimal label values, ascending).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "fuzz_util.h"
#include "idx.h"
#include "ingest.h"
#include "mlpt_err.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* What a correct reader must answer for the file f[0..n): 0, MLPT_ELIMIT or MLPT_EFORMAT. On 0
 * sets the item count, the item size and the header length. */
static int expect(ingest_idx_kind_t kind, const ingest_idx_options_t *o, const uint8_t *f, size_t n,
                  size_t *items, size_t *item_size, size_t *hdr) {
    if (n < 4 || f[0] != 0 || f[1] != 0 || f[2] != 0x08)
        return MLPT_EFORMAT;
    size_t ndim = f[3];
    if (kind == INGEST_IDX_IMAGES ? ndim < 2 : ndim != 1)
        return MLPT_EFORMAT;
    *hdr = 4 + 4 * ndim;
    if (n < *hdr)
        return MLPT_EFORMAT;
    for (size_t i = 0; i < ndim; i++)
        if (be32(f + 4 + 4 * i) == 0)
            return MLPT_EFORMAT;
    uint64_t count = be32(f + 4);
    if (count > o->max_rows)
        return MLPT_ELIMIT;
    /* The product of the image dimensions, saturated well above every limit. */
    uint64_t features = 1;
    for (size_t i = 1; i < ndim; i++) {
        features *= be32(f + 4 + 4 * i);
        if (features > o->max_features)
            return MLPT_ELIMIT;
    }
    if (count * features > o->max_values)
        return MLPT_ELIMIT;
    if ((uint64_t)(n - *hdr) != count * features)
        return MLPT_EFORMAT;
    *items = (size_t)count;
    *item_size = (size_t)features;
    return MLPT_OK;
}

static int same_error(const ingest_error_t *a, const ingest_error_t *b) {
    return a->code == b->code && a->row == b->row && a->column == b->column &&
           strcmp(a->message, b->message) == 0;
}

/* Feeds f[0..n) (one feed when ch is NULL) and finishes. Returns the parser (caller frees) with
 * *rc and *err set. */
static ingest_idx_t *parse(ingest_idx_kind_t kind, const ingest_idx_options_t *o, const uint8_t *f,
                           size_t n, fuzz_chunker_t *ch, int *rc, ingest_error_t *err) {
    ingest_idx_t *ix = ingest_idx_new(kind, o);
    FUZZ_CHECK(ix != NULL, "ingest_idx_new");
    memset(err, 0, sizeof(*err));
    int r = MLPT_OK;
    size_t off = 0;
    while (r == MLPT_OK && off < n) {
        size_t k = ch ? fuzz_chunk(ch, n - off) : n;
        uint8_t *copy = k ? malloc(k) : NULL; /* exact size: ASan sees a read past the end */
        FUZZ_CHECK(k == 0 || copy, "malloc");
        if (k)
            memcpy(copy, f + off, k);
        r = ingest_idx_feed(ix, copy, k, err);
        free(copy);
        off += k;
    }
    if (r == MLPT_OK)
        r = ingest_idx_finish(ix, err);
    ingest_error_t e;
    if (r != MLPT_OK) {
        FUZZ_CHECK(err->code == r && err->message[0], "error %d without detail", r);
        FUZZ_CHECK(err->column == 0, "IDX error column %zu", err->column);
        FUZZ_CHECK(ingest_idx_feed(ix, "\0", 1, &e) == r && same_error(&e, err), "not sticky");
        FUZZ_CHECK(ingest_idx_finish(ix, &e) == r && same_error(&e, err), "not sticky");
    } else {
        FUZZ_CHECK(ingest_idx_feed(ix, "\0", 1, &e) == MLPT_ESTATE, "feed after finish");
        FUZZ_CHECK(ingest_idx_finish(ix, &e) == MLPT_ESTATE, "finish twice");
    }
    *rc = r;
    return ix;
}

/* Parses one file both ways, checks it against the oracle. Returns the chunked parser. */
static ingest_idx_t *check_file(ingest_idx_kind_t kind, const ingest_idx_options_t *o,
                                const uint8_t *f, size_t n, fuzz_chunker_t *ch, int *rc,
                                size_t *items, size_t *item_size, size_t *hdr) {
    int rc1, rc2;
    ingest_error_t e1, e2;
    ingest_idx_t *whole = parse(kind, o, f, n, NULL, &rc1, &e1);
    ingest_idx_t *chunked = parse(kind, o, f, n, ch, &rc2, &e2);
    const char *role = kind == INGEST_IDX_IMAGES ? "images" : "labels";
    FUZZ_CHECK(rc1 == rc2 && (rc1 == MLPT_OK || same_error(&e1, &e2)),
               "%s: the split changed the outcome: %d \"%s\" vs %d \"%s\"", role, rc1, e1.message,
               rc2, e2.message);
    int want = expect(kind, o, f, n, items, item_size, hdr);
    FUZZ_CHECK(rc1 == want, "%s: the reader says %d (%s), the header says %d", role, rc1,
               rc1 ? e1.message : "ok", want);
    if (rc1 == MLPT_OK) {
        ingest_format_t fmt = ingest_sniff(f, n);
        FUZZ_CHECK(fmt == (kind == INGEST_IDX_IMAGES ? INGEST_FORMAT_IDX_IMAGES
                                                     : INGEST_FORMAT_IDX_LABELS),
                   "%s: sniffed as %d", role, (int)fmt);
    }
    ingest_idx_free(whole);
    *rc = rc1;
    return chunked;
}

static void check_dataset(const trainer_dataset_t *ds, const uint8_t *pix, size_t items,
                          size_t features, const uint8_t *lab) {
    FUZZ_CHECK(trainer_dataset_check(ds) == MLPT_OK, "trainer_dataset_check failed");
    FUZZ_CHECK(ds->rows == items && ds->features == features, "shape %zu x %zu, want %zu x %zu",
               ds->rows, ds->features, items, features);
    FUZZ_CHECK(ds->scaling == TRAINER_SCALE_UNIT, "scaling %d", (int)ds->scaling);
    for (size_t i = 0; i < items * features; i++)
        FUZZ_CHECK(ds->x[i] == (float)pix[i] / 255.0f, "pixel %zu: %g, byte %u", i,
                   (double)ds->x[i], pix[i]);
    for (size_t k = 1; k < ds->classes; k++)
        FUZZ_CHECK(atoi(ds->class_names[k - 1]) < atoi(ds->class_names[k]), "class order");
    for (size_t i = 0; i < items; i++) {
        char want[8];
        snprintf(want, sizeof(want), "%u", lab[i]);
        FUZZ_CHECK(strcmp(ds->class_names[ds->y[i]], want) == 0, "item %zu: class %s, label %s", i,
                   ds->class_names[ds->y[i]], want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t optbyte = (uint8_t)fuzz_take(&data, &size, 1);
    size_t split = (size_t)fuzz_take(&data, &size, 2);
    fuzz_chunker_t ch;
    fuzz_chunker_init(&ch, fuzz_take(&data, &size, 2));
    split %= size + 1;

    ingest_idx_options_t o;
    ingest_idx_options_init(&o);
    if (optbyte & 1)
        o.max_rows = 3;
    if (optbyte & 2)
        o.max_features = 4;
    if (optbyte & 4)
        o.max_values = 8;

    const uint8_t *imf = data, *lbf = data + split;
    size_t imn = split, lbn = size - split;
    int rci, rcl;
    size_t items_i = 0, feat = 0, hdr_i = 0, items_l = 0, one = 0, hdr_l = 0;
    ingest_idx_t *im =
        check_file(INGEST_IDX_IMAGES, &o, imf, imn, &ch, &rci, &items_i, &feat, &hdr_i);
    ingest_idx_t *lb =
        check_file(INGEST_IDX_LABELS, &o, lbf, lbn, &ch, &rcl, &items_l, &one, &hdr_l);

    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = ingest_idx_combine(im, lb, &ds, &e);
    if (rci != MLPT_OK || rcl != MLPT_OK) {
        FUZZ_CHECK(rc == MLPT_ESTATE && ds == NULL, "combine of a failed parser: %d", rc);
    } else {
        int distinct = 0;
        unsigned char seen[256] = {0};
        for (size_t i = 0; i < items_l; i++) {
            distinct += !seen[lbf[hdr_l + i]];
            seen[lbf[hdr_l + i]] = 1;
        }
        int want = items_i == items_l && distinct >= 2 ? MLPT_OK : MLPT_EFORMAT;
        FUZZ_CHECK(rc == want, "combine: %d (%s), want %d", rc, rc ? e.message : "ok", want);
        if (rc == MLPT_OK) {
            check_dataset(ds, imf + hdr_i, items_i, feat, lbf + hdr_l);
            trainer_dataset_t *again = (trainer_dataset_t *)1;
            FUZZ_CHECK(ingest_idx_combine(im, lb, &again, &e) == MLPT_ESTATE && again == NULL,
                       "combined twice");
        } else {
            FUZZ_CHECK(ds == NULL && e.code == rc && e.message[0], "combine error detail");
        }
    }
    trainer_dataset_free(rc == MLPT_OK ? ds : NULL);
    ingest_idx_free(im);
    ingest_idx_free(lb);
    return 0;
}
