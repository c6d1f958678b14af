/*
 * tests/test_api_openapi.c - api/openapi.json against the real route table, in both directions:
 * every route has its path and method in the document, and every operation of the document is
 * a route. Also checks the promises the document makes that the code relies on (the problem
 * schema, "non-finite numbers are null", a response for every operation, 201 + Location for
 * creates, the problem type for 422).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "router.h"

static json_t *load(void) {
    json_error_t e;
    json_t *doc = json_load_file(MLPT_API_OPENAPI, JSON_REJECT_DUPLICATES, &e);
    if (!doc)
        fail_msg("%s: line %d: %s", MLPT_API_OPENAPI, e.line, e.text);
    return doc;
}

static const char *const methods[] = {"get", "head", "post", "put", "delete", "patch", "options"};

static void lower(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void test_every_route_is_documented(void **state) {
    (void)state;
    json_t *doc = load();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < API_ROUTE_COUNT; i++) {
        char m[16];
        lower(api_method_name(api_routes[i].method), m, sizeof(m));
        json_t *op = json_object_get(json_object_get(paths, api_routes[i].pattern), m);
        if (!op)
            fail_msg("route %s %s is missing from openapi.json",
                     api_method_name(api_routes[i].method), api_routes[i].pattern);
        json_t *responses = json_object_get(op, "responses");
        assert_true(json_object_size(responses) > 0);
        assert_non_null(json_string_value(json_object_get(op, "operationId")));
    }
    json_decref(doc);
}

static void test_every_documented_operation_is_a_route(void **state) {
    (void)state;
    json_t *doc = load();
    json_t *paths = json_object_get(doc, "paths"), *item;
    const char *path;
    size_t ops = 0;
    json_object_foreach(paths, path, item) {
        const char *key;
        json_t *op;
        json_object_foreach(item, key, op) {
            size_t k = 0;
            while (k < sizeof(methods) / sizeof(methods[0]) && strcmp(key, methods[k]) != 0)
                k++;
            if (k == sizeof(methods) / sizeof(methods[0]))
                continue; /* "parameters", "summary", ... */
            ops++;
            size_t i = 0;
            for (; i < API_ROUTE_COUNT; i++) {
                char m[16];
                lower(api_method_name(api_routes[i].method), m, sizeof(m));
                if (strcmp(m, key) == 0 && strcmp(api_routes[i].pattern, path) == 0)
                    break;
            }
            if (i == API_ROUTE_COUNT)
                fail_msg("openapi.json documents %s %s, which is not a route", key, path);
        }
    }
    assert_int_equal(ops, API_ROUTE_COUNT);
    json_decref(doc);
}

static void test_documented_conventions(void **state) {
    (void)state;
    json_t *doc = load();
    const char *desc =
        json_string_value(json_object_get(json_object_get(doc, "info"), "description"));
    assert_non_null(desc);
    assert_non_null(strstr(desc, "Non-finite numbers are null"));
    json_t *problem =
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Problem");
    json_t *required = json_object_get(problem, "required");
    const char *want[] = {"type", "title", "status", "detail", "errors"};
    assert_int_equal(json_array_size(required), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_array_get(required, i)), want[i]);
    json_t *paths = json_object_get(doc, "paths");
    const char *creates[] = {"/api/v1/datasets", "/api/v1/sweeps"};
    for (size_t i = 0; i < 2; i++) {
        json_t *r201 = json_object_get(
            json_object_get(json_object_get(json_object_get(paths, creates[i]), "post"),
                            "responses"),
            "201");
        assert_non_null(json_object_get(json_object_get(r201, "headers"), "Location"));
    }
    json_t *invalid = json_object_get(
        json_object_get(json_object_get(doc, "components"), "responses"), "Invalid");
    assert_non_null(
        json_object_get(json_object_get(invalid, "content"), "application/problem+json"));
    /* the grid documents the same defaults the validator applies */
    json_t *training = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Training"),
        "properties");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(training, "activation"), "default")),
        "relu");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(training, "batch_size"), "default")),
        64);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(training, "seed"), "default")), 42);
    json_decref(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_is_a_route),
        cmocka_unit_test(test_documented_conventions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
