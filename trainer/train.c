/*
 * train.c - the owner's loop: shuffle, split each mini-batch into phases (team.c), validate
 * (inline, or overlapped on a helper; rows.c), report, checkpoint (checkpoint.c). No allocation
 * happens inside an iteration: every buffer is made by trainer_run_new (checkpoints allocate
 * their bytes, every few iterations).
 *
 * trainer_run_go, step by step: run_iteration shuffles (shuffle_order), trains the pass
 * (train_pass: train_batch per mini-batch, reporting the pending iteration as soon as a helper
 * has validated it), then the iteration's checkpoint (periodic_checkpoint) and its report
 * (report_iteration: validated inline, or left pending for a helper); end_go reports what is
 * pending, checkpoints a stop and fills the result.
 */
#include "train.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"
#include "optim.h"
#include "rng.h"
#include "train_private.h"

#define EVAL_ROWS 256 /* rows per forward pass when measuring */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int trainer_options_check(const trainer_options_t *opt) {
    if (!opt || !(opt->learning_rate > 0.0f) || !isfinite(opt->learning_rate))
        return MLPT_EINVAL;
    if (!(opt->momentum >= 0.0f && opt->momentum < 1.0f))
        return MLPT_EINVAL;
    if (opt->batch_size < 1 || opt->iterations < 1 || opt->pause_at >= opt->iterations)
        return MLPT_EINVAL;
    if (opt->batch_size > TRAINER_MAX_BATCH || opt->iterations > TRAINER_MAX_ITERATIONS ||
        opt->partitions > TRAINER_MAX_PARTITIONS)
        return MLPT_ELIMIT;
    const trainer_sync_t *y = opt->sync;
    if (y && y->ranks > TRAINER_MAX_RANKS)
        return MLPT_ELIMIT;
    if (y && (y->ranks < 1 || y->rank < 0 || y->rank >= y->ranks ||
              (y->ranks > 1 && (y->every < 1 || !y->average))))
        return MLPT_EINVAL;
    if (!(opt->dropout_input >= 0.0f && opt->dropout_input < 1.0f) ||
        !(opt->dropout_hidden >= 0.0f && opt->dropout_hidden < 1.0f))
        return MLPT_EINVAL;
    return trainer_optim_check(opt);
}

static int fits(const trainer_model_t *m, const trainer_dataset_t *ds) {
    return ds && ds->rows > 0 && ds->features == m->arch.inputs && ds->classes <= m->arch.outputs;
}

int trainer_evaluate(const trainer_model_t *m, const trainer_dataset_t *ds, const size_t *idx,
                     size_t n, double *loss, double *accuracy) {
    if (!fits(m, ds))
        return MLPT_EINVAL;
    if (!idx)
        n = ds->rows;
    if (n == 0)
        return MLPT_EINVAL;
    int rc = MLPT_ENOMEM;
    trainer_scratch_t *s = trainer_scratch_new(&m->arch, EVAL_ROWS);
    int32_t *labels = malloc(EVAL_ROWS * sizeof *labels);
    size_t *tmp = malloc(EVAL_ROWS * sizeof *tmp);
    if (s && labels && tmp) {
        measure_rows(m, s, EVAL_ROWS, labels, tmp, ds, idx, n, loss, accuracy);
        rc = 0;
    }
    trainer_scratch_free(s);
    free(labels);
    free(tmp);
    return rc;
}

