"""User recordings (NPZ and CSV): valid files load and window; every bad file gives one clear line."""

import re
import subprocess
import sys

import numpy as np
import pytest

from codegen.training import recordings
from tests.conftest import REPO_ROOT


def make_recording(n_seq=4, n=50, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    ts, vals, seq, labels = [], [], [], []
    for s in range(n_seq):
        t = np.cumsum(rng.uniform(0.002, 0.01, n))
        ts.append(t)
        vals.append(rng.standard_normal((n, channels)))
        seq.append(np.full(n, 10 + s))
        labels.append(s % 2)
    return np.concatenate(ts), np.concatenate(vals), np.concatenate(seq), np.array(labels)


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def write_csv(path, t, v, seq, per_sample_labels, header=None):
    header = header or ["sequence", "timestamp", "label"] + [f"c{i}" for i in range(v.shape[1])]
    lines = [",".join(header)]
    for i in range(len(t)):
        lines.append(",".join([str(seq[i]), repr(float(t[i])), str(per_sample_labels[i])] +
                              [repr(float(x)) for x in v[i]]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_npz_with_sequence_labels_and_names(tmp_path):
    t, v, seq, lab = make_recording()
    names = np.array(["idle", "shake"])
    rec = recordings.load(write_npz(tmp_path / "r.npz", timestamps=t, values=v, sequence=seq,
                                    labels=names[lab], class_names=names))
    assert rec.class_names == ("idle", "shake")
    assert rec.values.shape == (200, 3)
    assert list(rec.labels[::50]) == [0, 1, 0, 1]
    w = recordings.to_windows(rec, 20)
    assert w.x.shape[1:] == (20, 3)
    assert np.all(w.t[:, 0] == 0) and np.all(np.diff(w.t, axis=1) > 0)
    # windows never straddle two sequences
    assert set(np.unique(w.group)) == {10, 11, 12, 13}


def test_csv_round_trip_matches_npz(tmp_path):
    t, v, seq, lab = make_recording()
    per_sample = np.repeat(lab, 50)
    a = recordings.load(write_csv(tmp_path / "r.csv", t, v, seq, per_sample))
    b = recordings.load(write_npz(tmp_path / "r.npz", timestamps=t, values=v, sequence=seq, labels=per_sample))
    assert np.array_equal(a.labels, b.labels)
    assert np.allclose(a.values, b.values) and np.array_equal(a.timestamps, b.timestamps)
    assert a.channel_names == ("c0", "c1", "c2")


BAD_NPZ = {
    "missing arrays ['labels']": lambda t, v, s, l: dict(timestamps=t, values=v, sequence=s),
    "values contain NaN or inf (first at sample 7, channel 1)":
        lambda t, v, s, l: dict(timestamps=t, values=_poke(v, (7, 1), np.nan), sequence=s, labels=l),
    "timestamps contain NaN or inf": lambda t, v, s, l: dict(timestamps=_poke(t, 3, np.inf), values=v, sequence=s, labels=l),
    "timestamps not increasing at sample 5":
        lambda t, v, s, l: dict(timestamps=_poke(t, 5, t[3]), values=v, sequence=s, labels=l),
    "200 timestamps but 199 rows of values": lambda t, v, s, l: dict(timestamps=t, values=v[:-1], sequence=s, labels=l),
    "labels has 3 entries": lambda t, v, s, l: dict(timestamps=t, values=v, sequence=s, labels=l[:3]),
    "unknown labels ['walk']": lambda t, v, s, l: dict(timestamps=t, values=v, sequence=s,
                                                       labels=np.array(["idle", "shake", "walk", "idle"]),
                                                       class_names=np.array(["idle", "shake"])),
    "no samples": lambda t, v, s, l: dict(timestamps=t[:0], values=v[:0], sequence=s[:0], labels=l[:0]),
}


def _poke(a, idx, value):
    a = a.copy()
    a[idx] = value
    return a


def run_train(path, *extra):
    return subprocess.run([sys.executable, "-m", "codegen", "train", "--dataset", str(path), "--out",
                           str(path.parent / "art"), *extra], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)


@pytest.mark.parametrize("problem", sorted(BAD_NPZ))
def test_bad_npz_is_one_clear_error(tmp_path, problem):
    t, v, seq, lab = make_recording()
    path = write_npz(tmp_path / "bad.npz", **BAD_NPZ[problem](t, v, seq, lab))
    with pytest.raises(recordings.RecordingError, match=re.escape(problem)):
        recordings.load(path)


BAD_CSV = {
    "missing columns ['label']": lambda lines: [lines[0].replace(",label,", ",lbl,")] + lines[1:],
    "line 4: column c1 is not a number: 'abc'": lambda lines: lines[:3] + [_field(lines[3], 4, "abc")] + lines[4:],
    "values contain NaN or inf": lambda lines: lines[:3] + [_field(lines[3], 4, "nan")] + lines[4:],
    "line 6 has 5 fields, header has 6": lambda lines: lines[:5] + [lines[5].rsplit(",", 1)[0]] + lines[6:],
    "timestamps not increasing at sample 9": lambda lines: lines[:10] + [_field(lines[10], 1, "0.0")] + lines[11:],
    "empty file": lambda lines: [],
    "no samples": lambda lines: lines[:1],
}


def _field(line, i, value):
    f = line.split(",")
    f[i] = value
    return ",".join(f)


@pytest.mark.parametrize("problem", sorted(BAD_CSV))
def test_bad_csv_is_one_clear_error_line_from_the_cli(tmp_path, problem):
    t, v, seq, lab = make_recording()
    good = write_csv(tmp_path / "good.csv", t, v, seq, np.repeat(lab, 50)).read_text().splitlines()
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(BAD_CSV[problem](good)) + ("\n" if problem != "empty file" else ""))
    proc = run_train(path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("codegen train: error: ") and problem in lines[0], lines[0]


def test_missing_file_and_unknown_format(tmp_path):
    proc = run_train(tmp_path / "nope.npz")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    (tmp_path / "data.parquet").write_bytes(b"x")
    proc = run_train(tmp_path / "data.parquet")
    assert proc.returncode == 2 and "unknown format (expected .npz or .csv)" in proc.stderr
