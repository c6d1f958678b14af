/*
 * tests/test_api_problem.c - problem+json bodies (shape, type, title, field errors, overflow),
 * the one mapping of MLPT_E* codes to HTTP statuses, and the JSON helpers: non-finite numbers
 * as null, invalid UTF-8 made safe, body parse errors with line and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlpt_err.h"
#include "problem.h"

static json_t *body_of(const api_response_t *res) {
    json_t *j = json_loadb(res->body, res->body_len, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_status_mapping(void **state) {
    (void)state;
    assert_int_equal(api_error_status(MLPT_OK), 200);
    assert_int_equal(api_error_status(MLPT_ENOTFOUND), 404);
    assert_int_equal(api_error_status(MLPT_ESTATE), 409);
    assert_int_equal(api_error_status(MLPT_EINVAL), 422);
    assert_int_equal(api_error_status(MLPT_EFORMAT), 422);
    assert_int_equal(api_error_status(MLPT_ELIMIT), 422);
    assert_int_equal(api_error_status(MLPT_EBUSY), 503);
    assert_int_equal(api_error_status(MLPT_ENOSPC), 507);
    assert_int_equal(api_error_status(MLPT_ENOMEM), 500);
    assert_int_equal(api_error_status(MLPT_EIO), 500);
    assert_int_equal(api_error_status(MLPT_EDB), 500);
    assert_int_equal(api_error_status(MLPT_EVERSION), 500);
    assert_int_equal(api_error_status(MLPT_EDIVERGED), 500);
    assert_int_equal(api_error_status(-1000), 500);
}

static void test_problem_shape(void **state) {
    (void)state;
    api_response_t res;
    api_errors_t *e = malloc(sizeof(*e));
    api_response_init(&res);
    api_errors_init(e);
    api_errors_add(e, "grid.learning_rate[1]", "must be > 0 (got %g)", -0.5);
    api_errors_add(e, "training.seed", "must be an integer");
    api_problem(&res, API_PROBLEM_INVALID, "2 fields are invalid", e);
    assert_int_equal(res.status, 422);
    assert_string_equal(res.content_type, "application/problem+json");
    assert_int_equal(res.body[res.body_len - 1], '\n');
    json_t *j = body_of(&res);
    assert_int_equal(json_object_size(j), 5);
    assert_string_equal(json_string_value(json_object_get(j, "type")),
                        "urn:mlptune:problem:invalid");
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Invalid request");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 422);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "2 fields are invalid");
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 2);
    json_t *first = json_array_get(errs, 0);
    assert_int_equal(json_object_size(first), 2);
    assert_string_equal(json_string_value(json_object_get(first, "field")),
                        "grid.learning_rate[1]");
    assert_string_equal(json_string_value(json_object_get(first, "message")),
                        "must be > 0 (got -0.5)");
    json_decref(j);
    api_response_deinit(&res);
    free(e);
}

static void test_problem_kinds(void **state) {
    (void)state;
    struct {
        api_problem_kind_t kind;
        unsigned status;
        const char *slug;
    } kinds[] = {{API_PROBLEM_MALFORMED, 400, "malformed"},
                 {API_PROBLEM_UNAUTHORIZED, 401, "unauthorized"},
                 {API_PROBLEM_FORBIDDEN, 403, "forbidden"},
                 {API_PROBLEM_NOT_FOUND, 404, "not-found"},
                 {API_PROBLEM_METHOD, 405, "method-not-allowed"},
                 {API_PROBLEM_CONFLICT, 409, "conflict"},
                 {API_PROBLEM_TOO_LARGE, 413, "too-large"},
                 {API_PROBLEM_MEDIA_TYPE, 415, "unsupported-media-type"},
                 {API_PROBLEM_INVALID, 422, "invalid"},
                 {API_PROBLEM_TOO_MANY, 429, "request-error"},
                 {API_PROBLEM_INTERNAL, 500, "internal"},
                 {API_PROBLEM_UNAVAILABLE, 503, "unavailable"},
                 {API_PROBLEM_NO_SPACE, 507, "insufficient-storage"}};
    assert_string_equal(api_problem_slug(418), "request-error");
    assert_string_equal(api_problem_slug(599), "server-error");
    assert_int_equal(api_problem_status(API_PROBLEM_NONE), 200);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        api_response_t res;
        api_response_init(&res);
        assert_int_equal(api_problem_status(kinds[i].kind), kinds[i].status);
        api_problemf(&res, kinds[i].kind, "code %d", (int)i);
        json_t *j = body_of(&res);
        char type[80];
        snprintf(type, sizeof(type), "urn:mlptune:problem:%s", kinds[i].slug);
        assert_string_equal(json_string_value(json_object_get(j, "type")), type);
        assert_int_equal(json_integer_value(json_object_get(j, "status")), kinds[i].status);
        assert_true(json_is_array(json_object_get(j, "errors")));
        assert_int_equal(json_array_size(json_object_get(j, "errors")), 0);
        assert_non_null(json_string_value(json_object_get(j, "title")));
        json_decref(j);
        api_response_deinit(&res);
    }
}

static void test_problem_helpers(void **state) {
    (void)state;
    api_response_t res;
    api_response_init(&res);
    api_problem_field(&res, API_PROBLEM_INVALID, "file", "row %d, column %d: bad", 3, 2);
    json_t *j = body_of(&res);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "row 3, column 2: bad");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "errors"), 0), "field")),
                        "file");
    json_decref(j);
    /* a second answer replaces the first body */
    api_problem_code(&res, MLPT_ENOTFOUND, NULL);
    assert_int_equal(res.status, 404);
    j = body_of(&res);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "not found");
    json_decref(j);
    api_problem_code(&res, MLPT_ESTATE, "sweep 3 has already finished");
    assert_int_equal(res.status, 409);
    json_decref(j = body_of(&res));
    api_response_deinit(&res);
    assert_null(res.body);
    assert_int_equal(res.fd, -1);
}

