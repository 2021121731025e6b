"""Training the whole model: data -> splits -> normalisation -> Keras fit -> distillation -> metrics.

Everything is seeded (data, splits, initialisation, shuffling), so the same seed on the same machine
gives the same weights and model hash (checked by the tests).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from codegen.training import recordings, synthetic
from codegen.tf_quiet import import_tensorflow
from codegen.training.config import ModelConfig
from codegen.training.recordings import Windows
from host import artifact
from host.runtime.forest import Forest, fallback_predict

# What the encoder sees of time. "timestamps": dt from each sample's timestamp (the model);
# "uniform": every dt replaced by the training set's mean (the ablation that ignores timestamps).
DT_MODES = ("timestamps", "uniform")
SPLIT = (0.70, 0.15, 0.15)
STD_FLOOR = 1e-6
CALIBRATION_LATENTS = 2000


@dataclass
class TrainOptions:
    epochs: int = 24
    batch_size: int = 64
    learning_rate: float = 1e-2
    lr_schedule: str = "constant"    # or "cosine" (slower to escape the early plateau here)
    patience: int = 6
    seed: int = 0
    ablations: bool = True
    fallback_epochs: int = 8
    solver_check_windows: int = 4
    verbose: int = 1


@dataclass
class Dataset:
    windows: Windows
    class_names: tuple[str, ...]
    channel_names: tuple[str, ...]
    spec: dict = field(default_factory=dict)


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


class ProgressBar:
    """A one-line progress bar on stderr (a plain line per 10 % when stderr is not a terminal)."""

    def __init__(self, label: str):
        self.label, self.tty, self.last = label, sys.stderr.isatty(), -1

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // total
        if self.tty:
            bar = "#" * (pct // 4)
            print(f"\r[train] {self.label} [{bar:<25}] {done}/{total}", end="", file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)
        elif pct // 10 != self.last // 10 or done == total:
            print(f"[train] {self.label} {done}/{total}", file=sys.stderr, flush=True)
        self.last = pct


def load_dataset(source: str, window: int, synthetic_windows: int, seed: int) -> Dataset:
    if source == "synthetic":
        spec = synthetic.SyntheticSpec(windows=synthetic_windows, window_samples=window, seed=seed)
        t, x, y = synthetic.generate(spec, progress=ProgressBar("generating synthetic windows"))
        w = Windows(t, x, np.repeat(y[:, None], window, axis=1), np.arange(len(y)))
        return Dataset(w, synthetic.CLASS_NAMES, synthetic.CHANNELS, spec.describe())
    rec = recordings.load(source)
    w = recordings.to_windows(rec, window)
    return Dataset(w, rec.class_names, rec.channel_names,
                   {"kind": "recording", "path": str(source), "window_samples": window})


def split(ds: Dataset, seed: int) -> tuple[Windows, Windows, Windows]:
    """Train/validation/test by source sequence (windows of one recording never straddle splits)."""
    groups = np.unique(ds.windows.group)
    if groups.size < 3:
        raise recordings.RecordingError(f"need at least 3 sequences to split train/val/test, got {groups.size}")
    perm = np.random.default_rng(seed + 1).permutation(groups)
    n_val = max(1, int(round(SPLIT[1] * groups.size)))
    n_test = max(1, int(round(SPLIT[2] * groups.size)))
    test_g, val_g, train_g = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    pick = lambda g: ds.windows.take(np.flatnonzero(np.isin(ds.windows.group, g)))  # noqa: E731
    return pick(train_g), pick(val_g), pick(test_g)


def time_steps(t: np.ndarray) -> np.ndarray:
    """dt per sample (s): 0 for a window's first sample, then the timestamp differences."""
    return np.concatenate([np.zeros(t.shape[:-1] + (1,)), np.diff(t, axis=-1)], axis=-1)


def encoder_inputs(w: Windows, mean, std, dt_mode: str, uniform_dt: float, time_unit_s: float):
    """Normalised inputs (W, L, C) and dt in model time units (W, L)."""
    x = (w.x - mean) / std
    dt = time_steps(w.t)
    if dt_mode == "uniform":
        dt = np.where(dt > 0, uniform_dt, 0.0)   # first sample keeps 0: no time has passed
    return x.astype(np.float32), dt / time_unit_s


def loss_steps(window: int) -> np.ndarray:
    """Where the loss looks: after a warm-up third of the window, about 48 evenly spaced steps."""
    warm = window // 3
    return np.unique(np.linspace(warm, window - 1, min(48, window - warm)).astype(int))


