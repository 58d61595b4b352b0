"""Webhooks held a moment so that a call gets fewer signals: a burst of interim transcripts as its
newest one, and the end of a sentence together with what follows it.

Every signal costs the call a history event and a workflow task. Telnyx posts a call's webhooks
one at a time (holding the answer would hold the next webhook behind it), so a held event is
acknowledged first and held HOLD_SECONDS. What comes next for the same call decides:

- a later interim transcript of an utterance, or the first one while the line is quiet
  (`api.call_routing.InterimTranscripts`, `api.line_playback`): newer words,
  or the final transcript, say all it says: it is dropped. A call keeps only the caller's newest
  interim words (`CallProgress.interim`), which a speculative reply starts on once they stop
  changing, timed from when the API received them (`CallEvent.received_at`);
- a `call.speak.ended`, only with HOLD_PLAYBACK_EVENTS on (off by default, for the loss below): the next sentence's `call.speak.started` follows it within milliseconds
  while a reply speaks. The two go in one signal (`TELNYX_EVENTS_SIGNAL`), the call hears them in
  Telnyx's order and counts both, and sees no moment of quiet between two sentences;
- any other event: the held one goes with it, first, in the same signal;
- nothing within HOLD_SECONDS: it is signalled alone then.

A held event is acknowledged already: one held by an API process that dies is lost. An interim
is advisory (the final transcript is what a turn answers, and the first interim while our speech
plays, the barge-in, is never held): the call speculates on the words it has or not at all. A lost `speak.ended`
leaves the call thinking a sentence still plays until its waits for the end of speech time out
(`WAIT_FOR_SPEECH_TO_FINISH`), as when Telnyx never sends one. An API that stops in good order
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


def held_for_company(event: CallEvent) -> bool:
    """The end of a sentence on the caller's own line: the next one's start, or the caller's words, follow."""
    return event.event_type == "call.speak.ended" and event.leg is None


@dataclass
class _Held:
    event: CallEvent
    flush: asyncio.Event = field(default_factory=asyncio.Event)
    taken: bool = False  # dropped, or taken to go with the call's next event
    sending: bool = False
    task: asyncio.Task[None] | None = None


class HeldEvents:
    def __init__(
        self, send: Callable[[list[CallEvent]], Awaitable[object]], hold_seconds: float = HOLD_SECONDS
    ) -> None:
        self._send = send
        self._hold_seconds = hold_seconds
        self._held: dict[str, _Held] = {}  # by call_control_id: at most one per call, until signalled

    def hold(self, event: CallEvent) -> None:
        held = _Held(event)
        held.task = asyncio.create_task(self._send_when_due(held))
        self._held[event.call_control_id] = held

    async def flush(self) -> None:
        """Signals every held event now: the API is stopping (a deploy), and a held one would be lost."""
        held = list(self._held.values())
        for one in held:
            one.flush.set()
        await asyncio.gather(*(one.task for one in held if one.task is not None), return_exceptions=True)

    async def before(self, event: CallEvent) -> list[CallEvent]:
        """Settles what is held for `event`'s call before `event` is delivered: dropped if it is an interim and
        `event` newer words of the caller; else the held event, to be signalled with `event` and before it
        (or, if its own signal is under way already, awaited, so that it reaches the call first)."""
        held = self._held.pop(event.call_control_id, None)
        if held is None or held.task is None or held.task.done():
            return []
        if held.sending:
            held.flush.set()
            await asyncio.shield(held.task)
            return []
        held.taken = True
        held.flush.set()
        newer_words = held.event.event_type == "call.transcription" and event.event_type == "call.transcription"
        return [] if newer_words else [held.event]

    async def _send_when_due(self, held: _Held) -> None:
        call = held.event.call_control_id
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(held.flush.wait(), self._hold_seconds)
            if held.taken:
                return
            held.sending = True
            await self._send([held.event])
        except Exception as error:  # noqa: BLE001 - acknowledged already: nobody else would hear of it
            log.warning("held webhook not delivered", event_id=held.event.event_id, error=repr(error))
        finally:
            if self._held.get(call) is held:
                del self._held[call]
