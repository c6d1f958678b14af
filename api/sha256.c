/*
 * api/sha256.c - SHA-256 as specified in FIPS 180-4, sections 4.1.2 (functions), 4.2.2
 * (constants), 5.1.1 (padding), 5.3.3 (initial value) and 6.2.2 (computation).
 *
 * Two block functions compute the same thing: the portable one below, and on x86-64 CPUs with the
 * SHA extensions one built on SHA256RNDS2 / SHA256MSG1 / SHA256MSG2, chosen once at run time
 * (cpuid). Hashing an upload took about a third of the CPU an upload cost with the portable code
 * (330 MB/s on the development machine); the SHA instructions run at about 1.7 GB/s there.
 */
#include <stdatomic.h>
#include <string.h>

#include "sha256.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) {
    return (x >> n) | (x << (32 - n));
}

/* The functions of 4.1.2. */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22))
#define BSIG1(x) (rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25))
#define SSIG0(x) (rotr(x, 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))

/* One 512-bit block: the message schedule W, then 64 rounds on the working variables a..h. */
static void compress_one(uint32_t H[8], const unsigned char *p) {
    uint32_t W[64];
    for (int t = 0; t < 16; t++)
        W[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++)
        W[t] = SSIG1(W[t - 2]) + W[t - 7] + SSIG0(W[t - 15]) + W[t - 16];
    uint32_t a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (int t = 0; t < 64; t++) {
        uint32_t T1 = h + BSIG1(e) + CH(e, f, g) + K[t] + W[t];
        uint32_t T2 = BSIG0(a) + MAJ(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + T1;
        d = c;
        c = b;
        b = a;
        a = T1 + T2;
    }
    H[0] += a;
    H[1] += b;
    H[2] += c;
    H[3] += d;
    H[4] += e;
    H[5] += f;
    H[6] += g;
    H[7] += h;
}

static void compress_portable(uint32_t H[8], const unsigned char *p, size_t blocks) {
    for (; blocks; blocks--, p += 64)
        compress_one(H, p);
}

#ifdef SHA256_HAVE_SHANI
/* The same computation with the SHA extensions. SHA256RNDS2 does two rounds on the state held as
 * two vectors, ABEF and CDGH (lane 3 first: A B E F and C D G H), with W[t] + K[t] of those two
 * rounds in the low lanes of its third operand; SHA256MSG1 and SHA256MSG2 compute the sigma0 and
 * sigma1 parts of the message schedule four words at a time. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
compress_shani(uint32_t H[8], const unsigned char *p, size_t blocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i lo = _mm_loadu_si128((const __m128i *)&H[0]); /* lanes a b c d */
    __m128i hi = _mm_loadu_si128((const __m128i *)&H[4]); /* lanes e f g h */
    lo = _mm_shuffle_epi32(lo, 0xB1);                     /* b a d c */
    hi = _mm_shuffle_epi32(hi, 0x1B);                     /* h g f e */
    __m128i abef = _mm_alignr_epi8(lo, hi, 8);            /* f e b a */
    __m128i cdgh = _mm_blend_epi16(hi, lo, 0xF0);         /* h g d c */
    for (; blocks; blocks--, p += 64) {
        const __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i m[4]; /* the last four groups of four message words */
        for (int g = 0; g < 4; g++)
            m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
        for (int g = 0; g < 16; g++) {
            __m128i w = m[g & 3];
            if (g >= 4) {
                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] for t = 4g .. 4g+3 */
                __m128i t7 = _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4);
                w = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                w = _mm_sha256msg2_epu32(_mm_add_epi32(w, t7), m[(g + 3) & 3]);
                m[g & 3] = w;
            }
            __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            /* Rounds 4g and 4g+1 leave the new ABEF in cdgh (the old ABEF is the new CDGH);
             * rounds 4g+2 and 4g+3 then put the names right again. */
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    lo = _mm_shuffle_epi32(abef, 0x1B);                                /* a b e f */
    hi = _mm_shuffle_epi32(cdgh, 0xB1);                                /* g h c d */
    _mm_storeu_si128((__m128i *)&H[0], _mm_blend_epi16(lo, hi, 0xF0)); /* a b c d */
    _mm_storeu_si128((__m128i *)&H[4], _mm_alignr_epi8(hi, lo, 8));    /* e f g h */
}

static int cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & (1u << 29)) != 0; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

/* -1 until the first use, then 1 with the SHA extensions, 0 without (or when forced off). */
static atomic_int use_shani = -1;

static void compress(uint32_t H[8], const unsigned char *p, size_t blocks) {
#ifdef SHA256_HAVE_SHANI
    int on = atomic_load_explicit(&use_shani, memory_order_relaxed);
    if (on < 0) {
        on = cpu_has_shani();
        atomic_store_explicit(&use_shani, on, memory_order_relaxed);
    }
    if (on) {
        compress_shani(H, p, blocks);
        return;
    }
#endif
    compress_portable(H, p, blocks);
}

const char *api_sha256_impl(void) {
#ifdef SHA256_HAVE_SHANI
    int on = atomic_load(&use_shani);
    if (on < 0)
        on = cpu_has_shani();
    return on ? "sha-ni" : "portable";
#else
    return "portable";
#endif
}

void api_sha256_force_portable(int on) {
#ifdef SHA256_HAVE_SHANI
    atomic_store(&use_shani, on ? 0 : -1);
#else
    (void)on;
#endif
}

void api_sha256_init(api_sha256_t *c) {
    /* The first 32 bits of the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof(H0));
    c->bits = 0;
    c->used = 0;
}

void api_sha256_update(api_sha256_t *c, const void *data, size_t len) {
    const unsigned char *p = data;
    c->bits += (uint64_t)len * 8;
    if (c->used) {
        size_t take = 64 - c->used < len ? 64 - c->used : len;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64)
            return;
        compress(c->h, c->block, 1);
        c->used = 0;
    }
    if (len >= 64) {
        compress(c->h, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    if (len) {
        memcpy(c->block, p, len);
        c->used = len;
    }
}

void api_sha256_final(api_sha256_t *c, unsigned char out[API_SHA256_SIZE]) {
    /* 5.1.1: a 1 bit, zeros up to 448 mod 512, then the length as a 64-bit big-endian number. */
    uint64_t bits = c->bits;
    c->block[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->block + c->used, 0, 64 - c->used);
        compress(c->h, c->block, 1);
        c->used = 0;
    }
    memset(c->block + c->used, 0, 56 - c->used);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    compress(c->h, c->block, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
    c->used = 0;
}

void api_sha256_hex(const unsigned char digest[API_SHA256_SIZE],
                    char hex[2 * API_SHA256_SIZE + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < API_SHA256_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * API_SHA256_SIZE] = '\0';
}
