/*
 * api/store_reads.c - the store as the HTTP threads see it: one read-only connection per
 * thread, opened on first use and closed when the thread ends (a pthread key's destructor), and
 * the reads the SSE replay needs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "server.h"
#include "validate.h"

store_t *api_reader(api_t *a, store_error_t *err) {
    store_t *st = pthread_getspecific(a->reader_key);
    if (st)
        return st;
    st = store_open(a->db_path, STORE_READER, err);
    if (st && store_set_data_dir(st, a->data_dir, err) != 0) { /* models are files there */
        store_close(st);
        return NULL;
    }
    if (st && pthread_setspecific(a->reader_key, st) != 0) {
        store_close(st);
        st = NULL;
        if (err) {
            memset(err, 0, sizeof(*err));
            err->code = MLPT_ENOMEM;
        }
    }
    return st;
}

/* ---- SSE replay --------------------------------------------------------------------------- */

static int replay_reader(api_t *a, store_t **st) {
    store_error_t err;
    *st = api_reader(a, &err);
    if (!*st) {
        api_logf(a, "sse: cannot open the database: %s", err.message);
        return err.code ? err.code : MLPT_EDB;
    }
    return 0;
}

static int replay_trial_ids(void *user, int64_t sweep_id, int64_t **ids, size_t *n) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    store_trial_info_t *trials = NULL;
    size_t count = 0;
    *ids = NULL;
    *n = 0;
    int rc = replay_reader(a, &st);
    if (!rc && (rc = store_sweep_trials(st, sweep_id, &trials, &count, &err)) == 0) {
        int64_t *list = malloc((count ? count : 1) * sizeof(*list));
        for (size_t i = 0; list && i < count; i++)
            list[i] = trials[i].id; /* by ordinal */
        if (list) {
            *ids = list;
            *n = count;
        } else {
            rc = MLPT_ENOMEM;
        }
    }
    free(trials);
    return rc;
}

static int replay_trial(void *user, int64_t trial_id, api_sse_trial_t *out) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    store_trial_info_t t;
    memset(out, 0, sizeof(*out));
    int rc = replay_reader(a, &st);
    if (!rc)
        rc = store_trial_snapshot(st, trial_id, &t, &out->history, &out->n_history, &err);
    if (rc)
        return rc;
    snprintf(out->status, sizeof(out->status), "%s", store_trial_state_name(t.state));
    out->finished = store_trial_state_final(t.state);
    /* A re-queued trial (after a crash) is not started, whatever its old start time says. */
    out->started = t.state != STORE_TRIAL_QUEUED &&
                   (t.has_started_at || out->n_history > 0 || t.state == STORE_TRIAL_RUNNING);
    return 0;
}

static int replay_sweep_status(void *user, int64_t sweep_id, char status[16], int *finished) {
    api_t *a = user;
    store_t *st;
    store_error_t err;
    store_sweep_info_t sw;
    int rc = replay_reader(a, &st);
    if (!rc)
        rc = store_sweep_info(st, sweep_id, &sw, &err);
    if (rc)
        return rc;
    snprintf(status, 16, "%s", store_sweep_state_name(sw.state));
    *finished = store_sweep_state_final(sw.state);
    return 0;
}

void api_sse_store_ops(api_t *a, api_sse_ops_t *ops) {
    ops->trial_ids = replay_trial_ids;
    ops->trial = replay_trial;
    ops->sweep_status = replay_sweep_status;
    ops->user = a;
}
