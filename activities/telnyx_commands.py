"""Telnyx Call Control commands, each carrying the deterministic `command_id` it is given.

Telnyx ignores a repeated command with the same command_id on the same call, so a retried
activity or a replayed workflow never answers, speaks or hangs up twice.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable

import telnyx
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

CALL_ALREADY_ENDED = "90018"


class CallCommand(BaseModel):
    call_control_id: str
    command_id: str


class SpeakCommand(CallCommand):
    text: str
    voice: str
    language: str
    client_state: str | None = None


class CommandResult(BaseModel):
    call_ended: bool = False


def call_has_ended(error: telnyx.APIStatusError) -> bool:
    body = error.body if isinstance(error.body, dict) else {}
    return any(str(e.get("code")) == CALL_ALREADY_ENDED for e in body.get("errors", []) if isinstance(e, dict))


async def send_call_command(command: Awaitable[object]) -> CommandResult:
    """Sends one command; a call that already ended is an outcome, a refused command a final error."""
    try:
        await command
    except telnyx.UnprocessableEntityError as error:
        if call_has_ended(error):
            return CommandResult(call_ended=True)
        raise ApplicationError(f"Telnyx refused the command: {error.body}", type="TelnyxRejected", non_retryable=True)
    except (telnyx.BadRequestError, telnyx.AuthenticationError, telnyx.PermissionDeniedError, telnyx.NotFoundError) as error:
        raise ApplicationError(
            f"Telnyx refused the command ({error.status_code}): {error.body}", type="TelnyxRejected", non_retryable=True
        )
    # 5xx, 429 and connection errors propagate: the activity's retry policy sends the same command again.
    return CommandResult()


def base64_client_state(label: str) -> str:
    return base64.b64encode(label.encode()).decode()


class TelnyxCommands:
    def __init__(self, client: telnyx.AsyncTelnyx) -> None:
        self._actions = client.calls.actions

    @activity.defn(name="answer_call")
    async def answer_call(self, command: CallCommand) -> CommandResult:
        return await send_call_command(
            self._actions.answer(command.call_control_id, command_id=command.command_id)
        )

    @activity.defn(name="speak")
    async def speak(self, command: SpeakCommand) -> CommandResult:
        return await send_call_command(speak_sentence(self._actions, command))

    @activity.defn(name="start_transcription")
    async def start_transcription(self, command: CallCommand) -> CommandResult:
        return await send_call_command(
            self._actions.start_transcription(
                command.call_control_id, command_id=command.command_id, transcription_tracks="inbound"
            )
        )

    @activity.defn(name="stop_speaking")
    async def stop_speaking(self, command: CallCommand) -> CommandResult:
        return await send_call_command(
            self._actions.stop_playback(command.call_control_id, command_id=command.command_id, stop="all")
        )

    @activity.defn(name="hang_up")
    async def hang_up(self, command: CallCommand) -> CommandResult:
        return await send_call_command(self._actions.hangup(command.call_control_id, command_id=command.command_id))


def speak_sentence(actions, command: SpeakCommand) -> Awaitable[object]:  # noqa: ANN001
    return actions.speak(
        command.call_control_id,
        payload=command.text,
        voice=command.voice,
        language=command.language,
        command_id=command.command_id,
        **({"client_state": command.client_state} if command.client_state else {}),
    )
