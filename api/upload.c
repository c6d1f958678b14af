/*
 * api/upload.c - the streaming upload sink: temporary files, SHA-256, gzip detection, the CSV and
 * IDX push parsers, and the matrix file at the end. See upload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "gz.h"
#include "idx.h"
#include "ingest.h"
#include "json_util.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "problem.h"
#include "sha256.h"
#include "spool.h"
#include "upload.h"
#include "validate.h"

#define REPARSE_CHUNK ((size_t)1 << 20)

enum { PART_FILE, PART_IMAGES, PART_LABELS, N_FILES, PART_NAME = N_FILES, PART_LABEL, PART_NONE };

static const char *const part_names[] = {"file", "images", "labels", "name", "label_column"};

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
    ingest_csv_t *csv;
    ingest_idx_t *idx;
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
    int raw; /* a text/csv body: no label_column can come later */
    unsigned status;
    int over_limit; /* the sticky failure is the 413 over max_bytes */
    char field[32], message[320];
    trainer_dataset_t *ds;
    char rel[256], matrix[4352];
    int matrix_written, keep;
};

static void fail(api_upload_t *up, unsigned status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(api_upload_t *up, unsigned status, const char *field, const char *fmt, ...) {
    va_list ap;
    if (up->status)
        return;
    up->status = status;
    snprintf(up->field, sizeof(up->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(up->message, sizeof(up->message), fmt, ap);
    va_end(ap);
}

/* A parser or gzip failure of a file part. */
static void fail_ingest(api_upload_t *up, int part, int rc, const ingest_error_t *e) {
    const char *field = part_names[part];
    if (rc == MLPT_EINVAL && part == PART_FILE && up->has_label)
        field = "label_column";
    fail(up, api_error_status(rc), field, "%s", e->message[0] ? e->message : mlpt_strerror(rc));
}

api_upload_t *api_upload_new(const char *data_dir, uint64_t max_bytes) {
    api_upload_t *up = calloc(1, sizeof(*up));
    if (!up || !(up->data_dir = strdup(data_dir))) {
        free(up);
        return NULL;
    }
    up->max_bytes = max_bytes;
    up->max_gunzip = api_upload_max_gunzip(max_bytes);
    up->cur = PART_NONE;
    for (int i = 0; i < N_FILES; i++) {
        up->files[i].fd = -1;
        up->files[i].up = up;
        up->files[i].part = i;
    }
    return up;
}

static void part_release(file_part_t *f) {
    ingest_spool_free(f->spool); /* waits for its thread: then the file is ours to close */
    f->spool = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->path[0])
        unlink(f->path);
    f->path[0] = '\0';
    ingest_gz_free(f->gz);
    ingest_csv_free(f->csv);
    ingest_idx_free(f->idx);
    f->gz = NULL;
    f->csv = NULL;
    f->idx = NULL;
}

void api_upload_free(api_upload_t *up) {
    if (!up)
        return;
    for (int i = 0; i < N_FILES; i++)
        part_release(&up->files[i]);
    if (up->matrix_written && !up->keep)
        unlink(up->matrix);
    trainer_dataset_free(up->ds);
    free(up->data_dir);
    free(up);
}

unsigned api_upload_status(const api_upload_t *up) {
    return up ? up->status : 0;
}

int api_upload_over_limit(const api_upload_t *up) {
    return up && up->over_limit;
}

void api_upload_problem(const api_upload_t *up, api_response_t *res) {
    api_problem_field(res, up->status ? up->status : 500, up->field, "%s", up->message);
}

void api_upload_keep(api_upload_t *up) {
    up->keep = 1;
}

/* ---- small fields --------------------------------------------------------------------------- */

static void small_append(api_upload_t *up, int part, const char *data, size_t len) {
    char *buf = part == PART_NAME ? up->name : up->label;
    size_t *used = part == PART_NAME ? &up->name_len : &up->label_len;
    size_t cap = part == PART_NAME ? sizeof(up->name) : sizeof(up->label);
    if (*used + len >= cap) {
        fail(up, 422, part_names[part], "is longer than %zu bytes", cap - 1);
        return;
    }
    if (memchr(data, '\0', len)) { /* the C string would end there: "a\0b" would become "a" */
        fail(up, 422, part_names[part], "must not contain NUL bytes");
        return;
    }
    memcpy(buf + *used, data, len);
    *used += len;
    buf[*used] = '\0';
}

static void small_end(api_upload_t *up, int part) {
    const char *why;
    if (part == PART_NAME) {
        up->has_name = 1;
        if (api_name_check(up->name, &why) != 0)
            fail(up, 422, "name", "%s", why);
    } else {
        up->has_label = 1;
        if (up->label_len == 0)
            fail(up, 422, "label_column", "must not be empty");
        else if (up->files[PART_FILE].present)
            up->label_late = 1; /* the file is already being parsed: parse it again at the end */
    }
}

void api_upload_set(api_upload_t *up, const char *field, const char *value, size_t len) {
    int part = strcmp(field, "name") == 0 ? PART_NAME : PART_LABEL;
    if (up->status)
        return;
    small_append(up, part, value, len);
    if (!up->status)
        small_end(up, part);
}

/* ---- file parts ----------------------------------------------------------------------------- */

/* Pushes decoded bytes into the part's parser. The first parser error of a multipart CSV is
 * kept aside rather than failing the upload: a label_column sent after the file may still make
 * it parse (the temporary copy is then parsed again at the end). Returns 0, or MLPT_ESTOPPED
 * once the parser has failed: the gzip decoder then stops, since nothing it would inflate could
 * change the answer (a re-parse decodes the temporary copy from its start). */
static int parser_push(api_upload_t *up, int part, const void *data, size_t len) {
    file_part_t *f = &up->files[part];
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    if (f->parse_rc || (part == PART_FILE && up->label_late))
        return MLPT_ESTOPPED;
    if (len == 0)
        return 0;
    int rc =
        f->csv ? ingest_csv_feed(f->csv, data, len, &e) : ingest_idx_feed(f->idx, data, len, &e);
    if (rc) {
        f->parse_rc = rc;
        f->parse_err = e;
        if (part != PART_FILE || up->raw)
            fail_ingest(up, part, rc, &e);
        return MLPT_ESTOPPED;
    }
    return 0;
}

static int gz_sink(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    file_part_t *f = ctx;
    (void)err;
    return parser_push(f->up, f->part, data, len);
}

/* A failure of the gzip stream itself: over one of the decompression limits (413 naming it),
 * or corrupt (422). */
static void gz_failed(api_upload_t *up, int part, int rc, const ingest_error_t *e) {
    file_part_t *f = &up->files[part];
    switch (rc == MLPT_ELIMIT ? ingest_gz_limit_hit(f->gz) : INGEST_GZ_LIMIT_NONE) {
    case INGEST_GZ_LIMIT_OUTPUT:
        fail(up, 413, part_names[part],
             "the file decompresses to more than the limit max_gunzip_bytes (%llu bytes: %d x "
             "max_upload_bytes, at most 4 GiB)",
             (unsigned long long)up->max_gunzip, API_UPLOAD_GUNZIP_FACTOR);
        break;
    case INGEST_GZ_LIMIT_RATIO:
        fail(up, 413, part_names[part],
             "the gzip data decompresses to more than %d times its size (the limit "
             "max_gunzip_ratio, checked past the first %d MiB): send the file uncompressed",
             API_UPLOAD_GUNZIP_RATIO, (int)(API_UPLOAD_GUNZIP_RATIO_FLOOR >> 20));
        break;
    default:
        fail_ingest(up, part, rc, e);
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
    if (part == PART_FILE) {
        ingest_csv_options_t opt;
        ingest_csv_options_init(&opt);
        opt.label_name = up->has_label ? up->label : NULL;
        f->csv = ingest_csv_new(&opt);
    } else {
        f->idx = ingest_idx_new(part == PART_IMAGES ? INGEST_IDX_IMAGES : INGEST_IDX_LABELS, NULL);
    }
    int gz = f->nhead == 2 && f->head[0] == 0x1F && f->head[1] == 0x8B;
    if (gz && (f->csv || f->idx)) {
        f->gz = ingest_gz_new(up->max_gunzip, gz_sink, f);
        ingest_gz_set_ratio(f->gz, API_UPLOAD_GUNZIP_RATIO, API_UPLOAD_GUNZIP_RATIO_FLOOR);
    }
    if (!(f->csv || f->idx) || (gz && !f->gz))
        fail(up, 500, part_names[part], "out of memory");
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
    if (!up->status)
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
    if (errnum == ENOSPC || errnum == EDQUOT)
        fail(up, 507, part_names[part], "the disk is full");
    else if (errnum > 0)
        fail(up, 500, part_names[part], "cannot write the upload: %s", strerror(errnum));
    else
        fail(up, 500, part_names[part], "cannot write the upload");
}

static void file_data(api_upload_t *up, int part, const char *data, size_t len) {
    file_part_t *f = &up->files[part];
    if (len == 0 || up->status)
        return;
    up->total += len;
    if (up->total > up->max_bytes) {
        up->over_limit = !up->status;
        fail(up, 413, part_names[part],
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

static void file_begin(api_upload_t *up, int part, const char *filename) {
    file_part_t *f = &up->files[part];
    if (f->present) {
        fail(up, 422, part_names[part], "is given twice");
        return;
    }
    if ((part == PART_FILE && (up->files[PART_IMAGES].present || up->files[PART_LABELS].present)) ||
        (part != PART_FILE && up->files[PART_FILE].present)) {
        fail(up, 422, part_names[part], "give either file (CSV) or images and labels (IDX)");
        return;
    }
    f->present = 1;
    snprintf(f->filename, sizeof(f->filename), "%s", filename ? filename : "");
    api_sha256_init(&f->sha);
    snprintf(f->path, sizeof(f->path), "%s/uploads/upload-XXXXXX", up->data_dir);
    f->fd = mkstemp(f->path);
    if (f->fd < 0) {
        f->path[0] = '\0';
        fail(up, errno == ENOSPC ? 507 : 500, part_names[part], "cannot store the upload: %s",
             strerror(errno));
    } else if (!(f->spool = ingest_spool_new(copy_bytes, f))) {
        fail(up, 500, part_names[part], "out of memory");
    }
}

static void file_end(api_upload_t *up, int part) {
    file_part_t *f = &up->files[part];
    ingest_error_t e;
    int rc = 0;
    memset(&e, 0, sizeof(e));
    if (f->done || up->status)
        return;
    f->done = 1;
    if (!f->decided)
        part_decide(up, part);
    if (up->status)
        return;
    if (f->gz && !f->gz_stopped && (rc = ingest_gz_finish(f->gz, &e)) != 0)
        gz_failed(up, part, rc, &e);
    if (!rc && f->idx && !f->parse_rc && (rc = ingest_idx_finish(f->idx, &e)) != 0)
        fail_ingest(up, part, rc, &e);
    if (f->spool && (rc = ingest_spool_close(f->spool)) != 0) /* all written and hashed */
        copy_failed(up, part, rc);
    if (f->fd >= 0 && close(f->fd) != 0 && !up->status)
        fail(up, 500, part_names[part], "cannot store the upload: %s", strerror(errno));
    f->fd = -1;
}

static void part_end(api_upload_t *up) {
    if (up->cur < N_FILES)
        file_end(up, up->cur);
    else if (up->cur != PART_NONE && !up->status)
        small_end(up, up->cur);
}

void api_upload_field(api_upload_t *up, const char *field, const char *filename, const char *data,
                      size_t off, size_t len) {
    if (!up || up->status)
        return;
    if (!field) { /* a part whose Content-Disposition has no name="..." */
        fail(up, 422, "body",
             "a multipart part has no name (expected Content-Disposition: form-data; "
             "name=\"file\", \"images\", \"labels\", \"name\" or \"label_column\")");
        return;
    }
    int same = up->cur != PART_NONE && strcmp(field, part_names[up->cur]) == 0;
    if (!same || (off == 0 && up->cur_bytes > 0)) {
        part_end(up);
        int part = 0;
        while (part < PART_NONE && strcmp(field, part_names[part]) != 0)
            part++;
        if (part == PART_NONE) {
            char f[40];
            snprintf(f, sizeof(f), "%.32s", field);
            fail(up, 422, f,
                 "unknown field (expected file, or images and labels, and optionally "
                 "name and label_column)");
            return;
        }
        if (up->status)
            return;
        if ((part == PART_NAME && up->has_name) || (part == PART_LABEL && up->has_label)) {
            fail(up, 422, part_names[part], "is given twice");
            return;
        }
        up->cur = part;
        up->cur_bytes = 0;
        if (part < N_FILES)
            file_begin(up, part, filename);
    }
    up->cur_bytes += len;
    if (up->cur < N_FILES)
        file_data(up, up->cur, data, len);
    else if (len)
        small_append(up, up->cur, data, len);
}

void api_upload_raw(api_upload_t *up, const char *data, size_t len) {
    if (!up)
        return;
    up->raw = 1;
    if (!up->status && up->cur < N_FILES)
        file_data(up, up->cur, data, len);
}

/* ---- the end ------------------------------------------------------------------------------- */

/* The default name: the file name without directories, up to its first '.'. */
static void default_name(api_upload_t *up) {
    const file_part_t *f =
        up->files[PART_FILE].present ? &up->files[PART_FILE] : &up->files[PART_IMAGES];
    const char *base = strrchr(f->filename, '/');
    const char *why;
    base = base ? base + 1 : f->filename;
    size_t n = strcspn(base, ".");
    snprintf(up->name, sizeof(up->name), "%.*s", (int)n, base);
    if (api_name_check(up->name, &why) != 0)
        snprintf(up->name, sizeof(up->name), "dataset");
}

/* 16 random hex digits for the matrix file name (/dev/urandom; the clock if it is missing). */
static void random_hex(char out[17]) {
    unsigned char b[8];
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    } else {
        for (int i = 0; i < 8; i++)
            v = v << 8 | b[i];
    }
    if (fd >= 0)
        close(fd);
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

/* The matrix's relative path: datasets/<name reduced to [A-Za-z0-9._-], 48 bytes>-<hex>.mlds. */
static void matrix_path(api_upload_t *up) {
    char slug[49], hex[17];
    size_t n = 0;
    for (const char *p = up->name; *p && n < sizeof(slug) - 1; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || (c == '.' && n > 0);
        slug[n++] = ok ? c : '_';
    }
    slug[n] = '\0';
    random_hex(hex);
    snprintf(up->rel, sizeof(up->rel), "datasets/%s-%s.mlds", n ? slug : "dataset", hex);
    snprintf(up->matrix, sizeof(up->matrix), "%s/%s", up->data_dir, up->rel);
}

/* A label_column that came after the file: the temporary copy goes through the same pipeline
 * again, from its first byte (gzip detection, the same decompression limits, a CSV parser for
 * that column), stopping at the first parser error. */
static void reparse_csv(api_upload_t *up) {
    file_part_t *f = &up->files[PART_FILE];
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    char *buf = malloc(REPARSE_CHUNK);
    int fd = buf ? open(f->path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        if (buf)
            fail(up, 500, "file", "cannot read the upload again: %s", strerror(errno));
        else
            fail(up, 500, "file", "out of memory");
        free(buf);
        return;
    }
    ingest_gz_free(f->gz);
    ingest_csv_free(f->csv);
    f->gz = NULL;
    f->csv = NULL;
    f->decided = f->gz_stopped = f->parse_rc = 0;
    f->nhead = 0;
    up->label_late = 0; /* up->label is set: part_decide makes a parser for it */
    while (!up->status && !f->parse_rc) {
        ssize_t n = read(fd, buf, REPARSE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(up, 500, "file", "cannot read the upload again: %s", strerror(errno));
        if (n <= 0)
            break;
        part_bytes(up, PART_FILE, buf, (size_t)n);
    }
    if (!up->status && !f->decided)
        part_decide(up, PART_FILE); /* a file of fewer than 2 bytes */
    int rc;
    if (!up->status && !f->parse_rc && f->gz && !f->gz_stopped &&
        (rc = ingest_gz_finish(f->gz, &e)) != 0)
        gz_failed(up, PART_FILE, rc, &e);
    close(fd);
    free(buf);
}

static void parse_csv(api_upload_t *up) {
    file_part_t *f = &up->files[PART_FILE];
    ingest_error_t e;
    int rc;
    memset(&e, 0, sizeof(e));
    if (up->label_late)
        reparse_csv(up);
    if (up->status)
        return;
    if (f->parse_rc) {
        rc = f->parse_rc;
        e = f->parse_err;
    } else {
        rc = ingest_csv_finish(f->csv, &up->ds, &e);
    }
    if (rc) {
        fail_ingest(up, PART_FILE, rc, &e);
        return;
    }
    /* Class names are answered as JSON strings, where bytes that are not UTF-8 would become '?':
     * two labels of a Latin-1 file could then show as the same class. */
    for (size_t i = 0; i < up->ds->classes; i++) {
        const unsigned char *name = (const unsigned char *)up->ds->class_names[i];
        if (api_utf8_valid((const char *)name, strlen((const char *)name)))
            continue;
        char shown[41 * 4 + 1]; /* the first 40 bytes, those above 0x7F as \xNN */
        size_t n = 0;
        for (size_t j = 0; name[j] && j < 40; j++)
            n += (size_t)(name[j] < 0x80
                              ? snprintf(shown + n, sizeof(shown) - n, "%c", name[j])
                              : snprintf(shown + n, sizeof(shown) - n, "\\x%02X", name[j]));
        fail(up, 422, "file", "the label \"%s\" is not valid UTF-8: save the file as UTF-8", shown);
        return;
    }
}

static void parse_idx(api_upload_t *up) {
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    if (!up->files[PART_IMAGES].present || !up->files[PART_LABELS].present) {
        int missing = up->files[PART_IMAGES].present ? PART_LABELS : PART_IMAGES;
        fail(up, 422, part_names[missing], "is required with %s",
             part_names[missing == PART_LABELS ? PART_IMAGES : PART_LABELS]);
        return;
    }
    int rc =
        ingest_idx_combine(up->files[PART_IMAGES].idx, up->files[PART_LABELS].idx, &up->ds, &e);
    if (rc)
        fail_ingest(up, strncmp(e.message, "images", 6) == 0 ? PART_IMAGES : PART_LABELS, rc, &e);
}

static unsigned finish(api_upload_t *up, api_upload_result_t *out);

unsigned api_upload_finish(api_upload_t *up, api_upload_result_t *out) {
    unsigned status = finish(up, out);
    for (int i = 0; i < N_FILES; i++) /* the temporary copies are not needed any more */
        part_release(&up->files[i]);
    return status;
}

static unsigned finish(api_upload_t *up, api_upload_result_t *out) {
    unsigned char d[N_FILES][API_SHA256_SIZE];
    memset(out, 0, sizeof(*out));
    part_end(up);
    up->cur = PART_NONE;
    int csv = up->files[PART_FILE].present;
    if (!up->status && !csv && !up->files[PART_IMAGES].present && !up->files[PART_LABELS].present)
        fail(up, 422, "file",
             "is required: send a CSV file as file, or IDX files as images and "
             "labels");
    if (!up->status)
        csv ? parse_csv(up) : parse_idx(up);
    if (up->status)
        return up->status;
    if (!up->has_name)
        default_name(up);
    for (int i = 0; i < N_FILES; i++)
        if (up->files[i].present)
            api_sha256_final(&up->files[i].sha, d[i]);
    if (csv) {
        api_sha256_hex(d[PART_FILE], out->sha256);
    } else {
        api_sha256_t pair;
        api_sha256_init(&pair);
        api_sha256_update(&pair, d[PART_IMAGES], API_SHA256_SIZE);
        api_sha256_update(&pair, d[PART_LABELS], API_SHA256_SIZE);
        api_sha256_final(&pair, d[PART_FILE]);
        api_sha256_hex(d[PART_FILE], out->sha256);
    }
    matrix_path(up);
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = ingest_matrix_write(up->matrix, up->ds, &e);
    if (rc) {
        fail(up, api_error_status(rc), csv ? "file" : "images", "cannot store the dataset: %s",
             e.message[0] ? e.message : mlpt_strerror(rc));
        return up->status;
    }
    up->matrix_written = 1;
    out->ds = up->ds;
    out->name = up->name;
    out->format = csv ? "csv" : "idx";
    out->scaling = up->ds->scaling == TRAINER_SCALE_UNIT ? "unit" : "standardize";
    out->size_bytes = up->total;
    out->storage_path = up->rel;
    return 0;
}
