/*
 * trainer/rng.h - the trainer's pseudo-random numbers: xoshiro256** seeded through splitmix64.
 *
 * Every random choice a trial makes (weight initialisation, the validation split, the shuffle of
 * each iteration) draws from its own stream derived from the trial's seed, so the same seed gives
 * the same numbers on every machine. The state is a plain struct so checkpoints can store it.
 * A generator is owned by one thread at a time.
 */
#ifndef TRAINER_RNG_H
#define TRAINER_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct trainer_rng {
    uint64_t s[4];
} trainer_rng_t;

/* Streams: a trial derives one generator per purpose so that, say, changing the number of
 * iterations never changes the initial weights. */
enum trainer_rng_stream {
    TRAINER_RNG_INIT = 1,    /* weight initialisation */
    TRAINER_RNG_SPLIT = 2,   /* train/validation split */
    TRAINER_RNG_SHUFFLE = 3, /* per-iteration order of training rows */
};

/* Seeds rng from (seed, stream). Never fails. */
void trainer_rng_seed(trainer_rng_t *rng, uint64_t seed, uint64_t stream);

/* Returns the next 64 random bits. */
uint64_t trainer_rng_next(trainer_rng_t *rng);

/* Returns a float uniformly distributed in [0, 1) with 24 random bits. */
float trainer_rng_uniform(trainer_rng_t *rng);

/* Returns an integer uniformly distributed in [0, n) without modulo bias; n must be > 0. */
uint64_t trainer_rng_below(trainer_rng_t *rng, uint64_t n);

/* Shuffles a[0..n) in place (Fisher-Yates). */
void trainer_rng_shuffle(trainer_rng_t *rng, size_t *a, size_t n);

#endif
