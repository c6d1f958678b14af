/*
 * trainer/le.h - the one little-endian codec of mlptune's file formats: the model file and
 * checkpoints (trainer/) and the dataset matrix file (ingest/matrix.c) write and read their
 * integers and floats through these, never through helpers of their own.
 *
 * p points at 4 (u32, f32) or 8 (u64, f64) bytes, or 4 * n for the float arrays; nothing is
 * checked: the formats check their lengths first. Floats travel as their IEEE-754 bit patterns,
 * so NaN payloads and signed zeros come back as they went. Pure functions: any thread.
 */
#ifndef TRAINER_LE_H
#define TRAINER_LE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void trainer_le_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void trainer_le_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t trainer_le_get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t trainer_le_get_u64(const unsigned char *p) {
    return (uint64_t)trainer_le_get_u32(p) | (uint64_t)trainer_le_get_u32(p + 4) << 32;
}

static inline void trainer_le_put_f64(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    trainer_le_put_u64(p, v);
}

static inline double trainer_le_get_f64(const unsigned char *p) {
    uint64_t v = trainer_le_get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* f[0..n) into p[0 .. 4n). */
static inline void trainer_le_put_f32s(unsigned char *p, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t v;
        memcpy(&v, &f[i], sizeof v);
        trainer_le_put_u32(p, v);
    }
}

/* p[0 .. 4n) into f[0..n). */
static inline void trainer_le_get_f32s(float *f, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t v = trainer_le_get_u32(p);
        memcpy(&f[i], &v, sizeof v);
    }
}

#endif
