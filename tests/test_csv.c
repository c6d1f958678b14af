/*
 * tests/test_csv.c - the streaming CSV parser: real datasets, dialects, chunking, labels, every
 * error with its row and column, limits, the number parser against strtof(), the file loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dataset.h"
#include "gz.h"
#include "ingest.h"
#include "ingest_fixtures.h"

#define DATA(name) MLPT_TEST_DATA_DIR "/" name

/* Parses text whole and expects failure with exactly this code, row, column and message. */
static void expect_error(const char *text, size_t len, const ingest_csv_options_t *opt, int code,
                         size_t row, size_t column, const char *message) {
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    ingest_error_t err;
    memset(&err, 0, sizeof(err));
    int rc = fx_csv_parse(text, len, 0, opt, &ds, &err);
    if (strcmp(err.message, message) != 0)
        print_error("got message: %s\n", err.message);
    assert_int_equal(rc, code);
    assert_null(ds);
    assert_int_equal(err.code, code);
    assert_int_equal(err.row, row);
    assert_int_equal(err.column, column);
    assert_string_equal(err.message, message);
}

static void expect_error_str(const char *text, const ingest_csv_options_t *opt, int code,
                             size_t row, size_t column, const char *message) {
    expect_error(text, strlen(text), opt, code, row, column, message);
}

/* ---- real datasets -----------------------------------------------------------------------------
 */

static void test_iris_string_labels_last_column(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    assert_int_equal(ingest_load_csv_file(DATA("iris.csv"), NULL, &ds, &err), 0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, 150);
    assert_int_equal(ds->features, 4);
    assert_int_equal(ds->classes, 3);
    assert_int_equal(ds->scaling, TRAINER_SCALE_STANDARDIZE);
    assert_string_equal(ds->class_names[0], "setosa");
    assert_string_equal(ds->class_names[1], "versicolor");
    assert_string_equal(ds->class_names[2], "virginica");
    for (int k = 0; k < 3; k++)
        assert_int_equal(ds->class_counts[k], 50);
    const float first[4] = {5.1f, 3.5f, 1.4f, 0.2f}; /* 5.1,3.5,1.4,0.2,setosa */
    assert_memory_equal(ds->x, first, sizeof(first));
    assert_int_equal(ds->y[0], 0);
    assert_int_equal(ds->y[149], 2);
    trainer_dataset_free(ds);
}

static void test_wine_label_by_name_first_column(void **state) {
    (void)state;
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.label_name = "cultivar";
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(DATA("wine.csv"), &opt, &ds, NULL), 0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, 178);
    assert_int_equal(ds->features, 13);
    assert_int_equal(ds->classes, 3);
    assert_string_equal(ds->class_names[0], "cultivar_0");
    assert_string_equal(ds->class_names[2], "cultivar_2");
    assert_int_equal(ds->class_counts[0], 59);
    assert_int_equal(ds->class_counts[1], 71);
    assert_int_equal(ds->class_counts[2], 48);
    assert_true(ds->x[0] == 14.23f);  /* alcohol of row 1 */
    assert_true(ds->x[12] == 1065.f); /* proline of row 1 */
    trainer_dataset_free(ds);

    /* The same by index, and by a name in another case. */
    ingest_csv_options_init(&opt);
    opt.label_index = 0;
    trainer_dataset_t *by_index = NULL, *by_case = NULL;
    assert_int_equal(ingest_load_csv_file(DATA("wine.csv"), &opt, &by_index, NULL), 0);
    ingest_csv_options_init(&opt);
    opt.label_name = "CULTIVAR";
    assert_int_equal(ingest_load_csv_file(DATA("wine.csv"), &opt, &by_case, NULL), 0);
    fx_assert_dataset_equal(by_index, by_case);
    trainer_dataset_free(by_index);
    trainer_dataset_free(by_case);
}

static void test_digits_integer_labels(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(DATA("digits.csv"), NULL, &ds, NULL), 0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, 1797);
    assert_int_equal(ds->features, 64);
    assert_int_equal(ds->classes, 10);
    const size_t counts[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
    for (int k = 0; k < 10; k++) {
        char name[12];
        snprintf(name, sizeof(name), "%d", k);
        assert_string_equal(ds->class_names[k], name);
        assert_int_equal(ds->class_counts[k], counts[k]);
    }
    assert_int_equal(ds->y[0], 0);
    assert_int_equal(ds->y[1], 1);
    trainer_dataset_free(ds);
}

/* ---- dialects ----------------------------------------------------------------------------------
 */

static void test_default_label_column_named_label(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(fx_csv_str("a,LaBeL,b\n1,x,2\n3,y,4\n", NULL, &ds, NULL), 0);
    assert_int_equal(ds->features, 2);
    const float x[4] = {1, 2, 3, 4};
    assert_memory_equal(ds->x, x, sizeof(x));
    assert_string_equal(ds->class_names[1], "y");
    trainer_dataset_free(ds);

    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.label_index = 2;
    assert_int_equal(fx_csv_str("a,label,b\n1,5,x\n3,6,y\n", &opt, &ds, NULL), 0);
    const float x2[4] = {1, 5, 3, 6};
    assert_memory_equal(ds->x, x2, sizeof(x2));
    assert_string_equal(ds->class_names[0], "x");
    trainer_dataset_free(ds);

    /* Duplicate header names are fine; by name, the first of them is the label. */
    ingest_csv_options_init(&opt);
    opt.label_name = "k";
    assert_int_equal(fx_csv_str("k,v,k,v\nx,1,2,3\ny,4,5,6\n", &opt, &ds, NULL), 0);
    const float x3[6] = {1, 2, 3, 4, 5, 6};
    assert_memory_equal(ds->x, x3, sizeof(x3));
    assert_string_equal(ds->class_names[1], "y");
    trainer_dataset_free(ds);
}

