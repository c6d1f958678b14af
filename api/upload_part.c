/*
 * api/upload_part.c - one file part of an upload as it streams in: its temporary copy under
 * <data_dir>/uploads/ written and hashed (SHA-256) on a spool thread, gzip detection on the first
 * two bytes, the decoder with its limits (max_gunzip_bytes, max_gunzip_ratio), the push parser
 * of the part's format (ingest/format.h), the end of the part, and the re-parse of a CSV from its
 * copy when label_column came after the file. Failures go to the upload's sticky failure
 * (upload_fail.c). See upload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem_budget.h"
#include "mlpt_err.h"
#include "problem.h"
#include "upload_private.h"

#define REPARSE_CHUNK ((size_t)1 << 20)

void api_upload_part_release(file_part_t *f) {
    ingest_spool_free(f->spool); /* waits for its thread: then the file is ours to close */
    f->spool = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->path[0])
        unlink(f->path);
    f->path[0] = '\0';
    ingest_gz_free(f->gz);
    if (f->def)
        f->def->parser_free(f->parser);
    f->gz = NULL;
    f->parser = NULL;
}

/* Keeps the upload's reservation from the memory budget ahead of what its parsers have filled
 * (upload.h). Returns 0, or -1 after failing the upload (unavailable or too large, naming
 * max_upload_memory_mb) and freeing its parsers. */
static int budget_keep_up(api_upload_t *up) {
    uint64_t used = 0;
    if (!up->budget)
        return 0;
    for (int i = 0; i < N_FILES; i++)
        if (up->files[i].parser)
            used += up->files[i].def->mem_bytes(up->files[i].parser);
    if (used <= up->mem_reserved)
        return 0;
    uint64_t total = api_mem_budget_total(up->budget);
    uint64_t want = used + API_UPLOAD_MEMORY_STEP - up->mem_reserved;
    if (up->mem_reserved + want > total && used <= total)
        want = total - up->mem_reserved; /* the last step: up to the whole budget */
    int rc = api_mem_budget_reserve(up->budget, up->mem_reserved, want, API_UPLOAD_MEMORY_WAIT_MS);
    if (rc == 0) {
        up->mem_reserved += want;
        return 0;
    }
    int part = up->cur >= 0 && up->cur < N_FILES ? up->cur : PART_FILE;
    if (rc == MLPT_ELIMIT)
        api_upload_fail(up, API_PROBLEM_TOO_LARGE, api_upload_part_name(part),
                        "parsing this upload takes more memory than the limit max_upload_memory_mb "
                        "(%llu MiB) allows: send a smaller dataset",
                        (unsigned long long)(total >> 20));
    else
        api_upload_fail(up, API_PROBLEM_UNAVAILABLE, api_upload_part_name(part),
                        "the memory for parsing uploads (max_upload_memory_mb, %llu MiB) is in use "
                        "by other uploads; retry later",
                        (unsigned long long)(total >> 20));
    for (int i = 0; i < N_FILES; i++) { /* give the memory back now, not at the body's end */
        if (up->files[i].def)
            up->files[i].def->parser_free(up->files[i].parser);
        up->files[i].parser = NULL;
    }
    api_mem_budget_release(up->budget, up->mem_reserved);
    up->mem_reserved = 0;
    return -1;
}

/* Pushes decoded bytes into the part's parser. The first parser error of a multipart CSV is
 * kept aside rather than failing the upload: a label_column sent after the file may still make
 * it parse (the temporary copy is then parsed again at the end). Returns 0, or MLPT_ESTOPPED
 * once the parser has failed: the gzip decoder then stops, since nothing it would inflate could
 * change the answer (a re-parse decodes the temporary copy from its start). */
static int parser_push(api_upload_t *up, int part, const void *data, size_t len) {
    file_part_t *f = &up->files[part];
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    if (f->parse_rc || (part == PART_FILE && (up->label_late || up->opts_late)) || up->problem)
        return MLPT_ESTOPPED;
    if (len == 0)
        return 0;
    int rc = f->def->feed(f->parser, data, len, &e);
    if (rc) {
        f->parse_rc = rc;
        f->parse_err = e;
        if (part != PART_FILE || up->raw)
            api_upload_fail_ingest(up, part, rc, &e);
        return MLPT_ESTOPPED;
    }
    return budget_keep_up(up) == 0 ? 0 : MLPT_ESTOPPED;
}

static int gz_sink(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    file_part_t *f = ctx;
    (void)err;
    return parser_push(f->up, f->part, data, len);
}

/* A failure of the gzip stream itself: over one of the decompression limits (too large, naming it),
 * or corrupt (invalid). */
