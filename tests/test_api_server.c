/*
 * tests/test_api_server.c - the HTTP layer end to end, in process: a real scheduler and server on
 * an ephemeral port with a temporary data dir, spoken to over sockets. Covers the bearer token,
 * early refusals (413 from Content-Length before the body is read, 415, 405 with Allow), a
 * chunked body over its cap, a CSV upload (201, Location, SHA-256 of the bytes), a sweep followed
 * over Server-Sent Events to its end, 204 on resume after the end, static files, and quiescing
 * (503 on a kept-alive connection, /healthz draining) in the service's shutdown order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "api_http_client.h"
#include "sched.h"
#include "sha256.h"

#define TOKEN "s3cret"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static struct {
    char dir[64], data[128], db[160], web[128];
    sched_t *sched;
    api_t *api;
    uint16_t port;
} S;

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    snprintf(S.dir, sizeof(S.dir), "/tmp/mlpt-api-XXXXXX");
    assert_non_null(mkdtemp(S.dir));
    snprintf(S.data, sizeof(S.data), "%s/data", S.dir);
    snprintf(S.db, sizeof(S.db), "%s/mlptune.db", S.data);
    snprintf(S.web, sizeof(S.web), "%s/web", S.dir);
    assert_int_equal(mkdir(S.data, 0755), 0);
    assert_int_equal(mkdir(S.web, 0755), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/index.html", S.web);
    write_file(p, "<!doctype html><title>mlptune</title>");
    snprintf(p, sizeof(p), "%s/secret.txt", S.dir);
    write_file(p, "secret");
    store_error_t err;
    sched_config_t sc = {.data_dir = S.data, .db_path = S.db, .workers = 2, .cores = 2};
    S.sched = sched_start(&sc, &err);
    assert_non_null(S.sched);
    api_config_t ac = {.bind = "127.0.0.1",
                       .data_dir = S.data,
                       .db_path = S.db,
                       .web_dir = S.web,
                       .token = TOKEN,
                       .allowed_hosts = "x", /* the Host these requests name */
                       .threads = 2,
                       .sched = S.sched};
    api_limits_init(&ac.limits);
    ac.limits.max_body_bytes = 4096;
    int rc = -1;
    S.api = api_start(&ac, &rc);
    assert_non_null(S.api);
    assert_int_equal(rc, 0);
    sched_set_listener(S.sched, api_on_event, S.api);
    S.port = api_port(S.api);
    assert_true(S.port > 0);
    return 0;
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[512];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static int teardown(void **state) {
    (void)state;
    api_quiesce(S.api); /* the service's order: quiesce, stop the scheduler, stop the server */
    sched_stop(S.sched);
    api_stop(S.api);
    remove_tree(S.dir);
    return 0;
}

static void get(const char *path, const char *headers, fx_res_t *r) {
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                     path, headers);
    fx_request(S.port, req, (size_t)n, r);
}

static void post_json(const char *path, const char *body, fx_res_t *r) {
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, strlen(body), body);
    fx_request(S.port, req, (size_t)n, r);
}

static void test_token_and_meta_routes(void **state) {
    (void)state;
    fx_res_t r;
    char v[128];
    get("/healthz", "", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"ok\""));
    fx_res_free(&r);
    get("/api/v1/datasets", "", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(fx_header(&r, "WWW-Authenticate", v, sizeof(v)), "Bearer");
    assert_string_equal(fx_header(&r, "Content-Type", v, sizeof(v)), "application/problem+json");
    fx_res_free(&r);
    get("/api/v1/datasets", "Authorization: Bearer s3cre7\r\n", &r);
    assert_int_equal(r.status, 401);
    fx_res_free(&r);
    get("/api/v1/datasets", "Authorization: Bearer s3cret2\r\n", &r);
    assert_int_equal(r.status, 401);
    fx_res_free(&r);
    get("/api/v1/datasets", AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"items\":[],\"next_cursor\":null}\n");
    fx_res_free(&r);
    get("/openapi.json", "", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"openapi\": \"3.1.0\""));
    fx_res_free(&r);
    /* requests are counted when they complete, on the server's threads: poll a little */
    const char *want = "mlptune_http_requests_total{method=\"GET\",route=\"/api/v1/datasets\","
                       "status=\"401\"} 3\n";
    for (int i = 0; i < 100; i++) {
        get("/metrics", "", &r);
        assert_int_equal(r.status, 200);
        if (strstr(r.body, want))
            break;
        fx_res_free(&r);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, want));
    assert_non_null(strstr(r.body, "mlptune_workers 2\n"));
    fx_res_free(&r);
}

