/*
 * mpi_rank.c - a rank other than 0 under `serve --mpi` (sched_mpi_rank_run): its own worker pool
 * (exec_local.c, PLACED naming this rank) fed by rank 0's JOB messages, its messages sent back
 * as MSG, nothing written to disk (the pool has no data dir: model and checkpoint bytes travel
 * in the messages).
 *
 * Datasets are kept by content hash, one copy each for as long as the rank runs, shared by
 * every trial through the pool's dscache (pinned there under a rank-local id): a job whose
 * dataset is new here first looks for the file in a shared data dir (same relative path, same
 * SHA-256), else asks rank 0 (WANT) and waits, parked, for the DATASET answer. Each arrival is
 * logged ("mpi rank R: dataset ... received from rank 0" or "... read from the shared data
 * dir").
 *
 * Threads: the main thread runs the link (mpi_link.c) and every callback below except
 * rank_post, which the pool's workers call; `lock` guards the job list they unlink from.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dscache.h"
#include "executor.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "mpi_hash.h"
#include "mpi_link.h"
#include "mpi_sync.h"
#include "mpi_world.h"
#include "sched_mpi.h"
#include "train.h"
#include "wire.h"

typedef struct rjob {
    uint64_t no;
    sched_wire_job_t w;
    int parked; /* [lock] waiting for a dataset (set by the link thread) */
    /* A job across ranks (i13-dp): this rank's place in its group and the averaging the worker
     * hands the trainer (mpi_sync.h); NULL for one rank. */
    sched_mpi_group_t *group;
    trainer_sync_t sync;
    struct rjob *next;
} rjob_t;

typedef struct rds {
    unsigned char hash[SCHED_WIRE_HASH];
    int64_t local_id;
    int state; /* 1 in the cache, 0 asked for, -1 refused (error) */
    char error[256];
    struct rds *next;
} rds_t;

typedef struct rk {
    const sched_mpi_rank_config_t *cfg;
    int rank;
    sched_link_t *link;
    sched_executor_t *local;
    dscache_t *cache;
    pthread_mutex_t lock;
    rjob_t *jobs; /* [lock] */
    rds_t *ds;    /* link thread */
    int64_t next_local_id;
} rk_t;

#define logf_(k, ...) sched_exec_logf((k)->cfg->log, (k)->cfg->log_user, __VA_ARGS__)

static void job_free(rjob_t *j) {
    sched_mpi_group_free(j->group);
    sched_wire_job_free(&j->w);
    free(j);
}

/* A member of a job's group other than its first: its history is the first's, so only its END
 * goes to rank 0 (without the model: rank 0 keeps the first member's). */
static int follows(const rjob_t *j) {
    return j->w.job.ranks > 1 && j->w.job.member != 0;
}

/* A cancel or shutdown of a job across ranks: its averagings give up rather than wait for
 * members that stop too (a strategy's stop, PRUNED or EARLY, ends every member together at an
 * iteration's end instead: the trainer's vote). */
static void abandon(rjob_t *j, sched_stop_reason_t why) {
    if (j->group && (why == SCHED_STOP_CANCEL || why == SCHED_STOP_SHUTDOWN))
        sched_mpi_group_abandon(j->group);
}

/* The pool's (and this file's) messages, to rank 0. Any thread. */
static void rank_post(void *user, sched_msg_t *msg) {
    rk_t *k = user;
    rjob_t *j = msg->tag;
    if (follows(j) && msg->type != SCHED_MSG_END) {
        free(msg->model);
        free(msg->model_path);
        free(msg);
        return;
    }
    if (follows(j)) {
        free(msg->model);
        msg->model = NULL;
        msg->model_len = 0;
    }
    sched_wire_buf_t b = {0};
    int rc = sched_wire_encode_msg(&b, j->no, msg);
    if (rc == 0)
        rc = sched_link_send(k->link, 0, &b);
    free(b.p);
    if (rc != 0 && msg->type == SCHED_MSG_END) {
        /* rank 0 must hear the END or its slot stays taken: without the model, then */
        sched_msg_t e = *msg;
        e.model = NULL;
        e.model_len = 0;
        if (e.rc == 0) {
            e.rc = rc;
            snprintf(e.error, sizeof e.error, "rank %d cannot send the model: %s", k->rank,
                     mlpt_strerror(rc));
        }
        if (sched_wire_encode_msg(&b, j->no, &e) == 0)
            sched_link_send(k->link, 0, &b);
        free(b.p);
    }
    if (msg->type == SCHED_MSG_END) {
        pthread_mutex_lock(&k->lock);
        for (rjob_t **p = &k->jobs; *p; p = &(*p)->next)
            if (*p == j) {
                *p = j->next;
                break;
            }
        pthread_mutex_unlock(&k->lock);
        job_free(j);
    }
    free(msg->model);
    free(msg->model_path);
    free(msg);
}