int trainer_run_new(trainer_model_t *m, const trainer_dataset_t *ds, const trainer_split_t *split,
                    const trainer_options_t *opt, trainer_run_t **out) {
    *out = NULL;
    if (trainer_options_check(opt) != 0 || !fits(m, ds) || !split || split->n_train == 0)
        return MLPT_EINVAL;
    trainer_sync_t sync = opt->sync ? *opt->sync : (trainer_sync_t){.rank = 0, .ranks = 1};
    if (split->n_train < (size_t)sync.ranks)
        return MLPT_EINVAL;
    trainer_run_t *r = calloc(1, sizeof *r);
    if (!r)
        return MLPT_ENOMEM;
    r->m = m;
    r->ds = ds;
    r->split = split;
    r->opt = *opt;
    r->opt.sync = NULL; /* the copy below is the run's */
    r->sync = sync;
    /* Equal shares: the n_train mod ranks rows last in a pass's order sit it out. */
    r->share_n = split->n_train / (size_t)sync.ranks;
    r->share_off = (size_t)sync.rank * r->share_n;
    r->parts = opt->partitions ? opt->partitions : 1;
    r->rows_cap = opt->batch_size > EVAL_ROWS ? opt->batch_size : EVAL_ROWS;
    atomic_init(&r->val_state, VAL_NONE);
    atomic_init(&r->claim, 0);
    atomic_init(&r->done, 0);
    atomic_init(&r->helpers, 0);
    atomic_init(&r->closed, 0);
    atomic_init(&r->helper_tasks, 0);
    atomic_init(&r->overlapped, 0);
    int rc = trainer_scaler_fit_as(ds, opt->rescale ? opt->scaling : ds->scaling, split->train,
                                   split->n_train, m->input_shift, m->input_scale);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->identity = run_scaling_is_identity(m);
    r->s = trainer_scratch_new(&m->arch, r->rows_cap);
    r->labels = malloc(r->rows_cap * sizeof *r->labels);
    r->order = malloc(split->n_train * sizeof *r->order);
    r->part_loss = calloc(r->parts, sizeof *r->part_loss);
    r->part_correct = calloc(r->parts, sizeof *r->part_correct);
    int want_v, want_s, want_g;
    trainer_optim_buffers(opt, &want_v, &want_s, &want_g);
    r->velocity = want_v ? calloc(m->n_params, sizeof(float)) : NULL;
    r->second = want_s ? calloc(m->n_params, sizeof(float)) : NULL;
    r->grad = want_g ? calloc(m->n_params, sizeof(float)) : NULL;
    r->ostate = (trainer_optim_state_t){r->velocity, r->second, r->grad};
    int dropout = opt->dropout_input > 0.0f || opt->dropout_hidden > 0.0f;
    if (dropout)
        r->drop = trainer_dropout_new(&m->arch, opt->batch_size, opt->dropout_input,
                                      opt->dropout_hidden, opt->seed);
    int ok = r->s && r->labels && r->order && r->part_loss && r->part_correct &&
             (!want_v || r->velocity) && (!want_s || r->second) && (!want_g || r->grad) &&
             (!dropout || r->drop);
    /* A helper may validate a copy; not across ranks, where reports stay in step. */
    if (ok && r->parts > 1 && split->n_val > 0 && sync.ranks == 1) {
        r->snapshot = trainer_model_clone(m);
        r->vs = trainer_scratch_new(&m->arch, r->rows_cap);
        r->vlabels = malloc(r->rows_cap * sizeof *r->vlabels);
        ok = r->snapshot && r->vs && r->vlabels;
    }
    if (!ok) {
        trainer_run_free(r);
        return MLPT_ENOMEM;
    }
    r->pos.iteration = 1;
    trainer_rng_seed(&r->pos.rng, opt->seed, TRAINER_RNG_SHUFFLE);
    *out = r;
    return 0;
}

int trainer_run_resume(trainer_run_t *r, const void *bytes, size_t len, size_t *iteration) {
    run_position_t pos;
    int rc = run_checkpoint_load(r, bytes, len, &pos);
    if (rc != 0)
        return rc;
    r->pos = pos;
    r->resumed = 1;
    if (iteration)
        *iteration = pos.iteration - 1;
    return 0;
}

