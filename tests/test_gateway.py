"""The gateway's runtime, model store and command line, without an emulator: predictions equal the
host pipeline on fixed-point latents, the options (int8 leaves, top-k, routing cache) do what they
say, a model mismatch is refused with both hashes, and bad options give one line and exit 2."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from io import StringIO

import numpy as np
import pytest

from host import artifact
from host.link.sensor import Hello
from host.runtime.engine import Predictor, RouteCache, RuntimeConfigError
from host.runtime.forest import Forest
from host.serving.gateway import Gateway
from host.serving.model_store import ModelMismatch, ModelStore, StoreError
from tests.conftest import REPO_ROOT
from tests.test_sensor_app import golden_latents


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return artifact.load(tiny_model[1])


@pytest.fixture(scope="module")
def latents(tiny):
    _, _, h = golden_latents(tiny, 4)
    return h.reshape(-1, h.shape[-1])


def hello_for(art, model_hash=None, **dims):
    m = art.config["model"]
    d = dict(hidden=m["hidden"], inputs=m["inputs"], classes=len(art.config["class_names"]))
    d.update(dims)
    return Hello("0.1.0", "test", "b", model_hash or art.short_hash, d["hidden"], d["inputs"], d["classes"], 2)


def test_predictions_equal_the_host_pipeline_on_the_same_fixed_point_latents(tiny, latents):
    b = Predictor(tiny).predict(latents)
    probs, p = Forest.from_config(tiny.arrays, tiny.config).predict(latents / 32768.0)
    np.testing.assert_allclose(b.probs, probs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.p, p, rtol=0, atol=1e-12)
    assert np.array_equal(np.argmax(b.probs, 1), np.argmax(probs, 1))


def test_reported_path_is_the_forests_most_probable_path(tiny, latents):
    pred = Predictor(tiny)
    b = pred.predict(latents[:20])
    forest = Forest.from_config(tiny.arrays, tiny.config)
    for i in range(20):
        ref = forest.most_probable_path(latents[i] / 32768.0)
        assert (int(b.tree[i]), int(b.leaf[i]), pred.path_turns(int(b.leaf[i]))) == (ref.tree, ref.leaf, ref.turns)
        assert b.path_p[i] == pytest.approx(ref.probability, abs=1e-12)


def test_top_k_all_leaves_is_exact_and_top_1_is_the_best_leafs_expert(tiny, latents):
    full = Predictor(tiny).predict(latents)
    leaves = Forest.from_config(tiny.arrays, tiny.config).leaves
    np.testing.assert_allclose(Predictor(tiny, top_k=leaves).predict(latents).probs, full.probs, atol=1e-12)
    top1 = Predictor(tiny, top_k=1).predict(latents)
    scores = Forest.from_config(tiny.arrays, tiny.config).expert_scores(latents / 32768.0)
    best = np.argmax(full.p, axis=1)
    y = scores[np.arange(len(best)), best]
    e = np.exp(y - y.max(1, keepdims=True))
    np.testing.assert_allclose(top1.probs, e / e.sum(1, keepdims=True), atol=1e-12)
    with pytest.raises(RuntimeConfigError, match="leaves"):
        Predictor(tiny, top_k=leaves + 1)


def test_routing_cache_reuses_probabilities_within_its_ttl(tiny, latents):
    pred = Predictor(tiny)
    cache = RouteCache(ttl_us=10_000)
    t_us = np.array([0, 4_000, 9_999, 10_000, 30_000, 31_000])
    b = pred.predict(latents[:6], t_us, cache)
    fresh = pred.predict(latents[:6]).p
    assert (cache.misses, cache.hits) == (3, 3)
    for i, src in enumerate([0, 0, 0, 3, 4, 4]):
        np.testing.assert_allclose(b.p[i], fresh[src], atol=1e-12)
    b2 = pred.predict(latents[6:7], np.array([35_000]), cache)            # the cache carries across batches
    np.testing.assert_allclose(b2.p[0], fresh[4], atol=1e-12)


def test_int8_leaves_are_tflite_micro_bit_exact_and_agree_with_float(tiny, latents):
    from codegen.quantize import fallback as FB
    pred = Predictor(tiny, leaves="int8")
    x = pred.int8.quantize(latents / 32768.0)
    golden = FB.predict_s8(FB.parse((tiny.path / "leaves_int8.tflite").read_bytes()), x)
    assert np.array_equal(pred.int8.scores_int8(x), golden)       # batched and padded: still exact
    agree = np.mean(np.argmax(pred.predict(latents).probs, 1) == np.argmax(Predictor(tiny).predict(latents).probs, 1))
    assert agree >= 0.9


def test_store_matches_by_hash_and_names_both_hashes_when_it_cannot(tiny, tmp_path):
    store = ModelStore(tiny.path.parent)
    assert store.match(hello_for(tiny)).model_hash == tiny.short_hash
    with pytest.raises(ModelMismatch) as e:
        store.match(hello_for(tiny, model_hash="0123456789abcdef"))
    assert "0123456789abcdef" in str(e.value) and tiny.short_hash in str(e.value)
    with pytest.raises(ModelMismatch, match="reports 7 neurons"):
        store.match(hello_for(tiny, hidden=7))


def test_store_refuses_a_corrupt_artifact_and_an_empty_directory(tiny, tmp_path):
    bad = tmp_path / "models" / "bad"
    shutil.copytree(tiny.path, bad)
    w = bytearray((bad / "weights.npz").read_bytes())
    w[-100] ^= 0xFF
    (bad / "weights.npz").write_bytes(bytes(w))
    with pytest.raises(ModelMismatch, match="does not verify"):
        ModelStore(tmp_path / "models").match(hello_for(tiny))
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no exported artifacts"):
        ModelStore(tmp_path / "empty")


def gateway_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "host.gateway", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.mark.parametrize("args,message", [
    (["--port", "socket://127.0.0.1:9", "--models", "/nonexistent"], "--models /nonexistent: not a directory"),
    (["--port", "x", "--windows", "3"], "--windows needs --inject"),
    (["--port", "x", "--port", "x"], "the same --port is given twice"),
    (["--port", "x", "--top-k", "0"], "--top-k 0"),
    (["--port", "x", "--generator", "10"], "--generator needs a period"),
])
def test_bad_options_give_one_line_and_exit_2(args, message):
    proc = gateway_cli(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_output_and_missing_int8_leaves_are_one_line_errors(tiny, tmp_path):
    proc = gateway_cli("--port", "x", "--models", str(tiny.path), "--out", str(tmp_path / "no" / "dir.jsonl"))
    assert proc.returncode == 2 and "--out" in proc.stderr and "Traceback" not in proc.stderr
    bare = tmp_path / "bare"
    shutil.copytree(tiny.path, bare)
    (bare / "leaves_int8.tflite").unlink()
    proc = gateway_cli("--port", "x", "--models", str(bare), "--leaves", "int8")
    assert proc.returncode == 2 and "leaves_int8.tflite: missing" in proc.stderr and "Traceback" not in proc.stderr


def test_an_absent_port_is_reported_and_retried_not_fatal(tiny):
    proc = gateway_cli("--port", "/dev/ttyRTLNF-absent", "--models", str(tiny.path), "--duration", "1.5")
    assert proc.returncode == 0, proc.stderr
    assert "cannot open /dev/ttyRTLNF-absent" in proc.stderr and "retrying" in proc.stderr
    assert "0 predictions written" in proc.stderr


def test_undecodable_bytes_lead_to_a_diagnosis(tiny):
    """A real TCP peer that sends only noise (as a wrong baud rate would): logged, counted, no output."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def noise():
        conn, _ = server.accept()
        rng = np.random.default_rng(0)
        try:
            while not stop.is_set():
                conn.sendall(rng.integers(1, 256, 64).astype(np.uint8).tobytes())   # no 0x00: never a frame
                time.sleep(0.02)
        except OSError:
            pass                                   # the gateway hung up first
        conn.close()

    threading.Thread(target=noise, daemon=True).start()
    log, out = StringIO(), StringIO()
    gw = Gateway([f"socket://127.0.0.1:{server.getsockname()[1]}"], ModelStore(tiny.path), out, 115200,
                 log_stream=log)
    gw.start()
    time.sleep(3.6)
    gw.stop()
    stop.set()
    server.close()
    assert "no frame decoded: wrong baud rate (this side: 115200) or not an RT-LNF sensor?" in log.getvalue()
    assert out.getvalue() == ""


