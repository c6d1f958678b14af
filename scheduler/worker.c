/*
 * worker.c - one job trained on the calling thread: load its datasets, build the model, resume
 * or start the run, check recomputed rows, post each iteration, checkpoint and the end. It
 * touches only its job, the shared read-only datasets and the channel back (worker.h).
 */
#define _DEFAULT_SOURCE /* syscall(SYS_gettid): a per-thread nice value (Linux) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdarg.h>
#include <time.h>

#include "mlpt_err.h"
#include "params.h"
#include "worker.h"

#define logf_(env, ...) sched_exec_logf((env)->log, (env)->log_user, __VA_ARGS__)

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct run_ctx {
    const sched_worker_env_t *env;
    const sched_exec_job_t *job;
    sched_worker_stop_t *stop;
    size_t n_train;
    double last_val_accuracy;
    double best_val_accuracy; /* so far, NaN before any validation */
    size_t best_iteration;
    const trainer_dataset_t *test; /* view of the test set in the training classes, or NULL */
    const size_t *test_rows;       /* or rows of the training dataset (its test subjects) */
    size_t n_test_rows;
    const store_metric_t *stored; /* the trial's rows: iterations 1 .. n_stored */
    size_t n_stored;
    size_t reported;           /* the last iteration whose figures are in best_* / last_* */
    char mismatch[256];        /* set when a recomputed iteration differs from its stored row */
    unsigned char *final_ckpt; /* the run's state at its end on a whole iteration, or NULL */
    size_t final_len, final_iteration;
} run_ctx_t;

/* The trial of this job whose last iteration `it` is, if any (a follower's end). */
static const sched_exec_follower_t *follower_ending_at(const sched_exec_job_t *job, size_t it) {
    for (size_t i = 0; i < job->n_followers; i++)
        if (job->followers[i].iterations == it)
            return &job->followers[i];
    return NULL;
}

/* Moves a report's model or checkpoint bytes to their file, here on the worker rather than on
 * the loop thread (a model can be a gigabyte): the loop then only records the path. When the
 * file cannot be written the bytes stay in the report, and the loop's save tries again (and
 * tells a full disk, retried, from a file that can never be written, which fails the trial). */
static void bytes_to_file(const sched_worker_env_t *env, store_file_kind_t kind, int64_t trial_id,
                          sched_msg_t *r) {
    store_error_t err;
    if (!r->model || !env->data_dir) /* an MPI rank: the bytes travel to rank 0 */
        return;
    if (store_file_write(env->data_dir, kind, trial_id, r->model, r->model_len, &r->model_path,
                         &err) != 0) {
        logf_(env, "trial %lld: %s; the scheduler tries again", (long long)trial_id, err.message);
        return;
    }
    free(r->model);
    r->model = NULL;
    r->model_len = 0;
}

/* A follower ends at this iteration: its outcome is the run's so far, its model this one. */
static void fill_follower(run_ctx_t *ctx, const sched_exec_follower_t *f,
                          const trainer_model_t *model, sched_msg_t *r) {
    r->follower_id = f->trial_id;
    r->follower_best_val = ctx->best_val_accuracy;
    r->follower_best_iteration = (int64_t)ctx->best_iteration;
    r->follower_test_accuracy = NAN;
    if (ctx->test) {
        double loss;
        trainer_evaluate(model, ctx->test, ctx->test_rows, ctx->n_test_rows, &loss,
                         &r->follower_test_accuracy);
    }
    if (trainer_model_save(model, &r->model, &r->model_len) != 0) {
        r->model = NULL; /* recorded without a model; the figures stand */
        r->model_len = 0;
    }
    bytes_to_file(ctx->env, STORE_FILE_MODEL, f->trial_id, r);
}

/* Non-finite figures are stored as NULL and read back as NaN; finite ones must be the same bits
 * (0.0 and -0.0 aside: SQLite may store an integral real as an integer). */
