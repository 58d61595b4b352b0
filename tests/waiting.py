"""Waiting for a condition in tests: poll until it holds, fail loudly with what was last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T] | T], accept: Callable[[T], bool], *, timeout: float = 30, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
                value = await value
            last = value
            if accept(value):
                return value
        except Exception as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s; last seen: {last!r}")
        await asyncio.sleep(0.05)
