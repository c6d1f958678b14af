/*
 * sweep_upload.c - `mlptune sweep --dataset FILE`: the upload that turns a local dataset file
 * into a dataset id. The server parses the files while they stream in, so plain fields go
 * first; the progress line (a terminal only, 1 MiB or more) says when the bytes are all sent
 * and the server is still reading them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"
#include "sweep_answer.h"
#include "sweep_upload.h"
#include "sweep_view.h"
typedef struct upload_progress {
    int tty; /* stderr is a terminal */
    const char *file;
    int shown; /* percent last drawn, -1 for none */
    int drawn; /* a line is on the screen without its newline */
} upload_progress_t;

static void on_upload_progress(void *user, double sent, double total) {
    upload_progress_t *up = user;
    if (!up->tty || total < (double)(1 << 20))
        return;
    int pct = (int)(100.0 * sent / total);
    if (pct == up->shown)
        return;
    up->shown = pct;
    up->drawn = 1;
    if (pct < 100)
        fprintf(stderr, "\r\033[Kuploading %s: %3d%% of %.1f MiB", up->file, pct,
                total / (double)(1 << 20));
    else
        fprintf(stderr, "\r\033[Kuploaded %s (%.1f MiB); the server is reading it", up->file,
                total / (double)(1 << 20));
    fflush(stderr);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

int svc_dataset_upload(svc_http_t *http, svc_dataset_ref_t *ref, const char *label_column,
                       int tty) {
    if (ref->id > 0)
        return 0;
    svc_http_part_t parts[3];
    size_t n = 0;
    /* Plain fields first: the server parses files as they stream in. */
    if (label_column && !ref->labels)
        parts[n++] = (svc_http_part_t){"label_column", label_column, NULL};
    if (ref->labels) {
        parts[n++] = (svc_http_part_t){"images", NULL, ref->file};
        parts[n++] = (svc_http_part_t){"labels", NULL, ref->labels};
    } else {
        parts[n++] = (svc_http_part_t){"file", NULL, ref->file};
    }
    upload_progress_t up = {tty, base_name(ref->file), -1, 0};
    svc_http_answer_t ans;
    svc_http_error_t err;
    svc_http_set_progress(http, on_upload_progress, &up);
    int rc = svc_http_post_form(http, "/api/v1/datasets", parts, n, &ans, &err);
    svc_http_set_progress(http, NULL, NULL);
    if (up.drawn)
        fputs("\r\033[K", stderr);
    if (rc != 0)
        return svc_sweep_no_answer(&err);
    char what[600];
    json_t *ds;
    snprintf(what, sizeof what, "%s %s: upload", ref->option, ref->file);
    rc = svc_sweep_answer_json(what, &ans, 201, &ds);
    svc_http_answer_deinit(&ans);
    if (rc)
        return rc;
    json_int_t id = json_integer_value(json_object_get(ds, "id"));
    if (id <= 0) {
        svc_errorf("%s: the answer has no dataset id", what);
        json_decref(ds);
        return SVC_EXIT_FAILURE;
    }
    ref->id = (int64_t)id;
    char a[300];
    fprintf(stderr,
            "mlptune: uploaded %s as dataset %" PRId64 " \"%s\": %" JSON_INTEGER_FORMAT
            " rows, %" JSON_INTEGER_FORMAT " features, %zu classes\n",
            base_name(ref->file), ref->id,
            svc_clean(json_string_value(json_object_get(ds, "name")), a, sizeof a),
            json_integer_value(json_object_get(ds, "rows")),
            json_integer_value(json_object_get(ds, "features")),
            json_array_size(json_object_get(ds, "classes")));
    json_decref(ds);
    return 0;
}
