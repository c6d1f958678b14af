/*
 * test_model.c - new models (the initial weights of every init rule), the model file format and
 * model copies: save/load round trips that keep every bit (parameters, architecture, input
 * scaling, predictions), the byte layout the format promises, and the rejection of damaged
 * input (bad magic, every truncation, trailing bytes, a version from the future, a header that
 * contradicts itself).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "le.h"
#include "mlp.h"
#include "mlpt_err.h"
#include "rng.h"
#include "trainer_fixtures.h"

/* A model whose every parameter and scaling value is arbitrary (not the initial zeros/ones). */
static trainer_model_t *random_model(const trainer_arch_t *a, uint64_t seed) {
    trainer_model_t *m = trainer_model_new(a, seed);
    assert_non_null(m);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, seed, 500);
    fx_fill_uniform(m->params, m->n_params, &rng, -2.0f, 2.0f);
    fx_fill_uniform(m->input_shift, a->inputs, &rng, -50.0f, 50.0f);
    fx_fill_uniform(m->input_scale, a->inputs, &rng, 0.01f, 3.0f);
    m->params[0] = -0.0f; /* the sign of zero survives too */
    return m;
}

static size_t header_bytes(const trainer_arch_t *a) {
    return 8 + 4 * 5 + 4 * a->n_hidden + 8;
}

static uint32_t get_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Loads a private copy of exactly len bytes (so ASan sees any read past the end). */
static trainer_model_t *load_copy(const unsigned char *buf, size_t len, int *err) {
    unsigned char *copy = fx_calloc(len, 1);
    memcpy(copy, buf, len);
    trainer_model_t *m = trainer_model_load(copy, len, err);
    free(copy);
    return m;
}

static void assert_models_equal(const trainer_model_t *a, const trainer_model_t *b) {
    assert_int_equal(a->arch.inputs, b->arch.inputs);
    assert_int_equal(a->arch.outputs, b->arch.outputs);
    assert_int_equal(a->arch.n_hidden, b->arch.n_hidden);
    for (size_t l = 0; l < a->arch.n_hidden; l++)
        assert_int_equal(a->arch.hidden[l], b->arch.hidden[l]);
    assert_int_equal(a->arch.activation, b->arch.activation);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_equal(a->input_shift, b->input_shift, a->arch.inputs * sizeof(float));
    assert_memory_equal(a->input_scale, b->input_scale, a->arch.inputs * sizeof(float));
}

/* Both models give bit-identical probabilities on the same raw rows. */
static void assert_same_predictions(const trainer_model_t *a, const trainer_model_t *b) {
    enum { ROWS = 20 };
    size_t in = a->arch.inputs, out = a->arch.outputs;
    float *x = fx_calloc(ROWS * in, sizeof *x);
    float *pa = fx_calloc(ROWS * out, sizeof *pa), *pb = fx_calloc(ROWS * out, sizeof *pb);
    trainer_rng_t rng;
    trainer_rng_seed(&rng, 9, 9);
    fx_fill_uniform(x, ROWS * in, &rng, -60.0f, 60.0f);
    assert_int_equal(trainer_model_predict(a, x, ROWS, pa), 0);
    assert_int_equal(trainer_model_predict(b, x, ROWS, pb), 0);
    assert_memory_equal(pa, pb, ROWS * out * sizeof *pa);
    for (size_t k = 0; k < ROWS * out; k++)
        assert_true(isfinite(pa[k]) && pa[k] >= 0.0f && pa[k] <= 1.0f);
    free(x);
    free(pa);
    free(pb);
}

static const trainer_arch_t round_trip_archs[] = {
    {.inputs = 4, .outputs = 3, .n_hidden = 0, .activation = TRAINER_ACT_SIGMOID},
    {.inputs = 5, .outputs = 4, .n_hidden = 2, .hidden = {7, 6}, .activation = TRAINER_ACT_RELU},
    {.inputs = 3, .outputs = 2, .n_hidden = 3, .hidden = {2, 3, 4}, .activation = TRAINER_ACT_TANH},
};

/* Checks one layer's initial weights: inside the bound, filling it, centred; the biases zero, or
 * drawn from the same bound when `biases_drawn`. */
