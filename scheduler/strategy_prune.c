/*
 * strategy_prune.c - pruning as any strategy uses it (strategy.h): which trial leads which job,
 * the leads' rows into the sweep's pruner (pruner.h), and the stop it asks for through the
 * control. A follower's rows repeat its lead's and are not fed again: one job is one run, and
 * stopping the lead ends its followers the same way (the control does that).
 *
 * Ordered (sched_prune_new_ordered, the sampling sweeps'): ASHA and Hyperband decide in the
 * order the jobs were told (rungs.h), so the decisions are a function of the stored rows; a
 * decision that comes for a lead not running (queued after a restart) stops it at its next row.
 * Otherwise (grid) the pruner of pruner.h decides as rows arrive.
 */
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "rungs.h"
#include "strategy.h"

/* A trial of a job: the run it belongs to. */
typedef struct member {
    int64_t trial_id, lead_id;
    int64_t planned; /* the lead's iterations */
    int pending;     /* a lead stopped while its rows were replayed at a restart: its reason */
    sched_stop_reason_t pending_why;
    char note[192];      /* why, then; ordered: the rungs' note once they stop it */
    sched_es_state_t es; /* early stopping (leads) */
    int ended;           /* ordered: its end was heard of (completed: end_completed) */
    int end_completed;
    int flip;   /* ordered: ended completed, then stopped by the rungs: to be marked pruned */
    int paused; /* ordered: paused at a rung, waiting for its decision */
} member_t;

struct sched_prune {
    sched_pruner_cfg_t cfg;
    int ordered;            /* ASHA and Hyperband in the jobs' order (rungs.h) */
    int made;               /* pruner or rungs made (at the first job) */
    sched_pruner_t *pruner; /* NULL without a pruner, or with rungs */
    sched_rungs_t *rungs;   /* ordered ASHA / Hyperband, else NULL */
    sched_early_stop_t es;
    member_t *m;
    size_t n, cap;
    size_t n_paused;         /* members paused */
    sched_search_ctl_t *ctl; /* during a call that may stop runs; NULL at a restart */
};

static member_t *member_of(sched_prune_t *p, int64_t trial_id);
static void rungs_go(void *user, int64_t run, int64_t iteration);

static sched_prune_t *prune_new(const sched_pruner_cfg_t *cfg, const sched_early_stop_t *es,
                                int ordered) {
    int pruner = cfg && cfg->type != SCHED_PRUNER_NONE;
    if (!pruner && (!es || es->metric == SCHED_ES_NONE))
        return NULL;
    sched_prune_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (es)
        p->es = *es;
    if (pruner)
        p->cfg = *cfg;
    p->ordered =
        ordered && (p->cfg.type == SCHED_PRUNER_ASHA || p->cfg.type == SCHED_PRUNER_HYPERBAND);
    return p;
}

sched_prune_t *sched_prune_new(const sched_pruner_cfg_t *cfg, const sched_early_stop_t *es) {
    return prune_new(cfg, es, 0);
}

sched_prune_t *sched_prune_new_ordered(const sched_pruner_cfg_t *cfg,
                                       const sched_early_stop_t *es) {
    return prune_new(cfg, es, 1);
}

void sched_prune_longest(sched_prune_t *p, int64_t iterations) {
    if (p && !p->made && p->cfg.type == SCHED_PRUNER_HYPERBAND && !p->cfg.max_iterations)
        p->cfg.max_iterations =
            iterations > p->cfg.min_iterations ? iterations : p->cfg.min_iterations;
}

/* Makes the pruner (or the rungs) at the first job: Hyperband's brackets are known then. */
static int make(sched_prune_t *p) {
    if (p->made || p->cfg.type == SCHED_PRUNER_NONE)
        return 0;
    p->made = 1;
    if (p->cfg.type == SCHED_PRUNER_HYPERBAND && !p->cfg.max_iterations)
        p->cfg.max_iterations = p->cfg.min_iterations;
    if (p->ordered) {
        p->rungs = sched_rungs_new(&p->cfg);
        if (p->rungs)
            sched_rungs_on_go(p->rungs, rungs_go);
    } else
        p->pruner = sched_pruner_new(&p->cfg);
    return p->rungs || p->pruner ? 0 : MLPT_ENOMEM;
}

