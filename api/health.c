/*
 * api/health.c - what /healthz, /metrics and the dispatch policy need to know about the
 * service's footing: whether the database file is still the one the scheduler opened (the
 * scheduler watches it; once lost, every /api request answers 503 until a restart), and whether
 * the data dir's uploads/ and datasets/ folders take new files.
 *
 * No detail here names a server path: the answers go to any client (/healthz is open even with
 * a token), so folders are named relative to the data dir.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "mlpt_err.h"
#include "problem.h"
#include "upload.h"

int api_health_db_lost(api_t *a) {
    sched_health_t h;
    if (!a->sched || api_sched_acquire(a) != 0)
        return 0; /* draining: the scheduler may be gone, and quiescing answers first */
    sched_health(a->sched, &h);
    api_sched_release(a);
    return h.db_lost;
}

const char *api_health_lost_detail(int code) {
    if (code == MLPT_ESTATE)
        return "the database file was replaced by another file while the service was running: "
               "nothing more is written to either, training has stopped and the API answers 503 "
               "until mlptune is restarted (restart it once the right database is in place)";
    return "the database file was deleted or moved away while the service was running: nothing "
           "more is written, training has stopped and the API answers 503 until mlptune is "
           "restarted (put the database back in place first, or the restart starts a new one and "
           "quarantines the dataset files)";
}

int api_health_refuse_if_lost(api_t *a, api_response_t *res) {
    int lost = api_health_db_lost(a);
    if (!lost)
        return 0;
    api_problemf(res, API_PROBLEM_UNAVAILABLE, "%s", api_health_lost_detail(lost));
    return 1;
}

int api_health_folders(api_t *a, char *detail, size_t len) {
    static const char *const folders[] = {"uploads", "datasets"};
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        int e = api_upload_folder_probe(a->data_dir, folders[i]);
        if (e == 0)
            continue;
        snprintf(detail, len,
                 "the data dir's %s/ folder cannot take new files (%s): dataset uploads are "
                 "refused until it can",
                 folders[i], e == ENOSPC || e == EDQUOT ? "the disk is full" : strerror(e));
        return -1;
    }
    return 0;
}
