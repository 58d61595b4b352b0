"""Latency benchmarks that run against a private CloudGreet stack (see `turn_latency`)."""
