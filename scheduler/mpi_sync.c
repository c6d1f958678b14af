/*
 * mpi_sync.c - a job's group averaging its model across ranks (mpi_sync.h): a reduce to the
 * first member and a broadcast back, non-blocking point to point, polled.
 */
#include "mpi_sync.h"

#include <limits.h>
#include <mpi.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"

#define POLL_MIN_NS 20000L
#define POLL_MAX_NS 1000000L

struct sched_mpi_group {
    int *members;
    size_t n, index;
    int tag;
    atomic_int abandoned;
    float *scratch; /* the first member: one member's vector at a time; grown, never shrunk */
    size_t cap;
    MPI_Request *reqs; /* [n] */
};

sched_mpi_group_t *sched_mpi_group_new(const int *members, size_t n, size_t index, uint64_t job_no,
                                       const char **why) {
    int provided = 0, *ub = NULL, flag = 0;
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_MULTIPLE) {
        if (why)
            *why = "this MPI library gives no MPI_THREAD_MULTIPLE: a trial cannot span ranks";
        return NULL;
    }
    if (why)
        *why = "out of memory";
    if (n < 2 || index >= n)
        return NULL;
    sched_mpi_group_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->members = malloc(n * sizeof *g->members);
    g->reqs = calloc(n, sizeof *g->reqs);
    if (!g->members || !g->reqs) {
        sched_mpi_group_free(g);
        return NULL;
    }
    memcpy(g->members, members, n * sizeof *g->members);
    g->n = n;
    g->index = index;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    long top = flag && ub && *ub > SCHED_SYNC_TAG0 ? *ub : 32767;
    g->tag = SCHED_SYNC_TAG0 + (int)(job_no % (uint64_t)(top - SCHED_SYNC_TAG0));
    atomic_init(&g->abandoned, 0);
    return g;
}

void sched_mpi_group_abandon(sched_mpi_group_t *g) {
    if (g)
        atomic_store(&g->abandoned, 1);
}

void sched_mpi_group_free(sched_mpi_group_t *g) {
    if (!g)
        return;
    free(g->members);
    free(g->reqs);
    free(g->scratch);
    free(g);
}

/* Waits for reqs[0 .. k) (MPI_REQUEST_NULL ones count as done; `recv` says they are receives),
 * sleeping between tests. When the group is abandoned meanwhile, cancels what is pending
 * (a canceled receive is waited for: nothing arrives into the buffer afterwards; a send is let
 * go) and returns MLPT_ESTOPPED. */
static int wait_all(sched_mpi_group_t *g, MPI_Request *reqs, int k, int recv) {
    long pause = POLL_MIN_NS;
    for (;;) {
        int done = 0;
        if (MPI_Testall(k, reqs, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
            return MLPT_EIO;
        if (done)
            return 0;
        if (atomic_load(&g->abandoned)) {
            for (int i = 0; i < k; i++)
                if (reqs[i] != MPI_REQUEST_NULL) {
                    MPI_Cancel(&reqs[i]);
                    if (recv)
                        MPI_Wait(&reqs[i], MPI_STATUS_IGNORE);
                    else
                        MPI_Request_free(&reqs[i]);
                }
            return MLPT_ESTOPPED;
        }
        struct timespec ts = {0, pause};
        nanosleep(&ts, NULL);
        pause = pause * 2 > POLL_MAX_NS ? POLL_MAX_NS : pause * 2;
    }
}

int sched_mpi_group_average(void *user, float *v, size_t n) {
    sched_mpi_group_t *g = user;
    if (n > INT_MAX)
        return MLPT_ELIMIT;
    if (atomic_load(&g->abandoned))
        return MLPT_ESTOPPED;
    int count = (int)n, lead = g->members[0], rc;
    MPI_Comm w = MPI_COMM_WORLD;
    if (g->index != 0) { /* send mine; once it is out, receive the mean in its place */
        MPI_Request r;
        if (MPI_Isend(v, count, MPI_FLOAT, lead, g->tag, w, &r) != MPI_SUCCESS)
            return MLPT_EIO;
        if ((rc = wait_all(g, &r, 1, 0)) != 0)
            return rc;
        if (MPI_Irecv(v, count, MPI_FLOAT, lead, g->tag, w, &r) != MPI_SUCCESS)
            return MLPT_EIO;
        return wait_all(g, &r, 1, 1);
    }
    /* The first member: sum the others' in member order, in float, as MPI_SUM would. */
    if (g->cap < n) {
        float *tmp = realloc(g->scratch, (n ? n : 1) * sizeof *tmp);
        if (!tmp)
            return MLPT_ENOMEM;
        g->scratch = tmp;
        g->cap = n;
    }
    for (size_t m = 1; m < g->n; m++) {
        MPI_Request r;
        if (MPI_Irecv(g->scratch, count, MPI_FLOAT, g->members[m], g->tag, w, &r) != MPI_SUCCESS)
            return MLPT_EIO;
        if ((rc = wait_all(g, &r, 1, 1)) != 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            v[i] += g->scratch[i];
    }
    float k = (float)g->n;
    for (size_t i = 0; i < n; i++)
        v[i] /= k;
    for (size_t m = 1; m < g->n; m++)
        if (MPI_Isend(v, count, MPI_FLOAT, g->members[m], g->tag, w, &g->reqs[m - 1]) !=
            MPI_SUCCESS) {
            for (size_t i = 1; i < m; i++)
                MPI_Request_free(&g->reqs[i - 1]);
            return MLPT_EIO;
        }
    return wait_all(g, g->reqs, (int)g->n - 1, 0);
}
