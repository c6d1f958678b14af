/*
 * api/upload_fail.c - the upload's sticky failure: the names of its parts, recording the first
 * failure (its problem kind, field and message), and turning a file error or a parser error into
 * one; and whether a data-dir folder takes files. The bottom of the upload: upload.c (the sink)
 * and upload_part.c (a file part's pipeline) record failures here, and it calls neither.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlpt_err.h"
#include "problem.h"
#include "upload_private.h"

const char *api_upload_part_name(int part) {
    if (part == PART_NAME)
        return "name";
    if (part == PART_LABEL)
        return "label_column";
    static const char *const opts[N_OPTS] = {"format", "subject_column", "timestamp_column",
                                             "timestamp_unit"};
    if (part >= FIRST_OPT && part < PART_NONE)
        return opts[part - FIRST_OPT];
    const char *field = part >= 0 && part < N_FILES ? ingest_field_name((size_t)part) : NULL;
    return field ? field : "";
}

void api_upload_fail(api_upload_t *up, api_problem_kind_t kind, const char *field, const char *fmt,
                     ...) {
    va_list ap;
    if (up->problem)
        return;
    up->problem = kind;
    snprintf(up->field, sizeof(up->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(up->message, sizeof(up->message), fmt, ap);
    va_end(ap);
}

void api_upload_fail_file(api_upload_t *up, int part, int errnum, const char *folder,
                          const char *internal) {
    api_problem_kind_t kind = api_file_error_kind(errnum);
    const char *field = api_upload_part_name(part);
    if (up->problem)
        return;
    if (kind == API_PROBLEM_NO_SPACE)
        api_upload_fail(up, API_PROBLEM_NO_SPACE, field, "%sthe disk is full",
                        strcmp(folder, "uploads") == 0 ? "" : "cannot store the dataset: ");
    else if (kind == API_PROBLEM_UNAVAILABLE) {
        up->retry_after = 30; /* a folder someone must fix */
        api_upload_fail(up, API_PROBLEM_UNAVAILABLE, field,
                        "the server cannot store %s right now: its %s folder cannot take new "
                        "files (see /healthz)",
                        strcmp(folder, "uploads") == 0 ? "uploads" : "datasets", folder);
    } else
        api_upload_fail(up, API_PROBLEM_INTERNAL, field, "the server cannot store the %s: %s",
                        strcmp(folder, "uploads") == 0 ? "upload" : "dataset",
                        errnum > 0 ? strerror(errnum) : "input/output error");
    snprintf(up->internal, sizeof(up->internal), "%s", internal ? internal : "");
}

int api_upload_folder_probe(const char *data_dir, const char *folder) {
    char path[4352];
    int n = snprintf(path, sizeof(path), "%s/%s/.probe-XXXXXX", data_dir, folder);
    if (n < 0 || (size_t)n >= sizeof(path))
        return ENAMETOOLONG;
    int fd = mkstemp(path);
    if (fd < 0)
        return errno ? errno : EIO;
    close(fd);
    unlink(path);
    return 0;
}

void api_upload_fail_ingest(api_upload_t *up, int part, int rc, const ingest_error_t *e) {
    const char *field = api_upload_part_name(part);
    if (rc == MLPT_EINVAL && part == PART_FILE && up->has_label)
        field = "label_column";
    /* a recording's missing column names the option that chooses it */
    if (rc == MLPT_EINVAL && part == PART_FILE &&
        (strcmp(e->column_name, "subject_column") == 0 ||
         strcmp(e->column_name, "timestamp_column") == 0 ||
         strcmp(e->column_name, "label_column") == 0))
        field = e->column_name;
    api_upload_fail(up, api_error_kind(rc), field, "%s",
                    e->message[0] ? e->message : mlpt_strerror(rc));
}
