/*
 * tests/fuzz/fuzz_cli_sweep.c - what `mlptune sweep` reads from the command line and from the
 * server without a human in between (service/sweep_request.c, service/sweep_preview.c).
 *
 * Input: a mode byte. Mode even: `extend` or `retry` (the next byte's low bit) with the rest as
 * NUL-separated arguments after "--server http://h": the parse either refuses with
 * SVC_EXIT_USAGE or gives a request whose path names the sweep id and whose body holds exactly
 * what was parsed (trial ids positive and unique, iterations positive, budgets positive, never
 * budgets and trials together). Mode odd: the rest is the server's answer to a preview, printed
 * by svc_preview_print: any JSON at all prints six lines, and no byte of it is a control
 * character other than the newlines.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fuzz_util.h"
#include "sweep_preview.h"
#include "sweep_request.h"

#define MAX_ARGS 64

static void fuzz_op(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1), *argv[MAX_ARGS + 4];
    FUZZ_CHECK(buf != NULL, "out of memory");
    int extend = size > 0 && (data[0] & 1);
    if (size > 0) {
        data++;
        size--;
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 0;
    argv[argc++] = extend ? "extend" : "retry";
    argv[argc++] = "--server";
    argv[argc++] = "http://h";
    for (size_t i = 0; i <= size && argc < MAX_ARGS + 3;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    svc_sweep_op_args_t a;
    int rc = svc_sweep_op_parse(argc, argv, &a);
    FUZZ_CHECK(rc == 0 || rc == SVC_EXIT_USAGE, "parse returned %d", rc);
    if (rc == 0) {
        char path[96], want[96];
        json_t *body = NULL;
        FUZZ_CHECK(svc_sweep_op_request(&a, path, sizeof path, &body) == 0, "request failed");
        FUZZ_CHECK(a.sweep_id > 0, "sweep id %" PRId64, a.sweep_id);
        snprintf(want, sizeof want, "/api/v1/sweeps/%" PRId64 "/%s", a.sweep_id,
                 extend ? "extend" : "retry");
        FUZZ_CHECK(!strcmp(path, want), "path %s", path);
        FUZZ_CHECK(json_is_object(body), "body is not an object");
        int budgets = a.max_trials > 0 || a.max_seconds > 0.0 || a.max_iterations_total > 0;
        FUZZ_CHECK(!(budgets && a.n_trials), "budgets and trials together");
        if (!extend)
            FUZZ_CHECK(json_object_size(body) == 0 && !budgets && !a.n_trials, "retry body");
        else {
            FUZZ_CHECK(budgets || a.n_trials, "an empty extend");
            json_t *trials = json_object_get(body, "trials");
            FUZZ_CHECK(json_array_size(trials) == a.n_trials, "trials in the body");
            for (size_t i = 0; i < a.n_trials; i++) {
                json_t *t = json_array_get(trials, i);
                FUZZ_CHECK(a.trials[i].id > 0 && a.trials[i].iterations > 0, "trial %zu", i);
                FUZZ_CHECK(json_integer_value(json_object_get(t, "id")) == a.trials[i].id &&
                               json_integer_value(json_object_get(t, "iterations")) ==
                                   a.trials[i].iterations,
                           "trial %zu in the body", i);
                for (size_t j = 0; j < i; j++)
                    FUZZ_CHECK(a.trials[j].id != a.trials[i].id, "trial id twice");
            }
            FUZZ_CHECK(!json_object_get(body, "max_trials") == !a.max_trials, "max_trials");
            FUZZ_CHECK(!json_object_get(body, "max_seconds") == !(a.max_seconds > 0.0),
                       "max_seconds");
        }
        json_decref(body);
    }
    svc_sweep_op_args_deinit(&a);
    free(buf);
}

static void fuzz_preview(const uint8_t *data, size_t size) {
    json_t *answer = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!answer)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FUZZ_CHECK(f != NULL, "open_memstream");
    FUZZ_CHECK(svc_preview_print(f, answer) == 0, "print failed");
    fclose(f);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        FUZZ_CHECK(c == '\n' || (c >= 0x20 && c != 0x7f), "control byte 0x%02x at %zu", c, i);
        lines += c == '\n';
    }
    FUZZ_CHECK(lines == 6, "%zu lines", lines);
    (void)svc_preview_is(answer);
    free(text);
    json_decref(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_preview(data + 1, size - 1);
    else
        fuzz_op(data + 1, size - 1);
    return 0;
}
