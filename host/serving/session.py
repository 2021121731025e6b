"""One sensor, as the gateway sees it: a thread that owns the sensor's port.

It connects (device path, `socket://` or `rfc2217://`), asks for HELLO, matches the sensor's model
in the store, sends heartbeats, decodes every frame and hands latents and fallback predictions to
the gateway. When the port disappears it reconnects with backoff; when the sensor resets (a new
HELLO mid-stream) it re-matches on the same link; bytes that never decode lead to a diagnosis
instead of silence.
Nothing here raises on bad input: corrupt frames, unknown types and NACKs are counted and logged.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import serial

from host.link import framing, protocol
from host.link import protocol_spec as P
from host.link.sensor import Hello
from host.link.transport import LinkError, open_port, read_some
from host.runtime.engine import Predictor, RouteCache
from host.serving.inject import Injector, SampleRef
from host.serving.model_store import ModelMismatch, ModelStore

READ_TIMEOUT_S = 0.01
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
HELLO_RETRY_S = 2.0
DIAGNOSE_AFTER_S = 3.0          # undecodable bytes for this long: say what is probably wrong
SILENT_AFTER_S = 3 * P.SENSOR_HEARTBEAT_PERIOD_MS / 1000


@dataclass
class Arrival:
    """A frame that needs the runtime (LATENT) or passes through (LOCAL_PREDICTION), with the model
    and routing cache of the sensor boot it came from (the session may have moved on by the time
    the inference thread scores it)."""
    session: "SensorSession"
    msg: protocol.ParsedMessage
    t_rx: float
    boot: int
    predictor: Predictor
    route_cache: RouteCache | None
    fallback_dequant: tuple[float, int] | None
    ref: SampleRef | None = None


@dataclass
class SessionCounters:
    bytes_in: int = 0
    frames_ok: int = 0
    latents: int = 0
    local_predictions: int = 0
    dropped_no_model: int = 0
    reconnects: int = 0
    errors: Counter = field(default_factory=Counter)      # reason -> count (framing, protocol, NACKs)


class SensorSession(threading.Thread):
    def __init__(self, url: str, baud: int, store: ModelStore, gateway, route_cache_ms: float | None = None,
                 injector: Injector | None = None, generator_period_us: int | None = None):
        super().__init__(name=f"sensor {url}", daemon=True)
        self.url, self.baud, self.store, self.gateway = url, baud, store, gateway
        self.injector = injector
        self.generator_period_us = generator_period_us
        self._configure = False                     # CONFIG still to be sent on this link (generator mode)
        self.send_heartbeats = True                 # off: the sensor falls back to its own expert after a second
        self.route_cache_ms = route_cache_ms
        self.state = "connecting"
        self.hello: Hello | None = None
        self.predictor: Predictor | None = None
        self.route_cache: RouteCache | None = None
        self.fallback_dequant: tuple[float, int] | None = None
        self.boot = 0
        self.stats: dict | None = None
        self.counters = SessionCounters()
        self.latency_ms: deque[float] = deque(maxlen=20000)
        self.rate_window: deque[float] = deque(maxlen=4096)
        self._halt = threading.Event()
        self._ever_connected = False
        self._decoded_on_link = False

    # --- control ---
    def stop(self) -> None:
        self._halt.set()

    @property
    def model_label(self) -> str:
        return self.hello.model_hash if self.hello else "unknown"

    def log(self, msg: str) -> None:
        self.gateway.log(f"{self.url}: {msg}")

    # --- thread ---
    def run(self) -> None:
        backoff = BACKOFF_MIN_S
        reported_down = False
        while not self._halt.is_set():
            try:
                port = open_port(self.url, self.baud, retry_s=0)
            except LinkError as exc:
                self._set_state("down")
                if not reported_down:
                    self.log(f"{exc}; retrying with backoff up to {BACKOFF_MAX_S:.0f} s")
                    reported_down = True
                self._halt.wait(backoff)
                backoff = min(2 * backoff, BACKOFF_MAX_S)
                continue
            port.timeout = READ_TIMEOUT_S
            if self._ever_connected:
                self.counters.reconnects += 1
                self.gateway.metrics.reconnect(self.url)
                self.log("reconnected")
            self._ever_connected, reported_down = True, False
            self._decoded_on_link = False
            try:
                self._serve(port)
            except (serial.SerialException, OSError) as exc:
                self.log(f"link lost ({exc}); reconnecting")
            finally:
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
            self._set_state("down")
            if self._decoded_on_link:
                backoff = BACKOFF_MIN_S                 # a link that worked: come back quickly
            else:                                       # opened but never spoke: do not spin
                self._halt.wait(backoff)
                backoff = min(2 * backoff, BACKOFF_MAX_S)
        self._set_state("stopped")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.gateway.metrics.link_state(self.url, state in ("up", "fallback", "no model"))

    def _send(self, port, seq: list[int], name: str, array=(), **fields) -> int:
        s = seq[0]
        port.write(framing.encode(protocol.pack(name, s, array=array, **fields)))
        seq[0] = (s + 1) & 0xFFFF
        return s

    def _serve(self, port) -> None:
        decoder = framing.FrameDecoder()
        seq = [0]
        self._set_state("connecting")
        self.hello = None
        self._send(port, seq, "REQUEST", what=P.by_name("HELLO").type_id)
        now = time.monotonic()
        last_hello_ask = last_ok = now
        last_config = now - HELLO_RETRY_S
        last_hb = now - 1.0                         # the first heartbeat goes out at once
        undecoded_since: float | None = None
        undecoded_bytes = 0
        diagnosed = silent = False
        while not self._halt.is_set():
            data = read_some(port)
            now = time.monotonic()
            if data:
                self.counters.bytes_in += len(data)
                decoded = False
                for status, body in decoder.feed(data):
                    if status == framing.FrameStatus.OK:
                        decoded = True
                        self._frame(port, seq, body, now)
                    elif status != framing.FrameStatus.EMPTY:
                        self._error(status.name)
                if decoded:
                    self._decoded_on_link = True
                    last_ok, undecoded_since, undecoded_bytes, silent = now, None, 0, False
                else:
                    undecoded_since = undecoded_since or now
                    undecoded_bytes += len(data)
            if undecoded_since and not diagnosed and now - undecoded_since > DIAGNOSE_AFTER_S:
                self.log(f"{undecoded_bytes} bytes in {now - undecoded_since:.0f} s but no frame decoded: "
                         f"wrong baud rate (this side: {self.baud}) or not an RT-LNF sensor?")
                diagnosed = True
            if not silent and now - last_ok > SILENT_AFTER_S:
                self.log(f"sensor silent for {now - last_ok:.0f} s (not even heartbeats)")
                silent = True
            # Without heartbeats a sensor would never arm its fallback: with --no-heartbeats they
            # still go out until the sensor has answered, then stop.
            if (self.send_heartbeats or self.hello is None) and now - last_hb >= P.GATEWAY_HEARTBEAT_PERIOD_MS / 1000:
                self._send(port, seq, "HEARTBEAT", uptime_ms=int(self.gateway.uptime_s() * 1000) & 0xFFFFFFFF)
                last_hb = now
            if self.hello is None and now - last_hello_ask >= HELLO_RETRY_S:
                self._send(port, seq, "REQUEST", what=P.by_name("HELLO").type_id)
                last_hello_ask = now
            if self._configure and self.hello is not None and self.predictor is not None and \
                    now - last_config >= HELLO_RETRY_S:
                self._send(port, seq, "CONFIG", source=P.SOURCE_GENERATOR, decimation=1,
                           generator_period_us=self.generator_period_us, generator_seed=self.boot)
                last_config = now                       # resent until STATS confirms the generator runs
            if self.injector is not None and self.hello is not None and self.predictor is not None:
                for ref, t_us, reset, values in self.injector.next_samples(now):
                    s = self._send(port, seq, "SAMPLE", t_us=t_us, flags=P.SAMPLE_FLAG_RESET if reset else 0,
                                   array=values)
                    self.injector.sent(s, ref)

    def _error(self, reason: str) -> None:
        self.counters.errors[reason] += 1
        self.gateway.metrics.frame_error(self.url, self.model_label, reason)

    def _frame(self, port, seq, body: bytes, t_rx: float) -> None:
        try:
            msg = protocol.parse(body)
        except protocol.ProtocolError as exc:
            if exc.reason == "BAD_VERSION" and self.counters.errors["BAD_VERSION"] == 0:
                self.log(f"{exc}: update the firmware or the gateway")
            self._error(exc.reason)
            return
        self.counters.frames_ok += 1
        self.gateway.metrics.frame(self.url, self.model_label, msg.name)
        if msg.name == "HELLO":
            self._hello(Hello.from_message(msg), booted=msg.seq == 0)
        elif msg.name == "LATENT":
            self.counters.latents += 1
            if self._submit(msg, t_rx) and self.state == "fallback":
                self.log("gateway heartbeats reached the sensor again: latents are back")
                self._set_state("up")
        elif msg.name == "LOCAL_PREDICTION":
            self.counters.local_predictions += 1
            if self._submit(msg, t_rx) and self.state == "up":
                self.log("sensor in fallback mode: passing its LOCAL_PREDICTION frames through")
                self._set_state("fallback")
        elif msg.name == "NACK":
            reason = next((k for k, v in P.NACK_REASONS.items() if v == msg.fields["reason"]), str(msg.fields["reason"]))
            self._error(f"NACK_{reason}")
            if msg.fields["ref_type"] == P.by_name("SAMPLE").type_id and self.injector:
                self.injector.rejected(msg.fields["ref_seq"])
        elif msg.name == "STATS":
            self.stats = msg.fields
            if msg.fields["source"] == P.SOURCE_GENERATOR:
                self._configure = False
        elif msg.name not in ("HEARTBEAT",):
            self._error(f"UNEXPECTED_{msg.name}")

    def _submit(self, msg: protocol.ParsedMessage, t_rx: float) -> bool:
        """Hands a LATENT or LOCAL_PREDICTION to the gateway with this boot's model; False (and
        counted) when no HELLO on this link has told which model that is."""
        if self.predictor is None or self.hello is None:
            self.counters.dropped_no_model += 1
            return False
        ref = self.injector.answered(msg.fields["sample_seq"]) if self.injector else None
        if msg.name == "LATENT":
            self.rate_window.append(t_rx)               # the view's rate: latents per second
        self.gateway.submit(Arrival(self, msg, t_rx, self.boot, self.predictor, self.route_cache,
                                    self.fallback_dequant, ref))
        return True

    def _hello(self, hello: Hello, booted: bool) -> None:
        """A sensor's boot HELLO is its first frame (seq 0); HELLOs that answer a REQUEST come later.
        So a seq-0 HELLO while this connection already has one means the sensor reset."""
        first_on_link = self.hello is None
        if not first_on_link and not booted:
            return                                  # an answer to a repeated REQUEST: nothing new
        if booted or self.boot == 0:
            self.boot += 1
        if not first_on_link:
            self.log("sensor reset (new HELLO mid-stream)")
        if hello.watchdog_reset:
            self.log("the sensor's last reset came from its watchdog")
        self.hello = hello
        if self.route_cache is not None:               # a fresh cache: the inference thread may hold the old one
            self.route_cache = RouteCache(self.route_cache.ttl_us)
        self._configure = self.generator_period_us is not None and (booted or first_on_link)
        if self.injector is not None and (booted or not first_on_link or self.counters.reconnects):
            self.injector.restart_window()          # the sensor lost its state: the window starts over
        if self.predictor is not None and self.predictor.model_hash == hello.model_hash:
            self._set_state("up")                   # same model as before: keep its runtime and cache
            return
        try:
            self.predictor = self.store.match(hello)
        except ModelMismatch as exc:
            self.predictor = None
            self.log(f"error: {exc}")
            self._set_state("no model")
            return
        self.route_cache = RouteCache(int(self.route_cache_ms * 1000)) if self.route_cache_ms else None
        self.fallback_dequant = self._fallback_scale()
        self.log(f"{hello}: model found in {self.predictor.artifact.path}")
        self._set_state("up")

    def _fallback_scale(self) -> tuple[float, int] | None:
        import json
        path = self.predictor.artifact.path / "export.json"
        try:
            fb = json.loads(path.read_text())["fallback"]
            return float(fb["output_scale"]), int(fb["output_zero_point"])
        except (OSError, ValueError, KeyError):
            return None

    def rate(self, now: float, window_s: float = 2.0) -> float:
        recent = [t for t in list(self.rate_window) if now - t <= window_s]
        return len(recent) / window_s
