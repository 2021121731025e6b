"""The gateway's model store: exported artifacts in a directory, matched to sensors by model hash.

`--models DIR` is either one artifact directory or a directory of them (artifacts/default,
artifacts/demo, ...). On a sensor's HELLO the store picks the artifact whose short hash and
dimensions equal the sensor's, loads it with full verification (checksums, hash, finite weights)
and builds its runtime once; sensors with the same model share it. No match is an error that
names the sensor's hash and every hash the store holds: that sensor gets no predictions.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from host import artifact
from host.link.sensor import Hello
from host.runtime.engine import Predictor


class StoreError(Exception):
    """The store directory itself is unusable (exits the gateway)."""


class ModelMismatch(Exception):
    """No artifact in the store matches a sensor (that sensor gets no predictions)."""


@dataclass(frozen=True)
class Entry:
    path: Path
    short_hash: str
    hidden: int
    inputs: int
    classes: int

    def describe(self) -> str:
        return f"{self.short_hash} ({self.hidden} neurons, {self.inputs} inputs, {self.classes} classes) in {self.path}"


def _entry(path: Path) -> Entry:
    manifest = json.loads((path / "manifest.json").read_text())
    config = json.loads((path / "config.json").read_text())
    m = config["model"]
    return Entry(path, manifest["model_hash_short"], m["hidden"], m["inputs"], len(config["class_names"]))


class ModelStore:
    def __init__(self, root: Path, leaves: str = "float", top_k: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise StoreError(f"--models {self.root}: not a directory")
        candidates = [self.root] if (self.root / "manifest.json").exists() else sorted(
            p for p in self.root.iterdir() if (p / "manifest.json").exists())
        self.entries: list[Entry] = []
        self.problems: list[str] = []
        for path in candidates:
            try:
                self.entries.append(_entry(path))
            except (OSError, ValueError, KeyError) as exc:
                self.problems.append(f"{path}: unreadable artifact ({exc})")
        if not self.entries:
            extra = f" ({'; '.join(self.problems)})" if self.problems else ""
            raise StoreError(f"--models {self.root}: no exported artifacts found{extra}")
        self.leaves, self.top_k = leaves, top_k
        self._predictors: dict[str, Predictor] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "; ".join(e.describe() for e in self.entries)

    def match(self, hello: Hello) -> Predictor:
        """The runtime for the sensor's model, or ModelMismatch naming both sides."""
        same = [e for e in self.entries if e.short_hash == hello.model_hash]
        if not same:
            held = ", ".join(e.short_hash for e in self.entries)
            raise ModelMismatch(f"sensor runs model {hello.model_hash}, the store {self.root} holds {held}: "
                                "no predictions for this sensor (export and flash a stored model, or add its "
                                "artifact to --models)")
        entry = same[0]
        if (entry.hidden, entry.inputs, entry.classes) != (hello.hidden, hello.inputs, hello.classes):
            raise ModelMismatch(f"model {hello.model_hash}: the sensor reports {hello.hidden} neurons, {hello.inputs} "
                                f"inputs, {hello.classes} classes but {entry.describe()}")
        try:
            return self._predictor(entry)
        except artifact.ArtifactError as exc:
            raise ModelMismatch(f"model {hello.model_hash}: its artifact does not verify: {exc}") from None

    def load_all(self) -> None:
        """Verifies every stored artifact and builds its runtime now (the runtime options are checked
        against each model at start-up rather than at the first HELLO). Raises ArtifactError or
        RuntimeConfigError."""
        for entry in self.entries:
            self._predictor(entry)

    def _predictor(self, entry: Entry) -> Predictor:
        with self._lock:
            if entry.short_hash not in self._predictors:
                art = artifact.load(entry.path)
                self._predictors[entry.short_hash] = Predictor(art, leaves=self.leaves, top_k=self.top_k)
            return self._predictors[entry.short_hash]
