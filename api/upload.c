/*
 * api/upload.c - the streaming upload sink: its fields as they arrive (multipart parts or a raw
 * text/csv body; name and label_column), the sticky failure, and the end of the upload (the files
 * of one format of the registry, ingest/format.h, parsed into a dataset, its name, sha256 and
 * matrix file). Each file part's pipeline (temporary copy and hash, gzip, the push parsers) is
 * upload_part.c, the sticky failure upload_fail.c; calls go upload.c -> upload_part.c ->
 * upload_fail.c. See upload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_util.h"
#include "matrix.h"
#include "mem_budget.h"
#include "mlpt_err.h"
#include "problem.h"
#include "recording_json.h"
#include "upload_private.h"

/* The part a field name is, or PART_NONE. */
static int part_of(const char *field) {
    long i = ingest_field_find(field);
    if (i >= 0 && i < N_FILES)
        return (int)i;
    if (strcmp(field, "name") == 0)
        return PART_NAME;
    if (strcmp(field, "label_column") == 0)
        return PART_LABEL;
    for (int p = FIRST_OPT; p < PART_NONE; p++)
        if (strcmp(field, api_upload_part_name(p)) == 0)
            return p;
    return PART_NONE;
}

const char *api_upload_internal(const api_upload_t *up) {
    return up && up->internal[0] ? up->internal : NULL;
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
        size_t k = 0;
        up->files[i].fd = -1;
        up->files[i].up = up;
        up->files[i].part = i;
        up->files[i].fmt = ingest_field_format((size_t)i, &k);
        up->files[i].def = up->files[i].fmt ? &up->files[i].fmt->parts[k] : NULL;
    }
    return up;
}

void api_upload_set_budget(api_upload_t *up, struct api_mem_budget *budget) {
    up->budget = budget;
}

void api_upload_free(api_upload_t *up) {
    if (!up)
        return;
    for (int i = 0; i < N_FILES; i++)
        api_upload_part_release(&up->files[i]);
    if (up->matrix_written && !up->keep)
        unlink(up->matrix);
    trainer_dataset_free(up->ds);
    api_mem_budget_release(up->budget, up->mem_reserved);
    free(up->data_dir);
    free(up->details);
    free(up);
}

api_problem_kind_t api_upload_refused(const api_upload_t *up) {
    return up ? up->problem : API_PROBLEM_NONE;
}

int api_upload_over_limit(const api_upload_t *up) {
    return up && up->over_limit;
}

void api_upload_problem(const api_upload_t *up, api_response_t *res) {
    api_problem_field(res, up->problem ? up->problem : API_PROBLEM_INTERNAL, up->field, "%s",
                      up->message);
    if (up->problem == API_PROBLEM_UNAVAILABLE)
        res->retry_after = up->retry_after ? up->retry_after : 5;
}

void api_upload_keep(api_upload_t *up) {
    up->keep = 1;
}

/* ---- small fields --------------------------------------------------------------------------- */

static void small_append(api_upload_t *up, int part, const char *data, size_t len) {
    char *buf = part == PART_NAME ? up->name : up->label;
    size_t *used = part == PART_NAME ? &up->name_len : &up->label_len;
    size_t cap = part == PART_NAME ? sizeof(up->name) : sizeof(up->label);
    if (part >= FIRST_OPT) {
        buf = up->opt[part - FIRST_OPT];
        used = &up->opt_len[part - FIRST_OPT];
        cap = sizeof(up->opt[0]);
    }
    if (*used + len >= cap) {
        api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part),
                        "is longer than %zu bytes", cap - 1);
        return;
    }
    if (memchr(data, '\0', len)) { /* the C string would end there: "a\0b" would become "a" */
        api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part),
                        "must not contain NUL bytes");
        return;
    }
    memcpy(buf + *used, data, len);
    *used += len;
    buf[*used] = '\0';
}

/* The format named by the `format` field: a format chosen by name (wisdm, timeseries) takes the
 * place of CSV's `file`; a file already being parsed as CSV is parsed again at the end. */
static void format_end(api_upload_t *up) {
    const char *name = up->opt[PART_FORMAT - FIRST_OPT];
    const ingest_format_def_t *fmt = ingest_format_find(name);
    if (!fmt) {
        char esc[40];
        snprintf(esc, sizeof esc, "%.32s", name);
        api_upload_fail(up, API_PROBLEM_INVALID, "format",
                        "unknown format \"%s\" (expected csv, idx, wisdm or timeseries)", esc);
        return;
    }
    up->format = fmt;
    file_part_t *f = &up->files[PART_FILE];
    if (!fmt->by_name || f->fmt == fmt)
        return;
    if (f->parser) { /* made by the CSV entry: freed by it */
        f->def->parser_free(f->parser);
        f->parser = NULL;
    }
    f->fmt = fmt;
    f->def = &fmt->parts[0];
    if (f->present)
        up->opts_late = 1;
}

