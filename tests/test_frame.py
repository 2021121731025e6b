"""Link framing: the firmware's C (host-compiled) and host/link/framing.py agree byte for byte,
recover every valid frame from noisy streams, and the C decoder survives arbitrary input under
AddressSanitizer and UBSan."""

import ctypes
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.link import framing
from host.link.framing import FrameDecoder, FrameStatus
from tests.support.cbuild import FIRMWARE_DIR, HOST_CFLAGS, REPO_ROOT

BODY = st.binary(min_size=0, max_size=framing.BODY_MAX)
ZERO_HEAVY = st.lists(st.sampled_from([0, 0, 0, 1, 0xFF]), max_size=framing.BODY_MAX).map(bytes)


class Decoder(ctypes.Structure):
    _fields_ = [("raw", ctypes.c_uint8 * framing.COBS_MAX), ("len", ctypes.c_size_t), ("overflow", ctypes.c_bool)]


@pytest.fixture(scope="module")
def lib(host_c):
    lib = host_c(["core/frame.c"])
    lib.frame_crc16.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.frame_crc16.restype = ctypes.c_uint16
    lib.frame_encode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    lib.frame_encode.restype = ctypes.c_size_t
    lib.frame_decoder_push.argtypes = [ctypes.POINTER(Decoder), ctypes.c_uint8, ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_size_t)]
    lib.frame_decoder_push.restype = ctypes.c_int
    return lib


def c_encode(lib, body: bytes) -> bytes:
    out = ctypes.create_string_buffer(framing.COBS_MAX + 2)
    n = lib.frame_encode(body, len(body), out, len(out))
    return out.raw[:n]


def c_decode(lib, stream: bytes) -> list[tuple[int, bytes]]:
    d = Decoder()
    body = ctypes.create_string_buffer(framing.BODY_MAX + framing.CRC_BYTES)
    n = ctypes.c_size_t()
    events = []
    for b in stream:
        status = lib.frame_decoder_push(ctypes.byref(d), b, body, ctypes.byref(n))
        if status != FrameStatus.PENDING:
            events.append((status, body.raw[:n.value] if status == FrameStatus.OK else b""))
    return events


def py_decode(stream: bytes) -> list[tuple[int, bytes]]:
    return [(int(s), b) for s, b in FrameDecoder().feed(stream)]


def test_crc16_is_ccitt_false(lib):
    assert framing.crc16(b"123456789") == 0x29B1
    assert lib.frame_crc16(b"123456789", 9) == 0x29B1


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(BODY, ZERO_HEAVY))
def test_c_and_python_encode_identically_and_round_trip(lib, body):
    wire = c_encode(lib, body)
    assert wire == framing.encode(body)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert len(wire) <= len(body) + framing.CRC_BYTES + (len(body) + 2) // 254 + 3
    assert py_decode(wire) == c_decode(lib, wire) == [(FrameStatus.EMPTY, b""), (FrameStatus.OK, body)]


def test_oversized_body_is_refused(lib):
    with pytest.raises(ValueError):
        framing.encode(bytes(framing.BODY_MAX + 1))
    assert lib.frame_encode(bytes(255), 255, ctypes.create_string_buffer(600), 600) == 0


noise = st.binary(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.one_of(BODY.map(lambda b: ("frame", b)), noise.map(lambda b: ("noise", b))),
                      min_size=1, max_size=12),
       corrupt=st.lists(st.integers(0, 10_000), max_size=3))
def test_noisy_streams_decode_the_same_in_c_and_python(lib, items, corrupt):
    stream = bytearray()
    frames = []
    for kind, data in items:
        if kind == "frame":
            frames.append(data)
            stream += framing.encode(data)
        else:
            stream += data
    clean = bytes(stream)
    assert [b for s, b in py_decode(clean) if s == FrameStatus.OK] == frames, "noise cost a valid frame"
    for pos in corrupt:                      # flip bits: at most the frames hit are lost, never misread
        if stream:
            stream[pos % len(stream)] ^= 0x5A
    events = py_decode(bytes(stream))
    assert events == c_decode(lib, bytes(stream))
    ok = [b for s, b in events if s == FrameStatus.OK]
    assert all(b in frames for b in ok)


def test_truncated_and_overlong_frames_are_reported(lib):
    wire = framing.encode(b"hello sensor")
    cut = wire[:-4] + b"\x00"
    assert py_decode(cut)[-1][0] in (FrameStatus.BAD_CRC, FrameStatus.BAD_COBS, FrameStatus.TOO_SHORT)
    long_run = b"\x00" + b"\x01" * 400 + b"\x00"
    assert py_decode(long_run)[-1] == (FrameStatus.TOO_LONG, b"") == c_decode(lib, long_run)[-1]
    assert py_decode(b"\x00\x05\x01\x00") [-1][0] == FrameStatus.BAD_COBS
    assert py_decode(b"\x00\x02\x07\x00")[-1][0] == FrameStatus.TOO_SHORT


@pytest.fixture(scope="module")
def fuzz_binary(tmp_path_factory):
    exe = tmp_path_factory.mktemp("fuzz") / "frame_fuzz"
    flags = [f for f in HOST_CFLAGS if f not in ("-shared", "-fPIC")] + ["-fsanitize=address,undefined"]
    subprocess.run(["gcc", *flags, f"-I{FIRMWARE_DIR}", "-o", str(exe),
                    str(REPO_ROOT / "tests" / "support" / "frame_fuzz_main.c"), str(FIRMWARE_DIR / "core" / "frame.c")],
                   check=True, capture_output=True)
    return exe


def test_decoder_survives_random_streams_under_asan(fuzz_binary):
    rng = np.random.default_rng(1234)
    for i in range(150):
        kind = i % 3
        if kind == 0:
            stream = rng.integers(0, 256, rng.integers(1, 3000)).astype(np.uint8).tobytes()
        elif kind == 1:   # few delimiters: long runs that must overflow cleanly
            stream = rng.integers(1, 256, rng.integers(200, 3000)).astype(np.uint8).tobytes() + b"\x00"
        else:             # valid frames with random damage
            stream = bytearray(b"".join(framing.encode(rng.integers(0, 256, rng.integers(0, 255)).astype(np.uint8).tobytes())
                                        for _ in range(5)))
            for _ in range(rng.integers(0, 6)):
                stream[rng.integers(0, len(stream))] = rng.integers(0, 256)
            stream = bytes(stream)
        proc = subprocess.run([str(fuzz_binary)], input=stream, capture_output=True, timeout=30)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        c_events = [(int(line.split(" ")[0]), bytes.fromhex(line.split(" ")[1]) if " " in line else b"")
                    for line in proc.stdout.decode().splitlines()]
        assert c_events == [(s, b) for s, b in py_decode(stream)], f"stream {i}"
