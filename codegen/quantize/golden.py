"""The golden model: the fixed-point LTC encoder in numpy integer arithmetic.

This is the specification of every rounding and saturation of the sensor's encoder (formats.py
states the formats; firmware/solver/ltc_q15.c is the reference C kernel and
firmware/solver/cortex_m7/ltc_q15_step_m7.S the optimised one; tests compare both with this file
bit for bit). All arithmetic is int64 on values whose bounds formats.py states; where a C kernel
holds a value in 32 bits, `_fits` asserts the bound, so a test that reaches an overflow fails here.
Shifts of signed values are arithmetic (floor); the division rounds half away from zero (for an
odd divisor, negative quotients round at ceil(d/2): one AND instead of a sign fix-up on the M7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.quantize import formats as F

_TABLE = F.sigmoid_table().astype(np.int64)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_UINT32 = (0, (1 << 32) - 1)


@dataclass(frozen=True)
class EncoderQ:
    """The integer parameters of one encoder (what the firmware's generated arrays hold)."""
    w_q: np.ndarray         # (H, I) int16: input weights, input normalisation folded in
    u_q: np.ndarray         # (H, H) int16: recurrent weights, row j = inputs of neuron j
    bias_acc: np.ndarray    # (H,) int32: bias in accumulator units plus the shift's rounding half
    shift: np.ndarray       # (H,) int32: sh_j in [0, 31], z_q8 = acc >> sh_j
    inv_tau: np.ndarray     # (H,) uint32: 1/tau in Q(32 - INV_TAU_EXP)
    a_q31: np.ndarray       # (H,) int32: A in Q31, |a_q31| <= A_MAX_Q31
    substeps: int
    dt_mult: int            # DT_MULT
    dt_max_us: int          # gaps are clamped to this (DT_MAX_US, or less where the model needs it)

    @property
    def hidden(self) -> int:
        return self.w_q.shape[0]

    @property
    def inputs(self) -> int:
        return self.w_q.shape[1]


def _fits(v: np.ndarray, bounds: tuple[int, int], what: str) -> np.ndarray:
    lo, hi = bounds
    if np.any(v < lo) or np.any(v > hi):
        raise OverflowError(f"{what} leaves [{lo}, {hi}]: {v.min()} .. {v.max()}")
    return v


def sigmoid_q15(z_q8: np.ndarray) -> np.ndarray:
    """Table sigmoid: z in Q8, already saturated to [Z_MIN, Z_MAX] -> Q15."""
    return _TABLE[np.asarray(z_q8, dtype=np.int64) - F.Z_MIN]


def dt_substep_q16(enc: EncoderQ, dt_us) -> np.ndarray:
    dt = np.minimum(np.asarray(dt_us, dtype=np.int64), enc.dt_max_us)
    return ((dt * enc.dt_mult) >> F.DT_SHIFT) // enc.substeps


def preactivation_q8(enc: EncoderQ, acc: np.ndarray) -> np.ndarray:
    """SSAT(acc >> sh_j, Z_BITS): the bias and the rounding half are in acc already."""
    _fits(acc, _INT32, "accumulator")
    return np.clip(acc >> enc.shift.astype(np.int64), F.Z_MIN, F.Z_MAX)


def bit_length(v: np.ndarray) -> np.ndarray:
    """Significant bits of non-negative integers below 2^53 (C: 32 - __builtin_clz(v), v > 0)."""
    _, exponent = np.frexp(np.asarray(v, dtype=np.float64))
    return exponent.astype(np.int64)


def fused_update_q15(enc: EncoderQ, h: np.ndarray, f_q15: np.ndarray, dt_s_q16) -> np.ndarray:
    """h <- (h + dt f A) / (1 + dt (1/tau + f)), in the integer steps formats.py lists."""
    dt_s = np.asarray(dt_s_q16, dtype=np.int64)
    dte = _fits(dt_s << F.INV_TAU_EXP, _UINT32, "dt_s << INV_TAU_EXP")
    dte = dte[..., None] if dte.ndim else dte
    f_shifted = f_q15 << (17 - F.INV_TAU_EXP)
    g = _fits(enc.inv_tau.astype(np.int64) + f_shifted, _UINT32, "1/tau + f")
    q = (dte * g) >> 32                                        # UMULL, high word
    p = (dte * f_shifted) >> 32
    pa = (p * enc.a_q31.astype(np.int64) + (1 << 31)) >> 32    # SMMULR
    num = _fits(h + pa, _INT32, "numerator")
    den = _fits((1 << 16) + q, (1 << 16, F.DEN_MAX), "denominator")
    c = 32 - bit_length(den)                                   # CLZ, in [1, 15]
    n = _fits(num << c, _INT32, "normalised numerator")
    d = den >> (16 - c)
    t = _fits(n + (d >> 1) - np.where(n < 0, d, 0), _INT32, "rounded numerator")
    mag = np.abs(t) // d                                       # SDIV truncates toward zero
    return np.clip(np.where(t < 0, -mag, mag), F.H_MIN_Q15, F.H_MAX_Q15)


def step(enc: EncoderQ, h: np.ndarray, x_q: np.ndarray, dt_us) -> np.ndarray:
    """One sample: h (..., H) int16-valued, x_q (..., I) int16-valued, dt_us (...) -> new h."""
    h = h.astype(np.int64)
    acc_x = x_q.astype(np.int64) @ enc.w_q.T.astype(np.int64) + enc.bias_acc.astype(np.int64)
    dt_s = dt_substep_q16(enc, dt_us)
    u = enc.u_q.T.astype(np.int64)
    for _ in range(enc.substeps):
        f = sigmoid_q15(preactivation_q8(enc, acc_x + h @ u))
        h = fused_update_q15(enc, h, f, dt_s)
    return h


def encode(enc: EncoderQ, x_q: np.ndarray, dt_us: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
    """Latents after every sample: x_q (..., L, I), dt_us (..., L) -> h_q (..., L, H) as int16."""
    h = np.zeros(x_q.shape[:-2] + (enc.hidden,), dtype=np.int64) if h0 is None else h0.astype(np.int64)
    out = np.empty(x_q.shape[:-1] + (enc.hidden,), dtype=np.int16)
    for k in range(x_q.shape[-2]):
        h = step(enc, h, x_q[..., k, :], dt_us[..., k])
        out[..., k, :] = h
    return out
