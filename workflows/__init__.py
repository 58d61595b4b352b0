"""Deterministic workflow code only: the decisions of a call. All I/O lives in `activities/`."""
