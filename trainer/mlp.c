/*
 * mlp.c - MLP parameters, forward and backward.
 *
 * Shapes: B rows in a batch; layer l maps IN_l -> OUT_l. act[0] is the input batch [B][IN_0],
 * act[l+1] the output of layer l [B][OUT_l]; act[L] holds the logits, then dLoss/dlogits.
 */
#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dropout.h"
#include "mlpt_err.h"
#include "rng.h"

struct trainer_scratch {
    size_t max_rows;
    size_t n_layers;
    float *act[TRAINER_MAX_HIDDEN + 2]; /* views into block: act[l] is layer l's input */
    /* grad[l] is the gradient of the loss with respect to layer l's output (pre-activation),
     * [max_rows][OUT_l]; grad[n_layers - 1] is act[n_layers] itself (softmax writes it there). */
    float *grad[TRAINER_MAX_HIDDEN + 1];
    float *block; /* one allocation for everything */
    /* The dropout attached by trainer_scratch_set_dropout, or NULL. */
    trainer_dropout_t *drop;
};

const char *trainer_activation_name(trainer_activation_t act) {
    switch (act) {
    case TRAINER_ACT_SIGMOID:
        return "sigmoid";
    case TRAINER_ACT_RELU:
        return "relu";
    case TRAINER_ACT_TANH:
        return "tanh";
    }
    return "unknown";
}

int trainer_activation_parse(const char *name, trainer_activation_t *out) {
    if (!name)
        return MLPT_EINVAL;
    if (!strcmp(name, "sigmoid") || !strcmp(name, "logistic"))
        *out = TRAINER_ACT_SIGMOID;
    else if (!strcmp(name, "relu"))
        *out = TRAINER_ACT_RELU;
    else if (!strcmp(name, "tanh"))
        *out = TRAINER_ACT_TANH;
    else
        return MLPT_EINVAL;
    return 0;
}

static size_t layer_in(const trainer_arch_t *a, size_t l) {
    return l == 0 ? a->inputs : a->hidden[l - 1];
}

static size_t layer_out(const trainer_arch_t *a, size_t l) {
    return l == a->n_hidden ? a->outputs : a->hidden[l];
}

size_t trainer_layer_width(const trainer_arch_t *arch, size_t l) {
    return layer_out(arch, l);
}

int trainer_arch_check(const trainer_arch_t *a) {
    if (!a || a->inputs < 1 || a->outputs < 2)
        return MLPT_EINVAL;
    if (a->activation != TRAINER_ACT_SIGMOID && a->activation != TRAINER_ACT_RELU &&
        a->activation != TRAINER_ACT_TANH)
        return MLPT_EINVAL;
    if (a->n_hidden > TRAINER_MAX_HIDDEN)
        return MLPT_ELIMIT;
    if (a->inputs > TRAINER_MAX_WIDTH || a->outputs > TRAINER_MAX_WIDTH)
        return MLPT_ELIMIT;
    for (size_t l = 0; l < a->n_hidden; l++) {
        if (a->hidden[l] < 1)
            return MLPT_EINVAL;
        if (a->hidden[l] > TRAINER_MAX_WIDTH)
            return MLPT_ELIMIT;
    }
    if (trainer_arch_param_count(a) > TRAINER_MAX_PARAMS)
        return MLPT_ELIMIT;
    return 0;
}

size_t trainer_arch_param_count(const trainer_arch_t *a) {
    size_t n = 0;
    for (size_t l = 0; l <= a->n_hidden; l++)
        n += (layer_in(a, l) + 1) * layer_out(a, l);
    return n;
}

double trainer_arch_train_flops(const trainer_arch_t *a, size_t samples) {
    double w = 0.0;
    for (size_t l = 0; l <= a->n_hidden; l++)
        w += (double)layer_in(a, l) * (double)layer_out(a, l);
    double w_first = (double)a->inputs * (double)layer_out(a, 0);
    return (6.0 * w - 2.0 * w_first) * (double)samples;
}

float *trainer_layer_weights(const trainer_arch_t *a, float *block, size_t l, size_t *in,
                             size_t *out) {
    size_t off = 0;
    for (size_t k = 0; k < l; k++)
        off += (layer_in(a, k) + 1) * layer_out(a, k);
    if (in)
        *in = layer_in(a, l);
    if (out)
        *out = layer_out(a, l);
    return block + off;
}

float *trainer_layer_bias(const trainer_arch_t *a, float *block, size_t l) {
    return trainer_layer_weights(a, block, l, NULL, NULL) + layer_in(a, l) * layer_out(a, l);
}