static void small_end(api_upload_t *up, int part) {
    const char *why;
    if (part >= FIRST_OPT) {
        up->has_opt[part - FIRST_OPT] = 1;
        ingest_time_unit_t unit;
        if (up->opt_len[part - FIRST_OPT] == 0)
            api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part),
                            "must not be empty");
        else if (part == PART_FORMAT)
            format_end(up);
        else if (part == PART_TIME_UNIT &&
                 ingest_time_unit_parse(up->opt[part - FIRST_OPT], &unit) != 0)
            api_upload_fail(up, API_PROBLEM_INVALID, "timestamp_unit",
                            "must be one of ns, us, ms, s");
        else if (up->files[PART_FILE].present)
            up->opts_late = 1;
        return;
    }
    if (part == PART_NAME) {
        up->has_name = 1;
        if (api_name_check(up->name, &why) != 0)
            api_upload_fail(up, API_PROBLEM_INVALID, "name", "%s", why);
    } else {
        up->has_label = 1;
        if (up->label_len == 0)
            api_upload_fail(up, API_PROBLEM_INVALID, "label_column", "must not be empty");
        else if (up->files[PART_FILE].present)
            up->label_late = 1; /* the file is already being parsed: parse it again at the end */
    }
}

void api_upload_set(api_upload_t *up, const char *field, const char *value, size_t len) {
    int part = part_of(field);
    if (part < N_FILES || part == PART_NONE)
        part = PART_LABEL;
    if (up->problem)
        return;
    small_append(up, part, value, len);
    if (!up->problem)
        small_end(up, part);
}

/* ---- parts in order (a file part's pipeline is upload_part.c) ------------------------------- */

static void part_end(api_upload_t *up) {
    if (up->cur < N_FILES)
        api_upload_part_end(up, up->cur);
    else if (up->cur != PART_NONE && !up->problem)
        small_end(up, up->cur);
}

void api_upload_field(api_upload_t *up, const char *field, const char *filename, const char *data,
                      size_t off, size_t len) {
    if (!up || up->problem)
        return;
    if (!field) { /* a part whose Content-Disposition has no name="..." */
        char list[160];
        api_upload_fail(up, API_PROBLEM_INVALID, "body",
                        "a multipart part has no name (expected Content-Disposition: form-data; "
                        "name=%s, \"name\" or \"label_column\")",
                        ingest_format_list(list, sizeof(list), INGEST_LIST_QUOTED));
        return;
    }
    int same = up->cur != PART_NONE && strcmp(field, api_upload_part_name(up->cur)) == 0;
    if (!same || (off == 0 && up->cur_bytes > 0)) {
        part_end(up);
        int part = part_of(field);
        if (part == PART_NONE) {
            char f[40], list[160];
            snprintf(f, sizeof(f), "%.32s", field);
            api_upload_fail(up, API_PROBLEM_INVALID, f,
                            "unknown field (expected %s, and optionally name, label_column, "
                            "format, subject_column, timestamp_column and timestamp_unit)",
                            ingest_format_list(list, sizeof(list), INGEST_LIST_FIELDS));
            return;
        }
        if (up->problem)
            return;
        if ((part == PART_NAME && up->has_name) || (part == PART_LABEL && up->has_label) ||
            (part >= FIRST_OPT && part < PART_NONE && up->has_opt[part - FIRST_OPT])) {
            api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(part), "is given twice");
            return;
        }
        up->cur = part;
        up->cur_bytes = 0;
        if (part < N_FILES)
            api_upload_part_begin(up, part, filename);
    }
    up->cur_bytes += len;
    if (up->cur < N_FILES)
        api_upload_part_data(up, up->cur, data, len);
    else if (len)
        small_append(up, up->cur, data, len);
}

void api_upload_raw(api_upload_t *up, const char *data, size_t len) {
    if (!up)
        return;
    up->raw = 1;
    if (!up->problem && up->cur < N_FILES)
        api_upload_part_data(up, up->cur, data, len);
}

/* ---- the end ------------------------------------------------------------------------------- */

/* The default name: the file name without directories, up to its first '.'. */
static void default_name(api_upload_t *up, int first) {
    const file_part_t *f = &up->files[first];
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

/* The upload's format: that of its first file part given, or NULL (none given). *first
 * receives the field of its first part. */
static const ingest_format_def_t *upload_format(const api_upload_t *up, int *first) {
    const ingest_format_def_t *fmt = NULL;
    for (int i = 0; i < N_FILES && !fmt; i++)
        if (up->files[i].present)
            fmt = up->files[i].fmt;
    for (int i = 0; fmt && i < N_FILES; i++)
        if (up->files[i].fmt == fmt) {
            *first = i;
            break;
        }
    return fmt;
}

/* Parses the upload's files into up->ds with their format's build (ingest/format.h). */
static void parse(api_upload_t *up, const ingest_format_def_t *fmt, int first) {
    void *parsers[INGEST_FORMAT_MAX_PARTS] = {0};
    ingest_error_t e;
    int rc = 0, at = first;
    memset(&e, 0, sizeof(e));
    for (size_t k = 0; k < fmt->n_parts; k++)
        if (!up->files[first + (int)k].present) {
            char with[96] = "";
            for (size_t j = 0, n = 0; j < fmt->n_parts; j++)
                if (up->files[first + (int)j].present)
                    n += (size_t)snprintf(with + n, sizeof(with) - n, "%s%s", n ? " and " : "",
                                          api_upload_part_name(first + (int)j));
            api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(first + (int)k),
                            "is required with %s", with);
            return;
        }
    if ((fmt->label_column && up->label_late) || (fmt == up->files[PART_FILE].fmt && up->opts_late))
        api_upload_part_reparse(up);
    if (up->problem)
        return;
    for (size_t k = 0; k < fmt->n_parts && !rc; k++) {
        file_part_t *f = &up->files[first + (int)k];
        if (f->parse_rc) { /* kept aside (a CSV before a late label_column): now it is final */
            rc = f->parse_rc;
            e = f->parse_err;
            at = first + (int)k;
        }
        parsers[k] = f->parser;
    }
    if (!rc) {
        size_t k = 0;
        rc = fmt->build(parsers, &up->ds, &k, &e);
        at = first + (int)k;
    }
    if (rc) {
        api_upload_fail_ingest(up, at, rc, &e);
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
        api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(first),
                        "the label \"%s\" is not valid UTF-8: save the file as UTF-8", shown);
        return;
    }
}

