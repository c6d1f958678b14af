/*
 * exec_local.c - the local executor: a pool of worker threads on this machine. A job handed in
 * waits in the hand-off list until a worker takes it and trains it (worker.c); a worker with no
 * job to take helps a running job that has room (each run takes at most partitions - 1
 * helpers) and goes back to the hand-off list as soon as a job is waiting. Stop messages find
 * the job by its tag and set its flags; nothing else of the job is shared with the loop. A
 * worker that takes a job first posts where it runs (PLACED: the pool's rank, host and slots).
 *
 * Locking: one mutex (lock) guards the hand-off list, the list of runs helpers may join, and
 * quit; the stop flags are atomics.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"
#include "mlpt_err.h"
#include "worker.h"

typedef struct xjob {
    sched_exec_job_t job;
    sched_worker_stop_t stop;
    trainer_run_t *run; /* [lock] while it trains, for helpers to join */
    int started;        /* [lock] a worker took it */
    struct xjob *next;  /* [lock] in the hand-off list or the started list */
} xjob_t;

typedef struct local {
    sched_executor_t base; /* first: the executor is the pool */
    sched_worker_env_t env;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    xjob_t *handoff;         /* [lock] FIFO */
    xjob_t *started;         /* [lock] jobs a worker trains */
    int quit;                /* [lock] */
    atomic_int jobs_waiting; /* handoff is not empty: helpers go back to it */
    pthread_t *threads;
    int n_threads;
    int rank;           /* what PLACED names */
    int borrowed_cache; /* env.cache is the config's */
    char host[64];      /* gethostname, or "localhost" when it fails */
} local_t;

static local_t *of(sched_executor_t *x) {
    return (local_t *)x;
}

static void share(void *user, const void *key, trainer_run_t *run) {
    local_t *p = user;
    pthread_mutex_lock(&p->lock);
    for (xjob_t *j = p->started; j; j = j->next)
        if (&j->job == key)
            j->run = run;
    pthread_cond_broadcast(&p->ready); /* idle workers: come and help */
    pthread_mutex_unlock(&p->lock);
}

static void unshare(void *user, const void *key) {
    local_t *p = user;
    pthread_mutex_lock(&p->lock);
    for (xjob_t *j = p->started; j; j = j->next)
        if (&j->job == key)
            j->run = NULL;
    pthread_mutex_unlock(&p->lock);
}

/* A run with room for one more thread. Called with lock. */
static trainer_run_t *run_to_help(local_t *p) {
    for (xjob_t *j = p->started; j; j = j->next)
        if (j->run && trainer_run_join(j->run) == 0)
            return j->run;
    return NULL;
}

/* Tells the loop where the job taken now runs. Without memory the placement is not recorded;
 * the job runs all the same. */
static void post_placed(local_t *p, const xjob_t *x) {
    sched_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return;
    m->type = SCHED_MSG_PLACED;
    m->tag = x->job.tag;
    m->placement_rank = p->rank;
    m->placement_workers = p->base.slots;
    memcpy(m->placement_host, p->host, sizeof m->placement_host);
    p->env.post(p->env.post_user, m);
}

static void unlink_started(local_t *p, xjob_t *x) {
    for (xjob_t **q = &p->started; *q; q = &(*q)->next)
        if (*q == x) {
            *q = x->next;
            return;
        }
}

