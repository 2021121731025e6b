"""Transport: opening a sensor's serial port, whether a device path or a pyserial URL.

`/dev/ttyACM0` (a NUCLEO's ST-LINK virtual COM port), `socket://127.0.0.1:PORT` (an emulator's
UART on a loopback socket) and `rfc2217://host:port` all go through `serial.serial_for_url`.
"""

from __future__ import annotations

import socket
import time

import serial
from serial.urlhandler import protocol_socket

DEFAULT_BAUD = 921600
# How long one read may block; callers loop on it, so this bounds how late they notice a stop.
READ_TIMEOUT_S = 0.1
# How long to keep retrying a port that refuses (an emulator still starting, a board re-enumerating).
OPEN_RETRY_S = 10.0
OPEN_RETRY_INTERVAL_S = 0.05


class LinkError(Exception):
    """The port could not be opened or was lost; the message says which and why."""


def open_port(url: str, baud: int = DEFAULT_BAUD, retry_s: float = OPEN_RETRY_S) -> serial.SerialBase:
    """Opens `url` (device path or pyserial URL), retrying for up to `retry_s` seconds."""
    deadline = time.monotonic() + retry_s
    while True:
        try:
            return serial.serial_for_url(url, baudrate=baud, timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            if isinstance(exc, ValueError) or time.monotonic() >= deadline:
                raise LinkError(f"cannot open {url}: {exc}") from exc
            time.sleep(OPEN_RETRY_INTERVAL_S)


def read_some(port: serial.SerialBase, max_bytes: int = 4096) -> bytes:
    """Waits up to the port's timeout for a byte, then returns it with everything else already received.

    pyserial's `in_waiting` is a byte count for device ports and rfc2217, but only 0 or 1 for
    `socket://` (a readiness check): reading `in_waiting` bytes there moves one byte per call. So
    for socket ports the rest is taken straight from the socket, without blocking.
    """
    first = port.read(1)
    if not first:
        return b""
    if isinstance(port, protocol_socket.Serial):   # not rfc2217: its socket belongs to a telnet thread
        try:
            more = port._socket.recv(max_bytes, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return first
        except OSError as exc:
            raise serial.SerialException(f"socket error: {exc}") from exc
        return first + more                        # b"" at end of stream: the next read reports it
    waiting = port.in_waiting
    return first + (port.read(min(waiting, max_bytes)) if waiting else b"")
