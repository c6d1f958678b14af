/*
 * tests/test_cli_sweep.c - `mlptune sweep` without a server: the arguments of the create form
 * (--spec and its older name --grid, dataset_id from the spec, --preview) and of `extend` and
 * `retry`, the requests built from them (paths and JSON bodies), hostile flags each refused with
 * exit status 2 and a message naming the flag, and the text of --preview from the server's
 * answer (service/sweep_spec.c, sweep_request.c, sweep_preview.c; compiled in).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "sweep_preview.h"
#include "sweep_request.h"
#include "sweep_spec.h"

/* ---- stderr captured around a call -------------------------------------------------------- */

static char g_err[8192];
static int g_saved_fd = -1;
static FILE *g_capture;

static void capture_begin(void) {
    fflush(stderr);
    g_capture = tmpfile();
    assert_non_null(g_capture);
    g_saved_fd = dup(STDERR_FILENO);
    assert_true(g_saved_fd >= 0);
    assert_true(dup2(fileno(g_capture), STDERR_FILENO) >= 0);
}

/* Ends the capture; g_err holds what was written. */
static const char *capture_end(void) {
    fflush(stderr);
    dup2(g_saved_fd, STDERR_FILENO);
    close(g_saved_fd);
    rewind(g_capture);
    size_t n = fread(g_err, 1, sizeof g_err - 1, g_capture);
    g_err[n] = '\0';
    fclose(g_capture);
    return g_err;
}

/* ---- extend and retry --------------------------------------------------------------------- */

#define ARGC(v) ((int)(sizeof(v) / sizeof(v)[0]))

/* Parses argv, which must succeed, and builds its request. */
static json_t *op_request(int argc, char **argv, svc_sweep_op_args_t *a, char *path, size_t n) {
    json_t *body = NULL;
    capture_begin();
    int rc = svc_sweep_op_parse(argc, argv, a);
    if (rc == 0)
        rc = svc_sweep_op_request(a, path, n, &body);
    const char *err = capture_end();
    if (rc != 0)
        fail_msg("rc %d: %s", rc, err);
    assert_string_equal(err, "");
    return body;
}

static void assert_json(const json_t *got, const char *want_text) {
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g, want_text);
    }
    json_decref(want);
}

static void test_extend_budgets(void **state) {
    (void)state;
    char *argv[] = {"extend",
                    "--server",
                    "http://127.0.0.1:9",
                    "7",
                    "--max-trials",
                    "80",
                    "--max-seconds=900.5",
                    "--max-iterations-total",
                    "5000",
                    "--wait",
                    "--json"};
    svc_sweep_op_args_t a;
    char path[96];
    unsetenv("MLPTUNE_SERVER");
    unsetenv("MLPTUNE_TOKEN_FILE");
    json_t *body = op_request(ARGC(argv), argv, &a, path, sizeof path);
    assert_int_equal(a.kind, SVC_SWEEP_OP_EXTEND);
    assert_int_equal(a.sweep_id, 7);
    assert_true(a.wait && a.json);
    assert_string_equal(a.server, "http://127.0.0.1:9");
    assert_string_equal(path, "/api/v1/sweeps/7/extend");
    assert_json(body, "{\"max_trials\": 80, \"max_seconds\": 900.5, "
                      "\"max_iterations_total\": 5000}");
    json_decref(body);
    svc_sweep_op_args_deinit(&a);

    /* one budget alone is a body with that member only */
    char *one[] = {"extend", "12", "--server", "http://h", "--max-seconds", "60"};
    body = op_request(ARGC(one), one, &a, path, sizeof path);
    assert_string_equal(path, "/api/v1/sweeps/12/extend");
    assert_json(body, "{\"max_seconds\": 60.0}");
    assert_false(a.wait || a.json);
    json_decref(body);
    svc_sweep_op_args_deinit(&a);
}

