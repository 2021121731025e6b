"""Model configuration: dimensions and solver settings, without importing TensorFlow."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    inputs: int
    classes: int
    hidden: int = 32
    substeps: int = 1
    trees: int = 4
    depth: int = 3
    expert_hidden: int = 8
    fallback_hidden: int = 16
    time_unit_s: float = 0.01
    tau_min: float = 0.5          # in time units

    @property
    def leaves(self) -> int:
        return 2 ** self.depth

    @property
    def inner_nodes(self) -> int:
        return 2 ** self.depth - 1

    def to_dict(self) -> dict:
        return asdict(self)
