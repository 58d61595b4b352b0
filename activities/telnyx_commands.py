"""Telnyx Call Control commands, each carrying the deterministic `command_id` it is given.

Telnyx ignores a repeated command with the same command_id on the same call, so a retried
activity or a replayed workflow never answers, speaks or hangs up twice.
"""

from __future__ import annotations

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


class TransferCommand(CallCommand):
    to: str
    ring_timeout_seconds: int
    target_leg_client_state: str


class DialCommand(BaseModel):
    command_id: str
    to: str
    from_number: str
    client_state: str
    ring_timeout_seconds: int = 30


class DialResult(BaseModel):
    call_control_id: str


class TextMessage(BaseModel):
    idempotency_key: str
    from_number: str
    to: str
    text: str


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


class TelnyxCommands:
    def __init__(self, client: telnyx.AsyncTelnyx, connection_id: str | None = None) -> None:
        self._client = client
        self._actions = client.calls.actions
        self._connection_id = connection_id

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

    @activity.defn(name="transfer_call")
    async def transfer_call(self, command: TransferCommand) -> CommandResult:
        return await send_call_command(
            self._actions.transfer(
                command.call_control_id,
                to=command.to,
                timeout_secs=command.ring_timeout_seconds,
                target_leg_client_state=command.target_leg_client_state,
                command_id=command.command_id,
            )
        )

    @activity.defn(name="dial_caller")
    async def dial_caller(self, command: DialCommand) -> DialResult:
        if not self._connection_id:
            raise ApplicationError("TELNYX_CONNECTION_ID is not set: outbound calls are impossible", non_retryable=True)
        try:
            response = await self._client.calls.dial(
                connection_id=self._connection_id,
                from_=command.from_number,
                to=command.to,
                client_state=command.client_state,
                command_id=command.command_id,
                timeout_secs=command.ring_timeout_seconds,
                answering_machine_detection="detect",
            )
        except (telnyx.BadRequestError, telnyx.AuthenticationError, telnyx.UnprocessableEntityError) as error:
            raise ApplicationError(f"Telnyx refused the call: {error.body}", type="TelnyxRejected", non_retryable=True)
        return DialResult(call_control_id=response.data.call_control_id)

    @activity.defn(name="send_text_message")
    async def send_text_message(self, message: TextMessage) -> None:
        try:
            await self._client.messages.send(
                from_=message.from_number, to=message.to, text=message.text, idempotency_key=message.idempotency_key
            )
        except (telnyx.BadRequestError, telnyx.AuthenticationError, telnyx.UnprocessableEntityError) as error:
            raise ApplicationError(f"Telnyx refused the message: {error.body}", type="TelnyxRejected", non_retryable=True)

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
    )
