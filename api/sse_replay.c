/*
 * api/sse_replay.c - resuming a stream from the store: the sweep's trials one by one (their
 * start, every iteration, their end), then the sweep's end, merged with the live events that
 * are published meanwhile so that none is lost and none is sent twice (see sse.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "sse_private.h"

static int order_cmp(const void *a, const void *b) {
    const api_sse_order_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

void api_sse_pend_push(api_sse_sub_t *sub, sched_event_type_t type, int64_t trial_id,
                       int64_t iteration, const char *text, size_t len) {
    if (sub->n_pend == sub->cap_pend) {
        size_t cap = sub->cap_pend ? 2 * sub->cap_pend : 16;
        api_sse_pend_t *tmp =
            cap <= API_SSE_MAX_PENDING ? realloc(sub->pend, cap * sizeof(*tmp)) : NULL;
        if (!tmp) {
            sub->overflow = 1;
            return;
        }
        sub->pend = tmp;
        sub->cap_pend = cap;
    }
    char *copy = malloc(len);
    if (!copy) {
        sub->overflow = 1;
        return;
    }
    memcpy(copy, text, len);
    sub->pend[sub->n_pend++] = (api_sse_pend_t){type, trial_id, iteration, copy, len};
}

static void pend_clear(api_sse_sub_t *sub) {
    for (size_t i = 0; i < sub->n_pend; i++)
        free(sub->pend[i].text);
    sub->n_pend = 0;
}

void api_sse_replay_free(api_sse_sub_t *sub) {
    pend_clear(sub);
    free(sub->pend);
    free(sub->ids);
    free(sub->order);
    free(sub->fs);
    sub->pend = NULL;
    sub->ids = NULL;
    sub->order = NULL;
    sub->fs = NULL;
    sub->n_ids = sub->cap_pend = 0;
}

/* Formats and appends one replayed event (no id). Returns 0 or -1. */
static int put(api_sse_sub_t *sub, uint64_t id, sched_event_type_t type, int64_t trial_id,
               const char *status, const store_metric_t *m) {
    char tmp[1024];
    size_t n = api_sse_format(tmp, sizeof(tmp), id, type, sub->sweep_id, trial_id, status, m);
    return n ? api_sse_append(sub, tmp, n, 0) : -1;
}

static int step_list(api_sse_sub_t *sub) {
    api_sse_hub_t *hub = sub->hub;
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_unlock(&hub->mu);
    int rc = hub->ops.trial_ids(hub->ops.user, sub->sweep_id, &ids, &n);
    pthread_mutex_lock(&hub->mu);
    if (rc != 0) {
        free(ids);
        return -1;
    }
    sub->order = malloc((n ? n : 1) * sizeof(*sub->order));
    sub->fs = calloc(n ? n : 1, sizeof(*sub->fs));
    if (!sub->order || !sub->fs) {
        free(ids);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        sub->order[i] = (api_sse_order_t){ids[i], i};
    qsort(sub->order, n, sizeof(*sub->order), order_cmp);
    sub->ids = ids;
    sub->n_ids = n;
    sub->r = 0;
    sub->phase = n ? SSE_TRIALS : SSE_STATUS;
    return 0;
}

static int step_trial(api_sse_sub_t *sub) {
    api_sse_hub_t *hub = sub->hub;
    api_sse_trial_t t;
    memset(&t, 0, sizeof(t));
    int64_t id = sub->ids[sub->r];
    sub->reading = 1;
    pthread_mutex_unlock(&hub->mu);
    int rc = hub->ops.trial(hub->ops.user, id, &t);
    pthread_mutex_lock(&hub->mu);
    sub->reading = 0;
    api_sse_trial_state_t *fs = &sub->fs[sub->r];
    if (rc == 0) {
        fs->started = t.started || t.n_history > 0;
        fs->finished = (unsigned char)(t.finished != 0);
        fs->last_iter = t.n_history ? t.history[t.n_history - 1].iteration : 0;
        if (fs->started)
            rc = put(sub, 0, SCHED_EVENT_TRIAL_STARTED, id, "running", NULL);
        for (size_t i = 0; rc == 0 && i < t.n_history; i++)
            rc = put(sub, 0, SCHED_EVENT_ITERATION, id, NULL, &t.history[i]);
        if (rc == 0 && fs->finished)
            rc = put(sub, 0, SCHED_EVENT_TRIAL_FINISHED, id, t.status, NULL);
    }
    free(t.history);
    for (size_t i = 0; rc == 0 && i < sub->n_pend; i++) {
        api_sse_pend_t *p = &sub->pend[i];
        if (api_sse_filter_pass(sub, p->type, p->trial_id, p->iteration))
            rc = api_sse_append(sub, p->text, p->len, 1);
    }
    pend_clear(sub);
    if (rc != 0)
        return -1;
    if (++sub->r == sub->n_ids)
        sub->phase = SSE_STATUS;
    return 0;
}

static int step_status(api_sse_sub_t *sub) {
    api_sse_hub_t *hub = sub->hub;
    char status[16] = "";
    int final = 0;
    pthread_mutex_unlock(&hub->mu);
    int rc = hub->ops.sweep_status(hub->ops.user, sub->sweep_id, status, &final);
    pthread_mutex_lock(&hub->mu);
    if (rc != 0)
        return -1;
    api_sse_channel_t *ch = sub->ch;
    uint64_t id = hub->base + ch->seq; /* everything up to here has been covered */
    if (final || sub->finish_seen) {
        if (final)
            ch->store_final = 1;
        sub->phase = SSE_END;
        return put(sub, id, SCHED_EVENT_SWEEP_FINISHED, 0, final ? status : sub->finish_status,
                   NULL);
    }
    char line[40];
    int n = snprintf(line, sizeof(line), "id: %llu\n\n", (unsigned long long)id);
    sub->phase = SSE_LIVE;
    return api_sse_append(sub, line, (size_t)n, 0);
}

int api_sse_replay_step(api_sse_sub_t *sub) {
    switch (sub->phase) {
    case SSE_LIST:
        return step_list(sub);
    case SSE_TRIALS:
        return step_trial(sub);
    case SSE_STATUS:
        return step_status(sub);
    default:
        return 0;
    }
}
