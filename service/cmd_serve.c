/*
 * cmd_serve.c - `mlptune serve`: configuration (flags over MLPTUNE_* environment variables over
 * defaults), the data dir, wiring store + scheduler + api, signals and the graceful stop.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "kernels.h"
#include "log.h"
#include "mlpt_err.h"
#include "sched.h"
#include "store.h"

#ifndef MLPT_DEFAULT_WEB_DIR
#define MLPT_DEFAULT_WEB_DIR "web"
#endif

static const char serve_usage[] =
    "usage: mlptune serve [--bind ADDR] [--port N] [--data-dir DIR] [--workers N]\n"
    "                     [--web-dir DIR] [--max-upload-mb N] [--max-upload-memory-mb N]\n"
    "                     [--max-trials N]\n"
    "                     [--checkpoint-every N] [--checkpoint-seconds S]\n"
    "                     [--connection-timeout SECONDS] [--token-file F] [--insecure]\n"
    "\n"
    "  --bind ADDR        address to listen on (MLPTUNE_BIND, default 127.0.0.1)\n"
    "  --port N           TCP port, 0 for any free one (MLPTUNE_PORT, default 8080)\n"
    "  --data-dir DIR     SQLite database and dataset files (MLPTUNE_DATA_DIR, default ./data)\n"
    "  --workers N        trials trained at once (MLPTUNE_WORKERS, default: the cores)\n"
    "  --web-dir DIR      the dashboard's files (MLPTUNE_WEB_DIR)\n"
    "  --max-upload-mb N  largest dataset upload (MLPTUNE_MAX_UPLOAD_MB, default 1024)\n"
    "  --max-upload-memory-mb N\n"
    "                     memory all uploads together may fill while being decompressed and\n"
    "                     parsed; over it an upload waits up to 2 s, then gets 503\n"
    "                     (MLPTUNE_MAX_UPLOAD_MEMORY_MB, default 1024)\n"
    "  --max-trials N     most trials in one sweep (MLPTUNE_MAX_TRIALS, default 1000)\n"
    "  --checkpoint-every N\n"
    "                     iterations between a running trial's checkpoints, 0 for only at\n"
    "                     shutdown (MLPTUNE_CHECKPOINT_EVERY, default 5)\n"
    "  --checkpoint-seconds S\n"
    "                     and at least S seconds apart (MLPTUNE_CHECKPOINT_SECONDS, default\n"
    "                     10): a crash costs a trial about that much training (or N\n"
    "                     iterations, when they take longer)\n"
    "  --connection-timeout SECONDS\n"
    "                     close a connection idle that long (MLPTUNE_CONNECTION_TIMEOUT,\n"
    "                     default 60); headers are also due within 30 s, and a body must\n"
    "                     average 8 KiB/s after 10 s (both: or the timeout, if shorter)\n"
    "  --token-file F     every /api request then needs \"Authorization: Bearer <token>\"\n"
    "                     (the token is the file's first line; or MLPTUNE_TOKEN)\n"
    "  --insecure         allow a non-loopback --bind without a token\n"
    "  --log-requests     log every request (MLPTUNE_LOG_REQUESTS=1); by default only changes,\n"
    "                     errors, aborted and slow (>= 100 ms) requests are logged\n"
    "\n"
    "SIGINT/SIGTERM stop it gracefully: no new connections, running trials stop at a\n"
    "mini-batch boundary and are re-queued at the next start, everything is flushed.\n";

typedef struct serve_args {
    const char *bind, *port, *data_dir, *workers, *web_dir, *max_upload_mb, *max_trials;
    const char *connection_timeout, *max_upload_memory_mb;
    const char *checkpoint_every, *checkpoint_seconds;
    const char *token_file;
    int insecure;
    int log_requests;
} serve_args_t;

static int parse(int argc, char **argv, serve_args_t *a) {
    struct {
        const char *name, *env;
        const char **slot;
    } opts[] = {
        {"bind", "MLPTUNE_BIND", &a->bind},
        {"port", "MLPTUNE_PORT", &a->port},
        {"data-dir", "MLPTUNE_DATA_DIR", &a->data_dir},
        {"workers", "MLPTUNE_WORKERS", &a->workers},
        {"web-dir", "MLPTUNE_WEB_DIR", &a->web_dir},
        {"max-upload-mb", "MLPTUNE_MAX_UPLOAD_MB", &a->max_upload_mb},
        {"max-upload-memory-mb", "MLPTUNE_MAX_UPLOAD_MEMORY_MB", &a->max_upload_memory_mb},
        {"max-trials", "MLPTUNE_MAX_TRIALS", &a->max_trials},
        {"checkpoint-every", "MLPTUNE_CHECKPOINT_EVERY", &a->checkpoint_every},
        {"checkpoint-seconds", "MLPTUNE_CHECKPOINT_SECONDS", &a->checkpoint_seconds},
        {"connection-timeout", "MLPTUNE_CONNECTION_TIMEOUT", &a->connection_timeout},
        {"token-file", "MLPTUNE_TOKEN_FILE", &a->token_file},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    const char *lr = getenv("MLPTUNE_LOG_REQUESTS");
    a->log_requests = lr && *lr && strcmp(lr, "0") != 0;
    for (size_t k = 0; k < n_opts; k++) {
        const char *v = getenv(opts[k].env);
        if (v && *v)
            *opts[k].slot = v;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--insecure")) {
            a->insecure = 1;
            continue;
        }
        if (!strcmp(arg, "--log-requests")) {
            a->log_requests = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg) - 2;
        size_t k = 0;
        if (strncmp(arg, "--", 2) == 0)
            while (k < n_opts &&
                   !(strlen(opts[k].name) == len && !strncmp(opts[k].name, arg + 2, len)))
                k++;
        if (strncmp(arg, "--", 2) != 0 || k == n_opts) {
            svc_errorf("serve: unknown argument \"%s\" (see mlptune serve --help)", arg);
            return -1;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            svc_errorf("--%s: missing value", opts[k].name);
            return -1;
        }
        *opts[k].slot = v;
    }
    return 0;
}

/* The token: MLPTUNE_TOKEN, or the first line of --token-file (surrounding blanks dropped).
 * Returns 0 with *out malloc'd (NULL when none is configured), or -1 after saying why. */