static trainer_model_t *model_alloc(const trainer_arch_t *arch) {
    if (trainer_arch_check(arch) != 0)
        return NULL;
    trainer_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->arch = *arch;
    m->n_layers = arch->n_hidden + 1;
    m->n_params = trainer_arch_param_count(arch);
    m->params = malloc(m->n_params * sizeof(float));
    m->input_shift = malloc(arch->inputs * sizeof(float));
    m->input_scale = malloc(arch->inputs * sizeof(float));
    if (!m->params || !m->input_shift || !m->input_scale) {
        trainer_model_free(m);
        return NULL;
    }
    return m;
}

static const char *const init_names[] = {"auto", "glorot", "he", "sklearn", "torch"};

const char *trainer_init_name(trainer_init_t init) {
    return (unsigned)init < sizeof init_names / sizeof init_names[0] ? init_names[init] : "unknown";
}

int trainer_init_parse(const char *name, trainer_init_t *out) {
    for (size_t i = 0; name && i < sizeof init_names / sizeof init_names[0]; i++)
        if (!strcmp(name, init_names[i])) {
            *out = (trainer_init_t)i;
            return 0;
        }
    return MLPT_EINVAL;
}

/* The bound of layer l's weights under `init`; *biases_too when its biases are drawn as well. */
static float init_bound(const trainer_arch_t *arch, trainer_init_t init, size_t l, size_t in,
                        size_t out, int *biases_too) {
    float fan_sum = (float)(in + out);
    *biases_too = 0;
    switch (init) {
    case TRAINER_INIT_AUTO:
        if (l < arch->n_hidden && arch->activation == TRAINER_ACT_RELU)
            return sqrtf(6.0f / (float)in);
        return sqrtf(6.0f / fan_sum);
    case TRAINER_INIT_GLOROT:
        return sqrtf(6.0f / fan_sum);
    case TRAINER_INIT_HE:
        return sqrtf(6.0f / (float)in);
    case TRAINER_INIT_SKLEARN:
        *biases_too = 1;
        return sqrtf((arch->activation == TRAINER_ACT_SIGMOID ? 2.0f : 6.0f) / fan_sum);
    case TRAINER_INIT_TORCH:
        *biases_too = 1;
        return 1.0f / sqrtf((float)in);
    }
    return 0.0f;
}

trainer_model_t *trainer_model_new_init(const trainer_arch_t *arch, uint64_t seed,
                                        trainer_init_t init) {
    if ((unsigned)init >= sizeof init_names / sizeof init_names[0])
        return NULL;
    trainer_model_t *m = model_alloc(arch);
    if (!m)
        return NULL;
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, TRAINER_RNG_INIT);
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t in, out;
        int biases_too;
        float *W = trainer_layer_weights(arch, m->params, l, &in, &out);
        float bound = init_bound(arch, init, l, in, out, &biases_too);
        size_t drawn = in * out + (biases_too ? out : 0); /* the biases follow the weights */
        for (size_t i = 0; i < drawn; i++)
            W[i] = (2.0f * trainer_rng_uniform(&rng) - 1.0f) * bound;
        if (!biases_too)
            memset(W + in * out, 0, out * sizeof(float));
    }
    for (size_t i = 0; i < arch->inputs; i++) {
        m->input_shift[i] = 0.0f;
        m->input_scale[i] = 1.0f;
    }
    return m;
}

trainer_model_t *trainer_model_new(const trainer_arch_t *arch, uint64_t seed) {
    return trainer_model_new_init(arch, seed, TRAINER_INIT_AUTO);
}

trainer_model_t *trainer_model_clone(const trainer_model_t *src) {
    trainer_model_t *m = model_alloc(&src->arch);
    if (!m)
        return NULL;
    memcpy(m->params, src->params, m->n_params * sizeof(float));
    memcpy(m->input_shift, src->input_shift, src->arch.inputs * sizeof(float));
    memcpy(m->input_scale, src->input_scale, src->arch.inputs * sizeof(float));
    m->gemm = src->gemm;
    return m;
}

void trainer_model_free(trainer_model_t *m) {
    if (!m)
        return;
    free(m->params);
    free(m->input_shift);
    free(m->input_scale);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */
trainer_scratch_t *trainer_scratch_new(const trainer_arch_t *arch, size_t max_rows) {
    if (max_rows == 0 || trainer_arch_check(arch) != 0)
        return NULL;
    trainer_scratch_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->max_rows = max_rows;
    s->n_layers = arch->n_hidden + 1;
    /* Every buffer is rounded to 16 floats so each view starts on a 64-byte boundary. */
    size_t floats = (arch->inputs * max_rows + 15) / 16 * 16;
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t f = (layer_out(arch, l) * max_rows + 15) / 16 * 16;
        floats += l < arch->n_hidden ? 2 * f : f; /* hidden layers: activation and gradient */
    }
    s->block = aligned_alloc(64, floats * sizeof(float));
    if (!s->block) {
        free(s);
        return NULL;
    }
    float *p = s->block;
    s->act[0] = p;
    p += (arch->inputs * max_rows + 15) / 16 * 16;
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t f = (layer_out(arch, l) * max_rows + 15) / 16 * 16;
        s->act[l + 1] = p;
        p += f;
        if (l < arch->n_hidden) {
            s->grad[l] = p;
            p += f;
        }
    }
    s->grad[s->n_layers - 1] = s->act[s->n_layers];
    return s;
}