static void test_semicolon_tab_and_pipe(void **state) {
    (void)state;
    const float x[4] = {1.5f, 2, 3, -4};
    const char *texts[] = {"a;b;label\n1.5;2;x\n3;-4;y\n", "a\tb\tlabel\n1.5\t2\tx\n3\t-4\ty\n",
                           "a,b;c;label\n1.5;2;x\n3;-4;y\n"}; /* ';' wins by count */
    for (size_t i = 0; i < 3; i++) {
        trainer_dataset_t *ds = NULL;
        assert_int_equal(fx_csv_str(texts[i], NULL, &ds, NULL), 0);
        assert_int_equal(ds->features, 2);
        assert_memory_equal(ds->x, x, sizeof(x));
        trainer_dataset_free(ds);
    }
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.delimiter = '|';
    trainer_dataset_t *ds = NULL;
    assert_int_equal(fx_csv_str("a|b|label\n1.5|2|x\n3|-4|y\n", &opt, &ds, NULL), 0);
    assert_memory_equal(ds->x, x, sizeof(x));
    trainer_dataset_free(ds);
}

static const char quoted_text[] = "\"name, with comma\",\"va\"\"l\",label\r\n"
                                  "\"1.5\", 2 ,\"a,b\"\n"
                                  "3,\"4\",\"line1\nline2\"\n"
                                  "  \"5\" , 6,\"say \"\"hi\"\"\"\r\n"
                                  "7,8,plain\n";

static void test_quoted_fields(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(fx_csv_str(quoted_text, NULL, &ds, NULL), 0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->rows, 4);
    assert_int_equal(ds->features, 2);
    const float x[8] = {1.5f, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(ds->x, x, sizeof(x));
    assert_string_equal(ds->class_names[0], "a,b");
    assert_string_equal(ds->class_names[1], "line1\nline2");
    assert_string_equal(ds->class_names[2], "plain");
    assert_string_equal(ds->class_names[3], "say \"hi\"");
    const int32_t y[4] = {0, 1, 3, 2};
    assert_memory_equal(ds->y, y, sizeof(y));
    trainer_dataset_free(ds);

    /* The unescaped header name reaches the error detail. */
    ingest_error_t err;
    const char *bad = "\"name, with comma\",\"va\"\"l\",label\n1,zz,a\n";
    assert_int_equal(fx_csv_str(bad, NULL, &ds, &err), MLPT_EFORMAT);
    assert_string_equal(err.column_name, "va\"l");
    assert_string_equal(err.message, "row 2, column 2 (\"va\\\"l\"): \"zz\" is not a number");
}

static const char crlf_text[] = "\xEF\xBB\xBF"
                                "a,b,label\r\n"
                                "\r\n"
                                " 1 , 2.5 ,x\r\n"
                                "   \r\n"
                                "\t\r\n"
                                "3,\t4\t, y \r\n"
                                "\n"
                                "-.5,3.,x"; /* no newline at the end */

static void test_crlf_bom_blank_lines_spaces(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    ingest_error_t err;
    assert_int_equal(fx_csv_str(crlf_text, NULL, &ds, &err), 0);
    assert_int_equal(ds->rows, 3);
    assert_int_equal(ds->features, 2);
    const float x[6] = {1, 2.5f, 3, 4, -0.5f, 3};
    assert_memory_equal(ds->x, x, sizeof(x));
    assert_int_equal(ds->classes, 2);
    assert_string_equal(ds->class_names[0], "x");
    assert_string_equal(ds->class_names[1], "y"); /* unquoted labels are trimmed */
    assert_int_equal(ds->class_counts[0], 2);
    trainer_dataset_free(ds);
}

/* Parsing in chunks of 1, 2, 3, 7 and 4096 bytes gives the same dataset as one feed. */
static void check_chunk_invariance(const char *text, size_t len, const ingest_csv_options_t *opt) {
    trainer_dataset_t *whole = NULL;
    assert_int_equal(fx_csv_parse(text, len, 0, opt, &whole, NULL), 0);
    const size_t chunks[] = {1, 2, 3, 7, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        trainer_dataset_t *part = NULL;
        assert_int_equal(fx_csv_parse(text, len, chunks[i], opt, &part, NULL), 0);
        fx_assert_dataset_equal(whole, part);
        trainer_dataset_free(part);
    }
    trainer_dataset_free(whole);
}

static void test_chunked_feeding_is_identical(void **state) {
    (void)state;
    ingest_csv_options_t wine;
    ingest_csv_options_init(&wine);
    wine.label_name = "cultivar";
    const char *files[] = {DATA("iris.csv"), DATA("wine.csv"), DATA("digits.csv")};
    const ingest_csv_options_t *opts[] = {NULL, &wine, NULL};
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        char *text = fx_read(files[i], &len);
        check_chunk_invariance(text, len, opts[i]);
        free(text);
    }
    check_chunk_invariance(quoted_text, strlen(quoted_text), NULL);
    check_chunk_invariance(crlf_text, strlen(crlf_text), NULL);
}

/* ---- labels ------------------------------------------------------------------------------------
 */

