"""The model artifact: the one format every node loads, and the hash that identifies it.

A directory written by `python -m codegen train` (and completed by `codegen export`):

    manifest.json   format, format version, model hash, sha256 of every file
    config.json     model and data configuration (dims, classes, channels, dt handling, ...)
    weights.npz     float32 parameters named "encoder.W", "router.w", "experts.W1", "input.mean", ...
    metrics.json    what training measured (not part of the model hash)
    test.npz        the held-out test windows (timestamps, values, labels), for validation runs
    calibration.npz latents from the training windows, to calibrate int8 quantization

The model hash is sha256 over the canonical JSON of config.json and every array of weights.npz
(name, dtype, shape, bytes, in name order). Its first 8 bytes (16 hex digits) travel in the sensor's
HELLO, so a gateway can tell whether it holds the model the sensor runs.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "rtlnf-model"
FORMAT_VERSION = 1
SHORT_HASH_BYTES = 8
HASHED_FILES = ("config.json", "weights.npz")


class ArtifactError(Exception):
    """The artifact is missing, corrupt or incompatible; the message names the file and problem."""


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def model_hash(config: dict, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    h.update(canonical_json(config))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(canonical_json([name, a.dtype.str, list(a.shape)]))
        h.update(a.tobytes())
    return h.hexdigest()


def short_hash(full_hash: str) -> str:
    return full_hash[: 2 * SHORT_HASH_BYTES]


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Artifact:
    path: Path
    config: dict
    arrays: dict[str, np.ndarray]
    model_hash: str
    manifest: dict

    @property
    def short_hash(self) -> str:
        return short_hash(self.model_hash)

    def metrics(self) -> dict:
        p = self.path / "metrics.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def _extra(self, name: str, what: str) -> dict[str, np.ndarray]:
        p = self.path / name
        if not p.exists():
            raise ArtifactError(f"{p}: missing (the artifact carries no {what}; retrain it with this version)")
        with np.load(p) as z:
            return {k: z[k] for k in z.files}

    def test_split(self) -> dict[str, np.ndarray]:
        return self._extra("test.npz", "test windows")

    def calibration(self) -> np.ndarray:
        return self._extra("calibration.npz", "calibration latents")["h"]


def write(path: Path, config: dict, arrays: dict[str, np.ndarray], metrics: dict | None = None,
          extra_arrays: dict[str, dict[str, np.ndarray]] | None = None, created_by: str = "") -> Artifact:
    """Writes an artifact directory (used by codegen; here so that one module owns the format)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_bytes(json.dumps(config, indent=2, sort_keys=True, allow_nan=False).encode() + b"\n")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.ascontiguousarray(v) for k, v in sorted(arrays.items())})
    (path / "weights.npz").write_bytes(buf.getvalue())
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    for name, content in (extra_arrays or {}).items():
        np.savez_compressed(path / name, **content)
    full = model_hash(config, arrays)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_hash": full,
        "model_hash_short": short_hash(full),
        "created_by": created_by,
        "files": {f: _sha256_file(path / f) for f in HASHED_FILES},
    }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return Artifact(path, config, dict(arrays), full, manifest)


def load(path: Path | str) -> Artifact:
    """Loads and verifies an artifact: format, file checksums, model hash, finite weights."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an artifact directory")
    mpath = path / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{mpath}: missing (not an RT-LNF artifact?)") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{mpath}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{mpath}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{mpath}: format version {manifest.get('format_version')} is not supported "
                            f"(this build reads version {FORMAT_VERSION})")
    for name in HASHED_FILES:
        f = path / name
        if not f.exists():
            raise ArtifactError(f"{f}: missing")
        if _sha256_file(f) != manifest.get("files", {}).get(name):
            raise ArtifactError(f"{f}: checksum does not match manifest.json (file changed or corrupt)")
    config = json.loads((path / "config.json").read_text())
    try:
        with np.load(path / "weights.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path / 'weights.npz'}: unreadable ({exc})") from None
    full = model_hash(config, arrays)
    if full != manifest.get("model_hash"):
        raise ArtifactError(f"{path}: model hash {short_hash(full)} does not match the manifest's "
                            f"{short_hash(str(manifest.get('model_hash')))}")
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ArtifactError(f"{path / 'weights.npz'}: array {name} holds NaN or inf")
    return Artifact(path, config, arrays, full, manifest)
