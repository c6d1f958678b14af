/*
 * tests/test_api_origin.c - the browser policy of api/origin.h: Host names the service answers
 * for (DNS rebinding), same-origin checks for state-changing requests (Origin, Sec-Fetch-Site),
 * and Cookie header parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "origin.h"

static void test_host_split(void **state) {
    (void)state;
    char name[API_HOST_NAME_MAX];
    int port;
    assert_int_equal(api_host_split("LocalHost:8080", name, sizeof(name), &port), 0);
    assert_string_equal(name, "localhost");
    assert_int_equal(port, 8080);
    assert_int_equal(api_host_split("example.com.", name, sizeof(name), &port), 0);
    assert_string_equal(name, "example.com");
    assert_int_equal(port, -1);
    assert_int_equal(api_host_split("[::1]:9", name, sizeof(name), &port), 0);
    assert_string_equal(name, "[::1]");
    assert_int_equal(port, 9);
    assert_int_equal(api_host_split("host:", name, sizeof(name), &port), 0);
    assert_int_equal(port, -1);
    const char *bad[] = {"",     ":80",     "a b",       "a:b",  "a:80:80", "a:65536", "a:-1",
                         "[::1", "[zz]:80", "[::1]x",    "a/b",  "a@b",     "a\r\nb",  "::1",
                         "[]",   ".",       "a:1234567", "ab..", ".."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (api_host_split(bad[i], name, sizeof(name), &port) == 0)
            fail_msg("\"%s\" should be refused", bad[i]);
    assert_int_equal(api_host_split("abcdef", name, 4, &port), -1); /* too long for the buffer */
}

static void test_host_policy_loopback_bind(void **state) {
    (void)state;
    api_host_policy_t p;
    assert_int_equal(api_host_policy_init(&p, "127.0.0.1", NULL, NULL, 0), 0);
    const char *ok[] = {
        "127.0.0.1:8080", "127.0.0.1", "localhost:8080", "LOCALHOST:1", "localhost.:8080",
        "[::1]:8080",     NULL};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!api_host_allowed(&p, ok[i]))
            fail_msg("Host %s should be allowed", ok[i] ? ok[i] : "(none)");
    /* DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends that name */
    const char *no[] = {"evil.example:8080",
                        "localhost.evil.example",
                        "127.0.0.1.nip.io:8080",
                        "10.0.0.1:8080",
                        "x",
                        "",
                        "127.0.0.1:8080:1",
                        "0x7f.1:8080"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (api_host_allowed(&p, no[i]))
            fail_msg("Host %s should be refused", no[i]);
}

static void test_host_policy_other_binds(void **state) {
    (void)state;
    api_host_policy_t p;
    assert_int_equal(api_host_policy_init(&p, "10.1.2.3", "", NULL, 0), 0);
    assert_true(api_host_allowed(&p, "10.1.2.3:8080"));
    assert_false(api_host_allowed(&p, "10.1.2.4:8080"));
    assert_false(api_host_allowed(&p, "box.lan:8080"));
    /* a wildcard bind answers on every address: any IP literal, still no foreign name */
    assert_int_equal(api_host_policy_init(&p, "0.0.0.0", NULL, NULL, 0), 0);
    assert_true(api_host_allowed(&p, "192.168.1.7:8080"));
    assert_true(api_host_allowed(&p, "[fe80::1]:8080"));
    assert_false(api_host_allowed(&p, "box.lan:8080"));
    assert_int_equal(api_host_policy_init(&p, "::", NULL, NULL, 0), 0);
    assert_true(api_host_allowed(&p, "10.0.0.9"));
    assert_int_equal(api_host_policy_init(&p, "::1", NULL, NULL, 0), 0);
    assert_true(api_host_allowed(&p, "[::1]:80"));
    assert_false(api_host_allowed(&p, "[::2]:80"));
}

static void test_allowed_hosts(void **state) {
    (void)state;
    api_host_policy_t p;
    char why[256] = "";
    assert_int_equal(api_host_policy_init(&p, "0.0.0.0",
                                          " Box.LAN , tuner.example.com:8443,,[fd00::5]", why,
                                          sizeof(why)),
                     0);
    assert_int_equal(p.n_allowed, 3);
    assert_true(api_host_allowed(&p, "box.lan"));
    assert_true(api_host_allowed(&p, "box.lan:8080")); /* an entry without a port: any port */
    assert_true(api_host_allowed(&p, "tuner.example.com:8443"));
    assert_false(api_host_allowed(&p, "tuner.example.com:8080")); /* with one: exactly it */
    assert_false(api_host_allowed(&p, "tuner.example.com"));
    assert_true(api_host_allowed(&p, "[fd00::5]:1"));
    assert_false(api_host_allowed(&p, "sub.box.lan"));
    assert_int_equal(api_host_policy_init(&p, "127.0.0.1", "ok.lan,bad host", why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "bad host"));
    char many[2048] = "";
    for (int i = 0; i <= API_MAX_ALLOWED_HOSTS; i++)
        strcat(many, "h.example,");
    assert_int_equal(api_host_policy_init(&p, "127.0.0.1", many, why, sizeof(why)), -1);
}

