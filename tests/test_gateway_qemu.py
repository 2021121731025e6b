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

pytestmark = pytest.mark.emulator


def run_until(gw, cond, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def reference_probs(art, windows):
    _, _, h = golden_latents(art, windows)
    probs, _ = Forest.from_config(art.arrays, art.config).predict(h / 32768.0)
    return probs                                              # (windows, L, classes)


def test_two_sensors_predictions_equal_the_host_pipeline_and_metrics_match(mps2_elf, qemu, tiny_model):
    art = artifact.load(tiny_model[1])
    windows = 3
    urls = [qemu(mps2_elf).url, qemu(mps2_elf).url]
    out, log = StringIO(), StringIO()
    metrics = Metrics()
    port = free_loopback_port()
    metrics.serve(port, "127.0.0.1")
    gw = Gateway(urls, ModelStore(tiny_model[1]), out, 921600, metrics,
                 injectors=[Injector(tiny_model[1], windows) for _ in urls], log_stream=log)
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
        mps2_elf, qemu, tiny_model, tmp_path):
    machine = qemu(mps2_elf)
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


def test_unknown_model_gets_no_predictions_and_a_clear_error(mps2_elf, qemu, tiny_model, tmp_path):
    art = artifact.load(tiny_model[1])
    other = artifact.write(tmp_path / "store" / "other", {**art.config, "note": "another model"}, art.arrays)
    log, out = StringIO(), StringIO()
    gw = Gateway([qemu(mps2_elf).url], ModelStore(tmp_path / "store"), out, 921600,
                 injectors=[Injector(tiny_model[1], 1)], log_stream=log)
    gw.start()
    try:
        assert run_until(gw, lambda: gw.sessions[0].state == "no model", 20), log.getvalue()
        time.sleep(1.0)
    finally:
        gw.stop()
    text = log.getvalue()
    assert f"sensor runs model {art.short_hash}" in text and other.short_hash in text
    assert out.getvalue() == "" and gw.sessions[0].counters.latents == 0   # nothing injected, nothing predicted


def test_sensor_fallback_predictions_pass_through_marked_and_latents_return(mps2_elf, qemu, tiny_model):
    log, out = StringIO(), StringIO()
    gw = Gateway([qemu(mps2_elf).url], ModelStore(tiny_model[1]), out, 921600, generator_period_us=5000,
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


def test_generator_mode_and_ctrl_c_stop_cleanly_with_a_summary(mps2_elf, qemu, tiny_model, tmp_path):
    from host.link import sample_generator
    art = artifact.load(tiny_model[1])
    out = tmp_path / "gen.jsonl"
    gw = subprocess.Popen([sys.executable, "-m", "host.gateway", "--port", qemu(mps2_elf).url, "--models",
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
