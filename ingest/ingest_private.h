/*
 * ingest/ingest_private.h - helpers shared by the sources of mlpt_ingest (gz.c, idx.c, ingest.c,
 * load.c, and the CSV parser through csv_private.h); not part of its contract. A dataset's
 * invariants are checked by trainer_dataset_check (trainer/dataset.h), the one validation.
 */
#ifndef INGEST_PRIVATE_H
#define INGEST_PRIVATE_H

#include <stdarg.h>
#include <stddef.h>

#include "ingest.h"

#if defined(__GNUC__)
#define INGEST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define INGEST_PRINTF(f, a)
#endif

/* Fills *err (when not NULL): code, row, column, column_name (NULL for none; truncated to fit at
 * a UTF-8 boundary), part INGEST_PART_NONE (the IDX code sets the part after) and the message
 * printf(fmt, ...), used as written. */
void ingest_error_set(ingest_error_t *err, int code, size_t row, size_t column,
                      const char *column_name, const char *fmt, ...) INGEST_PRINTF(6, 7);

/* Like ingest_error_set(), but the message starts with the position: "row R, column C ("name"): ",
 * "row R: " or "column C ("name"): " depending on which of row and column are non-zero. */
void ingest_error_at(ingest_error_t *err, int code, size_t row, size_t column,
                     const char *column_name, const char *fmt, ...) INGEST_PRINTF(6, 7);

/* The va_list form of ingest_error_at(). */
void ingest_error_vat(ingest_error_t *err, int code, size_t row, size_t column,
                      const char *column_name, const char *fmt, va_list ap);

/* Copies *src into *dst when both are distinct and dst is not NULL. */
void ingest_error_copy(ingest_error_t *dst, const ingest_error_t *src);

/* Writes s[0..n) into dst (capacity cap >= 8) as printable text for a message: printable ASCII and
 * UTF-8 as is, '"' and '\\' escaped, other bytes as \xNN, cut after `max` source bytes with "...".
 * Returns dst. */
char *ingest_escape(char *dst, size_t cap, const char *s, size_t n, size_t max);

/* Fills buf with strerror_r(errnum) (thread-safe). Returns buf. */
const char *ingest_strerror(int errnum, char *buf, size_t cap);

#endif
