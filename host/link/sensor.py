"""Talking to one sensor over an open port: framed messages in and out, HELLO on connect.

Thin on purpose: the gateway builds its session logic (heartbeats, reconnects, model matching) on
top of `send` and `messages`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import serial

from host.link import framing, protocol
from host.link.transport import read_some
from host.link import protocol_spec as P

HELLO_TIMEOUT_S = 5.0


class NoHello(Exception):
    """No HELLO arrived in time; the message says whether anything at all was heard."""


@dataclass(frozen=True)
class Hello:
    fw_version: str
    board: str
    build_id: str
    model_hash: str
    hidden: int
    inputs: int
    classes: int
    substeps: int
    flags: int = 0

    @property
    def watchdog_reset(self) -> bool:
        return bool(self.flags & P.HELLO_FLAG_WATCHDOG_RESET)

    @property
    def counts_cycles(self) -> bool:
        return bool(self.flags & P.HELLO_FLAG_CYCLE_COUNTER)

    def __str__(self) -> str:
        return (f"RT-LNF sensor fw {self.fw_version} on {self.board} (build {self.build_id}), model {self.model_hash} "
                f"({self.hidden} neurons, {self.inputs} inputs, {self.classes} classes)")

    @classmethod
    def from_message(cls, m: protocol.ParsedMessage) -> "Hello":
        f = m.fields
        text = lambda b: b.rstrip(b"\0").decode("ascii", errors="replace")  # noqa: E731
        return cls(f"{f['fw_major']}.{f['fw_minor']}.{f['fw_patch']}", text(f["board"]), text(f["build_id"]),
                   f["model_hash"].hex(), f["hidden"], f["inputs"], f["classes"], f["substeps"], f["flags"])


class SensorLink:
    def __init__(self, port: serial.SerialBase):
        self.port = port
        self.decoder = framing.FrameDecoder()
        self.seq = 0
        self.bad_frames = 0
        self.bytes_in = 0

    def send(self, name: str, array=(), **fields) -> int:
        seq = self.seq
        self.port.write(framing.encode(protocol.pack(name, seq, array=array, **fields)))
        self.seq = (self.seq + 1) & 0xFFFF
        return seq

    def messages(self, timeout_s: float) -> Iterator[protocol.ParsedMessage]:
        """Yields every message that arrives within timeout_s; bad frames are counted, not raised."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            data = read_some(self.port)
            self.bytes_in += len(data)
            for status, body in self.decoder.feed(data):
                if status == framing.FrameStatus.OK:
                    try:
                        yield protocol.parse(body)
                    except protocol.ProtocolError:
                        self.bad_frames += 1
                elif status != framing.FrameStatus.EMPTY:
                    self.bad_frames += 1

    def hello(self, ask: bool = False, timeout_s: float = HELLO_TIMEOUT_S) -> Hello:
        """Waits for a HELLO; with ask=True requests one first (for a sensor that is already running)."""
        if ask:
            self.send("REQUEST", what=P.by_name("HELLO").type_id)
        for m in self.messages(timeout_s):
            if m.name == "HELLO":
                return Hello.from_message(m)
        if self.bytes_in:
            raise NoHello(f"no HELLO within {timeout_s:.0f} s although {self.bytes_in} bytes arrived "
                          "(wrong baud rate or not an RT-LNF sensor?)")
        raise NoHello(f"nothing received within {timeout_s:.0f} s (sensor not running, or wrong port?)")
