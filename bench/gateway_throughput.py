"""Router + leaf-expert throughput of the gateway runtime, per core.

    python -m bench.gateway_throughput [--artifact artifacts/default] [--seconds 2]

Runs host.runtime.engine.Predictor on the artifact's fixed-point test latents (the golden model's,
as a sensor would send them) in batches of 1 .. 4096, with numpy's BLAS held to one thread, and
reports latents per second per core for every runtime option. Also measures the JSON Lines
formatting the gateway adds per prediction. Writes results/gateway_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"                      # one core: set before numpy loads its BLAS

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 16, 256, 4096)
TARGET_PER_CORE = 20_000


def test_latents(art, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n golden latents of the test split, windows back to back, and their times."""
    from bench.ablations import test_latents as window_latents
    windows = max(1, -(-n // art.test_split()["values"].shape[1]))
    h, t, _ = window_latents(art, windows)
    return h.reshape(-1, h.shape[-1])[:n], t.reshape(-1)[:n]


def rate(fn, items: int, seconds: float) -> float:
    fn()                                        # warm-up
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        done += items
    return done / (time.perf_counter() - t0)


def measure(artifact_dir: Path, seconds: float) -> dict:
    from host import artifact
    from host.runtime.engine import Predictor, RouteCache
    art = artifact.load(artifact_dir)
    h, t_us = test_latents(art, max(BATCHES))
    leaves = art.config["model"]["trees"] and 2 ** art.config["model"]["depth"]
    variants = {
        "float": dict(),
        "int8 leaves (TFLite Micro)": dict(leaves="int8"),
        "top-2 leaves": dict(top_k=2),
        "routing cache 10 ms": dict(cache_ms=10),
    }
    results = {}
    for name, opts in variants.items():
        cache_ms = opts.pop("cache_ms", None)
        pred = Predictor(art, **opts)
        row = {}
        for b in BATCHES:
            hb, tb = h[:b], t_us[:b]
            if cache_ms:
                row[str(b)] = rate(lambda: pred.predict(hb, tb, RouteCache(int(cache_ms * 1000))), b, seconds)
            else:
                row[str(b)] = rate(lambda: pred.predict(hb), b, seconds)
        results[name] = row
        print(f"  {name:28s} " + "  ".join(f"batch {b}: {row[str(b)]:>9,.0f}/s" for b in BATCHES), flush=True)
    pred = Predictor(art)
    b = pred.predict(h[:256])

    def fmt():
        for i in range(256):
            json.dumps({"sensor": "socket://127.0.0.1:1", "boot": 1, "frame_seq": i, "seq": i, "t_us": int(t_us[i]),
                        "model": pred.model_hash, "source": "gateway", "class": "x", "class_index": 0,
                        "probs": [round(float(v), 6) for v in b.probs[i]],
                        "path": {"tree": int(b.tree[i]), "leaf": int(b.leaf[i]), "turns": "LRL",
                                 "p": round(float(b.path_p[i]), 6)}, "latency_ms": 0.1}, separators=(",", ":"))
    json_rate = rate(fmt, 256, seconds)
    print(f"  JSON Lines formatting: {json_rate:,.0f} lines/s", flush=True)
    best = max(results["float"].values())
    return {
        "artifact": str(artifact_dir), "model": art.short_hash, "leaves": leaves, "cores": 1,
        "latents_per_s_per_core": results, "json_lines_per_s": json_rate,
        "target_latents_per_s": TARGET_PER_CORE, "best_float_latents_per_s": best,
        "target_met": best >= TARGET_PER_CORE,
        "note": "numpy BLAS limited to one thread; batches of fixed-point test latents; router+leaves only",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gateway_throughput")
    ap.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "default")
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per case")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "gateway_throughput.json")
    args = ap.parse_args(argv)
    if not (args.artifact / "export.json").exists():
        print(f"error: {args.artifact}: no exported artifact (python -m codegen export {args.artifact})", file=sys.stderr)
        return 2
    print(f"gateway runtime throughput, one core, model {args.artifact}:", flush=True)
    res = measure(args.artifact, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"best float: {res['best_float_latents_per_s']:,.0f} latents/s per core "
          f"(target {TARGET_PER_CORE:,}: {'met' if res['target_met'] else 'NOT met'}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