static void test_extend_trials(void **state) {
    (void)state;
    char *argv[] = {"extend",        "--server", "http://h", "--trial", "12:54",
                    "--trial=13:27", "--trial",  "9:1",      "3"};
    svc_sweep_op_args_t a;
    char path[96];
    json_t *body = op_request(ARGC(argv), argv, &a, path, sizeof path);
    assert_int_equal(a.n_trials, 3);
    assert_string_equal(path, "/api/v1/sweeps/3/extend");
    assert_json(body, "{\"trials\": [{\"id\": 12, \"iterations\": 54}, {\"id\": 13, "
                      "\"iterations\": 27}, {\"id\": 9, \"iterations\": 1}]}");
    json_decref(body);
    svc_sweep_op_args_deinit(&a);
}

static void test_retry_and_environment(void **state) {
    (void)state;
    char *argv[] = {"retry", "42"};
    svc_sweep_op_args_t a;
    char path[96];
    setenv("MLPTUNE_SERVER", "http://from-env:1", 1);
    setenv("MLPTUNE_TOKEN_FILE", "/tmp/token-from-env", 1);
    json_t *body = op_request(ARGC(argv), argv, &a, path, sizeof path);
    assert_int_equal(a.kind, SVC_SWEEP_OP_RETRY);
    assert_string_equal(a.server, "http://from-env:1");
    assert_string_equal(a.token_file, "/tmp/token-from-env");
    assert_string_equal(path, "/api/v1/sweeps/42/retry");
    assert_json(body, "{}");
    json_decref(body);
    svc_sweep_op_args_deinit(&a);
    /* the flag wins over the environment */
    char *flag[] = {"retry", "--server", "http://flag:2", "42", "--timeout", "5"};
    body = op_request(ARGC(flag), flag, &a, path, sizeof path);
    assert_string_equal(a.server, "http://flag:2");
    assert_string_equal(a.timeout, "5");
    json_decref(body);
    svc_sweep_op_args_deinit(&a);
    unsetenv("MLPTUNE_SERVER");
    unsetenv("MLPTUNE_TOKEN_FILE");
}