static void test_integer_labels_sorted_numerically(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(fx_csv_str("f,label\n1,10\n2,2\n3,-1\n4,07\n5,7\n6, +7 \n", NULL, &ds, NULL),
                     0);
    fx_assert_dataset_valid(ds);
    assert_int_equal(ds->classes, 4); /* "07", "7" and "+7" are one class */
    const char *names[4] = {"-1", "2", "7", "10"};
    const size_t counts[4] = {1, 1, 3, 1};
    for (int k = 0; k < 4; k++) {
        assert_string_equal(ds->class_names[k], names[k]);
        assert_int_equal(ds->class_counts[k], counts[k]);
    }
    const int32_t y[6] = {3, 1, 0, 2, 2, 2};
    assert_memory_equal(ds->y, y, sizeof(y));
    trainer_dataset_free(ds);
}

static void test_string_labels_sorted_by_bytes(void **state) {
    (void)state;
    trainer_dataset_t *ds = NULL;
    /* One non-integer label makes them all strings. */
    assert_int_equal(fx_csv_str("f,label\n1,b\n2,B\n3,a\n4,ab\n5,b\n6,10\n", NULL, &ds, NULL), 0);
    const char *names[5] = {"10", "B", "a", "ab", "b"};
    assert_int_equal(ds->classes, 5);
    for (int k = 0; k < 5; k++)
        assert_string_equal(ds->class_names[k], names[k]);
    const int32_t y[6] = {4, 1, 2, 3, 4, 0};
    assert_memory_equal(ds->y, y, sizeof(y));
    assert_int_equal(ds->class_counts[4], 2);
    trainer_dataset_free(ds);
}

/* ---- errors, each with its row and column
 * -------------------------------------------------------- */

static void test_error_not_a_number(void **state) {
    (void)state;
    expect_error_str("sepal_length,sepal_width,petal_length,species\n"
                     "5.1,3.5,1.4,setosa\n"
                     "4.9,3.0,abc,setosa\n",
                     NULL, MLPT_EFORMAT, 3, 3,
                     "row 3, column 3 (\"petal_length\"): \"abc\" is not a number");
    expect_error_str("a,b,c\n1,2x,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"2x\" is not a number");
    expect_error_str("a,b,c\n1,0x10,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"0x10\" is not a number");
    expect_error_str("a,b,c\n1,1e,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"1e\" is not a number");
}

static void test_error_empty_feature(void **state) {
    (void)state;
    expect_error_str("a,b,c\n1,,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): the value is empty (a feature must be a number)");
    expect_error_str("a,b,c\n1,2,z\n  ,2,z\n", NULL, MLPT_EFORMAT, 3, 1,
                     "row 3, column 1 (\"a\"): the value is empty (a feature must be a number)");
    expect_error_str("a,b,c\n1,\"\",z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): the value is empty (a feature must be a number)");
    expect_error_str("a,b,c\n1,2,\n", NULL, MLPT_EFORMAT, 2, 3,
                     "row 2, column 3 (\"c\"): the label is empty");
}

static void test_error_nonfinite_and_overflow(void **state) {
    (void)state;
    expect_error_str("a,b,c\n1,NaN,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"NaN\" is not a finite number");
    expect_error_str("a,b,c\n-inf,1,z\n", NULL, MLPT_EFORMAT, 2, 1,
                     "row 2, column 1 (\"a\"): \"-inf\" is not a finite number");
    expect_error_str("a,b,c\n1,Infinity,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"Infinity\" is not a finite number");
    expect_error_str("a,b,c\n1,1e39,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): \"1e39\" is outside the float32 range");
    expect_error_str("a,b,c\n1,2,z\n-3.5e38,1,z\n", NULL, MLPT_EFORMAT, 3, 1,
                     "row 3, column 1 (\"a\"): \"-3.5e38\" is outside the float32 range");
}

static void test_error_ragged_rows(void **state) {
    (void)state;
    expect_error_str("a,b,c\n1,2,x\n1,2\n", NULL, MLPT_EFORMAT, 3, 3,
                     "row 3, column 3 (\"c\"): missing field: the row has 2 fields, the header 3");
    expect_error_str("a,b,c\n1\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): missing field: the row has 1 fields, the header 3");
    expect_error_str("a,b,c\n1,2,x,4\n", NULL, MLPT_EFORMAT, 2, 4,
                     "row 2, column 4: extra field: the row has 4 fields, the header 3");
    expect_error_str("a,b,c\n1,2,x,4,\"5,6\",\n", NULL, MLPT_EFORMAT, 2, 4,
                     "row 2, column 4: extra field: the row has 6 fields, the header 3");
}

static void test_error_no_data_rows_and_empty_file(void **state) {
    (void)state;
    expect_error_str("a,b\n", NULL, MLPT_EFORMAT, 0, 0, "the file has a header but no data rows");
    expect_error_str("a,b\r\n\r\n   \n", NULL, MLPT_EFORMAT, 0, 0,
                     "the file has a header but no data rows");
    expect_error_str("", NULL, MLPT_EFORMAT, 0, 0, "the file is empty: a header row is required");
    expect_error_str("\n \n\t\n", NULL, MLPT_EFORMAT, 0, 0,
                     "the file is empty: a header row is required");
    expect_error_str("\xEF\xBB\xBF", NULL, MLPT_EFORMAT, 0, 0,
                     "the file is empty: a header row is required");
    expect_error_str("just_one_column\n1\n", NULL, MLPT_EFORMAT, 1, 0,
                     "row 1: the header has a single column (delimiter \",\"); a label column and "
                     "at least one feature column are needed");
}