static void *worker_main(void *arg) {
    local_t *p = arg;
    sched_worker_lower_priority(&p->env);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        xjob_t *x = p->handoff;
        if (x) {
            p->handoff = x->next;
            if (!p->handoff)
                atomic_store(&p->jobs_waiting, 0);
            x->started = 1;
            x->next = p->started;
            p->started = x;
            pthread_mutex_unlock(&p->lock);
            post_placed(p, x);
            sched_worker_train_rank(&p->env, &x->job, &x->stop, x->job.sync);
            pthread_mutex_lock(&p->lock);
            unlink_started(p, x);
            free(x);
            continue;
        }
        if (p->quit)
            break;
        trainer_run_t *run = run_to_help(p);
        if (run) {
            pthread_mutex_unlock(&p->lock);
            trainer_run_help(run, &p->jobs_waiting);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        pthread_cond_wait(&p->ready, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int local_submit(sched_executor_t *xe, const sched_exec_job_t *job) {
    local_t *p = of(xe);
    xjob_t *x = calloc(1, sizeof *x);
    if (!x)
        return MLPT_ENOMEM;
    x->job = *job;
    atomic_init(&x->stop.hard, SCHED_STOP_NONE);
    atomic_init(&x->stop.soft, SCHED_STOP_NONE);
    pthread_mutex_lock(&p->lock);
    xjob_t **end = &p->handoff;
    while (*end)
        end = &(*end)->next;
    *end = x;
    atomic_store(&p->jobs_waiting, 1);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void set_stop(xjob_t *x, sched_stop_reason_t why) {
    if (why == SCHED_STOP_PRUNED || why == SCHED_STOP_EARLY || why == SCHED_STOP_STOPPED)
        atomic_store(&x->stop.soft, (int)why);
    else
        atomic_store(&x->stop.hard, (int)why);
}

static void local_stop(sched_executor_t *xe, void *tag, sched_stop_reason_t why) {
    local_t *p = of(xe);
    pthread_mutex_lock(&p->lock);
    for (xjob_t *x = p->started; x; x = x->next)
        if (x->job.tag == tag)
            set_stop(x, why);
    for (xjob_t *x = p->handoff; x; x = x->next) /* stops at once when a worker takes it */
        if (x->job.tag == tag)
            set_stop(x, why);
    pthread_mutex_unlock(&p->lock);
}

static void local_stop_all(sched_executor_t *xe, sched_stop_reason_t why) {
    local_t *p = of(xe);
    pthread_mutex_lock(&p->lock);
    xjob_t *unclaimed = p->handoff;
    p->handoff = NULL;
    atomic_store(&p->jobs_waiting, 0);
    for (xjob_t *x = p->started; x; x = x->next)
        set_stop(x, why);
    pthread_mutex_unlock(&p->lock);
    while (unclaimed) { /* never started: they end now, untouched */
        xjob_t *x = unclaimed;
        unclaimed = x->next;
        sched_msg_t *m = calloc(1, sizeof *m);
        if (m) {
            m->type = SCHED_MSG_END;
            m->tag = x->job.tag;
            m->rc = MLPT_ESTOPPED;
            m->best_val_accuracy = m->final_val_accuracy = m->test_accuracy = 0.0 / 0.0;
            p->env.post(p->env.post_user, m);
        }
        free(x);
    }
}

static void local_free(sched_executor_t *xe) {
    local_t *p = of(xe);
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->handoff) {
        xjob_t *x = p->handoff;
        p->handoff = x->next;
        free(x);
    }
    if (!p->borrowed_cache)
        dscache_free(p->env.cache);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->ready);
    free(p->threads);
    free(p);
}

static const sched_executor_ops_t local_ops = {
    .submit = local_submit, .stop = local_stop, .stop_all = local_stop_all, .free = local_free};

sched_executor_t *sched_exec_local_new(const sched_exec_local_config_t *cfg) {
    if (!cfg || cfg->workers < 1 || !cfg->post)
        return NULL;
    local_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc((size_t)cfg->workers, sizeof *p->threads);
    p->env = (sched_worker_env_t){.data_dir = cfg->data_dir,
                                  .checkpoint_every = cfg->checkpoint_every,
                                  .checkpoint_seconds = cfg->checkpoint_seconds,
                                  .cache = cfg->cache ? cfg->cache : dscache_new(),
                                  .post = cfg->post,
                                  .post_user = cfg->post_user,
                                  .log = cfg->log,
                                  .log_user = cfg->log_user,
                                  .share = share,
                                  .unshare = unshare,
                                  .share_user = p};
    p->borrowed_cache = cfg->cache != NULL;
    if (!p->threads || !p->env.cache) {
        if (!p->borrowed_cache)
            dscache_free(p->env.cache);
        free(p->threads);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->ready, NULL);
    atomic_init(&p->jobs_waiting, 0);
    p->base.ops = &local_ops;
    p->base.cores = cfg->workers;
    p->base.group_ranks = 1; /* a job of more ranks ends failed, unless its executor gave it
                                a sync (worker.c) */
    p->rank = cfg->rank;
    if (gethostname(p->host, sizeof p->host - 1) != 0 || !p->host[0])
        snprintf(p->host, sizeof p->host, "localhost");
    p->host[sizeof p->host - 1] = '\0'; /* a name cut short is not terminated */
    for (; p->n_threads < cfg->workers; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, worker_main, p) != 0)
            break; /* fewer workers than asked: run with those that started */
    p->base.slots = p->n_threads;
    if (p->n_threads == 0) {
        local_free(&p->base);
        return NULL;
    }
    return &p->base;
}
