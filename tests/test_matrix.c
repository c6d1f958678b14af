/* test_matrix.c - the parsed-dataset file: round trip, atomic write, damage detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "matrix.h"

static trainer_dataset_t *load_iris(void) {
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(MLPT_TEST_DATA_DIR "/iris.csv", NULL, &ds, NULL), 0);
    return ds;
}

static void temp_path(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/mlpt-matrix-XXXXXX");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

static void test_round_trip(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    assert_int_equal(ingest_matrix_read(path, &back, NULL), 0);
    assert_int_equal(back->rows, ds->rows);
    assert_int_equal(back->features, ds->features);
    assert_int_equal(back->classes, ds->classes);
    assert_int_equal(back->scaling, ds->scaling);
    assert_memory_equal(back->x, ds->x, ds->rows * ds->features * sizeof(float));
    assert_memory_equal(back->y, ds->y, ds->rows * sizeof(int32_t));
    for (size_t c = 0; c < ds->classes; c++) {
        assert_string_equal(back->class_names[c], ds->class_names[c]);
        assert_int_equal(back->class_counts[c], ds->class_counts[c]);
    }
    /* No temporary file is left beside it. */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
    trainer_dataset_free(back);
    trainer_dataset_free(ds);
    unlink(path);
}

/* Every truncation and every single-byte flip of the file is refused, never crashes. */
static void test_damage_detected(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (long cut = 0; cut < len; cut += (cut < 200 ? 1 : 97)) {
        f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)cut, f);
        fclose(f);
        ingest_error_t err;
        assert_int_equal(ingest_matrix_read(path, &back, &err), MLPT_EFORMAT);
        assert_null(back);
        assert_non_null(strstr(err.message, path));
    }
    for (long at = 0; at < len; at += (at < 200 ? 1 : 101)) {
        buf[at] ^= 0x40;
        f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)len, f);
        fclose(f);
        int rc = ingest_matrix_read(path, &back, NULL);
        assert_true(rc == MLPT_EFORMAT || rc == MLPT_EVERSION);
        assert_null(back);
        buf[at] ^= 0x40;
    }
    free(buf);
    trainer_dataset_free(ds);
    unlink(path);
}

static void test_io_errors(void **state) {
    (void)state;
    trainer_dataset_t *ds = load_iris(), *back = NULL;
    ingest_error_t err;
    assert_int_equal(ingest_matrix_write("/nonexistent-dir/x.mlds", ds, &err), MLPT_EIO);
    assert_non_null(strstr(err.message, "/nonexistent-dir"));
    assert_int_equal(ingest_matrix_read("/nonexistent-dir/x.mlds", &back, &err), MLPT_EIO);
    assert_null(back);
    trainer_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage_detected),
        cmocka_unit_test(test_io_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
