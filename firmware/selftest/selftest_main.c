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

/* The kernel the firmware runs (ltc_q15_step: the optimised one on the M7) and the reference C
 * kernel, side by side: both must give the golden latents. */
static uint8_t s_state[RTLNF_MODEL_ENCODER_STATE_BYTES] __attribute__((aligned(8)));
static uint8_t s_state_ref[RTLNF_MODEL_ENCODER_STATE_BYTES] __attribute__((aligned(8)));
static int8_t s_fb_scratch[RTLNF_MODEL_FALLBACK_SCRATCH_BYTES];
static int8_t s_scores[RTLNF_MODEL_CLASSES];

int main(void)
{
    board_init();
    if (ltc_q15_validate(&rtlnf_model_encoder) != LTC_Q15_OK) {
        semihosting_exit(0);
    }
    const ltc_q15_model_t *enc = &rtlnf_model_encoder;
    const int16_t *h = ltc_q15_h(enc, s_state), *h_ref = ltc_q15_h(enc, s_state_ref);
    for (uint32_t k = 0; k < SELFTEST_STEPS; k++) {
        if (selftest_reset[k]) {
            ltc_q15_reset(enc, s_state);
            ltc_q15_reset(enc, s_state_ref);
        }
        ltc_q15_step(enc, s_state, &selftest_x[k * RTLNF_MODEL_INPUTS], selftest_dt_us[k]);
        ltc_q15_step_reference(enc, s_state_ref, &selftest_x[k * RTLNF_MODEL_INPUTS], selftest_dt_us[k]);
        for (uint32_t j = 0; j < RTLNF_MODEL_HIDDEN; j++) {
            if (h[j] != selftest_h[k * RTLNF_MODEL_HIDDEN + j] || h_ref[j] != h[j]) {
                semihosting_exit(0);
            }
        }
        (void)fallback_s8_predict(&rtlnf_model_fallback, h, s_fb_scratch, s_scores);
        for (uint32_t c = 0; c < RTLNF_MODEL_CLASSES; c++) {
            if (s_scores[c] != selftest_scores[k * RTLNF_MODEL_CLASSES + c]) {
                semihosting_exit(0);
            }
        }
    }
    semihosting_exit(1);
    return 0;
}