void trainer_scratch_free(trainer_scratch_t *s) {
    if (!s)
        return;
    free(s->block);
    free(s);
}

float *trainer_scratch_input(trainer_scratch_t *s) {
    return s->act[0];
}

float *trainer_scratch_output(trainer_scratch_t *s) {
    return s->act[s->n_layers];
}

void trainer_scratch_set_dropout(trainer_scratch_t *s, trainer_dropout_t *d) {
    s->drop = d;
}

/* ------------------------------------------------------------------------------------------ */
/* Forward over rows [r0, r0 + rows) of the scratch, leaving logits in act[n_layers]. */
static void forward_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t r0, size_t rows) {
    const trainer_arch_t *a = &m->arch;
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t in, out;
        const float *W = trainer_layer_weights(a, m->params, l, &in, &out);
        const float *b = W + in * out;
        float *Y = s->act[l + 1] + r0 * out;
        trainer_gemm(m->gemm, 0, 0, rows, out, in, 1.0f, s->act[l] + r0 * in, in, W, out, 0.0f, Y,
                     out);
        if (l < a->n_hidden && trainer_dropout_hidden_on(s->drop))
            trainer_dropout_bias_act(s->drop, l, Y, out, b, r0, rows, 0, out, a->activation);
        else if (l < a->n_hidden)
            trainer_bias_act_forward(Y, b, rows, out, a->activation);
        else
            trainer_bias_add(Y, b, rows, out);
    }
}

void trainer_mlp_forward(const trainer_model_t *m, trainer_scratch_t *s, size_t rows,
                         const int32_t *y, double *loss_sum, size_t *correct) {
    forward_rows(m, s, 0, rows);
    float *logits = s->act[m->n_layers];
    if (y)
        trainer_softmax_xent(logits, NULL, y, rows, m->arch.outputs, 1.0f / (float)rows, loss_sum,
                             correct);
    else
        trainer_softmax(logits, rows, m->arch.outputs);
}

/* Output gradients of every layer below the top for rows [r0, r0 + rows), from the top's
 * gradient in grad[n_layers - 1]: grad[l-1] = (grad[l] W_l^T) * act'(act[l]). */
static void backward_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t r0, size_t rows) {
    const trainer_arch_t *a = &m->arch;
    for (size_t l = m->n_layers - 1; l > 0; l--) {
        size_t in, out;
        const float *W = trainer_layer_weights(a, m->params, l, &in, &out);
        float *dX = s->grad[l - 1] + r0 * in;
        trainer_gemm(m->gemm, 0, 1, rows, in, out, 1.0f, s->grad[l] + r0 * out, out, W, out, 0.0f,
                     dX, in);
        if (trainer_dropout_hidden_on(s->drop))
            trainer_dropout_act_backward(s->drop, l - 1, dX, s->act[l] + r0 * in, in, r0, rows, 0,
                                         in, a->activation);
        else
            trainer_act_backward(dX, s->act[l] + r0 * in, rows * in, a->activation);
    }
}

void trainer_mlp_forward_slice(const trainer_model_t *m, trainer_scratch_t *s, size_t l,
                               size_t rows, size_t c0, size_t c1) {
    size_t in, out, w = c1 - c0;
    const float *W = trainer_layer_weights(&m->arch, m->params, l, &in, &out);
    const float *b = W + in * out;
    float *Y = s->act[l + 1] + c0;
    if (w == 0)
        return;
    trainer_gemm(m->gemm, 0, 0, rows, w, in, 1.0f, s->act[l], in, W + c0, out, 0.0f, Y, out);
    if (l < m->arch.n_hidden && trainer_dropout_hidden_on(s->drop)) {
        trainer_dropout_bias_act(s->drop, l, Y, out, b + c0, 0, rows, c0, w, m->arch.activation);
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        if (l < m->arch.n_hidden)
            trainer_bias_act_forward(Y + r * out, b + c0, 1, w, m->arch.activation);
        else
            trainer_bias_add(Y + r * out, b + c0, 1, w);
    }
}

void trainer_mlp_loss_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t r0, size_t rows,
                           size_t batch, const int32_t *y, double *loss_sum, size_t *correct) {
    size_t k = m->arch.outputs;
    trainer_softmax_xent(s->act[m->n_layers] + r0 * k, NULL, y + r0, rows, k, 1.0f / (float)batch,
                         loss_sum, correct);
}

