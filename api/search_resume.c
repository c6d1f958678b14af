/*
 * api/search_resume.c - the strategy of a sweep resumed at start-up (sched_config_t.
 * strategy_new): its stored spec validated again as at creation, so a random search gets the
 * same space and continues its draws at k = the trials it has stored; anything else is a grid.
 */
#include <stdlib.h>

#include "api.h"
#include "strategy.h"
#include "validate.h"

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
        if (api_validate_sweep(spec, &ctx->limits, b, errs) == 0 && b->sampling)
            st = sched_strategy_random_new(&b->space, ctx->workers,
                                           (uint64_t)json_integer_value(total));
    }
    free(b);
    free(errs);
    json_decref(sw);
    store_close(db);
    return st ? st : sched_strategy_grid_new();
}
