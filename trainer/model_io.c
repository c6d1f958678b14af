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

/* Reads n bytes; MLPT_EFORMAT past the stated length (a short file), else the source's code. */
typedef struct {
    trainer_read_fn fn;
    void *user;
    size_t left;
} source_t;

static int take(source_t *src, void *dst, size_t n) {
    if (n > src->left)
        return MLPT_EFORMAT;
    src->left -= n;
    int rc = n ? src->fn(src->user, dst, n) : 0;
    return rc == 0 ? 0 : rc < 0 ? rc : MLPT_EIO;
}

static int take_u32(source_t *src, uint32_t *v) {
    unsigned char b[4];
    int rc = take(src, b, 4);
    if (rc == 0)
        *v = trainer_le_get_u32(b);
    return rc;
}

/* n little-endian floats straight into f (converted in place: no second copy of the model). */
static int take_floats(source_t *src, float *f, size_t n) {
    int rc = take(src, f, 4 * n);
    if (rc == 0)
        trainer_le_get_f32s(f, (const unsigned char *)f, n);
    return rc;
}

trainer_model_t *trainer_model_read(trainer_read_fn fn, void *user, size_t len, int *err) {
    int rc = MLPT_EFORMAT;
    trainer_model_t *m = NULL;
    source_t src = {fn, user, len};
    unsigned char head[8 + 8];
    uint32_t version, act, inputs, outputs, n_hidden;
    uint64_t n_params;
    trainer_arch_t arch = {0};

    if (!fn)
        goto fail;
    if ((rc = take(&src, head, 8)) != 0)
        goto fail;
    rc = MLPT_EFORMAT;
    if (memcmp(head, MODEL_MAGIC, 8) != 0)
        goto fail;
    if ((rc = take_u32(&src, &version)) != 0)
        goto fail;
    if (version != MODEL_VERSION) {
        rc = MLPT_EVERSION;
        goto fail;
    }
    if ((rc = take_u32(&src, &act)) || (rc = take_u32(&src, &inputs)) ||
        (rc = take_u32(&src, &outputs)) || (rc = take_u32(&src, &n_hidden)))
        goto fail;
    rc = MLPT_EFORMAT;
    if (n_hidden > TRAINER_MAX_HIDDEN)
        goto fail;
    arch.activation = (trainer_activation_t)act;
    arch.inputs = inputs;
    arch.outputs = outputs;
    arch.n_hidden = n_hidden;
    for (size_t l = 0; l < n_hidden; l++) {
        uint32_t h;
        if ((rc = take_u32(&src, &h)) != 0)
            goto fail;
        arch.hidden[l] = h;
    }
    if ((rc = take(&src, head, 8)) != 0)
        goto fail;
    rc = MLPT_EFORMAT;
    n_params = trainer_le_get_u64(head);
    if (trainer_arch_check(&arch) != 0 || n_params != trainer_arch_param_count(&arch))
        goto fail;
    if (src.left != 4 * (2 * (size_t)inputs + n_params))
        goto fail; /* checked before the model's memory is taken */
    m = trainer_model_new(&arch, 0);
    if (!m) {
        rc = MLPT_ENOMEM;
        goto fail;
    }
    if ((rc = take_floats(&src, m->input_shift, inputs)) ||
        (rc = take_floats(&src, m->input_scale, inputs)) ||
        (rc = take_floats(&src, m->params, n_params)))
        goto fail;
    return m;

fail:
    trainer_model_free(m);
    if (err)
        *err = rc;
    return NULL;
}

/* trainer_model_load's source: a buffer. */
static int from_memory(void *user, void *dst, size_t n) {
    const unsigned char **p = user;
    memcpy(dst, *p, n);
    *p += n;
    return 0;
}

trainer_model_t *trainer_model_load(const void *buf, size_t len, int *err) {
    const unsigned char *p = buf;
    if (!buf) {
        if (err)
            *err = MLPT_EFORMAT;
        return NULL;
    }
    return trainer_model_read(from_memory, &p, len, err);
}
