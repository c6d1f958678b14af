/*
 * test_pinned.c - histories recorded from the code before issue 12's restructuring, pinned.
 *
 * A refactoring must not change a single bit of what training computes: the same spec, seed,
 * partitions and BLAS threads give the same history as before. Each case below loads a dataset
 * from tests/data through ingest/ (as `mlptune train` and the scheduler do), trains it through
 * trainer_run_* (helpers joining for one case), and writes one text line per fact:
 *   it     every iteration's train/val loss and accuracy as bit patterns (seconds excluded), and
 *          a hash of the model saved at that iteration (what a shared-prefix follower stores);
 *   ckpt   a hash of every checkpoint's bytes;
 *   model  the final model's hash; test: loss/accuracy on a test set whose labels are remapped
 *          into the training set's classes; matrix: the hash of the dataset's matrix file.
 * The lines are compared with tests/data/pinned_histories.txt, which holds them once per
 * OpenBLAS core and build they were recorded on: cores Prescott (what this OpenBLAS picks on
 * the development machine's CPU), Cooperlake (what it picks there when OPENBLAS_CORETYPE is set
 * but empty), Haswell and SkylakeX (forced with OPENBLAS_CORETYPE); builds Release and
 * RelWithDebInfo+sanitize (our own kernels round differently at -O2 with the sanitizers: the
 * relu and momentum case moves in its last bits). On a recorded core and build every line must
 * match exactly. OpenBLAS picks other
 * kernels on other CPUs (Haswell, SkylakeX...), whose sums round differently: there the figures
 * are compared within a relative 1e-3, hashes are skipped, and the test says so.
 *
 * Recording: MLPT_PINNED_RECORD=<file> writes the lines (one section) to that file instead of
 * comparing; only ever from the code as it was before issue 12's changes.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest.h"
#include "kernels.h"
#include "matrix.h"
#include "mlpt_err.h"
#include "train.h"

char *openblas_get_corename(void);

#ifndef MLPT_PINNED_BUILD
#define MLPT_PINNED_BUILD "unknown"
#endif

#define PINNED_FILE MLPT_TEST_DATA_DIR "/pinned_histories.txt"
#define MAX_LINES 512
#define LINE_LEN 256

typedef struct {
    const char *name;
    const char *file;  /* under tests/data */
    const char *label; /* label column name */
    trainer_activation_t act;
    size_t n_hidden;
    size_t hidden[3];
    float lr, momentum;
    size_t batch, iterations, partitions, checkpoint_every;
    double val_split;
    uint64_t seed;
    int helpers; /* threads joining the run */
    int rescale; /* non-zero: use `scaling` instead of the dataset's rule */
    trainer_scaling_t scaling;
    trainer_init_t init;
} pin_case_t;

static const pin_case_t cases[] = {
    {"iris-sigmoid-p1",
     "iris.csv",
     "species",
     TRAINER_ACT_SIGMOID,
     1,
     {8},
     0.5f,
     0.0f,
     16,
     6,
     1,
     0,
     0.2,
     1,
     0,
     0,
     TRAINER_SCALE_STANDARDIZE,
     TRAINER_INIT_AUTO},
    {"wine-relu-momentum-p2-helper",
     "wine.csv",
     "cultivar",
     TRAINER_ACT_RELU,
     2,
     {16, 8},
     0.05f,
     0.9f,
     32,
     5,
     2,
     2,
     0.25,
     7,
     1,
     0,
     TRAINER_SCALE_STANDARDIZE,
     TRAINER_INIT_AUTO},
    {"digits-tanh-momentum-p2",
     "digits.csv",
     "label",
     TRAINER_ACT_TANH,
     1,
     {32},
     0.1f,
     0.5f,
     64,
     4,
     2,
     3,
     0.2,
     3,
     0,
     1,
     TRAINER_SCALE_GLOBAL_MINMAX,
     TRAINER_INIT_AUTO},
    {"digits-relu-p1-sklearn",
     "digits.csv",
     "label",
     TRAINER_ACT_RELU,
     2,
     {24, 12},
     0.2f,
     0.0f,
     50,
     3,
     1,
     0,
     0.3,
     11,
     0,
     1,
     TRAINER_SCALE_MINMAX,
     TRAINER_INIT_SKLEARN},
};

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    char lines[MAX_LINES][LINE_LEN];
    size_t n;
} lines_t;

static void add_line(lines_t *L, const char *fmt, ...) {
    assert_true(L->n < MAX_LINES);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(L->lines[L->n], LINE_LEN, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < LINE_LEN);
    L->n++;
}

static uint64_t fnv1a(const void *p, size_t len) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static unsigned long long bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (unsigned long long)u;
}

static uint64_t model_hash(const trainer_model_t *m) {
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(trainer_model_save(m, &buf, &len), 0);
    uint64_t h = fnv1a(buf, len);
    free(buf);
    return h;
}

typedef struct {
    lines_t *L;
    const char *name;
} rec_t;

