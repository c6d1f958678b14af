/*
 * params.c - the generic code of the parameter table (see params.h; the rows are in
 * params_table.c): a row's value wherever it lives, equality, domains, JSON, the trainer options.
 */
#include "params.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"

const sched_param_t *sched_param_find(const char *name) {
    for (size_t i = 0; name && i < sched_param_count; i++)
        if (!strcmp(sched_param_table[i].name, name))
            return &sched_param_table[i];
    return NULL;
}

/* ---- values where they live --------------------------------------------------------------- */

static void value_read(sched_param_store_t store, const void *at, sched_value_t *v) {
    memset(v, 0, sizeof *v);
    switch (store) {
    case SCHED_STORE_SIZE: {
        size_t x;
        memcpy(&x, at, sizeof x);
        v->i = x;
        break;
    }
    case SCHED_STORE_U64:
        memcpy(&v->i, at, sizeof v->i);
        break;
    case SCHED_STORE_DOUBLE:
        memcpy(&v->r, at, sizeof v->r);
        break;
    case SCHED_STORE_ENUM:
        memcpy(&v->e, at, sizeof v->e);
        break;
    case SCHED_STORE_SHAPE:
        break;
    }
}

static void value_write(sched_param_store_t store, void *at, const sched_value_t *v) {
    switch (store) {
    case SCHED_STORE_SIZE: {
        size_t x = (size_t)v->i;
        memcpy(at, &x, sizeof x);
        break;
    }
    case SCHED_STORE_U64:
        memcpy(at, &v->i, sizeof v->i);
        break;
    case SCHED_STORE_DOUBLE:
        memcpy(at, &v->r, sizeof v->r);
        break;
    case SCHED_STORE_ENUM:
        memcpy(at, &v->e, sizeof v->e);
        break;
    case SCHED_STORE_SHAPE:
        break;
    }
}

static size_t store_size(sched_param_store_t store) {
    switch (store) {
    case SCHED_STORE_SIZE:
        return sizeof(size_t);
    case SCHED_STORE_U64:
        return sizeof(uint64_t);
    case SCHED_STORE_DOUBLE:
        return sizeof(double);
    case SCHED_STORE_ENUM:
        return sizeof(int);
    case SCHED_STORE_SHAPE:
        return sizeof(sched_shape_t);
    }
    return 0;
}

void sched_param_get(const sched_param_t *r, const sched_params_t *p, sched_value_t *v) {
    value_read(r->store, (const char *)p + r->param_off, v);
}

void sched_param_set(const sched_param_t *r, sched_params_t *p, const sched_value_t *v) {
    value_write(r->store, (char *)p + r->param_off, v);
}

static void default_value(const sched_param_t *r, sched_value_t *v);

/* The axis length as stored (1 for a sweep-wide row). */
static size_t spec_stored_len(const sched_param_t *r, const sched_spec_t *s) {
    if (r->spec_n_off == SIZE_MAX)
        return 1;
    size_t n;
    memcpy(&n, (const char *)s + r->spec_n_off, sizeof n);
    return n;
}

size_t sched_param_spec_len(const sched_param_t *r, const sched_spec_t *s) {
    size_t n = spec_stored_len(r, s);
    return n == 0 && (r->flags & SCHED_PARAM_LATE) ? 1 : n;
}

void sched_param_spec_get(const sched_param_t *r, const sched_spec_t *s, size_t i,
                          sched_value_t *v) {
    if (spec_stored_len(r, s) == 0 && (r->flags & SCHED_PARAM_LATE)) {
        default_value(r, v);
        return;
    }
    value_read(r->store, (const char *)s + r->spec_off + i * store_size(r->store), v);
}

void sched_param_spec_set(const sched_param_t *r, sched_spec_t *s, const sched_value_t *v,
                          size_t n) {
    if (r->spec_n_off != SIZE_MAX)
        memcpy((char *)s + r->spec_n_off, &n, sizeof n);
    for (size_t i = 0; i < n && i < SCHED_MAX_AXIS; i++)
        value_write(r->store, (char *)s + r->spec_off + i * store_size(r->store), &v[i]);
}

