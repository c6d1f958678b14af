/*
 * mpi_sync.c - a job's group averaging its model across ranks (mpi_sync.h): MPI_Allreduce
 * (non-blocking, polled) on a communicator of the group, made at the first averaging after a
 * handshake every member can give up.
 */
#include "mpi_sync.h"

#include <limits.h>
#include <mpi.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpt_err.h"

#include <pthread.h>

#define POLL_MIN_NS 20000L
#define POLL_MAX_NS 1000000L

struct sched_mpi_group {
    int *members;
    size_t n, index;
    int tag;
    atomic_int abandoned;
    MPI_Comm comm; /* the group's, MPI_COMM_NULL until the first averaging made it */
    float *buf;    /* the vector while MPI_Iallreduce works on it; grown, never shrunk */
    size_t cap;
    int stranded;      /* an Iallreduce was left pending by an abandon: buf and comm stay (a
                          collective cannot be canceled, and it may still write into buf) */
    MPI_Request *reqs; /* [n]: the handshake's */
};

/* Buffers of Iallreduces left pending (stranded): kept, and reachable, until the process ends,
 * since the collective may still write into them. */
typedef struct stranded {
    float *buf;
    struct stranded *next;
} stranded_t;
static pthread_mutex_t stranded_lock = PTHREAD_MUTEX_INITIALIZER;
static stranded_t *stranded_bufs;

static void keep_stranded(float *buf) {
    stranded_t *k = malloc(sizeof *k);
    if (!k)
        return; /* then it leaks, which is all it can do anyway */
    k->buf = buf;
    pthread_mutex_lock(&stranded_lock);
    k->next = stranded_bufs;
    stranded_bufs = k;
    pthread_mutex_unlock(&stranded_lock);
}

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
    g->comm = MPI_COMM_NULL;
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
    if (!g->stranded) {
        if (g->comm != MPI_COMM_NULL)
            MPI_Comm_free(&g->comm);
        free(g->buf);
    } else {
        keep_stranded(g->buf); /* its communicator stays with MPI's own tables */
    }
    free(g->members);
    free(g->reqs);
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

/* Every member is here: each sends the first member a token and waits for its answer, which it
 * sends once all tokens came (all abandonable); then the communicator of the group, whose
 * making blocks until every member calls it, which they now all do at once. */
static int join(sched_mpi_group_t *g) {
    MPI_Comm w = MPI_COMM_WORLD;
    int token = 1, answers[2] = {0, 0}, rc;
    if (g->index != 0) {
        MPI_Request r[2];
        if (MPI_Isend(&token, 1, MPI_INT, g->members[0], g->tag, w, &r[0]) != MPI_SUCCESS)
            return MLPT_EIO;
        if ((rc = wait_all(g, &r[0], 1, 0)) != 0)
            return rc;
        if (MPI_Irecv(&answers[0], 1, MPI_INT, g->members[0], g->tag, w, &r[1]) != MPI_SUCCESS)
            return MLPT_EIO;
        if ((rc = wait_all(g, &r[1], 1, 1)) != 0)
            return rc;
    } else {
        for (size_t m = 1; m < g->n; m++) {
            MPI_Request r;
            if (MPI_Irecv(&answers[1], 1, MPI_INT, g->members[m], g->tag, w, &r) != MPI_SUCCESS)
                return MLPT_EIO;
            if ((rc = wait_all(g, &r, 1, 1)) != 0)
                return rc;
        }
        for (size_t m = 1; m < g->n; m++)
            if (MPI_Isend(&token, 1, MPI_INT, g->members[m], g->tag, w, &g->reqs[m - 1]) !=
                MPI_SUCCESS) {
                for (size_t i = 1; i < m; i++)
                    MPI_Request_free(&g->reqs[i - 1]);
                return MLPT_EIO;
            }
        if ((rc = wait_all(g, g->reqs, (int)g->n - 1, 0)) != 0)
            return rc;
    }
    MPI_Group world, mine;
    if (MPI_Comm_group(w, &world) != MPI_SUCCESS)
        return MLPT_EIO;
    rc = MPI_Group_incl(world, (int)g->n, g->members, &mine);
    MPI_Group_free(&world);
    if (rc != MPI_SUCCESS)
        return MLPT_EIO;
    rc = MPI_Comm_create_group(w, mine, g->tag, &g->comm);
    MPI_Group_free(&mine);
    return rc == MPI_SUCCESS && g->comm != MPI_COMM_NULL ? 0 : MLPT_EIO;
}

int sched_mpi_group_average(void *user, float *v, size_t n) {
    sched_mpi_group_t *g = user;
    int rc;
    if (n > INT_MAX)
        return MLPT_ELIMIT;
    if (atomic_load(&g->abandoned) || g->stranded)
        return MLPT_ESTOPPED;
    if (g->comm == MPI_COMM_NULL && (rc = join(g)) != 0)
        return rc;
    if (g->cap < n) {
        float *tmp = realloc(g->buf, (n ? n : 1) * sizeof *tmp);
        if (!tmp)
            return MLPT_ENOMEM;
        g->buf = tmp;
        g->cap = n;
    }
    memcpy(g->buf, v, n * sizeof *v);
    MPI_Request r;
    if (MPI_Iallreduce(MPI_IN_PLACE, g->buf, (int)n, MPI_FLOAT, MPI_SUM, g->comm, &r) !=
        MPI_SUCCESS)
        return MLPT_EIO;
    long pause = POLL_MIN_NS;
    for (;;) {
        int done = 0;
        if (MPI_Test(&r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return MLPT_EIO;
        if (done)
            break;
        if (atomic_load(&g->abandoned)) {
            g->stranded = 1; /* the request is erroneous to cancel or free: let it be */
            return MLPT_ESTOPPED;
        }
        struct timespec ts = {0, pause};
        nanosleep(&ts, NULL);
        pause = pause * 2 > POLL_MAX_NS ? POLL_MAX_NS : pause * 2;
    }
    float k = (float)g->n;
    for (size_t i = 0; i < n; i++)
        v[i] = g->buf[i] / k;
    return 0;
}
