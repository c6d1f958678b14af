/*
 * trainer/mlp.h - a multi-layer perceptron: architecture, parameters, one training step.
 *
 * Layout (the llm.c way): all parameters live in one allocation, layer after layer,
 *     W_l [IN_l][OUT_l]  then  b_l [OUT_l]      for l = 0 .. n_layers-1,
 * so gradients and optimiser state share the same layout and an update is one flat loop.
 * Hidden layers use the architecture's activation; the last layer is linear and feeds a softmax
 * with cross-entropy loss.
 *
 * The core functions take inputs that are already scaled; trainer_model_predict applies the
 * model's own input scaling (input_shift/input_scale, fitted on the training split).
 *
 * Threads: a model and its scratch belong to one thread at a time; a model that nobody trains may
 * be read (predict, save, clone) from several threads at once.
 */
#ifndef TRAINER_MLP_H
#define TRAINER_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define TRAINER_MAX_HIDDEN 16         /* hidden layers at most */
#define TRAINER_MAX_WIDTH 65536       /* units in one layer at most */
#define TRAINER_MAX_PARAMS (1u << 30) /* parameters at most (4 GiB of floats) */

typedef struct trainer_arch {
    size_t inputs;   /* features, >= 1 */
    size_t outputs;  /* classes, >= 2 */
    size_t n_hidden; /* hidden layers, 0 .. TRAINER_MAX_HIDDEN (0 is multinomial regression) */
    size_t hidden[TRAINER_MAX_HIDDEN]; /* widths of the hidden layers, each >= 1 */
    trainer_activation_t activation;
} trainer_arch_t;

/* Returns the activation's name ("sigmoid", "relu", "tanh"). */
const char *trainer_activation_name(trainer_activation_t act);

/* Parses "sigmoid" (also "logistic"), "relu" or "tanh" into *out. Returns 0 or MLPT_EINVAL. */
int trainer_activation_parse(const char *name, trainer_activation_t *out);

/* Checks an architecture against the limits above. Returns 0 or MLPT_EINVAL (bad shape or
 * activation) or MLPT_ELIMIT (too deep, too wide, too many parameters). */
int trainer_arch_check(const trainer_arch_t *arch);

/* Number of floats in the parameter block (weights and biases). */
size_t trainer_arch_param_count(const trainer_arch_t *arch);

/* Floating-point operations of the matrix products of one training pass over `samples` rows:
 * forward 2*W, weight gradients 2*W, input gradients 2*(W - W_first) (none for the input layer),
 * W the number of weights. Used for GFLOP/s figures and the scheduler's cost model. */
double trainer_arch_train_flops(const trainer_arch_t *arch, size_t samples);

typedef struct trainer_model {
    trainer_arch_t arch;
    size_t n_layers;          /* n_hidden + 1 */
    size_t n_params;          /* floats in params */
    float *params;            /* the one parameter block; owned */
    float *input_shift;       /* [inputs]; owned */
    float *input_scale;       /* [inputs]; owned */
    trainer_gemm_impl_t gemm; /* TRAINER_GEMM_BLAS unless a test asks for the oracle */
} trainer_model_t;

/* Views of layer l's weights and biases inside a block with the parameter layout (the model's
 * params, a gradient or a velocity); in/out receive the layer's widths when not NULL. */
float *trainer_layer_weights(const trainer_arch_t *arch, float *block, size_t l, size_t *in,
                             size_t *out);
float *trainer_layer_bias(const trainer_arch_t *arch, float *block, size_t l);

/* Output width of layer l (a hidden width, or the outputs for the last layer). */
size_t trainer_layer_width(const trainer_arch_t *arch, size_t l);

/* How initial weights are drawn. Every rule draws uniformly in [-bound, bound] per layer, with
 * in/out that layer's fan-in and fan-out; the rules other libraries use are there so a sweep can
 * start from the same distribution as the model it is compared with. */
typedef enum trainer_init {
    TRAINER_INIT_AUTO = 0, /* He sqrt(6/in) for ReLU hidden layers, else Glorot; biases 0 */
    TRAINER_INIT_GLOROT,   /* sqrt(6/(in+out)) for every layer; biases 0 */
    TRAINER_INIT_HE,       /* sqrt(6/in) for every layer; biases 0 */
    TRAINER_INIT_SKLEARN,  /* scikit-learn's MLPClassifier: sqrt(2/(in+out)) in sigmoid networks,
                              else sqrt(6/(in+out)); biases drawn with the same bound */
    TRAINER_INIT_TORCH,    /* PyTorch's nn.Linear default: 1/sqrt(in) for weights and biases */
} trainer_init_t;

