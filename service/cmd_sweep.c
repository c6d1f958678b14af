/*
 * cmd_sweep.c - `mlptune sweep`: the client for scripts. Uploads dataset files, submits a grid,
 * and with --wait follows the sweep to its end, then prints the leaderboard or one JSON object.
 *
 * Everything the server says goes through one place (answer_json) that turns statuses and
 * problem+json bodies into messages on stderr and an exit status: 4xx is the caller's mistake
 * (2), anything else a runtime failure (1). Following polls GET /api/v1/sweeps/{id} every half
 * second: polling needs no state on the server, so a server restart (or a brief outage) during
 * the wait costs nothing as long as it is back within --timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"
#include "mlpt_err.h"
#include "sweep_view.h"

enum {
    SWEEP_EXIT_CANCELED = 4,      /* the sweep was canceled */
    SWEEP_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM while the client ran */
};

#define POLL_SECONDS 0.5
#define MAX_TOKEN_BYTES 4096
#define LEADERBOARD_PAGE 1000 /* the API's largest page */

static const char sweep_usage[] =
    "usage: mlptune sweep --server URL --dataset FILE|ID [--labels FILE] --grid FILE.json\n"
    "                     [--test-dataset FILE|ID [--test-labels FILE]] [--name NAME]\n"
    "                     [--label-column C] [--wait] [--json] [--token-file F] [--timeout S]\n"
    "\n"
    "Submits a grid sweep to a running `mlptune serve` and, with --wait, follows it to its end.\n"
    "\n"
    "  --server URL            the service, e.g. http://127.0.0.1:8080 (MLPTUNE_SERVER)\n"
    "  --dataset FILE|ID       a file to upload first: CSV with a header row, or IDX images\n"
    "                          (then --labels too), gzip-compressed or not; all digits: the id\n"
    "                          of a dataset already uploaded (write ./123 for a file named 123)\n"
    "  --labels FILE           the IDX labels that go with IDX images given as --dataset\n"
    "  --grid FILE.json        {\"grid\": {...}, \"training\": {...}, \"name\": ...}: the body of\n"
    "                          POST /api/v1/sweeps without dataset_id and test_dataset_id,\n"
    "                          which come from --dataset and --test-dataset\n"
    "  --test-dataset FILE|ID  a separate test set, given like --dataset (--test-labels FILE)\n"
    "  --name NAME             the sweep's name (instead of the grid file's \"name\")\n"
    "  --label-column C        the label column (name or 0-based index) of uploaded CSV files\n"
    "  --wait                  follow the sweep until it ends, then print its leaderboard\n"
    "  --json                  print exactly one JSON object on stdout: the sweep as created,\n"
    "                          or with --wait the finished sweep with \"leaderboard\": its\n"
    "                          trials, best validation accuracy first\n"
    "  --token-file F          send the token in F (whitespace trimmed) as\n"
    "                          \"Authorization: Bearer\" (MLPTUNE_TOKEN_FILE)\n"
    "  --timeout S             seconds one request may take, and the server may stay\n"
    "                          unreachable while --wait follows, before giving up (default 30)\n"
    "\n"
    "Messages and progress go to stderr: while waiting, a bar redrawn in place on a terminal,\n"
    "plain lines otherwise. Following survives a server restart that is back within --timeout.\n"
    "Ctrl-C stops following; the sweep goes on on the server.\n"
    "\n"
    "exit status: 0 the sweep completed (without --wait: it was created)\n"
    "             1 the sweep failed, the server was lost or failed (5xx), other runtime errors\n"
    "             2 bad arguments, an unreadable or malformed local file, or a 4xx answer from\n"
    "               the server (its detail and each field error are printed)\n"
    "             4 the sweep was canceled\n"
    "           130 interrupted\n";

typedef struct sweep_args {
    const char *server, *dataset, *labels, *grid, *test_dataset, *test_labels, *name;
    const char *label_column, *token_file, *timeout;
    int wait, json;
} sweep_args_t;

