/*
 * api/upload_private.h - what the three sources of the upload sink share (upload.c: the sink, its
 * fields, the end of the upload; upload_part.c: the pipeline of one file part; upload_fail.c: the
 * sticky failure, which both record). Private to api/; the contract is upload.h.
 */
#ifndef API_UPLOAD_PRIVATE_H
#define API_UPLOAD_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "gz.h"
#include "ingest.h"
#include "sha256.h"
#include "spool.h"
#include "upload.h"
#include "validate.h"

/* The fields of an upload: the file parts first (they index api_upload.files: field i is the
 * registry's field i, ingest_field_name, of the format ingest_field_format), then the small
 * ones. PART_FILE is field 0, CSV's file: a raw text/csv body goes there, and label_column is
 * its option. */
enum {
    PART_FILE = 0,
    N_FILES = INGEST_FIELDS_MAX,
    PART_NAME = N_FILES,
    PART_LABEL,
    PART_FORMAT,  /* the format by name (needed for those chosen by name: wisdm, timeseries) */
    PART_SUBJECT, /* timeseries: subject_column, timestamp_column, timestamp_unit */
    PART_TIME_COL,
    PART_TIME_UNIT,
    PART_NONE
};
#define FIRST_OPT PART_FORMAT
#define N_OPTS (PART_NONE - PART_FORMAT)

/* The field name of a part: "file", "images", "labels" (the registry's), "name",
 * "label_column"; "" for an unused file slot (upload_fail.c). */
const char *api_upload_part_name(int part);

/* One file part as it streams in (upload_part.c). */
typedef struct file_part {
    struct api_upload *up; /* back pointer for the gzip sink */
    int part;
    int present, decided, done;
    int gz_stopped; /* the parser failed: the rest of the gzip stream is not inflated */
    int parse_rc;   /* the parser's first error (kept aside for a multipart CSV, see parser_push) */
    ingest_error_t parse_err;
    int fd;
    char path[4096];       /* the temporary copy */
    ingest_spool_t *spool; /* writes the copy and hashes it on a thread of its own */
    char filename[128];
    api_sha256_t sha; /* the spool's thread's until the spool is closed */
    uint64_t bytes;
    unsigned char head[2];
    size_t nhead;
    ingest_gz_t *gz;
    const ingest_format_def_t *fmt; /* the format this field belongs to (NULL: unused slot) */
    const ingest_part_def_t *def;   /* its part there */
    void *parser;                   /* def's push parser, made when gzip or not is decided */
} file_part_t;

struct api_upload {
    char *data_dir;
    uint64_t max_bytes, total;
    uint64_t max_gunzip; /* per file: API_UPLOAD_GUNZIP_FACTOR x max_bytes, at most 4 GiB */
    file_part_t files[N_FILES];
    int cur; /* the part being received, PART_NONE before the first */
    size_t cur_bytes;
    char name[API_MAX_NAME + 1], label[256];
    size_t name_len, label_len;
    int has_name, has_label, label_late;
    /* format, subject_column, timestamp_column, timestamp_unit (index part - FIRST_OPT) */
    char opt[N_OPTS][128];
    size_t opt_len[N_OPTS];
    int has_opt[N_OPTS];
    int opts_late; /* one came after the file had started: parse it again at the end */
    const ingest_format_def_t *format; /* named by `format`, or NULL */
    char *details;                     /* a recording's details (JSON text, malloc'd) */
    int raw;                           /* a text/csv body: no label_column can come later */
    api_problem_kind_t problem;        /* the sticky failure's kind (API_PROBLEM_NONE: none yet) */
    int over_limit;       /* the sticky failure is the one over max_bytes (TOO_LARGE) */
    unsigned retry_after; /* seconds, for UNAVAILABLE: when trying again may work */
    char field[32], message[320];
    char internal[512]; /* the server-side cause of a 5xx, for the log only (api_upload_internal) */
    trainer_dataset_t *ds;
    char rel[256], matrix[4352];
    int matrix_written, keep;
    struct api_mem_budget *budget; /* NULL: no memory budget */
    uint64_t mem_reserved;         /* taken from budget, given back by api_upload_free */
};

/* upload_fail.c -------------------------------------------------------------------------------- */

/* Records the sticky failure (its kind, field, printf-style message); nothing once one is
 * kept. */
void api_upload_fail(api_upload_t *up, api_problem_kind_t kind, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* A file under the data dir that could not be created or written (errnum; what the server did,
 * with its paths, goes to `internal` for the log): api_file_error_kind's kind, NO_SPACE when the
 * disk is full, UNAVAILABLE when the folder cannot take files (the answer says which folder,
 * relative to the data dir, never its path), else INTERNAL. */
void api_upload_fail_file(api_upload_t *up, int part, int errnum, const char *folder,
                          const char *internal);

/* A parser or gzip failure of a file part: its code's kind (api_error_kind), the part's field
 * (label_column for MLPT_EINVAL on a CSV when label_column was given) and the parser's message. */
void api_upload_fail_ingest(api_upload_t *up, int part, int rc, const ingest_error_t *e);

/* upload_part.c ----------------------------------------------------------------------------- */

/* A file part starts: INVALID when it was given already or mixes formats; otherwise its
 * temporary copy under <data_dir>/uploads/ and the spool that writes and hashes it. */
void api_upload_part_begin(api_upload_t *up, int part, const char *filename);

/* Bytes of a file part as received: counted against max_bytes (413 over it), handed to the
 * spool (copy and hash), and through gzip detection into the part's parser. */
void api_upload_part_data(api_upload_t *up, int part, const char *data, size_t len);

/* A file part ends (once; nothing after a failure): the decoder and the part's parser are ended,
 * the spool is closed (everything written and hashed) and the copy's descriptor closed. */
void api_upload_part_end(api_upload_t *up, int part);

/* A label_column that came after the CSV file: the file part's copy goes through the pipeline
 * again from its first byte. Failures are recorded as the sticky failure. */
void api_upload_part_reparse(api_upload_t *up);

/* Frees a part's spool (joining its thread), decoder and parser; closes and removes its
 * temporary copy. Can be called more than once. */
void api_upload_part_release(file_part_t *f);

#endif
