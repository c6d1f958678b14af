/*
 * tests/fuzz/fuzz_csv.c - libFuzzer harness for the streaming CSV parser (ingest/csv.h).
 *
 * Input: [options byte] [2 chunk-seed bytes] [the CSV file].
 *   options bits 0-2: delimiter (0 detect, 1 ',', 2 ';', 3 TAB, 4 '|', 5 ':', 6-7 detect);
 *           bits 3-4: label column (0 default, 1 label_index 0, 2 label_name "species",
 *                     3 label_index 2);
 *           bit 5: max_line_bytes 64, max_field_bytes 16; bit 6: max_rows 4, max_values 12;
 *           bit 7: max_classes 2, max_features 2 (small limits reach every ELIMIT path).
 *
 * The file is parsed twice: in one feed, and in chunks whose sizes come from the seed bytes.
 * Invariants:
 *   - both parses end alike: the same return code, and the same dataset (bit for bit) or the same
 *     error (code, row, column, column name, message);
 *   - errors are sticky: a feed or finish after a failure answers the same error again;
 *   - after a successful finish, feed and finish answer MLPT_ESTATE;
 *   - a dataset passes trainer_dataset_check(), has at least 2 classes sorted the documented way
 *     (integers numerically, else by strcmp), STANDARDIZE scaling and stays within the limits;
 *   - a failure is one of the documented codes: EINVAL only with a label option, ELIMIT only with
 *     a small limit (the input is far too short for the default ones), an error row within the
 *     file's lines, a non-empty message.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dataset.h"
#include "fuzz_util.h"
#include "ingest.h"
#include "mlpt_err.h"

typedef struct outcome {
    int rc;
    ingest_error_t err;
    trainer_dataset_t *ds;
} outcome_t;

static void options_from(uint8_t b, ingest_csv_options_t *opt) {
    static const char delims[8] = {0, ',', ';', '\t', '|', ':', 0, 0};
    ingest_csv_options_init(opt);
    opt->delimiter = delims[b & 7];
    switch ((b >> 3) & 3) {
    case 1:
        opt->label_index = 0;
        break;
    case 2:
        opt->label_name = "species";
        break;
    case 3:
        opt->label_index = 2;
        break;
    default:
        break;
    }
    if (b & 0x20) {
        opt->max_line_bytes = 64;
        opt->max_field_bytes = 16;
    }
    if (b & 0x40) {
        opt->max_rows = 4;
        opt->max_values = 12;
    }
    if (b & 0x80) {
        opt->max_classes = 2;
        opt->max_features = 2;
    }
}

static int same_error(const ingest_error_t *a, const ingest_error_t *b) {
    return a->code == b->code && a->row == b->row && a->column == b->column &&
           strcmp(a->column_name, b->column_name) == 0 && strcmp(a->message, b->message) == 0;
}

static void print_error(const char *what, const ingest_error_t *e) {
    fprintf(stderr, "%s: code %d row %zu column %zu (\"%s\"): %s\n", what, e->code, e->row,
            e->column, e->column_name, e->message);
}

/* After a failure with *first: one more feed and a finish must answer the same error. */
static void check_sticky(ingest_csv_t *csv, const outcome_t *first) {
    ingest_error_t e;
    memset(&e, 0, sizeof(e));
    int rc = ingest_csv_feed(csv, "1,2\n", 4, &e);
    FUZZ_CHECK(rc == first->rc && same_error(&e, &first->err), "feed after error: %d vs %d", rc,
               first->rc);
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    memset(&e, 0, sizeof(e));
    rc = ingest_csv_finish(csv, &ds, &e);
    FUZZ_CHECK(rc == first->rc && same_error(&e, &first->err) && ds == NULL,
               "finish after error: %d vs %d", rc, first->rc);
}

/* Parses text[0..n): in one feed when ch is NULL, else in the chunker's sizes. */
static void parse(const ingest_csv_options_t *opt, const char *text, size_t n, fuzz_chunker_t *ch,
                  outcome_t *out) {
    memset(out, 0, sizeof(*out));
    ingest_csv_t *csv = ingest_csv_new(opt);
    FUZZ_CHECK(csv != NULL, "ingest_csv_new failed");
    int rc = MLPT_OK;
    size_t off = 0;
    while (rc == MLPT_OK && off < n) {
        size_t k = ch ? fuzz_chunk(ch, n - off) : n;
        /* An empty feed may pass NULL; every other chunk is an exact-size heap copy so that ASan
         * sees any read past its end. */
        char *copy = k ? malloc(k) : NULL;
        FUZZ_CHECK(k == 0 || copy, "malloc");
        if (k)
            memcpy(copy, text + off, k);
        rc = ingest_csv_feed(csv, copy, k, &out->err);
        free(copy);
        off += k;
    }
    if (rc == MLPT_OK)
        rc = ingest_csv_finish(csv, &out->ds, &out->err);
    out->rc = rc;
    if (rc != MLPT_OK) {
        FUZZ_CHECK(out->ds == NULL, "a failed parse returned a dataset");
        FUZZ_CHECK(out->err.code == rc, "err.code %d, rc %d", out->err.code, rc);
        check_sticky(csv, out);
    } else {
        ingest_error_t e;
        trainer_dataset_t *ds = NULL;
        FUZZ_CHECK(ingest_csv_feed(csv, "a", 1, &e) == MLPT_ESTATE, "feed after finish");
        FUZZ_CHECK(ingest_csv_finish(csv, &ds, &e) == MLPT_ESTATE && ds == NULL,
                   "finish after finish");
    }
    ingest_csv_free(csv);
}