static int on_epoch(const trainer_epoch_t *ep, void *user) {
    rec_t *r = user;
    add_line(r->L, "%s it %zu %016llx %016llx %016llx %016llx model %016llx", r->name,
             ep->iteration, bits(ep->train_loss), bits(ep->train_accuracy), bits(ep->val_loss),
             bits(ep->val_accuracy), (unsigned long long)model_hash(ep->model));
    return 0;
}

static void on_ckpt(const trainer_checkpoint_t *ck, void *user) {
    rec_t *r = user;
    add_line(r->L, "%s ckpt %zu %zu %016llx", r->name, ck->iteration, ck->len,
             (unsigned long long)fnv1a(ck->bytes, ck->len));
    free(ck->bytes);
}

typedef struct {
    trainer_run_t *run;
} helper_arg_t;

static void *helper_main(void *p) {
    helper_arg_t *h = p;
    do
        trainer_run_help(h->run, NULL);
    while (trainer_run_join(h->run) == 0);
    return NULL;
}

static trainer_dataset_t *load(const pin_case_t *c) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MLPT_TEST_DATA_DIR, c->file);
    ingest_csv_options_t o;
    ingest_csv_options_init(&o);
    o.label_name = c->label;
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    int rc = ingest_load_csv_file(path, &o, &ds, &err);
    if (rc != 0)
        fail_msg("%s: %s", path, err.message);
    return ds;
}

static void run_case(const pin_case_t *c, lines_t *L) {
    trainer_dataset_t *ds = load(c);

    /* The matrix file's bytes (ingest/matrix.c's little-endian writer). */
    char tmp[] = "/tmp/mlpt-pinned-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ingest_matrix_write(tmp, ds, NULL), 0);
    FILE *f = fopen(tmp, "rb");
    assert_non_null(f);
    static unsigned char mbuf[4 << 20];
    size_t mlen = fread(mbuf, 1, sizeof mbuf, f);
    assert_true(mlen < sizeof mbuf);
    fclose(f);
    unlink(tmp);
    add_line(L, "%s matrix %zu %016llx", c->name, mlen, (unsigned long long)fnv1a(mbuf, mlen));

    trainer_split_t sp;
    assert_int_equal(trainer_split_stratified(ds, c->val_split, c->seed, &sp), 0);
    trainer_arch_t a = {.inputs = ds->features,
                        .outputs = ds->classes,
                        .n_hidden = c->n_hidden,
                        .activation = c->act};
    for (size_t l = 0; l < c->n_hidden; l++)
        a.hidden[l] = c->hidden[l];
    trainer_model_t *m = trainer_model_new_init(&a, c->seed, c->init);
    assert_non_null(m);
    trainer_options_t opt = {.learning_rate = c->lr,
                             .momentum = c->momentum,
                             .batch_size = c->batch,
                             .iterations = c->iterations,
                             .seed = c->seed,
                             .partitions = c->partitions,
                             .checkpoint_every = c->checkpoint_every,
                             .rescale = c->rescale,
                             .scaling = c->scaling};
    trainer_run_t *run = NULL;
    assert_int_equal(trainer_run_new(m, ds, &sp, &opt, &run), 0);
    pthread_t th[2];
    helper_arg_t arg = {run};
    for (int i = 0; i < c->helpers; i++) {
        assert_int_equal(trainer_run_join(run), 0);
        assert_int_equal(pthread_create(&th[i], NULL, helper_main, &arg), 0);
    }
    rec_t rec = {L, c->name};
    trainer_result_t res;
    assert_int_equal(trainer_run_go(run, on_epoch, on_ckpt, &rec, &res), 0);
    for (int i = 0; i < c->helpers; i++)
        pthread_join(th[i], NULL);
    trainer_run_free(run);
    add_line(L, "%s model %016llx best %016llx %zu", c->name, (unsigned long long)model_hash(m),
             bits(res.best_val_accuracy), res.best_iteration);

    /* A test set: the same file loaded again, its labels remapped to the training classes. */
    trainer_dataset_t *test = load(c);
    size_t unknown = 0;
    assert_int_equal(trainer_dataset_align_classes(test, ds, &unknown), 0);
    double loss = 0, acc = 0;
    assert_int_equal(trainer_evaluate(m, test, NULL, 0, &loss, &acc), 0);
    add_line(L, "%s test %016llx %016llx", c->name, bits(loss), bits(acc));

    trainer_dataset_free(test);
    trainer_model_free(m);
    trainer_split_deinit(&sp);
    trainer_dataset_free(ds);
}

/* ------------------------------------------------------------------------------------------ */

