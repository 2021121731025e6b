"""The fixed-point formats of the sensor's LTC encoder: the one place they are defined.

Every constant here is emitted into the firmware's generated header (codegen/emit) and used by the
golden model (golden.py); tests compare the host-compiled C with the golden model bit for bit.

    input sample   x_q[c]  int16 counts; real value x = x_q * in_scale[c] (per channel, from export)
    timestamps     uint32 microseconds; dt_us = t_k - t_(k-1) (modulo 2^32), clamped to DT_MAX_US
    dt             Q16 model time units: dt_q16 = (dt_us * DT_MULT) >> DT_SHIFT (a 32x32->64-bit
                   multiply), DT_MULT = round(2^(16 + DT_SHIFT) / unit_us) < 2^32
                   per sub-step dt_s_q16 = dt_q16 / S (integer division)
    state h        int16 Q15 (h = h_q / 2^15); the fused update keeps |h| < 1 by construction
    weights        int16, one scale per neuron (row) shared by its input and recurrent weights,
                   chosen so that sum |w_q| + sum |u_q| <= ACC_WEIGHT_SUM_MAX: the int32 accumulator
                   cannot overflow, whatever the inputs (|x_q|, |h_q| <= 2^15)
    pre-activation z  Q12 in int32: z_q = ((acc * M_j + 2^(sh_j - 1)) >> sh_j) + b_q[j], then
                   clamped to [-Z_CLAMP, Z_CLAMP] (= +-8.0, the table's domain)
    sigmoid        table of SIGMOID_POINTS values sigma(-8 + i/16) in Q15, linear interpolation
                   on the low 8 bits of z_q
    1/tau          uint32 Q16;  A  int16 Q15
"""

from __future__ import annotations

import math

import numpy as np

Q15 = 1 << 15
Q16 = 1 << 16
H_MAX_Q15 = Q15 - 1                      # state saturates at +-(1 - 2^-15)

Z_FRAC_BITS = 12                         # pre-activation in Q12
Z_CLAMP = 8 << Z_FRAC_BITS               # +-8.0
SIGMOID_STEP_BITS = 8                    # table step = 2^8 LSB of Q12 = 1/16
SIGMOID_POINTS = (2 * Z_CLAMP >> SIGMOID_STEP_BITS) + 1   # 257 points over [-8, 8]

ACC_WEIGHT_SUM_MAX = 65535               # 2^15 * 65535 < 2^31: no accumulator overflow possible
DT_MAX_US = 1 << 26                      # 67.1 s: a longer gap counts as this long
DT_SHIFT = 24
INPUT_RANGE_STD = 8.0                    # export maps mean +- 8 std of each channel onto int16


def sigmoid_table() -> np.ndarray:
    """SIGMOID_POINTS values of sigma on [-8, 8] in Q15 (rounded, at most 32767)."""
    z = -8.0 + np.arange(SIGMOID_POINTS) / 16.0
    return np.minimum(np.round(Q15 / (1.0 + np.exp(-z))), Q15 - 1).astype(np.int16)


def sigmoid_max_error(samples: int = 1 << 16) -> float:
    """Largest |table sigmoid - true sigmoid| over a dense grid of real z (includes clamping)."""
    from codegen.quantize.golden import sigmoid_q15

    z = np.linspace(-12.0, 12.0, samples)
    zq = np.clip(np.round(z * (1 << Z_FRAC_BITS)), -Z_CLAMP, Z_CLAMP).astype(np.int64)
    return float(np.max(np.abs(sigmoid_q15(zq) / Q15 - 1.0 / (1.0 + np.exp(-z)))))


def dt_multiplier(time_unit_s: float) -> int:
    """DT_MULT such that (dt_us * DT_MULT) >> DT_SHIFT is dt in Q16 model time units."""
    mult = int(round((1 << (16 + DT_SHIFT)) / (time_unit_s * 1e6)))
    if not 0 < mult < 1 << 32:
        raise ValueError(f"time unit {time_unit_s} s is outside what DT_MULT can express (256 us .. hours)")
    return mult


def dt_max_us(dt_mult: int, substeps: int, inv_tau_q16_max: int) -> int:
    """Longest gap (us) for which dt fits a uint32 in Q16 and the update's denominator
    1 + dt_s (1/tau + f) stays below 2^31 in Q16 (the int32 division path): DT_MAX_US unless the
    time unit or the model needs less."""
    g_max = inv_tau_q16_max + 2 * (Q15 - 1)
    dt_s_q16_max = ((1 << 31) - Q16 - 1) * Q16 // g_max
    dt_q16_max = min(dt_s_q16_max * substeps, (1 << 32) - 1)      # dt_q16 is a uint32 in C
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


def quantize_multiplier(real: float) -> tuple[int, int]:
    """For the LTC requantization: real = M * 2^-sh with M in [2^30, 2^31), sh a right shift."""
    if not real > 0:
        raise ValueError(f"multiplier must be positive, got {real}")
    q, shift = quantize_multiplier_tflite(real)
    if q == 0:
        raise ValueError(f"multiplier {real:g} is too small to represent")
    return q, 31 - shift
