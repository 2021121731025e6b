"""`python -m codegen export artifacts/NAME`: quantize the encoder, measure what quantization costs,
and write the firmware's generated sources plus the export manifest the gateway reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codegen.emit import GENERATED_DIR, model_c, selftest
from codegen.quantize import fallback as fallback_s8
from codegen.quantize import formats as F
from codegen.quantize import golden
from codegen.quantize import leaves as leaves_int8
from codegen.quantize.encoder import quantize_encoder, quantize_inputs, timestamps_to_dt_us
from codegen.training import reference
from codegen.training.train import time_steps
from host import artifact
from host.link import protocol
from host.runtime.engine import LEAVES_INT8_FILE, Predictor
from host.runtime.forest import Forest, fallback_predict

EXPORT_FORMAT_VERSION = 1


def quantization_report(art: artifact.Artifact, enc: golden.EncoderQ, in_scale: np.ndarray,
                        fb: fallback_s8.FallbackS8) -> dict:
    """Fixed-point encoder vs float encoder, int8 fallback vs float fallback, on the test windows."""
    test = art.test_split()
    a, m = art.arrays, art.config["model"]
    t, x, labels = test["timestamps"], test["values"], test["labels"]
    x_norm = ((x - a["input.mean"]) / a["input.std"]).astype(np.float64)
    h_float = reference.encode(a, m["substeps"], x_norm, time_steps(t) / m["time_unit_s"])
    h_q15 = golden.encode(enc, quantize_inputs(x, in_scale), timestamps_to_dt_us(t)).astype(np.int64)
    h_fixed = h_q15 / F.Q15
    err = np.abs(h_fixed - h_float)
    forest = Forest.from_config(a, art.config)
    y_float, _ = forest.predict(h_float[:, -1])
    y_fixed, _ = forest.predict(h_fixed[:, -1])
    acc_float = float(np.mean(np.argmax(y_float, -1) == labels[:, -1]))
    acc_fixed = float(np.mean(np.argmax(y_fixed, -1) == labels[:, -1]))
    scores = fallback_s8.predict_s8(fb, fallback_s8.h_to_input(fb, h_q15[:, -1]))
    fb_float = fallback_predict(a, h_float[:, -1])
    return {
        "fallback_accuracy_float": float(np.mean(np.argmax(fb_float, -1) == labels[:, -1])),
        "fallback_accuracy_int8": float(np.mean(np.argmax(scores, -1) == labels[:, -1])),
        "test_windows": int(len(labels)),
        "latent_error_max_abs": float(err.max()),
        "latent_error_mean_abs": float(err.mean()),
        "accuracy_float": acc_float,
        "accuracy_fixed_point_encoder": acc_fixed,
        "accuracy_drop_points": 100.0 * (acc_float - acc_fixed),
        "prediction_agreement": float(np.mean(np.argmax(y_float, -1) == np.argmax(y_fixed, -1))),
        # per test window (prediction at its last sample), so a run over some windows compares like with like
        "test_predictions": {"float": np.argmax(y_float, -1).tolist(), "fixed_point": np.argmax(y_fixed, -1).tolist(),
                             "labels": labels[:, -1].astype(int).tolist()},
        "sigmoid_table_max_error": F.sigmoid_max_error(),
    }


def selftest_vectors(art: artifact.Artifact, enc: golden.EncoderQ, in_scale: np.ndarray,
                     fb: fallback_s8.FallbackS8, steps: int) -> str:
    """The first `steps` samples of the test split (windows back to back, state reset at each start),
    with the golden model's latents and fallback scores after every sample."""
    test = art.test_split()
    L = test["values"].shape[1]
    n_windows = -(-steps // L)
    x_windows = quantize_inputs(test["values"][:n_windows], in_scale)
    dt_windows = timestamps_to_dt_us(test["timestamps"][:n_windows])
    x = x_windows.reshape(-1, enc.inputs)[:steps]
    dt = dt_windows.reshape(-1)[:steps]
    h = golden.encode(enc, x_windows, dt_windows).reshape(-1, enc.hidden)[:steps]
    scores = fallback_s8.predict_s8(fb, fallback_s8.h_to_input(fb, h.astype(np.int64)))
    reset = (np.arange(steps) % L) == 0
    return selftest.selftest_header(art.short_hash, x, dt, reset, h, scores)


class ExportError(Exception):
    """The model cannot run on the sensor as it is; the message says why."""


def export(artifact_dir: Path, out_dir: Path = GENERATED_DIR, selftest_steps: int = 0) -> dict:
    art = artifact.load(artifact_dir)
    m = art.config["model"]
    try:
        protocol.check_model_fits(m["hidden"], m["inputs"], len(art.config["class_names"]))
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    enc, in_scale = quantize_encoder(art.arrays, art.config)
    fb = fallback_s8.parse(fallback_s8.convert(art.arrays, art.calibration()))
    report = quantization_report(art, enc, in_scale, fb)
    report.update(model_c.memory_bytes(enc, fb))
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = len(art.config["class_names"])
    (out_dir / "rtlnf_model.h").write_text(model_c.header(enc, fb, art.short_hash, classes, in_scale))
    (out_dir / "rtlnf_model.c").write_text(model_c.source(enc, fb, art.short_hash))
    (art.path / "fallback_int8.tflite").write_bytes(fb.flatbuffer)
    (art.path / LEAVES_INT8_FILE).write_bytes(leaves_int8.convert(art.arrays, art.calibration()))
    if selftest_steps:
        (out_dir / "selftest_vectors.h").write_text(selftest_vectors(art, enc, in_scale, fb, selftest_steps))
    manifest = {
        "export_format_version": EXPORT_FORMAT_VERSION,
        "model_hash": art.model_hash,
        "model_hash_short": art.short_hash,
        "hidden": enc.hidden, "inputs": enc.inputs, "substeps": enc.substeps, "classes": classes,
        "input_scale": in_scale.tolist(),
        "fallback": {"tflite": "fallback_int8.tflite", "input_scale": fb.in_scale, "input_zero_point": fb.in_zero_point,
                     "output_scale": fb.out_scale, "output_zero_point": fb.out_zero_point},
        "leaves_int8": {"tflite": LEAVES_INT8_FILE, "batch": leaves_int8.BATCH},
        "formats": {"h": "int16 Q15", "x": "int16 counts", "dt": "uint32 us", "dt_max_us": enc.dt_max_us},
        "report": report,
    }
    (art.path / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    report["accuracy_int8_leaves"] = int8_leaves_accuracy(art, enc, in_scale)
    (art.path / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def int8_leaves_accuracy(art: artifact.Artifact, enc: golden.EncoderQ, in_scale: np.ndarray) -> float:
    """Window accuracy with the fixed-point encoder, the float router and the int8 leaves (TFLM)."""
    test = art.test_split()
    h_q15 = golden.encode(enc, quantize_inputs(test["values"], in_scale), timestamps_to_dt_us(test["timestamps"]))
    probs = Predictor(artifact.load(art.path), leaves="int8").predict(h_q15[:, -1]).probs
    return float(np.mean(np.argmax(probs, -1) == test["labels"][:, -1]))
