"""The API's rate limits, counted in the database so that every replica shares them
(`database/rate_limits.py`); a full one is a 429 with `Retry-After` and a sentence saying when."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from fastapi import HTTPException

from database.engine import get_engine
from database.rate_limits import Allowance, try_hit
from runtime.settings import Settings


async def seconds_until_allowed(settings: Settings, allowances: Sequence[Allowance]) -> float | None:
    """Counts one hit against every allowance if all have room (None); else how long until they would."""
    engine = get_engine(settings.database_url)
    # A blocking driver call, which may wait on another replica's row lock: not on the event loop.
    return await asyncio.to_thread(try_hit, engine, allowances, time.time())


async def within_limits(settings: Settings, allowances: Sequence[Allowance], what: str) -> None:
    wait = await seconds_until_allowed(settings, allowances)
    if wait is None:
        return
    seconds = max(1, math.ceil(wait))
    raise HTTPException(429, f"too many {what}; try again in {seconds} seconds", headers={"Retry-After": str(seconds)})
