/*
 * ingest/idx.h - streaming (push) parsers for MNIST-style IDX files, and the step that pairs an
 * images file with a labels file into a trainer dataset.
 *
 * IDX layout (big-endian): bytes 00 00, an element type, the number of dimensions n, then n
 * uint32 sizes, then the elements. Only type 0x08 (unsigned byte) is accepted.
 *   images: n >= 2, sizes = items x d1 x d2 ...; an item has d1*d2*... features (each > 0).
 *   labels: n == 1, sizes = items; one byte (the label value) per item.
 * The header is checked (magic, type, n, every size > 0, items, features and items x features
 * against the options' limits) before any memory is allocated for the data, and the data buffer
 * grows with the bytes that really arrive, so a header that promises more than the file holds
 * costs nothing.
 *
 *     ingest_idx_t *im = ingest_idx_new(INGEST_IDX_IMAGES, NULL), *lb = ...;
 *     ingest_idx_feed(im, chunk, n, &err) ...; ingest_idx_finish(im, &err);   (same for lb)
 *     ingest_idx_combine(im, lb, &ds, &err);
 *     ingest_idx_free(im); ingest_idx_free(lb);
 *
 * Error messages start with the file role, "images: " or "labels: ", and err->part names that file
 * (callers decide from the field, never from the text); err->row is the 1-based item
 * index where that is useful, else 0; err->column is always 0.
 * Threads: a parser may be used by one thread at a time; different parsers are independent.
 */
#ifndef INGEST_IDX_H
#define INGEST_IDX_H

#include <stddef.h>

#include "dataset.h"
#include "ingest.h"

typedef enum ingest_idx_kind {
    INGEST_IDX_IMAGES = 0,
    INGEST_IDX_LABELS = 1,
} ingest_idx_kind_t;

typedef struct ingest_idx ingest_idx_t;

/* Create a parser for one file of the given kind. opt: NULL for the defaults
 * (ingest_idx_options_init()); copied. Returns the parser (free with ingest_idx_free()), or NULL
 * when out of memory or kind is not one of the two kinds. */
ingest_idx_t *ingest_idx_new(ingest_idx_kind_t kind, const ingest_idx_options_t *opt);

/* Parse the next len bytes of the file (any split). buf is only read during the call; len may be
 * 0 (buf may then be NULL). Pixels are converted to byte / 255.0f as they arrive.
 * Returns 0, or MLPT_EFORMAT (bad magic, element type not 0x08, wrong number of dimensions, a size
 * of 0, bytes beyond what the header promises), MLPT_ELIMIT (items, features or values over the
 * options' limits), MLPT_EINVAL (NULL idx, or NULL buf with len > 0), MLPT_ESTATE (after
 * finish), MLPT_ENOMEM. Errors are sticky: later calls return the same error. */
int ingest_idx_feed(ingest_idx_t *idx, const void *buf, size_t len, ingest_error_t *err);

/* End of this file: checks that the header and every promised item arrived.
 * Returns 0, or MLPT_EFORMAT (empty file, file ends inside the header, or inside item k: err->row
 * = k), MLPT_EINVAL (idx NULL), MLPT_ESTATE (finished twice), or the sticky error of a feed. */
int ingest_idx_finish(ingest_idx_t *idx, ingest_error_t *err);

/* Pair a finished images parser with a finished labels parser into a new dataset: x = the pixels
 * (moved out of `images`, not copied), TRAINER_SCALE_UNIT, classes = the distinct label values in
 * ascending order named by their decimal strings, y = index of each label in that list.
 * Returns 0 and sets *out (caller frees with trainer_dataset_free()); on failure *out = NULL and:
 * MLPT_EFORMAT (item counts differ, fewer than 2 distinct labels), MLPT_EINVAL (NULL argument or
 * parsers of the wrong kinds), MLPT_ESTATE (a parser is not finished successfully, or its data
 * was already combined), MLPT_ENOMEM. Both parsers still need ingest_idx_free(). */
int ingest_idx_combine(ingest_idx_t *images, ingest_idx_t *labels, trainer_dataset_t **out,
                       ingest_error_t *err);

/* Release the parser and any data it still owns. Accepts NULL. */
void ingest_idx_free(ingest_idx_t *idx);

/* The bytes of memory the parser has filled so far (images: 4 per pixel received; labels: 1 per
 * label). 0 for NULL. Same thread as the feeds. */
size_t ingest_idx_mem_bytes(const ingest_idx_t *idx);

#endif