static int read_token(const char *file, char **out) {
    *out = NULL;
    const char *env = getenv("MLPTUNE_TOKEN");
    char buf[1024] = "";
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            svc_errorf("--token-file: %s: %s", file, strerror(errno));
            return -1;
        }
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    } else if (env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        return 0;
    }
    char *p = buf, *end;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (end - p < 16) {
        svc_errorf("%s: the token must be at least 16 characters", file ? file : "MLPTUNE_TOKEN");
        return -1;
    }
    *out = strdup(p);
    memset(buf, 0, sizeof buf);
    return *out ? 0 : -1;
}

static int is_loopback(const char *addr) {
    return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strcmp(addr, "localhost");
}

static int make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    svc_errorf("%s: cannot create: %s", path, strerror(errno));
    return -1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Appends a copy of name to the array; 0, or -1 without memory. */
static int push_name(char ***names, size_t *n, size_t *cap, const char *name) {
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        char **tmp = realloc(*names, ncap * sizeof *tmp);
        if (!tmp)
            return -1;
        *names = tmp;
        *cap = ncap;
    }
    if (!((*names)[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

/* The file names under datasets/ that dataset rows name as their matrix, sorted, in *out
 * (malloc'd strings in a malloc'd array; free_names). Opening the writer creates and migrates a
 * new database, as sched_start would next. Returns 0, or -1 when the store cannot tell (cannot
 * open, read error, no memory): the caller then must not take any matrix for an orphan. */
static int dataset_files(const char *db, char ***out, size_t *count) {
    store_error_t err = {0};
    store_t *st = store_open(db, STORE_WRITER, &err);
    char **names = NULL, *cursor = NULL;
    size_t n = 0, cap = 0;
    int rc = st ? 0 : -1;
    while (rc == 0) {
        json_t *page = store_dataset_list(st, 1000, cursor, &err);
        free(cursor);
        cursor = NULL;
        if (!page) {
            rc = -1;
            break;
        }
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(page, "items"), i, d) {
            char *path = store_dataset_storage_path(
                st, (int64_t)json_integer_value(json_object_get(d, "id")), &err);
            if (!path) {
                rc = -1;
                break;
            }
            const char *base = strncmp(path, "datasets/", 9) == 0 ? path + 9 : NULL;
            if (base && push_name(&names, &n, &cap, base) != 0)
                rc = -1;
            free(path);
            if (rc)
                break;
        }
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (rc == 0 && next && !(cursor = strdup(next)))
            rc = -1;
        json_decref(page);
        if (!cursor)
            break;
    }
    free(cursor);
    store_close(st);
    if (rc) {
        free_names(names, n);
        return -1;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return 0;
}

/* Removes the files of dir that orphan(name) says are orphans; returns how many went. */
static int remove_files(const char *dir, int (*orphan)(const char *name, void *user), void *user) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !orphan(e->d_name, user))
            continue;
        removed += unlinkat(dirfd(d), e->d_name, 0) == 0;
    }
    closedir(d);
    return removed;
}

