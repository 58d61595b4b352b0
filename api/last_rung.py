"""The last rung: a call that Temporal cannot take is answered by the API itself (README, "Reliability").

When it fires: an incoming call's `call.initiated` cannot be handed to Temporal (unreachable, or
no answer within TEMPORAL_DELIVERY_TIMEOUT_SECONDS), and LAST_RUNG_GRACE_SECONDS have passed since
the call rang (its occurred_at, or when this process first saw it if that is earlier) without a
delivery of it succeeding. The grace period is measured by a timer of its own, which tries the
delivery once more when it ends, so it does not depend on how often Telnyx redelivers; a
redelivery after it ends acts at once.

What it does: keeps the promise of a call-back in the local outbox (written to disk first), then
answers with the Telnyx SDK, says that the business will call back, and hangs up when that
sentence has been played. Temporal gets the promise from the outbox once it is back
(api/promise_handover.py). Every later webhook of the call is acknowledged here and never reaches
Temporal. Neither Temporal nor the database is needed for any of it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import structlog
import telnyx
from fastapi import FastAPI, Request
from temporalio.service import RPCError

from api.business_names import BusinessNames
from api.last_rung_outbox import PromiseOutbox
from api.last_rung_phone import LastRungPhone, answered_by_last_rung, promise_words
from api.promise_handover import hand_over_promises
from domain.vocabulary import WebhookDelivery
from runtime import metrics
from runtime.settings import Settings
from workflows.call_messages import CallEvent
from workflows.last_rung_promise import LastRungPromise

log = structlog.get_logger(__name__)

# Calls this process keeps in mind (first sight, answered); older ones fall out first.
REMEMBERED_CALLS = 20_000

Delivery = Callable[[], Awaitable[WebhookDelivery]]


class RememberedCalls(OrderedDict[str, float]):
    """A bounded map of call_control_id to a moment."""

    def remember(self, call_control_id: str, moment: float) -> float:
        """The moment remembered for the call, this one if none was."""
        if call_control_id not in self:
            self[call_control_id] = moment
            if len(self) > REMEMBERED_CALLS:
                self.popitem(last=False)
        return self[call_control_id]


def rings_for_the_first_time(event: CallEvent) -> bool:
    """A new incoming call: not a transfer leg or a call-back our workflows dialled."""
    return (
        event.event_type == "call.initiated"
        and event.direction == "incoming"
        and event.leg is None
        and event.callback is None
    )


def occurred_at(event: CallEvent) -> float | None:
    try:
        return datetime.fromisoformat(event.occurred_at).timestamp() if event.occurred_at else None
    except ValueError:
        return None


class LastRungFailed(Exception):
    """The API could not answer (or hang up) a call itself; a redelivery of the webhook tries again."""


class LastRung:
    def __init__(self, settings: Settings, outbox: PromiseOutbox, names: BusinessNames, phone: LastRungPhone) -> None:
        self._grace = settings.last_rung_grace_seconds
        self._delivery_timeout = settings.temporal_delivery_timeout_seconds
        self._outbox = outbox
        self._names = names
        self._phone = phone
        self._first_seen = RememberedCalls()
        self._answered = RememberedCalls()
        self._answering: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}

    async def owns(self, event: CallEvent) -> bool:
        """Whether the API answered this call itself: then Temporal must never see its events."""
        if answered_by_last_rung(event) or event.call_control_id in self._answered:
            return True
        # A redelivered call.initiated carries no client_state yet; the outbox remembers across restarts.
        return event.event_type == "call.initiated" and await asyncio.to_thread(
            self._outbox.holds, event.call_control_id
        )

    async def follow(self, event: CallEvent) -> bool:
        """A webhook of a call the API answered: finish what it started. LastRungFailed: redeliver it."""
        if event.event_type == "call.initiated":
            await self._answer(event, self._rang_at(event))  # the answer may have failed: again, idempotently
        elif event.event_type == "call.speak.ended" and answered_by_last_rung(event):
            try:
                await self._phone.hang_up(event.call_control_id)
            except (telnyx.APIError, OSError) as error:
                raise LastRungFailed(f"hanging up failed: {error}") from error
            metrics.last_rung_step("hung_up")
        return True

    def should_answer(self, event: CallEvent) -> bool:
        return rings_for_the_first_time(event)

    async def temporal_unreachable(self, event: CallEvent, deliver: Delivery) -> bool:
        """Delivering `event`, a new call, failed: True when the API has answered the call instead,
        False while it still waits for Temporal. LastRungFailed: redeliver it."""
        rang_at = self._rang_at(event)
        deadline = rang_at + self._grace
        if time.time() < deadline:
            self._wait(event, rang_at, deadline, deliver)
            return False
        await self._answer(event, rang_at)
        return True

    def close(self) -> None:
        for task in [*self._timers.values(), *self._answering.values()]:
            task.cancel()

    def _rang_at(self, event: CallEvent) -> float:
        seen = self._first_seen.remember(event.call_control_id, time.time())
        occurred = occurred_at(event)
        return min(seen, occurred) if occurred is not None else seen

    def _wait(self, event: CallEvent, rang_at: float, deadline: float, deliver: Delivery) -> None:
        call_id = event.call_control_id
        if call_id in self._timers:
            return
        metrics.last_rung_step("waiting")
        log.warning("Temporal unreachable: the API answers the call if Temporal stays away", grace_seconds=self._grace)
        timer = asyncio.create_task(self._answer_at(event, rang_at, deadline, deliver))
        self._timers[call_id] = timer
        timer.add_done_callback(lambda _: self._timers.pop(call_id, None))

    async def _answer_at(self, event: CallEvent, rang_at: float, deadline: float, deliver: Delivery) -> None:
        await asyncio.sleep(max(0.0, deadline - time.time()))
        if event.call_control_id in self._answered:
            return
        try:
            await asyncio.wait_for(deliver(), self._delivery_timeout)
            return  # Temporal took the call after all
        except (RPCError, TimeoutError):
            pass
        with suppress(LastRungFailed):  # logged and counted; a redelivery of the call tries again
            await self._answer(event, rang_at)

    async def _answer(self, event: CallEvent, rang_at: float) -> None:
        """Answers once per process, however many webhooks and timers ask at the same time."""
        call_id = event.call_control_id
        if call_id in self._answered:
            return
        answering = self._answering.get(call_id)
        if answering is None:
            answering = asyncio.create_task(self._answer_once(event, rang_at))
            self._answering[call_id] = answering
            answering.add_done_callback(lambda _: self._answering.pop(call_id, None))
        # Shielded: a webhook request that goes away does not cut the caller off mid-answer.
        await asyncio.shield(answering)

    async def _answer_once(self, event: CallEvent, rang_at: float) -> None:
        call_id = event.call_control_id
        business = self._names.name_for(event.dialed_number)
        caller = event.caller_number
        try:
            if caller:
                promise = LastRungPromise(
                    call_control_id=call_id,
                    caller_number=caller,
                    dialed_number=event.dialed_number,
                    business_name=business,
                    rang_at=datetime.fromtimestamp(rang_at, UTC),
                    answered_at=datetime.now(UTC),
                )
                # On disk before the caller hears the promise.
                if await asyncio.to_thread(self._outbox.record, promise):
                    metrics.last_rung_step("promise_recorded")
            words = promise_words(business, call_back=bool(caller))
            answered = await self._phone.answer_and_speak(call_id, words)
        except (telnyx.APIError, OSError, sqlite3.Error) as error:
            metrics.last_rung_step("answer_failed")
            log.error("the API could not answer the call itself", error=str(error))
            raise LastRungFailed(str(error)) from error
        self._answered.remember(call_id, time.time())
        metrics.last_rung_step("answered" if answered else "caller_gone")
        log.warning(
            "answered by the API: Temporal unreachable" if answered else "the caller hung up before the API answered",
            waited_seconds=round(time.time() - rang_at, 1),
            call_back_promised=bool(caller),
        )


async def last_rung_of(request: Request) -> LastRung | None:  # async: no thread hop (api/dependencies.py)
    return request.app.state.last_rung


@asynccontextmanager
async def running_last_rung(app: FastAPI) -> AsyncIterator[None]:
    """For the API's lifespan: the last rung, its business names kept fresh, its promises handed over."""
    settings: Settings = app.state.settings
    if not settings.telnyx_api_key:
        log.warning("the last rung is off: TELNYX_API_KEY is not set, so the API cannot answer calls itself")
        yield
        return
    try:
        outbox = PromiseOutbox(settings.last_rung_dir)
        names = BusinessNames(settings.last_rung_dir)
    except OSError as error:
        log.error("the last rung is off: LAST_RUNG_DIR cannot be written", error=str(error))
        yield
        return
    # Retries with the same command_id are safe; the timeout keeps a webhook from waiting long.
    client = telnyx.AsyncTelnyx(
        api_key=settings.telnyx_api_key, base_url=settings.telnyx_base_url, max_retries=2, timeout=5.0
    )
    last_rung = app.state.last_rung = LastRung(settings, outbox, names, LastRungPhone(client))
    background = [
        asyncio.create_task(names.keep_fresh(settings.database_url)),
        asyncio.create_task(hand_over_promises(outbox, app.state.temporal, settings.temporal_task_queue)),
    ]
    try:
        yield
    finally:
        app.state.last_rung = None
        last_rung.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        names.close()
        await client.close()