static int same_figure(double stored, double now) {
    if (!isfinite(now))
        return isnan(stored);
    return memcmp(&stored, &now, sizeof now) == 0 || (stored == 0.0 && now == 0.0);
}

/* An iteration the trial already has a row for, recomputed after a restart: training is
 * deterministic, so it must come out the same (seconds aside). Returns 0, or -1 with
 * ctx->mismatch saying what differs. */
static int check_stored(run_ctx_t *ctx, const trainer_epoch_t *e) {
    const store_metric_t *m = &ctx->stored[e->iteration - 1];
    if (m->iteration != (int64_t)e->iteration) {
        snprintf(ctx->mismatch, sizeof ctx->mismatch,
                 "iteration %zu is missing from the stored history", e->iteration);
        return -1;
    }
    const struct {
        const char *name;
        double stored, now;
    } f[] = {{"train_loss", m->train_loss, e->train_loss},
             {"train_accuracy", m->train_accuracy, e->train_accuracy},
             {"val_loss", m->val_loss, e->val_loss},
             {"val_accuracy", m->val_accuracy, e->val_accuracy}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!same_figure(f[i].stored, f[i].now)) {
            snprintf(ctx->mismatch, sizeof ctx->mismatch,
                     "resumed training does not reproduce the stored history: iteration %zu "
                     "%s is %.17g, stored %.17g (the stored rows are kept)",
                     e->iteration, f[i].name, f[i].now, f[i].stored);
            return -1;
        }
    return 0;
}

/* Adds rows[0 .. n) to the run's figures: best validation accuracy (the first on ties), its
 * iteration, and the last validation accuracy. */
static void figures_from_rows(run_ctx_t *ctx, const store_metric_t *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = rows[i].val_accuracy;
        if (isfinite(v) && (isnan(ctx->best_val_accuracy) || v > ctx->best_val_accuracy)) {
            ctx->best_val_accuracy = v;
            ctx->best_iteration = (size_t)rows[i].iteration;
        }
        ctx->last_val_accuracy = v;
        ctx->reported = (size_t)rows[i].iteration;
    }
}

static int on_epoch(const trainer_epoch_t *e, void *user) {
    run_ctx_t *ctx = user;
    if (e->iteration <= ctx->n_stored && check_stored(ctx, e) != 0)
        return 1; /* stop: the trial fails with ctx->mismatch, its rows untouched */
    if (isfinite(e->val_accuracy) &&
        (isnan(ctx->best_val_accuracy) || e->val_accuracy > ctx->best_val_accuracy)) {
        ctx->best_val_accuracy = e->val_accuracy;
        ctx->best_iteration = e->iteration;
    }
    /* A recomputed iteration is reported too: the loop writes no row for it (nor an event), but
     * a follower whose last iteration it is still ends there. */
    sched_msg_t *r = calloc(1, sizeof *r);
    if (r) { /* without memory the row is lost but training goes on; the end is still reported */
        r->type = SCHED_MSG_ITERATION;
        r->tag = ctx->job->tag;
        r->samples = ctx->n_train;
        r->metric = (store_metric_t){.trial_id = ctx->job->trial_id,
                                     .iteration = (int64_t)e->iteration,
                                     .train_loss = e->train_loss,
                                     .train_accuracy = e->train_accuracy,
                                     .val_loss = e->val_loss,
                                     .val_accuracy = e->val_accuracy,
                                     .seconds = e->seconds,
                                     .ended_at = now_seconds()};
        const sched_exec_follower_t *f = follower_ending_at(ctx->job, e->iteration);
        if (f && isfinite(e->train_loss))
            fill_follower(ctx, f, e->model, r);
        ctx->env->post(ctx->env->post_user, r);
    }
    ctx->last_val_accuracy = e->val_accuracy;
    ctx->reported = e->iteration;
    /* Pruned or stopped early: the run ends on this whole iteration (its model is kept). */
    return atomic_load(&ctx->stop->soft) != SCHED_STOP_NONE;
}

