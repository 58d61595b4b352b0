"""Telnyx Call Control commands, each carrying the deterministic `command_id` it is given.

Telnyx ignores a repeated command with the same command_id on the same call, so a retried
activity or a replayed workflow never answers, speaks or hangs up twice.

A command that tags a call (a transfer's new leg, a dialled call-back) is given the tag and
signs it here with SECRET_KEY (`runtime.client_state`): the workflow that decides has no secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable
from typing import Any

import structlog
import telnyx
from pydantic import BaseModel, Field, SecretStr
from temporalio import activity
from temporalio.exceptions import ApplicationError

from business.callback_numbers import DialableNumber, check_number, country_of
from business.telnyx_catalog import engine_language, spoken_language, transcription_language
from runtime import metrics
from runtime.client_state import sign_client_state
from runtime.realtime_sip import dialed_number_headers
from runtime.signing import SecretKeyMissing

CALL_ALREADY_ENDED = "90018"
E164_NUMBER = re.compile(r"\+[1-9]\d{1,14}")
# The failure type of a Realtime handover on a worker without OPENAI_PROJECT_ID.
REALTIME_SIP_NOT_CONFIGURED = "RealtimeSipNotConfigured"
# The failure type of a dial to a number a call-back may not dial: final, and the call-back's end.
DIAL_REFUSED = "DialRefused"
log = structlog.get_logger(__name__)


class CallCommand(BaseModel):
    call_control_id: str
    command_id: str


class SpeakCommand(CallCommand):
    text: str
    voice: str
    language: str
    voice_settings: dict[str, str] | None = None  # an ElevenLabs voice's {"type", "api_key_ref"}


class TranscriptionCommand(CallCommand):
    """transcription_start in a language (BCP-47; None: the engine's default, a call before languages), with
    the business's engine settings (business/listening.py; empty: a call before them, Telnyx's defaults)."""

    language: str | None = None
    engine: dict[str, Any] = Field(default_factory=dict)


class TransferCommand(CallCommand):
    to: str
    ring_timeout_seconds: int
    target_leg_tag: str = ""  # signed here into the new leg's client_state
    # What a workflow on the code before signing sent: the same tag, base64 and unsigned.
    target_leg_client_state: str | None = None


class RealtimeHandover(CallCommand):
    """A Realtime-mode line's call, transferred to OpenAI's SIP endpoint with the number the caller dialled
    (`runtime.realtime_sip`); the new leg is tagged so its webhooks tell the call whether OpenAI took it."""

    dialed_number: str
    caller_number: str | None  # shown to OpenAI as the call's From (Telnyx's default is the number dialled)
    ring_timeout_seconds: int
    target_leg_tag: str  # signed here into the new leg's client_state


class DialCommand(BaseModel):
    command_id: str
    to: str
    from_number: str
    client_state_tag: str = ""  # signed here into the dialled call's client_state
    client_state: str | None = None  # as target_leg_client_state: from the code before signing
    ring_timeout_seconds: int = 30
    # The countries the business calls back; None (a promise made before they were checked): the
    # country of the number we dial from.
    callback_countries: list[str] | None = None


class OnCallDial(BaseModel):
    """A warm transfer's leg: the on-call number dialled on its own, in the caller's call session."""

    command_id: str
    to: str
    from_number: str
    caller_call_control_id: str  # the call it is linked to (Telnyx's link_to) and later bridged with
    client_state_tag: str  # signed here into the leg's client_state: its events reach the caller's call
    ring_timeout_seconds: int


class BridgeCommand(CallCommand):
    """Bridges `call_control_id` (the caller) with `other_call_control_id` (the on-call person)."""

    other_call_control_id: str


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
        raise ApplicationError(
            f"Telnyx refused the command: {error.body}", type="TelnyxRejected", non_retryable=True
        ) from error
    except (
        telnyx.BadRequestError,
        telnyx.AuthenticationError,
        telnyx.PermissionDeniedError,
        telnyx.NotFoundError,
    ) as error:
        raise ApplicationError(
            f"Telnyx refused the command ({error.status_code}): {error.body}", type="TelnyxRejected", non_retryable=True
        ) from error
    # 5xx, 429 and connection errors propagate: the activity's retry policy sends the same command again.
    return CommandResult()


def unsigned_tag(legacy_client_state: str | None) -> str:
    """The tag inside a client_state encoded by the code before signing (base64 of the tag's text)."""
    try:
        return base64.b64decode(legacy_client_state or "", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


class TelnyxCommands:
    def __init__(
        self,
        client: telnyx.AsyncTelnyx,
        connection_id: str | None = None,
        secret_key: SecretStr | None = None,
        *,
        realtime_sip_uri: str | None = None,
    ) -> None:
        self._client = client
        self._actions = client.calls.actions
        self._connection_id = connection_id
        self._secret_key = secret_key
        self._realtime_sip_uri = realtime_sip_uri  # from OPENAI_PROJECT_ID (runtime.settings)

    def _signed(self, tag: str) -> str:
        try:
            return sign_client_state(self._secret_key, tag)
        except SecretKeyMissing as missing:
            # Unsigned, the tag would be refused by the API: the new leg's events would reach no call.
            raise ApplicationError(
                f"{missing}: transfers and call-backs tag their calls with it",
                type="SecretKeyMissing",
                non_retryable=True,
            ) from None

    @activity.defn(name="answer_call")
    async def answer_call(self, command: CallCommand) -> CommandResult:
        return await send_call_command(self._actions.answer(command.call_control_id, command_id=command.command_id))

    @activity.defn(name="speak")
    async def speak(self, command: SpeakCommand) -> CommandResult:
        return await send_call_command(speak_sentence(self._actions, command))

    @activity.defn(name="start_transcription")
    async def start_transcription(self, command: TranscriptionCommand) -> CommandResult:
        return await send_call_command(
            self._actions.start_transcription(
                command.call_control_id,
                command_id=command.command_id,
                transcription_tracks="inbound",
                **transcription_params(command),
            )
        )

    @activity.defn(name="stop_transcription")
    async def stop_transcription(self, command: CallCommand) -> CommandResult:
        return await send_call_command(
            self._actions.stop_transcription(command.call_control_id, command_id=command.command_id)
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
                target_leg_client_state=self._signed(
                    command.target_leg_tag or unsigned_tag(command.target_leg_client_state)
                ),
                command_id=command.command_id,
            )
        )

    @activity.defn(name="transfer_to_realtime")
    async def transfer_to_realtime(self, handover: RealtimeHandover) -> CommandResult:
        """Transfers the (unanswered) call to the project's SIP URI; Telnyx rings it and bridges the caller
        when OpenAI accepts. Without a project id there is nowhere to send it: a final error, so the call
        is answered with Telnyx speech instead."""
        if not self._realtime_sip_uri:
            raise ApplicationError(
                "OPENAI_PROJECT_ID is not set: a Realtime-mode line's call cannot be transferred to OpenAI",
                type=REALTIME_SIP_NOT_CONFIGURED,
                non_retryable=True,
            )
        # The caller's own number as the From (verified by Telnyx through `diversion`: the inbound call from
        # it to the number dialled is active), so the Realtime call knows whom a call-back would ring.
        caller = {"from_": handover.caller_number, "diversion": handover.dialed_number} if shown(handover) else {}
        return await send_call_command(
            self._actions.transfer(
                handover.call_control_id,
                to=self._realtime_sip_uri,
                custom_headers=dialed_number_headers(self._secret_key, handover.dialed_number),
                **caller,
                timeout_secs=handover.ring_timeout_seconds,
                target_leg_client_state=self._signed(handover.target_leg_tag),
                command_id=handover.command_id,
            )
        )

    @activity.defn(name="dial_caller")
    async def dial_caller(self, command: DialCommand) -> DialResult:
        if not self._connection_id:
            raise ApplicationError("TELNYX_CONNECTION_ID is not set: outbound calls are impossible", non_retryable=True)
        to = dialable(command)
        return await self._dial(
            from_=command.from_number,
            to=to.e164,
            client_state=self._signed(command.client_state_tag or unsigned_tag(command.client_state)),
            command_id=command.command_id,
            timeout_secs=command.ring_timeout_seconds,
        )

    @activity.defn(name="dial_on_call")
    async def dial_on_call(self, command: OnCallDial) -> DialResult:
        """Rings an on-call number with answering-machine detection, so a voicemail box is never bridged."""
        if not self._connection_id:
            raise ApplicationError("TELNYX_CONNECTION_ID is not set: outbound calls are impossible", non_retryable=True)
        return await self._dial(
            from_=command.from_number,
            to=command.to,
            link_to=command.caller_call_control_id,
            client_state=self._signed(command.client_state_tag),
            command_id=command.command_id,
            timeout_secs=command.ring_timeout_seconds,
        )

    async def _dial(self, **call: Any) -> DialResult:
        """An outbound call on our connection, always with answering-machine detection; a refusal is final."""
        assert self._connection_id
        try:
            response = await self._client.calls.dial(
                connection_id=self._connection_id, answering_machine_detection="detect", **call
            )
        except (telnyx.BadRequestError, telnyx.AuthenticationError, telnyx.UnprocessableEntityError) as error:
            raise ApplicationError(
                f"Telnyx refused the call: {error.body}", type="TelnyxRejected", non_retryable=True
            ) from error
        return DialResult(call_control_id=response.data.call_control_id)

    @activity.defn(name="bridge_calls")
    async def bridge_calls(self, command: BridgeCommand) -> CommandResult:
        return await send_call_command(
            self._actions.bridge(
                command.call_control_id,
                call_control_id_to_bridge_with=command.other_call_control_id,
                command_id=command.command_id,
            )
        )

    @activity.defn(name="send_text_message")
    async def send_text_message(self, message: TextMessage) -> None:
        try:
            await self._client.messages.send(
                from_=message.from_number, to=message.to, text=message.text, idempotency_key=message.idempotency_key
            )
        except (telnyx.BadRequestError, telnyx.AuthenticationError, telnyx.UnprocessableEntityError) as error:
            raise ApplicationError(
                f"Telnyx refused the message: {error.body}", type="TelnyxRejected", non_retryable=True
            ) from error

    @activity.defn(name="start_recording")
    async def start_recording(self, command: CallCommand) -> CommandResult:
        # Both sides, each on a channel of its own (the caller on A, the agent on B), so a listener
        # can tell who said what; mp3 keeps the file small enough to play in a browser.
        return await send_call_command(
            self._actions.start_recording(
                command.call_control_id, channels="dual", format="mp3", command_id=command.command_id
            )
        )

    @activity.defn(name="hang_up")
    async def hang_up(self, command: CallCommand) -> CommandResult:
        return await send_call_command(self._actions.hangup(command.call_control_id, command_id=command.command_id))


def shown(handover: RealtimeHandover) -> bool:
    """A caller number Telnyx can present (+E.164): a withheld or odd one is left out, as the caller wished."""
    return bool(handover.caller_number and E164_NUMBER.fullmatch(handover.caller_number))


def dialable(command: DialCommand) -> DialableNumber:
    """The number to dial, checked again where it is dialled: a promise made on older rules, or a
    business whose countries changed since, never rings a number it may not."""
    countries = command.callback_countries
    if countries is None:
        countries = [own] if (own := country_of(command.from_number)) else []
    checked = check_number(command.to, countries)
    if isinstance(checked, DialableNumber):
        return checked
    metrics.callback_refused(checked)
    log.warning("dial refused", reason=checked, to=command.to, countries=countries, command_id=command.command_id)
    raise ApplicationError(
        f"refused to dial {command.to}: {checked} (countries called back: {', '.join(countries) or 'none'})",
        checked,
        type=DIAL_REFUSED,
        non_retryable=True,
    )


def transcription_params(command: TranscriptionCommand) -> dict[str, Any]:
    """The business's engine settings, with the engine's own code for the language where the workflow could
    not name it (Google's: "es" for "es-US", from the SDK's list); else Google in the language, as before."""
    if not command.engine:
        return transcription_engine(command.language)
    params = dict(command.engine)
    config = dict(params.get("transcription_engine_config") or {})
    if not command.language:
        return params
    if params.get("transcription_engine") == "Google" and "language" not in config:
        if code := transcription_language(command.language):
            config["language"] = code
    elif params.get("transcription_engine") == "Deepgram" and config.get("transcription_model") in DEEPGRAM_CONFIGS:
        # Each model has its own codes ("es" on nova-3, "es-419" on nova-2), as the SDK's types list them.
        code = engine_language(command.language, DEEPGRAM_CONFIGS[config["transcription_model"]])
        config["language"] = code or "auto_detect"
    params["transcription_engine_config"] = config
    return params


DEEPGRAM_CONFIGS = {"deepgram/nova-3": "DeepgramNova3ConfigParam", "deepgram/nova-2": "DeepgramNova2ConfigParam"}


def transcription_engine(language: str | None) -> dict[str, Any]:
    """The engine settings that transcribe `language`: Google, Telnyx's default engine, with its own code
    for it ("es" for "es-US", as the SDK's GoogleTranscriptionLanguage lists them)."""
    code = transcription_language(language) if language else None
    if code is None:
        return {}  # the engine's default language, as calls did before languages
    return {
        "transcription_engine": "Google",
        "transcription_engine_config": {"transcription_engine": "Google", "language": code},
    }


def speak_sentence(actions, command: SpeakCommand) -> Awaitable[object]:
    settings = {"voice_settings": command.voice_settings} if command.voice_settings else {}
    return actions.speak(
        command.call_control_id,
        payload=command.text,
        voice=command.voice,
        language=spoken_language(command.language),
        command_id=command.command_id,
        **settings,
    )
