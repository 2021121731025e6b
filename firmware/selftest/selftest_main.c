/*
 * selftest_main.c - on-target check of the generated model against the golden model.
 *
 * Steps the encoder through the exported vectors (selftest_vectors.h: inputs, dt, the golden
 * model's latents and fallback scores) and exits through semihosting: status 0 when every latent
 * and every score is equal, 1 at the first difference. Built as env mps2_an500_selftest and run in
 * QEMU by tests/test_selftest_qemu.py; the same C as the host tests, compiled for the M7.
 */
#include <stdint.h>

#include "core/board.h"
#include "rtlnf_model.h"
#include "selftest_vectors.h"

#define SEMIHOSTING_SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static void semihosting_exit(int ok)
{
    register uint32_t r0 __asm__("r0") = SEMIHOSTING_SYS_EXIT;
    register uint32_t r1 __asm__("r1") = ok ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

static int16_t s_h[RTLNF_MODEL_HIDDEN];
static uint8_t s_scratch[LTC_Q15_SCRATCH_BYTES(RTLNF_MODEL_HIDDEN)];
static int8_t s_fb_scratch[RTLNF_MODEL_FALLBACK_SCRATCH_BYTES];
static int8_t s_scores[RTLNF_MODEL_CLASSES];

int main(void)
{
    board_init();
    if (ltc_q15_validate(&rtlnf_model_encoder) != LTC_Q15_OK) {
        semihosting_exit(0);
    }
    for (uint32_t k = 0; k < SELFTEST_STEPS; k++) {
        if (selftest_reset[k]) {
            for (uint32_t j = 0; j < RTLNF_MODEL_HIDDEN; j++) {
                s_h[j] = 0;
            }
        }
        ltc_q15_step(&rtlnf_model_encoder, s_h, &selftest_x[k * RTLNF_MODEL_INPUTS], selftest_dt_us[k], s_scratch);
        for (uint32_t j = 0; j < RTLNF_MODEL_HIDDEN; j++) {
            if (s_h[j] != selftest_h[k * RTLNF_MODEL_HIDDEN + j]) {
                semihosting_exit(0);
            }
        }
        (void)fallback_s8_predict(&rtlnf_model_fallback, s_h, s_fb_scratch, s_scores);
        for (uint32_t c = 0; c < RTLNF_MODEL_CLASSES; c++) {
            if (s_scores[c] != selftest_scores[k * RTLNF_MODEL_CLASSES + c]) {
                semihosting_exit(0);
            }
        }
    }
    semihosting_exit(1);
    return 0;
}
