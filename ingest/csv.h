/*
 * ingest/csv.h - a streaming (push) CSV parser that builds a trainer dataset.
 *
 * Feed the bytes of a CSV file in chunks of any size, split anywhere (inside a quoted field,
 * between CR and LF, inside the UTF-8 BOM), then call finish:
 *
 *     ingest_csv_t *csv = ingest_csv_new(&opt);
 *     while (more) rc = ingest_csv_feed(csv, buf, n, &err);   (stop at the first failure)
 *     rc = ingest_csv_finish(csv, &ds, &err);
 *     ingest_csv_free(csv);
 *
 * Accepted input:
 *   - a header row (required), then one example per record; every record has as many fields as
 *     the header (duplicate header names are fine);
 *   - RFC 4180 quoting: a field that starts with '"' (spaces/tabs may precede and follow the
 *     quotes) may hold delimiters, CR, LF and '""' for one quote; a quote inside an unquoted field,
 *     or anything but spaces after a closing quote, is an error;
 *   - LF or CRLF line ends, a UTF-8 BOM at the start, blank or whitespace-only lines (skipped,
 *     but still counted in row numbers);
 *   - features: decimal numbers ([+-]digits[.digits][e[+-]digits], ".5" and "3." included) with
 *     optional surrounding spaces or tabs, finite in float32;
 *   - labels: any non-empty text (unquoted labels are trimmed of spaces and tabs, quoted ones are
 *     taken as written). When every label is an integer (optional sign, decimal digits, fits
 *     int64), class names are the distinct values as decimal strings sorted numerically ("07" and
 *     "7" are the same class "7"); otherwise the distinct labels sorted by strcmp(). Class ids
 *     index that sorted list.
 *
 * Output: rows x features float32 matrix (row-major, the file's row and column order with the
 * label column removed), y, class names and counts, scaling TRAINER_SCALE_STANDARDIZE.
 *
 * Number conversion: every feature is the float32 nearest to its decimal value (round half to
 * even), bit-identical to strtof() in the C locale. A fast path handles up to 19 significant
 * digits and |exponent| <= 22 with one correctly rounded double operation; the rare values it
 * cannot prove exact (more digits, larger exponents, a double that falls exactly half-way between
 * two floats) go to strtof(). The service never calls setlocale(), so strtof() sees the C locale.
 *
 * Threads: a parser may be used by one thread at a time; different parsers are independent.
 */
#ifndef INGEST_CSV_H
#define INGEST_CSV_H

#include <stddef.h>

#include "dataset.h"
#include "ingest.h"

typedef struct ingest_csv ingest_csv_t;

/* Create a parser. opt: NULL for the defaults (see ingest_csv_options_init()); it is copied, and
 * so is opt->label_name. Options are checked at the first feed or finish (bad options answer
 * MLPT_EINVAL there, with a message), so a parser is returned for any opt.
 * Returns the parser (free with ingest_csv_free()), or NULL when out of memory. */
ingest_csv_t *ingest_csv_new(const ingest_csv_options_t *opt);

/* Parse the next len bytes of the file. buf is only read during the call; len may be 0 (then buf
 * may be NULL). Complete records are parsed now; an incomplete last record is kept until the rest
 * arrives.
 * Returns 0, or on the first error in the file (in reading order):
 *   MLPT_EFORMAT  malformed data: not a number, empty or non-finite (NaN, Inf, overflowing
 *                 float32) feature, too few or too many fields, empty label, NUL byte, stray
 *                 quote, header with a single column;
 *   MLPT_ELIMIT   a limit of the options (features, rows, values, line, field, classes);
 *   MLPT_EINVAL   bad options, or the label column does not exist (label_name not in the header,
 *                 label_index out of range), or csv NULL or buf NULL with len > 0;
 *   MLPT_ESTATE   called after ingest_csv_finish();
 *   MLPT_ENOMEM.
 * Errors are sticky: once a call failed, every later feed or finish returns the same code and
 * error again. Errors do not depend on how the file was split into chunks. */
int ingest_csv_feed(ingest_csv_t *csv, const char *buf, size_t len, ingest_error_t *err);

/* End of input: parse the last record (a file need not end with a newline), resolve the classes
 * and hand over the dataset.
 * Returns 0 and sets *out to a new dataset owned by the caller (free with trainer_dataset_free());
 * the parser gives up every buffer it moved into the dataset. On failure *out is set to NULL and
 * the return value is one of those of ingest_csv_feed(), plus MLPT_EFORMAT for: an empty file
 * (no header), no data rows, a single class, a quoted field still open at the end of the file.
 * After finish the parser only accepts ingest_csv_free() (feed and finish answer MLPT_ESTATE,
 * or the sticky error). */
int ingest_csv_finish(ingest_csv_t *csv, trainer_dataset_t **out, ingest_error_t *err);

/* Release the parser and everything it still owns. Accepts NULL. */
void ingest_csv_free(ingest_csv_t *csv);

/* The bytes of memory the parser has filled so far: the rows parsed (features and label ids),
 * the carried partial record, the header names and the label table. Grown-but-unwritten
 * capacity is not counted (untouched pages are not resident). 0 for NULL. For a caller that
 * keeps a budget of the memory its parsers use; same thread as the feeds. */
size_t ingest_csv_mem_bytes(const ingest_csv_t *csv);

/* Convert the text s[0..len) to float32 exactly as the parser converts a feature: optional spaces
 * and tabs around a decimal number, nearest float (ties to even).
 * Returns 0 and sets *out; MLPT_EFORMAT when the text is not a decimal number, is NaN or Inf, or
 * rounds to infinity in float32 (|x| above FLT_MAX by half an ulp or more; tiny values round to 0
 * or a subnormal and are accepted); MLPT_EINVAL for NULL arguments; MLPT_ENOMEM (only for texts
 * over 127 bytes that need strtof()). Any thread. */
int ingest_csv_parse_float(const char *s, size_t len, float *out);

#endif
