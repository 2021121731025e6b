"""Link and on-target accuracy: the default firmware in QEMU, the gateway on its socket.

In one emulator session: the emulator's own echo floors (REQUEST -> STATS round trips, and ECHO
round trips with frames of exactly a SAMPLE's size in and a LATENT's size out, answered at once:
the same bytes on the emulated UART as the pipeline's, the firmware doing nearly nothing), test windows
streamed one sample at a time through sensor and gateway (SAMPLE written -> LATENT decoded, and
LATENT decoded -> JSON line written), then the echo floors again: the floors are pooled from before
and after, so that a slow start or a loaded host weighs on both sides alike. Everything above the
echo floor is the pipeline's own time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from io import StringIO
from pathlib import Path

import numpy as np

from host.hil.qemu import QemuMachine
from host.link import framing, protocol
from host.link import protocol_spec as P
from host.link.sensor import SensorLink
from host.link.transport import open_port
from host.serving.gateway import Gateway
from host.serving.inject import Injector
from host.serving.model_store import ModelStore

ECHO_ROUNDS = 300


def pct(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "n": int(a.size)}


def wire_bytes(hidden: int, inputs: int, classes: int) -> dict:
    enc = lambda name, arr, **f: len(framing.encode(protocol.pack(name, 0, array=arr, **f))) # noqa: E731
    return {
        "latent": enc("LATENT", [0] * hidden, t_us=0, sample_seq=0, flags=0, cost=0),
        "sample": enc("SAMPLE", [0] * inputs, t_us=0, flags=0),
        "local_prediction": enc("LOCAL_PREDICTION", [0] * classes, t_us=0, sample_seq=0, class_index=0),
        "heartbeat": enc("HEARTBEAT", (), uptime_ms=0),
    }


@contextlib.contextmanager
def separate_cores(emulator_pid: int):
    """The emulator on one core, this process (gateway, injector, timing) on the others, where the
    machine has two or more: without it the two contend for a core in some runs and not in others,
    and the latencies swing between those regimes from run to run."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        yield
        return
    os.sched_setaffinity(emulator_pid, {cores[0]})
    os.sched_setaffinity(0, set(cores[1:]))
    try:
        yield
    finally:
        os.sched_setaffinity(0, set(cores))


def sized_echo(inputs: int, hidden: int) -> tuple[bytes, int]:
    """An ECHO request framed to a SAMPLE's length whose answer is framed to a LATENT's length."""
    sample = len(framing.encode(protocol.pack("SAMPLE", 0, t_us=0, flags=0, array=[0] * inputs)))
    latent = len(framing.encode(protocol.pack("LATENT", 0, t_us=0, sample_seq=0, flags=0, cost=0, array=[0] * hidden)))
    echo_len = lambda n, reply=0: len(framing.encode(protocol.pack("ECHO", 0, reply_bytes=reply, array=[0] * n)))  # noqa: E731
    padding = next(n for n in range(framing.BODY_MAX) if echo_len(n) == sample)
    reply = next(n for n in range(framing.BODY_MAX) if echo_len(n) == latent)
    return framing.encode(protocol.pack("ECHO", 0, reply_bytes=reply, array=[0] * padding)), reply


def echo_floors(url: str, echo_frame: bytes, reply: int, hello: bool) -> tuple[list[float], list[float]]:
    """ECHO_ROUNDS round trips of REQUEST -> STATS, and of the sized ECHO (ms)."""
    port = open_port(url)
    link = SensorLink(port)
    if hello:
        link.hello()
    echo, same_size = [], []
    for _ in range(ECHO_ROUNDS):
        t0 = time.perf_counter()
        link.send("REQUEST", what=P.by_name("STATS").type_id)
        next(m for m in link.messages(5.0) if m.name == "STATS")
        echo.append(1000 * (time.perf_counter() - t0))
    for _ in range(ECHO_ROUNDS):
        t0 = time.perf_counter()
        port.write(echo_frame)
        m = next(m for m in link.messages(5.0) if m.name in ("ECHO", "NACK"))
        if m.name != "ECHO" or len(m.array) != reply:
            raise RuntimeError(f"the firmware answered the sized ECHO with {m}")
        same_size.append(1000 * (time.perf_counter() - t0))
    port.close()
    return echo, same_size


def measure(elf: Path, art_dir: Path, windows: int) -> dict:
    m = json.loads((art_dir / "config.json").read_text())["model"]
    echo_frame, reply = sized_echo(m["inputs"], m["hidden"])
    with QemuMachine(elf) as qemu, separate_cores(qemu.proc.pid):
        echo, same_size = echo_floors(qemu.url, echo_frame, reply, hello=True)
        inj = Injector.from_artifact(art_dir, windows, in_flight=1)
        gw = Gateway([qemu.url], ModelStore(art_dir), StringIO(), 921600, injectors=[inj], log_stream=StringIO())
        gw.start()
        deadline = time.monotonic() + 900
        while not gw.injection_done() and time.monotonic() < deadline:
            time.sleep(0.1)
        gw.stop()
        echo_after, same_size_after = echo_floors(qemu.url, echo_frame, reply, hello=False)
    s = gw.sessions[0]
    correct, n = gw.accuracy()
    rt = np.array(inj.round_trip_ms)
    lat = np.array(s.latency_ms)
    k = min(len(rt), len(lat))
    total = rt[:k] + lat[:k]
    echo_p = pct(echo + echo_after)
    same_p = pct(same_size + same_size_after)
    total_p = pct(total)
    return {
        "echo_floor_ms": echo_p,
        "echo_floor_same_size_ms": same_p,
        "echo_floor_same_size_before_after_ms": [pct(same_size), pct(same_size_after)],
        "sample_frame_bytes": len(echo_frame),
        "above_same_size_floor_ms": {"p50": total_p["p50"] - same_p["p50"], "p95": total_p["p95"] - same_p["p95"]},
        "sample_to_latent_ms": pct(rt),
        "link_to_output_ms": pct(lat),
        "sample_to_prediction_ms": total_p,
        "above_echo_floor_ms": {"p50": total_p["p50"] - echo_p["p50"], "p95": total_p["p95"] - echo_p["p95"]},
        "windows": n, "samples": int(sum(len(c) for c in inj.counts)), "window_restarts": inj.restarts,
        "accuracy_on_target": correct / n if n else None,
        "bytes_in_per_frame": s.counters.bytes_in / max(1, s.counters.frames_ok),
        "errors": dict(s.counters.errors),
    }
