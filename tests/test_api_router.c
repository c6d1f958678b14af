/*
 * tests/test_api_router.c - the route table and its pure matcher: every route matches its own
 * pattern, {id} captures one segment, 404 versus 405 with the Allow list, HEAD on GET routes,
 * strict paths (no trailing slash, no empty segment), and the integer parsers used on ids and
 * query arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "router.h"

/* Expands a pattern into a concrete path ({id} -> "42"). */
static void concrete(const char *pattern, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = pattern; *p && n + 3 < cap;) {
        if (strncmp(p, "{id}", 4) == 0) {
            memcpy(out + n, "42", 2);
            n += 2;
            p += 4;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static void test_every_route_matches_itself(void **state) {
    (void)state;
    for (size_t i = 0; i < API_ROUTE_COUNT; i++) {
        char path[256];
        api_match_t m;
        assert_int_equal(api_routes[i].id, i);
        concrete(api_routes[i].pattern, path, sizeof(path));
        assert_int_equal(api_route_match(api_routes[i].method, path, &m), API_MATCH_OK);
        assert_ptr_equal(m.route, &api_routes[i]);
        if (strstr(api_routes[i].pattern, "{id}"))
            assert_string_equal(m.param, "42");
        else
            assert_string_equal(m.param, "");
    }
}

static void test_no_two_routes_share_method_and_pattern(void **state) {
    (void)state;
    for (size_t i = 0; i < API_ROUTE_COUNT; i++)
        for (size_t j = i + 1; j < API_ROUTE_COUNT; j++)
            assert_false(api_routes[i].method == api_routes[j].method &&
                         strcmp(api_routes[i].pattern, api_routes[j].pattern) == 0);
}

static void test_params_and_specific_routes(void **state) {
    (void)state;
    api_match_t m;
    assert_int_equal(api_route_match(API_GET, "/api/v1/sweeps/17/trials", &m), API_MATCH_OK);
    assert_int_equal(m.route->id, API_R_SWEEP_TRIALS);
    assert_string_equal(m.param, "17");
    assert_int_equal(api_route_match(API_POST, "/api/v1/sweeps/9/cancel", &m), API_MATCH_OK);
    assert_int_equal(m.route->id, API_R_SWEEP_CANCEL);
    assert_int_equal(api_route_match(API_POST, "/api/v1/trials/3/predict", &m), API_MATCH_OK);
    assert_int_equal(m.route->id, API_R_TRIAL_PREDICT);
    assert_int_equal(m.route->body, API_IN_JSON);
    assert_int_equal(api_route_match(API_POST, "/api/v1/datasets", &m), API_MATCH_OK);
    assert_int_equal(m.route->body, API_IN_UPLOAD);
    assert_int_equal(api_route_match(API_GET, "/api/v1/sweeps/abc", &m), API_MATCH_OK);
    assert_string_equal(m.param, "abc"); /* the handler answers 404 for a non-id */
    assert_int_equal(api_route_match(API_GET, "/api/v1/sweeps/5/events", &m), API_MATCH_OK);
    assert_int_equal(m.route->id, API_R_SWEEP_EVENTS);
}

static void test_not_found(void **state) {
    (void)state;
    api_match_t m;
    const char *paths[] = {
        "/api/v1/sweeps/",
        "/api/v1/sweeps//trials",
        "/api/v1/sweep",
        "/api/v1/sweeps/1/trials/",
        "/api/v2/sweeps",
        "/api/v1/trials/1/2",
        "/api/v1/datasets/1/x",
        "",
        "/healthz/",
        "/api/v1/sweeps/1/cancel/x",
        "/API/v1/sweeps",
        "/api/v1/trials",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        assert_int_equal(api_route_match(API_GET, paths[i], &m), API_MATCH_NOT_FOUND);
    assert_int_equal(api_route_match(API_GET, NULL, &m), API_MATCH_NOT_FOUND);
    char longseg[128];
    snprintf(longseg, sizeof(longseg), "/api/v1/sweeps/%040d", 1);
    assert_int_equal(api_route_match(API_GET, longseg, &m), API_MATCH_NOT_FOUND);
}

static void test_method_not_allowed_lists_allow(void **state) {
    (void)state;
    api_match_t m;
    char allow[64];
    assert_int_equal(api_route_match(API_PUT, "/api/v1/sweeps", &m), API_MATCH_NOT_ALLOWED);
    api_allow_format(m.allow, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(api_route_match(API_POST, "/api/v1/sweeps/3", &m), API_MATCH_NOT_ALLOWED);
    api_allow_format(m.allow, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, DELETE");
    assert_int_equal(api_route_match(API_GET, "/api/v1/sweeps/3/cancel", &m),
                     API_MATCH_NOT_ALLOWED);
    api_allow_format(m.allow, allow, sizeof(allow));
    assert_string_equal(allow, "POST");
    assert_int_equal(api_route_match(API_DELETE, "/metrics", &m), API_MATCH_NOT_ALLOWED);
    api_allow_format(m.allow, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(api_route_match(API_METHOD_OTHER, "/api/v1/trials/1/predict", &m),
                     API_MATCH_NOT_ALLOWED);
    api_allow_format(m.allow, allow, 4); /* truncation keeps whole names only */
    assert_string_equal(allow, "");
}

static void test_head_matches_get(void **state) {
    (void)state;
    api_match_t m;
    assert_int_equal(api_route_match(API_HEAD, "/api/v1/datasets/2", &m), API_MATCH_OK);
    assert_int_equal(m.route->id, API_R_DATASET_GET);
    assert_int_equal(api_route_match(API_HEAD, "/api/v1/sweeps/2/cancel", &m),
                     API_MATCH_NOT_ALLOWED);
}

static void test_methods(void **state) {
    (void)state;
    assert_int_equal(api_method_parse("GET"), API_GET);
    assert_int_equal(api_method_parse("DELETE"), API_DELETE);
    assert_int_equal(api_method_parse("get"), API_METHOD_OTHER);
    assert_int_equal(api_method_parse("BREW"), API_METHOD_OTHER);
    assert_int_equal(api_method_parse(NULL), API_METHOD_OTHER);
    assert_string_equal(api_method_name(API_PATCH), "PATCH");
    assert_string_equal(api_method_name((api_method_t)99), "OTHER");
}

static void test_parse_id_and_uint(void **state) {
    (void)state;
    int64_t id;
    uint64_t u;
    assert_int_equal(api_parse_id("1", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(api_parse_id("9223372036854775807", &id), 0);
    assert_int_equal(id, INT64_MAX);
    const char *bad[] = {"",
                         "0",
                         "01",
                         "-1",
                         "+1",
                         " 1",
                         "1 ",
                         "1a",
                         "9223372036854775808",
                         "99999999999999999999999",
                         "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(api_parse_id(bad[i], &id), -1);
    assert_int_equal(api_parse_id(NULL, &id), -1);
    assert_int_equal(api_parse_uint("0", 10, &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(api_parse_uint("10", 10, &u), 0);
    assert_int_equal(api_parse_uint("11", 10, &u), -1);
    assert_int_equal(api_parse_uint("18446744073709551615", UINT64_MAX, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(api_parse_uint("18446744073709551616", UINT64_MAX, &u), -1);
    assert_int_equal(api_parse_uint("5", 3, &u), -1);
}

static void test_query_lookup(void **state) {
    (void)state;
    api_request_t req;
    memset(&req, 0, sizeof(req));
    req.query[0] = (api_kv_t){"limit", "5"};
    req.query[1] = (api_kv_t){"cursor", ""};
    req.n_query = 2;
    assert_string_equal(api_query(&req, "limit"), "5");
    assert_string_equal(api_query(&req, "cursor"), "");
    assert_null(api_query(&req, "sort"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_matches_itself),
        cmocka_unit_test(test_no_two_routes_share_method_and_pattern),
        cmocka_unit_test(test_params_and_specific_routes),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed_lists_allow),
        cmocka_unit_test(test_head_matches_get),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_parse_id_and_uint),
        cmocka_unit_test(test_query_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
