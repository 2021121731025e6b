"""Quantizing a trained float encoder (artifact arrays) into the fixed-point EncoderQ.

Input normalisation (x - mean) / std and the per-channel input scale are folded into the input
weights and the bias, so the sensor feeds raw int16 counts straight into one matrix-vector product.
"""

from __future__ import annotations

import numpy as np

from codegen.quantize import formats as F
from codegen.quantize.golden import EncoderQ
from host.runtime.inputs import to_counts


class QuantizationError(Exception):
    """The float model cannot be represented in the fixed-point format; the message says where."""


def input_scales(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per-channel real value of one input count: mean +- INPUT_RANGE_STD std maps onto int16."""
    reach = np.maximum(np.abs(mean - F.INPUT_RANGE_STD * std), np.abs(mean + F.INPUT_RANGE_STD * std))
    return (reach / (F.Q15 - 1)).astype(np.float64)


def quantize_inputs(x: np.ndarray, in_scale: np.ndarray) -> np.ndarray:
    """Float channel values -> int16 counts (the host's rule: host/runtime/inputs.py)."""
    return to_counts(x, in_scale)


def timestamps_to_dt_us(t_s: np.ndarray) -> np.ndarray:
    """Per-sample dt in microseconds (uint32 arithmetic, first sample 0) from timestamps in seconds."""
    t_us = np.round(np.asarray(t_s, dtype=np.float64) * 1e6).astype(np.int64)
    dt = np.diff(t_us, axis=-1, prepend=t_us[..., :1])
    return (dt & 0xFFFFFFFF).astype(np.int64)


def _row_shift(row: np.ndarray, bias: float) -> int:
    """The largest sh_j (finest power-of-two scale 2^-(sh + Z_FRAC_BITS) per weight unit) at which
    the row's weights meet the int16 and row-sum bounds and its bias fits BIAS_ACC_MAX."""
    maxabs, sumabs = float(np.max(np.abs(row))), float(np.sum(np.abs(row)))
    need = max(maxabs / (F.Q15 - 1), sumabs / F.ACC_WEIGHT_SUM_MAX, abs(bias) / (F.BIAS_ACC_MAX - 1), 2.0 ** -60)
    sh = int(np.floor(-np.log2(need))) - F.Z_FRAC_BITS
    return min(sh, F.SHIFT_MAX)


def _quantize_row(row: np.ndarray, bias: float, j: int) -> tuple[np.ndarray, int, int]:
    sh = _row_shift(row, bias)
    while sh >= 0:
        scale = 2.0 ** (sh + F.Z_FRAC_BITS)            # accumulator units per unit of z
        q = np.round(row * scale)
        b = round(bias * scale) + ((1 << sh) >> 1)      # the shift's rounding half rides in the bias
        if np.sum(np.abs(q)) <= F.ACC_WEIGHT_SUM_MAX and np.max(np.abs(q)) <= F.Q15 - 1 \
                and abs(b) <= F.BIAS_ACC_MAX:
            return q.astype(np.int16), sh, b
        sh -= 1                                         # rounding pushed a bound over: one bit coarser
    raise QuantizationError(f"neuron {j}: weights (sum {np.abs(row).sum():g}) or bias {bias:g} are too large "
                            f"for the int32 accumulator even at the coarsest scale")


def quantize_encoder(arrays: dict, config: dict) -> tuple[EncoderQ, np.ndarray]:
    """Returns the fixed-point encoder and the per-channel input scales (real value per count)."""
    m = config["model"]
    names = ("encoder.W", "encoder.U", "encoder.b", "encoder.tau", "encoder.A", "input.mean", "input.std")
    for n in names:
        if n not in arrays:
            raise QuantizationError(f"weights.npz has no array {n}")
        if not np.all(np.isfinite(arrays[n])):
            raise QuantizationError(f"array {n} holds NaN or inf")
    W, U, b = (arrays[n].astype(np.float64) for n in names[:3])
    tau, A = arrays["encoder.tau"].astype(np.float64), arrays["encoder.A"].astype(np.float64)
    mean, std = arrays["input.mean"].astype(np.float64), arrays["input.std"].astype(np.float64)
    H, I = m["hidden"], m["inputs"]
    expected = {"encoder.W": (I, H), "encoder.U": (H, H), "encoder.b": (H,), "encoder.tau": (H,),
                "encoder.A": (H,), "input.mean": (I,), "input.std": (I,)}
    for n, shape in expected.items():
        if arrays[n].shape != shape:
            raise QuantizationError(f"array {n} has shape {arrays[n].shape}, config says {shape}")
    if np.any(std <= 0):
        raise QuantizationError("input.std has a non-positive entry")
    if np.any(np.abs(A) >= 1.0):
        raise QuantizationError("encoder.A must lie in (-1, 1) for the Q15 state")

    in_scale = input_scales(mean, std)
    w_eff = (W * (in_scale / std)[:, None]).T                 # (H, I): real pre-activation per count
    u_eff = U.T / F.Q15                                       # (H, H): per Q15 unit of h
    b_eff = b - (W * (mean / std)[:, None]).sum(axis=0)       # (H,)
    rows = np.concatenate([w_eff, u_eff], axis=1)

    if np.any(1.0 / tau + 1.0 >= 2.0 ** F.INV_TAU_EXP):
        raise QuantizationError(f"encoder.tau {tau.min():g} is below the smallest the format takes "
                                f"(1/tau + 1 < 2^{F.INV_TAU_EXP}: tau > {1 / (2 ** F.INV_TAU_EXP - 1):.4g} units)")
    w_q = np.zeros((H, I), dtype=np.int16)
    u_q = np.zeros((H, H), dtype=np.int16)
    shift = np.zeros(H, dtype=np.int32)
    bias_acc = np.zeros(H, dtype=np.int64)
    for j in range(H):
        q, shift[j], bias_acc[j] = _quantize_row(rows[j], float(b_eff[j]), j)
        w_q[j], u_q[j] = q[:I], q[I:]
    inv_tau = np.round(2.0 ** (32 - F.INV_TAU_EXP) / tau)
    a_q31 = np.clip(np.round(A * 2.0 ** 31), -F.A_MAX_Q31, F.A_MAX_Q31)
    substeps = int(m["substeps"])
    dt_mult = F.dt_multiplier(m["time_unit_s"])
    enc = EncoderQ(w_q=w_q, u_q=u_q, bias_acc=bias_acc.astype(np.int32), shift=shift,
                   inv_tau=inv_tau.astype(np.uint32), a_q31=a_q31.astype(np.int32),
                   substeps=substeps, dt_mult=dt_mult,
                   dt_max_us=F.dt_max_us(dt_mult, substeps, float(np.max(1.0 / tau))))
    return enc, in_scale
