"""User recordings: the file formats, their validation, and windowing into training examples.

NPZ (numpy.savez) with these arrays:
    timestamps  (N,)    seconds, strictly increasing within each sequence
    values      (N, C)  channel values, finite
    sequence    (N,)    integer id of the recording each sample belongs to (samples of one
                        sequence contiguous); optional, default: all one sequence
    labels      (N,) per-sample labels, or (S,) one label per sequence (in order of appearance);
                integers 0..K-1, or strings (class names)
    class_names (K,)    optional; fixes the class order (required to name integer labels)
    channel_names (C,)  optional

CSV with a header row: `sequence,timestamp,label,<one column per channel>`; `sequence` may be
omitted (one sequence); `label` holds integers or class names; one row per sample.

Every problem is reported as one RecordingError naming the file and what is wrong.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class RecordingError(Exception):
    pass


@dataclass
class Recording:
    """Samples of one or more sequences, validated."""
    timestamps: np.ndarray      # (N,) float64 s
    values: np.ndarray          # (N, C) float32
    sequence: np.ndarray        # (N,) int64
    labels: np.ndarray          # (N,) int64 in 0..K-1
    class_names: tuple[str, ...]
    channel_names: tuple[str, ...]


@dataclass
class Windows:
    """Fixed-length training examples: per-sample timestamps, values and labels, plus their source."""
    t: np.ndarray               # (W, L) float64 s, relative to the window start
    x: np.ndarray               # (W, L, C) float32
    y: np.ndarray               # (W, L) int64
    group: np.ndarray           # (W,) source sequence: windows of one sequence stay in one split

    def __len__(self) -> int:
        return self.t.shape[0]

    def take(self, idx: np.ndarray) -> "Windows":
        return Windows(self.t[idx], self.x[idx], self.y[idx], self.group[idx])


def _labels_to_ids(path, raw: np.ndarray, class_names):
    if raw.dtype.kind in "US" or raw.dtype == object:
        names = [str(v) for v in raw]
        if class_names is None:
            class_names = tuple(sorted(set(names)))
        lookup = {n: i for i, n in enumerate(class_names)}
        unknown = sorted(set(names) - set(lookup))
        if unknown:
            raise RecordingError(f"{path}: unknown labels {unknown[:5]} (class_names: {list(class_names)})")
        return np.array([lookup[n] for n in names], dtype=np.int64), tuple(class_names)
    if raw.dtype.kind not in "iu":
        if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
            raw = raw.astype(np.int64)
        else:
            raise RecordingError(f"{path}: labels must be integers or class names, got {raw.dtype}")
    ids = raw.astype(np.int64)
    k = int(ids.max()) + 1 if ids.size else 0
    if class_names is None:
        class_names = tuple(str(i) for i in range(k))
    if ids.min(initial=0) < 0 or k > len(class_names):
        bad = sorted(set(ids[(ids < 0) | (ids >= len(class_names))].tolist()))
        raise RecordingError(f"{path}: unknown labels {bad[:5]} ({len(class_names)} classes)")
    return ids, tuple(class_names)


def _validate(path, timestamps, values, sequence, labels, class_names, channel_names) -> Recording:
    n = timestamps.shape[0] if timestamps.ndim == 1 else -1
    if timestamps.ndim != 1:
        raise RecordingError(f"{path}: timestamps must be one-dimensional, got shape {timestamps.shape}")
    if n == 0:
        raise RecordingError(f"{path}: no samples")
    if values.ndim != 2:
        raise RecordingError(f"{path}: values must be (samples, channels), got shape {values.shape}")
    if values.shape[0] != n:
        raise RecordingError(f"{path}: {n} timestamps but {values.shape[0]} rows of values")
    if sequence.shape != (n,):
        raise RecordingError(f"{path}: {n} timestamps but sequence has shape {sequence.shape}")
    try:
        timestamps = timestamps.astype(np.float64)
        values = values.astype(np.float32)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"{path}: non-numeric timestamps or values ({exc})") from None
    if not np.all(np.isfinite(timestamps)):
        raise RecordingError(f"{path}: timestamps contain NaN or inf (first at sample {int(np.argmin(np.isfinite(timestamps)))})")
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise RecordingError(f"{path}: values contain NaN or inf (first at sample {r}, channel {c})")
    starts = np.flatnonzero(np.r_[True, sequence[1:] != sequence[:-1]])
    seq_ids = sequence[starts]
    if len(set(seq_ids.tolist())) != seq_ids.size:
        raise RecordingError(f"{path}: the samples of each sequence must be contiguous")
    same_seq = sequence[1:] == sequence[:-1]
    not_increasing = same_seq & (np.diff(timestamps) <= 0)
    if not_increasing.any():
        i = int(np.argmax(not_increasing)) + 1
        raise RecordingError(f"{path}: timestamps not increasing at sample {i} "
                             f"({timestamps[i - 1]!r} then {timestamps[i]!r}, sequence {sequence[i]})")
    if labels.shape[0] == n:
        per_sample = labels
    elif labels.ndim == 1 and labels.shape[0] == seq_ids.size:
        per_sample = np.repeat(labels, np.diff(np.r_[starts, n]))
    else:
        raise RecordingError(f"{path}: labels has {labels.shape[0]} entries: expected {n} (one per sample) "
                             f"or {seq_ids.size} (one per sequence)")
    ids, class_names = _labels_to_ids(path, per_sample, class_names)
    if len(class_names) < 2:
        raise RecordingError(f"{path}: at least two classes are needed, found {list(class_names)}")
    channel_names = tuple(channel_names) if channel_names is not None else tuple(
        f"ch{i}" for i in range(values.shape[1]))
    if len(channel_names) != values.shape[1]:
        raise RecordingError(f"{path}: {len(channel_names)} channel names for {values.shape[1]} channels")
    return Recording(timestamps, values, sequence.astype(np.int64), ids, class_names, channel_names)


def load_npz(path: Path) -> Recording:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingError(f"{path}: not a readable NPZ file ({exc})") from None
    missing = [k for k in ("timestamps", "values", "labels") if k not in data]
    if missing:
        raise RecordingError(f"{path}: missing arrays {missing} (has {sorted(data)})")
    ts = data["timestamps"]
    seq = data.get("sequence", np.zeros(ts.shape[:1], dtype=np.int64))
    cn = tuple(str(c) for c in data["class_names"]) if "class_names" in data else None
    ch = tuple(str(c) for c in data["channel_names"]) if "channel_names" in data else None
    return _validate(path, ts, data["values"], seq, data["labels"], cn, ch)


def load_csv(path: Path) -> Recording:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: unreadable ({exc})") from None
    if not rows:
        raise RecordingError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("timestamp", "label") if c not in header]
    if missing:
        raise RecordingError(f"{path}: missing columns {missing} (header: {header})")
    channels = [c for c in header if c not in ("sequence", "timestamp", "label")]
    if not channels:
        raise RecordingError(f"{path}: no channel columns besides sequence, timestamp, label")
    body = rows[1:]
    if not body:
        raise RecordingError(f"{path}: no samples")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise RecordingError(f"{path}: line {i + 2} has {len(r)} fields, header has {len(header)}")
    col = {c: [r[header.index(c)].strip() for r in body] for c in header}

    def numeric(name, dtype):
        try:
            return np.array(col[name], dtype=dtype)
        except ValueError:
            bad = next(i for i, v in enumerate(col[name]) if not _parses(v, dtype))
            raise RecordingError(f"{path}: line {bad + 2}: column {name} is not a number: {col[name][bad]!r}") from None

    ts = numeric("timestamp", np.float64)
    values = np.stack([numeric(c, np.float64) for c in channels], axis=1)
    seq = numeric("sequence", np.int64) if "sequence" in col else np.zeros(len(body), dtype=np.int64)
    raw_labels = col["label"]
    labels = (np.array(raw_labels, dtype=np.int64) if all(_parses(v, np.int64) for v in raw_labels)
              else np.array(raw_labels))
    return _validate(path, ts, values, seq, labels, None, tuple(channels))


def _parses(v: str, dtype) -> bool:
    try:
        dtype(v)
        return True
    except ValueError:
        return False


def load(path: Path | str) -> Recording:
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if path.suffix.lower() == ".csv":
        return load_csv(path)
    raise RecordingError(f"{path}: unknown format (expected .npz or .csv)")


def to_windows(rec: Recording, window: int, stride: int | None = None) -> Windows:
    """Cuts each sequence into windows of `window` samples (stride defaults to window // 2)."""
    stride = stride or max(1, window // 2)
    ts, xs, ys, gs = [], [], [], []
    bounds = np.flatnonzero(np.r_[True, rec.sequence[1:] != rec.sequence[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        for s in range(a, b - window + 1, stride):
            t = rec.timestamps[s:s + window]
            ts.append(t - t[0])
            xs.append(rec.values[s:s + window])
            ys.append(rec.labels[s:s + window])
            gs.append(rec.sequence[a])
    if not ts:
        longest = int(np.max(np.diff(bounds)))
        raise RecordingError(f"no sequence is as long as one window ({window} samples; longest has {longest}); "
                             "use a smaller --window")
    return Windows(np.stack(ts), np.stack(xs), np.stack(ys), np.array(gs))
