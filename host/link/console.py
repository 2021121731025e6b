"""The firmware's text console: its greeting line and the `?` query that repeats it.

The greeting is the first thing a sensor says after reset:
    RT-LNF firmware 0.1.0 board=mps2_an500 build=1a2b3c4d5e6f cpu_mhz=25 clock=QEMU 25 MHz
(formatted by firmware/core/app.c, app_format_greeting).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import serial

GREETING_RE = re.compile(
    r"^RT-LNF firmware (?P<fw_version>\S+) board=(?P<board>\S+) build=(?P<build_id>\S+) "
    r"cpu_mhz=(?P<cpu_mhz>\d+) clock=(?P<clock>.+)$"
)
GREETING_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Greeting:
    fw_version: str
    board: str
    build_id: str
    cpu_mhz: int
    clock: str

    def __str__(self) -> str:
        return (f"RT-LNF firmware {self.fw_version} on {self.board} "
                f"(build {self.build_id}, {self.cpu_mhz} MHz, clock {self.clock})")


class NoGreeting(Exception):
    """No greeting arrived in time; the message names what was heard instead, if anything."""


def parse_greeting(line: str) -> Greeting | None:
    m = GREETING_RE.match(line.strip())
    if not m:
        return None
    return Greeting(m["fw_version"], m["board"], m["build_id"], int(m["cpu_mhz"]), m["clock"])


def read_greeting(port: serial.SerialBase, timeout_s: float = GREETING_TIMEOUT_S,
                  ask: bool = False) -> Greeting:
    """Reads lines until a greeting arrives. With ask=True, sends `?` first (for a running board)."""
    if ask:
        port.write(b"?\n")
    deadline = time.monotonic() + timeout_s
    heard = bytearray()
    while time.monotonic() < deadline:
        raw = port.readline()
        if not raw:
            continue
        heard += raw
        greeting = parse_greeting(raw.decode("ascii", errors="replace"))
        if greeting:
            return greeting
    if heard:
        raise NoGreeting(f"no RT-LNF greeting within {timeout_s:.0f} s; heard {bytes(heard[:80])!r} "
                         "(wrong baud rate or not an RT-LNF sensor?)")
    raise NoGreeting(f"nothing received within {timeout_s:.0f} s (sensor not running, or wrong port?)")