int sched_param_same(const sched_param_t *r, const sched_params_t *a, const sched_params_t *b) {
    if (r->store == SCHED_STORE_SHAPE) {
        const sched_shape_t *x = (const void *)((const char *)a + r->param_off);
        const sched_shape_t *y = (const void *)((const char *)b + r->param_off);
        if (x->n_hidden != y->n_hidden)
            return 0;
        for (size_t l = 0; l < x->n_hidden && l < TRAINER_MAX_HIDDEN; l++)
            if (x->hidden[l] != y->hidden[l])
                return 0;
        return 1;
    }
    sched_value_t x, y;
    sched_param_get(r, a, &x);
    sched_param_get(r, b, &y);
    switch (r->type) {
    case SCHED_PARAM_REAL:
        return x.r == y.r;
    case SCHED_PARAM_ENUM:
        return x.e == y.e;
    default:
        return x.i == y.i;
    }
}

int sched_params_same(const sched_params_t *a, const sched_params_t *b, unsigned skip) {
    if (a->schedule == TRAINER_SCHED_COSINE || b->schedule == TRAINER_SCHED_COSINE)
        skip &= ~SCHED_PARAM_RUN_LENGTH;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (!(r->flags & skip) && !sched_param_same(r, a, b))
            return 0;
    }
    return 1;
}

static void default_value(const sched_param_t *r, sched_value_t *v) {
    memset(v, 0, sizeof *v);
    if (r->type == SCHED_PARAM_REAL)
        v->r = r->def;
    else if (r->type == SCHED_PARAM_ENUM)
        v->e = (int)r->def;
    else
        v->i = (uint64_t)r->def;
}

void sched_params_defaults(sched_params_t *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        sched_value_t v;
        default_value(r, &v);
        sched_param_set(r, p, &v);
    }
}

/* ---- names and domains ---------------------------------------------------------------------- */

int sched_param_choice_parse(const sched_param_t *r, const char *name, int *value) {
    for (size_t i = 0; name && i < r->n_choices; i++)
        if (!strcmp(name, r->choices[i].name) ||
            (r->choices[i].alias && !strcmp(name, r->choices[i].alias))) {
            *value = r->choices[i].value;
            return 0;
        }
    return MLPT_EINVAL;
}

const char *sched_param_choice_name(const sched_param_t *r, int value) {
    for (size_t i = 0; i < r->n_choices; i++)
        if (r->choices[i].value == value)
            return r->choices[i].name;
    return "unknown";
}

/* `must be one of "a", "b", "c"`. */
static void choices_message(const sched_param_t *r, char *why, size_t len) {
    size_t n = (size_t)snprintf(why, len, "must be one of ");
    for (size_t i = 0; i < r->n_choices && n < len; i++)
        n += (size_t)snprintf(why + n, len - n, "%s\"%s\"", i ? ", " : "", r->choices[i].name);
}

static int check_int(const sched_param_t *r, long long x, long long max, const char *limit,
                     sched_value_t *v, char *why, size_t len) {
    if (max > r->max || max < r->min)
        max = r->max;
    if (x < r->min) {
        snprintf(why, len, "must be >= %lld (got %lld)", r->min, x);
        return MLPT_EINVAL;
    }
    if (x > max) {
        if (limit)
            snprintf(why, len, "%lld exceeds the limit %s (%lld)", x, limit, max);
        else
            snprintf(why, len, "must be <= %lld (got %lld)", max, x);
        return MLPT_EINVAL;
    }
    v->i = (uint64_t)x;
    return 0;
}