static void check_init_layer(const trainer_model_t *m, size_t l, float bound, int biases_drawn) {
    size_t in, out;
    float *W = trainer_layer_weights(&m->arch, m->params, l, &in, &out);
    double max = 0.0, mean = 0.0;
    for (size_t i = 0; i < in * out; i++) {
        assert_true(fabsf(W[i]) <= bound);
        max = fmax(max, fabs(W[i]));
        mean += W[i];
    }
    mean /= (double)(in * out);
    fx_assert_lt(0.9 * bound, max);
    fx_assert_lt(fabs(mean), 0.15 * bound);
    const float *b = trainer_layer_bias(&m->arch, m->params, l);
    size_t nonzero = 0;
    for (size_t j = 0; j < out; j++) {
        assert_true(fabsf(b[j]) <= bound);
        nonzero += b[j] != 0.0f;
    }
    assert_int_equal(nonzero, biases_drawn ? out : 0);
}

static void test_model_new_init(void **state) {
    (void)state;
    trainer_arch_t a = {.inputs = 20, .outputs = 4, .n_hidden = 2, .hidden = {30, 25}};
    for (int act = 0; act < 3; act++) {
        a.activation = (trainer_activation_t)act;
        trainer_model_t *m = trainer_model_new(&a, 42);
        assert_non_null(m);
        assert_int_equal(m->n_layers, 3);
        assert_int_equal(m->n_params, trainer_arch_param_count(&a));
        assert_int_equal(m->gemm, TRAINER_GEMM_BLAS);
        int relu = a.activation == TRAINER_ACT_RELU;
        check_init_layer(m, 0, relu ? sqrtf(6.0f / 20.0f) : sqrtf(6.0f / 50.0f), 0);
        check_init_layer(m, 1, relu ? sqrtf(6.0f / 30.0f) : sqrtf(6.0f / 55.0f), 0);
        check_init_layer(m, 2, sqrtf(6.0f / 29.0f), 0); /* the output layer is always Xavier */
        for (size_t i = 0; i < a.inputs; i++) {
            assert_true(m->input_shift[i] == 0.0f);
            assert_true(m->input_scale[i] == 1.0f);
        }
        trainer_model_t *same = trainer_model_new(&a, 42), *other = trainer_model_new(&a, 43);
        assert_non_null(same);
        assert_non_null(other);
        assert_memory_equal(m->params, same->params, m->n_params * sizeof(float));
        assert_memory_not_equal(m->params, other->params, m->n_params * sizeof(float));
        trainer_model_free(m);
        trainer_model_free(same);
        trainer_model_free(other);
    }
    a.outputs = 1;
    assert_null(trainer_model_new(&a, 1));
    trainer_model_free(NULL);
}

/* The named rules: each layer's bound, biases drawn or zero, auto identical to the default, names
 * that round-trip, unknown rules refused. */
static void test_model_init_rules(void **state) {
    (void)state;
    trainer_arch_t a = {.inputs = 20, .outputs = 4, .n_hidden = 2, .hidden = {30, 25}};
    const size_t in[3] = {20, 30, 25}, out[3] = {30, 25, 4};
    for (int act = 0; act < 3; act++) {
        a.activation = (trainer_activation_t)act;
        int sigmoid = a.activation == TRAINER_ACT_SIGMOID;
        trainer_model_t *dflt = trainer_model_new(&a, 5);
        trainer_model_t *automatic = trainer_model_new_init(&a, 5, TRAINER_INIT_AUTO);
        assert_non_null(dflt);
        assert_non_null(automatic);
        assert_memory_equal(dflt->params, automatic->params, dflt->n_params * sizeof(float));
        trainer_model_free(dflt);
        trainer_model_free(automatic);
        for (int rule = TRAINER_INIT_GLOROT; rule <= TRAINER_INIT_TORCH; rule++) {
            trainer_model_t *m = trainer_model_new_init(&a, 5, (trainer_init_t)rule);
            assert_non_null(m);
            for (size_t l = 0; l < 3; l++) {
                float fan_sum = (float)(in[l] + out[l]), bound = 0.0f;
                int biases = rule == TRAINER_INIT_SKLEARN || rule == TRAINER_INIT_TORCH;
                if (rule == TRAINER_INIT_GLOROT)
                    bound = sqrtf(6.0f / fan_sum);
                else if (rule == TRAINER_INIT_HE)
                    bound = sqrtf(6.0f / (float)in[l]);
                else if (rule == TRAINER_INIT_SKLEARN)
                    bound = sqrtf((sigmoid ? 2.0f : 6.0f) / fan_sum);
                else
                    bound = 1.0f / sqrtf((float)in[l]);
                check_init_layer(m, l, bound, biases);
            }
            trainer_init_t back = TRAINER_INIT_AUTO;
            assert_int_equal(trainer_init_parse(trainer_init_name((trainer_init_t)rule), &back), 0);
            assert_int_equal(back, rule);
            trainer_model_free(m);
        }
    }
    trainer_init_t got = TRAINER_INIT_TORCH;
    assert_string_equal(trainer_init_name(TRAINER_INIT_AUTO), "auto");
    assert_int_equal(trainer_init_parse("xavier", &got), MLPT_EINVAL);
    assert_int_equal(trainer_init_parse("Torch", &got), MLPT_EINVAL);
    assert_int_equal(trainer_init_parse(NULL, &got), MLPT_EINVAL);
    assert_int_equal(got, TRAINER_INIT_TORCH); /* untouched on failure */
    assert_string_equal(trainer_init_name((trainer_init_t)99), "unknown");
    assert_null(trainer_model_new_init(&a, 5, (trainer_init_t)99));
}

