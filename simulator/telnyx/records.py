"""The public record of simulated calls: what each call said, received and delivered.

`SimulatedCall` is what tests, `cloudgreet simulate` (through GET /simulator/calls/{id}) and
the turn latency benchmark read after a call; the rest are its parts. The call leg fills them
in while the call runs; nothing here acts.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from simulator.call_script import CallScript


@dataclass(frozen=True)
class ReceivedCommand:
    """One Call Control command as it reached the simulator, and what it answered."""

    action: str
    call_control_id: str
    command_id: str | None
    body: dict[str, Any]
    received_at: float
    status_code: int
    duplicate: bool = False


@dataclass
class ConversationLine:
    """A sentence heard on the call. Agent lines are logged when they start playing;
    `ended_at` is set when the sentence finished (or was cut off), so a viewer knows
    whether `interrupted` is final."""

    speaker: Literal["caller", "agent", "system"]
    text: str
    at: float
    interrupted: bool = False
    ended_at: float | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of one webhook to our API (a redelivery is another WebhookDelivery)."""

    event_type: str
    event_id: str
    attempt: int
    status_code: int | None
    sent_at: float
    answered_at: float
    body: dict[str, Any]
    error: str | None = None


@dataclass
class TurnTiming:
    """When a caller line's final transcription was sent, and when the agent's first
    speak command after it arrived: the latency the caller hears as silence."""

    line_index: int
    final_transcript_sent_at: float
    first_speak_received_at: float | None = None
    # When the caller's last word was heard (its last interim transcript); the final comes after
    # the engine's endpointing. None for a key press, or a line with no interim.
    last_word_at: float | None = None


@dataclass
class TransferAttempt:
    """One `transfer` command that took effect on a call, or a dial our app linked to it: the
    new leg it rang and how that went. `outcome` is "ringing" until settled, then "answered", "no_answer", "busy" or
    "cancelled" (the caller or our app hung up while it rang)."""

    to: str
    command_id: str | None
    outcome: Literal["ringing", "answered", "no_answer", "busy", "cancelled"]
    leg_call_control_id: str
    at: float
    bridged: bool = False  # a transfer's leg on answer; a leg our app dialled once it asked to `bridge`


@dataclass(frozen=True)
class SentMessage:
    """One SMS our app sent through POST /v2/messages."""

    from_number: str
    to_number: str
    text: str
    at: float
    idempotency_key: str | None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(eq=False)
class SimulatedCall:
    """The public record of one simulated call, filled in while the call runs.

    `status` is the phone call's state. `ended` is set once the call has hung up AND every
    webhook of the call was delivered (or given up), so whoever awaits it sees the whole
    record, late and duplicate deliveries included.
    """

    call_control_id: str
    script: CallScript
    direction: Literal["incoming", "outgoing"] = "incoming"
    from_number: str = ""
    to_number: str = ""
    status: Literal["ringing", "active", "ended"] = "ringing"
    conversation: list[ConversationLine] = field(default_factory=list)
    commands: list[ReceivedCommand] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    turn_timings: list[TurnTiming] = field(default_factory=list)
    last_words_at: dict[int, float] = field(default_factory=dict)  # by line: when its last word was heard
    hangup_source: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    transfers: list[TransferAttempt] = field(default_factory=list)
    call_session_id: str = ""
    # For the leg a transfer created: the call_control_id of the call transferred.
    transferred_from: str | None = None
    # For a leg our app dialled with link_to: the call_control_id of the call it is linked to.
    linked_to: str | None = None

    async def wait_ended(self, timeout: float) -> SimulatedCall:
        """Wait until the call is over and its webhooks are delivered."""
        try:
            await asyncio.wait_for(self.ended.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"call {self.call_control_id} still {self.status} after {timeout} s "
                f"({len(self.conversation)} lines, {len(self.deliveries)} deliveries)"
            ) from None
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "direction": self.direction,
            "from_number": self.from_number,
            "to_number": self.to_number,
            "status": self.status,
            "finished": self.ended.is_set(),
            "hangup_source": self.hangup_source,
            "script": self.script.model_dump(mode="json"),
            "conversation": [asdict(line) for line in self.conversation],
            "commands": [asdict(command) for command in self.commands],
            "deliveries": [asdict(delivery) for delivery in self.deliveries],
            "turn_timings": [asdict(timing) for timing in self.turn_timings],
            "transfers": [asdict(transfer) for transfer in self.transfers],
            "call_session_id": self.call_session_id,
            "transferred_from": self.transferred_from,
            "linked_to": self.linked_to,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "direction": self.direction,
            "from_number": self.from_number,
            "to_number": self.to_number,
            "status": self.status,
            "finished": self.ended.is_set(),
        }


def note_final_transcript_sent(call: SimulatedCall, line_index: int, sent_at: float) -> None:
    """The first delivery of the webhook that closes a caller line starts that turn's wait."""
    if all(timing.line_index != line_index for timing in call.turn_timings):
        call.turn_timings.append(TurnTiming(line_index, sent_at, last_word_at=call.last_words_at.get(line_index)))


def note_speak_received(call: SimulatedCall, received_at: float) -> None:
    """A speak command ends the wait of every turn still waiting for the agent."""
    for timing in call.turn_timings:
        if timing.first_speak_received_at is None:
            timing.first_speak_received_at = received_at