/* Every case: argv after "--server http://h" and the words its message must hold. */
static void test_op_hostile(void **state) {
    (void)state;
    static const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"extend", "--max-trials", "9"}, "SWEEP_ID is required"},
        {{"retry"}, "SWEEP_ID is required"},
        {{"retry", "1", "2"}, "one SWEEP_ID"},
        {{"retry", "0"}, "SWEEP_ID must be a positive integer, got \"0\""},
        {{"retry", "abc"}, "SWEEP_ID must be a positive integer"},
        {{"retry", "-3"}, "SWEEP_ID must be a positive integer"},
        {{"retry", "1e3"}, "SWEEP_ID must be a positive integer"},
        {{"retry", "99999999999999999999"}, "SWEEP_ID must be a positive integer"},
        {{"retry", "9223372036854775808"}, "SWEEP_ID must be a positive integer"},
        {{"retry", "5", "--bogus"}, "unknown argument \"--bogus\""},
        {{"retry", "5", "--"}, "unknown argument \"--\""},
        {{"retry", "5", "--max-trials", "3"}, "unknown argument \"--max-trials\""},
        {{"retry", "5", "--trial", "1:2"}, "unknown argument \"--trial\""},
        {{"retry", "5", "--wait=1"}, "unknown argument \"--wait=1\""},
        {{"extend", "5"}, "give new budgets"},
        {{"extend", "5", "--wait"}, "give new budgets"},
        {{"extend", "5", "--max-trials"}, "--max-trials: missing value"},
        {{"extend", "5", "--max-trials="}, "--max-trials: missing value"},
        {{"extend", "5", "--trial"}, "--trial: missing value"},
        {{"extend", "5", "--max-trials", "0"}, "--max-trials: 0 is out of range"},
        {{"extend", "5", "--max-trials", "-4"}, "--max-trials: expected a non-negative integer"},
        {{"extend", "5", "--max-trials", "7x"}, "--max-trials: expected a non-negative integer"},
        {{"extend", "5", "--max-trials", "1e9999"}, "--max-trials: expected"},
        {{"extend", "5", "--max-iterations-total", "0"}, "--max-iterations-total: 0 is out"},
        {{"extend", "5", "--max-seconds", "0"}, "--max-seconds: 0 is out of range"},
        {{"extend", "5", "--max-seconds", "-1"}, "--max-seconds: -1 is out of range"},
        {{"extend", "5", "--max-seconds", "nan"}, "--max-seconds: expected a finite number"},
        {{"extend", "5", "--max-seconds", "inf"}, "--max-seconds: expected a finite number"},
        {{"extend", "5", "--max-seconds", "1e300"}, "--max-seconds: 1e300 is out of range"},
        {{"extend", "5", "--trial", "12"}, "--trial: expected ID:ITERATIONS"},
        {{"extend", "5", "--trial", "12:"}, "--trial: expected ID:ITERATIONS"},
        {{"extend", "5", "--trial", ":54"}, "--trial: expected ID:ITERATIONS"},
        {{"extend", "5", "--trial", "0:54"}, "--trial: 0 is out of range"},
        {{"extend", "5", "--trial", "12:0"}, "--trial: 0 is out of range"},
        {{"extend", "5", "--trial", "12:x"}, "--trial: expected a non-negative integer"},
        {{"extend", "5", "--trial", "12:5:6"}, "--trial: expected a non-negative integer"},
        {{"extend", "5", "--trial", "-1:5"}, "--trial: expected a non-negative integer"},
        {{"extend", "5", "--trial", "1:2", "--trial", "1:3"}, "trial 1 is given twice"},
        {{"extend", "5", "--trial", "1:2", "--max-trials", "9"}, "--trial goes alone"},
        {{"extends", "5"}, "unknown subcommand \"extends\""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *argv[12];
        int argc = 0;
        argv[argc++] = (char *)cases[c].args[0];
        argv[argc++] = "--server";
        argv[argc++] = "http://h";
        for (size_t k = 1; k < 8 && cases[c].args[k]; k++)
            argv[argc++] = (char *)cases[c].args[k];
        svc_sweep_op_args_t a;
        capture_begin();
        int rc = svc_sweep_op_parse(argc, argv, &a);
        const char *err = capture_end();
        svc_sweep_op_args_deinit(&a);
        if (rc != SVC_EXIT_USAGE || strncmp(err, "mlptune: ", 9) != 0 ||
            !strstr(err, cases[c].says))
            fail_msg("case %zu (%s %s): rc %d, stderr \"%s\", expected \"%s\"", c, cases[c].args[0],
                     cases[c].args[1] ? cases[c].args[1] : "", rc, err, cases[c].says);
    }
    /* no --server at all */
    char *argv[] = {"retry", "5"};
    svc_sweep_op_args_t a;
    unsetenv("MLPTUNE_SERVER");
    capture_begin();
    int rc = svc_sweep_op_parse(ARGC(argv), argv, &a);
    assert_int_equal(rc, SVC_EXIT_USAGE);
    assert_non_null(strstr(capture_end(), "--server is required"));
    svc_sweep_op_args_deinit(&a);
}

