/*
 * checkpoint.c - a run's state as bytes: "MLPTCKPT", format version, the shape it belongs to,
 * its position, (format 2) the optimiser's section, the weights and the optimiser's buffers,
 * then an FNV-1a 64 checksum of everything before it.
 * The last two header fields, reserved (0) in the first checkpoints, hold a run's rank count and
 * averaging interval when it has ranks (train.h); a plain run writes 0 there.
 * Format 1 (until issue 16, and still for sgd, whose state it holds whole, so an sgd run's bytes
 * are those of before): header, weights, the velocity when momentum > 0. Format 2 (every other
 * optimiser): the same header, then the optimiser's section (its kind, the step count, the
 * schedule, which buffers follow, and the hyperparameters that made them: momentum, beta1, beta2,
 * epsilon, rho, l2, weight_decay), the weights, the velocity or first moment, the second moment.
 * Format 1 bytes still load into a run of sgd or momentum whose velocity they match (they are that
 * state); a format 2 checkpoint loads into a run of the same optimiser (its hyperparameters are
 * recorded, not enforced, as the learning rate never was). The step count must be the position's.
 * Little-endian, like the model file, through trainer/le.h. Loading checks every length and the
 * checksum before it touches the run, so a torn or foreign blob is refused whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "mlpt_err.h"
#include "train_private.h"

#define CKPT_MAGIC "MLPTCKPT"
#define CKPT_VERSION 2u
#define CKPT_OPT_FIELDS 11 /* u64 / f64 fields of format 2's optimiser section */
#define CKPT_HEADER_U64 20 /* u64 fields after magic and version, see put_header */

typedef struct writer {
    unsigned char *p;
} writer_t;

/* The writer's cursor over trainer/le.h's codec. */
static void put_u64(writer_t *w, uint64_t v) {
    trainer_le_put_u64(w->p, v);
    w->p += 8;
}

static void put_f64(writer_t *w, double d) {
    trainer_le_put_f64(w->p, d);
    w->p += 8;
}

