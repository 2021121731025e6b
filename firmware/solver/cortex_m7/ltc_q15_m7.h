/*
 * ltc_q15_m7.h - what the optimised kernel's C driver and its assembly share (included by both:
 * the .S goes through the C preprocessor).
 */
#ifndef RTLNF_LTC_Q15_M7_H
#define RTLNF_LTC_Q15_M7_H

/* The unrolled block sequence of ltc_q15_m7_accumulate: 8 state-vector lanes a block. Larger
 * models run the reference kernel. */
#define LTC_Q15_M7_MAX_BLOCKS 24
#define LTC_Q15_M7_LANES_PER_BLOCK 8
#define LTC_Q15_M7_MAX_LANES (LTC_Q15_M7_MAX_BLOCKS * LTC_Q15_M7_LANES_PER_BLOCK)

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "solver/ltc_q15.h"

/* acc[r] = bias[r] + row r . v for every (padded) row: groups of 4 rows, lanes % 4 == 0. */
void ltc_q15_m7_accumulate(const int16_t *weights, const int32_t *bias, const int16_t *v, int32_t *acc,
                           uint32_t groups, uint32_t lanes);

/* h[j] = ltc_q15_update(&neurons[j], acc[j], h[j], dt_e) for j < hidden (hidden >= 1). */
void ltc_q15_m7_update(const int32_t *acc, const ltc_q15_neuron_t *neurons, int16_t *h, uint32_t hidden,
                       uint32_t dt_e);
#endif

#endif /* RTLNF_LTC_Q15_M7_H */
