"""Emission: C sources for the firmware, generated from the quantized model and the formats."""

from pathlib import Path

# Where `codegen export` writes the firmware's model sources by default (ignored by git).
GENERATED_DIR = Path(__file__).resolve().parents[2] / "firmware" / "generated"
