"""Prometheus metrics of the gateway (`--metrics-port`), labelled by sensor and model hash.

Each Gateway has its own registry (no global state), served at /metrics by prometheus-client.
The counters count exactly what the JSON Lines output contains: one `rtlnf_predictions_total`
increment per line written.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames = Counter("rtlnf_frames", "Frames decoded from sensors, by message type",
                              ["sensor", "model", "type"], registry=r)
        self.frame_errors = Counter("rtlnf_frame_errors", "Frames that failed to decode or were NACKed, by reason",
                                    ["sensor", "model", "reason"], registry=r)
        self.predictions = Counter("rtlnf_predictions", "Predictions written (source: gateway or sensor fallback)",
                                   ["sensor", "model", "source"], registry=r)
        self.latency = Histogram("rtlnf_link_to_output_seconds", "Frame received to prediction written",
                                 ["sensor", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.link_up = Gauge("rtlnf_link_up", "1 while the sensor's link is up", ["sensor"], registry=r)
        self.reconnects = Counter("rtlnf_reconnects", "Reconnections after the port was lost", ["sensor"], registry=r)
        self.server = None

    def serve(self, port: int, addr: str) -> None:
        self.server, _ = start_http_server(port, addr=addr, registry=self.registry)

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def frame(self, sensor: str, model: str, msg_type: str) -> None:
        self.frames.labels(sensor, model, msg_type).inc()

    def frame_error(self, sensor: str, model: str, reason: str) -> None:
        self.frame_errors.labels(sensor, model, reason).inc()

    def prediction(self, sensor: str, model: str, source: str, latency_s: float) -> None:
        self.predictions.labels(sensor, model, source).inc()
        self.latency.labels(sensor, model).observe(latency_s)

    def link_state(self, sensor: str, up: bool) -> None:
        self.link_up.labels(sensor).set(1 if up else 0)

    def reconnect(self, sensor: str) -> None:
        self.reconnects.labels(sensor).inc()
