/*
 * exec_mpi.c - rank 0's executor under `serve --mpi`: its own worker pool (exec_local.c) plus
 * every other rank (mpi_rank.c), as one executor whose slots are all their workers.
 *
 * submit (the loop thread) picks a rank with a free slot, preferring one that already holds the
 * job's dataset (rank 0 always does: it reads the file), the one with the most free slots among
 * equals. Jobs for rank 0 go to the local pool at once; the others, and every stop, become
 * operations in one FIFO that the link thread (mpi_link.c) turns into wire messages at its next
 * turn, in order (a STOP never overtakes its JOB). The link thread also hashes dataset files
 * (their content key, computed once per dataset), answers a rank's WANT with the parsed dataset,
 * and turns the ranks' MSG back into the loop's messages: their model and checkpoint bytes are
 * written to files here (store_file_write, as a local worker does; when that fails the bytes
 * stay in the message for the loop's retry), their tags are this side's, and END frees the slot.
 *
 * Jobs across ranks (their groups) are exec_mpi_group.c's; the state this file shares with it
 * is in exec_mpi_private.h, its small helpers in exec_mpi_state.c. Calls go one way: this file
 * -> exec_mpi_group.c -> exec_mpi_state.c.
 *
 * Locking: `lock` guards jobs, ops, the per-rank counts and datasets; the wire buffers and the
 * link's callbacks are the link thread's.
 */
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_mpi_private.h"
#include "executor.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "mpi_hash.h"
#include "mpi_link.h"
#include "mpi_world.h"
#include "wire.h"

#define SHUTDOWN_WAIT_S 60 /* for every rank's BYE at the end */

static void deliver(mx_t *m, rjob_t *j, sched_msg_t *msg, int rank);

static mx_t *of(sched_executor_t *x) {
    return (mx_t *)x;
}

/* ------------------------------------------------------------------------------------------ */
/* The loop's side */

/* The local pool's messages: its END frees a rank-0 slot. */
static void local_post(void *user, sched_msg_t *msg) {
    mx_t *m = user;
    if (msg->type == SCHED_MSG_END) {
        pthread_mutex_lock(&m->lock);
        for (rjob_t *j = m->jobs; j; j = j->next)
            if (j->rank == 0 && j->job.tag == msg->tag) {
                mx_unlink_job(m, j);
                m->busy[0]--;
                free(j);
                break;
            }
        pthread_mutex_unlock(&m->lock);
    }
    m->post(m->post_user, msg);
}

/* The rank for a job. Called with lock. */
static int pick_rank(mx_t *m, const sched_exec_job_t *job) {
    dsinfo_t *d = mx_ds_find(m, job->dataset.id);
    int best = -1, best_score = -1;
    for (int r = 0; r < m->n; r++) {
        int free_slots = (r == 0 ? m->local->slots : m->ranks[r].workers) - m->busy[r];
        if (free_slots <= 0)
            continue;
        int score = ((r == 0 || (d && d->held[r])) ? 1 << 20 : 0) + free_slots;
        if (score > best_score) {
            best = r;
            best_score = score;
        }
    }
    return best < 0 ? 0 : best; /* none free (the loop hands no more than slots): wait locally */
}