/* A class name as the integer mode writes it: optional '-', digits, within int64. */
static int is_integer_name(const char *s) {
    const char *d = *s == '-' ? s + 1 : s;
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return 0;
    errno = 0;
    (void)strtoll(s, NULL, 10);
    return errno == 0;
}

static void check_dataset(const trainer_dataset_t *ds, const ingest_csv_options_t *opt) {
    FUZZ_CHECK(trainer_dataset_check(ds) == MLPT_OK, "trainer_dataset_check failed");
    FUZZ_CHECK(ds->scaling == TRAINER_SCALE_STANDARDIZE, "scaling %d", (int)ds->scaling);
    FUZZ_CHECK(ds->classes >= 2, "%zu classes", ds->classes);
    FUZZ_CHECK(ds->rows <= opt->max_rows && ds->features <= opt->max_features &&
                   (uint64_t)ds->rows * ds->features <= opt->max_values &&
                   ds->classes <= opt->max_classes,
               "limits: %zu rows x %zu features, %zu classes", ds->rows, ds->features, ds->classes);
    int integers = 1;
    for (size_t k = 0; k < ds->classes; k++)
        integers &= is_integer_name(ds->class_names[k]);
    for (size_t k = 1; k < ds->classes; k++) {
        const char *a = ds->class_names[k - 1], *b = ds->class_names[k];
        if (integers)
            FUZZ_CHECK(strtoll(a, NULL, 10) < strtoll(b, NULL, 10), "order: %s, %s", a, b);
        else
            FUZZ_CHECK(strcmp(a, b) < 0, "order: \"%s\", \"%s\"", a, b);
    }
}

/* ---- the value oracle: for a file without quotes, a plain split by lines and delimiters ---- */

static int ascii_ieq(const char *a, size_t n, const char *b) {
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        x = (char)(x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x);
        y = (char)(y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
        if (x != y)
            return 0;
    }
    return 1;
}

/* [s, s + n) trimmed of spaces and tabs. */
static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* The n-th field (0-based) of line [s, e) split at d, trimmed. */
static void field_at(const char *s, const char *e, char d, size_t n, const char **f, size_t *len) {
    for (; n > 0; n--)
        s = memchr(s, d, (size_t)(e - s)) + 1;
    const char *t = memchr(s, d, (size_t)(e - s));
    *f = s;
    *len = (size_t)((t ? t : e) - s);
    trim(f, len);
}

/* Checks a dataset parsed from a file without quotes against that plain reading: the delimiter
 * detected by counting (, ; TAB in the header; the most frequent wins, ties , then ; then TAB),
 * the label column chosen as documented, one row per non-blank line, every feature the float32
 * strtof() gives (bit for bit), the same class for the same label text. */
static void check_values(const char *text, size_t n, const ingest_csv_options_t *opt,
                         const trainer_dataset_t *ds) {
    const char *p = text, *end = text + n;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    int header = 0;
    char d = opt->delimiter;
    size_t ncols = 0, label = 0, row = 0;
    char *labels_seen[64] = {0}; /* label text of the first rows, to compare classes */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        if (e > s && e[-1] == '\r')
            e--;
        const char *q = s;
        while (q < e && (*q == ' ' || *q == '\t'))
            q++;
        if (q == e)
            continue; /* blank */
        if (!header) {
            header = 1;
            if (!d) {
                size_t c = 0, sc = 0, t = 0;
                for (q = s; q < e; q++) {
                    c += *q == ',';
                    sc += *q == ';';
                    t += *q == '\t';
                }
                d = sc > c && sc >= t ? ';' : t > c && t > sc ? '\t' : ',';
            }
            ncols = 1;
            for (q = s; q < e; q++)
                ncols += *q == d;
            label = ncols;
            for (size_t j = 0; j < ncols && label == ncols; j++) {
                const char *f;
                size_t len;
                field_at(s, e, d, j, &f, &len);
                if (opt->label_name && len == strlen(opt->label_name) &&
                    memcmp(f, opt->label_name, len) == 0)
                    label = j;
            }
            for (size_t j = 0; j < ncols && label == ncols; j++) {
                const char *f;
                size_t len;
                field_at(s, e, d, j, &f, &len);
                if (ascii_ieq(f, len, opt->label_name ? opt->label_name : "label"))
                    label = j;
            }
            if (opt->label_index >= 0)
                label = (size_t)opt->label_index;
            if (label == ncols)
                label = ncols - 1;
            FUZZ_CHECK(ds->features == ncols - 1, "%zu features, the header has %zu columns",
                       ds->features, ncols);
            continue;
        }
        FUZZ_CHECK(row < ds->rows, "more lines than the %zu rows", ds->rows);
        const float *x = ds->x + row * ds->features;
        for (size_t j = 0, k = 0; j < ncols; j++) {
            const char *f;
            size_t len;
            field_at(s, e, d, j, &f, &len);
            char buf[512];
            if (j == label) {
                if (row < 64 && len < sizeof(buf)) {
                    labels_seen[row] = malloc(len + 1);
                    FUZZ_CHECK(labels_seen[row], "malloc");
                    memcpy(labels_seen[row], f, len);
                    labels_seen[row][len] = '\0';
                }
                continue;
            }
            if (len >= sizeof(buf)) {
                k++;
                continue;
            }
            memcpy(buf, f, len);
            buf[len] = '\0';
            float want = strtof(buf, NULL), got = x[k++];
            FUZZ_CHECK(memcmp(&want, &got, sizeof(float)) == 0,
                       "row %zu column %zu: \"%s\" became %a, strtof gives %a", row + 1, j + 1, buf,
                       (double)got, (double)want);
        }
        row++;
    }
    FUZZ_CHECK(row == ds->rows, "%zu data lines, %zu rows", row, ds->rows);
    for (size_t i = 0; i < 64 && i < row; i++)
        for (size_t j = 0; j < i && labels_seen[i]; j++)
            if (labels_seen[j] && strcmp(labels_seen[i], labels_seen[j]) == 0)
                FUZZ_CHECK(ds->y[i] == ds->y[j], "rows %zu and %zu: label \"%s\", classes %d, %d",
                           j + 1, i + 1, labels_seen[i], ds->y[j], ds->y[i]);
    for (size_t i = 0; i < 64; i++)
        free(labels_seen[i]);
}

