#include "core/sample_generator.h"

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* The gap before sample count+1; drawn without advancing the stream so it can be peeked. */
static uint32_t next_gap(const sample_generator_t *g)
{
    if (g->count == 0) {
        return 0;
    }
    uint32_t r = g->rng;
    uint32_t span = g->period_us / 5u;                 /* +-20 % */
    return g->period_us - span + xorshift32(&r) % (2u * span + 1u);
}

void sample_generator_init(sample_generator_t *g, uint32_t period_us, uint32_t seed)
{
    g->period_us = period_us;
    g->rng = seed != 0 ? seed : 0x9E3779B9u;
    g->t_us = 0;
    g->count = 0;
}

uint32_t sample_generator_next_t_us(const sample_generator_t *g)
{
    return g->t_us + next_gap(g);
}

uint32_t sample_generator_next(sample_generator_t *g, int16_t *x, uint16_t n)
{
    if (g->count > 0) {
        g->t_us += next_gap(g);
        (void)xorshift32(&g->rng);                     /* the draw next_gap peeked at */
    }
    g->count++;
    for (uint16_t c = 0; c < n; c++) {
        uint32_t phase = SAMPLE_GENERATOR_PHASE_STEP * (c + 1u) * g->t_us;   /* modulo 2^32: one cycle */
        uint32_t p16 = phase >> 16;
        uint32_t tri = p16 < 32768u ? p16 : 65535u - p16;                    /* 0 .. 32767 */
        int32_t wave = (int32_t)((tri * (2u * SAMPLE_GENERATOR_AMPLITUDE)) >> 15) - SAMPLE_GENERATOR_AMPLITUDE;
        int32_t noise = (int32_t)(xorshift32(&g->rng) >> 24) - 128;
        x[c] = (int16_t)(wave + noise);
    }
    return g->t_us;
}