static int check_real(const sched_param_t *r, double x, sched_value_t *v, char *why, size_t len) {
    if (r->domain == SCHED_REAL_POSITIVE && !(x > 0 && isfinite(x))) {
        snprintf(why, len, "must be > 0 (got %g)", x);
        return MLPT_EINVAL;
    }
    if (r->domain == SCHED_REAL_UNIT_OPEN && !(x >= 0 && x < 1)) {
        snprintf(why, len, "must be >= 0 and < 1 (got %g)", x);
        return MLPT_EINVAL;
    }
    if (r->domain == SCHED_REAL_NONNEG && !(x >= 0 && isfinite(x))) {
        snprintf(why, len, "must be >= 0 (got %g)", x);
        return MLPT_EINVAL;
    }
    if (r->domain == SCHED_REAL_UNIT_LEFT_OPEN && !(x > 0 && x <= 1)) {
        snprintf(why, len, "must be > 0 and <= 1 (got %g)", x);
        return MLPT_EINVAL;
    }
    if (r->domain == SCHED_REAL_NONNEG && !(x <= FLT_MAX)) {
        snprintf(why, len, "must be within the float32 range, 0 to %g (got %g)", (double)FLT_MAX,
                 x);
        return MLPT_EINVAL;
    }
    /* The trainer takes these as float32: a value that becomes 0, infinity or 1 there would
     * fail every trial ("invalid argument"), so it is refused here. */
    if ((r->domain == SCHED_REAL_POSITIVE || r->domain == SCHED_REAL_UNIT_LEFT_OPEN) &&
        !(x >= FLT_TRUE_MIN && x <= FLT_MAX)) {
        snprintf(why, len, "must be within the float32 range, %g to %g (got %g)",
                 (double)FLT_TRUE_MIN, (double)FLT_MAX, x);
        return MLPT_EINVAL;
    }
    if (r->domain == SCHED_REAL_UNIT_OPEN && !((float)x < 1.0f)) {
        snprintf(why, len, "must be < 1 as a float32 (got %.15g, which rounds to 1)", x);
        return MLPT_EINVAL;
    }
    v->r = x;
    return 0;
}

int sched_param_check_json(const sched_param_t *r, const json_t *j, long long max,
                           const char *limit, sched_value_t *v, char *why, size_t why_len) {
    memset(v, 0, sizeof *v);
    switch (r->type) {
    case SCHED_PARAM_INT:
        if (!json_is_integer(j)) {
            snprintf(why, why_len, "must be an integer");
            return MLPT_EINVAL;
        }
        return check_int(r, (long long)json_integer_value(j), max, limit, v, why, why_len);
    case SCHED_PARAM_REAL:
        if (!json_is_number(j)) {
            snprintf(why, why_len, "must be a number");
            return MLPT_EINVAL;
        }
        return check_real(r, json_number_value(j), v, why, why_len);
    case SCHED_PARAM_ENUM:
        if (sched_param_choice_parse(r, json_string_value(j), &v->e) != 0) {
            choices_message(r, why, why_len);
            return MLPT_EINVAL;
        }
        return 0;
    case SCHED_PARAM_SHAPE:
        break;
    }
    snprintf(why, why_len, "is not a single value");
    return MLPT_EINVAL;
}

int sched_param_check_text(const sched_param_t *r, const char *text, sched_value_t *v, char *why,
                           size_t why_len) {
    memset(v, 0, sizeof *v);
    char *end = NULL;
    errno = 0;
    switch (r->type) {
    case SCHED_PARAM_INT: {
        long long x = text && *text ? strtoll(text, &end, 10) : 0;
        if (!text || !*text || *text == ' ' || errno || *end) {
            snprintf(why, why_len, "expected an integer, got \"%s\"", text ? text : "");
            return MLPT_EINVAL;
        }
        return check_int(r, x, r->max, NULL, v, why, why_len);
    }
    case SCHED_PARAM_REAL: {
        double x = text && *text ? strtod(text, &end) : NAN;
        if (!text || !*text || errno || *end || !isfinite(x)) {
            snprintf(why, why_len, "expected a finite number, got \"%s\"", text ? text : "");
            return MLPT_EINVAL;
        }
        return check_real(r, x, v, why, why_len);
    }
    case SCHED_PARAM_ENUM:
        if (sched_param_choice_parse(r, text, &v->e) != 0) {
            size_t n = (size_t)snprintf(why, why_len, "expected ");
            for (size_t i = 0; i < r->n_choices && n < why_len; i++)
                n += (size_t)snprintf(why + n, why_len - n, "%s%s",
                                      i == 0                  ? ""
                                      : i + 1 == r->n_choices ? " or "
                                                              : ", ",
                                      r->choices[i].name);
            if (n < why_len)
                snprintf(why + n, why_len - n, ", got \"%s\"", text ? text : "");
            return MLPT_EINVAL;
        }
        return 0;
    case SCHED_PARAM_SHAPE:
        break;
    }
    snprintf(why, why_len, "is not a single value");
    return MLPT_EINVAL;
}

