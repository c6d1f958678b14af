/*
 * pruner.c - a sweep's pruner (pruner.h): reads the request's "pruner" member, keeps the values
 * its runs reported (ASHA: at each rung; median: at each iteration, with each run's best so far)
 * and asks pruner_rules.c whether the reporting run goes on.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "pruner.h"

/* ---- the request member ------------------------------------------------------------------ */

static void fail(sched_pruner_err_fn err, void *user, const char *field, const char *message) {
    if (err)
        err(user, field, message);
}

/* pruner.<key>: an integer in [min, max], else def when absent. Returns 0 or -1. */
static int int_member(const json_t *j, const char *key, int64_t min, int64_t max, int64_t def,
                      int64_t *out, sched_pruner_err_fn err, void *user) {
    char field[64], msg[96];
    const json_t *v = json_object_get(j, key);
    snprintf(field, sizeof field, "pruner.%s", key);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        fail(err, user, field, "must be an integer");
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        snprintf(msg, sizeof msg, "must be between %lld and %lld (got %lld)", (long long)min,
                 (long long)max, (long long)x);
        fail(err, user, field, msg);
        return -1;
    }
    *out = x;
    return 0;
}

int sched_pruner_parse(const json_t *j, sched_pruner_cfg_t *out, sched_pruner_err_fn err,
                       void *user) {
    memset(out, 0, sizeof *out);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_object(j)) {
        fail(err, user, "pruner", "must be an object");
        return -1;
    }
    const json_t *type = json_object_get(j, "type");
    const char *name = json_is_string(type) ? json_string_value(type) : NULL;
    if (!type) {
        fail(err, user, "pruner.type", "is required");
        return -1;
    }
    static const char *const asha_keys[] = {"type", "min_iterations", "reduction_factor", NULL};
    static const char *const median_keys[] = {"type", "warmup_iterations", "min_trials", NULL};
    static const char *const hyperband_keys[] = {"type", "min_iterations", "reduction_factor",
                                                 "max_iterations"};
    const char *const *keys;
    if (name && strcmp(name, "asha") == 0) {
        out->type = SCHED_PRUNER_ASHA;
        keys = asha_keys;
    } else if (name && strcmp(name, "median") == 0) {
        out->type = SCHED_PRUNER_MEDIAN;
        keys = median_keys;
    } else if (name && strcmp(name, "hyperband") == 0) {
        out->type = SCHED_PRUNER_HYPERBAND;
        keys = hyperband_keys;
    } else {
        fail(err, user, "pruner.type", "must be one of \"asha\", \"median\", \"hyperband\"");
        return -1;
    }
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        int known = 0;
        for (size_t k = 0; k < 4 && keys[k]; k++)
            known |= !strcmp(key, keys[k]);
        if (!known) {
            char field[160];
            snprintf(field, sizeof field, "pruner.%.100s", *key ? key : "\"\"");
            fail(err, user, field, "unknown field");
            rc = -1;
        }
    }
    if (out->type == SCHED_PRUNER_ASHA || out->type == SCHED_PRUNER_HYPERBAND) {
        rc |= int_member(j, "min_iterations", 1, SCHED_PRUNER_MAX_ITERATIONS, 1,
                         &out->min_iterations, err, user);
        rc |= int_member(j, "reduction_factor", 2, SCHED_PRUNER_MAX_FACTOR, 3,
                         &out->reduction_factor, err, user);
    }
    if (out->type == SCHED_PRUNER_HYPERBAND) {
        int bad = int_member(j, "max_iterations", 1, SCHED_PRUNER_MAX_ITERATIONS, 0,
                             &out->max_iterations, err, user);
        if (!bad && out->max_iterations && out->max_iterations < out->min_iterations) {
            char msg[96];
            snprintf(msg, sizeof msg, "must be >= min_iterations (%lld)",
                     (long long)out->min_iterations);
            fail(err, user, "pruner.max_iterations", msg);
            bad = -1;
        }
        rc |= bad;
    } else if (out->type == SCHED_PRUNER_MEDIAN) {
        rc |= int_member(j, "warmup_iterations", 0, SCHED_PRUNER_MAX_ITERATIONS, 5,
                         &out->warmup_iterations, err, user);
        rc |=
            int_member(j, "min_trials", 1, SCHED_PRUNER_MAX_TRIALS, 3, &out->min_trials, err, user);
    }
    return rc ? -1 : 0;
}

