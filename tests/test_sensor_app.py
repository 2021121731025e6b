"""firmware/core/sensor_app.c (host-compiled with a generated model) against the Python protocol:
real frame byte streams in, real frames out; latents equal the golden model; bad frames NACKed."""

import ctypes

import numpy as np
import pytest

from codegen.quantize import golden
from codegen.quantize.encoder import quantize_encoder, quantize_inputs, timestamps_to_dt_us
from host import artifact
from host.link import framing, protocol
from host.link import protocol_spec as P
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def sensor(tiny_model, host_c):
    gen, art_dir = tiny_model
    lib = host_c(["core/sensor_app.c", "core/frame.c", "core/sample_generator.c", "solver/ltc_q15.c", "solver/sigmoid_q15_table.c", "solver/fc_s8.c",
                  gen / "rtlnf_model.c", REPO_ROOT / "tests" / "support" / "sensor_app_shim.c"],
                 include_dirs=[gen])
    lib.shim_rx.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    lib.shim_rx.restype = ctypes.c_size_t
    lib.shim_poll.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.shim_poll.restype = ctypes.c_size_t
    lib.shim_set_time_us.argtypes = [ctypes.c_uint32]
    return lib, artifact.load(art_dir)


class Link:
    """Bytes into the C application, decoded messages out."""

    def __init__(self, lib):
        self.lib = lib
        self.out = ctypes.create_string_buffer(1 << 18)

    def start(self):
        """Boots the application; returns what it says first."""
        self.lib.shim_init()
        return self.send(b"")

    def send(self, data: bytes):
        return self._decode(self.lib.shim_rx(data, len(data), self.out, len(self.out)))

    def message(self, name: str, seq: int = 0, array=(), **fields):
        return self.send(framing.encode(protocol.pack(name, seq, array=array, **fields)))

    def at(self, t_ms: float):
        """Sets the application's clock and lets it do its time-driven work."""
        self.lib.shim_set_time_us(int(round(t_ms * 1000)) & 0xFFFFFFFF)
        return self._decode(self.lib.shim_poll(self.out, len(self.out)))

    def stats(self):
        [m] = [m for m in self.message("REQUEST", what=P.by_name("STATS").type_id) if m.name == "STATS"]
        return m.fields

    def _decode(self, n):
        self.raw = self.out.raw[:n]
        return [protocol.parse(b) for s, b in framing.FrameDecoder().feed(self.raw) if s == framing.FrameStatus.OK]


def sample_frame(seq, t_us, values, reset=False):
    return framing.encode(protocol.pack("SAMPLE", seq, t_us=t_us, flags=P.SAMPLE_FLAG_RESET if reset else 0,
                                        array=[int(v) for v in values]))


def test_hello_at_boot_and_on_request_names_the_model(sensor):
    lib, art = sensor
    link = Link(lib)
    [boot] = link.start()
    [hello] = link.send(framing.encode(protocol.pack("REQUEST", 1, what=P.by_name("HELLO").type_id)))
    assert boot.name == hello.name == "HELLO" and boot.fields == hello.fields
    assert hello.fields["model_hash"].hex() == art.short_hash
    assert hello.fields["hidden"] == art.config["model"]["hidden"]
    assert hello.fields["inputs"] == art.config["model"]["inputs"]
    assert hello.fields["board"].rstrip(b"\0") == b"host"


def golden_latents(art, windows):
    enc, in_scale = quantize_encoder(art.arrays, art.config)
    test = art.test_split()
    x = quantize_inputs(test["values"][:windows], in_scale)
    t_us = np.round(test["timestamps"][:windows] * 1e6).astype(np.int64)
    return x, t_us, golden.encode(enc, x, timestamps_to_dt_us(test["timestamps"][:windows]))


