"""Accuracy ablations on the synthetic test split, from the fixed-point latents the sensor sends
(the golden model, bit-exact with the firmware): routing options of the gateway, int8 leaves, and
the fixed-step solver against an adaptive one."""

from __future__ import annotations

import time

import numpy as np

from codegen.quantize import golden
from codegen.quantize.encoder import quantize_encoder, quantize_inputs, timestamps_to_dt_us
from host.runtime.engine import Predictor, RouteCache


def test_latents(art, windows: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Golden fixed-point latents (windows, L, H), sample times in us and window labels of the
    test split (its first `windows` windows when given)."""
    enc, in_scale = quantize_encoder(art.arrays, art.config)
    test = {k: v[:windows] for k, v in art.test_split().items()}
    h = golden.encode(enc, quantize_inputs(test["values"], in_scale), timestamps_to_dt_us(test["timestamps"]))
    t_us = np.round(test["timestamps"] * 1e6).astype(np.int64)
    return h, t_us, test["labels"][:, -1]


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, -1) == labels))


def routing(art, h, t_us, labels, cache_ms=(1, 10, 50)) -> dict:
    """Window accuracy (prediction at the last sample) for the gateway's runtime options."""
    last = h[:, -1]
    out = {"float leaves": accuracy(Predictor(art).predict(last).probs, labels),
           "int8 leaves (TFLite Micro)": accuracy(Predictor(art, leaves="int8").predict(last).probs, labels)}
    leaves = Predictor(art).forest.leaves
    for k in (1, 2, 4):
        if k < leaves:
            out[f"top-{k} leaves"] = accuracy(Predictor(art, top_k=k).predict(last).probs, labels)
    pred = Predictor(art)
    for ms in cache_ms:                           # the cache runs over every sample of the window
        probs, hits = [], 0
        for w in range(len(h)):
            cache = RouteCache(int(ms * 1000))
            b = pred.predict(h[w], t_us[w], cache)
            probs.append(b.probs[-1])
            hits += cache.hits
        out[f"routing cache {ms} ms"] = accuracy(np.array(probs), labels)
        out[f"routing cache {ms} ms: reuse rate"] = hits / h[:, :].shape[0] / h.shape[1]
    return out


def solver(art, windows: int = 12) -> dict:
    """Fused Euler (the sensor's fixed step) vs DOP853 (adaptive, rtol 1e-6) on the float model:
    latent error, window accuracy, and the adaptive solver's right-hand-side evaluations per sample
    (the cost it would add on the sensor)."""
    from scipy.integrate import solve_ivp

    from codegen.training import reference
    from codegen.training.train import time_steps
    from host.runtime.forest import Forest

    a, m = art.arrays, art.config["model"]
    test = art.test_split()
    x = ((test["values"][:windows] - a["input.mean"]) / a["input.std"]).astype(np.float64)
    dt = time_steps(test["timestamps"][:windows]) / m["time_unit_s"]
    fixed = reference.encode(a, m["substeps"], x, dt)
    W, U, b = (a[k].astype(np.float64) for k in ("encoder.W", "encoder.U", "encoder.b"))
    inv_tau, A = 1.0 / a["encoder.tau"].astype(np.float64), a["encoder.A"].astype(np.float64)
    adaptive = np.empty_like(fixed)
    nfev, t0 = 0, time.perf_counter()
    for w in range(windows):
        hh = np.zeros(U.shape[0])
        for k in range(x.shape[1]):
            xw = x[w, k] @ W + b
            if dt[w, k] > 0:
                sol = solve_ivp(lambda _t, y, xw=xw: -(inv_tau + 1 / (1 + np.exp(-(xw + y @ U)))) * y
                                + A / (1 + np.exp(-(xw + y @ U))), (0.0, float(dt[w, k])), hh, method="DOP853",
                                rtol=1e-6, atol=1e-9)
                hh, nfev = sol.y[:, -1], nfev + sol.nfev
            adaptive[w, k] = hh
    seconds = time.perf_counter() - t0
    forest = Forest.from_config(a, art.config)
    labels = test["labels"][:windows, -1]
    return {
        "windows": windows, "latent_max_abs_diff": float(np.abs(fixed - adaptive).max()),
        "latent_mean_abs_diff": float(np.abs(fixed - adaptive).mean()),
        "accuracy_fixed_step": accuracy(forest.predict(fixed[:, -1])[0], labels),
        "accuracy_adaptive": accuracy(forest.predict(adaptive[:, -1])[0], labels),
        "agreement": float(np.mean(np.argmax(forest.predict(fixed[:, -1])[0], -1)
                                   == np.argmax(forest.predict(adaptive[:, -1])[0], -1))),
        "rhs_evaluations_per_sample_adaptive": nfev / (windows * x.shape[1]),
        "rhs_evaluations_per_sample_fixed": m["substeps"],
        "host_seconds_adaptive": seconds,
    }
