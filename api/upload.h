/*
 * api/upload.h - a dataset upload as it streams in: each file part is written to a temporary
 * file under <data_dir>/uploads/, hashed (SHA-256) and, through gzip detection (magic 1f 8b),
 * pushed into the CSV or IDX parser as its bytes arrive. At the end the parsed matrix is written
 * to <data_dir>/datasets/<name>-<16 hex>.mlds (ingest_matrix_write: temp file, fsync, rename).
 * The temporary files are always removed; the matrix stays only after api_upload_keep.
 *
 * Fields (multipart/form-data, or a raw text/csv body with ?name=, ?label_column= and the
 * recording options ?format=, ?subject_column=, ?timestamp_column=, ?timestamp_unit=):
 *   file          a CSV file (gzip allowed);
 *   images        an IDX images file, and labels, an IDX labels file (gzip allowed);
 *   name          optional; default: the file name up to its first '.', else "dataset";
 *   label_column  optional CSV label column name (default: a column named "label", else the
 *                 last). Sent before `file`, the file is parsed in one pass as it arrives; sent
 *                 after it, the file is parsed again from its temporary copy at the end.
 *   format        optional: csv, idx, or a format chosen by name, wisdm or timeseries (a sensor
 *                 recording, ingest/recording.h, sent as `file`). Like label_column, sent after
 *                 the file it makes the file parse again from its copy.
 *   subject_column, timestamp_column, timestamp_unit (ns, us, ms, s)
 *                 optional, format timeseries only (422 with another format).
 * A recording's result has kind "recording" and its details (recording_json.h).
 * sha256 is the digest of the file (CSV), or of the two digests of images and labels
 * concatenated (IDX); size_bytes counts the file bytes received.
 *
 * Decompression limits, per file part (zip bombs): at most max_gunzip_bytes come out of a gzip
 * file (API_UPLOAD_GUNZIP_FACTOR x max_bytes, at most 4 GiB), and past the first
 * API_UPLOAD_GUNZIP_RATIO_FLOOR bytes of output at most API_UPLOAD_GUNZIP_RATIO times the
 * compressed bytes received so far: what a gzip upload can make the server inflate, parse and
 * hold in memory grows with the bytes it really sends. Once a parser reports an error nothing
 * more is inflated.
 *
 * Failures are sticky: the first one is kept (status, field, message) and later input is
 * ignored, so the HTTP layer can keep reading the body and answer at its end: 413 over
 * max_bytes or a decompression limit (naming max_upload_bytes, max_gunzip_bytes or
 * max_gunzip_ratio), 422 for a parse error (field "file", "images" or "labels", the parser's
 * message naming row and column, or "label_column"), unknown or repeated fields, a part without a
 * name, a bad name, a NUL byte in name or label_column, a CSV label that is not UTF-8; 507 when the
 * disk is full; 500 for I/O errors. A sink is used by one thread at a time.
 */
#ifndef API_UPLOAD_H
#define API_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "api_types.h"
#include "dataset.h"
#include "problem.h"

typedef struct api_upload api_upload_t;

#define API_UPLOAD_GUNZIP_FACTOR 4                         /* max_gunzip_bytes / max_bytes */
#define API_UPLOAD_GUNZIP_RATIO 64                         /* max_gunzip_ratio */
#define API_UPLOAD_GUNZIP_RATIO_FLOOR ((uint64_t)16 << 20) /* output before the ratio applies */

/* max_gunzip_bytes for an upload limit: API_UPLOAD_GUNZIP_FACTOR x max_bytes, at most 4 GiB. */
static inline uint64_t api_upload_max_gunzip(uint64_t max_bytes) {
    const uint64_t cap = (uint64_t)4 << 30;
    return max_bytes > cap / API_UPLOAD_GUNZIP_FACTOR ? cap : max_bytes * API_UPLOAD_GUNZIP_FACTOR;
}

typedef struct api_upload_result {
    const trainer_dataset_t *ds; /* owned by the upload */
    const char *name;
    const char *format;  /* "csv" or "idx" */
    const char *scaling; /* "standardize" or "unit" */
    char sha256[65];
    uint64_t size_bytes;
    const char *storage_path; /* relative to data_dir: "datasets/<slug>-<hex>.mlds" */
    const char *kind;         /* "table" or "recording" */
    const char *details;      /* a recording's details (recording_json.h), else NULL */
} api_upload_result_t;

/* A sink writing under data_dir, refusing more than max_bytes of file data. NULL without
 * memory. */
api_upload_t *api_upload_new(const char *data_dir, uint64_t max_bytes);

struct api_mem_budget;

#define API_UPLOAD_MEMORY_STEP ((uint64_t)16 << 20) /* reserved ahead of the parser's use */
#define API_UPLOAD_MEMORY_WAIT_MS 2000              /* for others' memory before a 503 */

/* Makes the upload reserve, from budget (mem_budget.h; NULL: none), the memory its parsers fill
 * as they grow (API_UPLOAD_MEMORY_STEP at a time), held until api_upload_free. A reservation that
 * does not fit waits up to API_UPLOAD_MEMORY_WAIT_MS for other uploads to end, then fails the
 * upload with 503 (Retry-After) naming max_upload_memory_mb; one that could never fit (this
 * upload alone needs more than the whole budget) fails it with 413. On either failure the
 * parsers are freed at once and nothing more is decoded. Call before the first bytes. */
void api_upload_set_budget(api_upload_t *up, struct api_mem_budget *budget);

/* Removes the temporary files (and the matrix unless kept) and frees everything. Accepts NULL. */
void api_upload_free(api_upload_t *up);

/* Sets a small field ("name" or "label_column") outright (the raw body's query arguments). */
void api_upload_set(api_upload_t *up, const char *field, const char *value, size_t len);

/* One piece of a multipart field: a new part starts when the field name changes or off is 0
 * after bytes of the current part came. filename may be NULL; a NULL field (a part without a
 * name) fails the upload with 422. */
void api_upload_field(api_upload_t *up, const char *field, const char *filename, const char *data,
                      size_t off, size_t len);

/* Bytes of the raw body: they continue the current part (api_upload_field(up, "file", ...)
 * starts it). */
void api_upload_raw(api_upload_t *up, const char *data, size_t len);

/* API_PROBLEM_NONE, or the kind of the sticky failure. Accepts NULL (NONE). */
api_problem_kind_t api_upload_refused(const api_upload_t *up);

/* 1 when the sticky failure is the upload being over max_bytes (413 max_upload_bytes), else 0.
 * Accepts NULL (0). */
int api_upload_over_limit(const api_upload_t *up);

/* Answers res with the sticky failure as a problem naming the field. */
void api_upload_problem(const api_upload_t *up, api_response_t *res);

/* For the log, when the failure is the server's (5xx): what really failed, with the server's
 * paths and the system's message, which the answer never carries. NULL when there is nothing
 * more to say. */
const char *api_upload_internal(const api_upload_t *up);

/* Whether <data_dir>/<folder> takes a new file (one is created and removed): 0, or the errno of
 * the refusal. Any thread. */
int api_upload_folder_probe(const char *data_dir, const char *folder);

/* Ends the input: finishes the parsers (or re-parses), checks the fields, writes the matrix.
 * Returns API_PROBLEM_NONE (0) with *out filled (valid while up lives), or the failure's kind
 * (see api_upload_problem). */
api_problem_kind_t api_upload_finish(api_upload_t *up, api_upload_result_t *out);

/* Keeps the matrix file when the upload is freed (once the dataset is recorded). */
void api_upload_keep(api_upload_t *up);

#endif
