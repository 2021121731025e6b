"""The gateway's model runtime: router and leaf experts of one artifact, batched over latents.

Latents arrive as the sensor sends them (int16 Q15) and are dequantized exactly (h / 2^15), so the
predictions equal the host pipeline applied to the same fixed-point latents (codegen export's
"fixed-point encoder" evaluation). Options, each off by default:

- leaves="int8": the leaf experts run as one full-int8 TFLite model (exported beside the artifact,
  `leaves_int8.tflite`) in TFLite Micro's interpreter; the router stays float.
- top_k: only the k most probable leaves are evaluated, their probabilities renormalised.
- routing cache (RouteCache): a sensor's leaf probabilities are reused for latents less than a TTL
  after the last routed one (sample time), as in the article's 10 ms example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host.artifact import Artifact
from host.runtime.forest import Forest, _softmax

Q15 = 32768.0
LEAVES_INT8_FILE = "leaves_int8.tflite"


class RuntimeConfigError(Exception):
    """The runtime cannot run this model in the requested mode; the message says why and what to do."""


@dataclass
class Batch:
    probs: np.ndarray      # (N, classes)
    p: np.ndarray          # (N, leaves): routing probabilities used
    tree: np.ndarray       # (N,) most probable single-tree path: tree index
    leaf: np.ndarray       # (N,) ... its leaf
    path_p: np.ndarray     # (N,) ... its probability


class RouteCache:
    """One sensor's last routing: reused for latents within ttl_us (sample time) of it."""

    def __init__(self, ttl_us: int):
        self.ttl_us = ttl_us
        self.t_us: int | None = None
        self.p: np.ndarray | None = None
        self.tree_probs: np.ndarray | None = None
        self.hits = 0
        self.misses = 0

    def reset(self) -> None:
        self.t_us = None


class Int8Leaves:
    """All leaf experts as one int8 TFLite model, in TFLite Micro's Python interpreter."""

    def __init__(self, flatbuffer: bytes, leaves: int, classes: int, batch: int):
        try:
            from tflite_micro.python.tflite_micro import runtime
        except ImportError:
            raise RuntimeConfigError("--leaves int8 needs TFLite Micro's interpreter: pip install '.[int8]'") from None
        self.it = runtime.Interpreter.from_bytes(flatbuffer, arena_size=256 * 1024)
        self.leaves, self.classes, self.batch = leaves, classes, batch
        qi = self.it.get_input_details(0)["quantization_parameters"]
        qo = self.it.get_output_details(0)["quantization_parameters"]
        self.in_scale, self.in_zp = float(qi["scales"][0]), int(qi["zero_points"][0])
        self.out_scale, self.out_zp = float(qo["scales"][0]), int(qo["zero_points"][0])

    def quantize(self, h: np.ndarray) -> np.ndarray:
        return np.clip(np.round(h / self.in_scale) + self.in_zp, -128, 127).astype(np.int8)

    def scores_int8(self, x_s8: np.ndarray) -> np.ndarray:
        out = np.empty((len(x_s8), self.leaves * self.classes), dtype=np.int8)
        for s in range(0, len(x_s8), self.batch):
            chunk = x_s8[s:s + self.batch]
            padded = np.zeros((self.batch, x_s8.shape[1]), dtype=np.int8)
            padded[:len(chunk)] = chunk
            self.it.set_input(padded, 0)
            self.it.invoke()
            out[s:s + len(chunk)] = np.asarray(self.it.get_output(0)).reshape(self.batch, -1)[:len(chunk)]
        return out

    def expert_scores(self, h: np.ndarray) -> np.ndarray:
        q = self.scores_int8(self.quantize(h)).astype(np.float64)
        return ((q - self.out_zp) * self.out_scale).reshape(len(h), self.leaves, self.classes)


