"""Start-up without the cyclic garbage collector, and collection after it without what start-up built.

A process's imports build a few hundred thousand long-lived objects (modules, classes, pydantic
and protobuf schemas). The collector walks all of them again in each of the few full collections
that start-up triggers: 0.2-0.3 s of a 1.5 s start of the API or the worker (`cloudgreet bench
startup --compare`). Nothing of that is garbage. So the `api` and `worker` commands hold the
collector while they import and build, then freeze what exists (`gc.freeze`: later collections
skip it) and collect as usual from there: the pattern CPython's documentation of `gc.freeze` gives
(disable early, freeze once built), there for servers that fork.
"""

from __future__ import annotations

import gc


def hold_collector() -> None:
    """The entry point of a long-running process, before its imports."""
    gc.disable()


def collect_from_here() -> None:
    """Once the process has built what it keeps. Nothing changes where the collector was not held
    (tests, an API started by `uvicorn` itself), so every start path may call it."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.enable()
