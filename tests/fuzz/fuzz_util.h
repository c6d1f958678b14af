/*
 * tests/fuzz/fuzz_util.h - what every harness shares: a failed invariant aborts with a message
 * (libFuzzer then saves the input as a crash file), and a chunker that splits a buffer the same
 * way every time for the same seed bytes, so a crash file replays the split that failed.
 *
 * Header-only (static inline functions): each harness is one executable built from one .c file.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant: when cond is false, print where and why, then abort() (a crash for libFuzzer). */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Takes up to n bytes off the front of the input into a little-endian number (missing bytes
 * count as 0) and advances *data and *size past them. */
static inline uint64_t fuzz_take(const uint8_t **data, size_t *size, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        if (*size > 0) {
            v |= (uint64_t)(*data)[0] << (8 * i);
            (*data)++;
            (*size)--;
        }
    }
    return v;
}

/* Chunk sizes from a seed. The low two bits of the seed pick a regime (1..7 bytes, 1..64,
 * 1..4096, or a mix that also feeds empty chunks); the rest seeds a splitmix64 sequence. */
typedef struct fuzz_chunker {
    uint64_t state;
    unsigned regime;
} fuzz_chunker_t;

static inline void fuzz_chunker_init(fuzz_chunker_t *c, uint64_t seed) {
    c->regime = (unsigned)(seed & 3);
    c->state = seed >> 2;
}

static inline uint64_t fuzz_next(fuzz_chunker_t *c) {
    uint64_t z = (c->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The next chunk length for `left` bytes still to feed (left > 0): 0 .. left. A 0 is only
 * returned in the mixed regime (an empty feed must change nothing). */
static inline size_t fuzz_chunk(fuzz_chunker_t *c, size_t left) {
    uint64_t r = fuzz_next(c);
    size_t n;
    switch (c->regime) {
    case 0:
        n = 1 + (size_t)(r % 7);
        break;
    case 1:
        n = 1 + (size_t)(r % 64);
        break;
    case 2:
        n = 1 + (size_t)(r % 4096);
        break;
    default:
        n = (r & 0x300) == 0 ? 0 : (size_t)((r >> 10) % 16) << ((r >> 4) % 8);
        break;
    }
    return n < left ? n : left;
}

#endif
