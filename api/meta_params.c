/*
 * api/meta_params.c - the body of GET /api/v1/meta/parameters: the parameter table
 * (scheduler/params.h) and the server rules the dashboard would otherwise re-derive (the limits
 * that lower a row's maximum, which sweep and trial states are final, how progress is counted).
 */
#include <string.h>

#include "params.h"
#include "validate.h"

/* Sweep and trial states in the order they are reached; the final ones from the third on. These
 * are the states store/sweeps.c and store/trials.c write. */
static const char *const sweep_states[] = {"queued", "running", "completed", "failed", "canceled"};
static const char *const trial_states[] = {"queued",   "running", "completed", "failed",
                                           "diverged", "pruned",  "stopped",   "canceled"};

static json_t *states_json(const char *const *names, size_t n, size_t first_final) {
    json_t *all = json_array(), *fin = json_array();
    for (size_t i = 0; all && fin && i < n; i++) {
        json_array_append_new(all, json_string(names[i]));
        if (i >= first_final)
            json_array_append_new(fin, json_string(names[i]));
    }
    return json_pack("{s:o, s:o}", "all", all, "final", fin);
}

json_t *api_meta_parameters(const api_limits_t *lim) {
    json_t *params = sched_param_table_json();
    if (!params)
        return NULL;
    /* Each row's maximum as this service is configured. */
    size_t i;
    json_t *row;
    json_array_foreach(params, i, row) {
        const char *limit = json_string_value(json_object_get(row, "limit"));
        size_t configured = 0;
        if (limit && !strcmp(limit, "max_batch_size"))
            configured = lim->max_batch_size;
        else if (limit && !strcmp(limit, "max_iterations"))
            configured = lim->max_iterations;
        json_int_t max = json_integer_value(json_object_get(row, "max"));
        if (configured && (json_int_t)configured < max) {
            json_object_set_new(row, "max", json_integer((json_int_t)configured));
            /* as validation does: a default above the limit is lowered to it */
            if (json_integer_value(json_object_get(row, "default")) > (json_int_t)configured)
                json_object_set_new(row, "default", json_integer((json_int_t)configured));
        }
        if (!strcmp(sched_param_table[i].name, "layers")) {
            if ((json_int_t)lim->max_layers <
                json_integer_value(json_object_get(row, "max_layers")))
                json_object_set_new(row, "max_layers", json_integer((json_int_t)lim->max_layers));
            if ((json_int_t)lim->max_neurons <
                json_integer_value(json_object_get(row, "max_neurons")))
                json_object_set_new(row, "max_neurons", json_integer((json_int_t)lim->max_neurons));
        }
    }
    return json_pack(
        "{s:o, s:{s:I, s:I}, s:o, s:o, s:{s:s, s:s}}", "parameters", params, "limits", "max_trials",
        (json_int_t)(lim->max_trials ? lim->max_trials : SCHED_DEFAULT_MAX_TRIALS), "max_axis",
        (json_int_t)SCHED_MAX_AXIS, "sweep_states",
        states_json(sweep_states, sizeof sweep_states / sizeof sweep_states[0], 2), "trial_states",
        states_json(trial_states, sizeof trial_states / sizeof trial_states[0], 2), "progress",
        "planned", "the iterations of every trial", "done",
        "a trial in a final state counts its whole plan, any other the iterations it has done "
        "(at most its plan); a sweep in a final state is done");
}