/* A dataset as the command line gives it: an id, or files to upload. */
typedef struct dataset_ref {
    const char *option; /* "--dataset" or "--test-dataset" */
    int64_t id;         /* > 0 once known */
    const char *file;   /* CSV, or IDX images when labels is set */
    const char *labels;
} dataset_ref_t;

typedef struct sweep_ctx {
    const sweep_args_t *args;
    svc_http_t *http;
    long timeout_s;
    int tty; /* stderr is a terminal */
} sweep_ctx_t;

static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal cuts it short, and the caller checks g_stop */
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, sweep_args_t *a) {
    struct {
        const char *name, *env;
        const char **slot;
    } opts[] = {
        {"server", "MLPTUNE_SERVER", &a->server},
        {"dataset", NULL, &a->dataset},
        {"labels", NULL, &a->labels},
        {"grid", NULL, &a->grid},
        {"test-dataset", NULL, &a->test_dataset},
        {"test-labels", NULL, &a->test_labels},
        {"name", NULL, &a->name},
        {"label-column", NULL, &a->label_column},
        {"token-file", "MLPTUNE_TOKEN_FILE", &a->token_file},
        {"timeout", NULL, &a->timeout},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    for (size_t k = 0; k < n_opts; k++) {
        const char *v = opts[k].env ? getenv(opts[k].env) : NULL;
        if (v && *v)
            *opts[k].slot = v;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--wait") || !strcmp(arg, "--json")) {
            *(arg[2] == 'w' ? &a->wait : &a->json) = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg), k = 0;
        if (strncmp(arg, "--", 2) == 0)
            while (k < n_opts &&
                   !(strlen(opts[k].name) == len - 2 && !strncmp(opts[k].name, arg + 2, len - 2)))
                k++;
        if (strncmp(arg, "--", 2) != 0 || k == n_opts) {
            svc_errorf("sweep: unknown argument \"%s\" (see mlptune sweep --help)", arg);
            return -1;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !*v) {
            svc_errorf("--%s: missing value", opts[k].name);
            return -1;
        }
        *opts[k].slot = v;
    }
    static const char *const required[] = {"server", "dataset", "grid"};
    const char *given[] = {a->server, a->dataset, a->grid};
    for (size_t k = 0; k < 3; k++)
        if (!given[k]) {
            svc_errorf("sweep: --%s is required (see mlptune sweep --help)", required[k]);
            return -1;
        }
    return 0;
}

static int all_digits(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Checks that path names a readable regular file. Returns 0, or -1 after saying why. */
static int check_file(const char *option, const char *path) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0) {
        svc_errorf("%s %s: cannot open: %s", option, path, strerror(errno));
        return -1;
    }
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!ok) {
        svc_errorf("%s %s: not a regular file", option, path);
        return -1;
    }
    return 0;
}

/* Fills *ref from "--dataset FILE|ID" and its labels. Returns 0, or -1 after saying why. */
static int dataset_ref_init(dataset_ref_t *ref, const char *option, const char *spec,
                            const char *labels_option, const char *labels) {
    memset(ref, 0, sizeof *ref);
    ref->option = option;
    if (all_digits(spec)) {
        uint64_t id;
        if (svc_parse_u64(option + 2, spec, &id) != 0)
            return -1;
        if (id == 0 || id > INT64_MAX) {
            svc_errorf("%s: %s is not a dataset id", option, spec);
            return -1;
        }
        if (labels) {
            svc_errorf("%s: only goes with IDX images to upload, not with dataset id %s",
                       labels_option, spec);
            return -1;
        }
        ref->id = (int64_t)id;
        return 0;
    }
    ref->file = spec;
    ref->labels = labels;
    if (check_file(option, spec) != 0 || (labels && check_file(labels_option, labels) != 0))
        return -1;
    return 0;
}

/* Reads the token: the file's content with surrounding whitespace trimmed. Returns a malloc'd
 * string, or NULL after saying why. */
