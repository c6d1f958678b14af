/*
 * mpi_world.c - MPI start and end for every rank, the start-up exchange of each rank's shape
 * and rank 0's link measurement (sched_mpi.h, mpi_world.h).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi_link.h"
#include "mpi_world.h"
#include "sched_mpi.h"
#include "wire.h"

#define PING_REPS 20
#define BW_REPS 8
#define BW_BYTES (1 << 20)

static sched_exec_rank_t *world;
static int world_n, world_self, released;

int sched_mpi_init(int *rank, int *size, int *node_ranks, char *msg, size_t msg_len) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        snprintf(msg, msg_len, "MPI_Init_thread failed");
        return -1;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        snprintf(msg, msg_len, "this MPI library offers no MPI_THREAD_SERIALIZED");
        MPI_Finalize();
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &world_self);
    MPI_Comm_size(MPI_COMM_WORLD, &world_n);
    *rank = world_self;
    *size = world_n;
    MPI_Comm node;
    *node_ranks = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, node_ranks);
        MPI_Comm_free(&node);
    }
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Rank 0's half of the ping-pong with rank r; r's half answers. */
static void ping_pong(int r, unsigned char *buf, sched_exec_rank_t *out) {
    MPI_Comm w = MPI_COMM_WORLD;
    if (world_self == 0) {
        double t0 = now();
        for (int i = 0; i < PING_REPS; i++) {
            MPI_Send(buf, 1, MPI_BYTE, r, SCHED_LINK_PING, w);
            MPI_Recv(buf, 1, MPI_BYTE, r, SCHED_LINK_PING, w, MPI_STATUS_IGNORE);
        }
        double lat = (now() - t0) / PING_REPS / 2;
        t0 = now();
        for (int i = 0; i < BW_REPS; i++) {
            MPI_Send(buf, BW_BYTES, MPI_BYTE, r, SCHED_LINK_PING, w);
            MPI_Recv(buf, 1, MPI_BYTE, r, SCHED_LINK_PING, w, MPI_STATUS_IGNORE);
        }
        double per = (now() - t0) / BW_REPS - 2 * lat;
        out->latency_seconds = lat;
        out->bytes_per_second = per > 0 ? BW_BYTES / per : 0.0;
    } else if (world_self == r) {
        for (int i = 0; i < PING_REPS; i++) {
            MPI_Recv(buf, 1, MPI_BYTE, 0, SCHED_LINK_PING, w, MPI_STATUS_IGNORE);
            MPI_Send(buf, 1, MPI_BYTE, 0, SCHED_LINK_PING, w);
        }
        for (int i = 0; i < BW_REPS; i++) {
            MPI_Recv(buf, BW_BYTES, MPI_BYTE, 0, SCHED_LINK_PING, w, MPI_STATUS_IGNORE);
            MPI_Send(buf, 1, MPI_BYTE, 0, SCHED_LINK_PING, w);
        }
    }
}

int sched_mpi_hello(int workers, sched_log_fn log, void *log_user) {
    struct {
        int workers;
        char host[64];
    } me = {.workers = workers}, *all = calloc((size_t)world_n, sizeof *all);
    unsigned char *buf = malloc(BW_BYTES);
    world = calloc((size_t)world_n, sizeof *world);
    if (!all || !buf || !world) { /* the others would wait for this rank's part forever */
        fprintf(stderr, "mpi rank %d: out of memory at start-up\n", world_self);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (gethostname(me.host, sizeof me.host - 1) != 0 || !me.host[0])
        snprintf(me.host, sizeof me.host, "localhost");
    MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, MPI_COMM_WORLD);
    for (int r = 0; r < world_n; r++) {
        world[r].workers = all[r].workers;
        memcpy(world[r].host, all[r].host, sizeof world[r].host);
        world[r].host[sizeof world[r].host - 1] = '\0';
    }
    for (int r = 1; r < world_n; r++)
        ping_pong(r, buf, &world[r]);
    if (world_self == 0 && log) {
        char line[128];
        snprintf(line, sizeof line, "mpi: rank 0 is pid %ld on %s", (long)getpid(), world[0].host);
        log(log_user, line);
    }
    if (world_self == 0 && log)
        for (int r = 1; r < world_n; r++) {
            char line[256];
            snprintf(line, sizeof line,
                     "mpi: %d ranks, link to rank %d: %.1f MB/s, %.1f us (%s, %d workers)", world_n,
                     r, world[r].bytes_per_second / 1e6, world[r].latency_seconds * 1e6,
                     world[r].host, world[r].workers);
            log(log_user, line);
        }
    free(all);
    free(buf);
    return 0;
}

void sched_mpi_shape(int *ranks, int *max_workers, int *total_workers) {
    *ranks = world_n;
    *max_workers = *total_workers = 0;
    for (int r = 0; world && r < world_n; r++) {
        if (world[r].workers > *max_workers)
            *max_workers = world[r].workers;
        *total_workers += world[r].workers;
    }
}

const sched_exec_rank_t *sched_mpi_world(int *n, int *self) {
    *n = world_n;
    *self = world_self;
    return world;
}

void sched_mpi_world_released(void) {
    released = 1;
}

/* Rank 0 when its scheduler never released the ranks (it failed to start): SHUTDOWN to each,
 * and their BYE back (anything else they send is dropped: they ran nothing). */
static void release_ranks(void) {
    for (int r = 1; r < world_n; r++) {
        sched_wire_buf_t b = {0};
        if (sched_wire_encode_empty(&b, SCHED_WIRE_SHUTDOWN) == 0)
            MPI_Send(b.p, (int)b.len, MPI_BYTE, r, SCHED_LINK_TAG, MPI_COMM_WORLD);
        free(b.p);
    }
    for (int byes = 0; byes < world_n - 1;) {
        MPI_Status st;
        int flag = 0, count = 0;
        MPI_Iprobe(MPI_ANY_SOURCE, SCHED_LINK_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            nanosleep(&(struct timespec){0, 1000000L}, NULL);
            continue;
        }
        MPI_Get_count(&st, MPI_BYTE, &count);
        unsigned char *p = malloc(count > 0 ? (size_t)count : 1);
        MPI_Recv(p ? p : (unsigned char *)&st, p ? count : 0, MPI_BYTE, st.MPI_SOURCE,
                 SCHED_LINK_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        sched_wire_type_t type;
        uint64_t job;
        if (p && sched_wire_peek(p, (size_t)count, &type, &job) == 0 && type == SCHED_WIRE_BYE)
            byes++;
        free(p);
    }
}

void sched_mpi_finalize(void) {
    if (world_self == 0 && !released && world_n > 1)
        release_ranks();
    released = 1;
    free(world);
    world = NULL;
    MPI_Finalize();
}