void trainer_run_free(trainer_run_t *r) {
    if (!r)
        return;
    atomic_store_explicit(&r->closed, 1, memory_order_release);
    while (atomic_load(&r->helpers) > 0)
        sched_yield();
    trainer_scratch_free(r->s);
    trainer_scratch_free(r->vs);
    trainer_model_free(r->snapshot);
    free(r->labels);
    free(r->vlabels);
    free(r->order);
    free(r->velocity);
    trainer_dropout_free(r->drop);
    free(r->second);
    free(r->grad);
    free(r->part_loss);
    free(r->part_correct);
    free(r);
}

/* An iteration whose report waits for its validation (running on a helper). */
typedef struct pending {
    int active;
    trainer_epoch_t ep;
    unsigned char *ckpt; /* its checkpoint, handed on after the report, or NULL */
    size_t ckpt_len;
} pending_t;

typedef struct sink {
    trainer_epoch_fn on_epoch;
    trainer_checkpoint_fn on_ckpt;
    void *user;
    trainer_result_t *res;
} sink_t;

/* Reports one iteration (then its checkpoint). Returns non-zero when the callback says stop. */
static int emit(sink_t *k, trainer_epoch_t *ep, const trainer_model_t *model, unsigned char *ckpt,
                size_t ckpt_len) {
    trainer_result_t *res = k->res;
    if (isfinite(ep->val_accuracy) &&
        (isnan(res->best_val_accuracy) || ep->val_accuracy > res->best_val_accuracy)) {
        res->best_val_accuracy = ep->val_accuracy;
        res->best_iteration = ep->iteration;
    }
    ep->model = model;
    res->iterations_done = ep->iteration;
    int stop = k->on_epoch ? k->on_epoch(ep, k->user) : 0;
    if (ckpt) {
        trainer_checkpoint_t c = {.iteration = ep->iteration, .bytes = ckpt, .len = ckpt_len};
        if (k->on_ckpt)
            k->on_ckpt(&c, k->user);
        else
            free(ckpt);
    }
    return stop;
}

/* Completes the pending iteration: validates its weights here unless a helper took them (then
 * waits for it) and reports it. Returns the callback's stop. */
static int finish_pending(trainer_run_t *r, pending_t *p, sink_t *k) {
    int want = VAL_PENDING;
    if (atomic_compare_exchange_strong(&r->val_state, &want, VAL_TAKEN)) {
        double t = now_seconds();
        measure_rows(r->snapshot, r->vs, r->rows_cap, r->vlabels, NULL, r->ds, r->split->val,
                     r->split->n_val, &r->val_loss, &r->val_accuracy);
        p->ep.seconds += now_seconds() - t;
    } else {
        while (atomic_load_explicit(&r->val_state, memory_order_acquire) != VAL_DONE)
            sched_yield();
    }
    p->ep.val_loss = r->val_loss;
    p->ep.val_accuracy = r->val_accuracy;
    atomic_store(&r->val_state, VAL_NONE);
    p->active = 0;
    return emit(k, &p->ep, r->snapshot, p->ckpt, p->ckpt_len);
}

/* Hands the checkpoint callback the state at *pos (covering `reported` iterations). */
static void checkpoint_now(trainer_run_t *r, sink_t *k, const run_position_t *pos, size_t reported,
                           int final) {
    trainer_checkpoint_t c = {.iteration = reported, .final = final};
    if (k->on_ckpt && run_checkpoint_save(r, pos, &c.bytes, &c.len) == 0)
        k->on_ckpt(&c, k->user);
}

/* trainer_run_go's state across its steps. */
typedef struct go {
    trainer_run_t *r;
    sink_t k;
    pending_t pend;
    trainer_result_t res;
    double t_start;
    double last_ckpt; /* when the last periodic checkpoint was taken (or the run started) */
    size_t samples;   /* training rows processed by this call */
    int stop_cb;      /* a pending report's callback asked to stop */
    int sync_rc;      /* the sync callback's failure, when it failed */
} go_t;

typedef enum { PASS_DONE, PASS_DIVERGED, PASS_STOPPED, PASS_FAILED } pass_end_t;