static int any_file(const char *name, void *user) {
    (void)name;
    (void)user;
    return 1;
}

typedef struct known_files {
    char **names; /* sorted; NULL with ok == 0 when the store could not list them */
    size_t n;
    int ok;
} known_files_t;

/* A matrix nobody finished (ingest_matrix_write's "<file>.tmp.<pid>"), or a whole one that no
 * dataset row names. Files not named like ours are left alone. */
static int orphan_matrix(const char *name, void *user) {
    const known_files_t *k = user;
    if (strstr(name, ".mlds.tmp."))
        return 1;
    size_t len = strlen(name);
    if (!k->ok || len < 5 || strcmp(name + len - 5, ".mlds") != 0)
        return 0;
    return k->n == 0 || !bsearch(&name, k->names, k->n, sizeof *k->names, cmp_str);
}

/* What the previous process was writing when it died: uploads that were streaming (uploads/ is
 * emptied) and, in datasets/, matrices half written, written but not yet recorded, or of a
 * dataset deleted just before the crash. Runs before the API starts, so nothing in flight can
 * be taken for an orphan. */
static void clean_orphans(const char *uploads, const char *datasets, const char *db) {
    int removed = remove_files(uploads, any_file, NULL);
    if (removed)
        svc_logf("info", "removed %d unfinished uploads", removed);
    known_files_t k = {0};
    k.ok = dataset_files(db, &k.names, &k.n) == 0;
    removed = remove_files(datasets, orphan_matrix, &k);
    if (removed)
        svc_logf("info", "removed %d dataset files no dataset refers to (left by a crash)",
                 removed);
    free_names(k.names, k.n);
}

