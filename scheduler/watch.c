/*
 * watch.c - the loop watches the database file: on a timer and at every wake-up, before anything
 * is written, it checks that the path still names the file the writer has open (store_file_check).
 * Once it does not (deleted, moved away, replaced by an older copy), the scheduler is lost for
 * good, until a restart:
 *   - nothing more is written: the writer is detached (store_file_detach: read-only, its log
 *     emptied into the old file so it cannot be replayed into the new one);
 *   - running trials stop at their next mini-batch and nothing is dispatched; what workers report
 *     is dropped, since there is no file it could go to (holding it, as for a full disk, would
 *     grow memory for nothing: no later moment can save it);
 *   - commands are refused (MLPT_EBUSY, saying why); sched_health reports it.
 * Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "mlpt_err.h"

/* How many times a detach whose checkpoint is busy (a reader holds a snapshot) is tried again,
 * one watch period apart, before it is left to the close. */
#define DETACH_TRIES 40

static const char *lost_reason(int code) {
    return code == MLPT_ESTATE ? "replaced by another file" : "deleted or moved away";
}

static void set_busy(store_error_t *err, int lost) {
    memset(err, 0, sizeof *err);
    err->code = MLPT_EBUSY;
    snprintf(err->message, sizeof err->message,
             "the database file was %s while the service ran: nothing more is written until "
             "mlptune is restarted",
             lost_reason(lost));
}

/* Drops what workers reported; a job whose trial ended leaves the running list and frees its
 * worker. */
static void drop_reports(sched_t *s) {
    report_t *fresh = sched_channel_take(s);
    if (s->unsaved) {
        report_t *t = s->unsaved;
        while (t->next)
            t = t->next;
        t->next = fresh;
    } else {
        s->unsaved = fresh;
    }
    sched_loop_abandon_unsaved(s);
    s->n_events = 0;
}

/* Answers every waiting command: MLPT_EBUSY, except setting the listener (no write). */
static void refuse_commands(sched_t *s, int lost) {
    pthread_mutex_lock(&s->cmd_lock);
    command_t *c = s->cmds;
    s->cmds = s->cmds_tail = NULL;
    pthread_mutex_unlock(&s->cmd_lock);
    while (c) {
        command_t *next = c->next;
        if (c->type == CMD_SET_LISTENER) {
            memset(&c->err, 0, sizeof c->err);
            s->listener = c->listener;
            s->listener_user = c->listener_user;
            c->rc = 0;
        } else {
            set_busy(&c->err, lost);
            c->rc = MLPT_EBUSY;
        }
        pthread_mutex_lock(&s->cmd_lock);
        c->done = 1;
        pthread_cond_broadcast(&s->cmd_done);
        pthread_mutex_unlock(&s->cmd_lock);
        c = next;
    }
}

/* The first moment the file is found gone: say so, stop training, detach the writer. */
static void become_lost(sched_t *s, int code, const store_error_t *why) {
    atomic_store(&s->db_lost, code); /* /healthz and the API see it from here on */
    sched_errorf(
        s,
        "%s. Nothing more is written to the database until mlptune is restarted: "
        "training stops, the API answers 503, /healthz says why. Restart it once the right "
        "database is back in place",
        why->message);
    sched_jobs_stop_all(s); /* jobs not started end through the channel, dropped below */
}

int sched_loop_watch(sched_t *s) {
    int lost = atomic_load(&s->db_lost);
    if (!lost) {
        store_error_t err;
        int rc = store_file_check(s->writer, &err);
        if (rc != MLPT_ENOTFOUND && rc != MLPT_ESTATE)
            return 0; /* the same file (or stat could not tell: looked at again next time) */
        become_lost(s, rc, &err);
        lost = rc;
    }
    if (!s->detached && s->detach_tries < DETACH_TRIES) {
        store_error_t err;
        s->detach_tries++;
        if (store_file_detach(s->writer, &err) == 0) {
            s->detached = 1;
            char where[640];
            if (store_file_open_path(s->writer, where, sizeof where) == 0)
                sched_errorf(s,
                             "the database the service had open is whole (its log was written "
                             "into it) and can be copied from %s until mlptune stops",
                             where);
        } else if (s->detach_tries == 1 || s->detach_tries == DETACH_TRIES)
            sched_logf(s, "store: %s (try %d of %d)", err.message, s->detach_tries, DETACH_TRIES);
    }
    drop_reports(s);
    refuse_commands(s, lost);
    return lost;
}