static void test_save_load_round_trip(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof round_trip_archs / sizeof round_trip_archs[0]; k++) {
        const trainer_arch_t *a = &round_trip_archs[k];
        trainer_model_t *m = random_model(a, 300 + k);
        unsigned char *buf = NULL;
        size_t len = 0;
        assert_int_equal(trainer_model_save(m, &buf, &len), 0);
        assert_non_null(buf);
        assert_int_equal(len, header_bytes(a) + 4 * (2 * a->inputs + m->n_params));

        int err = 0;
        trainer_model_t *back = load_copy(buf, len, &err);
        assert_non_null(back);
        assert_models_equal(m, back);
        assert_same_predictions(m, back);

        /* save(load(save(m))) is the same bytes */
        unsigned char *buf2 = NULL;
        size_t len2 = 0;
        assert_int_equal(trainer_model_save(back, &buf2, &len2), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(buf2, buf, len);
        free(buf);
        free(buf2);
        trainer_model_free(back);
        trainer_model_free(m);
    }
}

/* The layout the header comment promises: magic, u32 fields and floats little-endian. */
static void test_save_layout(void **state) {
    (void)state;
    const trainer_arch_t *a = &round_trip_archs[1]; /* 5 -> 7 -> 6 -> 4, relu */
    trainer_model_t *m = random_model(a, 7);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    assert_memory_equal(buf, "MLPTMODL", 8);
    assert_int_equal(get_le32(buf + 8), 1);
    assert_int_equal(get_le32(buf + 12), TRAINER_ACT_RELU);
    assert_int_equal(get_le32(buf + 16), 5);
    assert_int_equal(get_le32(buf + 20), 4);
    assert_int_equal(get_le32(buf + 24), 2);
    assert_int_equal(get_le32(buf + 28), 7);
    assert_int_equal(get_le32(buf + 32), 6);
    uint64_t n_params = get_le32(buf + 36) | (uint64_t)get_le32(buf + 40) << 32;
    assert_int_equal(n_params, m->n_params);
    const unsigned char *f = buf + 44;
    uint32_t bits;
    memcpy(&bits, &m->input_shift[0], 4);
    assert_int_equal(get_le32(f), bits);
    memcpy(&bits, &m->input_scale[0], 4);
    assert_int_equal(get_le32(f + 4 * 5), bits);
    memcpy(&bits, &m->params[m->n_params - 1], 4);
    assert_int_equal(get_le32(buf + len - 4), bits);
    free(buf);
    trainer_model_free(m);
}

static void test_load_bad_magic(void **state) {
    (void)state;
    trainer_model_t *m = random_model(&round_trip_archs[0], 1);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    for (size_t i = 0; i < 8; i++) {
        buf[i] ^= 0x20;
        int err = 0;
        assert_null(load_copy(buf, len, &err));
        assert_int_equal(err, MLPT_EFORMAT);
        assert_null(load_copy(buf, len, NULL)); /* err is optional */
        buf[i] ^= 0x20;
    }
    int err = 0;
    assert_null(trainer_model_load(NULL, 0, &err));
    assert_int_equal(err, MLPT_EFORMAT);
    free(buf);
    trainer_model_free(m);
}

