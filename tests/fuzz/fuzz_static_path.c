/*
 * tests/fuzz/fuzz_static_path.c - libFuzzer harness for the static-file path check
 * (api_static_rel in api/static_files.h), the guard that keeps the dashboard's files inside web/.
 *
 * Input: [capacity byte] [URL path bytes]. The output buffer holds exactly 1 + byte bytes (on the
 * heap, so ASan sees a write past it); the path is the rest, up to its first NUL.
 *
 * The oracle, written here: "/" maps to "index.html"; any other path is accepted exactly when it
 * starts with '/', fits the buffer, and every '/'-separated segment after the first '/' is
 * non-empty, does not start with '.', and holds no control byte, DEL, '\' or '%'. Invariants:
 *   - api_static_rel agrees with the oracle, and an accepted path maps to itself without the
 *     leading '/', terminated inside the buffer;
 *   - so an accepted rel never climbs out: no "..", no absolute path, no hidden file;
 *   - api_static_is_page and api_static_type answer for every accepted rel (type never NULL).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "static_files.h"

static int oracle(const char *path, size_t cap) {
    if (path[0] != '/')
        return -1;
    if (path[1] == '\0')
        return cap >= sizeof("index.html") ? 0 : -1;
    if (strlen(path + 1) >= cap)
        return -1;
    const char *seg = path + 1;
    for (;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || seg[0] == '.')
            return -1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7F || c == '\\' || c == '%')
                return -1;
        }
        if (seg[n] == '\0')
            return 0;
        seg += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t cap = 1 + (size_t)fuzz_take(&data, &size, 1);
    char *path = malloc(size + 1), *rel = malloc(cap);
    FUZZ_CHECK(path && rel, "malloc");
    memcpy(path, data, size);
    path[size] = '\0';

    int rc = api_static_rel(path, rel, cap);
    int want = oracle(path, cap);
    FUZZ_CHECK(rc == want, "api_static_rel(\"%s\", cap %zu) = %d, want %d", path, cap, rc, want);
    if (rc == 0) {
        FUZZ_CHECK(memchr(rel, '\0', cap) != NULL, "rel not terminated in %zu bytes", cap);
        const char *expect = path[1] ? path + 1 : "index.html";
        FUZZ_CHECK(strcmp(rel, expect) == 0, "\"%s\" -> \"%s\"", path, rel);
        FUZZ_CHECK(rel[0] != '/' && strstr(rel, "..") != rel && strstr(rel, "/..") == NULL &&
                       strstr(rel, "/.") == NULL && rel[0] != '.',
                   "\"%s\" climbs out", rel);
        int page = api_static_is_page(rel);
        FUZZ_CHECK(page == 0 || page == 1, "is_page %d", page);
        FUZZ_CHECK(api_static_type(rel) != NULL, "no type for \"%s\"", rel);
    }
    free(path);
    free(rel);
    return 0;
}