static char *read_token(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        svc_errorf("--token-file %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_TOKEN_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_TOKEN_BYTES + 1, f) : 0;
    int bad = !buf ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (bad || n > MAX_TOKEN_BYTES) {
        if (bad)
            svc_errorf("--token-file %s: cannot read: %s", path, strerror(bad));
        else
            svc_errorf("--token-file %s: longer than %d bytes", path, MAX_TOKEN_BYTES);
        free(buf);
        return NULL;
    }
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || (buf[start] >= '\t' && buf[start] <= '\r')))
        start++;
    while (n > start && (buf[n - 1] == ' ' || (buf[n - 1] >= '\t' && buf[n - 1] <= '\r')))
        n--;
    memmove(buf, buf + start, n - start);
    buf[n - start] = '\0';
    if (!buf[0] || memchr(buf, '\0', n - start)) {
        svc_errorf("--token-file %s: %s", path, buf[0] ? "holds a NUL byte" : "is empty");
        free(buf);
        return NULL;
    }
    return buf;
}

/* Loads the grid file: a JSON object, the sweep body without dataset ids. Returns a new
 * reference, or NULL after saying why (file, line and column for bad JSON). */
static json_t *load_grid(const char *path) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        svc_errorf("--grid %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        svc_errorf("--grid %s: not a file", path);
        fclose(f);
        return NULL;
    }
    json_error_t je;
    json_t *g = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    int read_failed = ferror(f);
    fclose(f);
    if (!g) {
        if (read_failed)
            svc_errorf("--grid %s: cannot read", path);
        else
            svc_errorf("--grid %s:%d:%d: %s", path, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(g)) {
        svc_errorf("--grid %s: expected a JSON object {\"grid\": {...}, \"training\": {...}}",
                   path);
        json_decref(g);
        return NULL;
    }
    if (!json_object_get(g, "grid") &&
        (json_object_get(g, "hidden_layers") || json_object_get(g, "layers"))) {
        svc_errorf("--grid %s: put the axes under \"grid\": {\"grid\": {\"hidden_layers\": "
                   "...}, \"training\": {...}}",
                   path);
        json_decref(g);
        return NULL;
    }
    return g;
}

/* ---- talking to the server ---------------------------------------------------------------- */

/* Prints a problem+json answer (or whatever else came) for "METHOD PATH". */
static void report_problem(const char *what, const svc_http_answer_t *ans) {
    char a[512], b[512];
    json_t *p = json_loads(ans->body, 0, NULL);
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    if (!json_is_object(p)) {
        size_t n = strcspn(ans->body, "\r\n");
        char first[201];
        snprintf(first, sizeof first, "%.*s", (int)(n < 200 ? n : 200), ans->body);
        svc_errorf("%s: HTTP %ld%s%s", what, ans->status, first[0] ? ": " : "",
                   svc_clean(first, a, sizeof a));
        json_decref(p);
        return;
    }
    if (title && detail && strcmp(title, detail) != 0)
        svc_errorf("%s: HTTP %ld %s: %s", what, ans->status, svc_clean(title, a, sizeof a),
                   svc_clean(detail, b, sizeof b));
    else
        svc_errorf("%s: HTTP %ld %s", what, ans->status,
                   svc_clean(detail  ? detail
                             : title ? title
                                     : "",
                             a, sizeof a));
    json_t *errors = json_object_get(p, "errors"), *e;
    size_t i;
    json_array_foreach(errors, i, e) {
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *message = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "  %s: %s\n", svc_clean(field ? field : "?", a, sizeof a),
                svc_clean(message ? message : "", b, sizeof b));
    }
    json_decref(p);
}

/* Says why a request got no answer. Returns the exit status. */
static int report_no_answer(const svc_http_error_t *err) {
    if (err->code == MLPT_ESTOPPED) {
        svc_errorf("interrupted");
        return SWEEP_EXIT_INTERRUPTED;
    }
    if (err->code == MLPT_EIO && err->transient)
        svc_errorf("cannot reach the server: %s", err->message);
    else
        svc_errorf("%s", err->message);
    return SVC_EXIT_FAILURE;
}

