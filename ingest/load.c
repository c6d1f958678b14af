/*
 * ingest/load.c - whole-file loaders for the CLI: read 1 MiB at a time and push it through the
 * parsers, through the gzip decoder first when the file starts with the gzip magic 1f 8b.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "gz.h"
#include "idx.h"
#include "ingest.h"
#include "ingest_private.h"

#define LOAD_CHUNK ((size_t)1 << 20)

/* Where the bytes of a file go; `failed` tells a parser error from a gzip or I/O error. */
typedef struct load_sink {
    int (*feed)(void *parser, const void *buf, size_t len, ingest_error_t *err);
    void *parser;
    int failed;
} load_sink_t;

static int sink_feed(void *ctx, const void *buf, size_t len, ingest_error_t *err) {
    load_sink_t *s = ctx;
    int rc = s->feed(s->parser, buf, len, err);
    if (rc)
        s->failed = 1;
    return rc;
}

static int feed_csv(void *parser, const void *buf, size_t len, ingest_error_t *err) {
    return ingest_csv_feed(parser, buf, len, err);
}

static int feed_idx(void *parser, const void *buf, size_t len, ingest_error_t *err) {
    return ingest_idx_feed(parser, buf, len, err);
}

static ssize_t read_some(int fd, void *buf, size_t n) {
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

static int io_fail(ingest_error_t *err, const char *what, const char *path, int errnum) {
    char esc[120], why[128];
    ingest_escape(esc, sizeof(esc), path, strlen(path), 100);
    ingest_error_set(err, MLPT_EIO, 0, 0, NULL, "cannot %s \"%s\": %s", what, esc,
                     ingest_strerror(errnum, why, sizeof(why)));
    return MLPT_EIO;
}

/* Streams the file at path into sink (gunzipping when it starts with 1f 8b). Returns 0 or the
 * first error, with *err filled. */
static int load_stream(const char *path, load_sink_t *sink, uint64_t max_gunzip,
                       ingest_error_t *err) {
    int rc = MLPT_OK, fd = -1, first = 1;
    unsigned char *buf = NULL;
    ingest_gz_t *gz = NULL;
    buf = malloc(LOAD_CHUNK);
    if (!buf) {
        ingest_error_set(err, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
        rc = MLPT_ENOMEM;
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = io_fail(err, "open", path, errno);
        goto out;
    }
    for (;;) {
        size_t have = 0;
        ssize_t n;
        do { /* at the start, read until the 2 magic bytes are in (or the file ends) */
            n = read_some(fd, buf + have, LOAD_CHUNK - have);
            if (n < 0) {
                rc = io_fail(err, "read", path, errno);
                goto out;
            }
            have += (size_t)n;
        } while (first && n > 0 && have < 2);
        if (first) {
            first = 0;
            if (have >= 2 && buf[0] == 0x1F && buf[1] == 0x8B) {
                gz = ingest_gz_new(max_gunzip, sink_feed, sink);
                if (!gz) {
                    ingest_error_set(err, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
                    rc = MLPT_ENOMEM;
                    goto out;
                }
            }
        }
        if (have > 0) {
            rc = gz ? ingest_gz_feed(gz, buf, have, err) : sink_feed(sink, buf, have, err);
            if (rc)
                goto out;
        }
        if (n == 0)
            break;
    }
    if (gz)
        rc = ingest_gz_finish(gz, err);
out:
    ingest_gz_free(gz);
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int ingest_load_csv_file(const char *path, const ingest_csv_options_t *opt, trainer_dataset_t **out,
                         ingest_error_t *err) {
    if (out)
        *out = NULL;
    if (!path || !out) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_csv_file: NULL argument");
        return MLPT_EINVAL;
    }
    ingest_csv_t *csv = ingest_csv_new(opt);
    if (!csv) {
        ingest_error_set(err, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
        return MLPT_ENOMEM;
    }
    load_sink_t sink = {feed_csv, csv, 0};
    uint64_t max_gunzip =
        opt && opt->max_gunzip_bytes ? opt->max_gunzip_bytes : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
    int rc = load_stream(path, &sink, max_gunzip, err);
    if (rc == MLPT_OK)
        rc = ingest_csv_finish(csv, out, err);
    ingest_csv_free(csv);
    return rc;
}

/* Loads one IDX file into the parser ix; errors not from the parser get the role in front and
 * the part set (the parser's own errors carry both). */
static int load_idx_one(const char *path, ingest_idx_t *ix, ingest_part_t part, uint64_t max_gunzip,
                        ingest_error_t *err) {
    const char *role = part == INGEST_PART_IMAGES ? "images" : "labels";
    load_sink_t sink = {feed_idx, ix, 0};
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = load_stream(path, &sink, max_gunzip, &e);
    if (rc && !sink.failed) {
        char msg[sizeof(e.message)];
        memcpy(msg, e.message, sizeof(msg));
        snprintf(e.message, sizeof(e.message), "%s: %.*s", role,
                 (int)(sizeof(e.message) - strlen(role) - 3), msg);
        e.part = part;
    }
    if (rc == MLPT_OK)
        rc = ingest_idx_finish(ix, &e);
    if (rc)
        ingest_error_copy(err, &e);
    return rc;
}

int ingest_load_idx_files(const char *images_path, const char *labels_path,
                          const ingest_idx_options_t *opt, trainer_dataset_t **out,
                          ingest_error_t *err) {
    int rc = MLPT_ENOMEM;
    ingest_idx_t *im = NULL, *lb = NULL;
    if (out)
        *out = NULL;
    if (!images_path || !labels_path || !out) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_idx_files: NULL argument");
        return MLPT_EINVAL;
    }
    uint64_t max_gunzip =
        opt && opt->max_gunzip_bytes ? opt->max_gunzip_bytes : INGEST_DEFAULT_MAX_GUNZIP_BYTES;
    im = ingest_idx_new(INGEST_IDX_IMAGES, opt);
    lb = ingest_idx_new(INGEST_IDX_LABELS, opt);
    if (!im || !lb) {
        ingest_error_set(err, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
        goto out;
    }
    rc = load_idx_one(images_path, im, INGEST_PART_IMAGES, max_gunzip, err);
    if (rc == MLPT_OK)
        rc = load_idx_one(labels_path, lb, INGEST_PART_LABELS, max_gunzip, err);
    if (rc == MLPT_OK)
        rc = ingest_idx_combine(im, lb, out, err);
out:
    ingest_idx_free(im);
    ingest_idx_free(lb);
    return rc;
}
