/*
 * sched.c - the scheduler's life cycle and its commands: start-up (the executor, the writer,
 * recovery, each unfinished sweep's strategy and queue), the command hand-over from other
 * threads, and the graceful stop. The loop's per-wake-up work is in loop.c; the layering of the
 * files is drawn in loop.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "loop.h"
#include "mlpt_err.h"
#ifdef MLPT_HAVE_MPI
#include "mpi_link.h"
#endif
#include "sched_private.h"
#include "train.h"

static void set_err(store_error_t *err, int code, const char *msg) {
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Start-up, on the loop thread. */

/* The queued trials of one sweep at a time (the store walks them by sweep, then ordinal), each
 * sweep handed to its strategy once all its trials are read. */
typedef struct rebuild_ctx {
    sched_t *s;
    store_error_t *err;
    int64_t sweep_id, dataset_id, test_dataset_id;
    sched_queued_trial_t *trials;
    size_t n, cap;
} rebuild_ctx_t;

static int rebuild_flush(rebuild_ctx_t *ctx) {
    int rc = 0;
    if (ctx->n)
        rc = sched_search_begin(ctx->s, ctx->sweep_id, ctx->dataset_id, ctx->test_dataset_id,
                                ctx->trials, ctx->n, ctx->err);
    ctx->n = 0;
    return rc;
}

/* A trial's partitions: its stored spec's, or for trials stored before they were recorded the
 * rule of that time (the local workers), so an old database resumes as it would have. */
static size_t stored_partitions(const json_t *obj, size_t fallback) {
    const json_t *v = json_object_get(obj, "partitions");
    if (json_is_integer(v) && json_integer_value(v) >= 1 &&
        json_integer_value(v) <= TRAINER_MAX_PARTITIONS)
        return (size_t)json_integer_value(v);
    return fallback;
}

static int requeue_one(int64_t sweep_id, int64_t trial_id, int64_t dataset_id,
                       int64_t test_dataset_id, const char *params_json, void *user) {
    rebuild_ctx_t *ctx = user;
    sched_queued_trial_t t = {.trial_id = trial_id};
    json_error_t jerr;
    json_t *obj = json_loads(params_json, 0, &jerr);
    int rc = obj ? sched_params_from_json(obj, &t.params) : MLPT_EFORMAT;
    t.partitions = stored_partitions(obj, ctx->s->default_partitions);
    sched_ranks_from_json(obj, &t.ranks);
    json_decref(obj);
    if (rc != 0) {
        sched_logf(ctx->s, "trial %lld: unreadable parameters, skipped", (long long)trial_id);
        return 0;
    }
    if (ctx->n && ctx->sweep_id != sweep_id && (rc = rebuild_flush(ctx)) != 0)
        return rc;
    ctx->sweep_id = sweep_id;
    ctx->dataset_id = dataset_id;
    ctx->test_dataset_id = test_dataset_id;
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? 2 * ctx->cap : 64;
        sched_queued_trial_t *tmp = realloc(ctx->trials, cap * sizeof *tmp);
        if (!tmp) {
            set_err(ctx->err, MLPT_ENOMEM, "out of memory");
            return MLPT_ENOMEM;
        }
        ctx->trials = tmp;
        ctx->cap = cap;
    }
    ctx->trials[ctx->n++] = t;
    return 0;
}

/* Unfinished random searches with no trial queued (a crash between a trial's end and the next
 * draw) begin too: their strategy adds the next trials. Grids with nothing queued are not
 * resumed here, as before. */
