/*
 * ltc_q15.c - the fixed-point LTC step. Portable C99 plus GCC builtins, SMLAD on the M7;
 * signed right shifts are arithmetic (GCC on Arm and x86 guarantees it), divisions of non-negative
 * values only. Every line mirrors codegen/quantize/golden.py.
 */
#include "solver/ltc_q15.h"

#include <string.h>

#include "solver/sigmoid_q15_table.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define LTC_Q15_USE_SMLAD 1
#endif

#define Q15_MAX 32767
#define Q16_ONE 65536

ltc_q15_status_t ltc_q15_validate(const ltc_q15_model_t *m)
{
    if (m->hidden == 0 || m->inputs == 0) {
        return LTC_Q15_BAD_DIMS;
    }
    if (m->substeps == 0) {
        return LTC_Q15_BAD_SUBSTEPS;
    }
    for (uint32_t j = 0; j < m->hidden; j++) {
        if (m->shift[j] < 1 || m->shift[j] > 62) {
            return LTC_Q15_BAD_SHIFT;
        }
    }
    return LTC_Q15_OK;
}

int32_t ltc_q15_sigmoid(int32_t z_q12)
{
    uint32_t u = (uint32_t)(z_q12 + LTC_Q15_Z_CLAMP);
    uint32_t i = u >> SIGMOID_Q15_STEP_BITS;
    int32_t frac = (int32_t)(u & ((1u << SIGMOID_Q15_STEP_BITS) - 1u));
    uint32_t i_next = i + 1u < SIGMOID_Q15_POINTS ? i + 1u : SIGMOID_Q15_POINTS - 1u;
    int32_t lo = sigmoid_q15_table[i];
    int32_t hi = sigmoid_q15_table[i_next];
    /* The table rises monotonically: (hi - lo) * frac >= 0, so the shift rounds half up. */
    return lo + (((hi - lo) * frac + (1 << (SIGMOID_Q15_STEP_BITS - 1))) >> SIGMOID_Q15_STEP_BITS);
}

/* acc + sum a[i] b[i]. On cores with the DSP extension (the M7), SMLAD does two 16x16 multiply-
 * accumulates per instruction; the portable loop is the tail and the host build. The quantizer's
 * row-sum bound rules out int32 overflow, so both orders of summation give the same result. */
static inline int32_t dot_q15(const int16_t *a, const int16_t *b, uint32_t n, int32_t acc)
{
    uint32_t i = 0;
#ifdef LTC_Q15_USE_SMLAD
    /* Eight lanes per iteration, two accumulators: the loop's own overhead and the dependency
     * between consecutive SMLADs are spread over four MAC instructions. */
    int32_t acc2 = 0;
    for (; i + 7u < n; i += 8u) {
        int32_t a0, a1, a2, a3, b0, b1, b2, b3;
        memcpy(&a0, &a[i], 4);
        memcpy(&a1, &a[i + 2u], 4);
        memcpy(&a2, &a[i + 4u], 4);
        memcpy(&a3, &a[i + 6u], 4);
        memcpy(&b0, &b[i], 4);
        memcpy(&b1, &b[i + 2u], 4);
        memcpy(&b2, &b[i + 4u], 4);
        memcpy(&b3, &b[i + 6u], 4);
        acc = __smlad(a0, b0, acc);
        acc2 = __smlad(a1, b1, acc2);
        acc = __smlad(a2, b2, acc);
        acc2 = __smlad(a3, b3, acc2);
    }
    acc += acc2;
    for (; i + 1u < n; i += 2u) {
        int32_t pa, pb;
        memcpy(&pa, &a[i], sizeof pa);   /* two int16 lanes; memcpy: no alignment assumption */
        memcpy(&pb, &b[i], sizeof pb);
        acc = __smlad(pa, pb, acc);
    }
#endif
    for (; i < n; i++) {
        acc += (int32_t)a[i] * b[i];
    }
    return acc;
}

static int32_t preactivation_q12(const ltc_q15_model_t *m, uint32_t j, int32_t acc)
{
    int32_t sh = m->shift[j];
    int64_t z = (((int64_t)acc * m->mult[j] + ((int64_t)1 << (sh - 1))) >> sh) + m->b_q[j];
    if (z > LTC_Q15_Z_CLAMP) {
        z = LTC_Q15_Z_CLAMP;
    } else if (z < -LTC_Q15_Z_CLAMP) {
        z = -LTC_Q15_Z_CLAMP;
    }
    return (int32_t)z;
}

/* h <- (h + dt f A) / (1 + dt (1/tau + f)). Bounds (formats.py): den < 2^31, |num| <= 32767 den. */
static int16_t fused_update_q15(const ltc_q15_model_t *m, uint32_t j, int32_t h, int32_t f_q15, uint32_t dt_s_q16)
{
    uint64_t f_q16 = 2u * (uint32_t)f_q15;
    uint64_t g_q16 = (uint64_t)m->inv_tau_q16[j] + f_q16;
    uint32_t q_q16 = (uint32_t)(((uint64_t)dt_s_q16 * g_q16) >> 16);
    int64_t p_q16 = (int64_t)(((uint64_t)dt_s_q16 * f_q16) >> 16);
    uint32_t den = Q16_ONE + q_q16;
    int64_t num = (int64_t)h * Q16_ONE + p_q16 * m->a_q15[j];

    /* Scale both down until den < 2^16: the quotient stays, and num then fits an int32 division. */
    int32_t k = (32 - __builtin_clz(den)) - 16;
    if (k < 0) {
        k = 0;
    }
    int32_t n = (int32_t)(num >> k);
    int32_t d = (int32_t)(den >> k);
    int32_t mag = ((n < 0 ? -n : n) + (d >> 1)) / d;
    int32_t h_new = n < 0 ? -mag : mag;
    if (h_new > Q15_MAX) {
        h_new = Q15_MAX;
    } else if (h_new < -Q15_MAX) {
        h_new = -Q15_MAX;
    }
    return (int16_t)h_new;
}

void ltc_q15_step(const ltc_q15_model_t *m, int16_t *h, const int16_t *x, uint32_t dt_us, void *scratch)
{
    const uint32_t H = m->hidden, I = m->inputs;
    int32_t *acc_x = (int32_t *)scratch;
    int16_t *h_next = (int16_t *)(acc_x + H);

    /* The input part of every accumulator: x is held over the whole interval. */
    for (uint32_t j = 0; j < H; j++) {
        acc_x[j] = dot_q15(&m->w_q[j * I], x, I, 0);
    }

    uint32_t dt = dt_us < m->dt_max_us ? dt_us : m->dt_max_us;
    uint32_t dt_q16 = (uint32_t)(((uint64_t)dt * m->dt_mult) >> LTC_Q15_DT_SHIFT); /* < 2^32 by dt_max_us */
    uint32_t dt_s_q16 = dt_q16 / m->substeps;

    for (uint32_t s = 0; s < m->substeps; s++) {
        for (uint32_t j = 0; j < H; j++) {
            int32_t acc = dot_q15(&m->u_q[j * H], h, H, acc_x[j]);
            int32_t f = ltc_q15_sigmoid(preactivation_q12(m, j, acc));
            h_next[j] = fused_update_q15(m, j, h[j], f, dt_s_q16);
        }
        for (uint32_t j = 0; j < H; j++) {
            h[j] = h_next[j];
        }
    }
}