/* Every proper prefix of a valid file is rejected, and so is a byte too many. */
static void test_load_truncated(void **state) {
    (void)state;
    const trainer_arch_t a = {
        .inputs = 2, .outputs = 2, .n_hidden = 1, .hidden = {2}, .activation = TRAINER_ACT_TANH};
    trainer_model_t *m = random_model(&a, 2);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    assert_int_equal(len, header_bytes(&a) + 4 * (4 + 12));
    for (size_t cut = 0; cut < len; cut++) {
        int err = 0;
        trainer_model_t *t = load_copy(buf, cut, &err);
        if (t) {
            print_error("a prefix of %zu of %zu bytes loaded\n", cut, len);
            trainer_model_free(t);
            fail();
        }
        assert_int_equal(err, MLPT_EFORMAT);
    }
    unsigned char *longer = fx_calloc(len + 1, 1);
    memcpy(longer, buf, len);
    int err = 0;
    assert_null(trainer_model_load(longer, len + 1, &err));
    assert_int_equal(err, MLPT_EFORMAT);
    free(longer);
    free(buf);
    trainer_model_free(m);
}

/* trainer_model_read's test source: the bytes of buf, failing with MLPT_EIO once `fail_at`
 * bytes have gone (SIZE_MAX: never); counts the calls and the largest one. */
typedef struct test_source {
    const unsigned char *buf;
    size_t pos, fail_at, calls, largest;
} test_source_t;

static int test_read(void *user, void *dst, size_t n) {
    test_source_t *t = user;
    t->calls++;
    if (n > t->largest)
        t->largest = n;
    if (t->pos + n > t->fail_at)
        return MLPT_EIO;
    memcpy(dst, t->buf + t->pos, n);
    t->pos += n;
    return 0;
}

/* A model read from a source is the model loaded from memory; the parameters arrive in one
 * read straight into the model (no buffer of the whole file); a source that fails anywhere
 * gives MLPT_EIO and nothing, and a stated length that disagrees with the header is refused
 * before any parameter is read. */
static void test_read_from_source(void **state) {
    (void)state;
    const trainer_arch_t *a = &round_trip_archs[1];
    trainer_model_t *m = random_model(a, 11);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);

    test_source_t src = {buf, 0, SIZE_MAX, 0, 0};
    int err = 0;
    trainer_model_t *back = trainer_model_read(test_read, &src, len, &err);
    assert_non_null(back);
    assert_models_equal(m, back);
    assert_int_equal(src.pos, len);
    assert_int_equal(src.largest, 4 * m->n_params);
    trainer_model_free(back);

    for (size_t at = 0; at < len; at += 1 + at / 3) {
        test_source_t f = {buf, 0, at, 0, 0};
        err = 0;
        assert_null(trainer_model_read(test_read, &f, len, &err));
        assert_int_equal(err, MLPT_EIO);
    }
    for (size_t wrong = len - 4; wrong <= len + 4; wrong += 8) {
        test_source_t w = {buf, 0, SIZE_MAX, 0, 0};
        err = 0;
        assert_null(trainer_model_read(test_read, &w, wrong, &err));
        assert_int_equal(err, MLPT_EFORMAT);
        assert_true(w.largest < 4 * m->n_params);
    }
    err = 0;
    assert_null(trainer_model_read(NULL, NULL, len, &err));
    assert_int_equal(err, MLPT_EFORMAT);
    free(buf);
    trainer_model_free(m);
}

static void test_load_wrong_version(void **state) {
    (void)state;
    trainer_model_t *m = random_model(&round_trip_archs[2], 3);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    const uint32_t versions[] = {2, 0xFFFFFFFFu};
    for (size_t i = 0; i < 2; i++) {
        put_le32(buf + 8, versions[i]);
        int err = 0;
        assert_null(load_copy(buf, len, &err));
        assert_int_equal(err, MLPT_EVERSION);
    }
    put_le32(buf + 8, 1);
    trainer_model_t *ok = load_copy(buf, len, NULL);
    assert_non_null(ok);
    trainer_model_free(ok);
    free(buf);
    trainer_model_free(m);
}

