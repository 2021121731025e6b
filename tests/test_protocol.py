"""Message layouts: one spec (host/link/protocol_spec.py) for Python and the generated C header."""

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.emit.protocol import DOC_BEGIN, DOC_END, PROTOCOL_DEFS_H, PROTOCOL_DOC, protocol_header, protocol_markdown
from host.link import framing, protocol
from host.link import protocol_spec as P
from tests.support.cbuild import FIRMWARE_DIR

RANGES = {"B": (0, 255), "b": (-128, 127), "H": (0, 65535), "h": (-32768, 32767),
          "I": (0, 2**32 - 1), "i": (-2**31, 2**31 - 1)}


def test_committed_header_is_what_the_spec_generates():
    assert PROTOCOL_DEFS_H.read_text() == protocol_header(), "run codegen.emit.protocol.write_protocol_header()"


def test_message_tables_in_the_doc_are_what_the_spec_generates():
    text = PROTOCOL_DOC.read_text()
    block = DOC_BEGIN + text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0] + DOC_END
    assert block == protocol_markdown(), "run codegen.emit.protocol.write_protocol_doc()"


@pytest.mark.parametrize("cc,flags", [("gcc", []), ("arm-none-eabi-gcc", ["-mcpu=cortex-m7", "-mthumb"])])
def test_c_structs_have_the_sizes_python_computes(cc, flags, tmp_path):
    # The header's _Static_asserts carry Python's struct sizes: the compilers must agree with them.
    src = tmp_path / "t.c"
    src.write_text('#include "core/protocol_defs.h"\nint main(void) { return 0; }\n')
    proc = subprocess.run([cc, *flags, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{FIRMWARE_DIR}", "-c",
                           str(src), "-o", str(tmp_path / "t.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def values_for(msg):
    strategies = {}
    for name, ctype in msg.fields:
        fmt = P.field_format(ctype)
        if fmt.endswith("s"):
            strategies[name] = st.binary(min_size=int(fmt[:-1]), max_size=int(fmt[:-1]))
        else:
            lo, hi = RANGES[fmt]
            strategies[name] = st.integers(lo, hi)
    return st.fixed_dictionaries(strategies)


@pytest.mark.parametrize("msg", P.MESSAGES, ids=lambda m: m.name)
def test_every_message_round_trips_through_a_frame(msg):
    @settings(max_examples=30, deadline=None)
    @given(values=values_for(msg), seq=st.integers(0, 65535),
           array=st.lists(st.integers(*RANGES[P.CTYPES[msg.array[1]]]), max_size=64) if msg.array else st.just([]))
    def check(values, seq, array):
        body = protocol.pack(msg.name, seq, array=array, **values)
        [(status, got)] = [e for e in framing.FrameDecoder().feed(framing.encode(body)) if e[0] != framing.FrameStatus.EMPTY]
        assert status == framing.FrameStatus.OK
        parsed = protocol.parse(got)
        assert (parsed.name, parsed.seq, parsed.fields, list(parsed.array)) == (msg.name, seq, values, list(array))

    check()


def test_latent_of_the_default_model_fits_100_bytes_on_the_wire():
    body = protocol.pack("LATENT", 65535, t_us=2**32 - 1, sample_seq=65535, flags=3, cost=2**32 - 1,
                         array=[-32767] * 32)
    wire = framing.encode(body)
    assert len(wire) <= 100, len(wire)


@pytest.mark.parametrize("body,reason", [
    (b"\x01\x03", "BAD_LENGTH"),
    (bytes([2, 1, 0, 0]), "BAD_VERSION"),
    (bytes([1, 0x7F, 0, 0]), "UNKNOWN_TYPE"),
    (bytes([1, 0x04, 0, 0, 1, 2]), "BAD_LENGTH"),
    (bytes([1, 0x03, 0, 0]) + bytes(11) + b"\x01", "BAD_LENGTH"),
    (bytes([1, 0x04, 0, 0]) + bytes(4) + b"\x00", "BAD_LENGTH"),
])
def test_malformed_bodies_name_their_nack_reason(body, reason):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.parse(body)
    assert err.value.reason == reason and err.value.reason in P.NACK_REASONS
