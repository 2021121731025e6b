"""The fixed-point formats of the sensor's LTC encoder: the one place they are defined.

Every constant here is emitted into the firmware's generated headers (codegen/emit) and used by the
golden model (golden.py); tests compare the host-compiled C with the golden model bit for bit.
Each choice keeps one neuron's update within a few single-cycle Cortex-M7 instructions (SMLAD,
SSAT, UMULL, SMMULR, CLZ, SDIV) while every intermediate provably fits 32 bits.

    input sample   x_q[c]  int16 counts; real value x = x_q * in_scale[c] (per channel, from export)
    timestamps     uint32 microseconds; dt_us = t_k - t_(k-1) (modulo 2^32), clamped to dt_max_us
    dt             Q16 model time units: dt_q16 = (dt_us * DT_MULT) >> DT_SHIFT (a 32x32->64-bit
                   multiply), DT_MULT = round(2^(16 + DT_SHIFT) / unit_us) < 2^32;
                   per sub-step dt_s = dt_q16 / S (integer division), used as dtE = dt_s << INV_TAU_EXP
    state h        int16 Q15 (h = h_q / 2^15), saturated to [-32768, 32767]
    weights        int16, one power-of-two scale per neuron (row) shared by its input and recurrent
                   weights, with sum |w_q| + sum |u_q| <= ACC_WEIGHT_SUM_MAX, so that
                   |W x + U h| < 2^30 whatever the inputs (|x_q|, |h_q| <= 2^15)
    accumulator    acc = bias_acc[j] + W x + U h, int32; bias_acc = b in accumulator units plus the
                   rounding half of the shift below, |bias_acc| <= BIAS_ACC_MAX = 2^30
    pre-activation z_q = SSAT(acc >> sh_j, Z_BITS): Q8 in [-2048, 2047] (-8 .. 8 - 2^-8)
    sigmoid        f = SIGMOID[z_q + 2048]: SIGMOID_POINTS values sigma(z_q / 256) in Q15 (no
                   interpolation: one load)
    rates          g = inv_tau + (f << (17 - INV_TAU_EXP)), inv_tau = 1/tau in Q(32 - INV_TAU_EXP);
                   q = (dtE * g) >> 32 = dt (1/tau + f) in Q16;  p = (dtE * (f << 15)) >> 32 = dt f
    update         num = h + ((p * a_q31 + 2^31) >> 32)   (= h + dt f A in Q15; SMMULR)
                   den = 2^16 + q  in [2^16, 2^31)   (Q16)
                   c = clz(den); n = num << c; d = den >> (16 - c)   (d in [2^15, 2^16))
                   h = SSAT16(trunc((n + d/2 - (d if n < 0)) / d))   (rounded half away from zero)
"""

from __future__ import annotations

import math

import numpy as np

Q15 = 1 << 15
Q16 = 1 << 16
H_MIN_Q15, H_MAX_Q15 = -Q15, Q15 - 1     # the state uses the whole int16 range

Z_FRAC_BITS = 8                          # pre-activation in Q8
Z_BITS = 12                              # SSAT width: z in [-2048, 2047] = [-8, 8)
Z_MIN, Z_MAX = -(1 << (Z_BITS - 1)), (1 << (Z_BITS - 1)) - 1
SIGMOID_POINTS = 1 << Z_BITS             # one table entry per Q8 value of z

ACC_WEIGHT_SUM_MAX = 32767               # 2^15 * 32767 < 2^30: the dot products stay below 2^30
BIAS_ACC_MAX = 1 << 30                   # |bias_acc| <= 2^30: acc < 2^31 in int32
SHIFT_MAX = 31                           # sh_j in [0, 31]
INV_TAU_EXP = 2                          # 1/tau + 1 < 2^INV_TAU_EXP: tau > 1/3 time unit
A_MAX_Q31 = (1 << 31) - (1 << 23)        # |A| <= 1 - 2^-8: the update's margins (golden.py)
DEN_MAX = (1 << 31) - 1                  # den = 2^16 + q < 2^31
DT_MAX_US = 1 << 26                      # 67.1 s: a longer gap counts as this long (or less, below)
DT_SHIFT = 24
INPUT_RANGE_STD = 8.0                    # export maps mean +- 8 std of each channel onto int16


def sigmoid_table() -> np.ndarray:
    """SIGMOID_POINTS values sigma(z / 256) for z in [Z_MIN, Z_MAX], Q15 (rounded, at most 32767)."""
    z = np.arange(Z_MIN, Z_MAX + 1) / float(1 << Z_FRAC_BITS)
    return np.minimum(np.round(Q15 / (1.0 + np.exp(-z))), Q15 - 1).astype(np.int16)


def sigmoid_max_error(samples: int = 1 << 18) -> float:
    """Largest |table sigmoid - true sigmoid| over a dense grid of real z, with z rounded to Q8 as
    the accumulator's rounding shift does (clamping at -8 and 8 - 2^-8 included)."""
    z = np.linspace(-12.0, 12.0, samples)
    zq = np.clip(np.floor(z * (1 << Z_FRAC_BITS) + 0.5), Z_MIN, Z_MAX).astype(np.int64)
    return float(np.max(np.abs(sigmoid_table()[zq - Z_MIN] / Q15 - 1.0 / (1.0 + np.exp(-z)))))


def dt_multiplier(time_unit_s: float) -> int:
    """DT_MULT such that (dt_us * DT_MULT) >> DT_SHIFT is dt in Q16 model time units."""
    mult = int(round((1 << (16 + DT_SHIFT)) / (time_unit_s * 1e6)))
    if not 0 < mult < 1 << 32:
        raise ValueError(f"time unit {time_unit_s} s is outside what DT_MULT can express (256 us .. hours)")
    return mult


def dt_max_us(dt_mult: int, substeps: int, inv_tau_max: float) -> int:
    """Longest gap (us) the update takes as it is: dt_s << INV_TAU_EXP must fit a uint32 and the
    denominator 2^16 + dt_s (1/tau + f) must stay below 2^31 (Q16). DT_MAX_US unless the time unit
    or the model's fastest neuron needs less; longer gaps are clamped to it."""
    g_max = inv_tau_max + 1.0
    dt_s_q16_max = min(((1 << 31) - Q16 - 1) / g_max, (1 << (32 - INV_TAU_EXP)) - 1)
    dt_q16_max = min(int(dt_s_q16_max) * substeps, (1 << 32) - 1)      # dt_q16 is a uint32 in C
    return int(min(DT_MAX_US, (dt_q16_max << DT_SHIFT) // dt_mult))


def quantize_multiplier_tflite(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real = q * 2^(shift - 31), q in [2^30, 2^31) (frexp, mantissa
    rounded half away from zero; multipliers below 2^-31 become (0, 0))."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift
