"""Link and on-target accuracy: the default firmware in QEMU, the gateway on its socket.

In one emulator session: first the emulator's own echo floors (REQUEST -> STATS round trips, and a
frame of a SAMPLE's size answered at once with NACK: the firmware doing nearly nothing), then test windows streamed one sample at a time through sensor and
gateway: SAMPLE written -> LATENT decoded (sample -> latent) and LATENT decoded -> JSON line written
(link -> output). Everything above the echo floor is the pipeline's own time.
"""

from __future__ import annotations

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


def measure(elf: Path, art_dir: Path, windows: int) -> dict:
    with QemuMachine(elf) as qemu:
        port = open_port(qemu.url)
        link = SensorLink(port)
        link.hello()
        echo = []
        for _ in range(ECHO_ROUNDS):
            t0 = time.perf_counter()
            link.send("REQUEST", what=P.by_name("STATS").type_id)
            next(m for m in link.messages(5.0) if m.name == "STATS")
            echo.append(1000 * (time.perf_counter() - t0))
        # The same round trip with a frame of a SAMPLE's size that the firmware rejects at once
        # (unknown protocol version -> NACK): the emulated UART's cost for those bytes.
        inputs = len(Injector.from_artifact(art_dir, 1).counts[0][0])
        bogus = framing.encode(bytes([P.PROTOCOL_VERSION + 100, P.by_name("SAMPLE").type_id, 0, 0])
                               + bytes(5 + 2 * inputs))
        same_size = []
        for _ in range(ECHO_ROUNDS):
            t0 = time.perf_counter()
            port.write(bogus)
            next(m for m in link.messages(5.0) if m.name == "NACK")
            same_size.append(1000 * (time.perf_counter() - t0))
        port.close()
        inj = Injector.from_artifact(art_dir, windows, in_flight=1)
        gw = Gateway([qemu.url], ModelStore(art_dir), StringIO(), 921600, injectors=[inj], log_stream=StringIO())
        gw.start()
        deadline = time.monotonic() + 900
        while not gw.injection_done() and time.monotonic() < deadline:
            time.sleep(0.1)
        gw.stop()
    s = gw.sessions[0]
    correct, n = gw.accuracy()
    rt = np.array(inj.round_trip_ms)
    lat = np.array(s.latency_ms)
    k = min(len(rt), len(lat))
    total = rt[:k] + lat[:k]
    echo_p = pct(echo)
    same_p = pct(same_size)
    total_p = pct(total)
    return {
        "echo_floor_ms": echo_p,
        "echo_floor_same_size_ms": same_p,
        "sample_frame_bytes": len(bogus),
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