def test_host_never_imports_tensorflow_or_codegen(tiny):
    code = ("import sys, host.gateway, host.serving.gateway, host.serving.view, host.runtime.engine, host.demo\n"
            "from host import artifact\n"
            f"p = host.runtime.engine.Predictor(artifact.load({str(tiny.path)!r}))\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'codegen')]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_socket_reads_take_everything_received_at_once():
    """pyserial's socket:// in_waiting is 0/1; read_some must still drain what arrived in one call."""
    from host.link.transport import open_port, read_some
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = open_port(f"socket://127.0.0.1:{server.getsockname()[1]}")
    conn, _ = server.accept()
    conn.sendall(bytes(range(256)) * 16)
    time.sleep(0.2)
    got = read_some(port)
    assert len(got) > 1000 and got == (bytes(range(256)) * 16)[:len(got)]
    conn.close()
    time.sleep(0.1)
    rest = b""
    with pytest.raises(Exception, match="disconnected"):
        while True:
            rest += read_some(port)
    port.close()
    server.close()


def test_live_view_runs_and_leaves_stdout_to_the_json_lines(tiny):
    proc = subprocess.run([sys.executable, "-m", "host.gateway", "--port", "socket://127.0.0.1:9", "--models",
                           str(tiny.path), "--view", "--duration", "1.2"], capture_output=True, text=True,
                          timeout=60, cwd=REPO_ROOT, env={**__import__("os").environ, "COLUMNS": "160"})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "RT-LNF gateway" in proc.stderr and "socket://127.0.0.1:9" in proc.stderr
    assert proc.stdout == ""