int svc_cmd_serve(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(serve_usage, stdout);
            return SVC_EXIT_OK;
        }
    serve_args_t a = {
        .bind = "127.0.0.1", .port = "8080", .data_dir = "./data", .web_dir = MLPT_DEFAULT_WEB_DIR};
    if (parse(argc, argv, &a) != 0)
        return SVC_EXIT_USAGE;
    double checkpoint_seconds = 10.0;
    size_t port, workers = (size_t)svc_cpu_count(), upload_mb = 1024, upload_memory_mb = 1024,
                 max_trials = SCHED_DEFAULT_MAX_TRIALS, checkpoint_every = 5, conn_timeout = 60;
    if (svc_parse_size("port", a.port, 0, 65535, &port) ||
        (a.workers && svc_parse_size("workers", a.workers, 1, 256, &workers)) ||
        (a.max_upload_mb &&
         svc_parse_size("max-upload-mb", a.max_upload_mb, 1, 1 << 20, &upload_mb)) ||
        (a.max_upload_memory_mb && svc_parse_size("max-upload-memory-mb", a.max_upload_memory_mb,
                                                  16, 1 << 22, &upload_memory_mb)) ||
        (a.max_trials && svc_parse_size("max-trials", a.max_trials, 1, 100000, &max_trials)) ||
        (a.checkpoint_every &&
         svc_parse_size("checkpoint-every", a.checkpoint_every, 0, 1000000, &checkpoint_every)) ||
        (a.checkpoint_seconds && svc_parse_double("checkpoint-seconds", a.checkpoint_seconds, 0.0,
                                                  86400.0, 1, &checkpoint_seconds)) ||
        (a.connection_timeout &&
         svc_parse_size("connection-timeout", a.connection_timeout, 1, 86400, &conn_timeout)))
        return SVC_EXIT_USAGE;

    if (strlen(a.data_dir) > 3000) {
        svc_errorf("--data-dir: path too long");
        return SVC_EXIT_USAGE;
    }
    char *token = NULL;
    if (read_token(a.token_file, &token) != 0)
        return SVC_EXIT_USAGE;
    if (!token && !is_loopback(a.bind) && !a.insecure) {
        svc_errorf("serve: refusing to listen on %s without a token: anyone who can reach it "
                   "could use the API; give --token-file F (or MLPTUNE_TOKEN), bind to "
                   "127.0.0.1, or pass --insecure",
                   a.bind);
        return SVC_EXIT_USAGE;
    }
    char datasets[4096], uploads[4096], db[4096];
    snprintf(datasets, sizeof datasets, "%s/datasets", a.data_dir);
    snprintf(uploads, sizeof uploads, "%s/uploads", a.data_dir);
    snprintf(db, sizeof db, "%s/mlptune.db", a.data_dir);
    if (make_dir(a.data_dir) || make_dir(datasets) || make_dir(uploads)) {
        free(token);
        return SVC_EXIT_FAILURE;
    }
    clean_orphans(uploads, datasets, db);

    /* Every thread started from here on inherits this mask: only sigwait below sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    store_error_t serr = {0};
    sched_config_t scfg = {.data_dir = a.data_dir,
                           .db_path = db,
                           .workers = (int)workers,
                           .cores = svc_cpu_count(),
                           .max_trials = max_trials,
                           .checkpoint_every = (int)checkpoint_every,
                           .checkpoint_seconds = checkpoint_seconds,
                           .log = svc_log_line,
                           .log_user = "info"};
    sched_t *sched = sched_start(&scfg, &serr);
    if (!sched) {
        svc_errorf("%s: %s", db, serr.message[0] ? serr.message : mlpt_strerror(serr.code));
        free(token);
        return SVC_EXIT_FAILURE;
    }
    api_config_t acfg = {.bind = a.bind,
                         .port = (uint16_t)port,
                         .data_dir = a.data_dir,
                         .db_path = db,
                         .web_dir = a.web_dir,
                         .token = token,
                         .log_all_requests = a.log_requests,
                         .sched = sched,
                         .log = svc_log_line,
                         .log_user = "info"};
    api_limits_init(&acfg.limits);
    acfg.limits.max_upload_bytes = upload_mb << 20;
    acfg.limits.max_upload_memory = upload_memory_mb << 20;
    acfg.limits.max_trials = max_trials;
    acfg.limits.connection_timeout_s = (unsigned)conn_timeout;
    int aerr = 0;
    api_t *api = api_start(&acfg, &aerr);
    if (!api) {
        svc_errorf("cannot listen on %s:%zu: %s", a.bind, port, mlpt_strerror(aerr));
        sched_stop(sched);
        free(token);
        return SVC_EXIT_FAILURE;
    }
    sched_set_listener(sched, api_on_event, api);
    svc_logf("info",
             "mlptune listening on http://%s:%u/ (data dir %s, %zu workers, %s kernels, %s)",
             a.bind, (unsigned)api_port(api), a.data_dir, workers, trainer_blas_core(),
             token ? "API token required" : "no API token");
    printf("mlptune listening on http://%s:%u/\n", a.bind, (unsigned)api_port(api));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    svc_logf("info", "%s: stopping (new connections refused, trials stop at a mini-batch)",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    api_quiesce(api);
    sched_stop(sched);
    api_stop(api);
    free(token);
    svc_logf("info", "stopped");
    return SVC_EXIT_OK;
}
