/*
 * mpi_link.c - the link thread's loop (mpi_link.h). Locking: `lock` guards the queue of sends
 * not yet started, `quit` and `kicked`; the in-flight sends are the link thread's alone.
 */
#include "mpi_link.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"

#define BACKOFF_MIN_NS 50000L
#define BACKOFF_MAX_NS 2000000L
/* At most this many messages are received in one turn of the loop, so that a steady stream of
 * rows from the ranks cannot hold back what this rank sends (a stop among them). */
#define RECEIVE_PER_TURN 32

typedef struct out {
    int dest;
    unsigned char *p;
    size_t len;
    MPI_Request req; /* once started */
    struct out *next;
} out_t;

struct sched_link {
    sched_link_recv_fn recv;
    sched_link_tick_fn tick;
    void *user;
    pthread_mutex_t lock;
    pthread_cond_t kick;
    out_t *queued, **queued_tail; /* [lock] */
    int quit;                     /* [lock] */
    int kicked;                   /* [lock] something to do: do not sleep */
    out_t *flight;                /* link thread: started, not yet complete */
};

static atomic_uint_fast64_t n_sent, n_received, b_sent, b_received;

void sched_mpi_counters(sched_mpi_counters_t *out) {
    out->messages_sent = atomic_load(&n_sent);
    out->messages_received = atomic_load(&n_received);
    out->bytes_sent = atomic_load(&b_sent);
    out->bytes_received = atomic_load(&b_received);
}

sched_link_t *sched_link_new(sched_link_recv_fn recv, sched_link_tick_fn tick, void *user) {
    sched_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->recv = recv;
    l->tick = tick;
    l->user = user;
    l->queued_tail = &l->queued;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->kick, NULL);
    return l;
}

int sched_link_send(sched_link_t *l, int dest, sched_wire_buf_t *b) {
    if (b->oom) {
        free(b->p);
        *b = (sched_wire_buf_t){0};
        return MLPT_ENOMEM;
    }
    if (b->len > INT_MAX) {
        free(b->p);
        *b = (sched_wire_buf_t){0};
        return MLPT_ELIMIT;
    }
    out_t *o = calloc(1, sizeof *o);
    if (!o) {
        free(b->p);
        *b = (sched_wire_buf_t){0};
        return MLPT_ENOMEM;
    }
    o->dest = dest;
    o->p = b->p;
    o->len = b->len;
    *b = (sched_wire_buf_t){0};
    pthread_mutex_lock(&l->lock);
    *l->queued_tail = o;
    l->queued_tail = &o->next;
    l->kicked = 1;
    pthread_cond_signal(&l->kick);
    pthread_mutex_unlock(&l->lock);
    return 0;
}

void sched_link_wake(sched_link_t *l) {
    pthread_mutex_lock(&l->lock);
    l->kicked = 1;
    pthread_cond_signal(&l->kick);
    pthread_mutex_unlock(&l->lock);
}

void sched_link_quit(sched_link_t *l) {
    pthread_mutex_lock(&l->lock);
    l->quit = 1;
    l->kicked = 1;
    pthread_cond_signal(&l->kick);
    pthread_mutex_unlock(&l->lock);
}

/* Starts the queued sends, in order. Returns how many. */
static int start_sends(sched_link_t *l) {
    pthread_mutex_lock(&l->lock);
    out_t *q = l->queued;
    l->queued = NULL;
    l->queued_tail = &l->queued;
    pthread_mutex_unlock(&l->lock);
    int n = 0;
    out_t **tail = &l->flight;
    while (*tail)
        tail = &(*tail)->next;
    for (; q; n++) {
        out_t *o = q;
        q = q->next;
        o->next = NULL;
        MPI_Isend(o->p, (int)o->len, MPI_BYTE, o->dest, SCHED_LINK_TAG, MPI_COMM_WORLD, &o->req);
        atomic_fetch_add(&n_sent, 1);
        atomic_fetch_add(&b_sent, o->len);
        *tail = o;
        tail = &o->next;
    }
    return n;
}

/* Frees the sends that completed. Returns how many. */
static int finish_sends(sched_link_t *l) {
    int n = 0;
    for (out_t **p = &l->flight; *p;) {
        int flag = 0;
        MPI_Test(&(*p)->req, &flag, MPI_STATUS_IGNORE);
        if (!flag) {
            p = &(*p)->next;
            continue;
        }
        out_t *o = *p;
        *p = o->next;
        free(o->p);
        free(o);
        n++;
    }
    return n;
}

/* Receives the messages that have arrived, at most RECEIVE_PER_TURN. Returns how many. */
static int receive(sched_link_t *l) {
    int n = 0;
    while (n < RECEIVE_PER_TURN) {
        int flag = 0, count = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, SCHED_LINK_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return n;
        MPI_Get_count(&st, MPI_BYTE, &count);
        unsigned char *p = malloc(count > 0 ? (size_t)count : 1);
        if (!p) { /* cannot take it now: try again on the next turn */
            return n;
        }
        MPI_Recv(p, count, MPI_BYTE, st.MPI_SOURCE, SCHED_LINK_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        atomic_fetch_add(&n_received, 1);
        atomic_fetch_add(&b_received, (uint64_t)count);
        l->recv(l->user, st.MPI_SOURCE, p, (size_t)count);
        n++;
    }
    return n;
}

void sched_link_run(sched_link_t *l) {
    long backoff = BACKOFF_MIN_NS;
    for (;;) {
        if (l->tick)
            l->tick(l->user);
        int busy = start_sends(l) + finish_sends(l) + receive(l);
        pthread_mutex_lock(&l->lock);
        if (l->quit && !l->queued && !l->flight) {
            pthread_mutex_unlock(&l->lock);
            return;
        }
        if (busy || l->kicked) {
            l->kicked = 0;
            pthread_mutex_unlock(&l->lock);
            backoff = BACKOFF_MIN_NS;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += backoff;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->kick, &l->lock, &until);
        l->kicked = 0;
        pthread_mutex_unlock(&l->lock);
        backoff = backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : backoff * 2;
    }
}

void sched_link_free(sched_link_t *l) {
    if (!l)
        return;
    while (l->queued) {
        out_t *o = l->queued;
        l->queued = o->next;
        free(o->p);
        free(o);
    }
    while (l->flight) { /* never completes now: the buffer stays with MPI until finalize */
        out_t *o = l->flight;
        l->flight = o->next;
        MPI_Request_free(&o->req);
        free(o);
    }
    pthread_cond_destroy(&l->kick);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
