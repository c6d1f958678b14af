/*
 * exec_mpi_group.c - rank 0's jobs across ranks (i13-dp) under `serve --mpi`: a job handed to
 * several ranks other than 0 as one rjob per member (exec_mpi_private.h) sharing a group_t
 * (opaque elsewhere), the stop of a failed member's group, and the members' messages folded into
 * the lead's for the loop. exec_mpi.c calls it (mx_group_submit from submit, mx_group_msg from
 * the link thread); it calls only exec_mpi_state.c and the link's wake-up, never back into
 * exec_mpi.c.
 *
 * Locking: mx_group_submit takes `lock`; stop_group and mx_group_msg are called with it held.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "exec_mpi_private.h"
#include "mlpt_err.h"
#include "mpi_link.h"

/* A job across ranks (i13-dp): one rjob per member, sharing this. Only the lead's (members[0])
 * messages reach the loop; its END waits until every member's END came, and carries the first
 * failure of a member (whose group was then stopped) instead of the lead's own stop. */
struct group {
    int *members;
    size_t n;
    size_t left; /* members whose END has not come */
    int fail_rc;
    char fail_error[256];
    sched_msg_t *lead_end; /* held until left is 0 */
    struct rjob *lead_job; /* the lead's, once its END came (unlisted) */
};

/* A job across job->ranks ranks (never rank 0, which also serves and schedules): the ranks
 * with the most free slots, lowest first among equals, each sent the job with the group and
 * its place in it. A history does not depend on which ranks: only on their count. */
int mx_group_submit(mx_t *m, const sched_exec_job_t *job) {
    size_t want = job->ranks;
    if ((int)want > m->base.group_ranks) {
        char why[160];
        snprintf(why, sizeof why,
                 "this trial trains across %zu ranks; this service can give a "
                 "trial %d (the ranks other than 0)",
                 want, m->base.group_ranks);
        mx_post_end(m, job->tag, MLPT_EINVAL, why);
        return 0;
    }
    group_t *g = calloc(1, sizeof *g);
    rjob_t **js = calloc(want, sizeof *js);
    op_t **os = calloc(want, sizeof *os);
    int ok = g && js && os && (g->members = calloc(want, sizeof *g->members));
    for (size_t i = 0; ok && i < want; i++)
        ok = (js[i] = calloc(1, sizeof *js[i])) && (os[i] = calloc(1, sizeof *os[i]));
    if (!ok) {
        for (size_t i = 0; js && os && i < want; i++) {
            free(js[i]);
            free(os[i]);
        }
        if (g)
            free(g->members);
        free(g);
        free(js);
        free(os);
        return MLPT_ENOMEM;
    }
    uint64_t no = ++m->next_no;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < want; i++) { /* most free slots first, then the lower rank */
        int best = -1, best_free = INT_MIN;
        for (int r = 1; r < m->n; r++) {
            int taken = 0, free_slots = m->ranks[r].workers - m->busy[r];
            for (size_t k = 0; k < i; k++)
                taken |= g->members[k] == r;
            if (!taken && free_slots > best_free) {
                best = r;
                best_free = free_slots;
            }
        }
        g->members[i] = best; /* want <= group_ranks = n - 1: there is one */
    }
    g->n = g->left = want;
    dsinfo_t *d = mx_ds_get(m, job->dataset.id, job->dataset.path);
    if (!d || (job->test.id && !mx_ds_get(m, job->test.id, job->test.path))) {
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < want; i++) {
            free(js[i]);
            free(os[i]);
        }
        free(g->members);
        free(g);
        free(js);
        free(os);
        return MLPT_ENOMEM;
    }
    for (size_t i = 0; i < want; i++) {
        rjob_t *j = js[i];
        j->job = *job;
        j->job.members = g->members;
        j->job.member = i;
        j->no = no;
        j->rank = g->members[i];
        j->group = g;
        j->lead = i == 0;
        d->held[j->rank] = 1;
        m->busy[j->rank]++;
        j->next = m->jobs;
        m->jobs = j;
        os[i]->kind = OP_JOB;
        os[i]->job = j;
        mx_push_op(m, os[i]);
    }
    pthread_mutex_unlock(&m->lock);
    free(js);
    free(os);
    logf_(m, "trial %lld: across ranks %d..%d (%zu), averaging every %zu mini-batches",
          (long long)job->trial_id, g->members[0], g->members[want - 1], want, job->sync_every);
    sched_link_wake(m->link);
    return 0;
}

/* The other members of j's group still running are stopped (a member failed: without it they
 * would wait at their next averaging for ever). Called with lock. */
static void stop_group(mx_t *m, const rjob_t *j) {
    for (rjob_t *o = m->jobs; o; o = o->next)
        if (o != j && o->group == j->group) {
            op_t *op = calloc(1, sizeof *op);
            if (!op)
                continue;
            *op = (op_t){.kind = OP_STOP, .no = o->no, .rank = o->rank, .why = SCHED_STOP_CANCEL};
            mx_push_op(m, op);
        }
}

/* A message of a member of a job across ranks (*msg, from member j, whose END was unlisted
 * already). Only the lead's messages reach the loop: returns the lead's job with *msg to pass
 * on as any job's, or NULL when there is nothing to pass on now (msg dropped or kept). The
 * lead's END is kept until every member's END came, then goes on carrying the first failure
 * of a member (its group was stopped then) over its own stop. Called with lock. */
rjob_t *mx_group_msg(mx_t *m, rjob_t *j, sched_msg_t **msg) {
    group_t *g = j->group;
    sched_msg_t *x = *msg;
    if (x->type != SCHED_MSG_END) {
        if (j->lead)
            return j;
        free(x->model);
        free(x);
        return NULL;
    }
    g->left--;
    if (x->rc != 0 && x->rc != MLPT_ESTOPPED && x->rc != MLPT_EDIVERGED && !g->fail_rc) {
        g->fail_rc = x->rc;
        snprintf(g->fail_error, sizeof g->fail_error, "rank %d: %.200s", j->rank,
                 x->error[0] ? x->error : mlpt_strerror(x->rc));
        stop_group(m, j);
        sched_link_wake(m->link);
    }
    if (j->lead) {
        g->lead_end = x;
        g->lead_job = j;
    } else {
        free(x->model);
        free(x);
        free(j);
    }
    if (g->left > 0 || !g->lead_job)
        return NULL;
    rjob_t *lead = g->lead_job;
    x = g->lead_end;
    if (g->fail_rc && (x->rc == MLPT_ESTOPPED || x->rc == 0)) {
        x->rc = g->fail_rc;
        free(x->model);
        x->model = NULL;
        x->model_len = 0;
        snprintf(x->error, sizeof x->error, "%s", g->fail_error);
    }
    lead->group = NULL;
    lead->job.members = NULL;
    free(g->members);
    free(g);
    *msg = x;
    return lead;
}
