"""Framing: CRC-16 protected bodies, COBS-encoded, between 0x00 delimiters.

The Python twin of firmware/core/frame.c (same wire format, same statuses):

    wire:  0x00 COBS(body || crc16_le(body)) 0x00,   crc16 = CRC-16/CCITT-FALSE

`FrameDecoder.feed(data)` takes whatever bytes arrived and yields (status, body) for every frame
that ended in them; garbage costs at most the frame it lands in, and decoding resumes at the next
0x00.
"""

from __future__ import annotations

import enum
from typing import Iterator

BODY_MAX = 254
CRC_BYTES = 2
COBS_MAX = BODY_MAX + CRC_BYTES + (BODY_MAX + CRC_BYTES) // 254 + 1   # between the delimiters


class FrameStatus(enum.IntEnum):   # values equal frame_status_t in firmware/core/frame.h
    PENDING = 0
    OK = 1
    EMPTY = 2
    BAD_COBS = 3
    BAD_CRC = 4
    TOO_SHORT = 5
    TOO_LONG = 6


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    out = bytearray([0])
    code_at, code = 0, 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(raw: bytes, cap: int) -> tuple[FrameStatus, bytes]:
    out = bytearray()
    r = 0
    while r < len(raw):
        code = raw[r]
        r += 1
        if code == 0 or r + code - 1 > len(raw):
            return FrameStatus.BAD_COBS, b""
        if len(out) + code - 1 > cap:
            return FrameStatus.TOO_LONG, b""
        out += raw[r:r + code - 1]
        r += code - 1
        if code != 0xFF and r < len(raw):
            if len(out) >= cap:
                return FrameStatus.TOO_LONG, b""
            out.append(0)
    return FrameStatus.OK, bytes(out)


def encode(body: bytes) -> bytes:
    if len(body) > BODY_MAX:
        raise ValueError(f"frame body of {len(body)} bytes exceeds {BODY_MAX}")
    return b"\x00" + cobs_encode(body + crc16(body).to_bytes(2, "little")) + b"\x00"


class FrameDecoder:
    def __init__(self) -> None:
        self.raw = bytearray()
        self.overflow = False

    def feed(self, data: bytes) -> Iterator[tuple[FrameStatus, bytes]]:
        for b in data:
            if b != 0:
                if len(self.raw) < COBS_MAX:
                    self.raw.append(b)
                else:
                    self.overflow = True
                continue
            raw, overflow = bytes(self.raw), self.overflow
            self.raw, self.overflow = bytearray(), False
            yield self._finish(raw, overflow)

    @staticmethod
    def _finish(raw: bytes, overflow: bool) -> tuple[FrameStatus, bytes]:
        if overflow:
            return FrameStatus.TOO_LONG, b""
        if not raw:
            return FrameStatus.EMPTY, b""
        status, decoded = cobs_decode(raw, BODY_MAX + CRC_BYTES)
        if status != FrameStatus.OK:
            return status, b""
        if len(decoded) < CRC_BYTES:
            return FrameStatus.TOO_SHORT, b""
        body, crc = decoded[:-CRC_BYTES], int.from_bytes(decoded[-CRC_BYTES:], "little")
        if crc != crc16(body):
            return FrameStatus.BAD_CRC, b""
        return FrameStatus.OK, body
