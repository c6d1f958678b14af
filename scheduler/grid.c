/*
 * grid.c - expansion of a sweep's axes into trials, and the trial parameter JSON.
 */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlpt_err.h"

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
    n = mul_sat(n, s->n_activation);
    n = mul_sat(n, s->n_batch_size);
    n = mul_sat(n, s->n_momentum);
    n = mul_sat(n, s->n_learning_rate);
    n = mul_sat(n, s->n_iterations);
    return n;
}

static int same_params(const sched_params_t *a, const sched_params_t *b) {
    if (a->shape.n_hidden != b->shape.n_hidden)
        return 0;
    for (size_t l = 0; l < a->shape.n_hidden; l++)
        if (a->shape.hidden[l] != b->shape.hidden[l])
            return 0;
    return a->activation == b->activation && a->batch_size == b->batch_size &&
           a->momentum == b->momentum && a->learning_rate == b->learning_rate &&
           a->iterations == b->iterations;
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
    size_t n_shapes = shape_count(s);
    for (size_t si = 0; si < n_shapes; si++) {
        sched_shape_t shape;
        shape_at(s, si, &shape);
        for (size_t a = 0; a < s->n_activation; a++)
            for (size_t b = 0; b < s->n_batch_size; b++)
                for (size_t m = 0; m < s->n_momentum; m++)
                    for (size_t r = 0; r < s->n_learning_rate; r++)
                        for (size_t it = 0; it < s->n_iterations; it++) {
                            sched_params_t p = {
                                .shape = shape,
                                .activation = s->activation[a],
                                .batch_size = s->batch_size[b],
                                .momentum = s->momentum[m],
                                .learning_rate = s->learning_rate[r],
                                .iterations = s->iterations[it],
                                .validation_split = s->validation_split,
                                .seed = s->seed,
                                .scaling = s->scaling,
                                .init = s->init,
                            };
                            size_t k = 0;
                            while (k < count && !same_params(&t[k], &p))
                                k++;
                            if (k == count)
                                t[count++] = p;
                        }
    }
    *out = t;
    *n = count;
    return 0;
}

json_t *sched_params_to_json(const sched_params_t *p) {
    json_t *layers = json_array();
    if (!layers)
        return NULL;
    int uniform = 1;
    for (size_t l = 0; l < p->shape.n_hidden; l++) {
        json_array_append_new(layers, json_integer((json_int_t)p->shape.hidden[l]));
        if (p->shape.hidden[l] != p->shape.hidden[0])
            uniform = 0;
    }
    json_t *neurons = p->shape.n_hidden > 0 && uniform
                          ? json_integer((json_int_t)p->shape.hidden[0])
                          : json_null();
    return json_pack("{s:I, s:o, s:o, s:s, s:I, s:f, s:f, s:I, s:f, s:I, s:s, s:s}",
                     "hidden_layers", (json_int_t)p->shape.n_hidden, "neurons", neurons, "layers",
                     layers, "activation", trainer_activation_name(p->activation), "batch_size",
                     (json_int_t)p->batch_size, "momentum", p->momentum, "learning_rate",
                     p->learning_rate, "iterations", (json_int_t)p->iterations, "validation_split",
                     p->validation_split, "seed", (json_int_t)p->seed, "scaling",
                     sched_scaling_name(p->scaling), "init", trainer_init_name(p->init));
}

int sched_params_from_json(const json_t *obj, sched_params_t *p) {
    json_t *layers = NULL;
    const char *act = NULL;
    json_int_t batch, iterations, seed;
    double momentum, lr, vsplit;
    json_error_t jerr;
    memset(p, 0, sizeof *p);
    if (json_unpack_ex((json_t *)obj, &jerr, 0, "{s:o, s:s, s:I, s:F, s:F, s:I, s:F, s:I}",
                       "layers", &layers, "activation", &act, "batch_size", &batch, "momentum",
                       &momentum, "learning_rate", &lr, "iterations", &iterations,
                       "validation_split", &vsplit, "seed", &seed) != 0)
        return MLPT_EFORMAT;
    if (!json_is_array(layers) || json_array_size(layers) > TRAINER_MAX_HIDDEN ||
        trainer_activation_parse(act, &p->activation) != 0 || batch < 1 || iterations < 1 ||
        !(lr > 0.0) || !(momentum >= 0.0 && momentum < 1.0) || !(vsplit >= 0.0 && vsplit < 1.0))
        return MLPT_EFORMAT;
    p->shape.n_hidden = json_array_size(layers);
    for (size_t l = 0; l < p->shape.n_hidden; l++) {
        json_t *w = json_array_get(layers, l);
        if (!json_is_integer(w) || json_integer_value(w) < 1)
            return MLPT_EFORMAT;
        p->shape.hidden[l] = (size_t)json_integer_value(w);
    }
    p->batch_size = (size_t)batch;
    p->iterations = (size_t)iterations;
    p->momentum = momentum;
    p->learning_rate = lr;
    p->validation_split = vsplit;
    p->seed = (uint64_t)seed;
    const json_t *sc = json_object_get(obj, "scaling");
    if (sc && sched_scaling_parse(json_string_value(sc), &p->scaling) != 0)
        return MLPT_EFORMAT;
    const json_t *in = json_object_get(obj, "init");
    if (in && trainer_init_parse(json_string_value(in), &p->init) != 0)
        return MLPT_EFORMAT;
    return 0;
}

static const char *const scaling_names[] = {"auto", "standardize", "minmax", "none",
                                            "global_minmax"};

const char *sched_scaling_name(sched_scaling_t s) {
    return (unsigned)s < sizeof scaling_names / sizeof scaling_names[0] ? scaling_names[s]
                                                                        : "unknown";
}

int sched_scaling_parse(const char *name, sched_scaling_t *out) {
    for (size_t i = 0; name && i < sizeof scaling_names / sizeof scaling_names[0]; i++)
        if (!strcmp(name, scaling_names[i])) {
            *out = (sched_scaling_t)i;
            return 0;
        }
    return MLPT_EINVAL;
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
