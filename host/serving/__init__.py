"""Serving: the gateway's sessions with sensors, model store, outputs, metrics and live view."""