static void test_early_refusals(void **state) {
    (void)state;
    fx_res_t r;
    char v[64];
    /* only the headers are sent, the client waits to be told to go on: the answer must come
     * without the body */
    const char *big = "POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Type: application/json\r\nContent-Length: 5000\r\n"
                      "Expect: 100-continue\r\n\r\n";
    fx_request(S.port, big, strlen(big), &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "max_body_bytes (4096 bytes)"));
    fx_res_free(&r);
    const char *xml = "POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Type: text/xml\r\nContent-Length: 2\r\n\r\n<>";
    fx_request(S.port, xml, strlen(xml), &r);
    assert_int_equal(r.status, 415);
    fx_res_free(&r);
    const char *put =
        "PUT /api/v1/sweeps/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH "\r\n";
    fx_request(S.port, put, strlen(put), &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(fx_header(&r, "Allow", v, sizeof(v)), "GET, HEAD, DELETE");
    fx_res_free(&r);
    /* a chunked body over the cap: read, refused whole, never truncated */
    char req[16384];
    int n = snprintf(req, sizeof(req),
                     "POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "400\r\n");
        memset(req + n, ' ', 1024);
        n += 1024;
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
    fx_request(S.port, req, (size_t)n, &r);
    assert_int_equal(r.status, 413);
    fx_res_free(&r);
    post_json("/api/v1/sweeps", "{\"dataset_id\": 1,\n \"grid\": [}", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "line 2, column"));
    fx_res_free(&r);
}

/* Uploads iris as text/csv; returns the dataset id. */
static long upload_iris(void) {
    FILE *f = fopen(MLPT_TEST_DATA_DIR "/iris.csv", "rb");
    assert_non_null(f);
    static char csv[16384];
    size_t len = fread(csv, 1, sizeof(csv), f);
    fclose(f);
    char *req = malloc(len + 512);
    int n =
        snprintf(req, 512,
                 "POST /api/v1/datasets?name=iris HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH
                 "Content-Type: text/csv\r\nContent-Length: %zu\r\n\r\n",
                 len);
    memcpy(req + n, csv, len);
    fx_res_t r;
    fx_request(S.port, req, (size_t)n + len, &r);
    free(req);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    long id = (long)json_integer_value(json_object_get(j, "id"));
    char loc[64], want[64], hex[65];
    snprintf(want, sizeof(want), "/api/v1/datasets/%ld", id);
    assert_string_equal(fx_header(&r, "Location", loc, sizeof(loc)), want);
    unsigned char d[API_SHA256_SIZE];
    api_sha256_t h;
    api_sha256_init(&h);
    api_sha256_update(&h, csv, len);
    api_sha256_final(&h, d);
    api_sha256_hex(d, hex);
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), hex);
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), 150);
    assert_int_equal(json_integer_value(json_object_get(j, "size_bytes")), len);
    json_decref(j);
    fx_res_free(&r);
    /* nothing left behind in uploads/ */
    char up[256];
    snprintf(up, sizeof(up), "%s/uploads", S.data);
    DIR *dir = opendir(up);
    struct dirent *e;
    int files = 0;
    while (dir && (e = readdir(dir)))
        files += e->d_name[0] != '.';
    closedir(dir);
    assert_int_equal(files, 0);
    return id;
}

