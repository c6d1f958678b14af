/*
 * ingest/ingest.h - dataset files (CSV, IDX, gzip) into trainer datasets: the shared error detail,
 * the options of both formats, format sniffing and the whole-file loaders used by the CLI.
 *
 * The module is built from push parsers (csv.h, idx.h, gz.h): the HTTP upload feeds them chunks of
 * any size as they arrive, and the file loaders below feed them 1 MiB reads. The formats, what
 * files each takes and their parsers are a registry (format.h): a new format is one entry there.
 * Nothing here prints, exits or keeps global state, so every function may be called from any
 * thread; a parser handle must be used by one thread at a time.
 *
 * Errors: every function returns 0 or a negative MLPT_E* code (common/mlpt_err.h) and takes an
 * optional ingest_error_t as its last parameter. When a call fails and err is not NULL, *err is
 * filled with the code, the position and one readable sentence; on success *err is not touched.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "mlpt_err.h"

/* Which file of a format's several an error is about: the 1-based index of the part in its
 * registry entry (ingest/format.h), named here for IDX, the one format with two. */
typedef enum ingest_part {
    INGEST_PART_NONE = 0,   /* a single file (CSV), or not about one file (a NULL argument) */
    INGEST_PART_IMAGES = 1, /* the IDX images file; also a count mismatch between the two */
    INGEST_PART_LABELS = 2, /* the IDX labels file */
} ingest_part_t;

/* Where and why parsing failed. */
typedef struct ingest_error {
    int code;             /* an MLPT_E* code, the same value the function returned */
    size_t row;           /* CSV: 1-based physical line of the file (the header is line 1
                             unless blank lines precede it; a field inside a multi-line quoted
                             record reports the line where the field starts). IDX: 1-based item
                             index. 0 if n/a. */
    size_t column;        /* CSV: 1-based field index; 0 if n/a */
    char column_name[64]; /* CSV: the header name of `column` (truncated), "" if unknown */
    char message[256];    /* one sentence naming row and column, e.g.
                             row 17, column 3 ("petal_length"): "abc" is not a number */
    ingest_part_t part;   /* IDX: the file at fault (callers name it from this field, never from
                             the message); INGEST_PART_NONE otherwise */
} ingest_error_t;

/* ---- Limits and their defaults (a limit left at 0 in an options struct means the default) ---- */
#define INGEST_DEFAULT_MAX_FEATURES ((size_t)100000)        /* inputs per example */
#define INGEST_DEFAULT_MAX_ROWS ((size_t)10000000)          /* examples (CSV rows, IDX items) */
#define INGEST_DEFAULT_MAX_VALUES ((uint64_t)1 << 31)       /* rows x features */
#define INGEST_DEFAULT_MAX_LINE_BYTES ((size_t)16 << 20)    /* one CSV record, 16 MiB */
#define INGEST_DEFAULT_MAX_FIELD_BYTES ((size_t)16 << 20)   /* one CSV field, 16 MiB */
#define INGEST_DEFAULT_MAX_CLASSES ((size_t)10000)          /* distinct CSV labels */
#define INGEST_DEFAULT_MAX_GUNZIP_BYTES ((uint64_t)4 << 30) /* decompressed size, 4 GiB */

/* How to read a CSV file. Initialise with ingest_csv_options_init(), then change what you need.
 *
 * The label column is chosen by name or by index, never both:
 *   label_name   exact (byte for byte) header name; when no header name matches exactly, the first
 *                case-insensitive (ASCII) match; with duplicate names the first one wins.
 *   label_index  0-based column index.
 *   default      (label_name NULL and label_index -1) the first column named "label" in any ASCII
 *                case, else the last column.
 * Every other column is a feature and must hold a number in every row. */
typedef struct ingest_csv_options {
    const char *label_name; /* NULL for none; copied by ingest_csv_new() */
    long label_index;       /* -1 for none */
    char delimiter;         /* one of , ; \t | :  or 0 to detect it from the header line: the most
                               frequent of , ; \t outside quotes (ties: , then ; then \t) */
    size_t max_features;    /* ELIMIT above this many feature columns */
    size_t max_rows;        /* ELIMIT above this many data rows */
    uint64_t max_values;    /* ELIMIT when rows x features would exceed this */
    size_t max_line_bytes;  /* ELIMIT for a longer record (CR and LF not counted) */
    size_t max_field_bytes; /* ELIMIT for a longer field (before unquoting) */
    size_t max_classes;     /* ELIMIT for more distinct labels */
    uint64_t max_gunzip_bytes; /* file loader only: ELIMIT when a .gz inflates to more */
} ingest_csv_options_t;