static void test_error_single_class(void **state) {
    (void)state;
    expect_error_str("a,b\n1,x\n2,x\n", NULL, MLPT_EFORMAT, 0, 2,
                     "column 2 (\"b\"): every row has the label \"x\"; at least 2 classes are "
                     "needed");
    expect_error_str("label,a\n7,1\n07,2\n", NULL, MLPT_EFORMAT, 0, 1,
                     "column 1 (\"label\"): every row has the label \"7\"; at least 2 classes are "
                     "needed");
}

static void test_error_label_column_missing(void **state) {
    (void)state;
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.label_name = "nope";
    expect_error_str("a,b,c\n1,2,x\n", &opt, MLPT_EINVAL, 1, 0,
                     "row 1: no column named \"nope\" in the header");
    ingest_csv_options_init(&opt);
    opt.label_index = 3;
    expect_error_str("a,b,c\n1,2,x\n", &opt, MLPT_EINVAL, 1, 0,
                     "row 1: label_index 3 is out of range: the header has 3 columns");
    opt.label_name = "a";
    expect_error_str("a,b,c\n1,2,x\n", &opt, MLPT_EINVAL, 0, 0,
                     "label_name and label_index are both set; choose one");
}

static void test_error_unterminated_quote(void **state) {
    (void)state;
    expect_error_str("a,b\n1,\"x\n2,y\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): a quoted field is still open at the end of the "
                     "file");
    expect_error_str("a,b\n1,x\n2,\"y\"\"", NULL, MLPT_EFORMAT, 3, 2,
                     "row 3, column 2 (\"b\"): a quoted field is still open at the end of the "
                     "file");
}

static void test_error_malformed_quotes(void **state) {
    (void)state;
    expect_error_str("a,b\n1,x\"y\n2,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): a quote inside an unquoted field (quote the whole "
                     "field and double the quote)");
    expect_error_str("a,b\n1,\"x\"y\n2,z\n", NULL, MLPT_EFORMAT, 2, 2,
                     "row 2, column 2 (\"b\"): unexpected \"y\" after a closing quote");
}

static void test_error_header_not_utf8(void **state) {
    (void)state;
    expect_error_str("temp\xe9rature,label\n1,a\n2,b\n", NULL, MLPT_EFORMAT, 1, 1,
                     "row 1, column 1: the column name is not valid UTF-8 (save the file as "
                     "UTF-8)");
    expect_error_str("x,\xc0\xae,label\n1,2,a\n", NULL, MLPT_EFORMAT, 1, 2,
                     "row 1, column 2: the column name is not valid UTF-8 (save the file as "
                     "UTF-8)");
    expect_error_str("x,\xed\xa0\x80,label\n1,2,a\n", NULL, MLPT_EFORMAT, 1, 2,
                     "row 1, column 2: the column name is not valid UTF-8 (save the file as "
                     "UTF-8)");
    /* well-formed multi-byte names are fine */
    trainer_dataset_t *ds = NULL;
    const char *ok = "temp\xc3\xa9rature,\xe2\x82\xac,\xf0\x9f\x98\x80,label\n1,2,3,a\n4,5,6,b\n";
    ingest_csv_t *c = ingest_csv_new(NULL);
    assert_int_equal(ingest_csv_feed(c, ok, strlen(ok), NULL), 0);
    assert_int_equal(ingest_csv_finish(c, &ds, NULL), 0);
    assert_int_equal(ds->features, 3);
    trainer_dataset_free(ds);
    ingest_csv_free(c);
}

static void test_error_nul_byte(void **state) {
    (void)state;
    static const char feature[] = "a,b,c\n1,2\0,x\n";
    expect_error(feature, sizeof(feature) - 1, NULL, MLPT_EFORMAT, 2, 2,
                 "row 2, column 2 (\"b\"): NUL byte in the data (is this a binary file?)");
    static const char label[] = "a,b\n1,x\n2,x\0y\n";
    expect_error(label, sizeof(label) - 1, NULL, MLPT_EFORMAT, 3, 2,
                 "row 3, column 2 (\"b\"): NUL byte in the data (is this a binary file?)");
    static const char header[] = "a,\0b\n1,x\n";
    expect_error(header, sizeof(header) - 1, NULL, MLPT_EFORMAT, 1, 2,
                 "row 1, column 2: NUL byte in the data (is this a binary file?)");
    static const char quoted[] = "a,b\n1,\"x\0\"\n";
    expect_error(quoted, sizeof(quoted) - 1, NULL, MLPT_EFORMAT, 2, 2,
                 "row 2, column 2 (\"b\"): NUL byte in the data (is this a binary file?)");
    static const char ragged[] = "a,b,c\n1,\0\n";
    expect_error(ragged, sizeof(ragged) - 1, NULL, MLPT_EFORMAT, 2, 2,
                 "row 2, column 2 (\"b\"): NUL byte in the data (is this a binary file?)");
}

