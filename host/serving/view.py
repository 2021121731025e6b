"""The live terminal view (`--view`): one row per sensor, redrawn a few times a second on stderr,
with log lines printed above it. stdout stays free for the JSON Lines output."""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

REFRESH_HZ = 4


class LiveView:
    def __init__(self, gateway):
        self.gateway = gateway
        self.console = Console(stderr=True)
        self.live = Live(self._table(), console=self.console, refresh_per_second=REFRESH_HZ, transient=False)

    def _table(self) -> Table:
        t = Table(title=f"RT-LNF gateway - {self.gateway.lines} predictions", expand=False)
        for col in ("sensor", "link", "model", "rate /s", "p50 ms", "p95 ms", "latents", "fallback", "errors",
                    "reconnects"):
            t.add_column(col, justify="right" if col not in ("sensor", "link", "model") else "left")
        now = time.monotonic()
        for s in self.gateway.sessions:
            lat = np.array(s.latency_ms) if s.latency_ms else None
            c = s.counters
            style = {"up": "green", "fallback": "yellow", "no model": "red", "down": "red"}.get(s.state, "")
            t.add_row(s.url, f"[{style}]{s.state}[/]" if style else s.state, s.model_label, f"{s.rate(now):.0f}",
                      f"{np.percentile(lat, 50):.2f}" if lat is not None else "-",
                      f"{np.percentile(lat, 95):.2f}" if lat is not None else "-",
                      str(c.latents), str(c.local_predictions), str(sum(c.errors.values())), str(c.reconnects))
        correct, n = self.gateway.accuracy()
        injs = [s.injector for s in self.gateway.sessions if s.injector is not None]
        if injs:
            total = sum(i.windows for i in injs)
            t.caption = f"test windows answered {n}/{total}" + (f", accuracy {100 * correct / n:.2f} %" if n else "")
        return t

    def __enter__(self):
        self.live.start()
        self.gateway._log_sink = self.console.print
        return self

    def refresh(self) -> None:
        self.live.update(self._table())

    def __exit__(self, *exc) -> None:
        self.refresh()
        self.gateway._log_sink = None
        self.live.stop()
