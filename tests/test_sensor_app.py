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
    lib = host_c(["core/sensor_app.c", "core/frame.c", "solver/ltc_q15.c", "solver/fc_s8.c",
                  gen / "rtlnf_model.c", REPO_ROOT / "tests" / "support" / "sensor_app_shim.c"],
                 include_dirs=[gen])
    lib.shim_rx.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    lib.shim_rx.restype = ctypes.c_size_t
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
        n = self.lib.shim_rx(data, len(data), self.out, len(self.out))
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


def test_corrupted_frame_is_nacked_with_its_framing_reason(sensor):
    lib, _ = sensor
    link = Link(lib)
    link.start()
    wire = bytearray(sample_frame(1, 0, [0] * 12))
    wire[5] ^= 0xFF
    msgs = link.send(bytes(wire))
    assert msgs and all(m.name == "NACK" for m in msgs)
    assert msgs[0].fields["reason"] in (P.NACK_REASONS["BAD_CRC"], P.NACK_REASONS["BAD_COBS"])
