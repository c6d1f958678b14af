/*
 * tests/test_store_files.c - models and checkpoints as files (migration 0003): written before
 * their rows, read back through the same functions, removed when their rows go (a newer
 * checkpoint, a trial's end, a sweep's delete) or when the transaction that wrote them rolls
 * back; rows from before the migration (blobs) still read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixtures.h"

/* The files of <dir>/<sub>, counted. */
static int count_files(fx_env_t *e, const char *sub) {
    DIR *d = opendir(fx_dir_path(&e->dir, sub));
    int n = 0;
    struct dirent *x;
    while (d && (x = readdir(d)))
        n += x->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static store_t *open_with_dir(fx_env_t *e, store_mode_t mode) {
    store_error_t err = {0};
    store_t *st = fx_open(e->db, mode);
    fx_assert_rc(store_set_data_dir(st, e->dir.dir, &err), 0, err);
    return st;
}

static void fill(unsigned char *b, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 7 + seed) % 251);
}

static void test_model_is_a_file(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = open_with_dir(e, STORE_WRITER);
    int64_t t[2];
    fx_sweep(st, fx_dataset(st, "iris"), 2, NULL, t);
    unsigned char model[5000];
    fill(model, sizeof model, 1);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = NAN,
                             .test_accuracy = NAN,
                             .model = model,
                             .model_len = sizeof model,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    assert_int_equal(count_files(e, "models"), 1);
    /* the row names the file and keeps no bytes */
    assert_int_equal(fx_sql_int(e->db, "SELECT length(model) FROM trial_models"), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT path LIKE 'models/trial-1-%.mlpm' "
                                       "FROM trial_models"),
                     1);

    /* a file written by the caller (the worker does that) */
    char *rel = NULL;
    fill(model, sizeof model, 2);
    fx_assert_rc(
        store_file_write(e->dir.dir, STORE_FILE_MODEL, t[1], model, sizeof model, &rel, &err), 0,
        err);
    fx_assert_rc(store_trial_start(st, t[1], FX_NOW, &err), 0, err);
    end.model = NULL;
    end.model_len = 0;
    end.model_path = rel;
    fx_assert_rc(store_trial_finish(st, t[1], &end, &err), 0, err);
    free(rel);
    assert_int_equal(count_files(e, "models"), 2);

    store_t *rd = open_with_dir(e, STORE_READER);
    void *blob = NULL;
    size_t len = 0;
    fx_assert_rc(store_trial_model(rd, t[1], &blob, &len, &err), 0, err);
    assert_int_equal(len, sizeof model);
    assert_memory_equal(blob, model, len);
    free(blob);
    char *path = NULL;
    fx_assert_rc(store_trial_model_ref(rd, t[0], &path, &blob, &len, &err), 0, err);
    assert_non_null(path);
    assert_null(blob);
    assert_non_null(strstr(path, "/models/trial-1-"));
    assert_int_equal(access(path, R_OK), 0);
    free(path);

    /* a row naming a file outside models/ (a tampered database) is refused, not served */
    fx_sql_exec(e->db, "UPDATE trial_models SET path = 'models/../mlptune.db' WHERE trial_id = 2");
    fx_assert_rc(store_trial_model_ref(rd, t[1], &path, &blob, &len, &err), MLPT_EDB, err);
    fx_assert_rc(store_trial_model(rd, t[1], &blob, &len, &err), MLPT_EDB, err);
    fx_sql_exec(e->db, "UPDATE trial_models SET path = '/etc/passwd' WHERE trial_id = 2");
    fx_assert_rc(store_trial_model_ref(rd, t[1], &path, &blob, &len, &err), MLPT_EDB, err);

    /* deleting the sweep removes both files once committed */
    fx_assert_rc(store_sweep_set_status(st, 1, "completed", FX_NOW, NULL, &err), 0, err);
    fx_assert_rc(store_sweep_delete(st, 1, &err), 0, err);
    /* the file the tampered row named before went with it (the update recorded it); the
     * paths outside models/ were forgotten, never unlinked */
    assert_int_equal(count_files(e, "models"), 0);
    assert_int_equal(access(e->db, F_OK), 0);
    assert_int_equal(fx_sql_int(e->db, "SELECT count(*) FROM deleted_files"), 0);
    store_close(rd);
    store_close(st);
}

static void test_old_blob_rows_still_read(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    /* without a data dir the store writes blobs, as every version before 0003 did */
    store_t *st = fx_open(e->db, STORE_WRITER);
    int64_t t[1];
    fx_sweep(st, fx_dataset(st, "iris"), 1, NULL, t);
    unsigned char model[700];
    fill(model, sizeof model, 3);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    unsigned char ck[300];
    fill(ck, sizeof ck, 4);
    fx_assert_rc(store_checkpoint_put(st, t[0], 2, ck, sizeof ck, NULL, 0, &err), 0, err);
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = NAN,
                             .test_accuracy = NAN,
                             .model = model,
                             .model_len = sizeof model,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    store_close(st);
    assert_int_equal(fx_sql_int(e->db, "SELECT path IS NULL FROM trial_models"), 1);

    store_t *rd = open_with_dir(e, STORE_READER);
    void *blob = NULL;
    size_t len = 0;
    char *path = NULL;
    fx_assert_rc(store_trial_model_ref(rd, t[0], &path, &blob, &len, &err), 0, err);
    assert_null(path);
    assert_int_equal(len, sizeof model);
    assert_memory_equal(blob, model, len);
    free(blob);
    fx_assert_rc(store_trial_model(rd, t[0], &blob, &len, &err), 0, err);
    assert_memory_equal(blob, model, len);
    free(blob);
    store_close(rd);
}

