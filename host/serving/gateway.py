"""The gateway: sessions with sensors in, predictions out.

Session threads (one per `--port`) hand over latents as they arrive; one inference thread takes
whatever is pending, runs each sensor's batch through its model's router and leaves in one call,
and writes one JSON line per prediction (and per fallback prediction passed through). Output order
per sensor is arrival order. The link-to-output latency of a line is measured from the moment its
frame was decoded to the moment the line is written.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict, deque
from typing import TextIO

import numpy as np

from host.link import protocol_spec as P
from host.serving.inject import Injector
from host.serving.metrics import Metrics
from host.serving.model_store import ModelStore
from host.serving.session import Arrival, SensorSession

MAX_BATCH = 4096


class Gateway:
    def __init__(self, urls: list[str], store: ModelStore, out: TextIO, baud: int, metrics: Metrics | None = None,
                 route_cache_ms: float | None = None, injectors: list[Injector | None] | None = None,
                 generator_period_us: int | None = None, log_stream: TextIO = sys.stderr):
        self.store = store
        self.out = out
        self.metrics = metrics or Metrics()
        self.log_stream = log_stream
        self._log_lock = threading.Lock()
        self._log_sink = None                     # the live view takes log lines while it runs
        self._t0 = time.monotonic()
        injectors = injectors or [None] * len(urls)
        self.sessions = [SensorSession(u, baud, store, self, route_cache_ms, inj, generator_period_us)
                         for u, inj in zip(urls, injectors)]
        self._pending: deque[Arrival] = deque()
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._worker = threading.Thread(target=self._inference_loop, name="inference", daemon=True)
        self.lines = 0
        self.errors_out = 0
        # injected windows: (sensor, window) -> (label, predicted class) of the window's last sample
        self.window_results: dict[tuple[str, int], tuple[int, int]] = {}

    # --- lifecycle ---
    def uptime_s(self) -> float:
        return time.monotonic() - self._t0

    def start(self) -> None:
        self._worker.start()
        for s in self.sessions:
            s.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        for s in self.sessions:
            s.stop()
        for s in self.sessions:
            s.join(timeout_s)
        self._halt.set()
        with self._cond:
            self._cond.notify()
        self._worker.join(timeout_s)
        self._drain()                             # anything that arrived after the worker's last pass
        self.metrics.shutdown()

    def log(self, msg: str) -> None:
        line = f"gateway {time.strftime('%H:%M:%S')} {msg}"
        with self._log_lock:
            if self._log_sink is not None:
                self._log_sink(line)
            else:
                print(line, file=self.log_stream, flush=True)

    def injection_done(self) -> bool:
        injs = [s.injector for s in self.sessions if s.injector is not None]
        return bool(injs) and all(i.done for i in injs) and not self._pending

    # --- from sessions ---
    def submit(self, arrival: Arrival) -> None:
        with self._cond:
            self._pending.append(arrival)
            self._cond.notify()

    # --- inference ---
    def _inference_loop(self) -> None:
        while not self._halt.is_set():
            with self._cond:
                if not self._pending:
                    self._cond.wait(0.05)
            self._drain()

    def _drain(self) -> None:
        while True:
            with self._cond:
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_BATCH))]
            if not batch:
                return
            groups: dict[tuple, list[Arrival]] = defaultdict(list)
            for a in batch:             # one runtime call per sensor boot (its model and routing cache)
                groups[(a.session, id(a.predictor), id(a.route_cache))].append(a)
            lines = []
            for (session, _, _), arrivals in groups.items():
                try:
                    lines += self._predict(session, arrivals)
                except Exception as exc:  # noqa: BLE001 - one bad batch must not stop every sensor's output
                    session._error("RUNTIME_ERROR")
                    self.log(f"{session.url}: error: {len(arrivals)} frames could not be scored ({exc!r})")
            self._write(lines)

    def _predict(self, session: SensorSession, arrivals: list[Arrival]) -> list[tuple[Arrival, dict]]:
        pred = arrivals[0].predictor
        latents = []
        for a in arrivals:
            if a.msg.name == "LATENT" and len(a.msg.array) != pred.hidden:
                session._error("WRONG_LATENT_SIZE")     # counted, never scored with the wrong model
            elif a.msg.name == "LATENT":
                latents.append(a)
        results: dict[int, dict] = {}
        if latents:
            h = np.array([a.msg.array for a in latents], dtype=np.int16)
            t_us = np.array([a.msg.fields["t_us"] for a in latents], dtype=np.int64)
            b = pred.predict(h, t_us, arrivals[0].route_cache)
            for i, a in enumerate(latents):
                k = int(np.argmax(b.probs[i]))
                leaf = int(b.leaf[i])
                results[id(a)] = {
                    "source": "gateway", "class": pred.class_names[k], "class_index": k,
                    "probs": [round(float(v), 6) for v in b.probs[i]],
                    "path": {"tree": int(b.tree[i]), "leaf": leaf, "turns": pred.path_turns(leaf),
                             "p": round(float(b.path_p[i]), 6)},
                }
        out = []
        for a in arrivals:
            if a.msg.name == "LATENT":
                if id(a) in results:
                    out.append((a, results[id(a)]))
            else:                                                       # LOCAL_PREDICTION, passed through
                k = a.msg.fields["class_index"]
                rec = {"source": "sensor-fallback", "class": pred.class_names[k] if k < len(pred.class_names) else None,
                       "class_index": k, "scores_int8": list(a.msg.array)}
                if a.fallback_dequant is not None:
                    scale, zp = a.fallback_dequant
                    z = (np.array(a.msg.array, dtype=np.float64) - zp) * scale
                    e = np.exp(z - z.max())
                    rec["probs"] = [round(float(v), 6) for v in e / e.sum()]
                out.append((a, rec))
        return out

    def _write(self, lines: list[tuple[Arrival, dict]]) -> None:
        if not lines:
            return
        text = []
        now = time.monotonic()
        for a, rec in lines:
            s = a.session
            latency = now - a.t_rx
            record = {"sensor": s.url, "boot": a.boot, "frame_seq": a.msg.seq, "seq": a.msg.fields["sample_seq"],
                      "t_us": a.msg.fields["t_us"], "model": a.predictor.model_hash, **rec,
                      "latency_ms": round(1000 * latency, 3)}
            flags = a.msg.fields.get("flags", 0)
            if flags & P.LATENT_FLAG_RESUMED:
                record["resumed"] = True            # first latent after the sensor's encoder was suspended
            if flags & P.LATENT_FLAG_GENERATED:
                record["generated"] = True          # the sample came from the board's own generator
            if a.ref is not None:
                record["ref"] = {"window": a.ref.window, "index": a.ref.index, "label": a.ref.label}
                if a.ref.last:
                    self.window_results[(s.url, a.ref.window)] = (a.ref.label, rec["class_index"])
            text.append(json.dumps(record, separators=(",", ":")))
            s.latency_ms.append(1000 * latency)
            self.metrics.prediction(s.url, a.predictor.model_hash, rec["source"], latency)
        try:
            self.out.write("\n".join(text) + "\n")
            self.out.flush()
            self.lines += len(text)
        except (OSError, ValueError) as exc:       # a closed pipe must not kill the gateway
            self.errors_out += 1
            if self.errors_out == 1:
                self.log(f"error: cannot write predictions ({exc})")

    # --- reporting ---
    def accuracy(self) -> tuple[int, int]:
        """(correct, windows) over the injected windows answered so far."""
        res = list(self.window_results.values())
        return sum(1 for label, k in res if label == k), len(res)

    def summary(self) -> str:
        rows = [f"gateway: {self.lines} predictions written in {self.uptime_s():.1f} s"]
        for s in self.sessions:
            lat = np.array(s.latency_ms) if s.latency_ms else None
            c = s.counters
            errs = ", ".join(f"{k} {v}" for k, v in sorted(c.errors.items())) or "none"
            rows.append(f"  {s.url}: model {s.model_label}, {c.latents} latents, {c.local_predictions} fallback "
                        f"predictions, {c.dropped_no_model} without a model, {c.reconnects} reconnects, "
                        f"errors: {errs}"
                        + (f"; link-to-output p50 {np.percentile(lat, 50):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms"
                           if lat is not None else ""))
        correct, n = self.accuracy()
        if n:
            rows.append(f"  injected windows: {n}, accuracy {100 * correct / n:.2f} % (prediction at each window's "
                        "last sample)")
        return "\n".join(rows)