static size_t count(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_upload_sweep_and_events(void **state) {
    (void)state;
    long ds = upload_iris();
    char body[512], path[128];
    snprintf(body, sizeof(body),
             "{\"dataset_id\": %ld, \"grid\": {\"hidden_layers\": [1], \"neurons\": [4, 8], "
             "\"learning_rate\": [0.1], \"iterations\": [5]}, \"training\": {\"batch_size\": 16}}",
             ds);
    fx_res_t r;
    post_json("/api/v1/sweeps", body, &r);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    long sweep = (long)json_integer_value(json_object_get(j, "id"));
    assert_int_equal(json_integer_value(json_object_get(j, "trials_total")), 2);
    json_decref(j);
    fx_res_free(&r);
    /* HTTP/1.0: the stream is sent as is and ends with the connection, after sweep_finished */
    snprintf(path, sizeof(path), "GET /api/v1/sweeps/%ld/events HTTP/1.0\r\n" AUTH "\r\n", sweep);
    fx_request(S.port, path, strlen(path), &r);
    char v[64];
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_header(&r, "Content-Type", v, sizeof(v)), "text/event-stream");
    assert_int_equal(count(r.body, "event: iteration\n"), 10);
    assert_int_equal(count(r.body, "event: trial_started\n"), 2);
    assert_int_equal(count(r.body, "event: trial_finished\n"), 2);
    assert_int_equal(count(r.body, "event: sweep_finished\n"), 1);
    /* resuming after the last id: nothing more (204) */
    const char *last = strstr(r.body, "event: sweep_finished");
    const char *id = NULL;
    for (const char *p = strstr(r.body, "id: "); p && p < last; p = strstr(p + 1, "id: "))
        id = p + 4;
    assert_non_null(id);
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "Last-Event-ID: %.*s\r\n" AUTH, (int)strcspn(id, "\n"), id);
    fx_res_free(&r);
    snprintf(path, sizeof(path), "/api/v1/sweeps/%ld/events", sweep);
    get(path, hdr, &r);
    assert_int_equal(r.status, 204);
    fx_res_free(&r);
    snprintf(path, sizeof(path), "/api/v1/sweeps/%ld/trials?sort=-best_val_accuracy", sweep);
    get(path, AUTH, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"completed\""));
    fx_res_free(&r);
    get("/api/v1/sweeps?colour=red", AUTH, &r);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "\"field\":\"query.colour\""));
    fx_res_free(&r);
}

static void test_static_files(void **state) {
    (void)state;
    fx_res_t r;
    char v[64];
    const char *ok[] = {"/", "/sweeps/12"};
    for (size_t i = 0; i < 2; i++) {
        get(ok[i], "", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(fx_header(&r, "Content-Type", v, sizeof(v)),
                            "text/html; charset=utf-8");
        assert_non_null(strstr(r.body, "<title>mlptune</title>"));
        fx_res_free(&r);
    }
    const char *bad[] = {"/../secret.txt", "/%2e%2e/secret.txt", "/x/..%2f..%2fsecret.txt",
                         "/missing.js"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        get(bad[i], "", &r);
        assert_int_equal(r.status, 404);
        assert_null(strstr(r.body, "secret"));
        fx_res_free(&r);
    }
    get("/api/v1/nothing", AUTH, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(fx_header(&r, "Content-Type", v, sizeof(v)), "application/problem+json");
    fx_res_free(&r);
}

static void test_quiesce(void **state) {
    (void)state;
    int fd = fx_connect(S.port); /* kept alive across the quiesce */
    const char *list = "GET /api/v1/sweeps HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    fx_res_t r;
    fx_send(fd, list, strlen(list));
    fx_read(fd, &r, 0);
    assert_int_equal(r.status, 200);
    fx_res_free(&r);
    api_quiesce(S.api);
    api_quiesce(S.api); /* idempotent */
    fx_send(fd, list, strlen(list));
    fx_read(fd, &r, 0);
    char v[16];
    assert_int_equal(r.status, 503);
    assert_string_equal(fx_header(&r, "Retry-After", v, sizeof(v)), "5");
    fx_res_free(&r);
    const char *health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    fx_send(fd, health, strlen(health));
    fx_read(fd, &r, 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "draining"));
    fx_res_free(&r);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_and_meta_routes),
        cmocka_unit_test(test_early_refusals),
        cmocka_unit_test(test_upload_sweep_and_events),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_quiesce),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
