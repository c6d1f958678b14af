/*
 * tests/test_api_sha256.c - SHA-256 against the FIPS 180-4 example vectors (the NIST "SHA-256
 * examples"), lengths around the padding boundaries, a million bytes, and chunked updates that
 * must give the one-shot digest for every split; each with the SHA extensions (when the CPU has
 * them) and again with the portable code, and both against each other on pseudo-random data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static void hex_of(const void *data, size_t len, char hex[65]) {
    api_sha256_t c;
    unsigned char d[API_SHA256_SIZE];
    api_sha256_init(&c);
    api_sha256_update(&c, data, len);
    api_sha256_final(&c, d);
    api_sha256_hex(d, hex);
}

static void test_fips_examples(void **state) {
    (void)state;
    char hex[65];
    hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    hex_of(four, strlen(four), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state) {
    (void)state;
    char *a = malloc(1000000);
    char hex[65];
    assert_non_null(a);
    memset(a, 'a', 1000000);
    hex_of(a, 1000000, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_padding_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    char a[128], hex[65];
    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        hex_of(a, v[i].n, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

static void test_every_split_gives_the_same_digest(void **state) {
    (void)state;
    unsigned char data[1024];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)i;
    char want[65], got[65];
    hex_of(data, sizeof(data), want);
    assert_string_equal(want, "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9");
    for (size_t step = 1; step <= 130; step++) {
        api_sha256_t c;
        unsigned char d[API_SHA256_SIZE];
        api_sha256_init(&c);
        for (size_t off = 0; off < sizeof(data); off += step)
            api_sha256_update(&c, data + off,
                              off + step <= sizeof(data) ? step : sizeof(data) - off);
        api_sha256_update(&c, NULL, 0);
        api_sha256_final(&c, d);
        api_sha256_hex(d, got);
        assert_string_equal(got, want);
    }
}

/* The digest of data[0..len) fed in pieces of `step` bytes (0: one update). */
static void digest_in_steps(const unsigned char *data, size_t len, size_t step,
                            unsigned char d[API_SHA256_SIZE]) {
    api_sha256_t c;
    api_sha256_init(&c);
    if (step == 0)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step)
        api_sha256_update(&c, data + off, off + step <= len ? step : len - off);
    api_sha256_final(&c, d);
}

/* Both block functions agree on every length up to 40 blocks and on long multi-block updates
 * from unaligned addresses (on a CPU without the SHA extensions this compares the portable code
 * with itself). */
static void test_sha_extensions_match_the_portable_code(void **state) {
    (void)state;
    enum { N = 40 * 64 + 3 };
    unsigned char *buf = malloc(N + 1);
    assert_non_null(buf);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < N + 1; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    for (size_t len = 0; len <= N; len += len < 200 ? 1 : 61) {
        for (size_t shift = 0; shift < 2; shift++) {
            unsigned char fast[API_SHA256_SIZE], slow[API_SHA256_SIZE];
            api_sha256_force_portable(0);
            digest_in_steps(buf + shift, len, len % 3 == 0 ? 0 : 100, fast);
            api_sha256_force_portable(1);
            digest_in_steps(buf + shift, len, 0, slow);
            api_sha256_force_portable(0);
            assert_memory_equal(fast, slow, API_SHA256_SIZE);
        }
    }
    free(buf);
}

/* A CPU that lists the SHA extensions gets them. */
static void test_sha_extensions_used_when_the_cpu_has_them(void **state) {
    (void)state;
    api_sha256_force_portable(0);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        skip();
    char line[4096];
    int listed = 0;
    while (!listed && fgets(line, sizeof(line), f))
        listed = strncmp(line, "flags", 5) == 0 && strstr(line, " sha_ni") != NULL;
    fclose(f);
    if (!listed)
        skip();
    assert_string_equal(api_sha256_impl(), "sha-ni");
}

static int best_code(void **state) {
    (void)state;
    api_sha256_force_portable(0);
    return 0;
}

static int portable_code(void **state) {
    (void)state;
    api_sha256_force_portable(1);
    return 0;
}

#define BOTH(t)                                                                                    \
    cmocka_unit_test_setup_teardown(t, best_code, best_code),                                      \
        cmocka_unit_test_setup_teardown(t, portable_code, best_code)

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_fips_examples),
        BOTH(test_million_a),
        BOTH(test_padding_boundaries),
        BOTH(test_every_split_gives_the_same_digest),
        cmocka_unit_test(test_sha_extensions_match_the_portable_code),
        cmocka_unit_test(test_sha_extensions_used_when_the_cpu_has_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
