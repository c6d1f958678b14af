/*
 * api/metrics.c - /metrics in the Prometheus text format: HTTP requests by route pattern and
 * status (counters kept with relaxed atomics, so counting never takes a lock), the scheduler's
 * figures from sched_stats, and the number of open event streams.
 */
#include <stdio.h>
#include <stdlib.h>

#include "server.h"

/* The statuses the API answers with; a status not listed is counted in the last column. */
static const unsigned statuses[API_STATUS_COLUMNS - 1] = {
    200, 201, 204, 206, 304, 400, 401, 404, 405, 409, 413, 415, 422, 500, 501, 503, 507,
};

void api_metrics_count(api_metrics_t *m, size_t slot, unsigned status) {
    size_t col = API_STATUS_COLUMNS - 1;
    for (size_t i = 0; i < API_STATUS_COLUMNS - 1; i++)
        if (statuses[i] == status) {
            col = i;
            break;
        }
    if (slot >= API_SLOTS)
        slot = API_SLOT_UNMATCHED;
    atomic_fetch_add_explicit(&m->requests[slot][col], 1, memory_order_relaxed);
}

static void slot_labels(size_t slot, const char **method, const char **route) {
    if (slot < API_ROUTE_COUNT) {
        *method = api_method_name(api_routes[slot].method);
        *route = api_routes[slot].pattern;
    } else if (slot == API_SLOT_STATIC) {
        *method = "GET";
        *route = "static";
    } else {
        *method = "*";
        *route = "unmatched";
    }
}

static void gauge(FILE *f, const char *name, const char *type, const char *help,
                  unsigned long long v) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

int api_metrics_render(api_t *a, char **out, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return -1;
    fputs("# HELP mlptune_http_requests_total HTTP requests answered, by route pattern, method "
          "and status.\n# TYPE mlptune_http_requests_total counter\n",
          f);
    for (size_t s = 0; s < API_SLOTS; s++)
        for (size_t c = 0; c < API_STATUS_COLUMNS; c++) {
            unsigned long long v =
                atomic_load_explicit(&a->metrics.requests[s][c], memory_order_relaxed);
            const char *method, *route;
            if (!v)
                continue;
            slot_labels(s, &method, &route);
            if (c < API_STATUS_COLUMNS - 1)
                fprintf(f,
                        "mlptune_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} "
                        "%llu\n",
                        method, route, statuses[c], v);
            else
                fprintf(f,
                        "mlptune_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"}"
                        " %llu\n",
                        method, route, v);
        }
    sched_stats_t st = {0};
    if (a->sched && api_sched_acquire(a) == 0) {
        sched_stats(a->sched, &st);
        api_sched_release(a);
    }
    gauge(f, "mlptune_queue_depth", "gauge", "Trials waiting for a worker.", st.queued_trials);
    gauge(f, "mlptune_running_trials", "gauge", "Trials being trained.", st.running_trials);
    gauge(f, "mlptune_iterations_trained_total", "counter",
          "Iterations (passes over a training split) completed.", st.iterations_trained);
    gauge(f, "mlptune_samples_trained_total", "counter", "Training rows processed.",
          st.samples_trained);
    gauge(f, "mlptune_trials_finished_total", "counter", "Trials that reached a final state.",
          st.trials_finished);
    gauge(f, "mlptune_workers", "gauge", "Trial worker threads.", (unsigned long long)st.workers);
    gauge(f, "mlptune_sse_subscribers", "gauge", "Open event streams.",
          a->hub ? api_sse_count(a->hub) : 0);
    if (st.mpi_ranks > 0) { /* serve --mpi: rank 0's wire traffic */
        gauge(f, "mlptune_mpi_ranks", "gauge", "MPI ranks training (rank 0 included).",
              (unsigned long long)st.mpi_ranks);
        fprintf(f,
                "# HELP mlptune_mpi_messages_total Wire messages between rank 0 and the other "
                "ranks.\n# TYPE mlptune_mpi_messages_total counter\n"
                "mlptune_mpi_messages_total{direction=\"sent\"} %llu\n"
                "mlptune_mpi_messages_total{direction=\"received\"} %llu\n"
                "# HELP mlptune_mpi_bytes_total Bytes of those messages.\n"
                "# TYPE mlptune_mpi_bytes_total counter\n"
                "mlptune_mpi_bytes_total{direction=\"sent\"} %llu\n"
                "mlptune_mpi_bytes_total{direction=\"received\"} %llu\n",
                (unsigned long long)st.mpi_messages_sent,
                (unsigned long long)st.mpi_messages_received, (unsigned long long)st.mpi_bytes_sent,
                (unsigned long long)st.mpi_bytes_received);
    }
    if (fclose(f) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}
