/*
 * ltc_q15.h - the fixed-point liquid time-constant encoder step (reference C kernel).
 *
 * One call consumes one sample (x, dt) and advances the latent state h by S fused Euler sub-steps:
 *     h <- (h + dt_s f A) / (1 + dt_s (1/tau + f)),   f = sigmoid(W x + U h + b),   dt_s = dt / S
 * Formats (stated once, in codegen/quantize/formats.py, emitted into rtlnf_model.h):
 *     x int16 counts, h int16 Q15, W/U int16 with one scale per neuron, z Q12, f Q15 (table),
 *     1/tau uint32 Q16, A int16 Q15, dt uint32 microseconds.
 * The golden model codegen/quantize/golden.py is the specification; this file must equal it bit for
 * bit (tests/test_ltc_q15.py).
 *
 * Ownership: the model's arrays are const and owned by the caller (generated model data); h is the
 * caller's state (hidden int16, zero to start); scratch is caller memory of LTC_Q15_SCRATCH_BYTES.
 * Nothing is allocated.
 */
#ifndef RTLNF_LTC_Q15_H
#define RTLNF_LTC_Q15_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint16_t hidden;              /* H */
    uint16_t inputs;              /* I */
    uint16_t substeps;            /* S >= 1 */
    uint32_t dt_mult;             /* dt_q16 = (dt_us * dt_mult) >> LTC_Q15_DT_SHIFT */
    uint32_t dt_max_us;           /* longer gaps are clamped to this */
    const int16_t *w_q;           /* H x I, row-major: input weights of neuron j in row j */
    const int16_t *u_q;           /* H x H, row-major: recurrent weights into neuron j in row j */
    const int32_t *b_q;           /* H: bias, Q12 */
    const int32_t *mult;          /* H: requantization multiplier in [2^30, 2^31) */
    const int32_t *shift;         /* H: requantization shift in [1, 62] */
    const uint32_t *inv_tau_q16;  /* H: 1/tau, Q16 */
    const int16_t *a_q15;         /* H: A, Q15 */
} ltc_q15_model_t;

#define LTC_Q15_DT_SHIFT 24
#define LTC_Q15_Z_FRAC_BITS 12
#define LTC_Q15_Z_CLAMP (8 << LTC_Q15_Z_FRAC_BITS)

/* Scratch the step needs: the input part of every neuron's accumulator and the next state. */
#define LTC_Q15_SCRATCH_BYTES(hidden) ((size_t)(hidden) * (sizeof(int32_t) + sizeof(int16_t)))

typedef enum {
    LTC_Q15_OK = 0,
    LTC_Q15_BAD_DIMS = 1,
    LTC_Q15_BAD_SHIFT = 2,
    LTC_Q15_BAD_SUBSTEPS = 3,
} ltc_q15_status_t;

/* Checks dimensions and constants once, before the first step. */
ltc_q15_status_t ltc_q15_validate(const ltc_q15_model_t *m);

/* One sample: h (H, in/out), x (I), dt_us since the previous sample. */
void ltc_q15_step(const ltc_q15_model_t *m, int16_t *h, const int16_t *x, uint32_t dt_us, void *scratch);

/* The table sigmoid: z in Q12 (clamped to +-8.0) -> Q15. Exposed for tests. */
int32_t ltc_q15_sigmoid(int32_t z_q12);

#endif /* RTLNF_LTC_Q15_H */