static void test_op_many_trials(void **state) {
    (void)state;
    /* the cap on --trial flags, and realloc growth past it refused */
    int argc = 2 + 2 * (SVC_SWEEP_OP_MAX_TRIALS + 1) + 2;
    char **argv = calloc((size_t)argc, sizeof *argv);
    char(*vals)[32] = calloc(SVC_SWEEP_OP_MAX_TRIALS + 1, sizeof *vals);
    assert_non_null(argv);
    assert_non_null(vals);
    int n = 0;
    argv[n++] = "extend";
    argv[n++] = "5";
    argv[n++] = "--server";
    argv[n++] = "http://h";
    for (int i = 0; i <= SVC_SWEEP_OP_MAX_TRIALS; i++) {
        snprintf(vals[i], sizeof vals[i], "%d:3", i + 1);
        argv[n++] = "--trial";
        argv[n++] = vals[i];
    }
    svc_sweep_op_args_t a;
    capture_begin();
    int rc = svc_sweep_op_parse(n, argv, &a);
    assert_non_null(strstr(capture_end(), "at most 1000"));
    assert_int_equal(rc, SVC_EXIT_USAGE);
    svc_sweep_op_args_deinit(&a);
    /* exactly the cap is fine */
    capture_begin();
    rc = svc_sweep_op_parse(n - 2, argv, &a);
    capture_end();
    assert_int_equal(rc, 0);
    assert_int_equal(a.n_trials, SVC_SWEEP_OP_MAX_TRIALS);
    svc_sweep_op_args_deinit(&a);
    free(vals);
    free(argv);
}

/* ---- creating and previewing ------------------------------------------------------------- */

static char g_dir[64];

static const char *write_file(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mlpt-test-cli-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct prepared {
    int rc;
    svc_sweep_args_t a;
    svc_dataset_ref_t train, test;
    json_t *spec;
    char *token;
    long timeout;
} prepared_t;

static const char *prepare(int argc, char **argv, prepared_t *p) {
    memset(p, 0, sizeof *p);
    capture_begin();
    p->rc =
        svc_sweep_prepare(argc, argv, &p->a, &p->train, &p->test, &p->spec, &p->token, &p->timeout);
    return capture_end();
}

static void prepared_free(prepared_t *p) {
    json_decref(p->spec);
    free(p->token);
}

#define SEARCH_SPEC                                                                                \
    "{\"search\": {\"type\": \"random\", \"max_trials\": 60, \"seed\": 0},"                        \
    " \"space\": {\"hidden_layers\": [1, 2], \"learning_rate\": {\"low\": 0.01, \"high\": 1,"      \
    " \"log\": true}, \"iterations\": [27]},"                                                      \
    " \"pruner\": {\"type\": \"asha\", \"min_iterations\": 1, \"reduction_factor\": 3},"           \
    " \"training\": {\"validation_split\": 0.2, \"early_stopping\": {\"metric\": \"val_loss\","    \
    " \"patience\": 5}}"

static void test_spec_forms(void **state) {
    (void)state;
    prepared_t p;
    /* the full spec with its own dataset_id: --dataset is not needed */
    const char *path = write_file("search.json", SEARCH_SPEC ", \"dataset_id\": 4}");
    char *argv[] = {"sweep", "--server", "http://h", "--spec", (char *)path, "--preview"};
    const char *err = prepare(ARGC(argv), argv, &p);
    assert_int_equal(p.rc, 0);
    assert_string_equal(err, "");
    assert_int_equal(p.train.id, 4);
    assert_true(p.a.preview);
    assert_string_equal(p.a.spec_option, "--spec");
    assert_int_equal(p.timeout, 30);
    assert_non_null(json_object_get(p.spec, "pruner"));
    /* the body: search, space, pruner and training pass through untouched */
    json_t *before = json_deep_copy(p.spec);
    assert_int_equal(svc_sweep_body_complete(p.spec, "named", p.train.id, 0), 0);
    assert_string_equal(json_string_value(json_object_get(p.spec, "name")), "named");
    assert_int_equal(json_integer_value(json_object_get(p.spec, "dataset_id")), 4);
    assert_null(json_object_get(p.spec, "test_dataset_id"));
    json_object_del(p.spec, "name");
    assert_true(json_equal(before, p.spec));
    json_decref(before);
    assert_string_equal(svc_sweep_create_path(1), "/api/v1/sweeps?dry_run=true");
    assert_string_equal(svc_sweep_create_path(0), "/api/v1/sweeps");
    prepared_free(&p);

    /* --dataset wins over the spec's, --test-dataset sets test_dataset_id; --grid is the old
     * name of the same flag */
    path = write_file("grid.json", "{\"grid\": {\"hidden_layers\": [1]}, \"dataset_id\": 4, "
                                   "\"test_dataset_id\": 8}");
    char *old[] = {"sweep",     "--server", "http://h",  "--grid", (char *)path,
                   "--dataset", "11",       "--timeout", "7"};
    err = prepare(ARGC(old), old, &p);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.a.spec_option, "--grid");
    assert_int_equal(p.train.id, 11);
    assert_int_equal(p.timeout, 7);
    assert_int_equal(svc_sweep_body_complete(p.spec, NULL, p.train.id, 0), 0);
    assert_int_equal(json_integer_value(json_object_get(p.spec, "dataset_id")), 11);
    assert_int_equal(json_integer_value(json_object_get(p.spec, "test_dataset_id")), 8);
    assert_int_equal(svc_sweep_body_complete(p.spec, NULL, p.train.id, 21), 0);
    assert_int_equal(json_integer_value(json_object_get(p.spec, "test_dataset_id")), 21);
    prepared_free(&p);
}

