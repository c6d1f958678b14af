/*
 * tests/test_api_static.c - the dashboard's files: the pure path check refuses every way out of
 * web_dir (dot segments, decoded and double-encoded traversal, backslashes, control bytes,
 * hidden files, empty segments), maps "/" to index.html, tells pages from assets; opening a file
 * refuses symlinks that leave web_dir, directories and missing files.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_files.h"

static void test_good_paths(void **state) {
    (void)state;
    char rel[256];
    assert_int_equal(api_static_rel("/", rel, sizeof(rel)), 0);
    assert_string_equal(rel, "index.html");
    assert_int_equal(api_static_rel("/js/app.js", rel, sizeof(rel)), 0);
    assert_string_equal(rel, "js/app.js");
    assert_int_equal(api_static_rel("/sweeps/12", rel, sizeof(rel)), 0);
    assert_string_equal(rel, "sweeps/12");
    assert_int_equal(api_static_rel("/a..b/c.d..e", rel, sizeof(rel)), 0);
    assert_string_equal(rel, "a..b/c.d..e");
}

static void test_refused_paths(void **state) {
    (void)state;
    char rel[256];
    const char *bad[] = {
        "",           /* not absolute */
        "index.html", /* not absolute */
        "/..",
        "/../etc/passwd",
        "/js/../../etc/passwd",
        "/js/..",
        "/./index.html",
        "/js/./app.js",
        "/.git/config",
        "/.env",
        "//etc/passwd",
        "/js//app.js",
        "/js/", /* empty segments */
        "/..\\..\\windows",
        "/js\\app.js", /* backslashes */
        "/%2e%2e/etc/passwd",
        "/js/%2e%2e%2fsecret", /* '%' left after decoding */
        "/%252e%252e/x",
        ("/a\x01" /* joined on purpose: \x01b would be one escape */
         "b"),
        "/a\x7f",
        "/a\nb",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (api_static_rel(bad[i], rel, sizeof(rel)) != -1)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(api_static_rel(NULL, rel, sizeof(rel)), -1);
    assert_int_equal(api_static_rel("/abcdef", rel, 4), -1); /* too long for the buffer */
}

static void test_pages_and_types(void **state) {
    (void)state;
    assert_int_equal(api_static_is_page("sweeps/12"), 1);
    assert_int_equal(api_static_is_page("datasets"), 1);
    assert_int_equal(api_static_is_page("js/app.js"), 0);
    assert_int_equal(api_static_is_page("v1.2/x"), 1);
    assert_string_equal(api_static_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(api_static_type("js/app.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(api_static_type("style.css"), "text/css; charset=utf-8");
    assert_string_equal(api_static_type("logo.svg"), "image/svg+xml");
    assert_string_equal(api_static_type("blob"), "application/octet-stream");
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_open_stays_inside(void **state) {
    (void)state;
    char root[] = "/tmp/mlpt-static-XXXXXX", p[PATH_MAX], web[PATH_MAX], real[PATH_MAX];
    uint64_t size;
    assert_non_null(mkdtemp(root));
    join(web, sizeof(web), root, "web");
    assert_int_equal(mkdir(web, 0755), 0);
    join(p, sizeof(p), web, "js");
    assert_int_equal(mkdir(p, 0755), 0);
    join(p, sizeof(p), web, "index.html");
    write_file(p, "<h1>hi</h1>");
    join(p, sizeof(p), root, "secret.txt");
    write_file(p, "secret");
    join(p, sizeof(p), web, "js/app.js");
    write_file(p, "x");
    join(p, sizeof(p), web, "out.txt"); /* a symlink leaving web_dir */
    char target[PATH_MAX];
    join(target, sizeof(target), root, "secret.txt");
    assert_int_equal(symlink(target, p), 0);
    join(p, sizeof(p), web, "in.js"); /* a symlink staying inside */
    assert_int_equal(symlink("js/app.js", p), 0);
    join(p, sizeof(p), web, "js/up"); /* a directory symlink leaving it */
    assert_int_equal(symlink("../..", p), 0);
    assert_non_null(realpath(web, real));

    int fd = api_static_open(real, "index.html", &size);
    assert_true(fd >= 0);
    assert_int_equal(size, 11);
    close(fd);
    fd = api_static_open(real, "in.js", &size);
    assert_true(fd >= 0);
    close(fd);
    errno = 0;
    assert_int_equal(api_static_open(real, "out.txt", &size), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(api_static_open(real, "js/up/secret.txt", &size), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(api_static_open(real, "missing.html", &size), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(api_static_open(real, "js", &size), -1); /* a directory */
    assert_int_equal(errno, ENOENT);

    join(p, sizeof(p), web, "js/up");
    unlink(p);
    join(p, sizeof(p), web, "in.js");
    unlink(p);
    join(p, sizeof(p), web, "out.txt");
    unlink(p);
    join(p, sizeof(p), web, "js/app.js");
    unlink(p);
    join(p, sizeof(p), web, "js");
    rmdir(p);
    join(p, sizeof(p), web, "index.html");
    unlink(p);
    rmdir(web);
    unlink(target);
    rmdir(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_paths),
        cmocka_unit_test(test_refused_paths),
        cmocka_unit_test(test_pages_and_types),
        cmocka_unit_test(test_open_stays_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
