/*
 * ranks.c - a trial's rank count and averaging interval (ranks.h): the request's members, the
 * trial params' members, and the two "auto" rules.
 */
#include "ranks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlpt_err.h"

/* One member: absent (default kept), "auto" (0), or an integer in [1, max]. */
static int member(const json_t *tr, const char *key, size_t max, const char *limit_note,
                  size_t *out, sched_pruner_err_fn err, void *user) {
    const json_t *v = tr ? json_object_get(tr, key) : NULL;
    char field[64], why[160];
    snprintf(field, sizeof field, "training.%s", key);
    if (!v)
        return 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), "auto")) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(why, sizeof why, "must be a positive integer or \"auto\"");
    } else if (json_integer_value(v) < 1) {
        snprintf(why, sizeof why, "must be at least 1 (got %lld)",
                 (long long)json_integer_value(v));
    } else if ((unsigned long long)json_integer_value(v) > (unsigned long long)max) {
        snprintf(why, sizeof why, "%lld exceeds %s (%zu)", (long long)json_integer_value(v),
                 limit_note, max);
    } else {
        *out = (size_t)json_integer_value(v);
        return 0;
    }
    if (err)
        err(user, field, why);
    return -1;
}

int sched_ranks_parse(const json_t *training, size_t max_ranks, sched_ranks_t *out,
                      sched_pruner_err_fn err, void *user) {
    *out = SCHED_RANKS_DEFAULT;
    size_t cap = max_ranks && max_ranks < SCHED_MAX_RANKS ? max_ranks : SCHED_MAX_RANKS;
    const char *note =
        cap < SCHED_MAX_RANKS ? "the ranks this service runs" : "the most ranks of a trial";
    int a = member(training, "ranks", cap, note, &out->ranks, err, user);
    int b = member(training, "sync_every", SCHED_MAX_SYNC_EVERY, "the longest interval",
                   &out->sync_every, err, user);
    return a || b ? -1 : 0;
}

static json_t *count_json(size_t n) {
    return n ? json_integer((json_int_t)n) : json_string("auto");
}

int sched_ranks_to_json(const sched_ranks_t *r, json_t *params) {
    if (json_object_set_new(params, "ranks", count_json(r->ranks)) != 0 ||
        json_object_set_new(params, "sync_every", count_json(r->sync_every)) != 0)
        return MLPT_ENOMEM;
    return 0;
}

static void count_from(const json_t *v, size_t max, size_t *out) {
    if (json_is_string(v) && !strcmp(json_string_value(v), "auto"))
        *out = 0;
    else if (json_is_integer(v) && json_integer_value(v) >= 1 &&
             (unsigned long long)json_integer_value(v) <= (unsigned long long)max)
        *out = (size_t)json_integer_value(v);
}

void sched_ranks_from_json(const json_t *params, sched_ranks_t *out) {
    *out = SCHED_RANKS_DEFAULT;
    count_from(json_object_get(params, "ranks"), SCHED_MAX_RANKS, &out->ranks);
    count_from(json_object_get(params, "sync_every"), SCHED_MAX_SYNC_EVERY, &out->sync_every);
}

size_t sched_ranks_auto(size_t queued, size_t idle, size_t max) {
    size_t n = queued >= 1 && queued < idle ? idle / queued : 1;
    if (max && n > max)
        n = max;
    return n ? n : 1;
}

static int per_rank(int slots, int ranks) {
    return ranks > 1 && slots > ranks ? slots / ranks : 1;
}

size_t sched_ranks_idle(int idle, int slots, int ranks) {
    if (idle <= 0)
        return 0;
    return ranks > 1 ? (size_t)(idle / per_rank(slots, ranks)) : 1;
}

int sched_ranks_slots(size_t job_ranks, int slots, int ranks, int group) {
    if (job_ranks <= 1 || ranks <= 1 || group <= 1 || job_ranks > (size_t)group ||
        job_ranks > (size_t)ranks)
        return 1;
    return (int)job_ranks * per_rank(slots, ranks);
}

double sched_sync_seconds(const sched_sync_cost_t *c) {
    double hops = 2.0 * ((double)c->ranks - 1.0); /* in to the first member, then out again */
    return hops * (2.0 * c->latency + (16.0 + c->model_bytes) / c->bandwidth);
}

size_t sched_sync_every_auto(const sched_sync_cost_t *c) {
    if (!c || c->ranks < 2 || !(c->model_bytes > 0.0) || !(c->batch_flops > 0.0) ||
        !(c->gflops > 0.0) || !(c->bandwidth > 0.0) || !(c->latency >= 0.0) ||
        !isfinite(c->model_bytes) || !isfinite(c->batch_flops) || !isfinite(c->gflops) ||
        !isfinite(c->bandwidth) || !isfinite(c->latency))
        return 1;
    double batch_seconds = c->batch_flops / (c->gflops * 1e9);
    double k = ceil(sched_sync_seconds(c) / (SCHED_SYNC_BUDGET * batch_seconds));
    size_t cap = SCHED_MAX_SYNC_EVERY;
    if (c->batches && c->batches < cap)
        cap = c->batches;
    if (!(k >= 1.0))
        return 1;
    return k >= (double)cap ? cap : (size_t)k;
}
