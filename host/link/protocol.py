"""Protocol: packing and parsing message bodies as laid out in protocol_spec.py.

`pack("LATENT", seq, t_us=..., ..., array=h)` gives a frame body; `parse(body)` gives a
ParsedMessage or raises ProtocolError whose `reason` is a NACK reason name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from host.link import protocol_spec as P

_HEADER = struct.Struct(P.header_format())


class ProtocolError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class ParsedMessage:
    name: str
    seq: int
    fields: dict = field(default_factory=dict)
    array: tuple = ()


def _array_format(ctype: str, n: int) -> str:
    return f"<{n}{P.CTYPES[ctype]}"


def max_array_length(name: str) -> int:
    """The most elements a message's variable array can carry in one frame (framing.BODY_MAX)."""
    from host.link.framing import BODY_MAX
    msg = P.by_name(name)
    room = BODY_MAX - struct.calcsize(P.header_format()) - struct.calcsize(P.message_format(msg))
    return room // struct.calcsize(P.CTYPES[msg.array[1]])


def check_model_fits(hidden: int, inputs: int, classes: int) -> None:
    """Raises ValueError, saying which message and limit, when a model's LATENT, SAMPLE or
    LOCAL_PREDICTION would not fit one frame (the firmware could not send or take it)."""
    for name, n, what in (("LATENT", hidden, "neurons"), ("SAMPLE", inputs, "inputs"),
                          ("LOCAL_PREDICTION", classes, "classes")):
        if n > max_array_length(name):
            raise ValueError(f"a {name} of {n} {what} does not fit a link frame: at most "
                             f"{max_array_length(name)} {what}")


def pack(name: str, seq: int, array=(), **values) -> bytes:
    msg = P.by_name(name)
    names = [n for n, _ in msg.fields]
    missing = set(names) - set(values)
    extra = set(values) - set(names)
    if missing or extra:
        raise ValueError(f"{name}: missing fields {sorted(missing)}, unknown fields {sorted(extra)}")
    body = _HEADER.pack(P.PROTOCOL_VERSION, msg.type_id, seq & 0xFFFF)
    body += struct.pack(P.message_format(msg), *(values[n] for n in names))
    if msg.array:
        body += struct.pack(_array_format(msg.array[1], len(array)), *array)
    elif len(array):
        raise ValueError(f"{name} carries no array")
    return body


def parse(body: bytes) -> ParsedMessage:
    if len(body) < _HEADER.size:
        raise ProtocolError("BAD_LENGTH", f"{len(body)} bytes is shorter than the {_HEADER.size}-byte header")
    version, type_id, seq = _HEADER.unpack_from(body)
    if version != P.PROTOCOL_VERSION:
        raise ProtocolError("BAD_VERSION", f"protocol version {version}, this host speaks {P.PROTOCOL_VERSION}")
    msg = P.by_type(type_id)
    if msg is None:
        raise ProtocolError("UNKNOWN_TYPE", f"message type 0x{type_id:02x}")
    fixed = struct.Struct(P.message_format(msg))
    rest = body[_HEADER.size:]
    if len(rest) < fixed.size:
        raise ProtocolError("BAD_LENGTH", f"{msg.name} needs {fixed.size} bytes after the header, got {len(rest)}")
    values = dict(zip((n for n, _ in msg.fields), fixed.unpack_from(rest)))
    tail = rest[fixed.size:]
    array: tuple = ()
    if msg.array:
        item = struct.calcsize(P.CTYPES[msg.array[1]])
        if len(tail) % item:
            raise ProtocolError("BAD_LENGTH", f"{msg.name} array of {len(tail)} bytes is not whole {msg.array[1]}s")
        array = struct.unpack(_array_format(msg.array[1], len(tail) // item), tail)
    elif tail:
        raise ProtocolError("BAD_LENGTH", f"{msg.name} has {len(tail)} unexpected trailing bytes")
    return ParsedMessage(msg.name, seq, values, array)