static void test_checkpoint_files_replaced_and_removed(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    store_t *st = open_with_dir(e, STORE_WRITER);
    int64_t t[1];
    fx_sweep(st, fx_dataset(st, "iris"), 1, NULL, t);
    fx_assert_rc(store_trial_start(st, t[0], FX_NOW, &err), 0, err);
    unsigned char ck[4000];
    for (int k = 1; k <= 3; k++) {
        fill(ck, sizeof ck, (unsigned)k);
        fx_metrics(st, t[0], k, k);
        fx_assert_rc(store_checkpoint_put(st, t[0], k, ck, sizeof ck, NULL, 0, &err), 0, err);
        assert_int_equal(count_files(e, "checkpoints"), 1); /* the previous one went */
    }
    assert_int_equal(fx_sql_int(e->db, "SELECT length(state) FROM trial_checkpoints"), 0);
    store_resume_t r;
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_int_equal(r.iteration, 3);
    assert_int_equal(r.len, sizeof ck);
    assert_memory_equal(r.state, ck, sizeof ck); /* the third */
    free(r.state);

    /* a checkpoint whose transaction rolls back leaves no file, and the kept one stays */
    fx_assert_rc(store_begin(st, &err), 0, err);
    fx_assert_rc(store_checkpoint_put(st, t[0], 3, ck, sizeof ck, NULL, 0, &err), 0, err);
    assert_int_equal(count_files(e, "checkpoints"), 2);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(count_files(e, "checkpoints"), 1);
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    free(r.state);

    /* a checkpoint file the caller wrote (the worker does that): named, and replaced */
    char *rel = NULL;
    fill(ck, sizeof ck, 9);
    fx_assert_rc(
        store_file_write(e->dir.dir, STORE_FILE_CHECKPOINT, t[0], ck, sizeof ck, &rel, &err), 0,
        err);
    assert_int_equal(count_files(e, "checkpoints"), 2);
    fx_assert_rc(store_checkpoint_put_file(st, t[0], 3, rel, NULL, 0, &err), 0, err);
    assert_int_equal(count_files(e, "checkpoints"), 1); /* the one it replaced went */
    fx_assert_rc(store_checkpoint_get(st, t[0], &r, &err), 0, err);
    assert_memory_equal(r.state, ck, sizeof ck);
    free(r.state);
    free(rel);
    fx_assert_rc(store_checkpoint_put_file(st, t[0], 3, NULL, NULL, 0, &err), MLPT_EINVAL, err);

    /* the trial's end deletes its checkpoint, and the file with it */
    store_trial_end_t end = {.status = "completed",
                             .best_val_accuracy = NAN,
                             .final_val_accuracy = NAN,
                             .test_accuracy = NAN,
                             .now = FX_NOW};
    fx_assert_rc(store_trial_finish(st, t[0], &end, &err), 0, err);
    assert_int_equal(count_files(e, "checkpoints"), 0);
    store_close(st);
}

static void test_file_write_errors(void **state) {
    fx_env_t *e = *state;
    store_error_t err = {0};
    char *rel = (char *)"x";
    unsigned char b[16] = {0};
    /* a data dir whose models/ cannot be made: nothing left behind, MLPT_EIO or ENOTDIR */
    FILE *f = fopen(fx_dir_path(&e->dir, "notadir"), "w");
    assert_non_null(f);
    fclose(f);
    int rc = store_file_write(fx_dir_path(&e->dir, "notadir"), STORE_FILE_MODEL, 1, b, sizeof b,
                              &rel, &err);
    assert_int_equal(rc, MLPT_EIO);
    assert_null(rel);
    assert_non_null(strstr(err.message, "cannot store a model"));
    fx_assert_rc(store_file_write(NULL, STORE_FILE_MODEL, 1, b, sizeof b, &rel, &err), MLPT_EINVAL,
                 err);
    /* two writes for one trial never collide */
    char *a = NULL, *c = NULL;
    fx_assert_rc(store_file_write(e->dir.dir, STORE_FILE_CHECKPOINT, 7, b, sizeof b, &a, &err), 0,
                 err);
    fx_assert_rc(store_file_write(e->dir.dir, STORE_FILE_CHECKPOINT, 7, b, sizeof b, &c, &err), 0,
                 err);
    assert_string_not_equal(a, c);
    assert_int_equal(strncmp(a, "checkpoints/trial-7-", 20), 0);
    assert_int_equal(count_files(e, "checkpoints"), 2);
    free(a);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_env_setup, fx_env_teardown)
        T(test_model_is_a_file),
        T(test_old_blob_rows_still_read),
        T(test_checkpoint_files_replaced_and_removed),
        T(test_file_write_errors),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
