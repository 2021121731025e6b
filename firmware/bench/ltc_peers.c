#include "bench/ltc_peers.h"

#include <math.h>

#include "bench_model.h"
#include "solver/ltc_q15.h"

#if BENCH_VARIANT == 2
#include "arm_math.h"

/* q15 fixed point throughout: h, A, 1/tau (per model time unit, saturated), dt in model units.
 * W, U and A are the encoder's own quantized values, row-major (bench_w_q15, bench_u_q15, bench_a_q15). */
void ltc_cmsis_q15_step(int16_t *h, const int16_t *x, uint32_t dt_us)
{
    const arm_matrix_instance_q15 w = {BENCH_H, BENCH_I, (q15_t *)bench_w_q15};
    const arm_matrix_instance_q15 u = {BENCH_H, BENCH_H, (q15_t *)bench_u_q15};
    q15_t wx[BENCH_H], uh[BENCH_H], z[BENCH_H], f[BENCH_H], g[BENCH_H], p[BENCH_H], num[BENCH_H], den[BENCH_H];
    q15_t dt_q15 = (q15_t)__SSAT((int32_t)(((uint64_t)dt_us * bench_dt_q15_per_us) >> 16) / BENCH_S, 16);

    arm_mat_vec_mult_q15(&w, (q15_t *)x, wx);
    for (uint32_t s = 0; s < BENCH_S; s++) {
        arm_mat_vec_mult_q15(&u, (q15_t *)h, uh);
        arm_add_q15(wx, uh, z, BENCH_H);
        arm_mult_q15(z, (q15_t *)bench_gain_q15, z, BENCH_H);
        arm_add_q15(z, (q15_t *)bench_b_q15, z, BENCH_H);
        for (uint32_t j = 0; j < BENCH_H; j++) {
            f[j] = (q15_t)__SSAT(ltc_q15_sigmoid((int32_t)z[j] >> 4), 16);   /* z/8 in q15 = Q12 -> Q8 */
        }
        arm_add_q15((q15_t *)bench_inv_tau_q15, f, g, BENCH_H);          /* 1/tau + f */
        arm_scale_q15(g, dt_q15, 0, g, BENCH_H);                          /* dt (1/tau + f) */
        arm_mult_q15(f, (q15_t *)bench_a_q15, p, BENCH_H);                       /* f A */
        arm_scale_q15(p, dt_q15, 0, p, BENCH_H);                          /* dt f A */
        arm_shift_q15(h, -1, num, BENCH_H);                               /* halves: 1 + x fits q15 */
        arm_shift_q15(p, -1, p, BENCH_H);
        arm_add_q15(num, p, num, BENCH_H);
        arm_shift_q15(g, -1, den, BENCH_H);
        arm_offset_q15(den, 16384, den, BENCH_H);
        for (uint32_t j = 0; j < BENCH_H; j++) {
            q15_t q;
            int16_t sh;
            arm_divide_q15(num[j], den[j], &q, &sh);
            h[j] = (q15_t)__SSAT((int32_t)q << sh, 16);
        }
    }
}
#else
void ltc_cmsis_q15_step(int16_t *h, const int16_t *x, uint32_t dt_us)
{
    (void)h;
    (void)x;
    (void)dt_us;
}
#endif

void ltc_f32_step(float *h, const float *x, uint32_t dt_us)
{
    float wx[BENCH_H], hn[BENCH_H];
    float dt = (float)dt_us * bench_dt_per_us / (float)BENCH_S;
    for (uint32_t j = 0; j < BENCH_H; j++) {
        float acc = bench_b_f[j];
        for (uint32_t i = 0; i < BENCH_I; i++) {
            acc += bench_w_f[j * BENCH_I + i] * x[i];
        }
        wx[j] = acc;
    }
    for (uint32_t s = 0; s < BENCH_S; s++) {
        for (uint32_t j = 0; j < BENCH_H; j++) {
            float z = wx[j];
            for (uint32_t k = 0; k < BENCH_H; k++) {
                z += bench_u_f[j * BENCH_H + k] * h[k];
            }
            float f = 1.0f / (1.0f + expf(-z));
            hn[j] = (h[j] + dt * f * bench_a_f[j]) / (1.0f + dt * (bench_inv_tau_f[j] + f));
        }
        for (uint32_t j = 0; j < BENCH_H; j++) {
            h[j] = hn[j];
        }
    }
}

uint32_t forest_f32_predict(const int16_t *h_q15, float *probs)
{
    float h[BENCH_H], d[BENCH_NODES], p[BENCH_LEAVES], y[BENCH_CLASSES], hid[BENCH_EXPERT];
    for (uint32_t j = 0; j < BENCH_H; j++) {
        h[j] = (float)h_q15[j] * (1.0f / 32768.0f);
    }
    for (uint32_t n = 0; n < BENCH_NODES; n++) {
        float z = bench_router_b[n];
        for (uint32_t j = 0; j < BENCH_H; j++) {
            z += bench_router_w[n * BENCH_H + j] * h[j];
        }
        d[n] = 1.0f / (1.0f + expf(-z));                 /* probability of turning left */
    }
    for (uint32_t l = 0; l < BENCH_LEAVES; l++) {
        p[l] = 0.0f;
    }
    const uint32_t inner = BENCH_NODES / BENCH_TREES;
    for (uint32_t t = 0; t < BENCH_TREES; t++) {
        for (uint32_t l = 0; l < BENCH_LEAVES; l++) {
            float prob = 1.0f;
            uint32_t node = 0;
            for (uint32_t level = 0; level < BENCH_DEPTH; level++) {
                uint32_t right = (l >> (BENCH_DEPTH - 1u - level)) & 1u;
                float dl = d[t * inner + node];
                prob *= right ? 1.0f - dl : dl;
                node = 2u * node + 1u + right;
            }
            p[l] += prob * (1.0f / (float)BENCH_TREES);
        }
    }
    for (uint32_t c = 0; c < BENCH_CLASSES; c++) {
        y[c] = 0.0f;
    }
    for (uint32_t l = 0; l < BENCH_LEAVES; l++) {
        for (uint32_t e = 0; e < BENCH_EXPERT; e++) {
            float a = bench_b1[l * BENCH_EXPERT + e];
            for (uint32_t j = 0; j < BENCH_H; j++) {
                a += bench_w1[(l * BENCH_EXPERT + e) * BENCH_H + j] * h[j];
            }
            hid[e] = a > 0.0f ? a : 0.0f;
        }
        for (uint32_t c = 0; c < BENCH_CLASSES; c++) {
            float s = bench_b2[l * BENCH_CLASSES + c];
            for (uint32_t e = 0; e < BENCH_EXPERT; e++) {
                s += bench_w2[(l * BENCH_CLASSES + c) * BENCH_EXPERT + e] * hid[e];
            }
            y[c] += p[l] * s;
        }
    }
    float m = y[0], sum = 0.0f;
    uint32_t best = 0;
    for (uint32_t c = 1; c < BENCH_CLASSES; c++) {
        if (y[c] > m) {
            m = y[c];
            best = c;
        }
    }
    for (uint32_t c = 0; c < BENCH_CLASSES; c++) {
        probs[c] = expf(y[c] - m);
        sum += probs[c];
    }
    for (uint32_t c = 0; c < BENCH_CLASSES; c++) {
        probs[c] /= sum;
    }
    return best;
}
