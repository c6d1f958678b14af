/*
 * model_io.c - the model file format (version 1), all integers and floats little-endian
 * (trainer/le.h):
 *   "MLPTMODL"  u32 version  u32 activation  u32 inputs  u32 outputs  u32 n_hidden
 *   u32 hidden[n_hidden]  u64 n_params  f32 input_shift[inputs]  f32 input_scale[inputs]
 *   f32 params[n_params]
 */
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "mlp.h"
#include "mlpt_err.h"

#define MODEL_MAGIC "MLPTMODL"
#define MODEL_VERSION 1u

typedef struct {
    unsigned char *p;
} writer_t;

/* The writer's and the reader's cursors over trainer/le.h's codec. */
static void put_u32(writer_t *w, uint32_t v) {
    trainer_le_put_u32(w->p, v);
    w->p += 4;
}

static void put_u64(writer_t *w, uint64_t v) {
    trainer_le_put_u64(w->p, v);
    w->p += 8;
}

static void put_floats(writer_t *w, const float *f, size_t n) {
    trainer_le_put_f32s(w->p, f, n);
    w->p += 4 * n;
}

typedef struct {
    const unsigned char *p, *end;
} reader_t;

static int get_u32(reader_t *r, uint32_t *v) {
    if (r->end - r->p < 4)
        return MLPT_EFORMAT;
    *v = trainer_le_get_u32(r->p);
    r->p += 4;
    return 0;
}

static int get_u64(reader_t *r, uint64_t *v) {
    if (r->end - r->p < 8)
        return MLPT_EFORMAT;
    *v = trainer_le_get_u64(r->p);
    r->p += 8;
    return 0;
}

static int get_floats(reader_t *r, float *f, size_t n) {
    if ((size_t)(r->end - r->p) / 4 < n)
        return MLPT_EFORMAT;
    trainer_le_get_f32s(f, r->p, n);
    r->p += 4 * n;
    return 0;
}

int trainer_model_save(const trainer_model_t *m, unsigned char **buf, size_t *len) {
    const trainer_arch_t *a = &m->arch;
    size_t n = 8 + 4 * 5 + 4 * a->n_hidden + 8 + 4 * (2 * a->inputs + m->n_params);
    unsigned char *b = malloc(n);
    if (!b)
        return MLPT_ENOMEM;
    memcpy(b, MODEL_MAGIC, 8);
    writer_t w = {b + 8};
    put_u32(&w, MODEL_VERSION);
    put_u32(&w, (uint32_t)a->activation);
    put_u32(&w, (uint32_t)a->inputs);
    put_u32(&w, (uint32_t)a->outputs);
    put_u32(&w, (uint32_t)a->n_hidden);
    for (size_t l = 0; l < a->n_hidden; l++)
        put_u32(&w, (uint32_t)a->hidden[l]);
    put_u64(&w, m->n_params);
    put_floats(&w, m->input_shift, a->inputs);
    put_floats(&w, m->input_scale, a->inputs);
    put_floats(&w, m->params, m->n_params);
    *buf = b;
    *len = n;
    return 0;
}

trainer_model_t *trainer_model_load(const void *buf, size_t len, int *err) {
    int rc = MLPT_EFORMAT;
    trainer_model_t *m = NULL;
    reader_t r = {NULL, NULL}; /* set once buf is known not to be NULL (NULL + 0 is undefined) */
    uint32_t version, act, inputs, outputs, n_hidden;
    uint64_t n_params;
    trainer_arch_t arch = {0};

    if (!buf || len < 8 || memcmp(buf, MODEL_MAGIC, 8) != 0)
        goto fail;
    r.p = (const unsigned char *)buf + 8;
    r.end = (const unsigned char *)buf + len;
    if (get_u32(&r, &version))
        goto fail;
    if (version != MODEL_VERSION) {
        rc = MLPT_EVERSION;
        goto fail;
    }
    if (get_u32(&r, &act) || get_u32(&r, &inputs) || get_u32(&r, &outputs) ||
        get_u32(&r, &n_hidden) || n_hidden > TRAINER_MAX_HIDDEN)
        goto fail;
    arch.activation = (trainer_activation_t)act;
    arch.inputs = inputs;
    arch.outputs = outputs;
    arch.n_hidden = n_hidden;
    for (size_t l = 0; l < n_hidden; l++) {
        uint32_t h;
        if (get_u32(&r, &h))
            goto fail;
        arch.hidden[l] = h;
    }
    if (get_u64(&r, &n_params) || trainer_arch_check(&arch) != 0 ||
        n_params != trainer_arch_param_count(&arch))
        goto fail;
    if ((size_t)(r.end - r.p) != 4 * (2 * (size_t)inputs + n_params))
        goto fail;
    m = trainer_model_new(&arch, 0);
    if (!m) {
        rc = MLPT_ENOMEM;
        goto fail;
    }
    get_floats(&r, m->input_shift, inputs);
    get_floats(&r, m->input_scale, inputs);
    get_floats(&r, m->params, n_params);
    return m;

fail:
    trainer_model_free(m);
    if (err)
        *err = rc;
    return NULL;
}