def _configure_tensorflow(seed: int):
    keras, tf = import_tensorflow()

    # Seeds fix initialisation and shuffling. TensorFlow's op-determinism switch is not used: it
    # turns XLA off (2x slower here), and XLA on CPU is deterministic for these ops, which
    # tests/test_training.py checks by training twice and comparing model hashes.
    keras.utils.set_random_seed(seed)
    if os.environ.get("RTLNF_TF_THREADS"):
        n = int(os.environ["RTLNF_TF_THREADS"])
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    return keras, tf


def fit_model(cfg, train: Windows, val: Windows, mean, std, dt_mode: str, uniform_dt: float,
              opts: TrainOptions, label: str):
    """Trains encoder + forest; returns the Keras objects and the fit history."""
    keras, _ = _configure_tensorflow(opts.seed)
    from codegen.training.model import build_training_model, mixture_nll

    L = train.t.shape[1]
    steps = loss_steps(L)
    model, encoder, cell, forest = build_training_model(cfg, L, steps, opts.seed)

    def xy(w):
        x, dt = encoder_inputs(w, mean, std, dt_mode, uniform_dt, cfg.time_unit_s)
        return np.concatenate([x, dt[..., None].astype(np.float32)], axis=-1), w.y[:, steps]

    xtr, ytr = xy(train)
    xva, yva = xy(val)
    batches = int(np.ceil(len(xtr) / opts.batch_size))
    schedule = (keras.optimizers.schedules.CosineDecay(opts.learning_rate, opts.epochs * batches, alpha=0.05)
                if opts.lr_schedule == "cosine" else opts.learning_rate)
    model.compile(keras.optimizers.Adam(schedule, clipnorm=1.0), loss=mixture_nll,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")], jit_compile=True)
    log(f"{label}: {len(xtr)} train / {len(xva)} val windows of {L} samples, "
        f"{model.count_params()} parameters, up to {opts.epochs} epochs")
    stop = keras.callbacks.EarlyStopping("val_loss", patience=opts.patience, restore_best_weights=True)
    t0 = time.monotonic()
    hist = model.fit(xtr, ytr, validation_data=(xva, yva), epochs=opts.epochs, batch_size=opts.batch_size,
                     shuffle=True, callbacks=[stop], verbose=opts.verbose if sys.stderr.isatty() else 2)
    fit_s = time.monotonic() - t0
    return model, encoder, cell, forest, hist, fit_s, (xtr, xva)


def distill_fallback(cfg, h_train: np.ndarray, teacher_y: np.ndarray, opts: TrainOptions):
    """Fits the fallback MLP to the forest's output distribution (KL divergence)."""
    keras, _ = _configure_tensorflow(opts.seed + 7)
    from codegen.training.model import build_fallback

    fb = build_fallback(cfg, opts.seed + 7)
    fb.compile(keras.optimizers.Adam(3e-3), loss=keras.losses.KLDivergence(), jit_compile=True)
    fb.fit(h_train.astype(np.float32), teacher_y.astype(np.float32), epochs=opts.fallback_epochs,
           batch_size=256, shuffle=True, verbose=0)
    return fb


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probs, axis=-1) == labels))


def evaluate(arrays: dict, cfg, windows: Windows, mean, std, dt_mode, uniform_dt) -> dict:
    """Accuracy of the exported float arrays through the numpy pipeline (encoder + host forest)."""
    from codegen.training.reference import encode

    x, dt = encoder_inputs(windows, mean, std, dt_mode, uniform_dt, cfg.time_unit_s)
    h = encode(arrays, cfg.substeps, x, dt)
    forest = Forest(arrays, cfg.trees, cfg.depth)
    y, _ = forest.predict(h[:, -1])
    steps = loss_steps(windows.t.shape[1])
    y_stream, _ = forest.predict(h[:, steps])
    out = {"accuracy": accuracy(y, windows.y[:, -1]),
           "streaming_accuracy": accuracy(y_stream, windows.y[:, steps])}
    if "fallback.W1" in arrays:
        y_fb = fallback_predict(arrays, h[:, -1])
        out["fallback_accuracy"] = accuracy(y_fb, windows.y[:, -1])
        out["fallback_agreement"] = float(np.mean(np.argmax(y_fb, -1) == np.argmax(y, -1)))
    return out


def solver_error(arrays, cfg, windows: Windows, mean, std, n: int) -> dict:
    """Latent error of the fixed-step fused Euler scheme against DOP853 (rtol 1e-6) on n test windows."""
    from codegen.training.reference import encode, ode_reference

    n = min(n, len(windows))
    x, dt = encoder_inputs(windows.take(np.arange(n)), mean, std, "timestamps", 0.0, cfg.time_unit_s)
    errs = []
    for i in range(n):
        ref = ode_reference(arrays, x[i], dt[i])
        errs.append(np.abs(encode(arrays, cfg.substeps, x[i], dt[i]) - ref))
    e = np.stack(errs)
    return {"windows": n, "method": "DOP853", "rtol": 1e-6, "substeps": cfg.substeps,
            "max_abs": float(e.max()), "mean_abs": float(e.mean()),
            "h_abs_max": float(np.abs(encode(arrays, cfg.substeps, x, dt)).max())}