/* An ended completed lead the rungs stopped: marked pruned now (p->ctl), else at the next
 * plan (sched_prune_flush). */
static void flip(sched_prune_t *p, member_t *mb) {
    if (p->ctl && p->ctl->mark_pruned && p->ctl->mark_pruned(p->ctl, mb->trial_id, mb->note) == 0)
        mb->flip = 0;
    else
        mb->flip = !p->ctl; /* a refusal is final */
}

/* The rungs decided run stops: now when it runs (p->ctl), else at its next row; one that has
 * ended completed meanwhile is marked pruned (its decision waited for earlier runs). */
static void rungs_stop(void *user, int64_t run, int64_t iteration, const char *note) {
    sched_prune_t *p = user;
    member_t *mb = member_of(p, run);
    (void)iteration;
    if (!mb)
        return;
    snprintf(mb->note, sizeof mb->note, "%s", note);
    if (mb->ended) {
        if (mb->end_completed)
            flip(p, mb);
        return;
    }
    if (p->ctl && p->ctl->stop_note(p->ctl, run, SCHED_STOP_PRUNED, note) == 0)
        return; /* a paused one ends now too: its end clears its pause */
    mb->pending = 1;
    mb->pending_why = SCHED_STOP_PRUNED;
}

/* The rungs let run go on past a rung: a run paused there is requeued. */
static void rungs_go(void *user, int64_t run, int64_t iteration) {
    sched_prune_t *p = user;
    member_t *mb = member_of(p, run);
    (void)iteration;
    if (!mb || !mb->paused || !p->ctl || !p->ctl->proceed || p->ctl->proceed(p->ctl, run) != 0)
        return;
    mb->paused = 0;
    p->n_paused--;
}

/* Whether the lead mb stops at this row: the pruner first (recording the value), then early
 * stopping. Returns the reason (NONE to go on) with the note in note. The rungs stop through
 * rungs_stop instead (NONE here). */
static sched_stop_reason_t decide(sched_prune_t *p, member_t *mb, const store_metric_t *m,
                                  char *note, size_t note_len) {
    if (p->rungs) {
        sched_rungs_row(p->rungs, mb->lead_id, m->iteration, m->val_accuracy, rungs_stop, p);
        if (sched_rungs_stopped(p->rungs, mb->lead_id, NULL))
            return SCHED_STOP_NONE;
    }
    if (p->pruner && sched_pruner_report(p->pruner, mb->lead_id, mb->planned, m->iteration,
                                         m->val_accuracy, note, note_len) == 1)
        return SCHED_STOP_PRUNED;
    double v = p->es.metric == SCHED_ES_VAL_LOSS ? m->val_loss : m->val_accuracy;
    if (sched_early_stop_step(&p->es, &mb->es, m->iteration, v, note, note_len) == 1) {
        if (p->rungs && m->iteration < mb->planned) /* its later rows do not reach a rung */
            sched_rungs_end(p->rungs, mb->lead_id, rungs_stop, p);
        return SCHED_STOP_EARLY;
    }
    return SCHED_STOP_NONE;
}

void sched_prune_free(sched_prune_t *p) {
    if (!p)
        return;
    sched_pruner_free(p->pruner);
    sched_rungs_free(p->rungs);
    free(p->m);
    free(p);
}

static int member_add(sched_prune_t *p, int64_t trial_id, int64_t lead_id, int64_t planned) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        member_t *t = realloc(p->m, cap * sizeof *t);
        if (!t)
            return MLPT_ENOMEM;
        p->m = t;
        p->cap = cap;
    }
    p->m[p->n++] = (member_t){.trial_id = trial_id, .lead_id = lead_id, .planned = planned};
    return 0;
}