static void test_origin_matches(void **state) {
    (void)state;
    assert_true(api_origin_matches("http://127.0.0.1:8080", "127.0.0.1:8080", 0));
    assert_true(api_origin_matches("HTTP://LocalHost:8080", "localhost:8080", 0));
    assert_true(api_origin_matches("http://box.lan", "box.lan:80", 0)); /* default port */
    assert_true(api_origin_matches("http://box.lan:80", "box.lan", 0));
    assert_true(api_origin_matches("https://box.lan", "box.lan:443", 1));
    assert_false(api_origin_matches("https://127.0.0.1:8080", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://127.0.0.1:8080", "127.0.0.1:8080", 1));
    assert_false(api_origin_matches("http://127.0.0.1:3000", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://localhost:8080", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://evil.example", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("null", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://127.0.0.1:8080/", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://a@127.0.0.1:8080", "127.0.0.1:8080", 0));
    assert_false(api_origin_matches("http://127.0.0.1:8080", NULL, 0));
    assert_false(api_origin_matches(NULL, "127.0.0.1:8080", 0));
}

static void test_cross_site_refusal(void **state) {
    (void)state;
    const char *host = "127.0.0.1:8080", *own = "http://127.0.0.1:8080";
    /* safe methods are never refused here: reading needs CORS, which is never granted */
    assert_null(api_cross_site_refusal(API_GET, "http://evil.example", "cross-site", host, 0));
    assert_null(api_cross_site_refusal(API_HEAD, "http://evil.example", "cross-site", host, 0));
    /* scripts send neither header */
    assert_null(api_cross_site_refusal(API_POST, NULL, NULL, host, 0));
    assert_null(api_cross_site_refusal(API_DELETE, NULL, NULL, NULL, 0));
    assert_null(api_cross_site_refusal(API_POST, own, "same-origin", host, 0));
    assert_null(api_cross_site_refusal(API_POST, NULL, "none", host, 0));
    assert_null(api_cross_site_refusal(API_DELETE, own, NULL, host, 0));
    api_method_t unsafe[] = {API_POST, API_PUT, API_DELETE, API_PATCH, API_METHOD_OTHER};
    for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
        assert_non_null(api_cross_site_refusal(unsafe[i], "http://evil.example", NULL, host, 0));
        assert_non_null(api_cross_site_refusal(unsafe[i], NULL, "cross-site", host, 0));
        /* another port on localhost is the same site, not the same origin */
        assert_non_null(api_cross_site_refusal(unsafe[i], NULL, "same-site", host, 0));
        assert_non_null(
            api_cross_site_refusal(unsafe[i], "http://127.0.0.1:3000", "same-site", host, 0));
        assert_non_null(api_cross_site_refusal(unsafe[i], "null", NULL, host, 0));
        assert_non_null(api_cross_site_refusal(unsafe[i], own, "cross-site", host, 0));
        assert_non_null(api_cross_site_refusal(unsafe[i], own, NULL, NULL, 0));
    }
}

static void test_cookie_next(void **state) {
    (void)state;
    char v[64];
    const char *c = "a=1; mlptune_session=abc;b=2;  mlptune_session=\"def\" ; mlptune_sessionx=9";
    assert_int_equal(api_cookie_next(&c, "mlptune_session", v, sizeof(v)), 1);
    assert_string_equal(v, "abc");
    assert_int_equal(api_cookie_next(&c, "mlptune_session", v, sizeof(v)), 1);
    assert_string_equal(v, "def");
    assert_int_equal(api_cookie_next(&c, "mlptune_session", v, sizeof(v)), 0);
    const char *none = NULL;
    assert_int_equal(api_cookie_next(&none, "a", v, sizeof(v)), 0);
    const char *empty = "";
    assert_int_equal(api_cookie_next(&empty, "a", v, sizeof(v)), 0);
    const char *value_empty = "a=";
    assert_int_equal(api_cookie_next(&value_empty, "a", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    /* too long for the buffer: skipped, the next one is found */
    const char *longv = "a=0123456789; a=ok";
    assert_int_equal(api_cookie_next(&longv, "a", v, 5), 1);
    assert_string_equal(v, "ok");
    const char *prefix = "xa=1; A=2";
    assert_int_equal(api_cookie_next(&prefix, "a", v, sizeof(v)), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_split),
        cmocka_unit_test(test_host_policy_loopback_bind),
        cmocka_unit_test(test_host_policy_other_binds),
        cmocka_unit_test(test_allowed_hosts),
        cmocka_unit_test(test_origin_matches),
        cmocka_unit_test(test_cross_site_refusal),
        cmocka_unit_test(test_cookie_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
