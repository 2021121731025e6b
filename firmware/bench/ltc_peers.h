/*
 * ltc_peers.h - the benchmark's peers of the encoder step (firmware/solver/ltc_q15.c) and the
 * gateway's model on the sensor. Same algorithm and sizes, other implementations:
 *   ltc_cmsis_q15_step: a straightforward CMSIS-DSP 1.10 q15 version (matrix-vector products,
 *                       element-wise vector ops, arm_divide_q15, the same sigmoid table);
 *   ltc_f32_step:       plain float32 C with expf;
 *   forest_f32_predict: the routing forest and leaf experts in float32 (router, path products,
 *                       expert MLPs, mixing, softmax), for the "whole model on the sensor" ablation.
 * For instruction counts only (bench/sensor_cost.py): the peers are not bit-exact with anything.
 */
#ifndef RTLNF_LTC_PEERS_H
#define RTLNF_LTC_PEERS_H

#include <stdint.h>

void ltc_cmsis_q15_step(int16_t *h, const int16_t *x, uint32_t dt_us);
void ltc_f32_step(float *h, const float *x, uint32_t dt_us);
uint32_t forest_f32_predict(const int16_t *h_q15, float *probs);

#endif /* RTLNF_LTC_PEERS_H */
