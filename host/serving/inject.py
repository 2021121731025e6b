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
    def __init__(self, counts: list[np.ndarray], t_us: list[np.ndarray], labels: list[int], in_flight: int = 4,
                 pause_s: float = 0.0):
        """Windows of int16 counts (samples x channels) with their timestamps (us) and labels.
        pause_s: idle time between windows (lets the sensor's encoder suspend, for tests)."""
        self.counts, self.t_us, self.labels = counts, t_us, labels
        self.in_flight_max = in_flight
        self.pause_s = pause_s
        self.window = 0
        self.index = 0
        self.pending: dict[int, tuple[SampleRef, float, int]] = {}   # SAMPLE seq -> (ref, time sent, send order)
        self._sent_count = 0
        self.restarts = 0
        self.round_trip_ms: list[float] = []             # SAMPLE written -> its answer decoded
        self._resume_at = 0.0

    @classmethod
    def from_artifact(cls, artifact_dir: Path, windows: int | None = None, **kwargs) -> "Injector":
        """The artifact's test windows, as counts with the export manifest's input scales."""
        try:
            art = artifact.load(artifact_dir)
            export = json.loads((Path(artifact_dir) / "export.json").read_text())
            test = art.test_split()
        except (artifact.ArtifactError, OSError, ValueError) as exc:
            raise InjectError(f"--inject {artifact_dir}: {exc} (train and export it first)") from None
        n = len(test["labels"]) if windows is None else min(windows, len(test["labels"]))
        scale = np.asarray(export["input_scale"])
        return cls([to_counts(test["values"][w], scale) for w in range(n)],
                   [np.round(test["timestamps"][w] * 1e6).astype(np.int64) for w in range(n)],
                   [int(test["labels"][w, -1]) for w in range(n)], **kwargs)

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
            self.window = min(ref.window for ref, _, _ in self.pending.values())
        self.index = 0
        self.pending.clear()
        self.restarts += 1

    def next_samples(self, now: float):
        """Yields (ref, t_us, flags_reset, values) for samples that may be sent now."""
        if any(now - sent > ANSWER_TIMEOUT_S for _, sent, _ in self.pending.values()):
            self.restart_window()
        while self.window < self.windows and len(self.pending) < self.in_flight_max:
            if self.index == 0 and self.pause_s:
                if self.pending:
                    return                          # the previous window's answers first, then the pause
                if self._resume_at == 0.0:
                    self._resume_at = now + self.pause_s
                if now < self._resume_at:
                    return
                self._resume_at = 0.0
            w, k = self.window, self.index
            ref = SampleRef(w, k, self.labels[w], k == len(self.counts[w]) - 1)
            yield ref, int(self.t_us[w][k]) & 0xFFFFFFFF, k == 0, [int(v) for v in self.counts[w][k]]
            self.index += 1
            if self.index == len(self.counts[w]):
                self.window, self.index = self.window + 1, 0

    def sent(self, seq: int, ref: SampleRef) -> None:
        self._sent_count += 1
        self.pending[seq] = (ref, time.monotonic(), self._sent_count)

    def answered(self, sample_seq: int) -> SampleRef | None:
        """The sample this answer belongs to. The sensor answers in order, so samples sent before
        it and still unanswered lost their answers on the way: their window starts over."""
        entry = self.pending.pop(sample_seq, None)
        if entry is None:
            return None
        ref, sent_order = entry[0], entry[2]
        self.round_trip_ms.append(1000 * (time.monotonic() - entry[1]))
        if any(order < sent_order for _, _, order in self.pending.values()):
            self.pending[sample_seq] = entry        # restart from the oldest window still waiting
            self.restart_window()
        return ref

    def rejected(self, sample_seq: int) -> None:
        if sample_seq in self.pending:
            self.restart_window()
