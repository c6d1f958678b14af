/*
 * tests/test_api_framing.c - the request framing checks against smuggling (api/framing.h) and the
 * upload memory budget (api/mem_budget.h), without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "framing.h"
#include "mem_budget.h"
#include "mlpt_err.h"

/* The verdict on a list of name, value pairs (NULL-terminated). */
static int verdict(int http11, const char *const *h, char *why, size_t cap) {
    const char *version = http11 ? "HTTP/1.1" : "HTTP/1.0";
    api_framing_t f;
    api_framing_init(&f);
    for (; h[0]; h += 2)
        api_framing_header(&f, h[0], h[1]);
    return api_framing_verdict(&f, version, why, cap);
}

static void test_unambiguous_requests_pass(void **state) {
    (void)state;
    char why[160];
    const char *get[] = {"Host", "x", "Accept", "*/*", NULL};
    const char *post[] = {"host", "x", "content-length", "42", NULL};
    const char *chunked[] = {"Host", "x", "Transfer-Encoding", "Chunked", NULL};
    const char *old[] = {"Accept", "*/*", NULL}; /* HTTP/1.0 needs no Host */
    assert_int_equal(verdict(1, get, why, sizeof(why)), 0);
    assert_int_equal(verdict(1, post, why, sizeof(why)), 0);
    assert_int_equal(verdict(1, chunked, why, sizeof(why)), 0);
    assert_int_equal(verdict(0, old, why, sizeof(why)), 0);
}

static void test_ambiguous_requests_are_refused(void **state) {
    (void)state;
    static const struct {
        const char *h[9];
        int http11;
        const char *why;
    } cases[] = {
        {{"Host", "x", "Content-Length", "2", "Content-Length", "49", NULL},
         1,
         "one Content-Length"},
        {{"Host", "x", "Content-Length", "2", "Content-Length", "2", NULL},
         1,
         "one Content-Length"},
        {{"Host", "x", "Content-Length", "5", "Transfer-Encoding", "chunked", NULL}, 1, "both"},
        {{"Host", "x", "Transfer-Encoding", "chunked", "Content-Length", "5", NULL}, 1, "both"},
        {{"Host", "x", "Content-Length", "2, 2", NULL}, 1, "decimal"},
        {{"Host", "x", "Content-Length", "+2", NULL}, 1, "decimal"},
        {{"Host", "x", "Content-Length", "", NULL}, 1, "decimal"},
        {{"Host", "x", "Transfer-Encoding", "gzip, chunked", NULL}, 1, "only Transfer-Encoding"},
        {{"Host", "x", "Transfer-Encoding", "chunked, identity", NULL}, 1, "only"},
        {{"Host", "x", "Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked", NULL},
         1,
         "one Transfer-Encoding"},
        {{"Accept", "*/*", NULL}, 1, "needs a Host"},
        {{"Host", "x", "Host", "y", NULL}, 1, "one Host"},
        {{"Host", "x", "Host", "x", NULL}, 0, "one Host"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[160] = "";
        assert_int_equal(verdict(cases[i].http11, cases[i].h, why, sizeof(why)), MLPT_EFORMAT);
        if (!strstr(why, cases[i].why))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, why, cases[i].why);
    }
}

static void test_memory_budget(void **state) {
    (void)state;
    api_mem_budget_t *b = api_mem_budget_new(100);
    assert_non_null(b);
    assert_int_equal(api_mem_budget_reserve(b, 0, 60, 0), 0);
    assert_int_equal(api_mem_budget_reserve(b, 0, 50, 10), MLPT_EBUSY);  /* 110 > 100, waits */
    assert_int_equal(api_mem_budget_reserve(b, 60, 50, 0), MLPT_ELIMIT); /* could never fit */
    assert_int_equal(api_mem_budget_reserve(b, 0, 40, 0), 0);
    assert_int_equal(api_mem_budget_used(b), 100);
    api_mem_budget_release(b, 60);
    assert_int_equal(api_mem_budget_reserve(b, 0, 50, 0), 0);
    api_mem_budget_release(b, 90);
    assert_int_equal(api_mem_budget_used(b), 0);
    assert_int_equal(api_mem_budget_total(b), 100);
    api_mem_budget_free(b);
    api_mem_budget_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unambiguous_requests_pass),
        cmocka_unit_test(test_ambiguous_requests_are_refused),
        cmocka_unit_test(test_memory_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
