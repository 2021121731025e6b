"""Quantization: the fixed-point encoder (formats, golden model) and the int8 fallback expert."""
