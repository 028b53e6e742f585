/*
 * rng: the engine's only source of randomness, a splitmix64-seeded xoshiro256**
 * generator. Same seed, same stream on every platform (no libc rand()).
 */
#ifndef TOYLLM_RNG_H
#define TOYLLM_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_u64(struct rng *r);
/* uniform integer in [0, n) (n > 0) */
uint32_t rng_below(struct rng *r, uint32_t n);
/* uniform float in [0, 1) */
float rng_float(struct rng *r);
/* standard normal (Box-Muller) */
float rng_normal(struct rng *r);
/* Fisher-Yates shuffle of n ints */
void rng_shuffle(struct rng *r, int *a, int n);

#endif
