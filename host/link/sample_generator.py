"""The sensor's on-board sample generator (firmware/core/sample_generator.c), bit for bit.

A board configured with `CONFIG source=GENERATOR` encodes this signal by itself; with this model the
host knows every sample the board encoded, so its latents can be checked against the golden model.
"""

from __future__ import annotations

AMPLITUDE = 4000
PHASE_STEP = 1600
M32 = 0xFFFFFFFF


def _xorshift32(x: int) -> int:
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    return x


def generate(count: int, channels: int, period_us: int, seed: int) -> tuple[list[int], list[list[int]]]:
    """The first `count` samples: (timestamps in us, values[count][channels] in int16 counts)."""
    rng = seed if seed != 0 else 0x9E3779B9
    t = 0
    times, values = [], []
    for k in range(count):
        if k > 0:
            span = period_us // 5
            rng = _xorshift32(rng)
            t = (t + period_us - span + rng % (2 * span + 1)) & M32
        row = []
        for c in range(channels):
            phase = (PHASE_STEP * (c + 1) * t) & M32
            p16 = phase >> 16
            tri = p16 if p16 < 32768 else 65535 - p16
            wave = ((tri * 2 * AMPLITUDE) >> 15) - AMPLITUDE
            rng = _xorshift32(rng)
            row.append(wave + (rng >> 24) - 128)
        times.append(t)
        values.append(row)
    return times, values
