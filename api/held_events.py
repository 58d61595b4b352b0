"""Interim transcripts held a moment so that a burst of them reaches the call as its newest one.

A call keeps only the caller's newest interim words (`CallProgress.interim`): a speculative reply
starts on them once they stop changing, and times that from when the API received them
(`CallEvent.received_at`), not from when they reach the workflow. Every signal costs the call a
history event and a workflow task, so an interim that is not the first of its utterance
(`api.call_routing.InterimTranscripts`) is held HOLD_SECONDS after it is acknowledged (Telnyx
posts a call's webhooks one at a time: holding the answer would hold the final transcript
behind it). What comes next for the same call decides:

- newer words, or the final transcript: the held interim says nothing they do not; dropped;
- any other event: the held interim is signalled first, in its place in Telnyx's order;
- nothing within HOLD_SECONDS: it is signalled then.

An interim is advisory (the final transcript is what a turn answers, and the first interim,
the barge-in, is never held): one held by an API process that dies, or whose signal fails, is
lost, and the call speculates on the words it has or not at all. An API that stops in good order
(a deploy) signals what it holds first (`flush`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

import structlog

from workflows.call_messages import CallEvent

log = structlog.get_logger(__name__)

HOLD_SECONDS = 0.1


@dataclass
class _Held:
    event: CallEvent
    flush: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    sending: bool = False
    task: asyncio.Task[None] | None = None


class HeldInterims:
    def __init__(self, send: Callable[[CallEvent], Awaitable[object]], hold_seconds: float = HOLD_SECONDS) -> None:
        self._send = send
        self._hold_seconds = hold_seconds
        self._held: dict[str, _Held] = {}  # by call_control_id: at most one per call, until signalled

    def hold(self, event: CallEvent) -> None:
        held = _Held(event)
        held.task = asyncio.create_task(self._send_when_due(held))
        self._held[event.call_control_id] = held

    async def flush(self) -> None:
        """Signals every held interim now: the API is stopping (a deploy), and a held one would be lost."""
        held = list(self._held.values())
        for one in held:
            one.flush.set()
        await asyncio.gather(*(one.task for one in held if one.task is not None), return_exceptions=True)

    async def before(self, event: CallEvent) -> None:
        """Settles what is held for `event`'s call before `event` is delivered: dropped if `event` is newer
        words of the caller, else signalled now and awaited, so that it reaches the call first."""
        held = self._held.pop(event.call_control_id, None)
        if held is None or held.task is None or held.task.done():
            return
        if event.event_type == "call.transcription" and not held.sending:
            held.dropped = True
        held.flush.set()
        if not held.dropped:
            await asyncio.shield(held.task)

    async def _send_when_due(self, held: _Held) -> None:
        call = held.event.call_control_id
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(held.flush.wait(), self._hold_seconds)
            if held.dropped:
                return
            held.sending = True
            await self._send(held.event)
        except Exception as error:  # noqa: BLE001 - acknowledged already: nobody else would hear of it
            log.warning("interim transcript not delivered", event_id=held.event.event_id, error=repr(error))
        finally:
            if self._held.get(call) is held:
                del self._held[call]