/* Header fields that contradict each other or the architecture rules. */
static void test_load_inconsistent_header(void **state) {
    (void)state;
    const trainer_arch_t *a = &round_trip_archs[1]; /* n_hidden 2: n_params at offset 36 */
    trainer_model_t *m = random_model(a, 4);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    const struct {
        size_t offset;
        uint32_t value;
    } edits[] = {
        {12, 3},                      /* no such activation */
        {16, 6},                      /* inputs: the parameter count no longer matches */
        {20, 1},                      /* one output class */
        {24, TRAINER_MAX_HIDDEN + 1}, /* too deep */
        {24, 1},                      /* fewer layers than the data holds */
        {28, 0},                      /* an empty hidden layer */
        {32, 5},                      /* a different width */
        {36, (uint32_t)m->n_params + 1},
        {40, 1}, /* n_params' high word */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        uint32_t saved = get_le32(buf + edits[i].offset);
        put_le32(buf + edits[i].offset, edits[i].value);
        int err = 0;
        trainer_model_t *t = load_copy(buf, len, &err);
        if (t) {
            print_error("edit %zu (offset %zu = %u) loaded\n", i, edits[i].offset, edits[i].value);
            trainer_model_free(t);
            fail();
        }
        assert_int_equal(err, MLPT_EFORMAT);
        put_le32(buf + edits[i].offset, saved);
    }
    free(buf);
    trainer_model_free(m);
}

static void test_clone(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof round_trip_archs / sizeof round_trip_archs[0]; k++) {
        trainer_model_t *m = random_model(&round_trip_archs[k], 400 + k);
        m->gemm = TRAINER_GEMM_NAIVE;
        trainer_model_t *c = trainer_model_clone(m);
        assert_non_null(c);
        assert_models_equal(m, c);
        assert_int_equal(c->gemm, TRAINER_GEMM_NAIVE);
        assert_same_predictions(m, c);
        /* a deep copy: changing the clone leaves the original alone */
        assert_ptr_not_equal(c->params, m->params);
        assert_ptr_not_equal(c->input_shift, m->input_shift);
        assert_ptr_not_equal(c->input_scale, m->input_scale);
        float p0 = m->params[1], s0 = m->input_shift[0], k0 = m->input_scale[0];
        c->params[1] += 1.0f;
        c->input_shift[0] += 1.0f;
        c->input_scale[0] += 1.0f;
        assert_true(m->params[1] == p0 && m->input_shift[0] == s0 && m->input_scale[0] == k0);
        trainer_model_free(c);
        trainer_model_free(m);
    }
}

/* trainer/le.h, the codec of the model, checkpoint and matrix files: byte order, and floats as
 * their bit patterns (a NaN's payload and -0 come back as they went). */
static void test_le_codec(void **state) {
    (void)state;
    unsigned char b[16];
    trainer_le_put_u32(b, 0x01020304u);
    assert_memory_equal(b, "\x04\x03\x02\x01", 4);
    assert_int_equal(trainer_le_get_u32(b), 0x01020304u);
    trainer_le_put_u64(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_true(trainer_le_get_u64(b) == 0x0102030405060708ull);
    trainer_le_put_f64(b, -2.5);
    assert_true(trainer_le_get_f64(b) == -2.5);
    assert_int_equal(b[7], 0xC0);
    uint32_t nan_bits = 0x7FC00123u;
    float f[2], g[2];
    memcpy(&f[0], &nan_bits, 4);
    f[1] = -0.0f;
    trainer_le_put_f32s(b, f, 2);
    assert_memory_equal(b, "\x23\x01\xC0\x7F\x00\x00\x00\x80", 8);
    trainer_le_get_f32s(g, b, 2);
    assert_memory_equal(g, f, sizeof f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_le_codec),
        cmocka_unit_test(test_model_new_init),
        cmocka_unit_test(test_model_init_rules),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_save_layout),
        cmocka_unit_test(test_load_bad_magic),
        cmocka_unit_test(test_load_truncated),
        cmocka_unit_test(test_read_from_source),
        cmocka_unit_test(test_load_wrong_version),
        cmocka_unit_test(test_load_inconsistent_header),
        cmocka_unit_test(test_clone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