/* Returns the rule's name ("auto", "glorot", "he", "sklearn", "torch"). */
const char *trainer_init_name(trainer_init_t init);

/* Parses one of those names. Returns 0 or MLPT_EINVAL. */
int trainer_init_parse(const char *name, trainer_init_t *out);

/* Creates a model with weights drawn from `seed` (stream TRAINER_RNG_INIT) by `init`, layer by
 * layer, weights then biases; input scaling identity. Returns NULL when the architecture fails
 * trainer_arch_check, `init` is unknown or memory runs out. Free with trainer_model_free. */
trainer_model_t *trainer_model_new_init(const trainer_arch_t *arch, uint64_t seed,
                                        trainer_init_t init);

/* trainer_model_new_init with TRAINER_INIT_AUTO. */
trainer_model_t *trainer_model_new(const trainer_arch_t *arch, uint64_t seed);

/* Returns a deep copy, or NULL when memory runs out. */
trainer_model_t *trainer_model_clone(const trainer_model_t *m);

/* Frees the model. Accepts NULL. */
void trainer_model_free(trainer_model_t *m);

/* Scratch buffers for steps of up to max_rows rows (activations and output gradients of every
 * layer). Returns NULL when memory runs out. Free with trainer_scratch_free (accepts NULL). */
typedef struct trainer_scratch trainer_scratch_t;
trainer_scratch_t *trainer_scratch_new(const trainer_arch_t *arch, size_t max_rows);
void trainer_scratch_free(trainer_scratch_t *s);

/* The scratch's input buffer, [max_rows][inputs]: callers gather (scaled) rows here. */
float *trainer_scratch_input(trainer_scratch_t *s);

/* The scratch's output buffer [max_rows][outputs]: after trainer_mlp_forward, the gradient of
 * the mean loss with respect to the logits, or, when forward was asked for them, probabilities. */
float *trainer_scratch_output(trainer_scratch_t *s);

/* Attaches a dropout (dropout.h) to the scratch, or detaches it (d NULL): while attached, the
 * forward passes below (whole or by slices) drop hidden units with d's masks for rows at d's
 * positions and keep the masks, and the backward passes apply them. The input's dropout is the
 * gatherer's (trainer_dropout_gather_row). A scratch starts without one: evaluation and
 * prediction never drop. d must outlive the attachment. */
struct trainer_dropout;
void trainer_scratch_set_dropout(trainer_scratch_t *s, struct trainer_dropout *d);

/* Forward pass over the first `rows` rows of the input buffer. With y given, computes the loss
 * and, in the output buffer, dLoss/dlogits for a mean over the rows (for a following step or
 * gradient); adds the summed loss to *loss_sum and the hits to *correct. With y NULL, leaves
 * softmax probabilities in the output buffer (loss_sum and correct may then be NULL).
 * rows must be 1 .. max_rows. */
void trainer_mlp_forward(const trainer_model_t *m, trainer_scratch_t *s, size_t rows,
                         const int32_t *y, double *loss_sum, size_t *correct);

/* Backward pass after a forward with labels: writes the gradient of the mean loss into grad
 * (n_params floats, parameter layout). The model is not changed. */
void trainer_mlp_gradient(const trainer_model_t *m, trainer_scratch_t *s, size_t rows, float *grad);

/* Backward pass after a forward with labels, updating the model by SGD (the whole batch on one
 * thread: the reference the tests compare the parts below with; a run uses the parts):
 *   momentum == 0: W -= lr * dW, folded into the weight-gradient GEMM (no gradient buffer);
 *   momentum > 0:  v = momentum * v + dW; W -= lr * v, with velocity holding n_params floats.
 * dW is the gradient of the mean loss over the rows. Every layer's input gradient is computed
 * first, with the weights as they were; then each layer is updated (trainer_mlp_part_update over
 * all its columns). */
void trainer_mlp_sgd_step(trainer_model_t *m, trainer_scratch_t *s, size_t rows, float lr,
                          float momentum, float *velocity);