/* Checks an answer for status `expect` and parses its JSON object into *out (new reference).
 * Returns 0, or the exit status after saying why: 2 for a 4xx, 1 otherwise. */
static int answer_json(const char *what, const svc_http_answer_t *ans, long expect, json_t **out) {
    *out = NULL;
    if (ans->status != expect) {
        report_problem(what, ans);
        return ans->status >= 400 && ans->status < 500 ? SVC_EXIT_USAGE : SVC_EXIT_FAILURE;
    }
    json_error_t je;
    json_t *j = json_loadb(ans->body, ans->len, 0, &je);
    if (!json_is_object(j)) {
        char a[200];
        svc_errorf("%s: the answer is not a JSON object (%s)", what,
                   j ? "another JSON value" : svc_clean(je.text, a, sizeof a));
        json_decref(j);
        return SVC_EXIT_FAILURE;
    }
    *out = j;
    return 0;
}

/* GET path, expecting 200 and a JSON object. Returns 0 or the exit status (after saying why). */
static int get_json(sweep_ctx_t *cx, const char *path, json_t **out) {
    svc_http_answer_t ans;
    svc_http_error_t err;
    char what[256];
    *out = NULL;
    if (svc_http_get(cx->http, path, &ans, &err) != 0)
        return report_no_answer(&err);
    snprintf(what, sizeof what, "GET %s", path);
    int rc = answer_json(what, &ans, 200, out);
    svc_http_answer_deinit(&ans);
    return rc;
}

/* ---- uploads ------------------------------------------------------------------------------ */

typedef struct upload_progress {
    const sweep_ctx_t *cx;
    const char *file;
    int shown; /* percent last drawn, -1 for none */
    int drawn; /* a line is on the screen without its newline */
} upload_progress_t;

