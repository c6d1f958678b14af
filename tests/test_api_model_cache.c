/*
 * tests/test_api_model_cache.c - the prediction models' cache (api/model_cache.h): concurrent
 * gets of one model load it once and share it; the cache stays within its byte budget by
 * dropping the least recently used models not in use; a model over the whole budget is shared
 * while in use and dropped after; a failed load is not cached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mlpt_err.h"
#include "model_cache.h"

static atomic_int loads_called;

/* A small model (4 -> 16 -> 3); sleeps a little so that concurrent gets overlap the load. */
static trainer_model_t *load_small(void *user, int *err) {
    (void)user;
    (void)err;
    atomic_fetch_add(&loads_called, 1);
    struct timespec ms = {0, 50 * 1000 * 1000};
    nanosleep(&ms, NULL);
    trainer_arch_t arch = {.inputs = 4, .outputs = 3, .n_hidden = 1, .hidden = {16}};
    return trainer_model_new(&arch, 1);
}

static trainer_model_t *load_fails(void *user, int *err) {
    (void)user;
    *err = MLPT_EFORMAT;
    return NULL;
}

typedef struct getter {
    api_model_cache_t *c;
    const trainer_model_t *got;
} getter_t;

static void *get_one(void *arg) {
    getter_t *g = arg;
    int err = 0;
    g->got = api_model_cache_get(g->c, 7, "models/trial-7-a.mlpm", load_small, NULL, &err);
    return NULL;
}

static void test_concurrent_gets_load_once(void **state) {
    (void)state;
    api_model_cache_t *c = api_model_cache_new((size_t)1 << 20);
    assert_non_null(c);
    atomic_store(&loads_called, 0);
    pthread_t th[4];
    getter_t g[4];
    for (int i = 0; i < 4; i++) {
        g[i] = (getter_t){.c = c};
        assert_int_equal(pthread_create(&th[i], NULL, get_one, &g[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&loads_called), 1);
    assert_int_equal(api_model_cache_loads(c), 1);
    for (int i = 0; i < 4; i++) {
        assert_non_null(g[i].got);
        assert_ptr_equal(g[i].got, g[0].got);
        api_model_cache_release(c, g[i].got);
    }
    assert_int_equal(api_model_cache_bytes(c), api_model_bytes(g[0].got));
    api_model_cache_free(c);
}

static const trainer_model_t *get(api_model_cache_t *c, int64_t id, const char *key) {
    int err = 0;
    const trainer_model_t *m = api_model_cache_get(c, id, key, load_small, NULL, &err);
    assert_non_null(m);
    return m;
}

static void test_lru_within_budget(void **state) {
    (void)state;
    trainer_arch_t arch = {.inputs = 4, .outputs = 3, .n_hidden = 1, .hidden = {16}};
    trainer_model_t *probe = trainer_model_new(&arch, 1);
    size_t one = api_model_bytes(probe);
    trainer_model_free(probe);
    api_model_cache_t *c = api_model_cache_new(2 * one + one / 2);
    api_model_cache_release(c, get(c, 1, "a"));
    api_model_cache_release(c, get(c, 2, "b"));
    api_model_cache_release(c, get(c, 1, "a")); /* a is now more recent than b */
    assert_int_equal(api_model_cache_loads(c), 2);
    api_model_cache_release(c, get(c, 3, "c")); /* over budget: b goes */
    assert_int_equal(api_model_cache_loads(c), 3);
    assert_int_equal(api_model_cache_bytes(c), 2 * one);
    api_model_cache_release(c, get(c, 1, "a"));
    assert_int_equal(api_model_cache_loads(c), 3);
    api_model_cache_release(c, get(c, 2, "b"));
    assert_int_equal(api_model_cache_loads(c), 4);
    /* a new file for the same trial is a new model */
    api_model_cache_release(c, get(c, 2, "b2"));
    assert_int_equal(api_model_cache_loads(c), 5);
    assert_true(api_model_cache_bytes(c) <= 2 * one + one / 2);
    api_model_cache_free(c);
}

static void test_over_budget_and_failures(void **state) {
    (void)state;
    api_model_cache_t *c = api_model_cache_new(0); /* keeps nothing not in use */
    const trainer_model_t *a = get(c, 1, "a"), *b = get(c, 1, "a");
    assert_ptr_equal(a, b); /* shared while in use */
    assert_int_equal(api_model_cache_loads(c), 1);
    api_model_cache_release(c, a);
    api_model_cache_release(c, b);
    assert_int_equal(api_model_cache_bytes(c), 0);
    api_model_cache_release(c, get(c, 1, "a"));
    assert_int_equal(api_model_cache_loads(c), 2);
    int err = 0;
    assert_null(api_model_cache_get(c, 2, "bad", load_fails, NULL, &err));
    assert_int_equal(err, MLPT_EFORMAT);
    assert_null(api_model_cache_get(c, 2, "bad", load_fails, NULL, &err)); /* tried again */
    api_model_cache_release(c, NULL);
    api_model_cache_free(c);
    api_model_cache_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_gets_load_once),
        cmocka_unit_test(test_lru_within_budget),
        cmocka_unit_test(test_over_budget_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