/* A training step in parts that threads may share, over a mini-batch of `rows` rows gathered
 * in the input buffer. In this order, each stage's parts independent of one another:
 *   trainer_mlp_forward_slice, for l = 0 .. n_layers-1: layer l's output columns [c0, c1)
 *     (GEMM, bias, activation);
 *   trainer_mlp_loss_rows: softmax + cross-entropy of rows [r0, r0 + rows) of the logits, the
 *     gradient scaled by 1/`batch` (the nominal batch size: a short last batch then moves the
 *     weights in proportion to its rows); adds the summed loss and hits of those rows to
 *     *loss_sum and *correct;
 *   trainer_mlp_backward_slice, for l = n_layers-1 .. 1: columns [c0, c1) of the gradient with
 *     respect to layer l's input (needs the weights as they were: before any update);
 *   trainer_mlp_part_update: applies the batch's gradient (summed over its rows by the GEMM) to
 *     output columns [c0, c1) of layer l, as trainer_mlp_sgd_step does.
 * For a given split the numbers do not depend on which thread runs which part. Column slices
 * keep the GEMMs as efficient as whole ones (row partitions of a 64-row batch cost 4-15%). */
void trainer_mlp_forward_slice(const trainer_model_t *m, trainer_scratch_t *s, size_t l,
                               size_t rows, size_t c0, size_t c1);
void trainer_mlp_loss_rows(const trainer_model_t *m, trainer_scratch_t *s, size_t r0, size_t rows,
                           size_t batch, const int32_t *y, double *loss_sum, size_t *correct);
void trainer_mlp_backward_slice(const trainer_model_t *m, trainer_scratch_t *s, size_t l,
                                size_t rows, size_t c0, size_t c1);
void trainer_mlp_part_update(trainer_model_t *m, trainer_scratch_t *s, size_t batch, size_t l,
                             size_t c0, size_t c1, float lr, float momentum, float *velocity);

/* The weight-gradient GEMM of trainer_mlp_part_update on its own, for the optimisers (optim.h):
 * columns [c0, c1) of layer l in `block` (parameter layout) become
 *     W = alpha * X^T G + beta_w * W,   b = alpha * colsum(G) + beta_b * b
 * with G the batch's output gradient of layer l (rows `batch`). beta 0 does not read the block. */
void trainer_mlp_part_gemm(const trainer_model_t *m, trainer_scratch_t *s, size_t batch, size_t l,
                           size_t c0, size_t c1, float alpha, float beta_w, float beta_b,
                           float *block);

/* Class probabilities for raw (unscaled) rows x[rows][inputs] into probs[rows][outputs],
 * applying the model's input scaling. Returns 0, MLPT_EINVAL for rows == 0, MLPT_ENOMEM. */
int trainer_model_predict(const trainer_model_t *m, const float *x, size_t rows, float *probs);

/* Serialises the model: magic "MLPTMODL", format version, activation, layer widths, input
 * scaling and the flat parameters, little-endian. On success *buf (malloc'd, caller frees) and
 * *len are set and 0 is returned; MLPT_ENOMEM otherwise. */
int trainer_model_save(const trainer_model_t *m, unsigned char **buf, size_t *len);

/* Rebuilds a model from trainer_model_save's bytes. Returns the model, or NULL with *err (when
 * not NULL) set to MLPT_EFORMAT (bad magic, short or inconsistent data), MLPT_EVERSION (a format
 * version this build does not know) or MLPT_ENOMEM. */
trainer_model_t *trainer_model_load(const void *buf, size_t len, int *err);

/* A source of bytes for trainer_model_read: copies exactly the next n bytes (n > 0) to dst and
 * returns 0, or returns MLPT_EIO (any other non-zero is taken as MLPT_EIO). The trainer does no
 * I/O of its own: the caller's source reads a file, a socket or memory. */
typedef int (*trainer_read_fn)(void *user, void *dst, size_t n);

/* trainer_model_load over a source of `len` bytes (the whole model file): the parameters are
 * read straight into the new model, so a model costs its own size in memory, never twice that.
 * The header is checked against len before the model is allocated. Returns the model, or NULL
 * with *err (when not NULL) as trainer_model_load's, or the source's MLPT_EIO. */
trainer_model_t *trainer_model_read(trainer_read_fn fn, void *user, size_t len, int *err);

#endif
