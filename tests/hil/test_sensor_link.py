"""The sensor firmware (tiny model) in the emulator, over pyserial `socket://`: HELLO,
SAMPLE -> LATENT equal to the golden model, garbage and bad frames NACKed while it keeps answering,
idle suspend and resume, heartbeat loss and the fallback expert, the on-board generator, and the
watchdog. These run on the emulator's clock (real time), so waits are a little longer than the
firmware's timeouts; the exact timing is tested on the host clock in test_sensor_app.py."""

import time
import tomllib

import numpy as np
import pytest

from host import artifact
from host.link import protocol_spec as P
from host.link.sensor import SensorLink
from host.link.transport import open_port
from tests.conftest import REPO_ROOT, git_build_id
from host.hil import firmware
from tests.test_sensor_app import golden_latents, reference

REPLY_TIMEOUT_S = 3.0


@pytest.fixture
def link(emulator):
    port = open_port(emulator().url)
    yield SensorLink(port)
    port.close()


def test_hello_names_firmware_board_build_and_model(link, tiny_model, board):
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    art = artifact.load(tiny_model[1])
    hello = link.hello(ask=True)
    assert hello.fw_version == version and hello.board == board
    assert hello.build_id == git_build_id()[:16]
    assert hello.model_hash == art.short_hash
    assert (hello.hidden, hello.inputs) == (art.config["model"]["hidden"], art.config["model"]["inputs"])
    assert link.hello(ask=True) == hello


def collect(link, name, count, seen=None):
    """The next `count` messages called `name`; every other message goes to `seen` when given."""
    got = []
    for m in link.messages(REPLY_TIMEOUT_S):
        if m.name != name and seen is not None:
            seen.append(m)
        if m.name == name:
            got.append(m)
            if len(got) == count:
                break
    return got


def test_injected_windows_return_golden_latents_through_garbage(link, tiny_model):
    x, t_us, expected = golden_latents(artifact.load(tiny_model[1]), 2)
    link.hello(ask=True)
    rng = np.random.default_rng(9)
    got, others = [], []
    for w in range(x.shape[0]):
        for k in range(x.shape[1]):
            if rng.random() < 0.1:
                link.port.write(rng.integers(0, 256, rng.integers(1, 20)).astype(np.uint8).tobytes())
            link.send("SAMPLE", t_us=int(t_us[w, k]), flags=P.SAMPLE_FLAG_RESET if k == 0 else 0,
                      array=[int(v) for v in x[w, k]])
            [latent] = collect(link, "LATENT", 1, others)
            got.append(latent.array)
    assert np.array_equal(np.array(got).reshape(expected.shape), expected)
    link.send("REQUEST", what=P.by_name("STATS").type_id)
    [stats] = collect(link, "STATS", 1, others)
    nacks = [m for m in others if m.name == "NACK"]
    assert stats.fields["samples"] == x.shape[0] * x.shape[1]
    assert len(nacks) > 0 and stats.fields["frames_bad"] == len(nacks)     # every bad frame counted


def test_bad_frames_are_nacked_and_the_sensor_keeps_answering(link, board):
    link.hello(ask=True)
    link.send("SAMPLE", t_us=0, flags=0, array=[1, 2])                       # wrong width
    link.port.write(b"\x00\x03\xff\xff\x00")                                  # not a frame
    [n1, n2] = collect(link, "NACK", 2)
    assert {n1.fields["reason"], n2.fields["reason"]} <= set(P.NACK_REASONS.values())
    assert n1.fields["reason"] == P.NACK_REASONS["WRONG_INPUTS"]
    assert link.hello(ask=True).board == board


def stats(link):
    link.send("REQUEST", what=P.by_name("STATS").type_id)
    [m] = collect(link, "STATS", 1)
    return m.fields


def send_sample(link, t_us, values, reset=False):
    return link.send("SAMPLE", t_us=int(t_us), flags=P.SAMPLE_FLAG_RESET if reset else 0,
                     array=[int(v) for v in values])


