"""Training end to end (tiny sizes), determinism, and the numpy runtimes against the Keras model."""

import json

import numpy as np
import pytest

from host import artifact
from host.runtime.forest import Forest, path_matrices
from tests.conftest import train_cli
from tests.test_recordings import make_recording, write_csv


@pytest.fixture(scope="module")
def tiny_synthetic(tiny_artifact):
    return tiny_artifact


def test_synthetic_training_writes_a_loadable_artifact(tiny_synthetic):
    out, proc = tiny_synthetic
    art = artifact.load(out)
    assert f"model hash {art.short_hash}" in proc.stdout
    m = art.metrics()
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "test_fallback_accuracy"):
        assert 0.0 <= m["model"][key] <= 1.0
    assert {"ablation_single_leaf", "ablation_uniform_dt", "solver_error"} <= set(m)
    assert m["solver_error"]["max_abs"] > 0
    cfg = art.config["model"]
    assert art.arrays["encoder.W"].shape == (12, 8)
    assert art.arrays["router.w"].shape == (8, cfg["trees"] * 3)
    assert art.arrays["experts.W1"].shape[0] == 4
    assert np.all(art.arrays["encoder.tau"] > 0) and np.all(np.abs(art.arrays["encoder.A"]) < 1)
    test = art.test_split()
    assert test["values"].shape[1:] == (48, 12) and len(test["labels"]) == m["split_windows"]["test"]


def test_same_seed_same_hash_other_seed_other_hash(tiny_synthetic, tmp_path):
    out, _ = tiny_synthetic
    train_cli(tmp_path / "again", "--windows", "90", "--seed", "3", "--no-ablations")
    train_cli(tmp_path / "other", "--windows", "90", "--seed", "4", "--no-ablations")
    first = artifact.load(out)
    again = artifact.load(tmp_path / "again")
    other = artifact.load(tmp_path / "other")
    assert again.model_hash == first.model_hash
    assert other.model_hash != first.model_hash


def test_trains_on_user_npz_and_csv(tmp_path):
    t, v, seq, lab = make_recording(n_seq=8, n=120, channels=3)
    np.savez(tmp_path / "rec.npz", timestamps=t, values=v, sequence=seq, labels=np.array(["a", "b"])[lab])
    write_csv(tmp_path / "rec.csv", t, v, seq, np.repeat(lab, 120))
    for name in ("rec.npz", "rec.csv"):
        train_cli(tmp_path / f"art-{name}", "--dataset", str(tmp_path / name), "--window", "40", "--no-ablations")
        art = artifact.load(tmp_path / f"art-{name}")
        assert art.config["model"]["inputs"] == 3 and art.config["model"]["classes"] == 2
        assert art.config["dataset"]["kind"] == "recording"
    assert artifact.load(tmp_path / "art-rec.npz").config["class_names"] == ["a", "b"]


# --- numerics: Keras model == numpy runtimes ---------------------------------------------------

@pytest.fixture(scope="module")
def keras_parts():
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from codegen.training.config import ModelConfig
    from codegen.training.model import build_fallback, build_training_model, export_arrays

    cfg = ModelConfig(inputs=5, classes=4, hidden=16, substeps=3, trees=3, depth=3)
    steps = np.arange(10, 30)
    model, encoder, cell, forest = build_training_model(cfg, 30, steps, seed=1)
    fallback = build_fallback(cfg, seed=1)
    return cfg, model, encoder, cell, forest, export_arrays(cfg, cell, forest, fallback), fallback


def test_numpy_encoder_and_forest_match_keras(keras_parts):
    from codegen.training.reference import encode

    cfg, model, encoder, cell, forest, arrays, _ = keras_parts
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 30, 5)).astype(np.float32)
    dt = rng.uniform(0, 3, (6, 30)).astype(np.float32)
    dt[:, 5] = 0.0
    dt[:, 7] = 500.0   # a huge step: the fused scheme stays bounded
    inp = np.concatenate([x, dt[..., None]], axis=-1)
    h_keras = encoder.predict(inp, verbose=0)
    h_np = encode(arrays, cfg.substeps, x, dt)
    assert np.abs(h_np - h_keras).max() < 1e-5
    assert np.all(np.abs(h_np) < 1.0)
    assert np.array_equal(h_np[:, 5], h_np[:, 4]), "dt = 0 must leave the state unchanged"
    y_keras = model.predict(inp, verbose=0)
    y_np, p = Forest(arrays, cfg.trees, cfg.depth).predict(h_np[:, 10:30])
    assert np.abs(y_np - y_keras).max() < 1e-5
    assert np.allclose(p.sum(-1), 1.0) and np.allclose(y_np.sum(-1), 1.0)