int sched_early_stop_parse(const json_t *j, sched_early_stop_t *out, sched_pruner_err_fn err,
                           void *user) {
    memset(out, 0, sizeof *out);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_object(j)) {
        fail(err, user, "training.early_stopping", "must be an object");
        return -1;
    }
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        if (strcmp(key, "metric") && strcmp(key, "patience") && strcmp(key, "min_delta")) {
            char field[160];
            snprintf(field, sizeof field, "training.early_stopping.%.100s", *key ? key : "\"\"");
            fail(err, user, field, "unknown field");
            rc = -1;
        }
    }
    const json_t *m = json_object_get(j, "metric");
    const char *name = json_is_string(m) ? json_string_value(m) : NULL;
    out->metric = SCHED_ES_VAL_LOSS;
    if (m && name && !strcmp(name, "val_accuracy"))
        out->metric = SCHED_ES_VAL_ACCURACY;
    else if (m && !(name && !strcmp(name, "val_loss"))) {
        fail(err, user, "training.early_stopping.metric",
             "must be one of \"val_loss\", \"val_accuracy\"");
        rc = -1;
    }
    /* the field path for int_member's messages is pruner.<key>: build this one by hand */
    const json_t *pat = json_object_get(j, "patience");
    out->patience = 5;
    if (pat) {
        if (!json_is_integer(pat) || json_integer_value(pat) < 1 ||
            json_integer_value(pat) > SCHED_PRUNER_MAX_ITERATIONS) {
            fail(err, user, "training.early_stopping.patience",
                 "must be an integer between 1 and 100000");
            rc = -1;
        } else {
            out->patience = json_integer_value(pat);
        }
    }
    const json_t *d = json_object_get(j, "min_delta");
    out->min_delta = 0.0;
    if (d) {
        double x = json_is_number(d) ? json_number_value(d) : -1;
        if (!json_is_number(d) || !(x >= 0) || !isfinite(x) || x > 1e6) {
            fail(err, user, "training.early_stopping.min_delta",
                 "must be a number between 0 and 1000000");
            rc = -1;
        } else {
            out->min_delta = x;
        }
    }
    if (rc)
        out->metric = SCHED_ES_NONE;
    return rc ? -1 : 0;
}

/* ---- the state --------------------------------------------------------------------------- */

/* The values recorded at one iteration (ASHA: a rung's; median: every iteration's), with
 * their runs, in arrival order. */
typedef struct bucket {
    int64_t *run;
    double *value;
    size_t n, cap;
} bucket_t;

/* What is known of one run. */
typedef struct run {
    int64_t id, last; /* the last iteration fed */
    double best;      /* best value so far (NaN: none) */
    int stopped;      /* told to stop: the rows it reports meanwhile are not recorded */
} run_t;

struct sched_pruner {
    sched_pruner_cfg_t cfg;
    bucket_t *at; /* at[i]: iteration i + 1 */
    size_t n_at;
    run_t *runs;
    size_t n_runs, cap_runs;
};

sched_pruner_t *sched_pruner_new(const sched_pruner_cfg_t *cfg) {
    sched_pruner_t *p = calloc(1, sizeof *p);
    if (p)
        p->cfg = *cfg;
    return p;
}

void sched_pruner_free(sched_pruner_t *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n_at; i++) {
        free(p->at[i].run);
        free(p->at[i].value);
    }
    free(p->at);
    free(p->runs);
    free(p);
}

