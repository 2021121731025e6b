"""The golden model: the fixed-point LTC encoder in numpy integer arithmetic.

This is the specification of every rounding and saturation of the sensor's encoder
(firmware/solver/ltc_step_q15.c implements it; tests compare the two bit for bit). All arithmetic
is int64 on values whose bounds are stated in formats.py; shifts of signed values are arithmetic
(floor), divisions round half away from zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.quantize import formats as F

_TABLE = F.sigmoid_table().astype(np.int64)


@dataclass(frozen=True)
class EncoderQ:
    """The integer parameters of one encoder (what the firmware's generated arrays hold)."""
    w_q: np.ndarray         # (H, I) int16: input weights, input normalisation folded in
    u_q: np.ndarray         # (H, H) int16: recurrent weights, row j = inputs of neuron j
    b_q: np.ndarray         # (H,) int32: bias in Q12
    mult: np.ndarray        # (H,) int32: requantization multiplier M_j
    shift: np.ndarray       # (H,) int32: requantization shift sh_j
    inv_tau_q16: np.ndarray  # (H,) uint32
    a_q15: np.ndarray       # (H,) int16
    substeps: int
    dt_mult: int            # DT_MULT
    dt_max_us: int          # gaps are clamped to this (DT_MAX_US, or less where the time unit needs it)

    @property
    def hidden(self) -> int:
        return self.w_q.shape[0]

    @property
    def inputs(self) -> int:
        return self.w_q.shape[1]


def round_shift(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(x + 2^(shift-1)) >> shift on int64: rounding half up (shift >= 1)."""
    return (x + (np.int64(1) << (shift - 1))) >> shift


def div_round_away(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den rounded half away from zero (den > 0), as C does it with truncating division."""
    half = den >> 1
    mag = (np.abs(num) + half) // den
    return np.where(num < 0, -mag, mag)


def sigmoid_q15(z_q12: np.ndarray) -> np.ndarray:
    """Table sigmoid: z in Q12, already clamped to [-Z_CLAMP, Z_CLAMP] -> Q15."""
    u = z_q12.astype(np.int64) + F.Z_CLAMP
    i = u >> F.SIGMOID_STEP_BITS
    frac = u & ((1 << F.SIGMOID_STEP_BITS) - 1)
    i_next = np.minimum(i + 1, F.SIGMOID_POINTS - 1)
    lo, hi = _TABLE[i], _TABLE[i_next]
    return lo + (((hi - lo) * frac + (1 << (F.SIGMOID_STEP_BITS - 1))) >> F.SIGMOID_STEP_BITS)


def dt_substep_q16(enc: EncoderQ, dt_us: np.ndarray) -> np.ndarray:
    dt = np.minimum(np.asarray(dt_us, dtype=np.int64), enc.dt_max_us)
    return ((dt * enc.dt_mult) >> F.DT_SHIFT) // enc.substeps


def preactivation_q12(enc: EncoderQ, acc: np.ndarray) -> np.ndarray:
    z = round_shift(acc * enc.mult.astype(np.int64), enc.shift.astype(np.int64)) + enc.b_q.astype(np.int64)
    return np.clip(z, -F.Z_CLAMP, F.Z_CLAMP)


def fused_update_q15(enc: EncoderQ, h: np.ndarray, f_q15: np.ndarray, dt_s_q16: np.ndarray) -> np.ndarray:
    """h <- (h + dt f A) / (1 + dt (1/tau + f)), all in fixed point (see formats.py)."""
    dt_s = dt_s_q16[..., None] if np.ndim(dt_s_q16) else dt_s_q16
    f_q16 = 2 * f_q15
    g_q16 = enc.inv_tau_q16.astype(np.int64) + f_q16
    q_q16 = (dt_s * g_q16) >> 16
    p_q16 = (dt_s * f_q16) >> 16
    den = Q16_ONE + q_q16
    num = h.astype(np.int64) * Q16_ONE + p_q16 * enc.a_q15.astype(np.int64)
    k = np.maximum(bit_length(den) - 16, 0)
    h_new = div_round_away(num >> k, den >> k)
    return np.clip(h_new, -F.H_MAX_Q15, F.H_MAX_Q15)


Q16_ONE = np.int64(F.Q16)


def bit_length(v: np.ndarray) -> np.ndarray:
    """Number of significant bits of non-negative integers below 2^53 (bit_length(0) = 0);
    C: 32 - __builtin_clz(v) for v > 0."""
    _, exponent = np.frexp(np.asarray(v, dtype=np.float64))
    return exponent.astype(np.int64)


def step(enc: EncoderQ, h: np.ndarray, x_q: np.ndarray, dt_us) -> np.ndarray:
    """One sample: h (..., H) int16-valued, x_q (..., I) int16-valued, dt_us (...) -> new h."""
    h = h.astype(np.int64)
    acc_x = x_q.astype(np.int64) @ enc.w_q.T.astype(np.int64)
    dt_s = dt_substep_q16(enc, dt_us)
    u = enc.u_q.T.astype(np.int64)
    for _ in range(enc.substeps):
        f = sigmoid_q15(preactivation_q12(enc, acc_x + h @ u))
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