int sched_prune_job(sched_prune_t *p, const sched_strategy_trial_t *lead,
                    const sched_strategy_trial_t *followers, size_t n_followers) {
    if (!p)
        return 0;
    if (member_of(p, lead->trial_id)) /* told at a restart, queued again by plan */
        return 0;
    int64_t planned = (int64_t)lead->params.iterations;
    int rc = make(p);
    if (rc == 0 && p->rungs)
        rc = sched_rungs_add(p->rungs, lead->trial_id, planned);
    if (rc == 0)
        rc = member_add(p, lead->trial_id, lead->trial_id, planned);
    for (size_t i = 0; i < n_followers && rc == 0; i++)
        rc = member_add(p, followers[i].trial_id, lead->trial_id, planned);
    return rc;
}

void sched_prune_iteration(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                           const store_metric_t *m) {
    if (!p)
        return;
    member_t *mb = member_of(p, trial_id);
    if (!mb || mb->lead_id != trial_id)
        return;        /* a follower's row is its lead's */
    if (mb->pending) { /* decided from the stored rows at a restart, or while it was queued */
        p->ctl = ctl;
        if (p->rungs) /* the rungs still hear of the row (runs after it may wait on it) */
            sched_rungs_row(p->rungs, trial_id, m->iteration, m->val_accuracy, rungs_stop, p);
        p->ctl = NULL;
        if (mb->pending && ctl->stop_note(ctl, trial_id, mb->pending_why, mb->note) == 0)
            mb->pending = 0;
        return;
    }
    char note[192];
    p->ctl = ctl;
    sched_stop_reason_t why = decide(p, mb, m, note, sizeof note);
    p->ctl = NULL;
    if (why != SCHED_STOP_NONE && m->iteration < mb->planned) /* at its last it ends anyway */
        ctl->stop_note(ctl, trial_id, why, note);
}

void sched_prune_end(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                     const char *status) {
    if (!p || !p->rungs)
        return;
    member_t *mb = member_of(p, trial_id);
    if (!mb || mb->lead_id != trial_id)
        return;
    mb->pending = 0;
    mb->ended = 1;
    if (mb->paused) {
        mb->paused = 0;
        p->n_paused--;
    }
    mb->end_completed = status && !strcmp(status, "completed");
    p->ctl = ctl;
    /* stopped while its end was on its way: it ran to its end, completed */
    if (mb->end_completed && sched_rungs_stopped(p->rungs, trial_id, NULL))
        flip(p, mb);
    sched_rungs_end(p->rungs, trial_id, rungs_stop, p);
    p->ctl = NULL;
}

int64_t sched_prune_gate(const sched_prune_t *p, int64_t trial_id, int64_t from) {
    if (!p || !p->rungs)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].trial_id == trial_id)
            return p->m[i].lead_id == trial_id && !p->m[i].ended
                       ? sched_rungs_gate(p->rungs, trial_id, from)
                       : 0;
    return 0;
}

int sched_prune_paused(sched_prune_t *p, sched_search_ctl_t *ctl, int64_t trial_id,
                       int64_t iteration) {
    member_t *mb = p && p->rungs ? member_of(p, trial_id) : NULL;
    if (!mb || mb->lead_id != trial_id || mb->ended || mb->paused)
        return 0;
    int passed = sched_rungs_passed(p->rungs, trial_id, iteration);
    if (passed > 0) { /* decided while its pause was on its way */
        ctl->proceed(ctl, trial_id);
        return 0;
    }
    if (passed < 0) { /* its stop could not reach it running: it ends now */
        ctl->stop_note(ctl, trial_id, SCHED_STOP_PRUNED, mb->note[0] ? mb->note : NULL);
        return 0;
    }
    mb->paused = 1;
    p->n_paused++;
    return 1;
}

size_t sched_prune_n_paused(const sched_prune_t *p) {
    return p ? p->n_paused : 0;
}

void sched_prune_flush(sched_prune_t *p, sched_search_ctl_t *ctl) {
    if (!p)
        return;
    p->ctl = ctl;
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].flip)
            flip(p, &p->m[i]);
    p->ctl = NULL;
}

static member_t *member_of(sched_prune_t *p, int64_t trial_id) {
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].trial_id == trial_id)
            return &p->m[i];
    return NULL;
}