static void set_parked(rk_t *k, rjob_t *j, int parked) {
    pthread_mutex_lock(&k->lock);
    j->parked = parked;
    pthread_mutex_unlock(&k->lock);
}

/* Ends a job that never reached the pool. */
static void end_now(rk_t *k, rjob_t *j, int rc, const char *error) {
    sched_msg_t *e = calloc(1, sizeof *e);
    if (!e)
        return; /* rank 0's slot stays taken until the next start */
    e->type = SCHED_MSG_END;
    e->tag = j;
    e->rc = rc;
    e->best_val_accuracy = e->final_val_accuracy = e->test_accuracy = 0.0 / 0.0;
    snprintf(e->error, sizeof e->error, "%s", error ? error : "");
    rank_post(k, e);
}

static rds_t *rds_find(rk_t *k, const unsigned char *hash) {
    for (rds_t *d = k->ds; d; d = d->next)
        if (!memcmp(d->hash, hash, SCHED_WIRE_HASH))
            return d;
    return NULL;
}

/* A relative path that stays inside the data dir. */
static int safe_rel(const char *p) {
    return p && *p && *p != '/' && !strstr(p, "..");
}

/* The shared data dir's copy of a dataset, when it has the same content. */
static trainer_dataset_t *from_shared(rk_t *k, const sched_wire_ds_t *ref) {
    if (!k->cfg->data_dir || !safe_rel(ref->path))
        return NULL;
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", k->cfg->data_dir, ref->path);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    unsigned char hash[SCHED_WIRE_HASH];
    char why[160];
    trainer_dataset_t *ds = NULL;
    ingest_error_t err = {0};
    if (sched_mpi_hash_file(path, hash, why, sizeof why) != 0 ||
        memcmp(hash, ref->hash, sizeof hash) != 0 || ingest_matrix_read(path, &ds, &err) != 0)
        return NULL;
    return ds;
}

/* Adds a dataset to the cache under a new local id. */
static int keep(rk_t *k, rds_t *d, trainer_dataset_t *ds) {
    d->local_id = ++k->next_local_id;
    int rc = dscache_put(k->cache, d->local_id, ds);
    if (rc != 0) {
        trainer_dataset_free(ds);
        d->state = -1;
        snprintf(d->error, sizeof d->error, "rank %d: %s", k->rank, mlpt_strerror(rc));
        return rc;
    }
    d->state = 1;
    return 0;
}

/* The local id of a job's dataset, or 0 while it is on its way (asked for here), or -1 when it
 * cannot come (error set). */
static int64_t resolve(rk_t *k, const sched_wire_ds_t *ref, char *error, size_t error_len) {
    rds_t *d = rds_find(k, ref->hash);
    if (!d) {
        if (!(d = calloc(1, sizeof *d))) {
            snprintf(error, error_len, "rank %d: out of memory", k->rank);
            return -1;
        }
        memcpy(d->hash, ref->hash, sizeof d->hash);
        d->next = k->ds;
        k->ds = d;
        char hex[17];
        sched_mpi_hash_hex(ref->hash, hex);
        trainer_dataset_t *ds = from_shared(k, ref);
        if (ds) {
            if (keep(k, d, ds) == 0)
                logf_(k,
                      "mpi rank %d: dataset %lld (sha256 %s) read from the shared data dir: "
                      "%zu rows x %zu features",
                      k->rank, (long long)ref->id, hex, ds->rows, ds->features);
        } else {
            sched_wire_buf_t b = {0};
            int rc = sched_wire_encode_want(&b, ref->id, ref->hash);
            if (rc == 0)
                rc = sched_link_send(k->link, 0, &b);
            free(b.p);
            if (rc != 0) {
                d->state = -1;
                snprintf(d->error, sizeof d->error, "rank %d cannot ask for dataset %lld: %s",
                         k->rank, (long long)ref->id, mlpt_strerror(rc));
            }
        }
    }
    if (d->state < 0)
        snprintf(error, error_len, "%s", d->error);
    return d->state > 0 ? d->local_id : d->state == 0 ? 0 : -1;
}

/* Hands a job to the pool once its datasets are here. Returns 1 when it is (still) parked; 0
 * when it went to the pool or ended (either way j may be gone: only a worker's END frees it). */