static int resume_idle_searches(sched_t *s, store_error_t *err) {
    static const char *const states[] = {"queued", "running"};
    int rc = 0;
    for (size_t k = 0; k < 2 && rc == 0; k++) {
        char cursor[128] = "";
        do {
            json_t *page =
                store_sweep_list(s->writer, states[k], 100, cursor[0] ? cursor : NULL, err);
            if (!page)
                return err->code ? err->code : MLPT_ENOMEM;
            size_t i;
            json_t *sw;
            json_array_foreach(json_object_get(page, "items"), i, sw) {
                int64_t id = json_integer_value(json_object_get(sw, "id"));
                const json_t *search = json_object_get(json_object_get(sw, "spec"), "search");
                const char *type = json_string_value(json_object_get(search, "type"));
                if (sched_sweep_find(s, id) || !type || strcmp(type, "random") != 0)
                    continue;
                rc = sched_search_begin(
                    s, id, json_integer_value(json_object_get(sw, "dataset_id")),
                    json_integer_value(json_object_get(sw, "test_dataset_id")), NULL, 0, err);
                if (rc != 0)
                    break;
            }
            const char *next = json_string_value(json_object_get(page, "next_cursor"));
            snprintf(cursor, sizeof cursor, "%s", next && rc == 0 ? next : "");
            json_decref(page);
        } while (cursor[0]);
    }
    return rc;
}