def test_fallback_numpy_matches_keras(keras_parts):
    from host.runtime.forest import fallback_predict

    cfg, *_, arrays, fallback = keras_parts
    h = np.random.default_rng(1).uniform(-1, 1, (50, cfg.hidden)).astype(np.float32)
    assert np.abs(fallback_predict(arrays, h) - fallback.predict(h, verbose=0)).max() < 1e-6


def test_most_probable_path_is_the_argmax_tree_leaf():
    rng = np.random.default_rng(2)
    trees, depth, H = 3, 3, 6
    arrays = {"router.w": rng.standard_normal((H, trees * 7)), "router.b": rng.standard_normal(trees * 7),
              "experts.W1": rng.standard_normal((8, H, 4)), "experts.b1": np.zeros((8, 4)),
              "experts.W2": rng.standard_normal((8, 4, 2)), "experts.b2": np.zeros((8, 2))}
    f = Forest(arrays, trees, depth)
    for h in rng.standard_normal((20, H)):
        path = f.most_probable_path(h)
        tl = f.tree_leaf_probs(h)
        assert path.probability == pytest.approx(tl.max())
        assert tl[path.tree, path.leaf] == pytest.approx(tl.max())
        assert path.turns == format(path.leaf, f"0{depth}b").replace("0", "L").replace("1", "R")
        # walking the turns from the root reaches the leaf's parent
        node = 0
        for n, turn in zip(path.nodes, path.turns):
            assert n == node
            node = 2 * node + (2 if turn == "R" else 1)


def test_path_matrices_route_every_leaf_once():
    left, right = path_matrices(3)
    assert np.all(left + right <= 1)
    assert np.all((left + right).sum(axis=0) == 3)      # depth decisions per leaf
    assert left[0, :4].all() and right[0, 4:].all()     # root splits leaves in halves


def test_fixed_step_scheme_converges_to_the_ode_reference():
    from codegen.training.reference import encode, ode_reference

    rng = np.random.default_rng(3)
    H, I = 6, 3
    arrays = {"encoder.W": rng.standard_normal((I, H)), "encoder.U": 0.5 * rng.standard_normal((H, H)),
              "encoder.b": rng.standard_normal(H), "encoder.tau": rng.uniform(1, 20, H),
              "encoder.A": rng.uniform(-0.9, 0.9, H)}
    x = rng.standard_normal((40, I))
    dt = rng.uniform(0.1, 2.0, 40)
    ref = ode_reference(arrays, x, dt)
    errors = [np.abs(encode(arrays, s, x, dt) - ref).max() for s in (1, 4, 16, 64)]
    # A first-order scheme: 4x the sub-steps, about 1/4 of the error.
    assert all(a / b > 3.0 for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 5e-3


def test_artifact_rejects_tampering(tiny_synthetic, tmp_path):
    import shutil

    src, _ = tiny_synthetic
    bad = tmp_path / "bad"
    shutil.copytree(src, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["hidden"] = 9
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(artifact.ArtifactError, match="config.json: checksum does not match"):
        artifact.load(bad)
    (bad / "config.json").unlink()
    with pytest.raises(artifact.ArtifactError, match="config.json: missing"):
        artifact.load(bad)
    with pytest.raises(artifact.ArtifactError, match="manifest.json: missing"):
        artifact.load(tmp_path)
    a = artifact.load(src)
    nan = dict(a.arrays, **{"encoder.b": np.full_like(a.arrays["encoder.b"], np.nan)})
    artifact.write(tmp_path / "nan", a.config, nan)
    with pytest.raises(artifact.ArtifactError, match="encoder.b holds NaN or inf"):
        artifact.load(tmp_path / "nan")
    m = json.loads((src / "manifest.json").read_text())
    m["format_version"] = 99
    shutil.copytree(src, tmp_path / "future")
    (tmp_path / "future" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(artifact.ArtifactError, match="format version 99 is not supported"):
        artifact.load(tmp_path / "future")