static void on_upload_progress(void *user, double sent, double total) {
    upload_progress_t *up = user;
    if (!up->cx->tty || total < (double)(1 << 20))
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

/* Uploads ref's files (when it has no id yet) and sets ref->id. Returns 0 or the exit status. */
static int dataset_upload(sweep_ctx_t *cx, dataset_ref_t *ref) {
    if (ref->id > 0)
        return 0;
    svc_http_part_t parts[3];
    size_t n = 0;
    /* Plain fields first: the server parses files as they stream in. */
    if (cx->args->label_column && !ref->labels)
        parts[n++] = (svc_http_part_t){"label_column", cx->args->label_column, NULL};
    if (ref->labels) {
        parts[n++] = (svc_http_part_t){"images", NULL, ref->file};
        parts[n++] = (svc_http_part_t){"labels", NULL, ref->labels};
    } else {
        parts[n++] = (svc_http_part_t){"file", NULL, ref->file};
    }
    upload_progress_t up = {cx, base_name(ref->file), -1, 0};
    svc_http_answer_t ans;
    svc_http_error_t err;
    svc_http_set_progress(cx->http, on_upload_progress, &up);
    int rc = svc_http_post_form(cx->http, "/api/v1/datasets", parts, n, &ans, &err);
    svc_http_set_progress(cx->http, NULL, NULL);
    if (up.drawn)
        fputs("\r\033[K", stderr);
    if (rc != 0)
        return report_no_answer(&err);
    char what[600];
    json_t *ds;
    snprintf(what, sizeof what, "%s %s: upload", ref->option, ref->file);
    rc = answer_json(what, &ans, 201, &ds);
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

/* ---- the sweep ---------------------------------------------------------------------------- */

/* POSTs the grid file's object with the dataset ids; *sweep gets the 201 body. */
static int sweep_create(sweep_ctx_t *cx, json_t *body, const dataset_ref_t *train,
                        const dataset_ref_t *test, json_t **sweep) {
    if (cx->args->name) {
        json_t *name = json_string(cx->args->name);
        if (!name) {
            svc_errorf("--name: not valid UTF-8");
            return SVC_EXIT_USAGE;
        }
        if (json_object_set_new(body, "name", name) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
    }
    if (json_object_set_new(body, "dataset_id", json_integer((json_int_t)train->id)) ||
        (test &&
         json_object_set_new(body, "test_dataset_id", json_integer((json_int_t)test->id)))) {
        svc_errorf("out of memory");
        return SVC_EXIT_FAILURE;
    }
    svc_http_answer_t ans;
    svc_http_error_t err;
    if (svc_http_post_json(cx->http, "/api/v1/sweeps", body, &ans, &err) != 0)
        return report_no_answer(&err);
    int rc = answer_json("POST /api/v1/sweeps", &ans, 201, sweep);
    svc_http_answer_deinit(&ans);
    if (rc == 0 && json_integer_value(json_object_get(*sweep, "id")) <= 0) {
        svc_errorf("POST /api/v1/sweeps: the answer has no sweep id");
        json_decref(*sweep);
        *sweep = NULL;
        rc = SVC_EXIT_FAILURE;
    }
    return rc;
}

static int is_terminal_status(const char *s) {
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "canceled"));
}

/* Polls the sweep until it ends. Returns 0 with *final (new reference) the finished sweep, or
 * the exit status after saying why. A server that cannot be reached (or answers 502/503/504)
 * is asked again until it has been away for longer than the timeout. */
static int sweep_follow(sweep_ctx_t *cx, int64_t id, json_t **final) {
    char path[64], why[600];
    svc_progress_t p = {.tty = cx->tty, .id = id, .last_line = -1e9};
    double t0 = svc_now(), down_since = -1.0;
    snprintf(path, sizeof path, "/api/v1/sweeps/%" PRId64, id);
    *final = NULL;
    for (;;) {
        if (g_stop) {
            svc_progress_end(&p);
            svc_errorf("interrupted: sweep %" PRId64 " goes on on the server", id);
            return SWEEP_EXIT_INTERRUPTED;
        }
        svc_http_answer_t ans;
        svc_http_error_t err;
        int rc = svc_http_get(cx->http, path, &ans, &err);
        int away =
            rc ? err.transient : (ans.status == 502 || ans.status == 503 || ans.status == 504);
        if (rc && !away) {
            svc_progress_end(&p);
            if (err.code == MLPT_ESTOPPED) {
                svc_errorf("interrupted: sweep %" PRId64 " goes on on the server", id);
                return SWEEP_EXIT_INTERRUPTED;
            }
            return report_no_answer(&err);
        }
        if (away) {
            double now = svc_now();
            if (rc)
                snprintf(why, sizeof why, "%s", err.message);
            else
                snprintf(why, sizeof why, "GET %s: HTTP %ld", path, ans.status);
            svc_http_answer_deinit(&ans);
            if (down_since < 0) {
                down_since = now;
                svc_progress_note(&p, "lost the server (%s); trying again for up to %ld s", why,
                                  cx->timeout_s);
            } else if (now - down_since > (double)cx->timeout_s) {
                svc_progress_end(&p);
                svc_errorf("lost the server: unreachable for %.0f s (%s); sweep %" PRId64
                           " may still be running",
                           now - down_since, why, id);
                return SVC_EXIT_FAILURE;
            }
            sleep_s(POLL_SECONDS);
            continue;
        }
        if (down_since >= 0) {
            down_since = -1.0;
            svc_progress_note(&p, "the server is back");
        }
        json_t *sw;
        char what[96];
        snprintf(what, sizeof what, "GET %s", path);
        rc = answer_json(what, &ans, 200, &sw);
        svc_http_answer_deinit(&ans);
        if (rc) {
            svc_progress_end(&p);
            return SVC_EXIT_FAILURE; /* a sweep that vanished is no mistake of the caller's */
        }
        svc_sweep_view_t v;
        svc_sweep_view(sw, &v);
        svc_progress_show(&p, &v, svc_now() - t0);
        if (is_terminal_status(v.status)) {
            svc_progress_end(&p);
            *final = sw;
            return 0;
        }
        json_decref(sw);
        sleep_s(POLL_SECONDS);
    }
}

/* Every trial of the sweep, best validation accuracy first, as one new array in *out. */
static int leaderboard_fetch(sweep_ctx_t *cx, int64_t id, json_t **out) {
    json_t *all = json_array();
    char *cursor = NULL;
    int rc = all ? 0 : SVC_EXIT_FAILURE;
    if (!all)
        svc_errorf("out of memory");
    while (rc == 0) {
        char *esc = cursor ? svc_http_escape(cx->http, cursor) : NULL;
        size_t size = 128 + (esc ? strlen(esc) : 0);
        char *path = (cursor && !esc) ? NULL : malloc(size);
        if (!path) {
            free(esc);
            svc_errorf("out of memory");
            rc = SVC_EXIT_FAILURE;
            break;
        }
        snprintf(path, size,
                 "/api/v1/sweeps/%" PRId64 "/trials?sort=-best_val_accuracy&limit=%d%s%s", id,
                 LEADERBOARD_PAGE, esc ? "&cursor=" : "", esc ? esc : "");
        free(esc);
        free(cursor);
        cursor = NULL;
        json_t *page;
        rc = get_json(cx, path, &page);
        free(path);
        if (rc) {
            if (rc == SVC_EXIT_USAGE)
                rc = SVC_EXIT_FAILURE;
            break;
        }
        json_t *items = json_object_get(page, "items");
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (!json_is_array(items) || json_array_extend(all, items) != 0) {
            svc_errorf("GET /api/v1/sweeps/%" PRId64 "/trials: %s", id,
                       json_is_array(items) ? "out of memory" : "the answer has no \"items\"");
            rc = SVC_EXIT_FAILURE;
        } else if (next && *next && json_array_size(items) > 0 && !(cursor = strdup(next))) {
            svc_errorf("out of memory");
            rc = SVC_EXIT_FAILURE;
        }
        json_decref(page);
        if (!cursor)
            break;
    }
    free(cursor);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* Writes obj as the one JSON document on stdout. Returns 0 or the exit status. */
static int print_json(const json_t *obj) {
    if (json_dumpf(obj, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        svc_errorf("cannot write to stdout: %s", strerror(errno));
        return SVC_EXIT_FAILURE;
    }
    return 0;
}

/* After the wait: leaderboard, output, and the exit status the sweep's end calls for. */
static int sweep_finish(sweep_ctx_t *cx, json_t *sw, double elapsed) {
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    const char *status = json_string_value(json_object_get(sw, "status"));
    json_t *trials;
    int rc = leaderboard_fetch(cx, id, &trials);
    if (rc)
        return rc;
    if (cx->args->json) {
        if (json_object_set_new(sw, "leaderboard", trials) != 0) {
            svc_errorf("out of memory");
            return SVC_EXIT_FAILURE;
        }
        rc = print_json(sw);
    } else {
        svc_leaderboard_print(sw, trials, elapsed);
        json_decref(trials);
        if (fflush(stdout) != 0) {
            svc_errorf("cannot write to stdout: %s", strerror(errno));
            rc = SVC_EXIT_FAILURE;
        }
    }
    if (rc)
        return rc;
    if (status && !strcmp(status, "completed"))
        return SVC_EXIT_OK;
    if (status && !strcmp(status, "canceled")) {
        svc_errorf("sweep %" PRId64 " was canceled", id);
        return SWEEP_EXIT_CANCELED;
    }
    char a[64], b[1024];
    const char *error = json_string_value(json_object_get(sw, "error"));
    svc_errorf("sweep %" PRId64 " %s%s%s", id, svc_clean(status ? status : "ended", a, sizeof a),
               error && *error ? ": " : "", svc_clean(error, b, sizeof b));
    return SVC_EXIT_FAILURE;
}

/* ---- the command -------------------------------------------------------------------------- */

/* Everything up to the network: arguments, the grid file, datasets, the token. Returns 0 or the
 * exit status. The caller frees *grid and *token either way. */
static int prepare(int argc, char **argv, sweep_args_t *a, dataset_ref_t *train,
                   dataset_ref_t *test, json_t **grid, char **token, long *timeout_s) {
    size_t timeout = 30;
    if (parse_args(argc, argv, a) != 0 ||
        (a->timeout && svc_parse_size("timeout", a->timeout, 1, 86400, &timeout) != 0))
        return SVC_EXIT_USAGE;
    *timeout_s = (long)timeout;
    if (a->test_labels && !a->test_dataset) {
        svc_errorf("--test-labels: needs --test-dataset");
        return SVC_EXIT_USAGE;
    }
    if (!(*grid = load_grid(a->grid)))
        return SVC_EXIT_USAGE;
    if (dataset_ref_init(train, "--dataset", a->dataset, "--labels", a->labels) != 0 ||
        (a->test_dataset && dataset_ref_init(test, "--test-dataset", a->test_dataset,
                                             "--test-labels", a->test_labels) != 0))
        return SVC_EXIT_USAGE;
    int csv_upload =
        (train->file && !train->labels) || (a->test_dataset && test->file && !test->labels);
    if (a->label_column && !csv_upload) {
        svc_errorf("--label-column: applies to CSV files to upload, and none is given");
        return SVC_EXIT_USAGE;
    }
    if (a->token_file && !(*token = read_token(a->token_file)))
        return SVC_EXIT_USAGE;
    return 0;
}

int svc_cmd_sweep(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(sweep_usage, stdout);
            return SVC_EXIT_OK;
        }
    sweep_args_t a = {0};
    dataset_ref_t train = {0}, test = {0};
    json_t *grid = NULL, *sw = NULL, *done = NULL;
    char *token = NULL;
    sweep_ctx_t cx = {.args = &a, .tty = isatty(STDERR_FILENO)};
    int rc = prepare(argc, argv, &a, &train, &test, &grid, &token, &cx.timeout_s);
    if (rc)
        goto out;

    svc_http_error_t err;
    cx.http = svc_http_new(a.server, token, cx.timeout_s, &err);
    if (!cx.http) {
        svc_errorf("--server %s: %s", a.server, err.message);
        rc = err.code == MLPT_EINVAL ? SVC_EXIT_USAGE : SVC_EXIT_FAILURE;
        goto out;
    }
    /* Ctrl-C aborts the request in flight and ends the command; a closed pipe is an error
     * that the writes report, not a signal that kills. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    svc_http_set_abort_flag(cx.http, &g_stop);

    if ((rc = dataset_upload(&cx, &train)) != 0 ||
        (a.test_dataset && (rc = dataset_upload(&cx, &test)) != 0) ||
        (rc = sweep_create(&cx, grid, &train, a.test_dataset ? &test : NULL, &sw)) != 0)
        goto out;
    int64_t id = (int64_t)json_integer_value(json_object_get(sw, "id"));
    if (!a.wait) {
        char st[32];
        if (a.json)
            rc = print_json(sw);
        else if (printf("sweep %" PRId64 ": %s, %" JSON_INTEGER_FORMAT " trials\n", id,
                        svc_clean(json_string_value(json_object_get(sw, "status")), st, sizeof st),
                        json_integer_value(json_object_get(sw, "trials_total"))) < 0 ||
                 fflush(stdout) != 0) {
            svc_errorf("cannot write to stdout: %s", strerror(errno));
            rc = SVC_EXIT_FAILURE;
        }
        goto out;
    }
    double t0 = svc_now();
    if ((rc = sweep_follow(&cx, id, &done)) == 0)
        rc = sweep_finish(&cx, done, svc_now() - t0);
out:
    json_decref(done);
    json_decref(sw);
    json_decref(grid);
    svc_http_free(cx.http);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    return rc;
}