static void loop_thread_main(void *arg) {
    sched_t *s = arg;
    store_error_t err = {0};
    int64_t requeued = 0;
    s->writer = store_open(s->db_path, STORE_WRITER, &err);
    if (s->writer && store_set_data_dir(s->writer, s->data_dir, &err) == 0 &&
        store_recover(s->writer, &requeued, &err) == 0) {
        rebuild_ctx_t ctx = {.s = s, .err = &err};
        int rc = store_queued_trials(s->writer, requeue_one, &ctx, &err);
        if (rc == 0)
            rc = rebuild_flush(&ctx);
        if (rc == 0)
            rc = resume_idle_searches(s, &err);
        free(ctx.trials);
        if (rc != 0) {
            store_close(s->writer);
            s->writer = NULL;
        }
    } else {
        store_close(s->writer);
        s->writer = NULL;
    }
    pthread_mutex_lock(&s->start_lock);
    s->start_state = s->writer ? 1 : -1;
    s->start_err = err;
    pthread_cond_broadcast(&s->started);
    pthread_mutex_unlock(&s->start_lock);
    if (!s->writer)
        return;
    if (requeued)
        sched_logf(s, "recovery: %lld trials left running by a crash re-queued",
                   (long long)requeued);
    sched_logf(s, "scheduler: %d workers x %d BLAS threads, %llu trials queued", s->exec->slots,
               s->blas_threads, (unsigned long long)atomic_load(&s->n_queued));
    sched_loop_watch_start(s);
    sched_loop_dispatch(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    store_close(s->writer);
    s->writer = NULL;
}

static void destroy(sched_t *s) {
    if (!s)
        return;
    sched_exec_free(s->exec); /* joins its threads */
    /* END messages of jobs that never started (a failed start-up) */
    for (report_t *r = s->reports, *next; r; r = next) {
        next = r->next;
        free(r->model_path);
        free(r->final_checkpoint_path);
        free(r->model);
        free(r);
    }
    sched_jobs_free(s);
    pthread_mutex_destroy(&s->start_lock);
    pthread_cond_destroy(&s->started);
    pthread_mutex_destroy(&s->cmd_lock);
    pthread_cond_destroy(&s->cmd_done);
    pthread_mutex_destroy(&s->report_lock);
    free(s->data_dir);
    free(s->db_path);
    free(s);
}

sched_t *sched_start(const sched_config_t *cfg, store_error_t *err) {
    if (!cfg || !cfg->data_dir || !cfg->db_path || cfg->workers < 1) {
        set_err(err, MLPT_EINVAL, "scheduler: bad configuration");
        return NULL;
    }
    sched_t *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(err, MLPT_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    if (!s->cfg.max_trials)
        s->cfg.max_trials = SCHED_DEFAULT_MAX_TRIALS;
    s->data_dir = strdup(cfg->data_dir);
    s->db_path = strdup(cfg->db_path);
    pthread_mutex_init(&s->start_lock, NULL);
    pthread_cond_init(&s->started, NULL);
    pthread_mutex_init(&s->cmd_lock, NULL);
    pthread_cond_init(&s->cmd_done, NULL);
    pthread_mutex_init(&s->report_lock, NULL);
    if (!s->data_dir || !s->db_path) {
        set_err(err, MLPT_ENOMEM, "out of memory");
        destroy(s);
        return NULL;
    }

    /* BLAS threads: the cores left per worker, at least one; never more threads than cores. */
    int cores = cfg->cores > 0 ? cfg->cores : 1;
    s->blas_threads = cores / cfg->workers > 0 ? cores / cfg->workers : 1;
    trainer_blas_set_threads(s->blas_threads);
    /* One worker's GEMM throughput, for dry runs' estimates until trials have taught better
     * (about 50 ms, before the workers start). */
    s->calibrated_gflops = sched_calibrate_sgemm(0.05);

    if (sched_loop_init(s) != 0) {
        set_err(err, MLPT_ENOMEM, "scheduler: cannot initialise the event loop");
        destroy(s);
        return NULL;
    }
    /* The executor's threads wait for jobs; their messages wake the loop. */
    sched_exec_local_config_t xc = {.data_dir = s->data_dir,
                                    .workers = cfg->workers,
                                    .checkpoint_every = cfg->checkpoint_every,
                                    .checkpoint_seconds = cfg->checkpoint_seconds,
                                    .post = sched_post,
                                    .post_user = s,
                                    .log = cfg->log,
                                    .log_user = cfg->log_user};
#ifdef MLPT_HAVE_MPI
    s->exec = cfg->mpi ? sched_exec_mpi_new(&xc) : sched_exec_local_new(&xc);
#else
    s->exec = cfg->mpi ? NULL : sched_exec_local_new(&xc);
#endif
    if (!s->exec) {
        set_err(err, MLPT_ENOMEM, "scheduler: cannot start the workers");
        sched_loop_close(s);
        destroy(s);
        return NULL;
    }
    if (s->exec->slots < cfg->workers)
        sched_logf(s, "scheduler: only %d of %d workers could start", s->exec->slots, cfg->workers);
    s->idle_workers = s->exec->slots;
    /* Every trial splits its mini-batches into as many partitions as the pool has cores at
     * work, so idle workers can join the last trials (and a run's numbers never depend on how
     * many did). Trials record it; this is the value for new ones and for those stored before
     * it was recorded. */
    s->default_partitions =
        (size_t)(s->exec->cores < TRAINER_MAX_PARTITIONS ? s->exec->cores : TRAINER_MAX_PARTITIONS);
    if (uv_thread_create(&s->loop_thread, loop_thread_main, s) != 0) {
        set_err(err, MLPT_ENOMEM, "scheduler: cannot start the loop thread");
        sched_exec_free(s->exec);
        s->exec = NULL;
        sched_loop_close(s);
        destroy(s);
        return NULL;
    }
    pthread_mutex_lock(&s->start_lock);
    while (s->start_state == 0)
        pthread_cond_wait(&s->started, &s->start_lock);
    pthread_mutex_unlock(&s->start_lock);
    if (s->start_state < 0) {
        if (err)
            *err = s->start_err;
        uv_thread_join(&s->loop_thread);
        sched_exec_free(s->exec);
        s->exec = NULL;
        sched_loop_close(s);
        destroy(s);
        return NULL;
    }
    return s;
}

void sched_stop(sched_t *s) {
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    uv_async_send(&s->wake);
    uv_thread_join(&s->loop_thread); /* returns once every running trial has reported */
    sched_exec_free(s->exec);        /* its threads are idle: every job has ended */
    s->exec = NULL;
    sched_loop_close(s);
    destroy(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands: queued here, executed by the loop (loop.c), answered through cmd_done. */

static int submit(sched_t *s, command_t *c) {
    c->rc = MLPT_EBUSY;
    pthread_mutex_lock(&s->cmd_lock);
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->cmd_lock);
        set_err(&c->err, MLPT_EBUSY, "the service is shutting down");
        return MLPT_EBUSY;
    }
    c->next = NULL;
    if (s->cmds_tail)
        s->cmds_tail->next = c;
    else
        s->cmds = c;
    s->cmds_tail = c;
    pthread_mutex_unlock(&s->cmd_lock);
    uv_async_send(&s->wake);
    pthread_mutex_lock(&s->cmd_lock);
    while (!c->done)
        pthread_cond_wait(&s->cmd_done, &s->cmd_lock);
    pthread_mutex_unlock(&s->cmd_lock);
    return c->rc;
}

static int run_command(sched_t *s, command_t *c, store_error_t *err) {
    int rc = submit(s, c);
    if (err)
        *err = c->err;
    return rc;
}

int sched_dataset_create(sched_t *s, const store_dataset_new_t *d, int64_t *id,
                         store_error_t *err) {
    command_t c = {.type = CMD_DATASET_CREATE, .dataset = d};
    int rc = run_command(s, &c, err);
    if (rc == 0)
        *id = c.id;
    return rc;
}

int sched_dataset_delete(sched_t *s, int64_t id, store_error_t *err) {
    command_t c = {.type = CMD_DATASET_DELETE, .id = id};
    return run_command(s, &c, err);
}

int sched_sweep_create(sched_t *s, const sched_sweep_request_t *req, int64_t *sweep_id,
                       store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_CREATE, .sweep = req};
    int rc = run_command(s, &c, err);
    if (rc == 0)
        *sweep_id = c.id;
    return rc;
}

int sched_sweep_cancel(sched_t *s, int64_t sweep_id, store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_CANCEL, .id = sweep_id};
    return run_command(s, &c, err);
}

