/*
 * sample_generator.h - the on-board sample source: a deterministic synthetic signal, so a board
 * runs stand-alone (no host injecting SAMPLE frames) in a demo or a soak test.
 *
 * Every channel is a triangle wave of its own frequency plus uniform noise; sample times are
 * irregular (the period +-20 %, drawn from the same xorshift32 stream), so the encoder sees real
 * dt variation. Integer arithmetic only: host/link/sample_generator.py reproduces every sample
 * bit for bit, so latents from a generator-driven board are checkable against the golden model.
 */
#ifndef RTLNF_SAMPLE_GENERATOR_H
#define RTLNF_SAMPLE_GENERATOR_H

#include <stdint.h>

#define SAMPLE_GENERATOR_AMPLITUDE 4000   /* counts; the triangle spans +-amplitude */
#define SAMPLE_GENERATOR_PHASE_STEP 1600u /* per microsecond, times (channel + 1): ~0.37 Hz steps */

typedef struct {
    uint32_t period_us;
    uint32_t rng;        /* xorshift32 state, never 0 */
    uint32_t t_us;       /* timestamp of the last sample produced */
    uint32_t count;      /* samples produced */
} sample_generator_t;

void sample_generator_init(sample_generator_t *g, uint32_t period_us, uint32_t seed);

/* Timestamp the next sample will carry (0 for the first). */
uint32_t sample_generator_next_t_us(const sample_generator_t *g);

/* Produces the next sample: n channel values into x; returns its timestamp. */
uint32_t sample_generator_next(sample_generator_t *g, int16_t *x, uint16_t n);

#endif /* RTLNF_SAMPLE_GENERATOR_H */