static run_t *run_get(sched_pruner_t *p, int64_t id) {
    for (size_t i = 0; i < p->n_runs; i++)
        if (p->runs[i].id == id)
            return &p->runs[i];
    if (p->n_runs == p->cap_runs) {
        size_t cap = p->cap_runs ? 2 * p->cap_runs : 16;
        run_t *t = realloc(p->runs, cap * sizeof *t);
        if (!t)
            return NULL;
        p->runs = t;
        p->cap_runs = cap;
    }
    p->runs[p->n_runs] = (run_t){.id = id, .last = 0, .best = NAN};
    return &p->runs[p->n_runs++];
}

static int record_add(sched_pruner_t *p, int64_t run, int64_t iteration, double value) {
    if (iteration < 1)
        return 0;
    size_t i = (size_t)iteration - 1;
    if (i >= p->n_at) {
        size_t n = p->n_at ? p->n_at : 16;
        while (n <= i)
            n *= 2;
        bucket_t *t = realloc(p->at, n * sizeof *t);
        if (!t)
            return MLPT_ENOMEM;
        memset(t + p->n_at, 0, (n - p->n_at) * sizeof *t);
        p->at = t;
        p->n_at = n;
    }
    bucket_t *b = &p->at[i];
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 8;
        int64_t *r = realloc(b->run, cap * sizeof *r);
        if (!r)
            return MLPT_ENOMEM;
        b->run = r;
        double *v = realloc(b->value, cap * sizeof *v);
        if (!v)
            return MLPT_ENOMEM;
        b->value = v;
        b->cap = cap;
    }
    b->run[b->n] = run;
    b->value[b->n++] = value;
    return 0;
}

/* The values recorded at iteration: all (others_only 0) or those of runs other than run.
 * *out is malloc'd (NULL when none). */
static int values_at(const sched_pruner_t *p, int64_t iteration, int64_t run, int others_only,
                     double **out, size_t *n);

/* The ASHA a run reports to: the pruner's, or (Hyperband) its bracket's (by the run's id). */
static sched_pruner_cfg_t asha_of(const sched_pruner_t *p, int64_t run, int *bracket) {
    *bracket = -1;
    if (p->cfg.type != SCHED_PRUNER_HYPERBAND)
        return p->cfg;
    *bracket = sched_hyperband_bracket(&p->cfg, (uint64_t)run);
    return sched_hyperband_asha(&p->cfg, *bracket);
}

/* Keeps in v[0..*n) only the values of bracket's runs (bracket -1: all). */
static void only_bracket(const sched_pruner_t *p, const bucket_t *b, int bracket, double *v,
                         size_t *n) {
    if (bracket < 0)
        return;
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
        if (sched_hyperband_bracket(&p->cfg, (uint64_t)b->run[i]) == bracket)
            v[m++] = b->value[i];
    *n = m;
}

static int values_at(const sched_pruner_t *p, int64_t iteration, int64_t run, int others_only,
                     double **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (iteration < 1 || (size_t)iteration > p->n_at || !p->at[iteration - 1].n)
        return 0;
    const bucket_t *b = &p->at[iteration - 1];
    double *v = malloc(b->n * sizeof *v);
    if (!v)
        return MLPT_ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        if (!others_only || b->run[i] != run)
            v[(*n)++] = b->value[i];
    *out = v;
    return 0;
}