static void gz_failed(api_upload_t *up, int part, int rc, const ingest_error_t *e) {
    file_part_t *f = &up->files[part];
    switch (rc == MLPT_ELIMIT ? ingest_gz_limit_hit(f->gz) : INGEST_GZ_LIMIT_NONE) {
    case INGEST_GZ_LIMIT_OUTPUT:
        api_upload_fail(
            up, API_PROBLEM_TOO_LARGE, api_upload_part_name(part),
            "the file decompresses to more than the limit max_gunzip_bytes (%llu bytes: %d x "
            "max_upload_bytes, at most 4 GiB)",
            (unsigned long long)up->max_gunzip, API_UPLOAD_GUNZIP_FACTOR);
        break;
    case INGEST_GZ_LIMIT_RATIO:
        api_upload_fail(
            up, API_PROBLEM_TOO_LARGE, api_upload_part_name(part),
            "the gzip data decompresses to more than %d times its size (the limit "
            "max_gunzip_ratio, checked past the first %d MiB): send the file uncompressed",
            API_UPLOAD_GUNZIP_RATIO, (int)(API_UPLOAD_GUNZIP_RATIO_FLOOR >> 20));
        break;
    default:
        api_upload_fail_ingest(up, part, rc, e);
    }
}

/* Pushes received bytes on: through the gzip decoder when the part is compressed. */
static void part_feed(api_upload_t *up, int part, const void *data, size_t len) {
    file_part_t *f = &up->files[part];
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    if (!f->gz) {
        parser_push(up, part, data, len);
        return;
    }
    if (f->gz_stopped)
        return;
    int rc = ingest_gz_feed(f->gz, data, len, &e);
    if (rc == MLPT_ESTOPPED)
        f->gz_stopped = 1; /* the parser's error is what the answer will be */
    else if (rc)
        gz_failed(up, part, rc, &e);
}

/* Chooses gzip or not from the first two bytes and creates the parser. */
static void part_decide(api_upload_t *up, int part) {
    file_part_t *f = &up->files[part];
    f->decided = 1;
    ingest_options_t opt;
    ingest_options_init(&opt);
    if (f->fmt->label_column && f->def == &f->fmt->parts[0])
        opt.label_name = up->has_label ? up->label : NULL;
    if (up->has_opt[PART_SUBJECT - FIRST_OPT])
        opt.rec.subject_column = up->opt[PART_SUBJECT - FIRST_OPT];
    if (up->has_opt[PART_TIME_COL - FIRST_OPT])
        opt.rec.timestamp_column = up->opt[PART_TIME_COL - FIRST_OPT];
    if (up->has_opt[PART_TIME_UNIT - FIRST_OPT])
        ingest_time_unit_parse(up->opt[PART_TIME_UNIT - FIRST_OPT], &opt.rec.timestamp_unit);
    f->parser = f->def->parser_new(&opt);
    int gz = f->nhead == 2 && f->head[0] == 0x1F && f->head[1] == 0x8B;
    if (gz && f->parser) {
        f->gz = ingest_gz_new(up->max_gunzip, gz_sink, f);
        ingest_gz_set_ratio(f->gz, API_UPLOAD_GUNZIP_RATIO, API_UPLOAD_GUNZIP_RATIO_FLOOR);
    }
    if (!f->parser || (gz && !f->gz))
        api_upload_fail(up, API_PROBLEM_INTERNAL, api_upload_part_name(part), "out of memory");
    else
        part_feed(up, part, f->head, f->nhead);
}

/* The bytes of a part as received: gzip or not is decided on the first two, then they go on to
 * the decoder or the parser. */
static void part_bytes(api_upload_t *up, int part, const char *data, size_t len) {
    file_part_t *f = &up->files[part];
    if (!f->decided) {
        size_t take = 2 - f->nhead < len ? 2 - f->nhead : len;
        memcpy(f->head + f->nhead, data, take);
        f->nhead += take;
        data += take;
        len -= take;
        if (f->nhead < 2)
            return;
        part_decide(up, part);
    }
    if (!up->problem)
        part_feed(up, part, data, len);
}

/* The spool's consumer, on its thread: the part's bytes go to the temporary copy and into the
 * hash. Returns 0 or the errno of a failed write. */
