"""The browser demo's Realtime calls this API process controls, and their daily Realtime minutes.

Each call the API creates for a page (`api/realtime_session.py`) gets one task here that holds the
call's control channel (`activities/realtime_control.py`) until the call ends: it runs the tools,
and at the session cap has the agent say goodbye and hangs up. The tasks belong to the app: at
shutdown every call still going is hung up (no call runs on without its tools and its cap) and the
tasks are awaited.

Minutes: a call reserves its whole cap from today's budgets (the business's and the whole
installation's, counted in the database so every replica shares them) before it is created, and
gives back what it did not use when it ends. A replica that dies keeps its reservations: the
budget errs on the side of the bill.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import openai
import structlog
from fastapi import HTTPException

from activities.realtime_control import ControlChannelUnreachable, ControlOutcome, RealtimeControl, RunTool
from database.engine import get_engine
from database.rate_limits import Budget, give_back, spend_day, try_spend
from runtime.settings import Settings

log = structlog.get_logger(__name__)

INSTALLATION_BUDGET = "realtime-seconds-all"


def business_budget(business_id: int) -> str:
    return f"realtime-seconds-business:{business_id}"


class MinutesReserved:
    """A call's reservation of Realtime seconds from today's budgets; `settle` gives back the unused."""

    def __init__(self, settings: Settings, budgets: list[Budget], seconds: int, day: int) -> None:
        self._settings = settings
        self._budgets = budgets
        self._seconds = seconds
        self._day = day
        self._settled = False

    async def settle(self, used_seconds: float) -> None:
        if self._settled:
            return
        self._settled = True
        unused = self._seconds - math.ceil(used_seconds)
        engine = get_engine(self._settings.database_url)
        await asyncio.to_thread(give_back, engine, self._budgets, unused, self._day)


async def reserve_minutes(settings: Settings, business_id: int, business_name: str) -> MinutesReserved:
    """Reserves a whole session's seconds, or refuses: 429 for the business, 503 for the installation."""
    seconds = settings.realtime_max_session_seconds
    budgets = [
        Budget(business_budget(business_id), round(settings.realtime_minutes_per_business_per_day * 60)),
        Budget(INSTALLATION_BUDGET, round(settings.realtime_minutes_per_day * 60)),
    ]
    now = time.time()
    engine = get_engine(settings.database_url)
    full = await asyncio.to_thread(try_spend, engine, budgets, seconds, now)
    if full is not None:
        midnight = (spend_day(now) + 1) * 86_400
        wait = max(1, math.ceil(midnight - now))
        hours = f"{wait // 3600} h {wait % 3600 // 60} min"
        if full.key == INSTALLATION_BUDGET:
            raise HTTPException(
                503,
                f"The voice demo has used all its minutes for today (REALTIME_MINUTES_PER_DAY); "
                f"it is available again in {hours}, at midnight UTC. You can still type to the assistant.",
                headers={"Retry-After": str(wait)},
            )
        raise HTTPException(
            429,
            f"{business_name}'s voice demo has used its minutes for today "
            f"(REALTIME_MINUTES_PER_BUSINESS_PER_DAY); it is available again in {hours}, at midnight UTC.",
            headers={"Retry-After": str(wait)},
        )
    return MinutesReserved(settings, budgets, seconds, spend_day(now))


class BrowserCalls:
    """The calls under this process's control, one task each, until each call ends."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[RealtimeControl, asyncio.Task[ControlOutcome | None]]] = {}
        self.ended: dict[str, ControlOutcome] = {}  # the last few outcomes, for tests and the log

    def start(
        self,
        client: openai.AsyncOpenAI,
        call_id: str,
        run_tool: RunTool,
        *,
        max_seconds: int,
        goodbye: str,
        first_words: str | None,
        keep_session: dict[str, Any] | None = None,
        minutes: MinutesReserved,
    ) -> None:
        control = RealtimeControl(client, call_id)
        hang_up_at = datetime.now(UTC) + timedelta(seconds=max_seconds)

        async def serve() -> ControlOutcome | None:
            started = time.monotonic()
            outcome: ControlOutcome | None = None
            try:
                outcome = await control.run(
                    run_tool,
                    hang_up_at=hang_up_at,
                    goodbye=goodbye,
                    first_words=first_words,
                    keep_session=keep_session,
                )
                self.ended[call_id] = outcome
                while len(self.ended) > 100:
                    del self.ended[next(iter(self.ended))]
                log.info(
                    "realtime.browser_call_ended",
                    call_id=call_id,
                    ended=outcome.ended,
                    seconds=round(outcome.seconds, 1),
                    tool_calls=len(outcome.tool_calls),
                )
                return outcome
            except ControlChannelUnreachable as error:
                log.warning("realtime.browser_call_uncontrolled", call_id=call_id, error=str(error))
                return None
            finally:
                # However the channel ended (refused, unreachable, cancelled), the call has no tools and no cap
                # any more: it is hung up (a call over already is no error) before its minutes are settled.
                await asyncio.shield(control.hang_up())
                self._running.pop(call_id, None)
                await asyncio.shield(minutes.settle(time.monotonic() - started))

        task = asyncio.create_task(serve(), name=f"realtime-control-{call_id}")
        self._running[call_id] = (control, task)

    async def hang_up(self, call_id: str) -> bool:
        """Hangs up a call this process controls (its task then ends and settles); False if none."""
        running = self._running.get(call_id)
        if running is None:
            return False
        await running[0].hang_up()
        return True

    async def close(self) -> None:
        """At shutdown: every call still going is hung up, and its task ends."""
        running = list(self._running.values())
        await asyncio.gather(*(control.hang_up() for control, _ in running), return_exceptions=True)
        tasks = [task for _, task in running]
        _done, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
