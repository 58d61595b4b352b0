"""The worker's memory of a failing LLM: open after failures in a row, one probe at a time after a while."""

from __future__ import annotations

from activities.llm_circuit import LLMCircuit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_in_a_row_open_it_and_a_success_closes_it() -> None:
    clock = Clock()
    circuit = LLMCircuit(failures=3, open_seconds=30, clock=clock)
    circuit.failed()
    circuit.failed()
    circuit.succeeded()  # not in a row: a passing hiccup
    circuit.failed()
    circuit.failed()
    assert circuit.allows()
    circuit.failed()
    assert not circuit.allows(), "three in a row: later turns do not wait on the LLM"
    clock.now = 29
    assert not circuit.allows()
    clock.now = 30
    assert circuit.allows(), "one probe once the while is over"
    assert not circuit.allows(), "and only one at a time"
    circuit.succeeded()
    assert circuit.allows() and circuit.allows()


def test_a_failed_probe_keeps_it_open_for_another_while() -> None:
    clock = Clock()
    circuit = LLMCircuit(failures=1, open_seconds=10, clock=clock)
    circuit.failed()
    clock.now = 10
    assert circuit.allows()
    circuit.failed()
    clock.now = 19
    assert not circuit.allows()
    clock.now = 20
    assert circuit.allows()


def test_a_probe_that_never_reports_back_lets_another_go_later() -> None:
    clock = Clock()
    circuit = LLMCircuit(failures=1, open_seconds=10, clock=clock)
    circuit.failed()
    clock.now = 10
    assert circuit.allows()  # then cut off by a barge-in: neither success nor failure
    clock.now = 15
    assert not circuit.allows()
    clock.now = 20
    assert circuit.allows()
