/*
 * api/server.c - the server object (struct api, server.h): api_start copies the configuration
 * (limits left at 0 take their defaults), creates the locks, the per-thread reader key, the
 * folders under data_dir and the SSE hub, then has http.c start the daemon; api_quiesce and
 * api_stop take it down in order (no new connections, no more scheduler calls, the event streams
 * ended, then the daemon, then the state). Also api_port and api_on_event.
 * No libmicrohttpd here: http.c is the only file of api/ that includes microhttpd.h.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "http.h"
#include "mem_budget.h"
#include "mlpt_err.h"
#include "server.h"

static void close_reader(void *st) {
    store_close(st);
}

static char *dup_or_null(const char *s, int *fail) {
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *fail = 1;
    return d;
}

/* Every limit left at 0 takes its default. */
static void fill_limits(api_limits_t *l, const api_limits_t *given) {
    api_limits_t def;
    api_limits_init(&def);
    *l = *given;
#define DEFAULT(f)                                                                                 \
    if (!l->f)                                                                                     \
    l->f = def.f
    DEFAULT(max_body_bytes);
    DEFAULT(max_upload_bytes);
    DEFAULT(max_upload_memory);
    DEFAULT(max_trials);
    DEFAULT(max_neurons);
    DEFAULT(max_layers);
    DEFAULT(max_iterations);
    DEFAULT(max_batch_size);
    DEFAULT(max_model_bytes);
    DEFAULT(max_connections);
    DEFAULT(connection_timeout_s);
    DEFAULT(max_ranks);
#undef DEFAULT
}

static int make_dir(api_t *a, const char *sub) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", a->data_dir, sub);
    if (mkdir(a->data_dir, 0755) != 0 && errno != EEXIST)
        return -1;
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        api_logf(a, "api: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

api_t *api_start(const api_config_t *cfg, int *err) {
    int rc = MLPT_ENOMEM, fail = 0;
    if (!cfg || !cfg->sched || !cfg->data_dir || !cfg->db_path) {
        rc = MLPT_EINVAL;
        goto out;
    }
    api_t *a = calloc(1, sizeof(*a));
    if (!a)
        goto out;
    a->quiesced_fd = -1;
    a->bind = dup_or_null(cfg->bind, &fail);
    a->data_dir = dup_or_null(cfg->data_dir, &fail);
    a->db_path = dup_or_null(cfg->db_path, &fail);
    a->web_dir = dup_or_null(cfg->web_dir, &fail);
    a->token = cfg->token && *cfg->token ? dup_or_null(cfg->token, &fail) : NULL;
    a->port = cfg->port;
    a->threads = cfg->threads > 0 ? cfg->threads : 4;
    fill_limits(&a->limits, &cfg->limits);
    a->sched = cfg->sched;
    a->log = cfg->log;
    a->log_all_requests = cfg->log_all_requests;
    a->log_user = cfg->log_user;
    a->tls = 0; /* no TLS listener yet: set it here when there is one (Origin, cookie Secure) */
    char why[320];
    if (api_host_policy_init(&a->hosts, cfg->bind, cfg->allowed_hosts, why, sizeof(why)) != 0) {
        api_logf(a, "api: --allowed-hosts: %s", why);
        api_stop(a);
        rc = MLPT_EINVAL;
        goto out;
    }
    if (a->token && !(a->sessions = api_sessions_new(API_SESSION_CAP, API_SESSION_TTL_S)))
        fail = 1;
    a->quarantined_files = cfg->quarantined_files;
    if (fail || pthread_rwlock_init(&a->sched_lock, NULL) != 0) {
        api_stop(a);
        goto out;
    }
    a->sched_lock_ok = 1;
    if (pthread_mutex_init(&a->conns_lock, NULL) != 0) {
        api_stop(a);
        goto out;
    }
    a->conns_lock_ok = 1;
    if (pthread_key_create(&a->reader_key, close_reader) != 0) {
        api_stop(a);
        goto out;
    }
    a->reader_key_ok = 1;
    if (a->web_dir && !(a->web_real = realpath(a->web_dir, NULL)))
        api_logf(a, "api: no dashboard: cannot open %s: %s", a->web_dir, strerror(errno));
    if (make_dir(a, "uploads") != 0 || make_dir(a, "datasets") != 0) {
        api_stop(a);
        rc = MLPT_EIO;
        goto out;
    }
    if (!(a->models = api_model_cache_new(cfg->model_cache_bytes ? cfg->model_cache_bytes
                                                                 : API_MODEL_CACHE_DEFAULT))) {
        api_stop(a);
        goto out;
    }
    if (!(a->upload_budget = api_mem_budget_new(a->limits.max_upload_memory))) {
        api_stop(a);
        goto out;
    }
    api_sse_ops_t ops = {0};
    api_http_sse_ops(&ops);
    api_sse_store_ops(a, &ops);
    api_sse_config_t sc = {.heartbeat_s = 15};
    if (!(a->hub = api_sse_hub_new(&ops, &sc))) {
        api_stop(a);
        goto out;
    }
    if ((rc = api_http_start(a)) != 0) {
        api_stop(a);
        goto out;
    }
    if (err)
        *err = 0;
    return a;
out:
    if (err)
        *err = rc;
    return NULL;
}

int api_allowed_hosts_check(const char *allowed_hosts, char *why, size_t cap) {
    api_host_policy_t *p = malloc(sizeof(*p)); /* about 8 KiB: not on a caller's stack */
    if (!p)
        return MLPT_ENOMEM;
    int rc = api_host_policy_init(p, NULL, allowed_hosts, why, cap) == 0 ? 0 : MLPT_EINVAL;
    free(p);
    return rc;
}

uint16_t api_port(const api_t *a) {
    return a ? a->port : 0;
}

void api_quiesce(api_t *a) {
    if (!a || atomic_exchange(&a->quiescing, 1))
        return;
    api_http_quiesce(a);
    /* Wait for the scheduler calls in flight; later ones answer 503 without touching it. */
    pthread_rwlock_wrlock(&a->sched_lock);
    a->sched_closed = 1;
    pthread_rwlock_unlock(&a->sched_lock);
}

void api_stop(api_t *a) {
    if (!a)
        return;
    if (a->sched_lock_ok)
        api_quiesce(a);
    if (a->hub && a->daemon) {
        /* End every stream first: suspended connections are resumed and their readers report
         * the end, so no connection is suspended when the daemon stops. */
        api_sse_close(a->hub);
        for (int i = 0; i < 100 && api_sse_count(a->hub) > 0; i++) {
            struct timespec ms10 = {0, 10 * 1000 * 1000};
            nanosleep(&ms10, NULL);
        }
    }
    api_http_stop(a);
    if (a->conns_lock_ok)
        pthread_mutex_destroy(&a->conns_lock);
    api_sse_hub_free(a->hub);
    api_model_cache_free(a->models);
    api_mem_budget_free(a->upload_budget);
    if (a->reader_key_ok)
        pthread_key_delete(a->reader_key);
    if (a->sched_lock_ok)
        pthread_rwlock_destroy(&a->sched_lock);
    free(a->bind);
    free(a->data_dir);
    free(a->db_path);
    free(a->web_dir);
    free(a->web_real);
    free(a->token);
    api_sessions_free(a->sessions);
    free(a);
}

void api_on_event(const sched_event_t *ev, void *user) {
    api_t *a = user;
    if (a && a->hub)
        api_sse_publish(a->hub, ev);
}
