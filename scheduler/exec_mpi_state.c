/*
 * exec_mpi_state.c - the small helpers of rank 0's executor across ranks (exec_mpi_private.h)
 * that exec_mpi.c and exec_mpi_group.c both use: its datasets, its list of jobs, its FIFO of
 * operations, and the END of a job that could not be handed out. Calls nothing of theirs.
 *
 * Locking: every function here but mx_post_end is called with `lock` held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_mpi_private.h"

/* Called with lock. */
dsinfo_t *mx_ds_find(mx_t *m, int64_t id) {
    for (dsinfo_t *d = m->ds; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

/* Called with lock. NULL without memory. */
dsinfo_t *mx_ds_get(mx_t *m, int64_t id, const char *path) {
    dsinfo_t *d = mx_ds_find(m, id);
    if (d)
        return d;
    d = calloc(1, sizeof *d);
    if (!d || !(d->held = calloc((size_t)m->n, 1)) || !(d->path = strdup(path))) {
        if (d)
            free(d->held);
        free(d);
        return NULL;
    }
    d->id = id;
    d->held[0] = 1;
    d->next = m->ds;
    m->ds = d;
    return d;
}

void mx_unlink_job(mx_t *m, rjob_t *j) {
    for (rjob_t **p = &m->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

void mx_push_op(mx_t *m, op_t *o) {
    o->next = NULL;
    *m->ops_tail = o;
    m->ops_tail = &o->next;
}

/* An END for a job that could not be handed to its rank. */
void mx_post_end(mx_t *m, void *tag, int rc, const char *error) {
    sched_msg_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->type = SCHED_MSG_END;
    e->tag = tag;
    e->rc = rc;
    e->best_val_accuracy = e->final_val_accuracy = e->test_accuracy = 0.0 / 0.0;
    snprintf(e->error, sizeof e->error, "%s", error);
    m->post(m->post_user, e);
}
