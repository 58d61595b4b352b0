"""The collector held while a process starts, and running again once it has (runtime/collector.py).

The API and the worker processes are checked from outside in tests/test_metrics.py: their
`python_gc_collections_total` grows while they serve calls."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runtime.collector import collect_from_here, hold_collector


@pytest.fixture
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_what_start_up_built_is_frozen_and_collection_resumes(collector_restored: None) -> None:
    hold_collector()
    assert not gc.isenabled()
    built_at_start = [object() for _ in range(10)]  # noqa: F841  (kept alive: start-up's long-lived state)
    collect_from_here()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # later collections skip it

    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage  # type: ignore[attr-defined]
    del garbage
    assert gc.collect() >= 1  # a cycle made after start is collected


def test_a_process_that_never_held_the_collector_is_left_as_it_was(collector_restored: None) -> None:
    frozen = gc.get_freeze_count()
    collect_from_here()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