static void test_error_limits(void **state) {
    (void)state;
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.max_features = 2;
    expect_error_str("a,b,c,label\n1,2,3,x\n", &opt, MLPT_ELIMIT, 1, 0,
                     "row 1: the header has more than 2 feature columns (the limit)");
    trainer_dataset_t *ds = NULL;
    assert_int_equal(fx_csv_str("a,b,label\n1,2,x\n1,2,y\n", &opt, &ds, NULL), 0);
    trainer_dataset_free(ds);

    ingest_csv_options_init(&opt);
    opt.max_rows = 2;
    expect_error_str("a,b\n1,x\n\n2,y\n3,z\n", &opt, MLPT_ELIMIT, 5, 0,
                     "row 5: more than 2 data rows (the limit)");

    ingest_csv_options_init(&opt);
    opt.max_values = 5;
    expect_error_str("a,b,c\n1,2,x\n3,4,y\n5,6,z\n", &opt, MLPT_ELIMIT, 4, 0,
                     "row 4: more than 5 values (rows x 2 features; the limit)");

    ingest_csv_options_init(&opt);
    opt.max_line_bytes = 10;
    assert_int_equal(fx_csv_str("a,b\n12345678,x\r\n1,y\n", &opt, &ds, NULL), 0); /* 10 + CR */
    trainer_dataset_free(ds);
    expect_error_str("a,b\n1,x\n123456789,x\n", &opt, MLPT_ELIMIT, 3, 0,
                     "row 3: the line is longer than the limit of 10 bytes");
    /* Without a newline in sight the parser gives up once the record cannot fit. */
    size_t len = 100000;
    char *big = malloc(len);
    assert_non_null(big);
    memcpy(big, "a,b\n", 4);
    memset(big + 4, '1', len - 4);
    expect_error(big, len, &opt, MLPT_ELIMIT, 2, 0,
                 "row 2: the line is longer than the limit of 10 bytes");
    free(big);

    ingest_csv_options_init(&opt);
    opt.max_field_bytes = 4;
    expect_error_str("a,b\n1,abcd\n2,abcde\n", &opt, MLPT_ELIMIT, 3, 2,
                     "row 3, column 2 (\"b\"): the field is longer than the limit of 4 bytes");
    expect_error_str("a,b\n12345,x\n", &opt, MLPT_ELIMIT, 2, 1,
                     "row 2, column 1 (\"a\"): the field is longer than the limit of 4 bytes");

    ingest_csv_options_init(&opt);
    opt.max_classes = 2;
    expect_error_str("a,b\n1,x\n2,y\n3,x\n4,z\n", &opt, MLPT_ELIMIT, 5, 2,
                     "row 5, column 2 (\"b\"): more than 2 distinct labels (the limit); is this "
                     "the label column?");
}

static void test_error_rows_are_physical_lines(void **state) {
    (void)state;
    /* Blank lines and a label spanning two lines still count as lines. */
    expect_error_str("a,b\n"       /* 1 */
                     "\n"          /* 2 */
                     "1,\"multi\n" /* 3 */
                     "line\"\r\n"  /* 4 */
                     "  \n"        /* 5 */
                     "2,ok\n"      /* 6 */
                     "x,ok\n",     /* 7 */
                     NULL, MLPT_EFORMAT, 7, 1, "row 7, column 1 (\"a\"): \"x\" is not a number");
    /* A field that starts on the second line of a record reports that line. */
    expect_error_str("a,label,c\n1,\"p\nq\",zz\n", NULL, MLPT_EFORMAT, 3, 3,
                     "row 3, column 3 (\"c\"): \"zz\" is not a number");
}

