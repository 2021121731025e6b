/*
 * ltc_q15.h - the fixed-point liquid time-constant encoder step.
 *
 * One call consumes one sample (x, dt) and advances the latent state h by S fused Euler sub-steps:
 *     h <- (h + dt_s f A) / (1 + dt_s (1/tau + f)),   f = sigmoid(W x + U h + b),   dt_s = dt / S
 * Formats (stated once, in codegen/quantize/formats.py): x int16 counts, h int16 Q15, W/U int16
 * with one power-of-two scale per neuron, z Q8 (saturated to 12 bits), f Q15 (one table load),
 * 1/tau uint32 Q30, A int32 Q31, dt uint32 microseconds.
 * The golden model codegen/quantize/golden.py is the specification; both kernels must equal it bit
 * for bit (tests/test_ltc_q15.py on the host, the QEMU self-test on the Cortex-M7).
 *
 * Two kernels, one contract (as TFLite Micro keeps reference and optimised kernels):
 *   ltc_q15_step_reference  portable C99 (ltc_q15.c): the readable statement, and the host build;
 *   ltc_q15_step            the optimised ARMv7E-M kernel (solver/cortex_m7/) where the core has
 *                           the DSP extension, otherwise the reference.
 *
 * Weight layout (what codegen/emit/model_c.py packs): the state vector is v = [x, 0.., h, 0..] of
 * LTC_Q15_LANES(H, I) int16 (x padded to an even count, the whole to a multiple of 4); neurons come in
 * groups of LTC_Q15_GROUP rows (the last padded with zero rows). For group g, 32-bit word k of v
 * (lanes 2k, 2k+1) and row r of the group, the two weights of row 4g+r for those lanes are at
 *     weights[((g * LANES / 2 + k) * LTC_Q15_GROUP + r) * 2 + {0, 1}]
 * so the optimised kernel loads one word of v and the matching word of four rows with one LDM.
 *
 * Ownership: the model's arrays are const and owned by the caller (generated model data). The
 * encoder's state is caller memory of LTC_Q15_STATE_BYTES, aligned to 8 bytes: the state vector v
 * (whose h part ltc_q15_h points at: the latent to send) and one accumulator per row. The kernels
 * read h from v and write the new h back in place, so nothing is copied per step but x.
 * Nothing is allocated.
 */
#ifndef RTLNF_LTC_Q15_H
#define RTLNF_LTC_Q15_H

#include <stddef.h>
#include <stdint.h>

#define LTC_Q15_DT_SHIFT 24
#define LTC_Q15_Z_FRAC_BITS 8
#define LTC_Q15_Z_BITS 12
#define LTC_Q15_INV_TAU_EXP 2
#define LTC_Q15_SHIFT_MAX 31

#define LTC_Q15_GROUP 4
#define LTC_Q15_ROWS(hidden) (((size_t)(hidden) + 3u) & ~(size_t)3u)
#define LTC_Q15_X_LANES(inputs) (((size_t)(inputs) + 1u) & ~(size_t)1u)
#define LTC_Q15_LANES(hidden, inputs) ((LTC_Q15_X_LANES(inputs) + (size_t)(hidden) + 3u) & ~(size_t)3u)
#define LTC_Q15_WEIGHT_COUNT(hidden, inputs) (LTC_Q15_ROWS(hidden) * LTC_Q15_LANES(hidden, inputs))

/* The encoder's state: the state vector v, then one int32 accumulator per (padded) row. */
#define LTC_Q15_STATE_BYTES(hidden, inputs) \
    (LTC_Q15_LANES(hidden, inputs) * sizeof(int16_t) + LTC_Q15_ROWS(hidden) * sizeof(int32_t))

/* Per-neuron constants of the update, in the order the optimised kernel loads them (one LDM). */
typedef struct {
    int32_t shift;                /* sh_j in [0, 31]: z_q8 = acc >> sh_j */
    uint32_t inv_tau;             /* 1/tau in Q(32 - LTC_Q15_INV_TAU_EXP) */
    int32_t a_q31;                /* A in Q31, |A| <= 1 - 2^-8 */
} ltc_q15_neuron_t;

typedef struct {
    uint16_t hidden;              /* H */
    uint16_t inputs;              /* I */
    uint16_t substeps;            /* S >= 1 */
    uint32_t dt_mult;             /* dt_q16 = (dt_us * dt_mult) >> LTC_Q15_DT_SHIFT */
    uint32_t dt_max_us;           /* longer gaps are clamped to this */
    const int16_t *weights;       /* LTC_Q15_WEIGHT_COUNT(H, I), packed as above */
    const int32_t *bias_acc;      /* LTC_Q15_ROWS(H): bias in accumulator units (0 for pad rows) */
    const ltc_q15_neuron_t *neurons;  /* H */
} ltc_q15_model_t;

typedef enum {
    LTC_Q15_OK = 0,
    LTC_Q15_BAD_DIMS = 1,
    LTC_Q15_BAD_SHIFT = 2,
    LTC_Q15_BAD_SUBSTEPS = 3,
} ltc_q15_status_t;

/* Checks dimensions and constants once, before the first step. */
ltc_q15_status_t ltc_q15_validate(const ltc_q15_model_t *m);

/* Zeroes the state: h = 0 and the padding lanes the kernels rely on being zero. */
void ltc_q15_reset(const ltc_q15_model_t *m, void *state);

/* The latent h (H int16) inside the state. */
int16_t *ltc_q15_h(const ltc_q15_model_t *m, void *state);

/* One sample: x (I int16 counts), dt_us since the previous sample; h in the state advances. */
void ltc_q15_step(const ltc_q15_model_t *m, void *state, const int16_t *x, uint32_t dt_us);
void ltc_q15_step_reference(const ltc_q15_model_t *m, void *state, const int16_t *x, uint32_t dt_us);

/* Pieces both kernels share, exposed for tests and for the optimised kernel's C driver. */
int32_t ltc_q15_sigmoid(int32_t z_q8);                     /* z saturated to LTC_Q15_Z_BITS -> Q15 */
uint32_t ltc_q15_dt_substep_q16(const ltc_q15_model_t *m, uint32_t dt_us);
int16_t ltc_q15_update(const ltc_q15_neuron_t *n, int32_t acc, int32_t h, uint32_t dt_e);

#endif /* RTLNF_LTC_Q15_H */