void trainer_mlp_backward_slice(const trainer_model_t *m, trainer_scratch_t *s, size_t l,
                                size_t rows, size_t c0, size_t c1) {
    size_t in, out, w = c1 - c0;
    const float *W = trainer_layer_weights(&m->arch, m->params, l, &in, &out);
    float *dX = s->grad[l - 1] + c0;
    if (w == 0)
        return;
    trainer_gemm(m->gemm, 0, 1, rows, w, out, 1.0f, s->grad[l], out, W + c0 * out, out, 0.0f, dX,
                 in);
    if (trainer_dropout_hidden_on(s->drop)) {
        trainer_dropout_act_backward(s->drop, l - 1, dX, s->act[l] + c0, in, 0, rows, c0, w,
                                     m->arch.activation);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        trainer_act_backward(dX + r * in, s->act[l] + r * in + c0, w, m->arch.activation);
}

void trainer_mlp_part_update(trainer_model_t *m, trainer_scratch_t *s, size_t batch, size_t l,
                             size_t c0, size_t c1, float lr, float momentum, float *velocity) {
    size_t in, out;
    float *W = trainer_layer_weights(&m->arch, m->params, l, &in, &out);
    float *b = W + in * out;
    const float *X = s->act[l], *G = s->grad[l] + c0;
    size_t w = c1 - c0;
    if (w == 0)
        return;
    if (momentum > 0.0f && velocity) {
        float *V = trainer_layer_weights(&m->arch, velocity, l, NULL, NULL);
        float *Vb = V + in * out;
        trainer_gemm(m->gemm, 1, 0, in, w, batch, 1.0f, X, in, G, out, momentum, V + c0, out);
        trainer_colsum(Vb + c0, G, batch, w, out, 1.0f, momentum);
        for (size_t i = 0; i < in; i++)
            trainer_axpy(W + i * out + c0, V + i * out + c0, w, -lr);
        trainer_axpy(b + c0, Vb + c0, w, -lr);
    } else {
        trainer_gemm(m->gemm, 1, 0, in, w, batch, -lr, X, in, G, out, 1.0f, W + c0, out);
        trainer_colsum(b + c0, G, batch, w, out, -lr, 1.0f);
    }
}

void trainer_mlp_part_gemm(const trainer_model_t *m, trainer_scratch_t *s, size_t batch, size_t l,
                           size_t c0, size_t c1, float alpha, float beta_w, float beta_b,
                           float *block) {
    size_t in, out, w = c1 - c0;
    float *D = trainer_layer_weights(&m->arch, block, l, &in, &out);
    if (w == 0)
        return;
    trainer_gemm(m->gemm, 1, 0, in, w, batch, alpha, s->act[l], in, s->grad[l] + c0, out, beta_w,
                 D + c0, out);
    trainer_colsum(D + in * out + c0, s->grad[l] + c0, batch, w, out, alpha, beta_b);
}

void trainer_mlp_gradient(const trainer_model_t *m, trainer_scratch_t *s, size_t rows,
                          float *grad) {
    backward_rows(m, s, 0, rows);
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t in, out;
        trainer_layer_weights(&m->arch, m->params, l, &in, &out);
        float *GW = trainer_layer_weights(&m->arch, grad, l, NULL, NULL);
        trainer_gemm(m->gemm, 1, 0, in, out, rows, 1.0f, s->act[l], in, s->grad[l], out, 0.0f, GW,
                     out);
        trainer_colsum(GW + in * out, s->grad[l], rows, out, out, 1.0f, 0.0f);
    }
}

void trainer_mlp_sgd_step(trainer_model_t *m, trainer_scratch_t *s, size_t rows, float lr,
                          float momentum, float *velocity) {
    backward_rows(m, s, 0, rows);
    for (size_t l = 0; l < m->n_layers; l++)
        trainer_mlp_part_update(m, s, rows, l, 0, trainer_layer_width(&m->arch, l), lr, momentum,
                                velocity);
}
/* ------------------------------------------------------------------------------------------ */
int trainer_model_predict(const trainer_model_t *m, const float *x, size_t rows, float *probs) {
    if (rows == 0)
        return MLPT_EINVAL;
    size_t chunk = rows < 256 ? rows : 256;
    trainer_scratch_t *s = trainer_scratch_new(&m->arch, chunk);
    if (!s)
        return MLPT_ENOMEM;
    size_t nin = m->arch.inputs, nout = m->arch.outputs;
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t n = rows - r0 < chunk ? rows - r0 : chunk;
        float *in = trainer_scratch_input(s);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nin; j++)
                in[i * nin + j] = (x[(r0 + i) * nin + j] - m->input_shift[j]) * m->input_scale[j];
        trainer_mlp_forward(m, s, n, NULL, NULL, NULL);
        memcpy(probs + r0 * nout, trainer_scratch_output(s), n * nout * sizeof(float));
    }
    trainer_scratch_free(s);
    return 0;
}