static int try_start(rk_t *k, rjob_t *j) {
    char error[256] = "";
    int64_t ds = resolve(k, &j->w.ds, error, sizeof error);
    int64_t test = ds > 0 && j->w.test.id ? resolve(k, &j->w.test, error, sizeof error) : 0;
    if (ds < 0 || test < 0) {
        set_parked(k, j, 0);
        end_now(k, j, MLPT_EIO, error);
        return 0;
    }
    if (ds == 0 || (j->w.test.id && test == 0)) {
        set_parked(k, j, 1);
        return 1;
    }
    set_parked(k, j, 0);
    j->w.job.tag = j;
    j->w.job.dataset = (sched_dataset_ref_t){ds, ""};
    j->w.job.test = (sched_dataset_ref_t){test, ""};
    if (!k->local)
        end_now(k, j, MLPT_ENOMEM, "the rank's workers could not start");
    else if (sched_exec_submit(k->local, &j->w.job) != 0)
        end_now(k, j, MLPT_ENOMEM, "out of memory");
    return 0;
}

/* The job `no` and whether it is parked (read under the lock: a job in the pool may end and be
 * freed by a worker at any time, so the pointer is then only a tag for the pool). */
static rjob_t *find_job(rk_t *k, uint64_t no, int *parked) {
    pthread_mutex_lock(&k->lock);
    rjob_t *j = k->jobs;
    while (j && j->no != no)
        j = j->next;
    *parked = j && j->parked;
    pthread_mutex_unlock(&k->lock);
    return j;
}

/* The parked jobs, for a walk that may end some (end_now unlinks them). */
static size_t parked(rk_t *k, rjob_t **out, size_t cap) {
    size_t n = 0;
    pthread_mutex_lock(&k->lock);
    for (rjob_t *j = k->jobs; j && n < cap; j = j->next)
        if (j->parked)
            out[n++] = j;
    pthread_mutex_unlock(&k->lock);
    return n;
}

static void on_job(rk_t *k, const unsigned char *msg, size_t len, uint64_t no) {
    rjob_t *j = calloc(1, sizeof *j);
    if (!j || sched_wire_decode_job(msg, len, &j->w) != 0) {
        /* the job is unknown here: rank 0 keeps its slot taken; say why */
        logf_(k, "mpi rank %d: an unreadable job %llu from rank 0, dropped", k->rank,
              (unsigned long long)no);
        free(j);
        return;
    }
    j->no = no;
    pthread_mutex_lock(&k->lock);
    j->next = k->jobs;
    k->jobs = j;
    pthread_mutex_unlock(&k->lock);
    const sched_exec_job_t *x = &j->w.job;
    if (x->ranks > 1) { /* one of a group: the averaging with the others */
        const char *why = "";
        char error[256];
        if (x->members[x->member] != k->rank)
            why = "a group that does not name this rank";
        else
            j->group = sched_mpi_group_new(x->members, x->ranks, x->member, no, &why);
        if (!j->group) {
            snprintf(error, sizeof error, "rank %d: %s", k->rank, why);
            end_now(k, j, MLPT_EINVAL, error);
            return;
        }
        j->sync = (trainer_sync_t){.rank = (int)x->member,
                                   .ranks = (int)x->ranks,
                                   .every = x->sync_every,
                                   .average = sched_mpi_group_average,
                                   .user = j->group};
        j->w.job.sync = &j->sync;
    }
    try_start(k, j);
}

static void on_dataset(rk_t *k, const unsigned char *msg, size_t len) {
    int64_t id;
    unsigned char hash[SCHED_WIRE_HASH];
    trainer_dataset_t *ds;
    char error[256];
    if (sched_wire_decode_dataset(msg, len, &id, hash, &ds, error, sizeof error) != 0) {
        logf_(k, "mpi rank %d: an unreadable dataset from rank 0, dropped", k->rank);
        return;
    }
    rds_t *d = rds_find(k, hash);
    if (!d || d->state != 0) { /* not asked for */
        trainer_dataset_free(ds);
        return;
    }
    char hex[17];
    sched_mpi_hash_hex(hash, hex);
    if (!ds) {
        d->state = -1;
        snprintf(d->error, sizeof d->error, "%s", error);
        logf_(k, "mpi rank %d: dataset %lld (sha256 %s) refused by rank 0: %s", k->rank,
              (long long)id, hex, error);
    } else {
        size_t rows = ds->rows, features = ds->features;
        if (keep(k, d, ds) == 0)
            logf_(k,
                  "mpi rank %d: dataset %lld (sha256 %s) received from rank 0: %zu rows x %zu "
                  "features, %zu bytes",
                  k->rank, (long long)id, hex, rows, features, len);
    }
    rjob_t *waiting[1024];
    size_t n;
    while ((n = parked(k, waiting, 1024)) > 0) {
        size_t still = 0;
        for (size_t i = 0; i < n; i++)
            still += (size_t)try_start(k, waiting[i]);
        if (still == n)
            break; /* the rest wait for another dataset */
    }
}

