"""Emission: C sources for the firmware, generated from the quantized model and the formats."""