class Predictor:
    def __init__(self, art: Artifact, leaves: str = "float", top_k: int | None = None):
        self.artifact = art
        self.forest = Forest.from_config(art.arrays, art.config)
        self.class_names = list(art.config["class_names"])
        self.hidden = art.config["model"]["hidden"]
        self.model_hash = art.short_hash
        if top_k is not None and not 1 <= top_k <= self.forest.leaves:
            raise RuntimeConfigError(f"--top-k {top_k}: the model has {self.forest.leaves} leaves")
        self.top_k = top_k if top_k and top_k < self.forest.leaves else None
        self.leaves_mode = leaves
        self.int8 = None
        if leaves == "int8":
            path = art.path / LEAVES_INT8_FILE
            meta = art.path / "export.json"
            if not path.exists() or not meta.exists():
                raise RuntimeConfigError(f"{path}: missing; export the int8 leaves first: "
                                    f"python -m codegen export {art.path}")
            batch = json.loads(meta.read_text()).get("leaves_int8", {}).get("batch", 1)
            self.int8 = Int8Leaves(path.read_bytes(), self.forest.leaves, len(self.class_names), batch)
        elif leaves != "float":
            raise RuntimeConfigError(f"--leaves {leaves}: expected float or int8")

    @staticmethod
    def dequantize(h_q15: np.ndarray) -> np.ndarray:
        return np.asarray(h_q15, dtype=np.float64) / Q15

    def _tree_probs(self, h: np.ndarray) -> np.ndarray:
        if self.forest.depth == 0:
            return np.ones((len(h), 1, 1))
        return self.forest.tree_leaf_probs(h)

    def _route(self, h: np.ndarray, t_us: np.ndarray | None, cache: RouteCache | None) -> np.ndarray:
        """(N, trees, leaves) per-tree leaf probabilities, from the cache where it is fresh."""
        if cache is None or t_us is None:
            return self._tree_probs(h)
        out = np.empty((len(h),) + ((self.forest.trees, self.forest.leaves) if self.forest.depth else (1, 1)))
        refresh = np.zeros(len(h), dtype=bool)
        last = cache.t_us
        for i, t in enumerate(t_us):          # sequential: a refresh restarts the TTL
            if last is None or (int(t) - last) % (1 << 32) >= cache.ttl_us:
                refresh[i] = True
                last = int(t)
        fresh = self._tree_probs(h[refresh]) if refresh.any() else None
        k = 0
        for i in range(len(h)):
            if refresh[i]:
                cache.tree_probs = fresh[k]
                cache.t_us = int(t_us[i])
                k += 1
                cache.misses += 1
            else:
                cache.hits += 1
            out[i] = cache.tree_probs
        return out

    def _expert_scores(self, h: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """(N, leaves or k, classes) for all leaves, or only the leaves in idx (N, k)."""
        if self.int8 is not None:
            s = self.int8.expert_scores(h)
            return s if idx is None else np.take_along_axis(s, idx[..., None], axis=1)
        if idx is None:
            return self.forest.expert_scores(h)
        f = self.forest
        hidden = np.maximum(np.einsum("nh,nkhe->nke", h, f.W1[idx]) + f.b1[idx], 0.0)
        return np.einsum("nke,nkec->nkc", hidden, f.W2[idx]) + f.b2[idx]

    def predict(self, h_q15: np.ndarray, t_us: np.ndarray | None = None, cache: RouteCache | None = None) -> Batch:
        h = self.dequantize(h_q15)
        tree_probs = self._route(h, t_us, cache)
        p = tree_probs.mean(axis=1)
        flat = tree_probs.reshape(len(h), -1)
        best = np.argmax(flat, axis=1)
        tree, leaf = np.divmod(best, tree_probs.shape[2])
        path_p = flat[np.arange(len(h)), best]
        if self.top_k:
            idx = np.argsort(-p, axis=1, kind="stable")[:, :self.top_k]
            pk = np.take_along_axis(p, idx, axis=1)
            pk = pk / pk.sum(axis=1, keepdims=True)
            y = np.einsum("nk,nkc->nc", pk, self._expert_scores(h, idx))
        else:
            y = np.einsum("nl,nlc->nc", p, self._expert_scores(h, None))
        return Batch(_softmax(y), p, tree, leaf, path_p)

    def path_turns(self, leaf: int) -> str:
        d = self.forest.depth
        return "".join("R" if (leaf >> (d - 1 - lv)) & 1 else "L" for lv in range(d))


def load_predictor(path: Path, **kwargs) -> Predictor:
    from host import artifact
    return Predictor(artifact.load(path), **kwargs)