static void check_same_dataset(const trainer_dataset_t *a, const trainer_dataset_t *b) {
    FUZZ_CHECK(a->rows == b->rows && a->features == b->features && a->classes == b->classes &&
                   a->scaling == b->scaling,
               "shapes differ: %zu x %zu / %zu vs %zu x %zu / %zu", a->rows, a->features,
               a->classes, b->rows, b->features, b->classes);
    FUZZ_CHECK(memcmp(a->x, b->x, a->rows * a->features * sizeof(float)) == 0, "x differs");
    FUZZ_CHECK(memcmp(a->y, b->y, a->rows * sizeof(int32_t)) == 0, "y differs");
    for (size_t k = 0; k < a->classes; k++) {
        FUZZ_CHECK(strcmp(a->class_names[k], b->class_names[k]) == 0, "class %zu: %s vs %s", k,
                   a->class_names[k], b->class_names[k]);
        FUZZ_CHECK(a->class_counts[k] == b->class_counts[k], "count of class %zu", k);
    }
}

static void check_failure(const outcome_t *o, uint8_t optbyte, const char *text, size_t n) {
    const ingest_error_t *e = &o->err;
    int rc = o->rc;
    FUZZ_CHECK(rc == MLPT_EFORMAT || rc == MLPT_ELIMIT || rc == MLPT_EINVAL,
               "unexpected code %d (%s)", rc, e->message);
    FUZZ_CHECK(rc != MLPT_EINVAL || ((optbyte >> 3) & 3) >= 2, "EINVAL without a label option: %s",
               e->message);
    FUZZ_CHECK(rc != MLPT_ELIMIT || (optbyte & 0xE0) != 0, "ELIMIT with default limits: %s",
               e->message);
    FUZZ_CHECK(memchr(e->message, '\0', sizeof(e->message)) && e->message[0] != '\0',
               "empty or unterminated message");
    FUZZ_CHECK(memchr(e->column_name, '\0', sizeof(e->column_name)), "unterminated column name");
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    FUZZ_CHECK(e->row <= lines, "error row %zu, the file has %zu lines", e->row, lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t optbyte = (uint8_t)fuzz_take(&data, &size, 1);
    fuzz_chunker_t ch;
    fuzz_chunker_init(&ch, fuzz_take(&data, &size, 2));
    const char *text = (const char *)data;
    ingest_csv_options_t opt;
    options_from(optbyte, &opt);

    outcome_t whole, chunked;
    parse(&opt, text, size, NULL, &whole);
    parse(&opt, text, size, &ch, &chunked);
    if (whole.rc != chunked.rc || (whole.rc != MLPT_OK && !same_error(&whole.err, &chunked.err))) {
        print_error("whole", &whole.err);
        print_error("chunked", &chunked.err);
        FUZZ_CHECK(0, "the split changed the outcome: %d vs %d", whole.rc, chunked.rc);
    }
    if (whole.rc == MLPT_OK) {
        check_dataset(whole.ds, &opt); /* options_from() sets every limit */
        check_same_dataset(whole.ds, chunked.ds);
        if (!memchr(text, '"', size))
            check_values(text, size, &opt, whole.ds);
    } else {
        check_failure(&whole, optbyte, text, size);
    }
    trainer_dataset_free(whole.ds);
    trainer_dataset_free(chunked.ds);
    return 0;
}