/* A checkpoint goes to the loop, which stores it once the rows it covers have committed; one
 * taken because the trial was canceled, pruned or failed its check is of no use. */
static void on_checkpoint(const trainer_checkpoint_t *c, void *user) {
    run_ctx_t *ctx = user;
    if (c->final) { /* kept with the end, so the trial can go on later (an extend) */
        free(ctx->final_ckpt);
        ctx->final_ckpt = ctx->mismatch[0] ? NULL : c->bytes;
        ctx->final_len = c->len;
        ctx->final_iteration = c->iteration;
        if (ctx->mismatch[0])
            free(c->bytes);
        return;
    }
    sched_msg_t *r = atomic_load(&ctx->stop->hard) == SCHED_STOP_CANCEL ||
                             atomic_load(&ctx->stop->soft) != SCHED_STOP_NONE || ctx->mismatch[0]
                         ? NULL
                         : calloc(1, sizeof *r);
    if (!r) {
        free(c->bytes);
        return;
    }
    r->type = SCHED_MSG_CHECKPOINT;
    r->tag = ctx->job->tag;
    r->model = c->bytes;
    r->model_len = c->len;
    r->checkpoint_iteration = c->iteration;
    bytes_to_file(ctx->env, STORE_FILE_CHECKPOINT, ctx->job->trial_id, r);
    ctx->env->post(ctx->env->post_user, r);
}

/* Trains with a run other workers may join while it lasts. */
static int train_shared(const sched_worker_env_t *env, trainer_run_t *run, run_ctx_t *ctx,
                        trainer_result_t *res) {
    env->share(env->share_user, ctx->job, run);
    int rc = trainer_run_go(run, on_epoch, on_checkpoint, ctx, res);
    env->unshare(env->share_user, ctx->job);
    return rc;
}

/* A view of `test` whose labels are renumbered into `train`'s classes (matched by name,
 * trainer_dataset_view_classes); it borrows test's matrix. Returns 0, or -1 with msg set when the
 * feature counts differ or a test class with rows is unknown. */
static int test_view(const trainer_dataset_t *train, const trainer_dataset_t *test,
                     trainer_dataset_t *view, int32_t **labels, char *msg, size_t msg_len) {
    size_t unknown = 0;
    int rc = trainer_dataset_view_classes(test, train, view, labels, &unknown);
    if (rc == MLPT_EINVAL)
        snprintf(msg, msg_len, "the test dataset has %zu features, the training dataset %zu",
                 test->features, train->features);
    else if (rc == MLPT_EFORMAT)
        snprintf(msg, msg_len, "the test dataset's class \"%s\" is not in the training data",
                 test->class_names[unknown]);
    else if (rc)
        snprintf(msg, msg_len, "out of memory");
    return rc ? -1 : 0;
}

void sched_worker_train(const sched_worker_env_t *env, const sched_exec_job_t *job,
                        sched_worker_stop_t *stop) {
    sched_worker_train_rank(env, job, stop, NULL);
}