/* v[0 .. n) = its mean over the ranks (the sync callback, timed). */
static int average(go_t *g, float *v, size_t n) {
    trainer_run_t *r = g->r;
    double t = now_seconds();
    int rc = r->sync.average(r->sync.user, v, n);
    g->res.average_seconds += now_seconds() - t;
    if (rc != 0)
        g->sync_rc = rc < 0 ? rc : MLPT_EIO;
    return rc;
}

/* An averaging of the ranks (ranks > 1), after the batch that ends a stretch of sync.every
 * mini-batches or the pass (`last`). First the ranks vote: any rank's stop flag stops them all
 * (PASS_STOPPED), any rank's diverged loss ends them all (PASS_DIVERGED), and at a pass's end
 * the vote carries each rank's train loss and accuracy, whose means (r->vote[2], [3]) are the
 * iteration's. Then the weights, and at a pass's end the velocity, become the ranks' means. */
static pass_end_t sync_point(go_t *g, int diverged, int last) {
    trainer_run_t *r = g->r;
    const run_position_t *pos = &r->pos;
    const trainer_options_t *opt = &r->opt;
    trainer_model_t *m = r->m;
    r->vote[0] = opt->stop && atomic_load(opt->stop) ? 1.0f : 0.0f;
    r->vote[1] = diverged ? 1.0f : 0.0f;
    r->vote[2] = last && !diverged ? (float)(pos->loss_sum / (double)pos->seen) : 0.0f;
    r->vote[3] = last ? (float)((double)pos->correct / (double)pos->seen) : 0.0f;
    if (average(g, r->vote, 4) != 0)
        return PASS_FAILED;
    if (r->vote[1] > 0.0f)
        return PASS_DIVERGED;
    if (r->vote[0] > 0.0f)
        return PASS_STOPPED;
    g->res.averagings++;
    if (average(g, m->params, m->n_params) != 0)
        return PASS_FAILED;
    if (last && r->velocity && average(g, r->velocity, m->n_params) != 0)
        return PASS_FAILED;
    if (last && r->second && average(g, r->second, m->n_params) != 0)
        return PASS_FAILED;
    return PASS_DONE;
}

/* After an iteration's report (ranks > 1): the ranks stop together when any rank's callback
 * said stop. Returns 0, MLPT_ESTOPPED or the sync callback's failure. */
static int vote_stop(go_t *g, int stop) {
    float v = stop ? 1.0f : 0.0f;
    if (average(g, &v, 1) != 0)
        return g->sync_rc;
    return v > 0.0f ? MLPT_ESTOPPED : 0;
}

/* r->order = the training rows in this iteration's order, drawn from *rng. */
static void shuffle_order(trainer_run_t *r, trainer_rng_t *rng) {
    memcpy(r->order, r->split->train, r->split->n_train * sizeof *r->order);
    trainer_rng_shuffle(rng, r->order, r->split->n_train);
}

/* Mini-batch b (n rows of r->order) through every phase: gather, forward layer by layer, loss,
 * then, unless the loss is not finite, the input gradients from the top and the update. Adds the
 * batch's loss and hits to the position. Returns non-zero when the loss is not finite (the
 * update is then not applied). */
