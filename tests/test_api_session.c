/*
 * tests/test_api_session.c - the dashboard's session table (api/session.h): ids are random and
 * well-formed, live until their expiry and no longer, end on sign-out, a full table makes room by
 * dropping the session closest to its end, and malformed or foreign ids never match; the token
 * comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "session.h"

static void test_create_check_expire(void **state) {
    (void)state;
    api_sessions_t *t = api_sessions_new(4, 100);
    assert_non_null(t);
    char a[API_SESSION_ID_LEN + 1], b[API_SESSION_ID_LEN + 1];
    assert_int_equal(api_sessions_create(t, 1000, a), 0);
    assert_int_equal(api_sessions_create(t, 1000, b), 0);
    assert_int_equal(strlen(a), API_SESSION_ID_LEN);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     API_SESSION_ID_LEN);
    assert_string_not_equal(a, b);
    int64_t exp = 0;
    assert_int_equal(api_sessions_check(t, a, 1000, &exp), 1);
    assert_int_equal(exp, 1100);
    assert_int_equal(api_sessions_check(t, a, 1099, NULL), 1);
    assert_int_equal(api_sessions_count(t, 1099), 2);
    assert_int_equal(api_sessions_check(t, a, 1100, NULL), 0); /* expired at its end */
    assert_int_equal(api_sessions_check(t, a, 1000, NULL), 0); /* and freed: gone for good */
    assert_int_equal(api_sessions_count(t, 1100), 0);
    api_sessions_free(t);
}

static void test_end(void **state) {
    (void)state;
    api_sessions_t *t = api_sessions_new(4, 100);
    char a[API_SESSION_ID_LEN + 1], b[API_SESSION_ID_LEN + 1];
    assert_int_equal(api_sessions_create(t, 0, a), 0);
    assert_int_equal(api_sessions_create(t, 0, b), 0);
    assert_int_equal(api_sessions_end(t, a), 1);
    assert_int_equal(api_sessions_end(t, a), 0);
    assert_int_equal(api_sessions_check(t, a, 1, NULL), 0);
    assert_int_equal(api_sessions_check(t, b, 1, NULL), 1); /* the other one lives on */
    assert_int_equal(api_sessions_end(t, "nonsense"), 0);
    api_sessions_free(t);
}

static void test_full_table(void **state) {
    (void)state;
    api_sessions_t *t = api_sessions_new(3, 100);
    char id[4][API_SESSION_ID_LEN + 1];
    for (int i = 0; i < 3; i++)
        assert_int_equal(api_sessions_create(t, 10 * i, id[i]), 0);
    assert_int_equal(api_sessions_count(t, 20), 3);
    assert_int_equal(api_sessions_create(t, 30, id[3]), 0); /* full: the oldest makes room */
    assert_int_equal(api_sessions_count(t, 30), 3);
    assert_int_equal(api_sessions_check(t, id[0], 30, NULL), 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(api_sessions_check(t, id[i], 30, NULL), 1);
    /* an expired slot is reused before any live one is dropped */
    api_sessions_free(t);
    t = api_sessions_new(2, 10);
    char x[API_SESSION_ID_LEN + 1], y[API_SESSION_ID_LEN + 1], z[API_SESSION_ID_LEN + 1];
    assert_int_equal(api_sessions_create(t, 0, x), 0);
    assert_int_equal(api_sessions_create(t, 5, y), 0);
    assert_int_equal(api_sessions_create(t, 12, z), 0); /* x expired at 10 */
    assert_int_equal(api_sessions_check(t, y, 12, NULL), 1);
    assert_int_equal(api_sessions_check(t, z, 12, NULL), 1);
    api_sessions_free(t);
}

static void test_malformed_ids(void **state) {
    (void)state;
    api_sessions_t *t = api_sessions_new(2, 100);
    char a[API_SESSION_ID_LEN + 1], bad[API_SESSION_ID_LEN + 8];
    assert_int_equal(api_sessions_create(t, 0, a), 0);
    assert_int_equal(api_sessions_check(t, NULL, 0, NULL), 0);
    assert_int_equal(api_sessions_check(t, "", 0, NULL), 0);
    snprintf(bad, sizeof(bad), "%s=", a); /* one character too many */
    assert_int_equal(api_sessions_check(t, bad, 0, NULL), 0);
    snprintf(bad, sizeof(bad), "%.*s", API_SESSION_ID_LEN - 1, a); /* one too few */
    assert_int_equal(api_sessions_check(t, bad, 0, NULL), 0);
    memcpy(bad, a, sizeof(a));
    bad[5] = bad[5] == 'A' ? 'B' : 'A'; /* one character off */
    assert_int_equal(api_sessions_check(t, bad, 0, NULL), 0);
    memcpy(bad, a, sizeof(a));
    bad[10] = '+'; /* not base64url */
    assert_int_equal(api_sessions_check(t, bad, 0, NULL), 0);
    /* all-zero bytes ("AAA...A") must not match an empty slot */
    memset(bad, 'A', API_SESSION_ID_LEN);
    bad[API_SESSION_ID_LEN] = '\0';
    assert_int_equal(api_sessions_check(t, bad, 0, NULL), 0);
    assert_int_equal(api_sessions_check(t, a, 0, NULL), 1);
    api_sessions_free(t);
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_null(api_sessions_new(0, 10));
    assert_null(api_sessions_new(1, 0));
    api_sessions_free(NULL);
}

static void test_secret_equal(void **state) {
    (void)state;
    assert_true(api_secret_equal("0123456789abcdef", "0123456789abcdef"));
    assert_false(api_secret_equal("0123456789abcdef", "0123456789abcdeF"));
    assert_false(api_secret_equal("0123456789abcdef", "0123456789abcde"));
    assert_false(api_secret_equal("0123456789abcdef", "0123456789abcdef0"));
    assert_false(api_secret_equal("0123456789abcdef", ""));
    assert_false(api_secret_equal("0123456789abcdef", NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_check_expire), cmocka_unit_test(test_end),
        cmocka_unit_test(test_full_table),          cmocka_unit_test(test_malformed_ids),
        cmocka_unit_test(test_bad_arguments),       cmocka_unit_test(test_secret_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