static void test_errors_overflow(void **state) {
    (void)state;
    api_errors_t *e = malloc(sizeof(*e));
    api_response_t res;
    api_errors_init(e);
    for (int i = 0; i < API_MAX_ERRORS + 5; i++)
        api_errors_add(e, "rows", "bad %d", i);
    assert_int_equal(e->n, API_MAX_ERRORS);
    assert_int_equal(e->dropped, 5);
    api_response_init(&res);
    api_problem(&res, API_PROBLEM_INVALID, NULL, e);
    json_t *j = body_of(&res);
    assert_int_equal(json_array_size(json_object_get(j, "errors")), API_MAX_ERRORS);
    assert_int_equal(json_integer_value(json_object_get(j, "errors_omitted")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "Invalid request");
    json_decref(j);
    api_response_deinit(&res);
    free(e);
}

static void test_non_finite_numbers_are_null(void **state) {
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "nan", api_json_num(NAN));
    json_object_set_new(o, "inf", api_json_num(INFINITY));
    json_object_set_new(o, "ninf", api_json_num(-INFINITY));
    json_object_set_new(o, "x", api_json_num(0.25));
    char *text;
    size_t len;
    assert_int_equal(api_json_dump(o, &text, &len), 0);
    assert_string_equal(text, "{\"nan\":null,\"inf\":null,\"ninf\":null,\"x\":0.25}\n");
    assert_int_equal(len, strlen(text));
    free(text);
    json_decref(o);
    api_response_t res;
    api_response_init(&res);
    api_res_json(&res, 200, json_pack("{s:o}", "v", api_json_num(NAN)));
    assert_int_equal(res.status, 200);
    assert_string_equal(res.content_type, "application/json");
    assert_string_equal(res.body, "{\"v\":null}\n");
    api_response_deinit(&res);
    api_res_json(&res, 201, NULL); /* no body: out of memory */
    assert_int_equal(res.status, 500);
    api_response_deinit(&res);
}

static void test_strings_are_made_utf8(void **state) {
    (void)state;
    json_t *s = api_json_string("ok \xff\xfe caf\xc3\xa9 \xc0\xaf \xe2\x82");
    assert_non_null(s);
    assert_string_equal(json_string_value(s), "ok ?? caf\xc3\xa9 ?? ??");
    json_decref(s);
    assert_true(json_is_null(s = api_json_string(NULL)));
    json_decref(s);
    assert_int_equal(api_utf8_valid("caf\xc3\xa9", 5), 1);
    assert_int_equal(api_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    /* a problem detail quoting the bytes of a bad upload stays valid JSON */
    api_response_t res;
    api_response_init(&res);
    api_problemf(&res, API_PROBLEM_INVALID, "row 2: \"%s\" is not a number", "\xff\xff");
    json_t *j = body_of(&res);
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        "row 2: \"??\" is not a number");
    json_decref(j);
    api_response_deinit(&res);
}

static void test_body_parse_errors(void **state) {
    (void)state;
    char detail[256];
    json_t *j = api_json_parse("{\n  \"a\": 1,\n  \"b\": [1,,2]\n}", 26, detail, sizeof(detail));
    assert_null(j);
    assert_non_null(strstr(detail, "line 3, column"));
    assert_null(api_json_parse("{\"a\": 1, \"a\": 2}", 16, detail, sizeof(detail)));
    assert_non_null(strstr(detail, "duplicate object key"));
    assert_null(api_json_parse("", 0, detail, sizeof(detail)));
    assert_null(api_json_parse("{\"a\": NaN}", 10, detail, sizeof(detail)));
    assert_null(api_json_parse("{\"a\": 1e999}", 12, detail, sizeof(detail)));
    assert_null(api_json_parse("{\"a\": \"\\u0000\"}", 15, detail, sizeof(detail)));
    assert_non_null(j = api_json_parse("42", 2, detail, sizeof(detail)));
    json_decref(j);
    double v;
    j = json_integer(3);
    assert_int_equal(api_json_get_number(j, &v), 0);
    assert_true(v == 3.0);
    json_decref(j);
    j = json_string("3");
    assert_int_equal(api_json_get_number(j, &v), -1);
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_problem_shape),
        cmocka_unit_test(test_problem_kinds),
        cmocka_unit_test(test_problem_helpers),
        cmocka_unit_test(test_errors_overflow),
        cmocka_unit_test(test_non_finite_numbers_are_null),
        cmocka_unit_test(test_strings_are_made_utf8),
        cmocka_unit_test(test_body_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