static int train_batch(trainer_run_t *r, size_t b, size_t n) {
    trainer_model_t *m = r->m;
    run_position_t *pos = &r->pos;
    r->phase_rows = n;
    r->phase_idx = r->order + r->share_off + b * r->opt.batch_size;
    if (r->drop) { /* masks by the rows' positions in the pass's order, whichever rank trains */
        trainer_dropout_at(r->drop, pos->iteration, r->share_off + b * r->opt.batch_size);
        trainer_scratch_set_dropout(r->s, r->drop);
    }
    run_phase(r, PHASE_GATHER, r->parts);
    for (r->phase_layer = 0; r->phase_layer < m->n_layers; r->phase_layer++)
        run_phase(r, PHASE_FORWARD, r->parts);
    run_phase(r, PHASE_LOSS, r->parts);
    double batch_loss = 0.0;
    for (size_t p = 0; p < r->parts; p++) {
        batch_loss += r->part_loss[p];
        pos->correct += r->part_correct[p];
    }
    pos->loss_sum += batch_loss;
    pos->seen += n;
    if (!isfinite(batch_loss)) {
        trainer_scratch_set_dropout(r->s, NULL);
        return 1;
    }
    for (r->phase_layer = m->n_layers - 1; r->phase_layer > 0; r->phase_layer--)
        run_phase(r, PHASE_BACKWARD, r->parts);
    /* the step's rate and constants, from the position alone (schedule.c, optim.c) */
    float lr = trainer_schedule_lr(&r->opt, pos->iteration, b, run_batches(r), r->split->n_train);
    run_position_t at = *pos;
    at.batch = b;
    trainer_optim_prepare(&r->opt, lr, run_step_count(r, &at), &r->step);
    run_phase(r, PHASE_UPDATE, m->n_layers * r->parts);
    trainer_scratch_set_dropout(r->s, NULL); /* validation through r->s never drops */
    return 0;
}

/* train_pass across ranks: this rank's mini-batches, an averaging (sync_point) after every
 * sync.every of them and after the last. A rank whose loss turns non-finite trains no more (its
 * step not applied) until the averaging, where every rank hears of it. */
static pass_end_t train_pass_ranks(go_t *g, size_t batches) {
    trainer_run_t *r = g->r;
    size_t batch = r->opt.batch_size, n_rows = r->share_n, every = r->sync.every;
    int diverged = 0;
    for (size_t b = r->pos.batch; b < batches; b++) {
        if (!diverged) {
            size_t n = n_rows - b * batch < batch ? n_rows - b * batch : batch;
            diverged = train_batch(r, b, n);
            g->samples += n;
        }
        int last = b + 1 == batches;
        if ((b + 1) % every == 0 || last) {
            pass_end_t end = sync_point(g, diverged, last);
            if (end != PASS_DONE) {
                r->pos.batch = b + 1;
                return end;
            }
        }
    }
    return PASS_DONE;
}

/* Trains the mini-batches of the current iteration left from pos->batch on (started at t0).
 * Between batches: reports the pending iteration once its validation is done (a stop its
 * callback asks for restores the weights it saw: PASS_STOPPED with stop_cb set), and honours the
 * stop flag (PASS_STOPPED with the position where it stopped). PASS_DIVERGED when a batch's loss
 * was not finite, else PASS_DONE. */
static pass_end_t train_pass(go_t *g, double t0) {
    trainer_run_t *r = g->r;
    trainer_model_t *m = r->m;
    run_position_t *pos = &r->pos;
    const trainer_options_t *opt = &r->opt;
    size_t batch = opt->batch_size, n_train = r->share_n;
    size_t batches = (n_train + batch - 1) / batch;
    if (r->sync.ranks > 1)
        return train_pass_ranks(g, batches);
    for (size_t b = pos->batch; b < batches; b++) {
        if (g->pend.active && atomic_load(&r->val_state) == VAL_DONE &&
            finish_pending(r, &g->pend, &g->k)) {
            /* the callback stopped at it - 1: keep the weights it saw */
            memcpy(m->params, r->snapshot->params, m->n_params * sizeof(float));
            g->stop_cb = 1;
            return PASS_STOPPED;
        }
        if (opt->stop && atomic_load(opt->stop)) {
            pos->batch = b;
            pos->seconds += now_seconds() - t0;
            g->res.train_seconds += now_seconds() - t0;
            return PASS_STOPPED;
        }
        size_t n = n_train - b * batch < batch ? n_train - b * batch : batch;
        int diverged = train_batch(r, b, n);
        g->samples += n;
        if (diverged)
            return PASS_DIVERGED;
    }
    return PASS_DONE;
}

