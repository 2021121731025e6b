/*
 * ltc_q15_step_m7.c - the optimised LTC step for ARMv7E-M cores with the DSP extension (the
 * Cortex-M7 of the STM32H743). The C here sequences one step; the two hot loops are in
 * ltc_q15_m7.S. Same contract and same bits as ltc_q15_step_reference (solver/ltc_q15.c), which
 * stays the oracle: the QEMU self-test checks this kernel against the golden model.
 */
#include "solver/ltc_q15.h"

#if defined(__ARM_ARCH_7EM__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <string.h>

#include "solver/cortex_m7/ltc_q15_m7.h"

void ltc_q15_step(const ltc_q15_model_t *m, void *state, const int16_t *x, uint32_t dt_us)
{
    const uint32_t H = m->hidden, I = m->inputs, lanes = (uint32_t)LTC_Q15_LANES(H, I);
    /* Larger than the unrolled sequence, or not word-aligned (LDM and LDRD fault on that): the
     * reference gives the same bits. The generated model and every state buffer are 8-aligned. */
    if (lanes > LTC_Q15_M7_MAX_LANES || (((uintptr_t)state | (uintptr_t)m->weights) & 3u) != 0u) {
        ltc_q15_step_reference(m, state, x, dt_us);
        return;
    }
    int16_t *v = (int16_t *)state;
    int32_t *acc = (int32_t *)(v + lanes);
    /* x into v by words (the M7 loads unaligned words; v is 8-byte aligned); an odd x lane is
     * followed by a padding lane that must stay zero. */
    uint32_t *v_words = (uint32_t *)state;
    for (uint32_t i = 0; i < I / 2u; i++) {
        memcpy(&v_words[i], &x[2u * i], sizeof(uint32_t));
    }
    if (I & 1u) {
        v[I - 1u] = x[I - 1u];
    }
    uint32_t dt_e = ltc_q15_dt_substep_q16(m, dt_us) << LTC_Q15_INV_TAU_EXP;
    for (uint32_t s = 0; s < m->substeps; s++) {
        ltc_q15_m7_accumulate(m->weights, m->bias_acc, v, acc, (uint32_t)LTC_Q15_ROWS(H) / LTC_Q15_GROUP, lanes);
        ltc_q15_m7_update(acc, m->neurons, ltc_q15_h(m, state), H, dt_e);
    }
}

#endif
