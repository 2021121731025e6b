/*
 * fc_s8.h - int8 fully connected layers as TFLite Micro's reference kernels compute them, and the
 * fallback expert built from them (h Q15 -> int8 -> FC+ReLU -> FC -> int8 class scores).
 *
 * Rounding is TFLite Micro's (as in the tflite-micro wheel): MultiplyByQuantizedMultiplier =
 * SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT. The golden model is
 * codegen/quantize/fallback.py; tests check this C against it and against the TFLM interpreter.
 * Arrays are const and owned by the caller (generated model data); nothing is allocated.
 */
#ifndef RTLNF_FC_S8_H
#define RTLNF_FC_S8_H

#include <stdint.h>

typedef struct {
    uint16_t in_n;
    uint16_t out_n;
    const int8_t *weights;        /* out_n x in_n, row-major, symmetric */
    const int32_t *bias;          /* out_n */
    int32_t input_offset;         /* -input zero point */
    int32_t output_offset;        /* output zero point */
    const int32_t *mult;          /* out_n */
    const int32_t *shift;         /* out_n, > 0 shifts left */
    int32_t act_min;
    int32_t act_max;
} fc_s8_layer_t;

typedef struct {
    uint16_t hidden;              /* h length */
    uint16_t max_width;           /* widest layer output (scratch size) */
    int32_t h_mult;               /* h_q15 -> int8 input */
    int32_t h_shift;
    int32_t in_zero_point;
    uint16_t n_layers;
    const fc_s8_layer_t *layers;
} fallback_s8_model_t;

int32_t tflm_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift);

void fc_s8(const fc_s8_layer_t *layer, const int8_t *in, int8_t *out);

/* Scratch: 2 * max_width + hidden bytes. out: the last layer's out_n int8 class scores.
 * Returns the index of the highest score (the first of equals). */
uint32_t fallback_s8_predict(const fallback_s8_model_t *m, const int16_t *h_q15, int8_t *scratch, int8_t *out);

#endif /* RTLNF_FC_S8_H */