static int asha_report(sched_pruner_t *p, int64_t run, int64_t planned, int64_t iteration,
                       double value, char *note, size_t note_len) {
    int bracket;
    sched_pruner_cfg_t asha = asha_of(p, run, &bracket);
    int k = sched_asha_rung(&asha, iteration, planned);
    if (k < 0)
        return 0;
    int rc = record_add(p, run, iteration, value);
    double *v = NULL, cutoff;
    size_t n = 0;
    if (rc == 0)
        rc = values_at(p, iteration, run, 0, &v, &n);
    if (rc != 0)
        return rc;
    if (v) /* values_at allocated the whole bucket's size */
        only_bracket(p, &p->at[iteration - 1], bracket, v, &n);
    int keep = sched_asha_promote(v, n, value, p->cfg.reduction_factor, &cutoff);
    free(v);
    if (keep)
        return 0;
    if (note && note_len && bracket >= 0)
        snprintf(note, note_len, "pruned at rung %d of bracket %d (iteration %lld): %.4g < %.4g", k,
                 bracket, (long long)iteration, value, cutoff);
    else if (note && note_len)
        snprintf(note, note_len, "pruned at rung %d (iteration %lld): %.4g < %.4g", k,
                 (long long)iteration, value, cutoff);
    return 1;
}

static int median_report(sched_pruner_t *p, run_t *r, int64_t iteration, double value, char *note,
                         size_t note_len) {
    int64_t run = r->id;
    int rc = record_add(p, run, iteration, value);
    double *v = NULL, median;
    size_t n = 0;
    if (rc == 0)
        rc = values_at(p, iteration, run, 1, &v, &n);
    if (rc != 0)
        return rc;
    int keep = sched_median_keep(&p->cfg, iteration, r->best, v, n, &median);
    free(v);
    if (keep)
        return 0;
    if (note && note_len)
        snprintf(note, note_len,
                 "pruned at iteration %lld: best %.4g < median %.4g of %zu other trials",
                 (long long)iteration, r->best, median, n);
    return 1;
}

/* The run's row at iteration, once: its last iteration and best value advance. Returns the run,
 * or NULL with *rc 0 (a non-finite value, an old or repeated iteration, a stopped run: nothing
 * to do) or MLPT_ENOMEM. */
static run_t *run_advance(sched_pruner_t *p, int64_t run, int64_t iteration, double value,
                          int *rc) {
    *rc = 0;
    if (!isfinite(value))
        return NULL;
    run_t *r = run_get(p, run);
    if (!r) {
        *rc = MLPT_ENOMEM;
        return NULL;
    }
    if (iteration <= r->last || r->stopped)
        return NULL;
    r->last = iteration;
    if (isnan(r->best) || value > r->best)
        r->best = value;
    return r;
}

int sched_pruner_report(sched_pruner_t *p, int64_t run, int64_t planned, int64_t iteration,
                        double value, char *note, size_t note_len) {
    if (note && note_len)
        note[0] = 0;
    int rc;
    run_t *r = run_advance(p, run, iteration, value, &rc);
    if (!r)
        return rc;
    if (p->cfg.type == SCHED_PRUNER_ASHA || p->cfg.type == SCHED_PRUNER_HYPERBAND)
        rc = asha_report(p, run, planned, iteration, value, note, note_len);
    else if (p->cfg.type == SCHED_PRUNER_MEDIAN)
        rc = median_report(p, r, iteration, value, note, note_len);
    if (rc == 1)
        r->stopped = 1;
    return rc;
}

int sched_pruner_record(sched_pruner_t *p, int64_t run, int64_t planned, int64_t iteration,
                        double value) {
    int rc;
    if (!run_advance(p, run, iteration, value, &rc))
        return rc;
    int bracket;
    sched_pruner_cfg_t asha = asha_of(p, run, &bracket);
    if (p->cfg.type != SCHED_PRUNER_MEDIAN && sched_asha_rung(&asha, iteration, planned) < 0)
        return 0;
    return record_add(p, run, iteration, value);
}

int64_t sched_pruner_note_iteration(const char *note) {
    static const char *const marks[] = {"(iteration ", "pruned at iteration "};
    for (size_t i = 0; note && i < sizeof marks / sizeof marks[0]; i++) {
        const char *at = strstr(note, marks[i]);
        if (at) {
            long long x = strtoll(at + strlen(marks[i]), NULL, 10);
            return x > 0 ? (int64_t)x : 0;
        }
    }
    return 0;
}