json_t *sched_param_value_json(const sched_param_t *r, const sched_value_t *v) {
    switch (r->type) {
    case SCHED_PARAM_INT:
        return json_integer((json_int_t)v->i);
    case SCHED_PARAM_REAL:
        return json_real(v->r);
    case SCHED_PARAM_ENUM:
        return json_string(sched_param_choice_name(r, v->e));
    case SCHED_PARAM_SHAPE:
        break;
    }
    return NULL;
}

/* ---- the trainer's view of a trial ---------------------------------------------------------- */

/* The trainer's rule for a sweep's scaling (auto is the dataset's own rule: rescale 0). */
static trainer_scaling_t trainer_rule(sched_scaling_t s) {
    switch (s) {
    case SCHED_SCALING_MINMAX:
        return TRAINER_SCALE_MINMAX;
    case SCHED_SCALING_GLOBAL_MINMAX:
        return TRAINER_SCALE_GLOBAL_MINMAX;
    case SCHED_SCALING_NONE:
        return TRAINER_SCALE_UNIT;
    default:
        return TRAINER_SCALE_STANDARDIZE;
    }
}

void sched_params_trainer_options(const sched_params_t *p, trainer_options_t *opt) {
    opt->learning_rate = (float)p->learning_rate;
    opt->momentum = (float)p->momentum;
    opt->batch_size = p->batch_size;
    opt->iterations = p->iterations;
    opt->seed = p->seed;
    opt->rescale = p->scaling != SCHED_SCALING_AUTO;
    opt->scaling = trainer_rule(p->scaling);
    opt->dropout_input = (float)p->dropout_input;
    opt->dropout_hidden = (float)p->dropout_hidden;
    opt->optimizer = p->optimizer;
    opt->beta1 = (float)p->beta1;
    opt->beta2 = (float)p->beta2;
    opt->epsilon = (float)p->epsilon;
    opt->rho = (float)p->rho;
    opt->l2 = (float)p->l2;
    opt->weight_decay = (float)p->weight_decay;
    opt->schedule = p->schedule;
    opt->lr_gamma = (float)p->lr_gamma;
    opt->lr_step = p->lr_step;
    opt->lr_min = (float)p->lr_min;
    opt->power_t = (float)p->power_t;
    opt->warmup = p->warmup;
}

/* ---- the table for the dashboard ------------------------------------------------------------ */

/* The shape's fields in the New sweep form (grid.layers has no field there: its errors are
 * shown beside neurons). */
static json_t *shape_fields_json(void) {
    return json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "key", "hidden_layers",
                     "label", "Hidden layers", "hint", "Depths, e.g. 1, 2 (0 = no hidden layer)",
                     "value", "1, 2", "key", "neurons", "label", "Neurons per layer", "hint",
                     "Widths, e.g. 32, 64", "value", "32, 64");
}

static const char *type_name(sched_param_type_t t) {
    static const char *const names[] = {"layers", "int", "real", "enum"};
    return names[t];
}

static int set_str(json_t *o, const char *key, const char *s) {
    return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

static int columns_json(json_t *o, const sched_param_t *r) {
    if (!r->n_columns)
        return 0;
    json_t *a = json_array();
    int bad = !a;
    for (size_t i = 0; a && i < r->n_columns; i++) {
        const sched_param_column_t *c = &r->columns[i];
        bad |= json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i}", "key", c->key, "label",
                                                  c->label, "head", c->head, "width", c->width));
    }
    bad |= json_object_set_new(o, "columns", a);
    bad |= json_object_set_new(o, "column_order", json_integer(r->column_order));
    bad |= json_object_set_new(o, "leaderboard", json_boolean(r->leaderboard));
    return bad;
}

