/*
 * bench_main.c - instruction-count benchmark firmware (env mps2_an500_bench, run by
 * `python -m bench`): BENCH_VARIANT picks what runs, the semihosting command line how many times,
 * and QEMU's `insn` plugin counts the instructions executed. The difference between two step counts
 * divided by their difference is the cost of one step, boot and exit cancel out.
 * No board_init: without the SysTick interrupt the count is the same on every run.
 *
 * Variants: 0 loop only, 1 ltc_q15_step (ours), 2 CMSIS-DSP q15 peer, 3 float32 peer,
 * 4 router + leaves in float32 on the sensor (the "whole model on the sensor" ablation),
 * 5 the int8 fallback expert, 6 ltc_q15_step_reference (our portable C reference kernel).
 */
#include <stdint.h>

#include "bench_model.h"
#include "bench/ltc_peers.h"
#include "solver/fc_s8.h"
#include "solver/ltc_q15.h"

#define SEMIHOSTING_SYS_EXIT 0x18
#define SEMIHOSTING_SYS_GET_CMDLINE 0x15
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static uint32_t semihosting(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static uint32_t steps_from_cmdline(void)
{
    static char buf[64];
    struct {
        char *buf;
        uint32_t len;
    } block = {buf, sizeof buf - 1};
    if (semihosting(SEMIHOSTING_SYS_GET_CMDLINE, &block) != 0) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < block.len && buf[i] != '\0'; i++) {   /* the last number on the line */
        n = (buf[i] >= '0' && buf[i] <= '9') ? n * 10u + (uint32_t)(buf[i] - '0') : (buf[i] == ' ' ? 0u : n);
    }
    return n;
}

#define BENCH_BUFFER static __attribute__((unused))   /* each variant uses some of them */
BENCH_BUFFER int16_t s_h[BENCH_H];
BENCH_BUFFER uint8_t s_state[LTC_Q15_STATE_BYTES(BENCH_H, BENCH_I)] __attribute__((aligned(8)));
BENCH_BUFFER float s_hf[BENCH_H];
BENCH_BUFFER int16_t s_x[BENCH_I];
BENCH_BUFFER float s_xf[BENCH_I];
BENCH_BUFFER int8_t s_fb_scratch[BENCH_FALLBACK_SCRATCH];
BENCH_BUFFER int8_t s_scores[BENCH_CLASSES];
BENCH_BUFFER float s_probs[BENCH_CLASSES];
volatile int32_t g_sink;

int main(void)
{
    uint32_t steps = steps_from_cmdline();
    uint32_t rng = 12345u;
    for (uint32_t k = 0; k < steps; k++) {
        for (uint32_t i = 0; i < BENCH_I; i++) {      /* inputs change every step: no constant folding */
            rng = rng * 1664525u + 1013904223u;
            s_x[i] = (int16_t)(rng >> 20) - 2048;
            s_xf[i] = (float)s_x[i] * (1.0f / 4096.0f);
        }
#if BENCH_VARIANT == 1
        ltc_q15_step(&bench_encoder, s_state, s_x, 5000u);
        g_sink += ltc_q15_h(&bench_encoder, s_state)[k % BENCH_H];
#elif BENCH_VARIANT == 6
        ltc_q15_step_reference(&bench_encoder, s_state, s_x, 5000u);
        g_sink += ltc_q15_h(&bench_encoder, s_state)[k % BENCH_H];
#elif BENCH_VARIANT == 2
        ltc_cmsis_q15_step(s_h, s_x, 5000u);
        g_sink += s_h[k % BENCH_H];
#elif BENCH_VARIANT == 3
        ltc_f32_step(s_hf, s_xf, 5000u);
        g_sink += (int32_t)(s_hf[k % BENCH_H] * 32768.0f);
#elif BENCH_VARIANT == 4
        s_h[k % BENCH_H] = s_x[0];
        g_sink += (int32_t)forest_f32_predict(s_h, s_probs);
#elif BENCH_VARIANT == 5
        s_h[k % BENCH_H] = s_x[0];
        g_sink += (int32_t)fallback_s8_predict(&bench_fallback, s_h, s_fb_scratch, s_scores);
#else
        g_sink += s_x[0];
#endif
    }
    semihosting(SEMIHOSTING_SYS_EXIT, (void *)ADP_STOPPED_APPLICATION_EXIT);
    for (;;) {
    }
}