static void put_floats(writer_t *w, const float *f, size_t n) {
    trainer_le_put_f32s(w->p, f, n);
    w->p += 4 * n;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Bytes of a checkpoint of format `version` with `buffers` optimiser buffers. */
static size_t blob_len(uint64_t version, size_t n_params, int buffers) {
    size_t opt = version >= 2 ? 8 * CKPT_OPT_FIELDS : 0;
    return 8 + 8 + 8 * CKPT_HEADER_U64 + opt + 4 * n_params * (size_t)(1 + buffers) + 8;
}

static int known_version(const unsigned char *b) {
    uint64_t v = trainer_le_get_u64(b + 8);
    return v == 1 || v == CKPT_VERSION;
}

int run_checkpoint_save(const trainer_run_t *r, const run_position_t *pos, unsigned char **buf,
                        size_t *len) {
    const trainer_model_t *m = r->m;
    int has_v = r->velocity != NULL, has_s = r->second != NULL;
    uint64_t version = r->opt.optimizer == TRAINER_OPT_SGD ? 1 : CKPT_VERSION;
    size_t n = blob_len(version, m->n_params, has_v + has_s);
    unsigned char *b = malloc(n);
    if (!b)
        return MLPT_ENOMEM;
    writer_t w = {b};
    memcpy(w.p, CKPT_MAGIC, 8);
    w.p += 8;
    put_u64(&w, version);
    /* Shape: what the run must match to take this state. */
    put_u64(&w, m->n_params);
    put_u64(&w, m->arch.inputs);
    put_u64(&w, m->arch.outputs);
    put_u64(&w, r->split->n_train);
    put_u64(&w, r->split->n_val);
    put_u64(&w, r->opt.batch_size);
    put_u64(&w, r->parts);
    put_u64(&w, (uint64_t)has_v);
    /* Position. */
    put_u64(&w, pos->iteration);
    put_u64(&w, pos->batch);
    for (int i = 0; i < 4; i++)
        put_u64(&w, pos->rng.s[i]);
    put_f64(&w, pos->loss_sum);
    put_u64(&w, pos->correct);
    put_u64(&w, pos->seen);
    put_f64(&w, pos->seconds);
    put_u64(&w, r->sync.ranks > 1 ? (uint64_t)r->sync.ranks : 0);
    put_u64(&w, r->sync.ranks > 1 ? (uint64_t)r->sync.every : 0);
    /* The optimiser's section (format 2). */
    const trainer_options_t *o = &r->opt;
    if (version >= 2) {
        put_u64(&w, (uint64_t)o->optimizer);
        put_u64(&w, run_step_count(r, pos) - 1); /* mini-batches trained */
        put_u64(&w, (uint64_t)o->schedule);
        put_u64(&w, (uint64_t)has_s);
        put_f64(&w, trainer_optim_momentum(o));
        put_f64(&w, o->beta1);
        put_f64(&w, o->beta2);
        put_f64(&w, o->epsilon);
        put_f64(&w, o->rho);
        put_f64(&w, o->l2);
        put_f64(&w, o->weight_decay);
    }
    put_floats(&w, m->params, m->n_params);
    if (has_v)
        put_floats(&w, r->velocity, m->n_params);
    if (has_s)
        put_floats(&w, r->second, m->n_params);
    put_u64(&w, fnv1a(b, (size_t)(w.p - b)));
    *buf = b;
    *len = n;
    return 0;
}

int run_checkpoint_load(trainer_run_t *r, const void *bytes, size_t len, run_position_t *pos) {
    const unsigned char *b = bytes;
    trainer_model_t *m = r->m;
    if (!b || len < blob_len(1, 0, 0) || memcmp(b, CKPT_MAGIC, 8) != 0 || !known_version(b))
        return MLPT_EFORMAT;
    uint64_t version = trainer_le_get_u64(b + 8);
    if (fnv1a(b, len - 8) != trainer_le_get_u64(b + len - 8))
        return MLPT_EFORMAT;
    const unsigned char *h = b + 16;
    uint64_t shape[8];
    for (int i = 0; i < 8; i++)
        shape[i] = trainer_le_get_u64(h + 8 * i);
    int has_v = r->velocity != NULL, has_s = r->second != NULL;
    if (shape[0] != m->n_params || shape[1] != m->arch.inputs || shape[2] != m->arch.outputs ||
        shape[3] != r->split->n_train || shape[4] != r->split->n_val ||
        shape[5] != r->opt.batch_size || shape[6] != r->parts || shape[7] != (uint64_t)has_v)
        return MLPT_EINVAL;
    /* Format 1 is the state of sgd or momentum (their velocity, when they have one). */
    if (version == 1 && (has_s || (r->opt.optimizer != TRAINER_OPT_SGD &&
                                   r->opt.optimizer != TRAINER_OPT_MOMENTUM)))
        return MLPT_EINVAL;
    if (len != blob_len(version, m->n_params, has_v + has_s))
        return MLPT_EFORMAT;
    const unsigned char *p = h + 8 * 8;
    run_position_t at;
    at.iteration = (size_t)trainer_le_get_u64(p);
    at.batch = (size_t)trainer_le_get_u64(p + 8);
    for (int i = 0; i < 4; i++)
        at.rng.s[i] = trainer_le_get_u64(p + 16 + 8 * i);
    at.loss_sum = trainer_le_get_f64(p + 48);
    at.correct = trainer_le_get_u64(p + 56);
    at.seen = trainer_le_get_u64(p + 64);
    at.seconds = trainer_le_get_f64(p + 72);
    uint64_t ranks = trainer_le_get_u64(p + 80), every = trainer_le_get_u64(p + 88);
    if ((ranks > 1 ? ranks : 1) != (uint64_t)r->sync.ranks ||
        (ranks > 1 && (every != (uint64_t)r->sync.every || at.batch != 0)))
        return MLPT_EINVAL;
    size_t batches = (r->split->n_train + r->opt.batch_size - 1) / r->opt.batch_size;
    if (at.iteration < 1 || at.iteration > r->opt.iterations + 1 || at.batch >= batches ||
        at.seen > r->split->n_train || at.correct > at.seen || !isfinite(at.seconds))
        return MLPT_EINVAL;
    p += 8 * (CKPT_HEADER_U64 - 8);
    if (version >= 2) {
        if (trainer_le_get_u64(p) != (uint64_t)r->opt.optimizer ||
            trainer_le_get_u64(p + 24) != (uint64_t)has_s)
            return MLPT_EINVAL;
        if (trainer_le_get_u64(p + 8) != run_step_count(r, &at) - 1)
            return MLPT_EFORMAT;
        p += 8 * CKPT_OPT_FIELDS;
    }
    trainer_le_get_f32s(m->params, p, m->n_params);
    p += 4 * m->n_params;
    if (has_v) {
        trainer_le_get_f32s(r->velocity, p, m->n_params);
        p += 4 * m->n_params;
    }
    if (has_s)
        trainer_le_get_f32s(r->second, p, m->n_params);
    *pos = at;
    return 0;
}

size_t trainer_checkpoint_partitions(const void *bytes, size_t len) {
    const unsigned char *b = bytes;
    if (!b || len < blob_len(1, 0, 0) || memcmp(b, CKPT_MAGIC, 8) != 0 || !known_version(b))
        return 0;
    uint64_t parts = trainer_le_get_u64(b + 16 + 8 * 6);
    return parts >= 1 && parts <= TRAINER_MAX_PARTITIONS ? (size_t)parts : 0;
}
