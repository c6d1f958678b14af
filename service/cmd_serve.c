/*
 * cmd_serve.c - `mlptune serve`: configuration (flags over MLPTUNE_* environment variables over
 * defaults), the data dir, wiring store + scheduler + api, signals and the graceful stop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "data_dir.h"
#include "kernels.h"
#include "log.h"
#include "mlpt_err.h"
#include "sched.h"
#ifdef MLPT_HAVE_MPI
#include "sched_mpi.h"
#endif
#include "store.h"

#ifndef MLPT_DEFAULT_WEB_DIR
#define MLPT_DEFAULT_WEB_DIR "web"
#endif

static const char serve_usage[] =
    "usage: mlptune serve [--bind ADDR] [--port N] [--data-dir DIR] [--workers N]\n"
    "                     [--web-dir DIR] [--max-upload-mb N] [--max-upload-memory-mb N]\n"
    "                     [--max-trials N]\n"
    "                     [--checkpoint-every N] [--checkpoint-seconds S]\n"
    "                     [--max-model-mb N] [--model-cache-mb N]\n"
    "                     [--connection-timeout SECONDS] [--token-file F] [--insecure]\n"
    "                     [--allowed-hosts H1,H2] [--mpi]\n"
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
    "  --max-model-mb N   largest model a trial of a new sweep may imply (parameters x 4\n"
    "                     bytes, from the dataset's shape): 422 above (MLPTUNE_MAX_MODEL_MB,\n"
    "                     default 1024)\n"
    "  --model-cache-mb N loaded models kept for predictions, least recently used out first\n"
    "                     (MLPTUNE_MODEL_CACHE_MB, default 256)\n"
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
    "                     (the file holds the token alone; or MLPTUNE_TOKEN)\n"
    "  --insecure         allow a non-loopback --bind without a token\n"
    "  --allowed-hosts H1,H2\n"
    "                     host names (NAME or NAME:PORT) this service answers for besides its\n"
    "                     --bind address and localhost, 127.0.0.1, [::1] (MLPTUNE_ALLOWED_HOSTS);\n"
    "                     a request naming any other Host gets 403 (DNS rebinding)\n"
    "  --mpi              run under mpirun across Open MPI ranks: rank 0 serves HTTP, schedules\n"
    "                     and writes the database; every other rank trains the trials rank 0\n"
    "                     hands it on its own --workers (default: its share of its node's\n"
    "                     cores) and opens no socket and no database (mpirun -np N mlptune\n"
    "                     serve --mpi ...); stop it with SIGTERM to rank 0 (its pid is logged)\n"
    "  --log-requests     log every request (MLPTUNE_LOG_REQUESTS=1); by default only changes,\n"
    "                     errors, aborted and slow (>= 100 ms) requests are logged\n"
    "\n"
    "SIGINT/SIGTERM stop it gracefully: no new connections, running trials stop at a\n"
    "mini-batch boundary and are re-queued at the next start, everything is flushed.\n";

typedef struct serve_args {
    const char *bind, *port, *data_dir, *workers, *web_dir, *max_upload_mb, *max_trials;
    const char *max_model_mb, *model_cache_mb, *max_upload_memory_mb;
    const char *connection_timeout;
    const char *checkpoint_every, *checkpoint_seconds;
    const char *token_file;
    const char *allowed_hosts;
    int insecure;
    int log_requests;
    int mpi;
} serve_args_t;

/* The parsed numbers of the flags. */
typedef struct serve_opts {
    double checkpoint_seconds;
    int cores; /* the cores training may use: the machine's, or a rank's share of its node */
    size_t port, workers, upload_mb, upload_memory_mb, max_trials, checkpoint_every, conn_timeout,
        max_model_mb, model_cache_mb;
} serve_opts_t;

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
        {"max-model-mb", "MLPTUNE_MAX_MODEL_MB", &a->max_model_mb},
        {"model-cache-mb", "MLPTUNE_MODEL_CACHE_MB", &a->model_cache_mb},
        {"checkpoint-every", "MLPTUNE_CHECKPOINT_EVERY", &a->checkpoint_every},
        {"checkpoint-seconds", "MLPTUNE_CHECKPOINT_SECONDS", &a->checkpoint_seconds},
        {"connection-timeout", "MLPTUNE_CONNECTION_TIMEOUT", &a->connection_timeout},
        {"token-file", "MLPTUNE_TOKEN_FILE", &a->token_file},
        {"allowed-hosts", "MLPTUNE_ALLOWED_HOSTS", &a->allowed_hosts},
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
        if (!strcmp(arg, "--mpi")) {
            a->mpi = 1;
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

/* The token: --token-file (svc_token_file_read, the reader `sweep` uses too), else
 * MLPTUNE_TOKEN (surrounding blanks dropped); at least 16 characters. Returns 0 with *out
 * malloc'd (NULL when none is configured), or -1 after saying why. */
static int read_token(const char *file, char **out) {
    *out = NULL;
    const char *env = getenv("MLPTUNE_TOKEN");
    char buf[1024] = "";
    char *p = buf;
    if (file) {
        if (!(p = svc_token_file_read(file)))
            return -1;
    } else if (env) {
        snprintf(buf, sizeof buf, "%s", env);
        char *end;
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
    } else {
        return 0;
    }
    if (strlen(p) < 16)
        svc_errorf("%s: the token must be at least 16 characters", file ? file : "MLPTUNE_TOKEN");
    else
        *out = strdup(p);
    if (p != buf) {
        memset(p, 0, strlen(p));
        free(p);
    }
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

static pthread_t serve_main_thread;

/* A stop signal that reached another thread goes to the main thread, where it is blocked until
 * sigwait takes it. (pthread_kill is async-signal-safe.) */
static void forward_stop_signal(int sig) {
    int saved = errno;
    pthread_kill(serve_main_thread, sig);
    errno = saved;
}

/* The service of rank 0 (or of a single process): everything after the flags. mpi_workers is
 * the sum of every rank's workers under --mpi, else 0. */
static int serve(const serve_args_t *a_, const serve_opts_t *o, int mpi_workers);

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
    serve_opts_t o = {.checkpoint_seconds = 10.0,
                      .cores = svc_cpu_count(),
                      .port = 0,
                      .workers = (size_t)svc_cpu_count(),
                      .upload_mb = 1024,
                      .upload_memory_mb = 1024,
                      .max_trials = SCHED_DEFAULT_MAX_TRIALS,
                      .checkpoint_every = 5,
                      .conn_timeout = 60,
                      .max_model_mb = 1024,
                      .model_cache_mb = 256};
    if (svc_parse_size("port", a.port, 0, 65535, &o.port) ||
        (a.workers && svc_parse_size("workers", a.workers, 1, 256, &o.workers)) ||
        (a.max_upload_mb &&
         svc_parse_size("max-upload-mb", a.max_upload_mb, 1, 1 << 20, &o.upload_mb)) ||
        (a.max_upload_memory_mb && svc_parse_size("max-upload-memory-mb", a.max_upload_memory_mb,
                                                  16, 1 << 22, &o.upload_memory_mb)) ||
        (a.max_trials && svc_parse_size("max-trials", a.max_trials, 1, 100000, &o.max_trials)) ||
        (a.max_model_mb &&
         svc_parse_size("max-model-mb", a.max_model_mb, 1, 1 << 20, &o.max_model_mb)) ||
        (a.model_cache_mb &&
         svc_parse_size("model-cache-mb", a.model_cache_mb, 1, 1 << 20, &o.model_cache_mb)) ||
        (a.checkpoint_every &&
         svc_parse_size("checkpoint-every", a.checkpoint_every, 0, 1000000, &o.checkpoint_every)) ||
        (a.checkpoint_seconds && svc_parse_double("checkpoint-seconds", a.checkpoint_seconds, 0.0,
                                                  86400.0, 1, &o.checkpoint_seconds)) ||
        (a.connection_timeout &&
         svc_parse_size("connection-timeout", a.connection_timeout, 1, 86400, &o.conn_timeout)))
        return SVC_EXIT_USAGE;
    if (!a.mpi)
        return serve(&a, &o, 0);
#ifndef MLPT_HAVE_MPI
    svc_errorf("serve: --mpi: this mlptune was built without MPI (cmake -DMLPTUNE_MPI=ON)");
    return SVC_EXIT_USAGE;
#else
    int rank = 0, size = 0, node_ranks = 1;
    char why[256];
    if (sched_mpi_init(&rank, &size, &node_ranks, why, sizeof why) != 0) {
        svc_errorf("serve: --mpi: %s", why);
        return SVC_EXIT_FAILURE;
    }
    /* Ranks on one node split its cores: by default each takes its share as workers, and its
     * BLAS threads come from that share only. */
    o.cores = svc_cpu_count() / node_ranks > 0 ? svc_cpu_count() / node_ranks : 1;
    if (!a.workers)
        o.workers = (size_t)o.cores;
    sched_mpi_hello((int)o.workers, svc_log_line, "info");
    int rc;
    if (rank == 0) {
        int ranks, max_workers, total;
        sched_mpi_shape(&ranks, &max_workers, &total);
        rc = serve(&a, &o, total);
    } else {
        /* Only rank 0 decides when to stop: a SIGTERM or SIGINT mpirun passes on to every rank
         * must not end this one before rank 0 has heard its trials' ends (rank 0 releases it;
         * a rank 0 that died ends the job through Open MPI). Ignored process-wide: MPI's own
         * threads would otherwise take the default action. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        struct stat st;
        sched_mpi_rank_config_t rc_cfg = {
            .data_dir = stat(a.data_dir, &st) == 0 && S_ISDIR(st.st_mode) ? a.data_dir : NULL,
            .workers = (int)o.workers,
            .cores = o.cores,
            .checkpoint_every = (int)o.checkpoint_every,
            .checkpoint_seconds = o.checkpoint_seconds,
            .log = svc_log_line,
            .log_user = "info"};
        rc = sched_mpi_rank_run(&rc_cfg) == 0 ? SVC_EXIT_OK : SVC_EXIT_FAILURE;
    }
    sched_mpi_finalize();
    return rc;
#endif
}

static int serve(const serve_args_t *a_, const serve_opts_t *o, int mpi_workers) {
    serve_args_t a = *a_;
    double checkpoint_seconds = o->checkpoint_seconds;
    size_t port = o->port, workers = o->workers, upload_mb = o->upload_mb,
           upload_memory_mb = o->upload_memory_mb, max_trials = o->max_trials,
           checkpoint_every = o->checkpoint_every, conn_timeout = o->conn_timeout,
           max_model_mb = o->max_model_mb, model_cache_mb = o->model_cache_mb;

    if (strlen(a.data_dir) > 3000) {
        svc_errorf("--data-dir: path too long");
        return SVC_EXIT_USAGE;
    }
    char why[320];
    if (api_allowed_hosts_check(a.allowed_hosts, why, sizeof why) != 0) {
        svc_errorf("--allowed-hosts: %s", why);
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
    size_t quarantined = svc_data_dir_tidy(a.data_dir, db);

    /* Every thread started from here on inherits this mask: only sigwait below sees them. A
     * thread started before (OpenBLAS starts its pool when the library loads) does not block
     * them; the kernel may hand it the signal, whose default action would end the process
     * without a graceful stop: the handler passes it on to the main thread instead. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    serve_main_thread = pthread_self();
    struct sigaction forward = {.sa_handler = forward_stop_signal};
    sigemptyset(&forward.sa_mask);
    sigaction(SIGINT, &forward, NULL);
    sigaction(SIGTERM, &forward, NULL);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    store_error_t serr = {0};
    /* sweeps resumed at start-up: a random search continues its draws (api_sweep_strategy) */
    api_strategy_ctx_t strategy_ctx = {.db_path = db,
                                       .workers = mpi_workers ? (size_t)mpi_workers : workers};
    api_limits_init(&strategy_ctx.limits);
    strategy_ctx.limits.max_trials = max_trials;
    /* a stored sweep's ranks read back whatever this start gives (its trials say if they can) */
    strategy_ctx.limits.max_ranks = TRAINER_MAX_RANKS;
    strategy_ctx.limits.max_model_bytes = max_model_mb << 20;
    sched_config_t scfg = {.strategy_new = api_sweep_strategy,
                           .strategy_user = &strategy_ctx,
                           .data_dir = a.data_dir,
                           .db_path = db,
                           .workers = (int)workers,
                           .cores = o->cores,
                           .max_trials = max_trials,
                           .checkpoint_every = (int)checkpoint_every,
                           .checkpoint_seconds = checkpoint_seconds,
                           .log = svc_log_line,
                           .log_user = "info",
                           .log_error_user = "error",
                           .mpi = mpi_workers > 0};
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
                         .allowed_hosts = a.allowed_hosts,
                         .log_all_requests = a.log_requests,
                         .sched = sched,
                         .log = svc_log_line,
                         .log_user = "info",
                         .quarantined_files = quarantined};
    api_limits_init(&acfg.limits);
    acfg.limits.max_upload_bytes = upload_mb << 20;
    acfg.limits.max_upload_memory = upload_memory_mb << 20;
    acfg.limits.max_trials = max_trials;
    acfg.limits.max_model_bytes = max_model_mb << 20;
    acfg.model_cache_bytes = model_cache_mb << 20;
    acfg.limits.connection_timeout_s = (unsigned)conn_timeout;
    sched_stats_t st;
    sched_stats(sched, &st);
    acfg.limits.max_ranks = (size_t)st.group_ranks; /* a new sweep's training.ranks, at most */
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