static void test_spec_hostile(void **state) {
    (void)state;
    const char *no_id = write_file("noid.json", SEARCH_SPEC "}");
    char no_id_path[128];
    snprintf(no_id_path, sizeof no_id_path, "%s", no_id);
    const char *bad_id = write_file("badid.json", SEARCH_SPEC ", \"dataset_id\": \"4\"}");
    char bad_id_path[128];
    snprintf(bad_id_path, sizeof bad_id_path, "%s", bad_id);
    const char *zero_id = write_file("zeroid.json", SEARCH_SPEC ", \"dataset_id\": 0}");
    char zero_id_path[128];
    snprintf(zero_id_path, sizeof zero_id_path, "%s", zero_id);
    const char *axes = write_file("axes.json", "{\"hidden_layers\": [1], \"dataset_id\": 1}");
    char axes_path[128];
    snprintf(axes_path, sizeof axes_path, "%s", axes);
    const char *array = write_file("array.json", "[1]");
    char array_path[128];
    snprintf(array_path, sizeof array_path, "%s", array);
    const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"--spec", no_id_path}, "--dataset is required"},
        {{"--spec", bad_id_path}, "\"dataset_id\" must be a positive integer"},
        {{"--spec", zero_id_path}, "\"dataset_id\" must be a positive integer"},
        {{"--spec", zero_id_path, "--labels", zero_id_path}, "must be a positive integer"},
        {{"--spec", axes_path}, "put the axes under \"grid\""},
        {{"--spec", array_path, "--dataset", "1"}, "expected a JSON object"},
        {{"--grid", array_path}, "--grid "},
        {{"--spec", no_id_path, "--grid", no_id_path}, "--grid: is the older name of --spec"},
        {{"--spec", no_id_path, "--dataset", "1", "--preview", "--wait"},
         "--preview: creates nothing"},
        {{"--dataset", "1"}, "--spec is required"},
        {{"--spec"}, "--spec: missing value"},
        {{"--spec", no_id_path, "--dataset", "1", "--preview=1"}, "unknown argument"},
        {{"--spec", "/nonexistent/x.json", "--dataset", "1"}, "cannot open"},
        {{"extend", "5", "--max-trials", "9"}, "\"extend\" goes first"},
        {{"--spec", no_id_path, "retry"}, "\"retry\" goes first"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *argv[12];
        int argc = 0;
        argv[argc++] = "sweep";
        argv[argc++] = "--server";
        argv[argc++] = "http://h";
        for (size_t k = 0; k < 8 && cases[c].args[k]; k++)
            argv[argc++] = (char *)cases[c].args[k];
        prepared_t p;
        const char *err = prepare(argc, argv, &p);
        prepared_free(&p);
        if (p.rc != SVC_EXIT_USAGE || strncmp(err, "mlptune: ", 9) != 0 ||
            !strstr(err, cases[c].says))
            fail_msg("case %zu (%s): rc %d, stderr \"%s\", expected \"%s\"", c, cases[c].args[0],
                     p.rc, err, cases[c].says);
    }
}

