"""Benchmarks: commands that measure and write results/, never tests (tests assert behaviour only)."""
