"""Sample injection: the gateway streams recorded windows through a sensor as SAMPLE frames, for
hardware-in-the-loop validation (the emulator, or a board with no sensor attached).

The windows are an artifact's test split, converted to the int16 counts the sensor expects with the
export manifest's input scales. Each window starts with SAMPLE flag RESET; its samples carry the
recorded timestamps. A window restarts from its first sample when the sensor resets (new HELLO),
when a SAMPLE is NACKed, or when an answer does not come in time, so every window's latents
come from one uninterrupted sequence.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host import artifact
from host.runtime.inputs import to_counts

ANSWER_TIMEOUT_S = 3.0


class InjectError(Exception):
    pass


@dataclass(frozen=True)
class SampleRef:
    window: int
    index: int
    label: int
    last: bool


class Injector:
    def __init__(self, artifact_dir: Path, windows: int | None = None, in_flight: int = 4):
        try:
            art = artifact.load(artifact_dir)
            export = json.loads((Path(artifact_dir) / "export.json").read_text())
            test = art.test_split()
        except (artifact.ArtifactError, OSError, ValueError) as exc:
            raise InjectError(f"--inject {artifact_dir}: {exc} (train and export it first)") from None
        n = len(test["labels"]) if windows is None else min(windows, len(test["labels"]))
        scale = np.asarray(export["input_scale"])
        self.counts = [to_counts(test["values"][w], scale) for w in range(n)]
        self.t_us = [np.round(test["timestamps"][w] * 1e6).astype(np.int64) for w in range(n)]
        self.labels = [int(test["labels"][w, -1]) for w in range(n)]
        self.model_hash = art.short_hash
        self.in_flight_max = in_flight
        self.window = 0
        self.index = 0
        self.pending: dict[int, tuple[SampleRef, float]] = {}   # SAMPLE seq -> (ref, time sent)
        self.restarts = 0

    @property
    def windows(self) -> int:
        return len(self.counts)

    @property
    def done(self) -> bool:
        return self.window >= self.windows and not self.pending

    def restart_window(self) -> None:
        """Starts again the oldest window still waiting for answers (or the current one); the
        answers it already had are superseded by the new ones."""
        if self.pending:
            self.window = min(ref.window for ref, _ in self.pending.values())
        self.index = 0
        self.pending.clear()
        self.restarts += 1

    def next_samples(self, now: float):
        """Yields (ref, t_us, flags_reset, values) for samples that may be sent now."""
        if any(now - sent > ANSWER_TIMEOUT_S for _, sent in self.pending.values()):
            self.restart_window()
        while self.window < self.windows and len(self.pending) < self.in_flight_max:
            w, k = self.window, self.index
            ref = SampleRef(w, k, self.labels[w], k == len(self.counts[w]) - 1)
            yield ref, int(self.t_us[w][k]) & 0xFFFFFFFF, k == 0, [int(v) for v in self.counts[w][k]]
            self.index += 1
            if self.index == len(self.counts[w]):
                self.window, self.index = self.window + 1, 0

    def sent(self, seq: int, ref: SampleRef) -> None:
        self.pending[seq] = (ref, time.monotonic())

    def answered(self, sample_seq: int) -> SampleRef | None:
        entry = self.pending.pop(sample_seq, None)
        return entry[0] if entry else None

    def rejected(self, sample_seq: int) -> None:
        if sample_seq in self.pending:
            self.restart_window()