static json_t *row_json(const sched_param_t *r) {
    json_t *o = json_object(), *form = json_object();
    if (!o || !form) {
        json_decref(o);
        json_decref(form);
        return NULL;
    }
    int bad = json_object_set_new(o, "name", json_string(r->name));
    bad |= json_object_set_new(o, "type", json_string(type_name(r->type)));
    bad |= json_object_set_new(o, "grid", json_boolean(r->flags & SCHED_PARAM_GRID));
    bad |= json_object_set_new(o, "training", json_boolean(r->flags & SCHED_PARAM_TRAINING));
    bad |= json_object_set_new(o, "required", json_boolean(r->flags & SCHED_PARAM_REQUIRED));
    bad |=
        json_object_set_new(o, "changes_shape", json_boolean(r->flags & SCHED_PARAM_MODEL_SHAPE));
    bad |= json_object_set_new(o, "shares_run", json_boolean(r->flags & SCHED_PARAM_RUN_LENGTH));
    if (r->type == SCHED_PARAM_SHAPE) {
        bad |= json_object_set_new(o, "max_layers", json_integer(r->max));
        bad |= json_object_set_new(o, "max_neurons", json_integer(TRAINER_MAX_WIDTH));
    } else {
        sched_value_t d;
        default_value(r, &d);
        bad |= json_object_set_new(o, "default", sched_param_value_json(r, &d));
    }
    if (r->type == SCHED_PARAM_INT) {
        bad |= json_object_set_new(o, "min", json_integer(r->min));
        bad |= json_object_set_new(o, "max", json_integer(r->max));
        bad |= set_str(o, "limit", r->limit);
    }
    if (r->type == SCHED_PARAM_REAL) {
        bad |= json_object_set_new(o, "min", json_integer(0));
        bad |= json_object_set_new(o, "min_exclusive",
                                   json_boolean(r->domain == SCHED_REAL_POSITIVE ||
                                                r->domain == SCHED_REAL_UNIT_LEFT_OPEN));
        if (r->domain == SCHED_REAL_UNIT_OPEN || r->domain == SCHED_REAL_UNIT_LEFT_OPEN) {
            bad |= json_object_set_new(o, "max", json_integer(1));
            bad |= json_object_set_new(o, "max_exclusive",
                                       json_boolean(r->domain == SCHED_REAL_UNIT_OPEN));
        }
    }
    if (r->type == SCHED_PARAM_ENUM) {
        json_t *c = json_array();
        for (size_t i = 0; c && i < r->n_choices; i++)
            bad |= json_array_append_new(c, json_string(r->choices[i].name));
        bad |= json_object_set_new(o, "choices", c);
    }
    bad |= set_str(o, "flag", r->flag ? r->flag : NULL);
    bad |= set_str(o, "help", r->flag_help);
    bad |= set_str(form, "label", r->label);
    bad |= set_str(form, "hint", r->hint);
    bad |= set_str(form, "section", r->form_section);
    bad |= json_object_set_new(form, "order", json_integer(r->form_order));
    bad |= set_str(form, "value", r->form_value);
    bad |= set_str(form, "min", r->form_min);
    bad |= set_str(form, "max", r->form_max);
    bad |= set_str(form, "step", r->form_step);
    bad |= set_str(form, "noun", r->noun);
    if (r->type == SCHED_PARAM_SHAPE)
        bad |= json_object_set_new(form, "fields", shape_fields_json());
    bad |= json_object_set_new(o, "form", form);
    bad |= columns_json(o, r);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

size_t sched_param_columns(const sched_param_t **rows) {
    size_t n = 0;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (!r->n_columns)
            continue;
        size_t k = n++;
        for (; k > 0 && rows[k - 1]->column_order > r->column_order; k--)
            rows[k] = rows[k - 1];
        rows[k] = r;
    }
    return n;
}

int sched_param_column_left(const sched_param_t *r, size_t col) {
    return r->type == SCHED_PARAM_SHAPE ? col > 0 : r->type != SCHED_PARAM_INT;
}

json_t *sched_param_table_json(void) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < sched_param_count; i++)
        if (json_array_append_new(a, row_json(&sched_param_table[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

int sched_params_split(const sched_params_t *p, const trainer_dataset_t *ds, trainer_split_t *out,
                       char *why, size_t cap) {
    int grouped = p->n_test_groups > 0 || p->split_by == SCHED_SPLIT_GROUP ||
                  (p->split_by == SCHED_SPLIT_AUTO && ds->group);
    if (!grouped)
        return trainer_split_stratified(ds, p->validation_split, p->seed, out);
    if (!ds->group) {
        snprintf(why, cap, "split_by group needs a dataset with subjects (a recording or windows)");
        return MLPT_EINVAL;
    }
    int rc = trainer_split_grouped(ds, p->validation_split, p->seed, p->test_groups,
                                   p->n_test_groups, out);
    if (rc == MLPT_EINVAL)
        snprintf(why, cap, "no subject is left to train on once the test subjects are held out");
    return rc;
}