/* ---- the preview's text ------------------------------------------------------------------ */

static const char *preview_text(const char *answer_text) {
    static char out[2048];
    json_t *answer = json_loads(answer_text, 0, NULL);
    assert_non_null(answer);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(svc_preview_print(f, answer), 0);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    json_decref(answer);
    return out;
}

static void test_preview_text(void **state) {
    (void)state;
    const char *t = preview_text(
        "{\"dry_run\": true, \"search\": \"random\", \"trials\": 60, \"budget\": "
        "{\"max_trials\": 60, \"max_seconds\": 600, \"max_iterations_total\": null}, "
        "\"iterations_total\": 1620, \"gemm_flops\": 4.5e13, \"throughput_gflops\": 190.5, "
        "\"estimated_seconds\": 238.2, \"workers\": 2}");
    assert_non_null(strstr(t, "preview (nothing was created): random search\n"));
    assert_non_null(strstr(t, "trials       60 (budget: max_trials 60, max_seconds 600)\n"));
    assert_non_null(strstr(t, "iterations   at most 1620 in all\n"));
    assert_non_null(strstr(t, "GEMM FLOPs   at most 4.5e+13 (45 TFLOP)\n"));
    assert_non_null(strstr(t, "throughput   190 GFLOP/s (2 workers"));
    assert_non_null(strstr(t, "estimated    238 s (3:58) on this server\n"));

    /* a grid: no budget; a time-bounded search: trials null */
    t = preview_text("{\"dry_run\": true, \"search\": \"grid\", \"trials\": 8, \"budget\": null,"
                     " \"iterations_total\": 40, \"gemm_flops\": 12, \"throughput_gflops\": 50,"
                     " \"estimated_seconds\": 4000, \"workers\": 1}");
    assert_non_null(strstr(t, "trials       8\n"));
    assert_non_null(strstr(t, "GEMM FLOPs   at most 12 (12 FLOP)\n"));
    assert_non_null(strstr(t, "4000 s (1:06:40)"));
    t = preview_text("{\"dry_run\": true, \"search\": \"tpe\", \"trials\": null, \"budget\": "
                     "{\"max_seconds\": 600}}");
    assert_non_null(strstr(t, "trials       bounded by the budget (budget: max_seconds 600)\n"));

    /* a hostile answer: wrong types, negative numbers, control characters */
    t = preview_text("{\"dry_run\": true, \"search\": \"\\u001b[31mx\", \"trials\": -1, "
                     "\"budget\": [1], \"iterations_total\": \"many\", \"gemm_flops\": -5, "
                     "\"throughput_gflops\": {}, \"estimated_seconds\": 1e300, \"workers\": null}");
    assert_null(strchr(t, '\x1b'));
    assert_non_null(strstr(t, "??31mx search"));
    assert_non_null(strstr(t, "trials       ?\n"));
    assert_non_null(strstr(t, "iterations   at most ? in all"));
    assert_non_null(strstr(t, "estimated    ? on"));

    json_t *yes = json_pack("{sb}", "dry_run", 1), *no = json_pack("{si}", "id", 3);
    assert_true(svc_preview_is(yes));
    assert_false(svc_preview_is(no));
    assert_false(svc_preview_is(NULL));
    json_decref(yes);
    json_decref(no);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extend_budgets),        cmocka_unit_test(test_extend_trials),
        cmocka_unit_test(test_retry_and_environment), cmocka_unit_test(test_op_hostile),
        cmocka_unit_test(test_op_many_trials),        cmocka_unit_test(test_spec_forms),
        cmocka_unit_test(test_spec_hostile),          cmocka_unit_test(test_preview_text),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