/* Every error above comes out the same whatever the chunking. */
static void test_errors_do_not_depend_on_chunking(void **state) {
    (void)state;
    static const char *bad[] = {
        "a,b,c\n1,,z\n",
        "a,b,c\n1,NaN,z\n",
        "a,b,c\n1,2\n",
        "a,b,c\n1,2,x,4\n",
        "a,b\n1,\"x\n2,y\n",
        "a,b\n1,x\"y\n2,z\n",
        "a,b\n1,x\n2,x\n",
        "a,b\n\n1,\"m\nl\"\nq,x\n",
        ("\xEF\xBB\xBF" /* joined on purpose: \xBFa would be one escape */
         "a,b\r\n1,x\r\n2\r\n"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        ingest_error_t whole, part;
        trainer_dataset_t *ds;
        int rc = fx_csv_parse(bad[i], len, 0, NULL, &ds, &whole);
        assert_true(rc < 0);
        for (size_t chunk = 1; chunk <= 7; chunk++) {
            memset(&part, 0, sizeof(part));
            assert_int_equal(fx_csv_parse(bad[i], len, chunk, NULL, &ds, &part), rc);
            assert_int_equal(part.row, whole.row);
            assert_int_equal(part.column, whole.column);
            assert_string_equal(part.message, whole.message);
        }
    }
}

/* ---- the number parser -------------------------------------------------------------------------
 */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

/* Our result must be bit-identical to strtof(), or both must reject (overflow). */
static void check_against_strtof(const char *s) {
    char *end;
    errno = 0;
    float want = strtof(s, &end);
    assert_true(*end == '\0');
    float got = 0;
    int rc = ingest_csv_parse_float(s, strlen(s), &got);
    if (isinf(want)) {
        assert_int_equal(rc, MLPT_EFORMAT);
        return;
    }
    if (rc != 0 || memcmp(&got, &want, sizeof(float)) != 0)
        print_error("%s: got %a (rc %d), strtof %a\n", s, (double)got, rc, (double)want);
    assert_int_equal(rc, 0);
    assert_memory_equal(&got, &want, sizeof(float));
}

static void test_number_parser_matches_strtof(void **state) {
    (void)state;
    char s[96];
    for (int i = 0; i < 200000; i++) {
        uint64_t r = rng_next();
        switch (r % 6) {
        case 0: { /* random digits, random point, optional exponent */
            int nd = 1 + (int)(rng_next() % 21), pt = (int)(rng_next() % (unsigned)(nd + 1));
            size_t o = 0;
            if (rng_next() & 1)
                s[o++] = '-';
            for (int d = 0; d < nd; d++) {
                if (d == pt && (rng_next() & 1))
                    s[o++] = '.';
                s[o++] = (char)('0' + rng_next() % 10);
            }
            if (rng_next() % 3 == 0)
                o += (size_t)snprintf(s + o, sizeof(s) - o, "e%d", (int)(rng_next() % 90) - 45);
            s[o] = '\0';
            break;
        }
        case 1: { /* a random float printed with few digits (typical CSV values) */
            uint32_t bits = (uint32_t)rng_next();
            float f;
            memcpy(&f, &bits, sizeof(f));
            if (!isfinite(f))
                f = 1.0f;
            snprintf(s, sizeof(s), "%.*g", 1 + (int)(rng_next() % 9), (double)f);
            break;
        }
        case 2: /* values of a typical scale with 1-7 decimals */
            snprintf(s, sizeof(s), "%.*f", (int)(rng_next() % 8),
                     ((double)(rng_next() % 2000000) - 1000000.0) / 997.0);
            break;
        case 3: { /* integers, many of them exact ties between two floats (2^24 < n) */
            snprintf(s, sizeof(s), "%llu", (unsigned long long)(rng_next() >> (rng_next() % 64)));
            break;
        }
        case 4: { /* the exact decimal value of a tie between two floats (long: via strtof) */
            float f = 1e-3f + (float)(rng_next() % 10000000);
            double mid = ((double)f + (double)nextafterf(f, INFINITY)) / 2;
            snprintf(s, sizeof(s), "%.40f", mid);
            break;
        }
        default: { /* a quarter of an ulp away from a float */
            uint32_t bits = (uint32_t)rng_next() & 0x7FFFFFFFu;
            float f;
            memcpy(&f, &bits, sizeof(f));
            if (!isfinite(f))
                f = 3.0f;
            snprintf(s, sizeof(s), "%.17g", (double)f + (double)f * 0x1p-25);
            break;
        }
        }
        check_against_strtof(s);
    }
}

static void test_number_parser_edge_cases(void **state) {
    (void)state;
    const char *ok[] = {"5.1",
                        "-0.25",
                        "1e-3",
                        ".5",
                        "3.",
                        "-0",
                        "+7",
                        "0.1",
                        "16777217",
                        "16777219",
                        "3.4028235e38",
                        "1.17549435e-38",
                        "1e-45",
                        "7e-46",
                        "1.4e-45",
                        "123456789012345678901234567890",
                        "0.000000000000000000000000000001",
                        "9007199254740993",
                        "1e22",
                        "1e23",
                        "4.7019774e-38",
                        "0.30000001192092896",
                        "2.5e-10",
                        "1E+5",
                        "-.5e-1"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        check_against_strtof(ok[i]);
    float f = 0;
    assert_int_equal(ingest_csv_parse_float(" \t42.5 ", 7, &f), 0);
    assert_true(f == 42.5f);
    assert_int_equal(ingest_csv_parse_float("16777217", 8, &f), 0);
    assert_true(f == 16777216.0f); /* a tie: to even */
    const char *bad[] = {"",    " ",   "-",   ".",   "e5",  "1e",  "1e+",          "1.2.3", "0x10",
                         "nan", "inf", "1,5", "1 2", "--1", "+-1", "3.4028236e38", "1e39",  "abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ingest_csv_parse_float(bad[i], strlen(bad[i]), &f), MLPT_EFORMAT);
    assert_int_equal(ingest_csv_parse_float(NULL, 1, &f), MLPT_EINVAL);
    /* Longer than the 127-byte stack copy. */
    char longnum[300];
    memset(longnum, '0', sizeof(longnum));
    longnum[0] = '1';
    longnum[1] = '.';
    longnum[sizeof(longnum) - 1] = '\0';
    assert_int_equal(ingest_csv_parse_float(longnum, strlen(longnum), &f), 0);
    assert_true(f == 1.0f);
}

/* ---- files, gzip, I/O errors, API
 * ---------------------------------------------------------------- */

static void test_gzip_csv_file(void **state) {
    (void)state;
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    size_t len;
    char *text = fx_read(DATA("iris.csv"), &len);
    const char *one = fx_path(&t, "iris.csv.gz"), *three = fx_path(&t, "iris-3-members.bin");
    fx_write_gz(one, text, len, 1);
    fx_write_gz(three, text, len, 3); /* the name does not matter, the magic does */
    trainer_dataset_t *plain = NULL, *gz1 = NULL, *gz3 = NULL;
    assert_int_equal(ingest_load_csv_file(DATA("iris.csv"), NULL, &plain, NULL), 0);
    assert_int_equal(ingest_load_csv_file(one, NULL, &gz1, NULL), 0);
    assert_int_equal(ingest_load_csv_file(three, NULL, &gz3, NULL), 0);
    fx_assert_dataset_equal(plain, gz1);
    fx_assert_dataset_equal(plain, gz3);

    /* A truncated .gz: the CSV so far is fine, the gzip stream is not. */
    size_t glen;
    unsigned char *gz = fx_gzip(text, len, &glen);
    const char *cut = fx_path(&t, "cut.csv.gz");
    fx_write(cut, gz, glen / 2);
    ingest_error_t err;
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    assert_int_equal(ingest_load_csv_file(cut, NULL, &ds, &err), MLPT_EFORMAT);
    assert_null(ds);
    assert_string_equal(err.message, "gzip stream ends early (the file is truncated)");

    /* A CSV error inside a .gz keeps its row and column. */
    memcpy(strstr(text, "5.1,3.5"), "5.x", 3);
    const char *badgz = fx_path(&t, "bad.csv.gz");
    fx_write_gz(badgz, text, len, 1);
    assert_int_equal(ingest_load_csv_file(badgz, NULL, &ds, &err), MLPT_EFORMAT);
    assert_string_equal(err.message, "row 2, column 1 (\"sepal_length\"): \"5.x\" is not a number");

    /* A zip bomb is cut off by max_gunzip_bytes. */
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.max_gunzip_bytes = 1000;
    assert_int_equal(ingest_load_csv_file(one, &opt, &ds, &err), MLPT_ELIMIT);
    assert_string_equal(err.message, "the decompressed data exceeds the limit of 1000 bytes");

    free(gz);
    free(text);
    trainer_dataset_free(plain);
    trainer_dataset_free(gz1);
    trainer_dataset_free(gz3);
    fx_tmpdir_remove(&t);
}

/* A gzip sink that counts what it gets and, from the chunk `stop_after` on, refuses with
 * MLPT_ESTOPPED (as the upload's sink does once its parser failed). */
typedef struct count_sink {
    uint64_t bytes;
    int calls, stop_after;
} count_sink_t;

static int count_sink(void *ctx, const void *data, size_t len, ingest_error_t *err) {
    count_sink_t *s = ctx;
    (void)data;
    (void)err;
    if (s->stop_after && s->calls >= s->stop_after)
        return MLPT_ESTOPPED;
    s->calls++;
    s->bytes += len;
    return 0;
}

/* A sink that stops the decoder stops the decompression at once: a 64 MiB bomb costs one more
 * output chunk, not 64 MiB of inflate. */
static void test_gzip_sink_stop_ends_decompression(void **state) {
    (void)state;
    size_t n = (size_t)64 << 20, glen;
    unsigned char *zeros = calloc(1, n);
    assert_non_null(zeros);
    unsigned char *gz = fx_gzip(zeros, n, &glen);
    free(zeros);
    count_sink_t s = {0, 0, 1};
    ingest_gz_t *dec = ingest_gz_new(0, count_sink, &s);
    ingest_error_t err;
    assert_int_equal(ingest_gz_feed(dec, gz, glen, &err), MLPT_ESTOPPED);
    assert_int_equal(s.calls, 1);
    assert_true(ingest_gz_total_out(dec) <= (uint64_t)512 << 10);
    assert_int_equal(ingest_gz_limit_hit(dec), INGEST_GZ_LIMIT_NONE);
    /* sticky, and nothing more is inflated */
    assert_int_equal(ingest_gz_feed(dec, gz, glen, &err), MLPT_ESTOPPED);
    assert_true(ingest_gz_total_out(dec) <= (uint64_t)512 << 10);
    ingest_gz_free(dec);
    free(gz);
}

/* The ratio limit: past the floor, output may not exceed ratio x the compressed input; data that
 * compresses normally passes, a bomb is refused just past the floor, in any chunking. */
static void test_gzip_ratio_limit(void **state) {
    (void)state;
    size_t n = (size_t)32 << 20, glen;
    unsigned char *zeros = calloc(1, n);
    assert_non_null(zeros);
    unsigned char *gz = fx_gzip(zeros, n, &glen);
    for (size_t step = 4096; step <= glen; step = step * 8 < glen ? step * 8 : glen + 1) {
        count_sink_t s = {0, 0, 0};
        ingest_gz_t *dec = ingest_gz_new(0, count_sink, &s);
        ingest_gz_set_ratio(dec, 64, (uint64_t)16 << 20);
        ingest_error_t err;
        int rc = 0;
        for (size_t off = 0; rc == 0 && off < glen; off += step)
            rc = ingest_gz_feed(dec, gz + off, off + step <= glen ? step : glen - off, &err);
        assert_int_equal(rc, MLPT_ELIMIT);
        assert_int_equal(ingest_gz_limit_hit(dec), INGEST_GZ_LIMIT_RATIO);
        assert_non_null(strstr(err.message, "more than 64 times its compressed size"));
        assert_true(s.bytes >= (uint64_t)15 << 20 && s.bytes <= (uint64_t)17 << 20);
        ingest_gz_free(dec);
    }
    free(gz);
    /* The same bomb under the floor: fine. */
    gz = fx_gzip(zeros, (size_t)8 << 20, &glen);
    count_sink_t s = {0, 0, 0};
    ingest_gz_t *dec = ingest_gz_new(0, count_sink, &s);
    ingest_gz_set_ratio(dec, 64, (uint64_t)16 << 20);
    assert_int_equal(ingest_gz_feed(dec, gz, glen, NULL), 0);
    assert_int_equal(ingest_gz_finish(dec, NULL), 0);
    assert_int_equal(s.bytes, (uint64_t)8 << 20);
    ingest_gz_free(dec);
    free(gz);
    free(zeros);
    /* Text that compresses about 4:1 passes a ratio of 8 with no floor at all. */
    size_t tlen;
    char *text = fx_read(MLPT_TEST_DATA_DIR "/iris.csv", &tlen);
    gz = fx_gzip(text, tlen, &glen);
    assert_true(glen * 8 > tlen);
    s = (count_sink_t){0, 0, 0};
    dec = ingest_gz_new(0, count_sink, &s);
    ingest_gz_set_ratio(dec, 8, 0);
    assert_int_equal(ingest_gz_feed(dec, gz, glen, NULL), 0);
    assert_int_equal(ingest_gz_finish(dec, NULL), 0);
    assert_int_equal(s.bytes, tlen);
    ingest_gz_free(dec);
    free(gz);
    free(text);
}

static void test_io_errors(void **state) {
    (void)state;
    ingest_error_t err;
    trainer_dataset_t *ds = (trainer_dataset_t *)1;
    assert_int_equal(ingest_load_csv_file("/nonexistent-dir/x.csv", NULL, &ds, &err), MLPT_EIO);
    assert_null(ds);
    assert_int_equal(err.code, MLPT_EIO);
    assert_string_equal(err.message,
                        "cannot open \"/nonexistent-dir/x.csv\": No such file or directory");
    fx_tmpdir_t t;
    fx_tmpdir_make(&t);
    assert_int_equal(ingest_load_csv_file(t.dir, NULL, &ds, &err), MLPT_EIO);
    assert_non_null(strstr(err.message, "cannot read"));
    assert_non_null(strstr(err.message, "Is a directory"));
    fx_tmpdir_remove(&t);
    assert_int_equal(ingest_load_csv_file(NULL, NULL, &ds, &err), MLPT_EINVAL);
}

static void test_api_contract(void **state) {
    (void)state;
    ingest_error_t err;
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_csv_feed(NULL, "a", 1, &err), MLPT_EINVAL);
    assert_int_equal(ingest_csv_finish(NULL, &ds, NULL), MLPT_EINVAL);
    ingest_csv_free(NULL);

    /* Feed after finish, finish twice. */
    ingest_csv_t *csv = ingest_csv_new(NULL);
    assert_non_null(csv);
    assert_int_equal(ingest_csv_feed(csv, NULL, 0, &err), 0);
    assert_int_equal(ingest_csv_feed(csv, NULL, 3, &err), MLPT_EINVAL);
    assert_int_equal(ingest_csv_feed(csv, "a,b\n1,x\n2,y", 11, NULL), 0);
    assert_int_equal(ingest_csv_finish(csv, &ds, &err), 0);
    assert_non_null(ds);
    assert_int_equal(ingest_csv_feed(csv, "3,z\n", 4, &err), MLPT_ESTATE);
    trainer_dataset_t *again = NULL;
    assert_int_equal(ingest_csv_finish(csv, &again, &err), MLPT_ESTATE);
    assert_null(again);
    ingest_csv_free(csv);
    trainer_dataset_free(ds);

    /* Errors are sticky. */
    csv = ingest_csv_new(NULL);
    assert_int_equal(ingest_csv_feed(csv, "a,b\nq,x\n", 8, &err), MLPT_EFORMAT);
    ingest_error_t err2;
    assert_int_equal(ingest_csv_feed(csv, "1,y\n", 4, &err2), MLPT_EFORMAT);
    assert_string_equal(err2.message, err.message);
    assert_int_equal(ingest_csv_finish(csv, &ds, &err2), MLPT_EFORMAT);
    assert_null(ds);
    assert_int_equal(err2.row, 2);
    ingest_csv_free(csv);

    /* Bad options answer at the first call. */
    ingest_csv_options_t opt;
    ingest_csv_options_init(&opt);
    opt.delimiter = '"';
    expect_error_str("a,b\n1,x\n", &opt, MLPT_EINVAL, 0, 0,
                     "the delimiter must be one of , ; TAB | : (or 0 to detect)");

    /* label_name is copied. */
    char name[8] = "b";
    ingest_csv_options_init(&opt);
    opt.label_name = name;
    csv = ingest_csv_new(&opt);
    name[0] = 'a';
    assert_int_equal(ingest_csv_feed(csv, "a,b\n1,x\n2,y\n", 12, NULL), 0);
    assert_int_equal(ingest_csv_finish(csv, &ds, NULL), 0);
    assert_string_equal(ds->class_names[0], "x");
    trainer_dataset_free(ds);
    ingest_csv_free(csv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iris_string_labels_last_column),
        cmocka_unit_test(test_wine_label_by_name_first_column),
        cmocka_unit_test(test_digits_integer_labels),
        cmocka_unit_test(test_default_label_column_named_label),
        cmocka_unit_test(test_semicolon_tab_and_pipe),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_crlf_bom_blank_lines_spaces),
        cmocka_unit_test(test_chunked_feeding_is_identical),
        cmocka_unit_test(test_integer_labels_sorted_numerically),
        cmocka_unit_test(test_string_labels_sorted_by_bytes),
        cmocka_unit_test(test_error_not_a_number),
        cmocka_unit_test(test_error_empty_feature),
        cmocka_unit_test(test_error_nonfinite_and_overflow),
        cmocka_unit_test(test_error_ragged_rows),
        cmocka_unit_test(test_error_no_data_rows_and_empty_file),
        cmocka_unit_test(test_error_single_class),
        cmocka_unit_test(test_error_label_column_missing),
        cmocka_unit_test(test_error_unterminated_quote),
        cmocka_unit_test(test_error_malformed_quotes),
        cmocka_unit_test(test_error_header_not_utf8),
        cmocka_unit_test(test_error_nul_byte),
        cmocka_unit_test(test_error_limits),
        cmocka_unit_test(test_error_rows_are_physical_lines),
        cmocka_unit_test(test_errors_do_not_depend_on_chunking),
        cmocka_unit_test(test_number_parser_matches_strtof),
        cmocka_unit_test(test_number_parser_edge_cases),
        cmocka_unit_test(test_gzip_csv_file),
        cmocka_unit_test(test_gzip_sink_stop_ends_decompression),
        cmocka_unit_test(test_gzip_ratio_limit),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_api_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