static double from_bits(const char *hex) {
    uint64_t u = strtoull(hex, NULL, 16);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int close_enough(double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-3 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* What each word after "<case> <kind>" is, per kind: '=' compared exactly, 'f' a figure's bits
 * (compared within the tolerance), 'h' a hash of bytes that hold figures (skipped). The matrix
 * file does not depend on BLAS: it is compared exactly on every core. */
static const char *word_kinds(const char *kind) {
    if (!strcmp(kind, "it"))
        return "=ffff=h";
    if (!strcmp(kind, "ckpt"))
        return "==h";
    if (!strcmp(kind, "model"))
        return "h=f=";
    if (!strcmp(kind, "test"))
        return "ff";
    return "";
}

static int lines_close(const char *want, const char *got) {
    char w[LINE_LEN], g[LINE_LEN];
    snprintf(w, sizeof w, "%s", want);
    snprintf(g, sizeof g, "%s", got);
    char *sw, *sg;
    char *tw = strtok_r(w, " ", &sw), *tg = strtok_r(g, " ", &sg);
    const char *kinds = "";
    for (size_t word = 0; tw && tg; word++) {
        char k = word < 2 ? '=' : (word - 2 < strlen(kinds) ? kinds[word - 2] : '=');
        if (word == 1)
            kinds = word_kinds(tw);
        if (k == '=' && strcmp(tw, tg) != 0)
            return 0;
        if (k == 'f' && !close_enough(from_bits(tw), from_bits(tg)))
            return 0;
        tw = strtok_r(NULL, " ", &sw);
        tg = strtok_r(NULL, " ", &sg);
    }
    return tw == NULL && tg == NULL;
}

static void test_pinned_histories(void **state) {
    (void)state;
    trainer_blas_set_threads(1);
    static lines_t got;
    got.n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], &got);
    const char *core = openblas_get_corename();

    const char *record = getenv("MLPT_PINNED_RECORD");
    if (record && *record) {
        FILE *f = fopen(record, "w");
        assert_non_null(f);
        fprintf(f, "core %s build %s\n", core, MLPT_PINNED_BUILD);
        for (size_t i = 0; i < got.n; i++)
            fprintf(f, "%s\n", got.lines[i]);
        assert_int_equal(fclose(f), 0);
        print_message("recorded %zu lines on core %s build %s into %s\n", got.n, core,
                      MLPT_PINNED_BUILD, record);
        return;
    }

    /* The file holds one section per core and build it was recorded on ("core <name> build
     * <build>" then its lines): the current one's section, else the first one. */
    char here[LINE_LEN];
    snprintf(here, sizeof here, "%s build %s", core, MLPT_PINNED_BUILD);
    FILE *f = fopen(PINNED_FILE, "r");
    assert_non_null(f);
    static lines_t want;
    want.n = 0;
    char core_want[LINE_LEN] = "";
    char buf[LINE_LEN];
    int taking = 0, found = 0;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (!strncmp(buf, "core ", 5)) {
            if (found)
                break;
            found = !strcmp(buf + 5, here);
            taking = found || core_want[0] == '\0';
            if (taking) {
                want.n = 0;
                snprintf(core_want, sizeof core_want, "%s", buf + 5);
            }
            continue;
        }
        if (!taking)
            continue;
        assert_true(want.n < MAX_LINES);
        snprintf(want.lines[want.n++], LINE_LEN, "%s", buf);
    }
    fclose(f);
    assert_int_equal(got.n, want.n);

    int exact = strcmp(here, core_want) == 0;
    if (!exact)
        print_message("OpenBLAS core %s, the pinned histories were recorded on core %s: "
                      "comparing figures within 1e-3 and skipping hashes, not bit for bit\n",
                      here, core_want);
    size_t bad = 0;
    for (size_t i = 0; i < got.n; i++) {
        int ok = exact ? strcmp(got.lines[i], want.lines[i]) == 0
                       : lines_close(want.lines[i], got.lines[i]);
        if (!ok) {
            print_error("pinned: want %s\n        got  %s\n", want.lines[i], got.lines[i]);
            bad++;
        }
    }
    if (exact)
        print_message("%zu pinned lines compared bit for bit on core %s\n", got.n, here);
    assert_int_equal(bad, 0);
}

/* The tolerant comparison itself: a figure off in the 4th digit fails, hashes never count. */
static void test_pinned_tolerance(void **state) {
    (void)state;
    char a[LINE_LEN], b[LINE_LEN];
    snprintf(a, sizeof a, "x it 1 %016llx %016llx %016llx %016llx model 0123456789abcdef",
             bits(0.5), bits(0.25), bits(1.0), bits(NAN));
    snprintf(b, sizeof b, "x it 1 %016llx %016llx %016llx %016llx model fedcba9876543210",
             bits(0.5 + 1e-6), bits(0.25), bits(1.0), bits(NAN));
    assert_true(lines_close(a, b));
    snprintf(b, sizeof b, "x it 1 %016llx %016llx %016llx %016llx model fedcba9876543210",
             bits(0.51), bits(0.25), bits(1.0), bits(NAN));
    assert_false(lines_close(a, b));
    snprintf(b, sizeof b, "x it 2 %016llx %016llx %016llx %016llx model fedcba9876543210",
             bits(0.5), bits(0.25), bits(1.0), bits(NAN));
    assert_false(lines_close(a, b));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_tolerance),
        cmocka_unit_test(test_pinned_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
