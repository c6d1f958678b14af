/*
 * ingest/load.c - whole-file loaders for the CLI: read 1 MiB at a time and push it through a
 * format's parsers (format.h), through the gzip decoder first when the file starts with the gzip
 * magic 1f 8b.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "gz.h"
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

/* Streams one file into its part's parser, then ends the part; errors not from the parser get
 * the part's field in front and the part set when the format has several. */
static int load_part(const ingest_format_def_t *fmt, size_t part, const char *path, void *parser,
                     uint64_t max_gunzip, ingest_error_t *e) {
    const ingest_part_def_t *def = &fmt->parts[part];
    load_sink_t sink = {def->feed, parser, 0};
    int rc = load_stream(path, &sink, max_gunzip, e);
    if (rc && !sink.failed && fmt->n_parts > 1) {
        e->part = (ingest_part_t)(part + 1); /* the parser sets its own errors' part */
        char msg[sizeof(e->message)];
        memcpy(msg, e->message, sizeof(msg));
        snprintf(e->message, sizeof(e->message), "%s: %.*s", def->field,
                 (int)(sizeof(e->message) - strlen(def->field) - 3), msg);
    }
    if (rc == MLPT_OK && def->end)
        rc = def->end(parser, e);
    return rc;
}

int ingest_load_files(const ingest_format_def_t *fmt, const char *const *paths,
                      const ingest_options_t *opt, trainer_dataset_t **out, ingest_error_t *err) {
    void *parsers[INGEST_FORMAT_MAX_PARTS] = {0};
    ingest_options_t defaults;
    ingest_error_t e;
    int rc = MLPT_OK;
    memset(&e, 0, sizeof(e));
    if (out)
        *out = NULL;
    if (!fmt || !paths || !out) {
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_files: NULL argument");
        return MLPT_EINVAL;
    }
    for (size_t p = 0; p < fmt->n_parts; p++)
        if (!paths[p]) {
            ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_files: NULL argument");
            return MLPT_EINVAL;
        }
    if (!opt) {
        ingest_options_init(&defaults);
        opt = &defaults;
    }
    for (size_t p = 0; p < fmt->n_parts; p++)
        if (!(parsers[p] = fmt->parts[p].parser_new(opt))) {
            ingest_error_set(&e, MLPT_ENOMEM, 0, 0, NULL, "out of memory");
            rc = MLPT_ENOMEM;
        }
    uint64_t max_gunzip = fmt->max_gunzip(opt);
    for (size_t p = 0; rc == MLPT_OK && p < fmt->n_parts; p++)
        rc = load_part(fmt, p, paths[p], parsers[p], max_gunzip, &e);
    size_t part = 0;
    if (rc == MLPT_OK)
        rc = fmt->build(parsers, out, &part, &e);
    for (size_t p = 0; p < fmt->n_parts; p++)
        fmt->parts[p].parser_free(parsers[p]);
    if (rc)
        ingest_error_copy(err, &e);
    return rc;
}

/* The two loaders of ingest.h: the registry's CSV and IDX entries. */

int ingest_load_csv_file(const char *path, const ingest_csv_options_t *opt, trainer_dataset_t **out,
                         ingest_error_t *err) {
    ingest_options_t o;
    ingest_options_init(&o);
    if (opt)
        o.csv = *opt;
    if (!path || !out) {
        if (out)
            *out = NULL;
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_csv_file: NULL argument");
        return MLPT_EINVAL;
    }
    return ingest_load_files(ingest_format_find("csv"), &path, &o, out, err);
}

int ingest_load_idx_files(const char *images_path, const char *labels_path,
                          const ingest_idx_options_t *opt, trainer_dataset_t **out,
                          ingest_error_t *err) {
    ingest_options_t o;
    ingest_options_init(&o);
    if (opt)
        o.idx = *opt;
    if (!images_path || !labels_path || !out) {
        if (out)
            *out = NULL;
        ingest_error_set(err, MLPT_EINVAL, 0, 0, NULL, "ingest_load_idx_files: NULL argument");
        return MLPT_EINVAL;
    }
    const char *paths[2] = {images_path, labels_path};
    return ingest_load_files(ingest_format_find("idx"), paths, &o, out, err);
}