/* The checkpoint due after iteration it, if one is (every checkpoint_every iterations but the
 * last, once checkpoint_seconds have passed): its bytes in *ckpt, else NULL. */
static void periodic_checkpoint(go_t *g, size_t it, unsigned char **ckpt, size_t *ckpt_len) {
    trainer_run_t *r = g->r;
    const trainer_options_t *opt = &r->opt;
    *ckpt = NULL;
    *ckpt_len = 0;
    if (g->k.on_ckpt && opt->checkpoint_every && it % opt->checkpoint_every == 0 &&
        it < opt->iterations && now_seconds() - g->last_ckpt >= opt->checkpoint_seconds) {
        if (run_checkpoint_save(r, &r->pos, ckpt, ckpt_len) != 0)
            *ckpt = NULL; /* out of memory: this checkpoint is skipped, training goes on */
        g->last_ckpt = now_seconds();
    }
}

/* Reports a trained iteration and then its checkpoint: validated here, or, when a helper is
 * there to validate a snapshot of the weights while the next iteration trains, left pending.
 * Returns 0 to go on, MLPT_ESTOPPED when the callback says stop. */
static int report_iteration(go_t *g, trainer_epoch_t *ep, unsigned char *ckpt, size_t ckpt_len) {
    trainer_run_t *r = g->r;
    trainer_model_t *m = r->m;
    const trainer_split_t *split = r->split;
    if (split->n_val > 0) {
        /* not the last iteration of this call (its end is a whole iteration, checkpointed) */
        if (r->snapshot && ep->iteration < r->opt.iterations && ep->iteration != r->opt.pause_at &&
            atomic_load(&r->helpers) > 0) {
            memcpy(r->snapshot->params, m->params, m->n_params * sizeof(float));
            g->pend = (pending_t){.active = 1, .ep = *ep, .ckpt = ckpt, .ckpt_len = ckpt_len};
            atomic_store_explicit(&r->val_state, VAL_PENDING, memory_order_release);
            return 0;
        }
        double t = now_seconds();
        measure_rows(m, r->s, r->rows_cap, r->labels, NULL, r->ds, split->val, split->n_val,
                     &ep->val_loss, &ep->val_accuracy);
        ep->seconds += now_seconds() - t;
    }
    return emit(&g->k, ep, m, ckpt, ckpt_len) ? MLPT_ESTOPPED : 0;
}

/* One iteration: shuffle, train, then report the pending one and this one. Returns 0 to go on,
 * MLPT_ESTOPPED or MLPT_EDIVERGED. */
static int run_iteration(go_t *g) {
    trainer_run_t *r = g->r;
    trainer_model_t *m = r->m;
    run_position_t *pos = &r->pos;
    const size_t it = pos->iteration;
    trainer_rng_t rng = pos->rng;
    shuffle_order(r, &rng);
    double t0 = now_seconds();
    pass_end_t end = train_pass(g, t0);
    int ranks = r->sync.ranks > 1;
    if (ranks && (end == PASS_STOPPED || end == PASS_FAILED))
        g->res.train_seconds += now_seconds() - t0;
    if (end == PASS_STOPPED)
        return MLPT_ESTOPPED;
    if (end == PASS_FAILED)
        return g->sync_rc;
    double trained = now_seconds() - t0;
    g->res.train_seconds += trained;
    trainer_epoch_t ep = {.iteration = it,
                          .train_loss = pos->loss_sum / (double)pos->seen,
                          .train_accuracy = (double)pos->correct / (double)pos->seen,
                          .val_loss = NAN,
                          .val_accuracy = NAN,
                          .seconds = pos->seconds + trained};
    if (ranks) { /* the ranks' means (a diverged pass: some rank's loss was not finite) */
        ep.train_loss = end == PASS_DIVERGED ? NAN : (double)r->vote[2];
        ep.train_accuracy = (double)r->vote[3];
    }
    if (g->pend.active)
        g->stop_cb = finish_pending(r, &g->pend, &g->k);
    *pos = (run_position_t){.iteration = it + 1, .rng = rng};
    if (g->stop_cb) { /* the callback stopped at it - 1: keep the weights it saw */
        memcpy(m->params, r->snapshot->params, m->n_params * sizeof(float));
        return MLPT_ESTOPPED;
    }
    if (end == PASS_DIVERGED) {
        emit(&g->k, &ep, m, NULL, 0);
        return MLPT_EDIVERGED;
    }
    unsigned char *ckpt;
    size_t ckpt_len;
    periodic_checkpoint(g, it, &ckpt, &ckpt_len);
    int rc = report_iteration(g, &ep, ckpt, ckpt_len);
    return ranks ? vote_stop(g, rc == MLPT_ESTOPPED) : rc;
}

