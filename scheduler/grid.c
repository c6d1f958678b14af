/*
 * grid.c - expansion of a sweep's axes into trials, and the trial parameter JSON, both walking
 * the parameter table (params.h).
 */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"
#include "params.h"

static size_t mul_sat(size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a)
        return SIZE_MAX;
    return a * b;
}

/* Number of network shapes the spec names (before duplicates are removed). */
static size_t shape_count(const sched_spec_t *s) {
    if (s->n_layers > 0)
        return s->n_layers;
    return mul_sat(s->n_hidden_layers, s->n_neurons);
}

static void shape_at(const sched_spec_t *s, size_t i, sched_shape_t *out) {
    memset(out, 0, sizeof *out);
    if (s->n_layers > 0) {
        *out = s->layers[i];
        return;
    }
    size_t depth = s->hidden_layers[i / s->n_neurons];
    size_t width = s->neurons[i % s->n_neurons];
    out->n_hidden = depth;
    for (size_t l = 0; l < depth && l < TRAINER_MAX_HIDDEN; l++)
        out->hidden[l] = width;
}

size_t sched_grid_count(const sched_spec_t *s) {
    size_t n = shape_count(s);
    for (size_t i = 0; i < sched_param_count; i++)
        if (sched_param_table[i].type != SCHED_PARAM_SHAPE)
            n = mul_sat(n, sched_param_spec_len(&sched_param_table[i], s));
    return n;
}

/* Trial k of the Cartesian product: the shape outermost, then each row in table order, the
 * last row innermost (so the order is the nested loops' of the table). */
static void trial_at(const sched_spec_t *s, size_t k, sched_params_t *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = sched_param_count; i-- > 0;) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        size_t n = sched_param_spec_len(r, s); /* a LATE row's empty axis: its default */
        sched_value_t v;
        sched_param_spec_get(r, s, k % n, &v);
        sched_param_set(r, p, &v);
        k /= n;
    }
    shape_at(s, k, &p->shape);
    p->n_test_groups = s->n_test_groups;
    memcpy(p->test_groups, s->test_groups, sizeof p->test_groups);
}

int sched_grid_expand(const sched_spec_t *s, size_t max_trials, sched_params_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t total = sched_grid_count(s);
    if (total == 0)
        return MLPT_EINVAL;
    /* Duplicates can only shrink the grid, but a grid this large is refused outright: the
     * caller names the limit before anything is allocated. */
    if (total > max_trials)
        return MLPT_ELIMIT;
    sched_params_t *t = malloc(total * sizeof *t);
    if (!t)
        return MLPT_ENOMEM;
    size_t count = 0;
    for (size_t i = 0; i < total; i++) {
        sched_params_t p;
        trial_at(s, i, &p);
        size_t k = 0;
        while (k < count && !sched_params_same(&t[k], &p, 0))
            k++;
        if (k == count)
            t[count++] = p;
    }
    *out = t;
    *n = count;
    return 0;
}

/* The shape's members: "hidden_layers", "neurons" (the width when every hidden layer has it,
 * else null) and "layers" (the widths). */
static int shape_to_json(json_t *o, const sched_shape_t *sh) {
    json_t *layers = json_array();
    if (!layers)
        return -1;
    int uniform = 1, bad = 0;
    for (size_t l = 0; l < sh->n_hidden; l++) {
        bad |= json_array_append_new(layers, json_integer((json_int_t)sh->hidden[l]));
        if (sh->hidden[l] != sh->hidden[0])
            uniform = 0;
    }
    json_t *neurons =
        sh->n_hidden > 0 && uniform ? json_integer((json_int_t)sh->hidden[0]) : json_null();
    bad |= json_object_set_new(o, "hidden_layers", json_integer((json_int_t)sh->n_hidden));
    bad |= json_object_set_new(o, "neurons", neurons);
    bad |= json_object_set_new(o, "layers", layers);
    return bad ? -1 : 0;
}

json_t *sched_params_to_json(const sched_params_t *p) {
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        int bad;
        if (r->type == SCHED_PARAM_SHAPE) {
            bad = shape_to_json(o, &p->shape);
        } else {
            sched_value_t v;
            sched_param_get(r, p, &v);
            bad = json_object_set_new(o, r->name, sched_param_value_json(r, &v));
        }
        if (bad) {
            json_decref(o);
            return NULL;
        }
    }
    if (p->n_test_groups) {
        json_t *ids = json_array();
        for (size_t i = 0; ids && i < p->n_test_groups; i++)
            json_array_append_new(ids, json_integer(p->test_groups[i]));
        if (json_object_set_new(o, "test_subjects", ids) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static int shape_from_json(const json_t *obj, sched_shape_t *sh) {
    const json_t *layers = json_object_get(obj, "layers");
    if (!json_is_array(layers) || json_array_size(layers) > TRAINER_MAX_HIDDEN)
        return MLPT_EFORMAT;
    sh->n_hidden = json_array_size(layers);
    for (size_t l = 0; l < sh->n_hidden; l++) {
        json_t *w = json_array_get(layers, l);
        if (!json_is_integer(w) || json_integer_value(w) < 1)
            return MLPT_EFORMAT;
        sh->hidden[l] = (size_t)json_integer_value(w);
    }
    return 0;
}

int sched_params_from_json(const json_t *obj, sched_params_t *p) {
    sched_params_defaults(p);
    if (!json_is_object(obj))
        return MLPT_EFORMAT;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE) {
            if (shape_from_json(obj, &p->shape) != 0)
                return MLPT_EFORMAT;
            continue;
        }
        const json_t *j = json_object_get(obj, r->name);
        if (!j && (r->flags & SCHED_PARAM_LATE))
            continue; /* stored before the parameter existed: its default */
        sched_value_t v;
        char why[160];
        if (!j || sched_param_check_json(r, j, r->max, NULL, &v, why, sizeof why) != 0)
            return MLPT_EFORMAT;
        sched_param_set(r, p, &v);
    }
    const json_t *ids = json_object_get(obj, "test_subjects");
    if (ids && (!json_is_array(ids) || json_array_size(ids) > SCHED_MAX_TEST_GROUPS))
        return MLPT_EFORMAT;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *id = json_array_get(ids, i);
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX)
            return MLPT_EFORMAT;
        p->test_groups[p->n_test_groups++] = (int32_t)json_integer_value(id);
    }
    return 0;
}

void sched_params_arch(const sched_params_t *p, size_t inputs, size_t outputs,
                       trainer_arch_t *arch) {
    memset(arch, 0, sizeof *arch);
    arch->inputs = inputs;
    arch->outputs = outputs;
    arch->n_hidden = p->shape.n_hidden;
    memcpy(arch->hidden, p->shape.hidden, sizeof arch->hidden);
    arch->activation = p->activation;
}
