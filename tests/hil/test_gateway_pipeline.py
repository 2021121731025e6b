"""The gateway against the sensor firmware in QEMU (tiny model), through real sockets:
predictions equal the host pipeline, accuracy equals the offline quantized evaluation, /metrics
matches the JSON output, an emulator killed and restarted mid-stream is reconnected without losing
or repeating a frame, a sensor with an unknown model gets no predictions, fallback predictions pass
through, and Ctrl-C stops cleanly."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
from io import StringIO

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from host import artifact
from host.hil.emulator import free_loopback_port
from host.runtime.forest import Forest
from host.serving.gateway import Gateway
from host.serving.inject import Injector
from host.serving.metrics import Metrics
from host.serving.model_store import ModelStore
from tests.conftest import REPO_ROOT
from tests.test_sensor_app import golden_latents


def run_until(gw, cond, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def reference_probs(art, windows):
    _, _, h = golden_latents(art, windows)
    probs, _ = Forest.from_config(art.arrays, art.config).predict(h / 32768.0)
    return probs                                              # (windows, L, classes)


def test_two_sensors_predictions_equal_the_host_pipeline_and_metrics_match(emulator, tiny_model):
    art = artifact.load(tiny_model[1])
    windows = 3
    urls = [emulator().url, emulator().url]
    out, log = StringIO(), StringIO()
    metrics = Metrics()
    port = free_loopback_port()
    metrics.serve(port, "127.0.0.1")
    gw = Gateway(urls, ModelStore(tiny_model[1]), out, 921600, metrics,
                 injectors=[Injector.from_artifact(tiny_model[1], windows) for _ in urls], log_stream=log)
    gw.start()
    try:
        assert run_until(gw, gw.injection_done, 120), log.getvalue()
        time.sleep(0.2)
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        gw.stop()
    lines = [json.loads(s) for s in out.getvalue().splitlines()]
    expected = reference_probs(art, windows)
    for url in urls:
        mine = [r for r in lines if r["sensor"] == url]
        assert len(mine) == windows * expected.shape[1], "one line per latent"
        for r in mine:
            w, k = r["ref"]["window"], r["ref"]["index"]
            np.testing.assert_allclose(r["probs"], expected[w, k], atol=1e-6)   # lines round to 6 decimals
            assert r["class_index"] == int(np.argmax(expected[w, k])) and r["source"] == "gateway"
    labels = art.test_split()["labels"][:windows, -1]
    offline = float(np.mean(np.argmax(expected[:, -1], -1) == labels))
    correct, n = gw.accuracy()
    assert n == 2 * windows and correct / n == offline
    # /metrics (prometheus text format) counts exactly what the JSON output holds
    fams = {f.name: f for f in text_string_to_metric_families(scraped)}
    preds = {(s.labels["sensor"], s.labels["model"]): s.value for s in fams["rtlnf_predictions"].samples
             if s.name == "rtlnf_predictions_total"}
    for url in urls:
        assert preds[(url, art.short_hash)] == sum(1 for r in lines if r["sensor"] == url)
        latent_frames = [s.value for s in fams["rtlnf_frames"].samples if s.name == "rtlnf_frames_total"
                         and s.labels["sensor"] == url and s.labels["type"] == "LATENT"]
        assert latent_frames == [preds[(url, art.short_hash)]]
    hist = [s.value for s in fams["rtlnf_link_to_output_seconds"].samples
            if s.name == "rtlnf_link_to_output_seconds_count"]
    assert sum(hist) == len(lines)


def test_emulator_killed_and_restarted_mid_stream_is_reconnected_without_loss_or_duplicates(
        emulator, tiny_model, tmp_path):
    machine = emulator()
    port = machine.port
    out = tmp_path / "out.jsonl"
    gw = subprocess.Popen([sys.executable, "-m", "host.gateway", "--port", machine.url, "--models",
                           str(tiny_model[1]), "--inject", str(tiny_model[1]), "--windows", "8", "--out", str(out)],
                          cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 100):
            time.sleep(0.05)
        machine.kill()                                      # mid-stream, like a crash
        time.sleep(0.5)
        machine.start(port)                                 # the same socket comes back
        _, err = gw.communicate(timeout=120)
    finally:
        if gw.poll() is None:
            gw.kill()
    assert gw.returncode == 0, err
    assert "reconnected" in err and "1 reconnects" in err
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert {r["boot"] for r in lines} == {1, 2}
    for boot in (1, 2):
        seqs = [r["frame_seq"] for r in lines if r["boot"] == boot]
        assert seqs == sorted(set(seqs)), "a frame repeated or out of order"
    written = int(err.split(" predictions written")[0].split()[-1])
    latents = int(err.split(" latents,")[0].split()[-1])
    assert written == latents == len(lines), "every latent received intact is in the output once"
    windows_done = {r["ref"]["window"] for r in lines if r.get("ref") and r["ref"]["index"] == 47}
    assert windows_done == set(range(8))


def test_unknown_model_gets_no_predictions_and_a_clear_error(emulator, tiny_model, tmp_path):
    art = artifact.load(tiny_model[1])
    other = artifact.write(tmp_path / "store" / "other", {**art.config, "note": "another model"}, art.arrays)
    log, out = StringIO(), StringIO()
    gw = Gateway([emulator().url], ModelStore(tmp_path / "store"), out, 921600,
                 injectors=[Injector.from_artifact(tiny_model[1], 1)], log_stream=log)
    gw.start()
    try:
        assert run_until(gw, lambda: gw.sessions[0].state == "no model", 20), log.getvalue()
        time.sleep(1.0)
    finally:
        gw.stop()
    text = log.getvalue()
    assert f"sensor runs model {art.short_hash}" in text and other.short_hash in text
    assert out.getvalue() == "" and gw.sessions[0].counters.latents == 0   # nothing injected, nothing predicted


def test_sensor_fallback_predictions_pass_through_marked_and_latents_return(emulator, tiny_model):
    log, out = StringIO(), StringIO()
    gw = Gateway([emulator().url], ModelStore(tiny_model[1]), out, 921600, generator_period_us=5000,
                 log_stream=log)                            # the board's generator: samples never run out
    s = gw.sessions[0]
    gw.start()
    try:
        assert run_until(gw, lambda: s.counters.latents > 100, 30), log.getvalue()   # heartbeats were heard
        s.send_heartbeats = False
        assert run_until(gw, lambda: s.counters.local_predictions > 20, 30), log.getvalue()
        s.send_heartbeats = True
        n = s.counters.latents
        assert run_until(gw, lambda: s.counters.latents > n + 20, 30), log.getvalue()
    finally:
        gw.stop()
    sources = [json.loads(x)["source"] for x in out.getvalue().splitlines()]
    first_fb = sources.index("sensor-fallback")
    assert "gateway" in sources[first_fb:], "latents resume after heartbeats return"
    fb = [json.loads(x) for x in out.getvalue().splitlines() if '"sensor-fallback"' in x]
    assert all(len(r["scores_int8"]) == len(r["probs"]) and r["class_index"] == int(np.argmax(r["scores_int8"]))
               for r in fb)
    assert "sensor in fallback mode" in log.getvalue() and "latents are back" in log.getvalue()


def test_generator_mode_and_ctrl_c_stop_cleanly_with_a_summary(emulator, tiny_model, tmp_path):
    from host.link import sample_generator
    art = artifact.load(tiny_model[1])
    out = tmp_path / "gen.jsonl"
    gw = subprocess.Popen([sys.executable, "-m", "host.gateway", "--port", emulator().url, "--models",
                           str(tiny_model[1]), "--generator", "5000", "--out", str(out)],
                          cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 60):
            time.sleep(0.05)
        gw.send_signal(signal.SIGINT)
        _, err = gw.communicate(timeout=20)
    finally:
        if gw.poll() is None:
            gw.kill()
    assert gw.returncode == 0 and "Traceback" not in err, err
    assert "predictions written" in err
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert len(lines) >= 60
    # the board's generator is bit-exact with its Python twin: the host pipeline on golden latents
    from codegen.quantize import golden
    from codegen.quantize.encoder import quantize_encoder
    times, values = sample_generator.generate(60, art.config["model"]["inputs"], 5000, 1)
    dt = np.diff(np.array(times), prepend=0)
    h = golden.encode(quantize_encoder(art.arrays, art.config)[0], np.array(values)[None], dt[None])[0]
    probs, _ = Forest.from_config(art.arrays, art.config).predict(h / 32768.0)
    assert [r["t_us"] for r in lines[:60]] == times
    np.testing.assert_allclose([r["probs"] for r in lines[:60]], probs, atol=1e-6)


# --- irregular sampling, idle suspend, a lossy line, a gateway restart ----------------------------

def golden_probs(art, counts, t_us):
    """Host pipeline on the golden latents of one injected sequence."""
    from codegen.quantize import golden
    from codegen.quantize.encoder import quantize_encoder
    dt = np.diff(np.asarray(t_us, dtype=np.int64), prepend=int(t_us[0]))
    h = golden.encode(quantize_encoder(art.arrays, art.config)[0], np.asarray(counts)[None], dt[None])[0]
    return Forest.from_config(art.arrays, art.config).predict(h / 32768.0)[0]


def final_lines(lines):
    """The last answer to every (window, index): a restarted window supersedes its earlier answers."""
    latest = {}
    for r in lines:
        if r.get("ref"):
            latest[(r["ref"]["window"], r["ref"]["index"])] = r
    return latest


def test_irregular_sampling_and_idle_suspend_between_windows(emulator, tiny_model):
    art = artifact.load(tiny_model[1])
    base = Injector.from_artifact(tiny_model[1], 3)
    rng = np.random.default_rng(4)
    t_us = []
    for c in base.counts:                   # dt log-uniform from 0.2 ms to 0.4 s, within each window
        gaps = np.exp(rng.uniform(np.log(200), np.log(400_000), len(c) - 1)).astype(np.int64)
        t_us.append(np.concatenate([[1_000], 1_000 + np.cumsum(gaps)]))
    inj = Injector(base.counts, t_us, base.labels, pause_s=0.35)   # idle > 200 ms: the encoder suspends
    out, log = StringIO(), StringIO()
    gw = Gateway([emulator().url], ModelStore(tiny_model[1]), out, 921600, injectors=[inj], log_stream=log)
    gw.start()
    try:
        assert run_until(gw, gw.injection_done, 120), log.getvalue()
    finally:
        gw.stop()
    latest = final_lines(json.loads(s) for s in out.getvalue().splitlines())
    for w in range(3):
        expected = golden_probs(art, base.counts[w], t_us[w])
        got = np.array([latest[(w, k)]["probs"] for k in range(len(t_us[w]))])
        np.testing.assert_allclose(got, expected, atol=1e-6)
        if w > 0:
            assert latest[(w, 0)].get("resumed"), "the first latent after the pause says the encoder resumed"
        assert not any(latest[(w, k)].get("resumed") for k in range(1, len(t_us[w])))


class LossyLine:
    """A real TCP hop between gateway and emulator that drops, flips and inserts bytes both ways."""

    def __init__(self, upstream_port, p_drop=4e-5, p_flip=4e-5, p_garbage=4e-5, seed=0):
        import socket
        import threading
        self.rng = np.random.default_rng(seed)
        self.p = (p_drop, p_flip, p_garbage)
        self.upstream_port = upstream_port
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.damaged = 0
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _mangle(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < self.p[0]:
                self.damaged += 1
                continue
            if r < self.p[0] + self.p[1]:
                b ^= 1 << int(self.rng.integers(8))
                self.damaged += 1
            elif r < sum(self.p):
                out += self.rng.integers(0, 256, int(self.rng.integers(1, 16))).astype(np.uint8).tobytes()
                self.damaged += 1
            out.append(b)
        return bytes(out)

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                dst.sendall(self._mangle(data))
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        import socket
        import threading
        client, _ = self.server.accept()
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        for a, b in ((client, up), (up, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def close(self):
        self.server.close()


def test_lossy_line_every_window_completes_with_exact_predictions(emulator, tiny_model):
    art = artifact.load(tiny_model[1])
    machine = emulator()
    line = LossyLine(machine.port)
    inj = Injector.from_artifact(tiny_model[1], 6)
    out, log = StringIO(), StringIO()
    gw = Gateway([f"socket://127.0.0.1:{line.port}"], ModelStore(tiny_model[1]), out, 921600, injectors=[inj],
                 log_stream=log)
    gw.start()
    try:
        assert run_until(gw, gw.injection_done, 200), log.getvalue()
    finally:
        gw.stop()
        line.close()
    latest = final_lines(json.loads(s) for s in out.getvalue().splitlines())
    expected = reference_probs(art, 6)
    for w in range(6):
        got = np.array([latest[(w, k)]["probs"] for k in range(expected.shape[1])])
        np.testing.assert_allclose(got, expected[w], atol=1e-6)
    errors = sum(gw.sessions[0].counters.errors.values())
    assert line.damaged > 0 and errors > 0 and inj.restarts > 0, (line.damaged, errors, inj.restarts)


def test_gateway_killed_and_restarted_while_the_sensor_runs_on(emulator, tiny_model, tmp_path):
    art = artifact.load(tiny_model[1])
    url = emulator().url

    def gateway(out, windows):
        return subprocess.Popen([sys.executable, "-m", "host.gateway", "--port", url, "--models", str(tiny_model[1]),
                                 "--inject", str(tiny_model[1]), "--windows", str(windows), "--out", str(out)],
                                cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)

    first = gateway(tmp_path / "1.jsonl", 40)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not (tmp_path / "1.jsonl").exists()
                                           or len((tmp_path / "1.jsonl").read_text().splitlines()) < 60):
        time.sleep(0.05)
    first.kill()                                            # no goodbye: mid-window, samples in flight
    first.communicate(timeout=10)
    second = gateway(tmp_path / "2.jsonl", 3)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    latest = final_lines(json.loads(s) for s in (tmp_path / "2.jsonl").read_text().splitlines())
    expected = reference_probs(art, 3)
    got = np.array([[latest[(w, k)]["probs"] for k in range(expected.shape[1])] for w in range(3)])
    np.testing.assert_allclose(got, expected, atol=1e-6)