/* How to read a pair of IDX files. Initialise with ingest_idx_options_init(). The limits are
 * checked against the header before anything is allocated for the data. */
typedef struct ingest_idx_options {
    size_t max_features;       /* ELIMIT when the product of an image's dimensions is larger */
    size_t max_rows;           /* ELIMIT for more items */
    uint64_t max_values;       /* ELIMIT when items x features is larger */
    uint64_t max_gunzip_bytes; /* file loader only: ELIMIT when a .gz inflates to more */
} ingest_idx_options_t;

/* Fill *opt with the defaults: label_name NULL, label_index -1, delimiter 0 (auto) and the
 * INGEST_DEFAULT_* limits. opt must not be NULL. Any thread. */
void ingest_csv_options_init(ingest_csv_options_t *opt);

/* Fill *opt with the INGEST_DEFAULT_* limits. opt must not be NULL. Any thread. */
void ingest_idx_options_init(ingest_idx_options_t *opt);

/* What the first bytes of an upload or a file look like. */
typedef enum ingest_format {
    INGEST_FORMAT_UNKNOWN = 0,    /* none of the below, or too few bytes to tell */
    INGEST_FORMAT_CSV = 1,        /* text: no NUL or control bytes other than TAB CR LF */
    INGEST_FORMAT_IDX_IMAGES = 2, /* 00 00 <type> <ndim >= 2> */
    INGEST_FORMAT_IDX_LABELS = 3, /* 00 00 <type> 01 */
    INGEST_FORMAT_GZIP = 4,       /* 1f 8b: decompress (gz.h) and sniff the output again */
} ingest_format_t;

/* Guess the format of a stream from its first len bytes (up to 4096 are looked at; 4 are enough
 * for IDX and gzip, a whole first line is best for CSV). Only a guess: the parsers validate. IDX
 * is recognised for every IDX element type (08, 09, 0B, 0C, 0D, 0E) so that the IDX parser can
 * say which type is not supported. head may be NULL when len is 0. Returns the format. Any
 * thread. */
ingest_format_t ingest_sniff(const void *head, size_t len);

/* Read a CSV file (plain, or gzip-compressed: detected by the magic bytes 1f 8b, not the name)
 * into a new dataset, through the CSV push parser in 1 MiB reads.
 *   path  the file; opt  NULL for the defaults; out  receives the dataset; err  may be NULL.
 * Returns 0 and sets *out (the caller owns it: trainer_dataset_free()); on failure *out is left
 * NULL and the return value is MLPT_EIO (cannot open or read; the message holds strerror),
 * MLPT_EFORMAT (malformed CSV or gzip), MLPT_ELIMIT (a limit of opt), MLPT_EINVAL (bad arguments
 * or options, or the label column does not exist), MLPT_ENOMEM. Any thread. */
int ingest_load_csv_file(const char *path, const ingest_csv_options_t *opt, trainer_dataset_t **out,
                         ingest_error_t *err);

/* Read an MNIST-style pair of IDX files (each plain or gzip-compressed, detected by magic) into a
 * new dataset: pixels / 255 as features, TRAINER_SCALE_UNIT, one class per distinct label value.
 *   images_path, labels_path  the two files; opt  NULL for the defaults; out  receives the
 *   dataset; err may be NULL (its message starts with "images: " or "labels: ").
 * Returns 0 and sets *out (caller frees with trainer_dataset_free()); on failure *out is left NULL
 * and the return value is MLPT_EIO, MLPT_EFORMAT (bad header, truncated or overlong file, count
 * mismatch, fewer than 2 classes, bad gzip), MLPT_ELIMIT, MLPT_EINVAL, MLPT_ENOMEM. Any thread. */
int ingest_load_idx_files(const char *images_path, const char *labels_path,
                          const ingest_idx_options_t *opt, trainer_dataset_t **out,
                          ingest_error_t *err);

#endif
