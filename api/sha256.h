/*
 * api/sha256.h - SHA-256 (FIPS 180-4) for hashing uploads as they stream in.
 *
 *     api_sha256_t h; api_sha256_init(&h);
 *     api_sha256_update(&h, chunk, n) ...;  api_sha256_final(&h, digest);
 *
 * Pure: a context belongs to one thread at a time; no allocation. On x86-64 CPUs with the SHA
 * extensions the blocks are hashed with them (chosen at the first use); the digest is the same.
 */
#ifndef API_SHA256_H
#define API_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define API_SHA256_SIZE 32

typedef struct api_sha256 {
    uint32_t h[8];           /* the hash value H(i) */
    uint64_t bits;           /* message length so far, in bits */
    unsigned char block[64]; /* the partial block */
    size_t used;             /* bytes in block */
} api_sha256_t;

void api_sha256_init(api_sha256_t *c);

/* Hashes len more bytes (data may be NULL when len is 0). */
void api_sha256_update(api_sha256_t *c, const void *data, size_t len);

/* Pads, writes the 32-byte digest and leaves the context to be re-initialised. */
void api_sha256_final(api_sha256_t *c, unsigned char out[API_SHA256_SIZE]);

/* Lower-case hex of a digest into hex (65 bytes, NUL-terminated). */
void api_sha256_hex(const unsigned char digest[API_SHA256_SIZE], char hex[2 * API_SHA256_SIZE + 1]);

/* Which block function hashes: "sha-ni" or "portable". Any thread. */
const char *api_sha256_impl(void);

/* For tests and benchmarks: on != 0 makes every later hash use the portable code, 0 goes back to
 * the best one the CPU has. Call it while no hash is being computed. */
void api_sha256_force_portable(int on);

#endif