def test_idle_encoder_suspends_and_resumes_with_the_true_dt(link, tiny_model):
    art = artifact.load(tiny_model[1])
    x, _, _ = golden_latents(art, 1)
    x = x[0, :3]
    t_us = [0, 8_000, 8_000 + 600_000]
    link.hello(ask=True)
    send_sample(link, t_us[0], x[0], reset=True)
    send_sample(link, t_us[1], x[1])
    assert len(collect(link, "LATENT", 2)) == 2
    time.sleep((P.SUSPEND_AFTER_MS + 150) / 1000)
    idle = stats(link)
    assert idle["state"] & P.STATE_SUSPENDED and idle["suspended_ms"] > 0
    send_sample(link, t_us[2], x[2])
    [resumed] = collect(link, "LATENT", 1)
    assert resumed.fields["flags"] & P.LATENT_FLAG_RESUMED
    assert np.array_equal(resumed.array, reference(art, x, t_us)[2])
    after = stats(link)
    assert not after["state"] & P.STATE_SUSPENDED and after["suspended_ms"] >= idle["suspended_ms"]
    assert after["sleep_ms"] > 0 and after["sleep_ms"] <= after["uptime_ms"]


def test_heartbeat_loss_brings_golden_local_predictions_until_heartbeats_return(link, tiny_model, board):
    from codegen.quantize import fallback as FB
    art = artifact.load(tiny_model[1])
    fb = FB.parse((tiny_model[1] / "fallback_int8.tflite").read_bytes())
    x, t_us, expected = golden_latents(art, 1)
    hello = link.hello(ask=True)
    assert hello.counts_cycles == (board != "mps2_an500") and not hello.watchdog_reset   # QEMU has no DWT
    link.send("HEARTBEAT", uptime_ms=0)
    send_sample(link, t_us[0, 0], x[0, 0], reset=True)
    [first] = collect(link, "LATENT", 1)
    assert (first.fields["cost"] > 0) == hello.counts_cycles                  # cycles where the core counts them
    time.sleep((P.FALLBACK_AFTER_MS + 300) / 1000)                         # the gateway goes silent
    assert stats(link)["state"] & P.STATE_FALLBACK
    preds = []
    for k in range(1, 6):
        send_sample(link, t_us[0, k], x[0, k])
        preds += collect(link, "LOCAL_PREDICTION", 1)
    golden = FB.predict_s8(fb, FB.h_to_input(fb, expected[0, 1:6]))
    assert np.array_equal(np.array([p.array for p in preds]), golden)
    assert [p.fields["class_index"] for p in preds] == list(np.argmax(golden, axis=1))
    link.send("HEARTBEAT", uptime_ms=1)                                     # and comes back
    send_sample(link, t_us[0, 6], x[0, 6])
    [back] = collect(link, "LATENT", 1)
    assert np.array_equal(back.array, expected[0, 6])


def test_on_board_generator_latents_equal_the_golden_model(link, tiny_model):
    from host.link import sample_generator
    art = artifact.load(tiny_model[1])
    link.hello(ask=True)
    link.send("CONFIG", source=P.SOURCE_GENERATOR, decimation=5, generator_period_us=2000, generator_seed=11)
    [st] = collect(link, "STATS", 1)
    assert (st.fields["source"], st.fields["decimation"]) == (P.SOURCE_GENERATOR, 5)
    latents = collect(link, "LATENT", 30)
    assert len(latents) == 30
    n = 5 * len(latents)
    times, values = sample_generator.generate(n, art.config["model"]["inputs"], 2000, 11)
    expected = reference(art, values, times)[4::5]
    assert [m.fields["t_us"] for m in latents] == times[4::5]
    assert np.array_equal(np.array([m.array for m in latents]), expected)
    link.send("CONFIG", source=P.SOURCE_UART, decimation=1, generator_period_us=0, generator_seed=0)
    assert collect(link, "STATS", 1)[0].fields["source"] == P.SOURCE_UART


@pytest.fixture(scope="module")
def watchdog_elf(tiny_model, tmp_path_factory, backend):
    if backend != "qemu":
        pytest.skip("the stalling test build exists for mps2_an500 (QEMU) only")
    gen, art = tiny_model
    return firmware.build("mps2_an500_watchdog_test", build_dir=tmp_path_factory.mktemp("fw-wdt"),
                          model_dir=gen, artifact=art)


def test_watchdog_resets_a_stalled_firmware(watchdog_elf, emulator):
    """This build stops kicking the watchdog 300 ms after boot: the board must reset and greet again."""
    port = open_port(emulator(elf=watchdog_elf).url)
    link = SensorLink(port)
    stamps = []
    for m in link.messages(3.0):
        if m.name == "HELLO":
            stamps.append(time.monotonic())
            if len(stamps) == 3:
                break
    port.close()
    assert len(stamps) == 3, "the stalled firmware was not reset"
    gaps = np.diff(stamps)
    assert all(0.5 < g < 1.5 for g in gaps), gaps                           # 300 ms stall + 500 ms timeout
