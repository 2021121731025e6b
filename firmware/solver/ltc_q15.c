/*
 * ltc_q15.c - the reference fixed-point LTC step: portable C99 plus GCC's __builtin_clz.
 * Signed right shifts are arithmetic (GCC on Arm and x86 guarantees it). Every line mirrors
 * codegen/quantize/golden.py; the bounds that keep each value in 32 bits are stated in
 * codegen/quantize/formats.py and asserted by the golden model.
 */
#include "solver/ltc_q15.h"

#include "solver/sigmoid_q15_table.h"

#define Z_MIN (-(1 << (LTC_Q15_Z_BITS - 1)))
#define Z_MAX ((1 << (LTC_Q15_Z_BITS - 1)) - 1)

ltc_q15_status_t ltc_q15_validate(const ltc_q15_model_t *m)
{
    if (m->hidden == 0 || m->inputs == 0) {
        return LTC_Q15_BAD_DIMS;
    }
    if (m->substeps == 0) {
        return LTC_Q15_BAD_SUBSTEPS;
    }
    for (uint32_t j = 0; j < m->hidden; j++) {
        if (m->neurons[j].shift < 0 || m->neurons[j].shift > LTC_Q15_SHIFT_MAX) {
            return LTC_Q15_BAD_SHIFT;
        }
    }
    return LTC_Q15_OK;
}

int32_t ltc_q15_sigmoid(int32_t z_q8)
{
    z_q8 = z_q8 < Z_MIN ? Z_MIN : (z_q8 > Z_MAX ? Z_MAX : z_q8);
    return sigmoid_q15_table[z_q8 - Z_MIN];
}

uint32_t ltc_q15_dt_substep_q16(const ltc_q15_model_t *m, uint32_t dt_us)
{
    uint32_t dt = dt_us < m->dt_max_us ? dt_us : m->dt_max_us;
    uint32_t dt_q16 = (uint32_t)(((uint64_t)dt * m->dt_mult) >> LTC_Q15_DT_SHIFT); /* < 2^32 by dt_max_us */
    return dt_q16 / m->substeps;
}

/* One neuron: acc (bias included) -> f -> h <- (h + dt f A) / (1 + dt (1/tau + f)).
 * dt_e = dt_s_q16 << LTC_Q15_INV_TAU_EXP, so each product's high word is already in Q16. */
int16_t ltc_q15_update(const ltc_q15_neuron_t *nr, int32_t acc, int32_t h, uint32_t dt_e)
{
    uint32_t f_shifted = (uint32_t)ltc_q15_sigmoid(acc >> nr->shift) << (17 - LTC_Q15_INV_TAU_EXP);
    uint32_t q = (uint32_t)(((uint64_t)dt_e * (nr->inv_tau + f_shifted)) >> 32);   /* dt (1/tau + f), Q16 */
    int32_t p = (int32_t)(((uint64_t)dt_e * f_shifted) >> 32);                    /* dt f, Q16 */
    int32_t pa = (int32_t)(((int64_t)p * nr->a_q31 + ((int64_t)1 << 31)) >> 32);  /* dt f A, Q15 */
    int32_t num = h + pa;
    uint32_t den = 65536u + q;                                                     /* [2^16, 2^31) */

    /* Normalise so that d keeps 16 significant bits and n stays in int32 (golden.py asserts it). */
    int32_t c = __builtin_clz(den);
    int32_t n = (int32_t)((uint32_t)num << c);
    int32_t d = (int32_t)(den >> (16 - c));
    int32_t r = (n + (d >> 1) - (n < 0 ? d : 0)) / d;             /* rounded half away from zero */
    return (int16_t)(r < -32768 ? -32768 : (r > 32767 ? 32767 : r));
}

void ltc_q15_reset(const ltc_q15_model_t *m, void *state)
{
    uint8_t *bytes = (uint8_t *)state;
    for (size_t i = 0; i < LTC_Q15_STATE_BYTES(m->hidden, m->inputs); i++) {
        bytes[i] = 0;
    }
}

int16_t *ltc_q15_h(const ltc_q15_model_t *m, void *state)
{
    return (int16_t *)state + LTC_Q15_X_LANES(m->inputs);
}

void ltc_q15_step_reference(const ltc_q15_model_t *m, void *state, const int16_t *x, uint32_t dt_us)
{
    const uint32_t H = m->hidden, I = m->inputs, lanes = (uint32_t)LTC_Q15_LANES(H, I);
    int16_t *v = (int16_t *)state;
    int16_t *h = ltc_q15_h(m, state);
    int32_t *acc = (int32_t *)(v + lanes);

    for (uint32_t i = 0; i < I; i++) {
        v[i] = x[i];
    }
    uint32_t dt_e = ltc_q15_dt_substep_q16(m, dt_us) << LTC_Q15_INV_TAU_EXP;

    for (uint32_t s = 0; s < m->substeps; s++) {
        /* Every row sees the old h (semi-implicit Euler): all accumulators first, then the update. */
        for (uint32_t j = 0; j < H; j++) {
            const int16_t *row = &m->weights[(j / LTC_Q15_GROUP) * LTC_Q15_GROUP * lanes + (j % LTC_Q15_GROUP) * 2u];
            int32_t a = m->bias_acc[j];
            for (uint32_t i = 0; i < lanes; i++) {
                a += (int32_t)row[(i / 2u) * LTC_Q15_GROUP * 2u + (i % 2u)] * v[i];
            }
            acc[j] = a;
        }
        for (uint32_t j = 0; j < H; j++) {
            h[j] = ltc_q15_update(&m->neurons[j], acc[j], h[j], dt_e);
        }
    }
}

#if !(defined(__ARM_ARCH_7EM__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP)
/* No optimised kernel for this core: the reference is the kernel. */
void ltc_q15_step(const ltc_q15_model_t *m, void *state, const int16_t *x, uint32_t dt_us)
{
    ltc_q15_step_reference(m, state, x, dt_us);
}
#endif