int sched_sweep_delete(sched_t *s, int64_t sweep_id, store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_DELETE, .id = sweep_id};
    return run_command(s, &c, err);
}

int sched_sweep_add_trials(sched_t *s, int64_t sweep_id, const sched_params_t *params, size_t n,
                           int64_t *ids, store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_ADD, .id = sweep_id, .params = params, .n = n, .ids = ids};
    return run_command(s, &c, err);
}

int sched_sweep_retry(sched_t *s, int64_t sweep_id, int64_t **ids, size_t *n, store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_RETRY, .id = sweep_id};
    int rc = run_command(s, &c, err);
    *ids = rc == 0 ? c.requeued : NULL;
    *n = rc == 0 ? c.n : 0;
    if (rc != 0)
        free(c.requeued);
    return rc;
}

int sched_sweep_extend(sched_t *s, int64_t sweep_id, const sched_sweep_extend_t *x,
                       store_error_t *err) {
    command_t c = {.type = CMD_SWEEP_EXTEND, .id = sweep_id, .extend = x};
    return run_command(s, &c, err);
}

void sched_set_listener(sched_t *s, sched_event_fn fn, void *user) {
    /* Through the loop, which is the only reader of the listener. */
    command_t c = {.type = CMD_SET_LISTENER, .listener = fn, .listener_user = user};
    submit(s, &c);
}

void sched_stats(const sched_t *s, sched_stats_t *out) {
    sched_t *m = (sched_t *)s; /* atomics only */
    out->queued_trials = atomic_load(&m->n_queued);
    out->running_trials = atomic_load(&m->n_running);
    out->iterations_trained = atomic_load(&m->n_iterations);
    out->samples_trained = atomic_load(&m->n_samples);
    out->trials_finished = atomic_load(&m->n_finished);
    out->workers = s->exec->slots;
    out->mpi_ranks = s->exec->n_ranks;
    out->group_ranks = s->exec->group_ranks > 1 ? s->exec->group_ranks : 1;
#ifdef MLPT_HAVE_MPI
    if (s->exec->n_ranks) {
        sched_mpi_counters_t c;
        sched_mpi_counters(&c);
        out->mpi_messages_sent = c.messages_sent;
        out->mpi_messages_received = c.messages_received;
        out->mpi_bytes_sent = c.bytes_sent;
        out->mpi_bytes_received = c.bytes_received;
    }
#endif
}

void sched_health(const sched_t *s, sched_health_t *out) {
    sched_t *m = (sched_t *)s; /* atomics only */
    out->db_error = atomic_load(&m->db_error);
    out->unsaved = atomic_load(&m->n_unsaved);
    out->db_lost = atomic_load(&m->db_lost);
}