static int copy_bytes(void *ctx, const void *data, size_t len) {
    file_part_t *f = ctx;
    const char *p = data;
    api_sha256_update(&f->sha, data, len);
    while (len) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void copy_failed(api_upload_t *up, int part, int errnum) {
    char internal[512];
    snprintf(internal, sizeof(internal), "cannot write the upload's copy %s: %s",
             up->files[part].path, strerror(errnum > 0 ? errnum : EIO));
    api_upload_fail_file(up, part, errnum > 0 ? errnum : EIO, "uploads", internal);
}

void api_upload_part_data(api_upload_t *up, int part, const char *data, size_t len) {
    file_part_t *f = &up->files[part];
    if (len == 0 || up->problem)
        return;
    up->total += len;
    if (up->total > up->max_bytes) {
        up->over_limit = !up->problem;
        api_upload_fail(up, API_PROBLEM_TOO_LARGE, api_upload_part_name(part),
                        "the upload exceeds the limit max_upload_bytes (%llu "
                        "bytes)",
                        (unsigned long long)up->max_bytes);
        return;
    }
    int rc = ingest_spool_put(f->spool, data, len);
    if (rc) {
        copy_failed(up, part, rc);
        return;
    }
    f->bytes += len;
    part_bytes(up, part, data, len);
}

void api_upload_part_begin(api_upload_t *up, int part, const char *filename) {
    file_part_t *f = &up->files[part];
    if (f->present) {
        api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part), "is given twice");
        return;
    }
    for (int i = 0; i < N_FILES; i++)
        if (up->files[i].present && up->files[i].fmt != f->fmt) { /* one format per upload */
            char list[160];
            api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part), "give either %s",
                            ingest_format_list(list, sizeof(list), INGEST_LIST_EITHER));
            return;
        }
    f->present = 1;
    snprintf(f->filename, sizeof(f->filename), "%s", filename ? filename : "");
    api_sha256_init(&f->sha);
    snprintf(f->path, sizeof(f->path), "%s/uploads/upload-XXXXXX", up->data_dir);
    f->fd = mkstemp(f->path);
    if (f->fd < 0) {
        int e = errno ? errno : EIO;
        char internal[sizeof(up->internal)];
        snprintf(internal, sizeof(internal), "cannot create the upload's copy %s: %s", f->path,
                 strerror(e));
        f->path[0] = '\0';
        api_upload_fail_file(up, part, e, "uploads", internal);
    } else if (!(f->spool = ingest_spool_new(copy_bytes, f))) {
        api_upload_fail(up, API_PROBLEM_INTERNAL, api_upload_part_name(part), "out of memory");
    }
}

void api_upload_part_end(api_upload_t *up, int part) {
    file_part_t *f = &up->files[part];
    ingest_error_t e;
    int rc = 0;
    memset(&e, 0, sizeof(e));
    if (f->done || up->problem)
        return;
    f->done = 1;
    if (!f->decided)
        part_decide(up, part);
    if (up->problem)
        return;
    if (f->gz && !f->gz_stopped && (rc = ingest_gz_finish(f->gz, &e)) != 0)
        gz_failed(up, part, rc, &e);
    if (!rc && f->def->end && f->parser && !f->parse_rc && (rc = f->def->end(f->parser, &e)) != 0)
        api_upload_fail_ingest(up, part, rc, &e);
    if (f->spool && (rc = ingest_spool_close(f->spool)) != 0) /* all written and hashed */
        copy_failed(up, part, rc);
    if (f->fd >= 0 && close(f->fd) != 0 && !up->problem)
        copy_failed(up, part, errno);
    f->fd = -1;
}

/* A label_column that came after the file: the temporary copy goes through the same pipeline
 * again, from its first byte (gzip detection, the same decompression limits, a CSV parser for
 * that column), stopping at the first parser error. */
void api_upload_part_reparse(api_upload_t *up) {
    file_part_t *f = &up->files[PART_FILE];
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    char *buf = malloc(REPARSE_CHUNK);
    int fd = buf ? open(f->path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        if (buf)
            api_upload_fail(up, API_PROBLEM_INTERNAL, "file", "cannot read the upload again: %s",
                            strerror(errno));
        else
            api_upload_fail(up, API_PROBLEM_INTERNAL, "file", "out of memory");
        free(buf);
        return;
    }
    ingest_gz_free(f->gz);
    f->def->parser_free(f->parser);
    f->gz = NULL;
    f->parser = NULL;
    f->decided = f->gz_stopped = f->parse_rc = 0;
    f->nhead = 0;
    up->label_late = 0; /* up->label is set: part_decide makes a parser for it */
    up->opts_late = 0;  /* and the format and its options */
    while (!up->problem && !f->parse_rc) {
        ssize_t n = read(fd, buf, REPARSE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            api_upload_fail(up, API_PROBLEM_INTERNAL, "file", "cannot read the upload again: %s",
                            strerror(errno));
        if (n <= 0)
            break;
        part_bytes(up, PART_FILE, buf, (size_t)n);
    }
    if (!up->problem && !f->decided)
        part_decide(up, PART_FILE); /* a file of fewer than 2 bytes */
    int rc;
    if (!up->problem && !f->parse_rc && f->gz && !f->gz_stopped &&
        (rc = ingest_gz_finish(f->gz, &e)) != 0)
        gz_failed(up, PART_FILE, rc, &e);
    close(fd);
    free(buf);
}
