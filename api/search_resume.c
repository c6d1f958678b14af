/*
 * api/search_resume.c - the strategy of a sweep resumed at start-up (sched_config_t.
 * strategy_new): its stored spec validated again as at creation, so a random or TPE search gets
 * the same space, pruner and early stopping and continues at k = the trials it has stored (TPE
 * from the observations its strategy rebuilds from the stored rows); anything else is a grid.
 */
#define _XOPEN_SOURCE 700 /* strptime */
#define _DEFAULT_SOURCE   /* timegm */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "strategy.h"
#include "validate.h"

/* Wall seconds since an RFC 3339 UTC time as the store writes it ("2026-12-06T08:20:05.866Z");
 * 0 when it does not read. */
static double since(const char *t) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0.0;
    double at = (double)timegm(&tm);
    if (*rest == '.')
        at += strtod(rest, NULL);
    double now = (double)time(NULL);
    return now > at ? now - at : 0.0;
}

/* The iterations a sweep's trials have stored (0 when they cannot be read), and their highest
 * id. */
static uint64_t iterations_stored(store_t *db, int64_t sweep_id, int64_t *max_id) {
    store_trial_info_t *t = NULL;
    size_t n = 0;
    uint64_t sum = 0;
    store_error_t err;
    *max_id = 0;
    if (store_sweep_trials(db, sweep_id, &t, &n, &err) == 0)
        for (size_t i = 0; i < n; i++) {
            sum += t[i].iterations_done > 0 ? (uint64_t)t[i].iterations_done : 0;
            if (t[i].id > *max_id)
                *max_id = t[i].id;
        }
    free(t);
    return sum;
}

sched_strategy_t *api_sweep_strategy(void *user, int64_t sweep_id) {
    const api_strategy_ctx_t *ctx = user;
    sched_strategy_t *st = NULL;
    store_error_t err;
    store_t *db = store_open(ctx->db_path, STORE_READER, &err);
    json_t *sw = db ? store_sweep_get(db, sweep_id, &err) : NULL;
    const json_t *spec = sw ? json_object_get(sw, "spec") : NULL;
    const json_t *total = sw ? json_object_get(sw, "trials_total") : NULL;
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *errs = malloc(sizeof *errs);
    if (b && errs && spec && json_is_integer(total)) {
        api_errors_init(errs);
        if (api_validate_sweep(spec, &ctx->limits, b, errs) == 0 && b->sampling) {
            sched_random_spent_t spent = {
                .stored = (uint64_t)json_integer_value(total),
                .elapsed = since(json_string_value(json_object_get(sw, "created_at")))};
            spent.iterations = iterations_stored(db, sweep_id, &spent.max_trial_id);
            sched_sampling_cfg_t sc = {.space = &b->space,
                                       .slots = ctx->workers,
                                       .spent = &spent,
                                       .pruner = &b->pruner,
                                       .es = &b->early_stop};
            st = sched_strategy_sampling_new(&sc);
        }
    }
    free(b);
    free(errs);
    json_decref(sw);
    store_close(db);
    return st; /* NULL: not a sampling sweep, the scheduler's own (grid, with its pruner) */
}