static int ended(const char *status) {
    return status && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0;
}

/* At a restart with rungs: every stored row (a lead's up to where early stopping stops it),
 * then every end; the order does not matter. Leads that ended completed but that the rungs
 * stop are marked pruned at the next plan (sched_prune_flush). */
static int resume_ordered(sched_prune_t *p, const sched_strategy_stored_t *t, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        member_t *mb = member_of(p, t[i].trial.trial_id);
        if (!mb || mb->lead_id != mb->trial_id)
            continue;
        int done = ended(t[i].status);
        memset(&mb->es, 0, sizeof mb->es);
        for (size_t k = 0; k < t[i].n_rows && rc == 0; k++) {
            const store_metric_t *m = &t[i].rows[k];
            rc = sched_rungs_row(p->rungs, mb->lead_id, m->iteration, m->val_accuracy, rungs_stop,
                                 p);
            double v = p->es.metric == SCHED_ES_VAL_LOSS ? m->val_loss : m->val_accuracy;
            char note[192];
            if (rc != 0 || p->es.metric == SCHED_ES_NONE ||
                sched_early_stop_step(&p->es, &mb->es, m->iteration, v, note, sizeof note) != 1 ||
                m->iteration >= mb->planned)
                continue;
            if (!done && !mb->pending) { /* stopped early before the crash took effect */
                mb->pending = 1;
                mb->pending_why = SCHED_STOP_EARLY;
                snprintf(mb->note, sizeof mb->note, "%s", note);
            }
            rc = sched_rungs_end(p->rungs, mb->lead_id, rungs_stop, p);
            break;
        }
        if (rc == 0 && done) {
            mb->ended = 1;
            mb->end_completed = !strcmp(t[i].status, "completed");
            rc = sched_rungs_end(p->rungs, mb->lead_id, rungs_stop, p);
        }
    }
    for (size_t i = 0; i < p->n; i++) { /* a stop decided for an ended run is moot */
        member_t *mb = &p->m[i];
        if (!mb->ended)
            continue;
        mb->pending = 0;
        mb->flip = mb->end_completed && sched_rungs_stopped(p->rungs, mb->trial_id, NULL);
    }
    return rc;
}

int sched_prune_resume(sched_prune_t *p, const sched_strategy_stored_t *t, size_t n) {
    if (!p)
        return 0;
    if (p->rungs)
        return resume_ordered(p, t, n);
    int64_t longest = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        member_t *mb = member_of(p, t[i].trial.trial_id);
        if (!mb || mb->lead_id != mb->trial_id)
            continue;
        if (!ended(t[i].status)) {
            if (t[i].n_rows && t[i].rows[t[i].n_rows - 1].iteration > longest)
                longest = t[i].rows[t[i].n_rows - 1].iteration;
            continue;
        }
        int64_t upto = !strcmp(t[i].status, "pruned") ? sched_pruner_note_iteration(t[i].error) : 0;
        for (size_t k = 0; k < t[i].n_rows && rc == 0 && p->pruner; k++)
            if (!upto || t[i].rows[k].iteration <= upto)
                rc = sched_pruner_record(p->pruner, mb->lead_id, mb->planned,
                                         t[i].rows[k].iteration, t[i].rows[k].val_accuracy);
    }
    /* the runs still to run: iteration by iteration, in ordinal order */
    for (int64_t it = 1; it <= longest && rc == 0; it++)
        for (size_t i = 0; i < n && rc == 0; i++) {
            member_t *mb = member_of(p, t[i].trial.trial_id);
            if (!mb || mb->lead_id != mb->trial_id || ended(t[i].status) || mb->pending)
                continue;
            for (size_t k = 0; k < t[i].n_rows; k++) {
                if (t[i].rows[k].iteration != it)
                    continue;
                sched_stop_reason_t why = decide(p, mb, &t[i].rows[k], mb->note, sizeof mb->note);
                mb->pending = why != SCHED_STOP_NONE && it < mb->planned;
                mb->pending_why = why;
                break;
            }
        }
    return rc;
}
