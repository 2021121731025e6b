"""Float reference of the encoder in numpy, and an adaptive ODE solution to measure its error.

`encode` is the same fused Euler scheme as model.LTCCell, in float64, on the artifact's arrays: the
float model that quantization is measured against. `ode_reference` integrates the LTC equation with
scipy's error-controlled DOP853 between samples (input held, as the sensor sees it), the truth the
fixed-step scheme approximates.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def encode(arrays: dict, substeps: int, x: np.ndarray, dt: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
    """Latents after every sample: x (..., L, I) normalised inputs, dt (..., L) time units -> (..., L, H)."""
    W, U, b = (arrays[k].astype(np.float64) for k in ("encoder.W", "encoder.U", "encoder.b"))
    inv_tau = 1.0 / arrays["encoder.tau"].astype(np.float64)
    A = arrays["encoder.A"].astype(np.float64)
    lead = x.shape[:-2]
    h = np.zeros(lead + (U.shape[0],)) if h0 is None else h0.astype(np.float64)
    out = np.empty(lead + (x.shape[-2], U.shape[0]))
    xw_all = x.astype(np.float64) @ W + b
    for k in range(x.shape[-2]):
        dt_s = (dt[..., k] / substeps)[..., None]
        for _ in range(substeps):
            f = _sigmoid(xw_all[..., k, :] + h @ U)
            h = (h + dt_s * f * A) / (1.0 + dt_s * (inv_tau + f))
        out[..., k, :] = h
    return out


def ode_reference(arrays: dict, x: np.ndarray, dt: np.ndarray, rtol: float = 1e-6, atol: float = 1e-9) -> np.ndarray:
    """One window: x (L, I), dt (L,) time units -> latents (L, H) of the exact LTC ODE (DOP853)."""
    W, U, b = (arrays[k].astype(np.float64) for k in ("encoder.W", "encoder.U", "encoder.b"))
    inv_tau = 1.0 / arrays["encoder.tau"].astype(np.float64)
    A = arrays["encoder.A"].astype(np.float64)
    h = np.zeros(U.shape[0])
    out = np.empty((x.shape[0], U.shape[0]))
    for k in range(x.shape[0]):
        xw = x[k].astype(np.float64) @ W + b
        if dt[k] > 0:
            def rhs(_t, hh, xw=xw):
                f = _sigmoid(xw + hh @ U)
                return -(inv_tau + f) * hh + f * A
            sol = solve_ivp(rhs, (0.0, float(dt[k])), h, method="DOP853", rtol=rtol, atol=atol)
            h = sol.y[:, -1]
        out[k] = h
    return out