def test_injected_windows_return_golden_latents_even_through_noise(sensor):
    lib, art = sensor
    x, t_us, expected = golden_latents(art, 3)
    link = Link(lib)
    link.start()
    rng = np.random.default_rng(5)
    latents, nacks, seq, sent = [], 0, 0, 0
    for w in range(x.shape[0]):
        for k in range(x.shape[1]):
            stream = sample_frame(seq, int(t_us[w, k]) + 1_000_000 * w, x[w, k], reset=(k == 0))
            if rng.random() < 0.1:      # garbage on the line between frames
                stream = rng.integers(0, 256, rng.integers(1, 30)).astype(np.uint8).tobytes() + stream
            for m in link.send(stream):
                if m.name == "LATENT":
                    latents.append((m.fields["sample_seq"], m.array))
                elif m.name == "NACK":
                    nacks += 1
            seq += 1
            sent += 1
    assert len(latents) == sent, "every valid SAMPLE is answered"
    assert [s for s, _ in latents] == list(range(sent))
    got = np.array([h for _, h in latents]).reshape(expected.shape)
    assert np.array_equal(got, expected)
    stats = [m for m in link.send(framing.encode(protocol.pack("REQUEST", seq, what=P.by_name("STATS").type_id)))
             if m.name == "STATS"][0]
    assert stats.fields["samples"] == sent
    assert stats.fields["frames_bad"] == nacks


@pytest.mark.parametrize("body,reason", [
    (lambda: protocol.pack("SAMPLE", 7, t_us=0, flags=0, array=[1, 2, 3]), "WRONG_INPUTS"),
    (lambda: bytes([9, P.by_name("SAMPLE").type_id, 7, 0]) + bytes(5), "BAD_VERSION"),
    (lambda: protocol.pack("LATENT", 7, t_us=0, sample_seq=0, flags=0, cost=0, array=[]), "UNKNOWN_TYPE"),
    (lambda: protocol.pack("HEARTBEAT", 7, uptime_ms=1) + b"\x00", "BAD_LENGTH"),
])
def test_bad_messages_are_nacked_not_acted_on(sensor, body, reason):
    lib, _ = sensor
    link = Link(lib)
    link.start()
    msgs = link.send(framing.encode(body()))
    assert [(m.name, m.fields.get("reason")) for m in msgs] == [("NACK", P.NACK_REASONS[reason])]
    assert msgs[0].fields["ref_seq"] == 7


def test_echo_answers_with_the_asked_size_and_rejects_what_cannot_fit(sensor):
    lib, _ = sensor
    link = Link(lib)
    link.start()
    for reply, padding in ((0, 0), (75, 29), (framing.BODY_MAX - 6, 3)):
        [echo] = link.message("ECHO", 3, array=[7] * padding, reply_bytes=reply)
        assert echo.name == "ECHO" and echo.fields["reply_bytes"] == 0
        assert bytes(echo.array) == bytes(reply)
    [nack] = link.message("ECHO", 4, reply_bytes=framing.BODY_MAX - 5)
    assert (nack.name, nack.fields["reason"], nack.fields["ref_seq"]) == ("NACK", P.NACK_REASONS["BAD_LENGTH"], 4)
    assert link.stats()["frames_ok"] == 4       # the three echoes and the STATS request itself


def test_corrupted_frame_is_nacked_with_its_framing_reason(sensor):
    lib, _ = sensor
    link = Link(lib)
    link.start()
    wire = bytearray(sample_frame(1, 0, [0] * 12))
    wire[5] ^= 0xFF
    msgs = link.send(bytes(wire))
    assert msgs and all(m.name == "NACK" for m in msgs)
    assert msgs[0].fields["reason"] in (P.NACK_REASONS["BAD_CRC"], P.NACK_REASONS["BAD_COBS"])


# --- time-driven behaviour, on the test's clock -------------------------------------------------

def encoder_of(art):
    return quantize_encoder(art.arrays, art.config)[0]


