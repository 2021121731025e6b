"""`codegen export`: the generated C model equals the golden model; bad artifacts fail clearly."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from codegen.export import export
from codegen.quantize import formats as F
from codegen.quantize import golden
from codegen.quantize.encoder import quantize_encoder, quantize_inputs, timestamps_to_dt_us
from host import artifact
from tests.conftest import REPO_ROOT
from tests.test_ltc_q15 import Model, State, bind, random_inputs


def random_artifact(path, hidden, inputs, classes=3, windows=6, window=40, seed=0):
    """An artifact with random (untrained) weights of the given sizes and random test windows."""
    rng = np.random.default_rng(seed)
    trees, depth, E = 2, 2, 4
    a = {
        "encoder.W": rng.standard_normal((inputs, hidden)), "encoder.U": rng.standard_normal((hidden, hidden)) * 0.3,
        "encoder.b": rng.standard_normal(hidden), "encoder.tau": rng.uniform(1, 50, hidden),
        "encoder.A": np.tanh(rng.standard_normal(hidden)), "input.mean": rng.standard_normal(inputs),
        "input.std": rng.uniform(0.5, 2, inputs), "router.w": rng.standard_normal((hidden, trees * 3)),
        "router.b": np.zeros(trees * 3), "experts.W1": rng.standard_normal((4, hidden, E)),
        "experts.b1": np.zeros((4, E)), "experts.W2": rng.standard_normal((4, E, classes)),
        "experts.b2": np.zeros((4, classes)), "fallback.W1": rng.standard_normal((hidden, 8)),
        "fallback.b1": np.zeros(8), "fallback.W2": rng.standard_normal((8, classes)), "fallback.b2": np.zeros(classes),
    }
    config = {"model": {"inputs": inputs, "classes": classes, "hidden": hidden, "substeps": 2, "trees": trees,
                        "depth": depth, "expert_hidden": E, "fallback_hidden": 8, "time_unit_s": 0.01,
                        "tau_min": 0.5},
              "class_names": [f"c{i}" for i in range(classes)], "channel_names": [f"x{i}" for i in range(inputs)]}
    t = np.cumsum(rng.uniform(0.001, 0.02, (windows, window)), axis=1)
    test = {"timestamps": t - t[:, :1], "values": rng.standard_normal((windows, window, inputs)).astype(np.float32),
            "labels": rng.integers(0, classes, (windows, window))}
    calibration = {"h": np.tanh(rng.standard_normal((200, hidden))).astype(np.float32)}
    return artifact.write(path, config, {k: v.astype(np.float32) for k, v in a.items()},
                          extra_arrays={"test.npz": test, "calibration.npz": calibration})


def load_generated(host_c, gen_dir):
    lib = bind(host_c(["solver/ltc_q15.c", "solver/sigmoid_q15_table.c", "solver/fc_s8.c", gen_dir / "rtlnf_model.c"],
                      include_dirs=[gen_dir]))
    return lib, Model.in_dll(lib, "rtlnf_model_encoder")


@pytest.mark.parametrize("hidden,inputs", [(8, 1), (32, 12), (119, 72)])   # 119: the widest LATENT a frame carries
def test_generated_c_equals_golden(host_c, tmp_path, hidden, inputs):
    art = random_artifact(tmp_path / "art", hidden, inputs, seed=hidden + inputs)
    manifest = export(art.path, tmp_path / "gen")
    assert manifest["model_hash_short"] == art.short_hash
    assert f'#define RTLNF_MODEL_HASH "{art.short_hash}"' in (tmp_path / "gen" / "rtlnf_model.h").read_text()
    lib, model = load_generated(host_c, tmp_path / "gen")
    enc, in_scale = quantize_encoder(art.arrays, art.config)
    assert (model.hidden, model.inputs, model.dt_max_us) == (hidden, inputs, enc.dt_max_us)
    rng = np.random.default_rng(1)
    x, dt = random_inputs(rng, 200, inputs)
    state = State(lib, model)
    h_g = np.zeros(hidden, dtype=np.int64)
    for k in range(len(dt)):
        h_c = state.step(x[k], dt[k])
        h_g = golden.step(enc, h_g, x[k].astype(np.int64), dt[k])
        assert np.array_equal(h_c, h_g), f"step {k}"


def test_export_report_of_a_trained_model(tiny_artifact, tmp_path):
    src, _ = tiny_artifact
    art_dir = tmp_path / "art"
    shutil.copytree(src, art_dir)
    proc = subprocess.run([sys.executable, "-m", "codegen", "export", str(art_dir), "--out", str(tmp_path / "gen")],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((art_dir / "export.json").read_text())
    r = m["report"]
    assert 0 < r["latent_error_max_abs"] < 0.05, r
    assert r["latent_error_mean_abs"] < r["latent_error_max_abs"]
    assert r["sigmoid_table_max_error"] < 5e-4
    assert f"model {m['model_hash_short']}" in proc.stdout
    # the fixed-point latents really are what the report measured: spot-check one window
    art = artifact.load(art_dir)
    enc, in_scale = quantize_encoder(art.arrays, art.config)
    test = art.test_split()
    h = golden.encode(enc, quantize_inputs(test["values"][:1], in_scale), timestamps_to_dt_us(test["timestamps"][:1]))
    assert np.abs(h).max() <= F.H_MAX_Q15 and np.abs(h).max() > 1000


def run_export(path, out):
    return subprocess.run([sys.executable, "-m", "codegen", "export", str(path), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def test_bad_artifacts_fail_with_one_line(tmp_path):
    proc = run_export(tmp_path / "missing", tmp_path / "gen")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not an artifact directory" in proc.stderr
    art = random_artifact(tmp_path / "nan", 8, 2)
    weights = dict(art.arrays)
    weights["encoder.U"] = weights["encoder.U"].copy()
    weights["encoder.U"][0, 0] = np.nan
    artifact.write(art.path, art.config, weights)
    proc = run_export(art.path, tmp_path / "gen")
    assert proc.returncode == 2 and "encoder.U holds NaN or inf" in proc.stderr
    huge = random_artifact(tmp_path / "huge", 8, 2)
    weights = dict(huge.arrays, **{"encoder.b": np.full(8, 1e9, dtype=np.float32)})
    artifact.write(huge.path, huge.config, weights)
    proc = run_export(huge.path, tmp_path / "gen")
    assert proc.returncode == 2 and "bias 1e+09 are too large for the int32 accumulator" in proc.stderr
    wide = random_artifact(tmp_path / "wide", 120, 2)        # a LATENT of 120 neurons: 255 bytes of body
    proc = run_export(wide.path, tmp_path / "gen")
    assert proc.returncode == 2 and "a LATENT of 120 neurons does not fit a link frame: at most 119" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_train_refuses_a_hidden_size_the_link_cannot_carry(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "codegen", "train", "--out", str(tmp_path / "a"), "--hidden", "120"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 2 and "--hidden 120" in proc.stderr and "at most 119" in proc.stderr
    assert not (tmp_path / "a").exists()
    shapes = random_artifact(tmp_path / "shapes", 8, 2)
    cfg = dict(shapes.config, model=dict(shapes.config["model"], hidden=9))
    artifact.write(shapes.path, cfg, shapes.arrays)
    proc = run_export(shapes.path, tmp_path / "gen")
    assert proc.returncode == 2 and "has shape (2, 8), config says (2, 9)" in proc.stderr
    assert not (tmp_path / "gen").exists(), "nothing is written when export fails"