static int mx_submit(sched_executor_t *xe, const sched_exec_job_t *job) {
    mx_t *m = of(xe);
    if (job->ranks > 1)
        return mx_group_submit(m, job);
    rjob_t *j = calloc(1, sizeof *j);
    op_t *o = calloc(1, sizeof *o);
    if (!j || !o) {
        free(j);
        free(o);
        return MLPT_ENOMEM;
    }
    j->job = *job;
    j->no = ++m->next_no;
    pthread_mutex_lock(&m->lock);
    j->rank = pick_rank(m, job);
    dsinfo_t *d = mx_ds_get(m, job->dataset.id, job->dataset.path);
    if (!d || (job->test.id && !mx_ds_get(m, job->test.id, job->test.path))) {
        pthread_mutex_unlock(&m->lock);
        free(j);
        free(o);
        return MLPT_ENOMEM;
    }
    d->held[j->rank] = 1;
    m->busy[j->rank]++;
    j->next = m->jobs;
    m->jobs = j;
    if (j->rank != 0) {
        o->kind = OP_JOB;
        o->job = j;
        mx_push_op(m, o);
        o = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (o) { /* rank 0 */
        free(o);
        int rc = sched_exec_submit(m->local, job);
        if (rc != 0) {
            pthread_mutex_lock(&m->lock);
            mx_unlink_job(m, j);
            m->busy[0]--;
            pthread_mutex_unlock(&m->lock);
            free(j);
        }
        return rc;
    }
    sched_link_wake(m->link);
    return 0;
}

static void mx_stop(sched_executor_t *xe, void *tag, sched_stop_reason_t why) {
    mx_t *m = of(xe);
    op_t *o = calloc(1, sizeof *o);
    int local = 0;
    pthread_mutex_lock(&m->lock);
    for (rjob_t *j = m->jobs; j; j = j->next)
        if (j->job.tag == tag) {
            if (j->rank == 0) {
                local = 1;
            } else if (o || (o = calloc(1, sizeof *o))) {
                *o = (op_t){.kind = OP_STOP, .no = j->no, .rank = j->rank, .why = why};
                mx_push_op(m, o);
                o = NULL;
            }
            if (!j->group)
                break; /* a job across ranks: every member hears it */
        }
    pthread_mutex_unlock(&m->lock);
    free(o);
    if (local)
        sched_exec_stop(m->local, tag, why);
    else
        sched_link_wake(m->link);
}

static void mx_stop_all(sched_executor_t *xe, sched_stop_reason_t why) {
    mx_t *m = of(xe);
    sched_exec_stop_all(m->local, why);
    op_t *o = calloc(1, sizeof *o);
    if (!o)
        return; /* the ranks' jobs stop when rank 0 releases them at its end */
    o->kind = OP_STOP_ALL;
    o->why = why;
    pthread_mutex_lock(&m->lock);
    mx_push_op(m, o);
    pthread_mutex_unlock(&m->lock);
    sched_link_wake(m->link);
}

/* ------------------------------------------------------------------------------------------ */
/* The link thread's side */

/* The dataset's hash, computed once. Returns the info (hashed 1) or NULL with error set. */
static dsinfo_t *hashed(mx_t *m, int64_t id, char *error, size_t error_len) {
    pthread_mutex_lock(&m->lock);
    dsinfo_t *d = mx_ds_find(m, id);
    pthread_mutex_unlock(&m->lock);
    if (!d) {
        snprintf(error, error_len, "dataset %lld: unknown", (long long)id);
        return NULL;
    }
    if (d->hashed == 0) { /* only this thread writes hash and hashed */
        char why[160];
        if (sched_mpi_hash_file(d->path, d->hash, why, sizeof why) == 0) {
            d->hashed = 1;
        } else {
            snprintf(d->error, sizeof d->error, "cannot read dataset %lld: %s", (long long)id, why);
            d->hashed = -1;
        }
    }
    if (d->hashed < 0) {
        snprintf(error, error_len, "%s", d->error);
        return NULL;
    }
    return d;
}

static sched_wire_ds_t wire_ref(const mx_t *m, const dsinfo_t *d) {
    sched_wire_ds_t w = {.id = d->id};
    memcpy(w.hash, d->hash, sizeof w.hash);
    size_t n = strlen(m->data_dir);
    w.path = (char *)d->path;
    if (!strncmp(d->path, m->data_dir, n) && d->path[n] == '/')
        w.path = (char *)d->path + n + 1;
    return w;
}

/* Sends a job to its rank; when that cannot be done the job ends failed. */
static void send_job(mx_t *m, rjob_t *j) {
    char error[256] = "";
    dsinfo_t *d = hashed(m, j->job.dataset.id, error, sizeof error), *t = NULL;
    if (d && j->job.test.id)
        t = hashed(m, j->job.test.id, error, sizeof error);
    int rc = MLPT_EIO;
    if (d && (!j->job.test.id || t)) {
        sched_wire_ds_t wd = wire_ref(m, d), wt = t ? wire_ref(m, t) : (sched_wire_ds_t){0};
        sched_wire_buf_t b = {0};
        rc = sched_wire_encode_job(&b, j->no, &j->job, &wd, t ? &wt : NULL);
        if (rc == 0)
            rc = sched_link_send(m->link, j->rank, &b);
        free(b.p);
        if (rc != 0)
            snprintf(error, sizeof error, "cannot send the job to rank %d: %s", j->rank,
                     mlpt_strerror(rc));
    }
    if (rc == 0)
        return;
    void *tag = j->job.tag;
    pthread_mutex_lock(&m->lock);
    mx_unlink_job(m, j);
    m->busy[j->rank]--;
    if (j->group) { /* a member that never started: its group ends failed, saying why */
        sched_msg_t *e = calloc(1, sizeof *e);
        rjob_t *lead = NULL;
        if (e) {
            e->type = SCHED_MSG_END;
            e->rc = rc;
            e->best_val_accuracy = e->final_val_accuracy = e->test_accuracy = 0.0 / 0.0;
            snprintf(e->error, sizeof e->error, "%s", error);
            lead = mx_group_msg(m, j, &e);
        }
        pthread_mutex_unlock(&m->lock);
        if (lead)
            deliver(m, lead, e, lead->rank);
        return;
    }
    pthread_mutex_unlock(&m->lock);
    free(j);
    mx_post_end(m, tag, rc, error);
}

static void send_stop(mx_t *m, sched_wire_type_t type, uint64_t no, int rank,
                      sched_stop_reason_t why) {
    sched_wire_buf_t b = {0};
    if (type == SCHED_WIRE_SHUTDOWN)
        sched_wire_encode_empty(&b, type);
    else
        sched_wire_encode_stop(&b, type, no, why);
    if (sched_link_send(m->link, rank, &b) != 0)
        logf_(m, "mpi: cannot send a stop to rank %d", rank);
}

static void tick(void *user) {
    mx_t *m = user;
    pthread_mutex_lock(&m->lock);
    op_t *o = m->ops;
    m->ops = NULL;
    m->ops_tail = &m->ops;
    pthread_mutex_unlock(&m->lock);
    while (o) {
        op_t *next = o->next;
        if (o->kind == OP_JOB)
            send_job(m, o->job);
        else if (o->kind == OP_STOP)
            send_stop(m, SCHED_WIRE_STOP, o->no, o->rank, o->why);
        else
            for (int r = 1; r < m->n; r++)
                send_stop(m, o->kind == OP_STOP_ALL ? SCHED_WIRE_STOP_ALL : SCHED_WIRE_SHUTDOWN, 0,
                          r, o->why);
        free(o);
        o = next;
    }
}

/* A rank asks for a dataset: the parsed matrix, read from its file now (not kept here). */
static void answer_want(mx_t *m, int rank, const unsigned char *msg, size_t len) {
    int64_t id;
    unsigned char hash[SCHED_WIRE_HASH];
    if (sched_wire_decode_want(msg, len, &id, hash) != 0) {
        logf_(m, "mpi: a malformed dataset request from rank %d, ignored", rank);
        return;
    }
    char error[256] = "";
    dsinfo_t *d = hashed(m, id, error, sizeof error);
    trainer_dataset_t *ds = NULL;
    if (d && memcmp(d->hash, hash, sizeof hash) != 0) {
        snprintf(error, sizeof error, "dataset %lld: no such content here", (long long)id);
        d = NULL;
    }
    ingest_error_t ierr = {0};
    if (d && ingest_matrix_read(d->path, &ds, &ierr) != 0)
        snprintf(error, sizeof error, "cannot load dataset %lld: %.200s", (long long)id,
                 ierr.message);
    sched_wire_buf_t b = {0};
    int rc = sched_wire_encode_dataset(&b, id, hash, ds, error);
    size_t bytes = b.len;
    if (rc == 0)
        rc = sched_link_send(m->link, rank, &b);
    free(b.p);
    if (rc != 0 && ds) { /* tell it why instead */
        snprintf(error, sizeof error,
                 "dataset %lld cannot be sent (%s): give the ranks a shared "
                 "data dir",
                 (long long)id, mlpt_strerror(rc));
        sched_wire_buf_t e = {0};
        if (sched_wire_encode_dataset(&e, id, hash, NULL, error) == 0)
            sched_link_send(m->link, rank, &e);
        free(e.p);
    }
    char hex[17];
    sched_mpi_hash_hex(hash, hex);
    if (rc == 0 && ds)
        logf_(m, "mpi: dataset %lld (sha256 %s) sent to rank %d: %zu bytes", (long long)id, hex,
              rank, bytes);
    else
        logf_(m, "mpi: dataset %lld for rank %d: %s", (long long)id, rank, error);
    trainer_dataset_free(ds);
}

/* A follower's model belongs to that follower only if the job has it. */
static int has_follower(const sched_exec_job_t *job, int64_t id) {
    for (size_t i = 0; i < job->n_followers; i++)
        if (job->followers[i].trial_id == id)
            return 1;
    return 0;
}

static void on_msg(mx_t *m, int rank, const unsigned char *bytes, size_t len, uint64_t no) {
    sched_msg_t *msg;
    if (sched_wire_decode_msg(bytes, len, &msg) != 0) {
        logf_(m, "mpi: a malformed message from rank %d, dropped", rank);
        return;
    }
    pthread_mutex_lock(&m->lock);
    rjob_t *j = m->jobs;
    while (j && !(j->no == no && j->rank == rank))
        j = j->next;
    if (j && msg->type == SCHED_MSG_END) {
        mx_unlink_job(m, j);
        m->busy[rank]--;
    }
    if (j && j->group && !(j = mx_group_msg(m, j, &msg))) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    pthread_mutex_unlock(&m->lock);
    if (!j) {
        logf_(m, "mpi: a message from rank %d about no job of it, dropped", rank);
        free(msg->model);
        free(msg);
        return;
    }
    deliver(m, j, msg, rank);
}

/* A message of job j (from `rank`) to the loop: its files written, j freed after its END. */
static void deliver(mx_t *m, rjob_t *j, sched_msg_t *msg, int rank) {
    /* this side's tag and trial; the rank's word only for its figures */
    msg->tag = j->job.tag;
    msg->metric.trial_id = j->job.trial_id;
    int64_t owner = j->job.trial_id;
    if (msg->type == SCHED_MSG_ITERATION && msg->follower_id) {
        if (!has_follower(&j->job, msg->follower_id)) {
            msg->follower_id = 0;
            free(msg->model);
            msg->model = NULL;
            msg->model_len = 0;
        }
        owner = msg->follower_id;
    }
    if (msg->type == SCHED_MSG_PLACED)
        msg->placement_rank = rank;
    if (msg->model) {
        store_error_t err;
        store_file_kind_t kind =
            msg->type == SCHED_MSG_CHECKPOINT ? STORE_FILE_CHECKPOINT : STORE_FILE_MODEL;
        if (store_file_write(m->data_dir, kind, owner, msg->model, msg->model_len, &msg->model_path,
                             &err) == 0) {
            free(msg->model);
            msg->model = NULL;
            msg->model_len = 0;
        } else {
            logf_(m, "trial %lld: %s; the scheduler tries again", (long long)owner, err.message);
        }
    }
    if (msg->type == SCHED_MSG_END)
        free(j);
    m->post(m->post_user, msg);
}

static void recv_cb(void *user, int rank, unsigned char *bytes, size_t len) {
    mx_t *m = user;
    sched_wire_type_t type;
    uint64_t no;
    if (rank <= 0 || rank >= m->n || sched_wire_peek(bytes, len, &type, &no) != 0)
        logf_(m, "mpi: an unreadable message from rank %d, dropped", rank);
    else if (type == SCHED_WIRE_MSG)
        on_msg(m, rank, bytes, len, no);
    else if (type == SCHED_WIRE_WANT)
        answer_want(m, rank, bytes, len);
    else if (type == SCHED_WIRE_BYE) {
        pthread_mutex_lock(&m->lock);
        m->byes++;
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
    } else
        logf_(m, "mpi: an unexpected message (type %d) from rank %d, dropped", (int)type, rank);
    free(bytes);
}

static void *link_main(void *arg) {
    mx_t *m = arg;
    sched_link_run(m->link);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void mx_free(sched_executor_t *xe) {
    mx_t *m = of(xe);
    if (m->thread_started) {
        /* Every END was posted: release the ranks and wait for each one's last word. */
        op_t *o = calloc(1, sizeof *o);
        pthread_mutex_lock(&m->lock);
        if (o) {
            o->kind = OP_SHUTDOWN;
            mx_push_op(m, o);
        }
        pthread_mutex_unlock(&m->lock);
        sched_link_wake(m->link);
        /* A rank that died ends the job through Open MPI; one that is alive but never answers
         * (stuck) would hold this process forever: after SHUTDOWN_WAIT_S the job is aborted
         * (the database is closed by now, and crash-safe anyway). */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SHUTDOWN_WAIT_S;
        int late = 0;
        pthread_mutex_lock(&m->lock);
        while (o && m->byes < m->n - 1 && !late)
            late = pthread_cond_timedwait(&m->changed, &m->lock, &until) == ETIMEDOUT;
        int missing = m->n - 1 - m->byes;
        pthread_mutex_unlock(&m->lock);
        if (late) {
            logf_(m, "mpi: %d rank(s) did not answer the shutdown within %d s: aborting the job",
                  missing, SHUTDOWN_WAIT_S);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        sched_link_quit(m->link);
        pthread_join(m->thread, NULL);
        if (o)
            sched_mpi_world_released();
    }
    sched_link_free(m->link);
    sched_exec_free(m->local);
    while (m->jobs) {
        rjob_t *j = m->jobs;
        m->jobs = j->next;
        free(j);
    }
    while (m->ops) {
        op_t *o = m->ops;
        m->ops = o->next;
        free(o);
    }
    while (m->ds) {
        dsinfo_t *d = m->ds;
        m->ds = d->next;
        free(d->path);
        free(d->held);
        free(d);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->changed);
    free(m->busy);
    free(m->ranks);
    free(m->data_dir);
    free(m);
}

static const sched_executor_ops_t mx_ops = {
    .submit = mx_submit, .stop = mx_stop, .stop_all = mx_stop_all, .free = mx_free};

sched_executor_t *sched_exec_mpi_new(const sched_exec_local_config_t *cfg) {
    int n = 0, self = 0;
    const sched_exec_rank_t *world = sched_mpi_world(&n, &self);
    if (!cfg || !cfg->post || !world || self != 0 || n < 1)
        return NULL;
    mx_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    m->ops_tail = &m->ops;
    m->post = cfg->post;
    m->post_user = cfg->post_user;
    m->log = cfg->log;
    m->log_user = cfg->log_user;
    m->n = n;
    m->ranks = malloc((size_t)n * sizeof *m->ranks);
    m->busy = calloc((size_t)n, sizeof *m->busy);
    m->data_dir = strdup(cfg->data_dir);
    sched_exec_local_config_t lc = *cfg;
    lc.post = local_post;
    lc.post_user = m;
    lc.rank = 0;
    if (m->ranks && m->busy && m->data_dir)
        m->local = sched_exec_local_new(&lc);
    if (m->local)
        m->link = sched_link_new(recv_cb, tick, m);
    if (!m->link) {
        mx_free(&m->base);
        return NULL;
    }
    memcpy(m->ranks, world, (size_t)n * sizeof *m->ranks);
    m->ranks[0].workers = m->local->slots;
    m->base.ops = &mx_ops;
    m->base.ranks = m->ranks;
    m->base.n_ranks = n;
    m->base.slots = m->local->slots;
    m->base.cores = cfg->workers;
    /* a trial across ranks takes ranks other than 0 (which serves and schedules); their
     * workers call MPI beside the link thread (mpi_sync.h) */
    int provided = 0;
    MPI_Query_thread(&provided);
    m->base.group_ranks = provided >= MPI_THREAD_MULTIPLE && n > 2 ? n - 1 : 1;
    for (int r = 1; r < n; r++) {
        m->base.slots += m->ranks[r].workers;
        if (m->ranks[r].workers > m->base.cores)
            m->base.cores = m->ranks[r].workers;
    }
    if (pthread_create(&m->thread, NULL, link_main, m) != 0) {
        mx_free(&m->base);
        return NULL;
    }
    m->thread_started = 1;
    return &m->base;
}
