"""What the person on a call leg hears from our app: the `speak` sentences, played one at a time.

A sentence takes `speech_seconds_per_char` per character to play; `call.speak.started` and
`call.speak.ended` (completed or interrupted) frame it, and `stop_playback` or a speak with
`stop` cuts it off. The silence after the last sentence is what the scripted person waits for
before answering (`idle_since`), so playback keeps the record of what was heard since the
person last spoke; a sentence asking them to hold ("One moment, ...") is not an answer they reply to.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.telnyx import webhook_bodies
from simulator.telnyx.records import ConversationLine, note_speak_received

if TYPE_CHECKING:
    from simulator.telnyx.leg import CallLeg


# What a person on the phone takes for "hold on, the answer is coming" rather than the answer itself.
HOLDING_PHRASES = ("one moment", "just a moment", "let me check", "bear with me", "hold on")


def asks_to_hold(sentence: str) -> bool:
    return sentence.lower().startswith(HOLDING_PHRASES)


@dataclass(eq=False)
class Speak:
    """One `speak` command: a sentence waiting to be played, playing, or played."""

    text: str
    voice: str
    client_state: str | None
    speak_id: str = field(default_factory=webhook_bodies.new_speak_id)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    line: ConversationLine | None = None


class Playback:
    """The leg's audio towards the person, and what the person has heard since speaking."""

    def __init__(self, leg: CallLeg) -> None:
        self.leg = leg
        self.queue: deque[Speak] = deque()
        self.playing: Speak | None = None
        self.last_speak_id: str | None = None
        # When the line last fell silent (None while a sentence plays or waits to).
        self.idle_since: float | None = leg.loop.time()
        self.agent_spoke_since_caller = False
        self.first_agent_start_since_caller: float | None = None

    # ---- commands

    def queue_speak(self, body: dict[str, Any]) -> None:
        """`speak`: play this sentence after the ones queued (or instead of them, with `stop`)."""
        if body.get("stop") in ("current", "all"):
            self.stop(clear_queue=body["stop"] == "all")
        self.queue.append(Speak(str(body["payload"]), str(body["voice"]), body.get("client_state")))
        self.idle_since = None
        note_speak_received(self.leg.call, time.time())

    def stop_command(self, body: dict[str, Any]) -> None:
        """`stop_playback`: cut off the sentence playing, and by default the queued ones."""
        self.stop(clear_queue=body.get("stop", "all") != "current")

    def stop(self, clear_queue: bool) -> None:
        if clear_queue:
            self.queue.clear()
        if self.playing is not None:
            self.playing.stopped.set()
        elif not self.queue and self.idle_since is None:
            self.idle_since = self.leg.loop.time()

    # ---- what the rest of the leg tells it

    def line_answered(self) -> None:
        """Silence on the line starts when it is picked up, unless a sentence is waiting."""
        if self.playing is None and not self.queue:
            self.idle_since = self.leg.loop.time()

    def person_spoke(self) -> None:
        """The person's turn starts afresh: they now wait for the agent to speak again."""
        self.agent_spoke_since_caller = False
        self.first_agent_start_since_caller = None

    def person_finished(self) -> None:
        """The person's line is over. What the agent began and finished while they were still talking (the rest
        of a reply they talked over) was said over them, not in answer: they wait for the agent to speak again."""
        if self.playing is None and not self.queue:
            self.agent_spoke_since_caller = False

    def cut_off(self) -> None:
        """The call ended: the sentence playing was heard only in part."""
        if self.playing is not None and self.playing.line is not None:
            self.playing.line.interrupted = True
            self.playing.line.ended_at = time.time()

    # ---- playing

    async def run(self) -> None:
        while True:
            await self._play(await self._next_speak())

    async def _next_speak(self) -> Speak:
        while not self.queue:
            await self.leg.wait_for_change(None)
        return self.queue.popleft()

    async def _play(self, speak: Speak) -> None:
        self._start_playing(speak)
        per_char = self.leg.call.script.speech_seconds_per_char
        seconds = max(0.01, len(speak.text) * (self.leg.sim.speech_seconds_per_char if per_char is None else per_char))
        try:
            await asyncio.wait_for(speak.stopped.wait(), seconds)
            status = "interrupted"
        except TimeoutError:
            status = "completed"
        self._finish_playing(speak, status)

    def _start_playing(self, speak: Speak) -> None:
        self.playing = speak
        self.last_speak_id = speak.speak_id
        self.idle_since = None
        # "One moment, let me check that." asks the person to wait: they hear it, and wait for the answer.
        self.agent_spoke_since_caller = self.agent_spoke_since_caller or not asks_to_hold(speak.text)
        if self.first_agent_start_since_caller is None:
            self.first_agent_start_since_caller = self.leg.loop.time()
        speak.line = ConversationLine("agent", speak.text, time.time())
        self.leg.call.conversation.append(speak.line)
        self.leg.post("call.speak.started", webhook_bodies.speak(self.leg.ids(speak.client_state), speak.speak_id))
        self.leg.notify()

    def _finish_playing(self, speak: Speak, status: str) -> None:
        assert speak.line is not None
        speak.line.interrupted = status == "interrupted"
        speak.line.ended_at = time.time()
        self.leg.post(
            "call.speak.ended", webhook_bodies.speak(self.leg.ids(speak.client_state), speak.speak_id, status)
        )
        self.playing = None
        if not self.queue:
            self.idle_since = self.leg.loop.time()
        self.leg.notify()