def reference(art, x, t_us):
    """Golden latents for one sequence with these timestamps (the first sample starts from zero)."""
    dt = np.diff(np.asarray(t_us, dtype=np.int64), prepend=t_us[0])
    return golden.encode(encoder_of(art), np.asarray(x)[None], dt[None])[0]


def test_idle_suspends_after_200_ms_and_resumes_with_the_true_dt(sensor):
    lib, art = sensor
    x, t_us, _ = golden_latents(art, 1)
    x, t_us = x[0, :3], [0, 10_000, 10_000 + 750_000]       # 750 ms gap before the third sample
    link = Link(lib)
    link.start()
    link.at(0)
    link.send(sample_frame(0, t_us[0], x[0], reset=True))
    link.at(10)
    [first] = link.send(sample_frame(1, t_us[1], x[1]))
    assert first.fields["flags"] == 0
    link.at(10 + P.SUSPEND_AFTER_MS - 1)
    assert link.stats()["state"] == 0
    link.at(10 + P.SUSPEND_AFTER_MS)
    assert link.stats()["state"] == P.STATE_SUSPENDED
    link.at(760)
    assert link.stats()["suspended_ms"] == 760 - 10 - P.SUSPEND_AFTER_MS
    [resumed] = link.send(sample_frame(2, t_us[2], x[2]))
    assert resumed.name == "LATENT" and resumed.fields["flags"] & P.LATENT_FLAG_RESUMED
    assert np.array_equal(resumed.array, reference(art, x, t_us)[2])
    link.at(800)
    stats = link.stats()
    assert stats["state"] == 0 and stats["suspended_ms"] == 760 - 10 - P.SUSPEND_AFTER_MS


def test_heartbeat_loss_switches_to_the_fallback_expert_and_back(sensor, tiny_model):
    from codegen.quantize import fallback as FB
    lib, art = sensor
    fb = FB.parse((tiny_model[1] / "fallback_int8.tflite").read_bytes())
    x, _, _ = golden_latents(art, 1)
    x = x[0, :4]
    t_us = [0, 5_000, 1_300_000, 1_305_000]
    expected_h = reference(art, x, t_us)
    link = Link(lib)
    link.start()
    link.at(0)
    link.message("HEARTBEAT", uptime_ms=0)
    [a] = link.send(sample_frame(0, t_us[0], x[0], reset=True))
    link.at(5)
    [b] = link.send(sample_frame(1, t_us[1], x[1]))
    assert (a.name, b.name) == ("LATENT", "LATENT")
    link.at(P.FALLBACK_AFTER_MS - 1)
    assert not link.stats()["state"] & P.STATE_FALLBACK
    link.at(P.FALLBACK_AFTER_MS)
    assert link.stats()["state"] & P.STATE_FALLBACK
    link.at(1300)
    [pred] = link.send(sample_frame(2, t_us[2], x[2]))
    assert pred.name == "LOCAL_PREDICTION" and pred.fields["sample_seq"] == 2
    scores = FB.predict_s8(fb, FB.h_to_input(fb, expected_h[2][None]))[0]
    assert np.array_equal(pred.array, scores)
    assert pred.fields["class_index"] == int(np.argmax(scores))
    link.message("HEARTBEAT", uptime_ms=1300)                 # the gateway is back
    link.at(1305)
    [back] = link.send(sample_frame(3, t_us[3], x[3]))
    assert back.name == "LATENT" and np.array_equal(back.array, expected_h[3])
    stats = link.stats()
    assert (stats["heartbeats"], stats["latents"], stats["local_predictions"]) == (2, 3, 1)


def test_without_any_gateway_heartbeat_latents_keep_flowing(sensor):
    lib, art = sensor
    link = Link(lib)
    link.start()
    link.at(5 * P.FALLBACK_AFTER_MS)
    [m] = link.send(sample_frame(0, 0, [0] * art.config["model"]["inputs"], reset=True))
    assert m.name == "LATENT"


