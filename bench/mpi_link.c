/*
 * bench/mpi_link.c - the link between two MPI ranks, measured by ping-pong (bench/scale_out's
 * (d) builds its model on it). Rank 0 sends a message of each size to rank 1, which sends it
 * back, `reps` times after a few untimed rounds; one way is half the round trip. Prints one JSON
 * object on rank 0's stdout: {"ranks", "host0", "host1", "sizes": [{"bytes", "reps",
 * "one_way_us" (median), "one_way_us_min", "mb_per_s" (bytes / median one way)}]}. Run it with
 * the same mpirun options as the service (e.g. --mca btl self,tcp for the path between hosts).
 *
 *   mpicc -O2 -o mpi_link bench/mpi_link.c && mpirun -np 2 ./mpi_link [reps]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "mpi_link: needs 2 ranks (mpirun -np 2)\n");
        MPI_Finalize();
        return 2;
    }
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    if (reps < 3)
        reps = 3;
    static const size_t sizes[] = {8, 1024, 65536, 1 << 20, 4 << 20, 16 << 20};
    const size_t n_sizes = sizeof sizes / sizeof sizes[0];
    char *buf = malloc(sizes[n_sizes - 1]);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!buf || !t)
        MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, 0x5a, sizes[n_sizes - 1]);

    char host[MPI_MAX_PROCESSOR_NAME] = "", other[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(host, &len);
    if (rank == 0)
        MPI_Recv(other, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    else if (rank == 1)
        MPI_Send(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, 1, MPI_COMM_WORLD);

    if (rank == 0)
        printf("{\"ranks\": %d, \"host0\": \"%s\", \"host1\": \"%s\", \"sizes\": [", size, host,
               other);
    for (size_t s = 0; s < n_sizes; s++) {
        int n = (int)sizes[s];
        int r = sizes[s] >= (4u << 20) ? (reps + 4) / 5 : reps; /* fewer rounds of big ones */
        if (r < 3)
            r = 3;
        for (int i = -3; i < r; i++) { /* 3 untimed rounds first */
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            if (rank == 0) {
                MPI_Send(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
            if (i >= 0)
                t[i] = (MPI_Wtime() - t0) / 2;
        }
        if (rank == 0) {
            qsort(t, (size_t)r, sizeof *t, cmp_double);
            double med = t[r / 2];
            printf(
                "%s{\"bytes\": %d, \"reps\": %d, \"one_way_us\": %.3f, \"one_way_us_min\": %.3f, "
                "\"mb_per_s\": %.3f}",
                s ? ", " : "", n, r, med * 1e6, t[0] * 1e6, med > 0 ? n / med / 1e6 : 0.0);
        }
    }
    if (rank == 0)
        printf("]}\n");
    free(buf);
    free(t);
    MPI_Finalize();
    return 0;
}
