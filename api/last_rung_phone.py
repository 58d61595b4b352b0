"""What the API itself says and does on a call it answers without Temporal: answer, one sentence, hang up.

Each command carries a fixed command_id, so two API replicas, a redelivered webhook or a retry
answer, speak and hang up once: Telnyx ignores a command_id it has already seen on the call. The
answer sets a client_state of ours, which Telnyx echoes on every later webhook of the call, so any
replica (and a restarted one) knows the call is the API's and keeps it away from Temporal.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import telnyx

from activities.telnyx_commands import call_has_ended
from workflows.call_messages import CallEvent

if TYPE_CHECKING:
    from telnyx.resources.calls.actions import AsyncActionsResource

ANSWER_COMMAND_ID = "last-rung/answer"
PROMISE_COMMAND_ID = "last-rung/promise"
HANG_UP_COMMAND_ID = "last-rung/hang-up"
# Not of the form of the workflows' tags (workflows/call_messages.py), which therefore ignore it.
CLIENT_STATE = base64.b64encode(b"cloudgreet-last-rung").decode()
VOICE = "female"
LANGUAGE = "en-US"


def answered_by_last_rung(event: CallEvent) -> bool:
    return event.client_state == CLIENT_STATE


def promise_words(business_name: str | None, *, call_back: bool) -> str:
    """The one thing the caller hears; without the database the business may be nameless."""
    thanks = f"Thank you for calling {business_name}." if business_name else "Thank you for calling."
    if not call_back:  # a withheld number cannot be called back
        return f"{thanks} We can't take your call right now. Please call again a little later. Goodbye!"
    return f"{thanks} We can't take your call right now, but we have your number and we'll call you back. Goodbye!"


class LastRungPhone:
    def __init__(self, client: telnyx.AsyncTelnyx) -> None:
        self._client = client

    @property
    def _actions(self) -> AsyncActionsResource:
        # Asked at the first call the API answers, not as it starts: the SDK's call resources cost
        # ~0.15 s of CPU to import (`cloudgreet bench startup`), and most starts never need them.
        return self._client.calls.actions

    async def answer_and_speak(self, call_control_id: str, words: str) -> bool:
        """Answers and speaks the words; False when the caller hung up first. Other refusals raise."""
        try:
            await self._actions.answer(call_control_id, command_id=ANSWER_COMMAND_ID, client_state=CLIENT_STATE)
            await self._actions.speak(
                call_control_id,
                payload=words,
                voice=VOICE,
                language=LANGUAGE,
                command_id=PROMISE_COMMAND_ID,
                client_state=CLIENT_STATE,
            )
        except telnyx.UnprocessableEntityError as error:
            if call_has_ended(error):
                return False
            raise
        return True

    async def hang_up(self, call_control_id: str) -> None:
        try:
            await self._actions.hangup(call_control_id, command_id=HANG_UP_COMMAND_ID, client_state=CLIENT_STATE)
        except telnyx.UnprocessableEntityError as error:
            if not call_has_ended(error):
                raise