def test_sensor_heartbeat_only_when_the_link_is_quiet(sensor):
    lib, _ = sensor
    link = Link(lib)
    link.start()                                              # HELLO at t = 0
    assert link.at(P.SENSOR_HEARTBEAT_PERIOD_MS - 1) == []
    [hb] = link.at(P.SENSOR_HEARTBEAT_PERIOD_MS)
    assert hb.name == "HEARTBEAT" and hb.fields["uptime_ms"] == P.SENSOR_HEARTBEAT_PERIOD_MS
    link.at(P.SENSOR_HEARTBEAT_PERIOD_MS + 500)
    link.stats()                                              # traffic resets the period
    assert link.at(2 * P.SENSOR_HEARTBEAT_PERIOD_MS + 499) == []
    assert [m.name for m in link.at(2 * P.SENSOR_HEARTBEAT_PERIOD_MS + 500)] == ["HEARTBEAT"]


def test_decimation_sends_every_nth_latent_and_cost_is_counted(sensor):
    lib, art = sensor
    x, t_us, expected = golden_latents(art, 1)
    link = Link(lib)
    [hello] = link.start()
    assert hello.fields["flags"] & P.HELLO_FLAG_CYCLE_COUNTER
    [st] = link.message("CONFIG", source=P.SOURCE_UART, decimation=4, generator_period_us=0, generator_seed=0)
    assert st.name == "STATS" and st.fields["decimation"] == 4
    got = []
    for k in range(12):
        got += link.send(sample_frame(k, int(t_us[0, k]), x[0, k], reset=(k == 0)))
    assert [m.fields["sample_seq"] for m in got] == [3, 7, 11]
    assert np.array_equal(np.array([m.array for m in got]), expected[0, [3, 7, 11]])
    assert {m.fields["cost"] for m in got} == {1000}         # the shim's counter: 1000 per read


def test_generator_drives_the_encoder_on_its_own_schedule(sensor):
    from host.link import sample_generator
    lib, art = sensor
    inputs = art.config["model"]["inputs"]
    link = Link(lib)
    link.start()
    link.at(100)
    [st] = link.message("CONFIG", source=P.SOURCE_GENERATOR, decimation=1, generator_period_us=5000,
                        generator_seed=42)
    assert st.fields["source"] == P.SOURCE_GENERATOR
    latents = []
    for ms in range(101, 400, 3):                            # polled late: bursts catch up in order
        latents += [m for m in link.at(ms) if m.name == "LATENT"]
    times, values = sample_generator.generate(len(latents), inputs, 5000, 42)
    assert len(latents) > 50 and [m.fields["t_us"] for m in latents] == times
    assert [m.fields["sample_seq"] for m in latents] == list(range(len(latents)))
    assert all(m.fields["flags"] & P.LATENT_FLAG_GENERATED for m in latents)
    assert np.array_equal(np.array([m.array for m in latents]), reference(art, values, times))
    assert times[-1] <= 300_000 and len(set(np.diff(times))) > 10   # irregular, never ahead of the clock
    [nack] = link.send(sample_frame(0, 0, [0] * inputs))
    assert nack.fields["reason"] == P.NACK_REASONS["SOURCE_BUSY"]


@pytest.mark.parametrize("fields", [
    dict(source=7, decimation=1, generator_period_us=5000, generator_seed=0),
    dict(source=P.SOURCE_UART, decimation=0, generator_period_us=0, generator_seed=0),
    dict(source=P.SOURCE_GENERATOR, decimation=1, generator_period_us=P.GENERATOR_MIN_PERIOD_US - 1,
         generator_seed=0),
])
def test_bad_config_is_nacked_and_changes_nothing(sensor, fields):
    lib, _ = sensor
    link = Link(lib)
    link.start()
    [nack] = link.message("CONFIG", **fields)
    assert nack.name == "NACK" and nack.fields["reason"] == P.NACK_REASONS["BAD_CONFIG"]
    stats = link.stats()
    assert (stats["source"], stats["decimation"]) == (P.SOURCE_UART, 1)
