"""Gateway throughput against many sensors: replayed links.

N loopback TCP servers each play one sensor: a HELLO of the artifact's model, then the golden
LATENT frames of test windows as fast as the socket takes them. The gateway (in this process, one
session thread per sensor, one inference thread) connects to all of them; the rate is predictions
written per second until every frame is answered. This measures the whole serving path (sockets,
framing, parsing, batching, router and leaves, JSON) rather than the runtime alone.
"""

from __future__ import annotations

import socket
import threading
import time
from io import StringIO

import numpy as np

from host.link import framing, protocol
from host.serving.gateway import Gateway
from host.serving.model_store import ModelStore


def _frames(art, h: np.ndarray) -> tuple[bytes, bytes]:
    m = art.config["model"]
    hello = protocol.pack("HELLO", 0, protocol_version=1, fw_major=0, fw_minor=1, fw_patch=0, board=b"replay",
                          build_id=b"bench", model_hash=bytes.fromhex(art.short_hash), hidden=m["hidden"],
                          inputs=m["inputs"], classes=len(art.config["class_names"]), substeps=m["substeps"],
                          h_frac_bits=15, flags=0)
    out = []
    for i, row in enumerate(h):
        out.append(framing.encode(protocol.pack("LATENT", (i + 1) & 0xFFFF, t_us=i * 5000, sample_seq=i & 0xFFFF,
                                                flags=0, cost=0, array=[int(v) for v in row])))
    return framing.encode(hello), b"".join(out)


def _serve(server: socket.socket, data: tuple[bytes, bytes], ready: threading.Event) -> None:
    conn, _ = server.accept()
    conn.recv(64)             # the gateway's REQUEST for HELLO (pyserial drops bytes received before open ends)
    conn.sendall(data[0])                             # HELLO: the gateway matches the model
    ready.wait()
    conn.sendall(data[1])
    conn.shutdown(socket.SHUT_WR)                     # end of stream; closing with unread heartbeats would reset
    try:
        while conn.recv(4096):                        # ... so drain them until the gateway hangs up
            pass
    except OSError:
        pass
    conn.close()


def measure(art, h_all: np.ndarray, sensors: int, frames_per_sensor: int) -> float:
    data = _frames(art, h_all[:frames_per_sensor])
    servers, threads = [], []
    ready = threading.Event()
    for _ in range(sensors):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        servers.append(s)
        t = threading.Thread(target=_serve, args=(s, data, ready), daemon=True)
        t.start()
        threads.append(t)
    gw = Gateway([f"socket://127.0.0.1:{s.getsockname()[1]}" for s in servers], ModelStore(art.path), StringIO(),
                 921600, log_stream=StringIO())
    gw.start()
    wait_until = time.monotonic() + 20
    while not all(sess.predictor is not None for sess in gw.sessions):
        if time.monotonic() > wait_until:
            states = [(x.url, x.state, x.counters.frames_ok, dict(x.counters.errors)) for x in gw.sessions]
            gw.stop()
            raise RuntimeError(f"replayed sensors not matched within 20 s: {states}")
        time.sleep(0.01)
    t0 = time.perf_counter()
    ready.set()
    target = sensors * frames_per_sensor
    deadline = t0 + 60
    while gw.lines < target and time.perf_counter() < deadline:
        time.sleep(0.01)
    rate = gw.lines / (time.perf_counter() - t0)
    gw.stop()
    for s in servers:
        s.close()
    return rate
