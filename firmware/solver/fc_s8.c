#include "solver/fc_s8.h"

static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tflm_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x * (1 << left), mult), right);
}

void fc_s8(const fc_s8_layer_t *l, const int8_t *in, int8_t *out)
{
    for (uint32_t o = 0; o < l->out_n; o++) {
        const int8_t *w = &l->weights[o * l->in_n];
        int32_t acc = l->bias[o];
        for (uint32_t i = 0; i < l->in_n; i++) {
            acc += (int32_t)w[i] * ((int32_t)in[i] + l->input_offset);
        }
        acc = tflm_multiply_by_quantized_multiplier(acc, l->mult[o], l->shift[o]) + l->output_offset;
        acc = acc < l->act_min ? l->act_min : acc;
        acc = acc > l->act_max ? l->act_max : acc;
        out[o] = (int8_t)acc;
    }
}

uint32_t fallback_s8_predict(const fallback_s8_model_t *m, const int16_t *h_q15, int8_t *scratch, int8_t *out)
{
    int8_t *x = scratch;
    int8_t *a = scratch + m->hidden;
    int8_t *b = a + m->max_width;
    for (uint32_t i = 0; i < m->hidden; i++) {
        int32_t v = tflm_multiply_by_quantized_multiplier(h_q15[i], m->h_mult, m->h_shift) + m->in_zero_point;
        x[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
    const int8_t *cur = x;
    for (uint32_t k = 0; k < m->n_layers; k++) {
        int8_t *dst = (k + 1 == m->n_layers) ? out : ((k % 2 == 0) ? a : b);
        fc_s8(&m->layers[k], cur, dst);
        cur = dst;
    }
    const fc_s8_layer_t *last = &m->layers[m->n_layers - 1];
    uint32_t best = 0;
    for (uint32_t o = 1; o < last->out_n; o++) {
        if (out[o] > out[best]) {
            best = o;
        }
    }
    return best;
}