/* abandon() for the job `no`, under the lock (a worker's END may free it any time after). */
static void abandon_no(rk_t *k, uint64_t no, sched_stop_reason_t why) {
    pthread_mutex_lock(&k->lock);
    for (rjob_t *j = k->jobs; j; j = j->next)
        if (j->no == no)
            abandon(j, why);
    pthread_mutex_unlock(&k->lock);
}

static void abandon_all(rk_t *k, sched_stop_reason_t why) {
    pthread_mutex_lock(&k->lock);
    for (rjob_t *j = k->jobs; j; j = j->next)
        abandon(j, why);
    pthread_mutex_unlock(&k->lock);
}

static void stop_parked(rk_t *k) {
    rjob_t *waiting[1024];
    size_t n;
    while ((n = parked(k, waiting, 1024)) > 0)
        for (size_t i = 0; i < n; i++)
            end_now(k, waiting[i], MLPT_ESTOPPED, NULL);
}

static void recv_cb(void *user, int source, unsigned char *msg, size_t len) {
    rk_t *k = user;
    sched_wire_type_t type;
    uint64_t no;
    sched_stop_reason_t why;
    if (source != 0 || sched_wire_peek(msg, len, &type, &no) != 0) {
        logf_(k, "mpi rank %d: an unreadable message from rank %d, dropped", k->rank, source);
    } else if (type == SCHED_WIRE_JOB) {
        on_job(k, msg, len, no);
    } else if (type == SCHED_WIRE_DATASET) {
        on_dataset(k, msg, len);
    } else if (type == SCHED_WIRE_STOP && sched_wire_decode_stop(msg, len, &why) == 0) {
        int parked;
        abandon_no(k, no, why);
        rjob_t *j = find_job(k, no, &parked);
        if (j && parked) /* only this thread starts or ends a parked job */
            end_now(k, j, MLPT_ESTOPPED, NULL);
        else if (j && k->local)
            sched_exec_stop(k->local, j, why);
    } else if (type == SCHED_WIRE_STOP_ALL && sched_wire_decode_stop(msg, len, &why) == 0) {
        abandon_all(k, why);
        stop_parked(k);
        if (k->local)
            sched_exec_stop_all(k->local, why);
    } else if (type == SCHED_WIRE_SHUTDOWN) {
        abandon_all(k, SCHED_STOP_SHUTDOWN);
        stop_parked(k);
        if (k->local)
            sched_exec_stop_all(k->local, SCHED_STOP_SHUTDOWN);
        sched_exec_free(k->local); /* joins the workers once their jobs ended */
        k->local = NULL;
        sched_wire_buf_t b = {0};
        sched_wire_encode_empty(&b, SCHED_WIRE_BYE);
        sched_link_send(k->link, 0, &b);
        sched_link_quit(k->link);
    } else {
        logf_(k, "mpi rank %d: an unexpected message (type %d), dropped", k->rank, (int)type);
    }
    free(msg);
}

int sched_mpi_rank_run(const sched_mpi_rank_config_t *cfg) {
    int n = 0;
    rk_t k = {.cfg = cfg};
    sched_mpi_world(&n, &k.rank);
    pthread_mutex_init(&k.lock, NULL);
    int cores = cfg->cores > 0 ? cfg->cores : 1;
    trainer_blas_set_threads(cores / cfg->workers > 0 ? cores / cfg->workers : 1);
    k.cache = dscache_new();
    k.link = sched_link_new(recv_cb, NULL, &k);
    sched_exec_local_config_t lc = {.data_dir = NULL,
                                    .workers = cfg->workers,
                                    .checkpoint_every = cfg->checkpoint_every,
                                    .checkpoint_seconds = cfg->checkpoint_seconds,
                                    .post = rank_post,
                                    .post_user = &k,
                                    .log = cfg->log,
                                    .log_user = cfg->log_user,
                                    .rank = k.rank,
                                    .cache = k.cache};
    if (k.cache && k.link)
        k.local = sched_exec_local_new(&lc);
    int rc = 0;
    if (!k.local) {
        logf_(&k, "mpi rank %d: cannot start its workers", k.rank);
        rc = -1;
        /* still answer rank 0: every job it sends fails, its SHUTDOWN gets the BYE */
    } else {
        logf_(&k, "mpi rank %d: %d workers ready", k.rank, k.local->slots);
    }
    if (k.link)
        sched_link_run(k.link);
    sched_exec_free(k.local);
    sched_link_free(k.link);
    while (k.jobs) {
        rjob_t *j = k.jobs;
        k.jobs = j->next;
        job_free(j);
    }
    while (k.ds) {
        rds_t *d = k.ds;
        k.ds = d->next;
        if (d->state > 0)
            dscache_release(k.cache, d->local_id);
        free(d);
    }
    dscache_free(k.cache);
    pthread_mutex_destroy(&k.lock);
    return rc;
}