void sched_worker_train_rank(const sched_worker_env_t *env, const sched_exec_job_t *job,
                             sched_worker_stop_t *stop, const trainer_sync_t *sync) {
    sched_msg_t *done = calloc(1, sizeof *done);
    trainer_split_t split = {0};
    trainer_model_t *model = NULL;
    trainer_run_t *run = NULL;
    const trainer_dataset_t *ds = NULL, *test = NULL;
    int32_t *test_labels = NULL;
    if (!done)
        return; /* cannot even report: the trial stays running and is re-queued at restart */
    done->type = SCHED_MSG_END;
    done->tag = job->tag;
    done->best_val_accuracy = done->final_val_accuracy = done->test_accuracy = NAN;
    done->rc = MLPT_EIO;
    size_t ranks = job->ranks > 1 ? job->ranks : 1;
    if (ranks > 1 && (!sync || (size_t)sync->ranks != ranks || sync->every != job->sync_every)) {
        done->rc = MLPT_EINVAL;
        snprintf(done->error, sizeof done->error,
                 "this trial trains across %zu ranks; this service runs %s", ranks,
                 sync ? "it on another count" : "one process (mlptune serve --mpi)");
        goto out;
    }

    ds = dscache_acquire(env->cache, job->dataset.id, job->dataset.path, done->error,
                         sizeof done->error);
    if (!ds)
        goto out;
    if (job->test.id) {
        test = dscache_acquire(env->cache, job->test.id, job->test.path, done->error,
                               sizeof done->error);
        if (!test)
            goto out;
    }
    done->rc = MLPT_EINVAL;
    if (ds->classes < 2) {
        snprintf(done->error, sizeof done->error, "the dataset has a single class");
        goto out;
    }
    trainer_arch_t arch;
    sched_params_arch(&job->params, ds->features, ds->classes, &arch);
    done->rc = MLPT_ENOMEM;
    int split_rc = sched_params_split(&job->params, ds, &split, done->error, sizeof done->error);
    if (split_rc == MLPT_EINVAL) {
        done->rc = MLPT_EINVAL;
        goto out;
    }
    if (split_rc != 0 ||
        !(model = trainer_model_new_init(&arch, job->params.seed, job->params.init))) {
        snprintf(done->error, sizeof done->error, "out of memory building the model");
        goto out;
    }
    trainer_dataset_t view;
    if (test && test_view(ds, test, &view, &test_labels, done->error, sizeof done->error) != 0) {
        done->rc = MLPT_EINVAL;
        goto out;
    }
    static const store_resume_t none = {0};
    const store_resume_t *from = job->resume ? job->resume : &none;
    trainer_options_t opt = {.stop = &stop->hard,
                             .partitions = job->partitions,
                             .checkpoint_every = (size_t)env->checkpoint_every,
                             .checkpoint_seconds = env->checkpoint_seconds,
                             .final_checkpoint = env->data_dir != NULL};
    sched_params_trainer_options(&job->params, &opt);
    /* at its gate it pauses like a run stopped there, its state kept (executor.h) */
    opt.pause_at = job->pause_at < job->params.iterations ? job->pause_at : 0;
    opt.sync = ranks > 1 ? sync : NULL;
    if (from->state) /* resume with the partitions it was trained with */
        opt.partitions = trainer_checkpoint_partitions(from->state, from->len);
    run_ctx_t ctx = {.env = env,
                     .job = job,
                     .stop = stop,
                     .n_train = split.n_train,
                     .last_val_accuracy = NAN,
                     .best_val_accuracy = NAN,
                     .test = test           ? &view
                             : split.n_test ? ds
                                            : NULL,
                     .test_rows = !test && split.n_test ? split.test : NULL,
                     .n_test_rows = !test ? split.n_test : 0,
                     .stored = job->stored,
                     .n_stored = job->n_stored};
    /* The figures of the history before the resume point (the loop checked that the stored rows
     * reach it); the recomputed and new iterations add theirs as an uninterrupted run would. */
    if (from->state)
        figures_from_rows(&ctx, job->stored, (size_t)from->iteration);
    trainer_result_t res;
    size_t kept = 0;
    done->rc = trainer_run_new(model, ds, &split, &opt, &run);
    if (done->rc == 0 && from->state &&
        ((done->rc = trainer_run_resume(run, from->state, from->len, &kept)) != 0 ||
         kept != (size_t)from->iteration)) {
        snprintf(done->error, sizeof done->error,
                 "the checkpoint of iteration %lld cannot be used (%s)", (long long)from->iteration,
                 done->rc ? mlpt_strerror(done->rc) : "it covers another iteration");
        done->rc = MLPT_EFORMAT;
        goto out;
    }
    if (done->rc == 0)
        done->rc = train_shared(env, run, &ctx, &res);
    if (ctx.mismatch[0]) { /* failed, with the figures of the rows it keeps */
        ctx.best_val_accuracy = ctx.last_val_accuracy = NAN;
        ctx.best_iteration = 0;
        figures_from_rows(&ctx, job->stored, job->n_stored);
        done->best_val_accuracy = ctx.best_val_accuracy;
        done->best_iteration = (int64_t)ctx.best_iteration;
        done->final_val_accuracy = ctx.last_val_accuracy;
        done->rc = MLPT_ESTATE;
        snprintf(done->error, sizeof done->error, "%s", ctx.mismatch);
        goto out;
    }
    if (done->rc == 0 || done->rc == MLPT_ESTOPPED || done->rc == MLPT_EDIVERGED) {
        /* Stopped (canceled) before it had recomputed every stored row: its figures still cover
         * them all, as its history does. */
        if (ctx.reported < job->n_stored)
            figures_from_rows(&ctx, job->stored + ctx.reported, job->n_stored - ctx.reported);
        done->best_val_accuracy = ctx.best_val_accuracy;
        done->best_iteration = (int64_t)ctx.best_iteration;
        done->final_val_accuracy = ctx.last_val_accuracy;
    } else {
        snprintf(done->error, sizeof done->error, "training failed: %s", mlpt_strerror(done->rc));
        goto out;
    }
    /* A run a strategy stopped ended on a whole iteration: it keeps that model, like a run
     * that ran every iteration. */
    int paused = done->rc == MLPT_ESTOPPED && opt.pause_at && ctx.reported == opt.pause_at &&
                 atomic_load(&stop->hard) == SCHED_STOP_NONE;
    int whole = done->rc == 0 ||
                (done->rc == MLPT_ESTOPPED && atomic_load(&stop->hard) == SCHED_STOP_NONE &&
                 (atomic_load(&stop->soft) != SCHED_STOP_NONE || paused));
    done->paused = paused && atomic_load(&stop->soft) == SCHED_STOP_NONE;
    if (whole && test) {
        double loss;
        trainer_evaluate(model, &view, NULL, 0, &loss, &done->test_accuracy);
    } else if (whole && split.n_test) {
        double loss;
        trainer_evaluate(model, ds, split.test, split.n_test, &loss, &done->test_accuracy);
    }
    if (whole && trainer_model_save(model, &done->model, &done->model_len) != 0) {
        done->rc = MLPT_ENOMEM;
        snprintf(done->error, sizeof done->error, "out of memory saving the model");
        whole = 0;
    }
    if (whole)
        bytes_to_file(env, STORE_FILE_MODEL, job->trial_id, done);
    /* its state at the end, so that it can be continued to more iterations: a file the end's
     * row names (none when it cannot be written: an extend then recomputes from the start) */
    if (whole && ctx.final_ckpt) {
        store_error_t err;
        if (store_file_write(env->data_dir, STORE_FILE_CHECKPOINT, job->trial_id, ctx.final_ckpt,
                             ctx.final_len, &done->final_checkpoint_path, &err) == 0)
            done->final_checkpoint_iteration = ctx.final_iteration;
        else
            logf_(env, "trial %lld: its final checkpoint is not kept: %s", (long long)job->trial_id,
                  err.message);
    }
    free(ctx.final_ckpt);
    ctx.final_ckpt = NULL;
out:
    trainer_run_free(run); /* waits for its helpers to leave */
    free(test_labels);
    trainer_model_free(model);
    trainer_split_deinit(&split);
    if (test)
        dscache_release(env->cache, job->test.id);
    if (ds)
        dscache_release(env->cache, job->dataset.id);
    env->post(env->post_user, done);
}

/* Training is batch work: it yields the cores to the loop thread (which saves rows and sends
 * events) and to the HTTP threads whenever they have something to do. Linux applies a nice
 * value to the calling thread only; elsewhere this is a no-op. */
void sched_worker_lower_priority(const sched_worker_env_t *env) {
#ifdef SYS_gettid
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SCHED_WORKER_NICE) != 0)
        logf_(env, "scheduler: cannot lower a worker's priority: %s", strerror(errno));
#else
    (void)env;
#endif
}