static api_problem_kind_t finish(api_upload_t *up, api_upload_result_t *out);

api_problem_kind_t api_upload_finish(api_upload_t *up, api_upload_result_t *out) {
    api_problem_kind_t kind = finish(up, out);
    for (int i = 0; i < N_FILES; i++) /* the temporary copies are not needed any more */
        api_upload_part_release(&up->files[i]);
    return kind;
}

static api_problem_kind_t finish(api_upload_t *up, api_upload_result_t *out) {
    unsigned char d[N_FILES][API_SHA256_SIZE];
    memset(out, 0, sizeof(*out));
    part_end(up);
    up->cur = PART_NONE;
    int first = PART_FILE;
    const ingest_format_def_t *fmt = upload_format(up, &first);
    if (!up->problem && !fmt) {
        char list[160];
        api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(PART_FILE),
                        "is required: send %s",
                        ingest_format_list(list, sizeof(list), INGEST_LIST_SEND));
    }
    if (!up->problem && up->format && fmt != up->format) {
        char list[96];
        snprintf(list, sizeof list, "%s", up->format->parts[0].field);
        for (size_t k = 1; k < up->format->n_parts; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), " and %s",
                     up->format->parts[k].field);
        api_upload_fail(up, API_PROBLEM_INVALID, "format", "format %s takes %s, not %s",
                        up->format->name, list, api_upload_part_name(first));
    }
    for (int p = PART_SUBJECT; p < PART_NONE && !up->problem; p++)
        if (up->has_opt[p - FIRST_OPT] && strcmp(fmt->name, "timeseries") != 0)
            api_upload_fail(up, API_PROBLEM_INVALID, api_upload_part_name(p),
                            "applies to format timeseries only (send format=timeseries)");
    if (!up->problem)
        parse(up, fmt, first);
    if (!up->problem && fmt->report &&
        !(up->details = api_recording_details(fmt->report(up->files[first].parser), up->ds)))
        api_upload_fail(up, API_PROBLEM_INTERNAL, api_upload_part_name(first), "out of memory");
    if (up->problem)
        return up->problem;
    if (!up->has_name)
        default_name(up, first);
    for (int i = 0; i < N_FILES; i++)
        if (up->files[i].present)
            api_sha256_final(&up->files[i].sha, d[i]);
    if (fmt->n_parts == 1) {
        api_sha256_hex(d[first], out->sha256);
    } else { /* the digest of the parts' digests, in order */
        unsigned char all[API_SHA256_SIZE];
        api_sha256_t parts;
        api_sha256_init(&parts);
        for (size_t k = 0; k < fmt->n_parts; k++)
            api_sha256_update(&parts, d[first + (int)k], API_SHA256_SIZE);
        api_sha256_final(&parts, all);
        api_sha256_hex(all, out->sha256);
    }
    matrix_path(up);
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = ingest_matrix_write(up->matrix, up->ds, &e);
    if (rc) {
        /* The writer's message names the server's path: it goes to the log only. Its code says
         * full disk or not; for the rest, whether datasets/ takes files at all tells a folder
         * the server cannot use (unavailable) from a failed write (internal). */
        int errnum = rc == MLPT_ENOSPC ? ENOSPC : api_upload_folder_probe(up->data_dir, "datasets");
        char internal[sizeof(up->internal)];
        snprintf(internal, sizeof(internal), "cannot store the dataset: %s",
                 e.message[0] ? e.message : mlpt_strerror(rc));
        api_upload_fail_file(up, first, errnum ? errnum : EIO, "datasets", internal);
        return up->problem;
    }
    up->matrix_written = 1;
    out->ds = up->ds;
    out->name = up->name;
    out->format = fmt->name;
    out->kind = fmt->report ? "recording" : "table";
    out->details = up->details;
    out->scaling = up->ds->scaling == TRAINER_SCALE_UNIT ? "unit" : "standardize";
    out->size_bytes = up->total;
    out->storage_path = up->rel;
    return API_PROBLEM_NONE;
}