def train_variant(cfg, splits, mean, std, dt_mode, uniform_dt, opts, label, with_fallback):
    train, val, test = splits
    from codegen.training.model import export_arrays

    model, encoder, cell, forest, hist, fit_s, (xtr, _) = fit_model(
        cfg, train, val, mean, std, dt_mode, uniform_dt, opts, label)
    fallback = None
    if with_fallback:
        steps = loss_steps(train.t.shape[1])
        h_tr = encoder.predict(xtr, batch_size=256, verbose=0)[:, steps].reshape(-1, cfg.hidden)
        teacher, _ = Forest(export_arrays(cfg, cell, forest, None), cfg.trees, cfg.depth).predict(h_tr)
        fallback = distill_fallback(cfg, h_tr, teacher, opts)
    arrays = export_arrays(cfg, cell, forest, fallback)
    calibration = None
    if with_fallback:
        # Latents the int8 fallback is calibrated on at export: a fixed subset of the training ones.
        pick = np.random.default_rng(opts.seed).permutation(len(h_tr))[:CALIBRATION_LATENTS]
        calibration = h_tr[np.sort(pick)].astype(np.float32)
    result = {
        "epochs": len(hist.history["loss"]),
        "fit_seconds": round(fit_s, 1),
        **{f"{name}_{k}": v for name, w in (("train", train), ("val", val), ("test", test))
           for k, v in evaluate(arrays, cfg, w, mean, std, dt_mode, uniform_dt).items()},
    }
    log(f"{label}: test accuracy {100 * result['test_accuracy']:.2f} % "
        f"(train {100 * result['train_accuracy']:.2f} %, val {100 * result['val_accuracy']:.2f} %)")
    return arrays, result, calibration


def run(source: str, out: Path, cfg_overrides: dict, window: int, synthetic_windows: int,
        opts: TrainOptions) -> artifact.Artifact:
    t_start = time.monotonic()
    ds = load_dataset(source, window, synthetic_windows, opts.seed)
    splits = split(ds, opts.seed)
    train, val, test = splits
    mean = train.x.reshape(-1, train.x.shape[-1]).mean(axis=0)
    std = np.maximum(train.x.reshape(-1, train.x.shape[-1]).std(axis=0), STD_FLOOR)
    uniform_dt = float(time_steps(train.t)[:, 1:].mean())
    cfg = ModelConfig(inputs=train.x.shape[-1], classes=len(ds.class_names), **cfg_overrides)

    arrays, main, calibration = train_variant(cfg, splits, mean, std, "timestamps", uniform_dt, opts, "model", True)
    arrays["input.mean"] = mean.astype(np.float32)
    arrays["input.std"] = std.astype(np.float32)
    metrics = {"model": main}

    log(f"solver error against DOP853 on {opts.solver_check_windows} test windows")
    metrics["solver_error"] = solver_error(arrays, cfg, test, mean, std, opts.solver_check_windows)

    if opts.ablations:
        _, metrics["ablation_single_leaf"], _ = train_variant(
            replace(cfg, depth=0), splits, mean, std, "timestamps", uniform_dt, opts, "ablation: single leaf", False)
        _, metrics["ablation_uniform_dt"], _ = train_variant(
            cfg, splits, mean, std, "uniform", uniform_dt, opts, "ablation: uniform dt", False)

    config = {
        "model": cfg.to_dict(),
        "leaves": cfg.leaves,
        "window_samples": window,
        "dt_mode": "timestamps",
        "class_names": list(ds.class_names),
        "channel_names": list(ds.channel_names),
        "dataset": ds.spec,
        "seed": opts.seed,
        "training": {"epochs": opts.epochs, "batch_size": opts.batch_size, "learning_rate": opts.learning_rate,
                     "loss_steps": loss_steps(window).tolist()},
    }
    metrics["split_windows"] = {"train": len(train), "val": len(val), "test": len(test)}
    metrics["total_seconds"] = round(time.monotonic() - t_start, 1)
    from host import __version__

    art = artifact.write(out, config, arrays, metrics,
                         extra_arrays={"test.npz": {"timestamps": test.t, "values": test.x, "labels": test.y},
                                       "calibration.npz": {"h": calibration}},
                         created_by=f"rtlnf {__version__} codegen train")
    return art