/* Ends trainer_run_go with rc: reports what is pending (a stop it asks for changes nothing now),
 * checkpoints a run the stop flag stopped, closes the run to helpers and fills *result. */
static int end_go(go_t *g, int rc, trainer_result_t *result) {
    trainer_run_t *r = g->r;
    const trainer_options_t *opt = &r->opt;
    if (g->pend.active)
        finish_pending(r, &g->pend, &g->k);
    /* Across ranks, the last checkpoint taken at an iteration's end stands: the ranks' states
     * part between averagings (and no final one is taken). */
    int hard = opt->stop && atomic_load(opt->stop);
    if (rc == MLPT_ESTOPPED && !g->stop_cb && hard && r->sync.ranks == 1)
        checkpoint_now(r, &g->k, &r->pos, r->pos.iteration - 1, 0);
    else if (opt->final_checkpoint && !g->stop_cb && !hard && r->sync.ranks == 1 &&
             (rc == 0 || rc == MLPT_ESTOPPED))
        /* ended on a whole iteration: the position is the next one's start, the weights and
         * velocity those of the last reported iteration (a stop asked while a snapshot was
         * being validated restored older weights, whose velocity is gone: no checkpoint) */
        checkpoint_now(r, &g->k, &r->pos, r->pos.iteration - 1, 1);
    atomic_store_explicit(&r->closed, 1, memory_order_release);
    trainer_result_t *res = &g->res;
    res->seconds = now_seconds() - g->t_start;
    res->samples_per_second =
        res->train_seconds > 0.0 ? (double)g->samples / res->train_seconds : 0.0;
    res->helper_tasks = atomic_load(&r->helper_tasks);
    res->overlapped = atomic_load(&r->overlapped);
    if (result)
        *result = *res;
    return rc;
}

int trainer_run_go(trainer_run_t *r, trainer_epoch_fn on_epoch, trainer_checkpoint_fn on_ckpt,
                   void *user, trainer_result_t *result) {
    go_t g = {.r = r, .res = {.best_val_accuracy = NAN}, .t_start = now_seconds()};
    g.k = (sink_t){on_epoch, on_ckpt, user, &g.res};
    g.last_ckpt = g.t_start;
    int rc = 0;
    size_t pause = r->opt.pause_at;
    while (rc == 0 && r->pos.iteration <= r->opt.iterations && !(pause && r->pos.iteration > pause))
        rc = run_iteration(&g);
    if (rc == 0 && pause && r->pos.iteration > pause)
        rc = MLPT_ESTOPPED; /* paused: it ends here as a stopped run does, whole */
    return end_go(&g, rc, result);
}

int trainer_train(trainer_model_t *m, const trainer_dataset_t *ds, const trainer_split_t *split,
                  const trainer_options_t *opt, trainer_epoch_fn on_epoch, void *user,
                  trainer_result_t *result) {
    trainer_run_t *r;
    int rc = trainer_run_new(m, ds, split, opt, &r);
    if (rc != 0)
        return rc;
    rc = trainer_run_go(r, on_epoch, NULL, user, result);
    trainer_run_free(r);
    return rc;
}
