/* test_dscache.c - the scheduler's dataset cache (scheduler/dscache.h) as an MPI rank uses it: a
 * dataset put there (received from rank 0) is the one copy every trial acquires, without a
 * file; it outlives the trials that used it while its putter holds it; an id is put once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dscache.h"
#include "mlpt_err.h"

static trainer_dataset_t *tiny(void) {
    trainer_dataset_t *d = calloc(1, sizeof *d);
    d->rows = 2;
    d->features = 1;
    d->classes = 2;
    d->x = calloc(2, sizeof *d->x);
    d->y = calloc(2, sizeof *d->y);
    d->y[1] = 1;
    d->class_names = calloc(2, sizeof *d->class_names);
    d->class_names[0] = strdup("a");
    d->class_names[1] = strdup("b");
    d->class_counts = calloc(2, sizeof *d->class_counts);
    d->class_counts[0] = d->class_counts[1] = 1;
    return d;
}

static void put_is_shared_and_pinned(void **state) {
    (void)state;
    dscache_t *c = dscache_new();
    trainer_dataset_t *d = tiny();
    assert_int_equal(dscache_put(c, 7, d), 0);
    assert_int_equal(dscache_loaded(c), 1);
    char msg[128] = "";
    /* trials acquire the very copy, no file is read (the path does not exist) */
    const trainer_dataset_t *a = dscache_acquire(c, 7, "/nonexistent/7.mat", msg, sizeof msg);
    const trainer_dataset_t *b = dscache_acquire(c, 7, "/nonexistent/7.mat", msg, sizeof msg);
    assert_ptr_equal(a, d);
    assert_ptr_equal(b, d);
    dscache_release(c, 7);
    dscache_release(c, 7);
    /* the trials are gone; the putter's reference keeps it for the next ones */
    assert_int_equal(dscache_loaded(c), 1);
    assert_ptr_equal(dscache_acquire(c, 7, "/nonexistent/7.mat", msg, sizeof msg), d);
    dscache_release(c, 7);
    /* an id is put once */
    trainer_dataset_t *again = tiny();
    assert_int_equal(dscache_put(c, 7, again), MLPT_ESTATE);
    trainer_dataset_free(again);
    /* the putter lets go: freed */
    dscache_release(c, 7);
    assert_int_equal(dscache_loaded(c), 0);
    assert_null(dscache_acquire(c, 7, "/nonexistent/7.mat", msg, sizeof msg));
    assert_true(strstr(msg, "cannot load dataset 7") != NULL);
    dscache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(put_is_shared_and_pinned)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
