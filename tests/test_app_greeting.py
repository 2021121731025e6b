"""firmware/core/app.c greeting formatting, host-compiled, against the host's parser."""

import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.link.console import parse_greeting


class Identity(ctypes.Structure):
    _fields_ = [
        ("fw_version", ctypes.c_char_p),
        ("board", ctypes.c_char_p),
        ("build_id", ctypes.c_char_p),
        ("cpu_hz", ctypes.c_uint32),
        ("clock_source", ctypes.c_char_p),
    ]


@pytest.fixture(scope="module")
def fmt(host_c):
    lib = host_c(["core/app.c"])
    f = lib.app_format_greeting
    f.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Identity)]
    f.restype = ctypes.c_size_t

    def call(ident, cap):
        buf = ctypes.create_string_buffer(b"\xAA" * (cap + 8), cap + 8)  # guard bytes past cap
        n = f(buf, cap, ctypes.byref(ident))
        return n, buf.raw
    return call


def identity(**kw):
    base = dict(fw_version=b"0.1.0", board=b"nucleo_h743zi", build_id=b"1a2b3c4d5e6f-dirty",
                cpu_hz=480_000_000, clock_source=b"HSE 8 MHz bypass")
    base.update(kw)
    return Identity(**base)


def test_greeting_parses_on_the_host(fmt):
    n, raw = fmt(identity(), 200)
    text = raw[:n].decode()
    assert text.endswith("\r\n") and raw[n] == 0
    g = parse_greeting(text)
    assert g is not None
    assert (g.fw_version, g.board, g.build_id, g.cpu_mhz, g.clock) == (
        "0.1.0", "nucleo_h743zi", "1a2b3c4d5e6f-dirty", 480, "HSE 8 MHz bypass")


@settings(max_examples=300, deadline=None)
@given(cap=st.integers(0, 120), cpu_hz=st.integers(0, 2**32 - 1))
def test_truncates_to_capacity_and_never_writes_past_it(fmt, cap, cpu_hz):
    full_n, full = fmt(identity(cpu_hz=cpu_hz), 200)
    n, raw = fmt(identity(cpu_hz=cpu_hz), cap)
    assert n == max(0, min(full_n, cap - 1))
    assert raw[:n] == full[:n]
    if cap > 0:
        assert raw[n] == 0
    assert raw[cap:] == b"\xAA" * 8, "wrote past the buffer"
    assert f"cpu_mhz={cpu_hz // 1_000_000} ".encode() in full
