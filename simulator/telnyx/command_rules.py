"""What the Telnyx API refuses in a command's body, by the `telnyx` SDK's own OpenAPI-generated types.

Every command body is checked against the SDK's `Action<Command>Params` (`telnyx.types.calls`),
the dial against `CallDialParams` and a message against `MessageSendParams`: a wrong type, a
value outside an enum (a `language` Telnyx does not speak, an unknown transcription engine) or a
missing required field is refused with 422, as Telnyx refuses it, instead of being played. So
are the documented rules the types cannot say: a spoken `payload` of at most 3,000 characters,
a `client_state` that is Base64, and numbers in +E.164.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args, get_type_hints

from pydantic import TypeAdapter, ValidationError

from simulator.telnyx.commands import missing_param, telnyx_error

MAX_SPEAK_CHARACTERS = 3000
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Fields that carry phone numbers, per request kind (a message may come from an alphanumeric sender).
NUMBER_FIELDS = {"dial": ("to", "from"), "message": ("to",), "transfer": ("to", "from")}
# Fields whose number may instead be a SIP URI (`to`: "The DID or SIP URI to dial out to").
SIP_URI_FIELDS = {"dial": ("to",), "transfer": ("to",)}
# sip:user@host[:port][;param[=value]]...: what can be put on an INVITE's request line.
SIP_URI = re.compile(
    r"^sip:[^@\s;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?"
    r"(?:;[A-Za-z0-9_.!~*'()%-]+(?:=[A-Za-z0-9_.!~*'()%-]+)?)*$"
)
# A SIP header's name is an RFC 3261 token; its value may not break the INVITE's lines.
SIP_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
# The headers a request adds to the SIP INVITE it sends, per request kind.
HEADER_FIELDS = {"dial": ("custom_headers", "sip_headers"), "transfer": ("custom_headers", "sip_headers")}


@dataclass(frozen=True)
class ShapeError(Exception):
    """The first error of a body the SDK's type refuses: where (python names), its pydantic type and message."""

    loc: tuple[str, ...]
    kind: str
    message: str

    @staticmethod
    def first_of(error: ValidationError, prefix: tuple[str, ...]) -> ShapeError:
        first = error.errors()[0]
        return ShapeError((*prefix, *(str(part) for part in first["loc"])), first["type"], first["msg"])


@dataclass(frozen=True)
class SdkShape:
    """The SDK's params type, and its fields' Python names by their wire names (`from` is `from_`)."""

    adapter: TypeAdapter[Any]
    python_names: dict[str, str]

    def check(self, body: dict[str, Any]) -> None:
        """Raises ShapeError at the first field the SDK's type refuses. Its `Iterable[...]` fields (headers,
        lists of numbers) are validated only as they are read, so they are read here to the end."""
        try:
            checked = self.adapter.validate_python(
                {self.python_names.get(k, k): v for k, v in body.items()}, strict=True
            )
        except ValidationError as error:
            raise ShapeError.first_of(error, ()) from None
        for name, value in checked.items():
            if isinstance(value, Iterator):
                try:
                    list(value)
                except ValidationError as error:
                    raise ShapeError.first_of(error, (name,)) from None

    def wire_name(self, python_name: str) -> str:
        return next((wire for wire, name in self.python_names.items() if name == python_name), python_name)


def _python_names(shape: Any) -> dict[str, str]:
    """The SDK annotates a field whose wire name is not a Python name with PropertyInfo(alias=...)."""
    names = {}
    for name, hint in get_type_hints(shape, include_extras=True).items():
        for annotated in (hint, *get_args(hint)):
            for meta in getattr(annotated, "__metadata__", ()):
                if alias := getattr(meta, "alias", None):
                    names[alias] = name
    return names


@cache
def _shape_of(kind: str) -> SdkShape | None:
    """The SDK's params type for a command (by the SDK method's name), the dial or a message."""
    if kind == "dial":
        from telnyx.types.call_dial_params import CallDialParams as shape
    elif kind == "message":
        from telnyx.types.message_send_params import MessageSendParams as shape
    else:
        try:
            module = importlib.import_module(f"telnyx.types.calls.action_{kind}_params")
        except ModuleNotFoundError:
            return None
        shape = getattr(module, "Action" + "".join(part.capitalize() for part in kind.split("_")) + "Params", None)
        if shape is None:
            return None
    return SdkShape(TypeAdapter(shape), _python_names(shape))


def invalid_param(name: str, detail: str, code: str = "10015") -> dict[str, Any]:
    error = telnyx_error(code, "Invalid parameter", detail)
    error["errors"][0]["source"] = {"pointer": f"/{name}"}
    return error


def refusal_of(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """Telnyx's 422 body for a request it would refuse, or None when it would take it.

    `kind` is the SDK's name of a call command (`speak`, `start_transcription`, ...), `dial` or `message`.
    """
    shape = _shape_of(kind)
    if shape is not None:
        try:
            shape.check(body)
        except ShapeError as error:
            where = "/".join(shape.wire_name(part) for part in error.loc)
            if error.kind == "missing":
                return missing_param(where)
            return invalid_param(where, f"The '{where}' parameter is invalid: {error.message}.")
    return _documented_rules(kind, body)


def _documented_rules(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "start_transcription" and (refused := _engine_config_refusal(body)) is not None:
        return refused
    payload = body.get("payload")
    if kind == "speak" and isinstance(payload, str) and len(payload) > MAX_SPEAK_CHARACTERS:
        return invalid_param("payload", f"The payload is limited to {MAX_SPEAK_CHARACTERS} characters.")
    client_state = body.get("client_state")
    if isinstance(client_state, str) and not _is_base64(client_state):
        return invalid_param("client_state", "client_state must be a valid Base-64 encoded string.")
    for field in NUMBER_FIELDS.get(kind, ()):
        numbers = body.get(field)
        for number in numbers if isinstance(numbers, list) else [numbers]:
            if not isinstance(number, str):
                continue
            if field in SIP_URI_FIELDS.get(kind, ()) and number.startswith("sip:"):
                if not SIP_URI.match(number):
                    return invalid_param(field, "The SIP URI must be sip:user@host, with optional ;parameters.")
            elif not E164.match(number):
                return invalid_param(field, "The specified phone number parameter must be in +E.164 format.", "10016")
    return _header_refusal(kind, body)


def _header_refusal(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """A header the SDK's types take (any strings) that no SIP INVITE can carry: a name that is no token,
    a value that breaks the line, or no value at all."""
    for field in HEADER_FIELDS.get(kind, ()):
        for index, header in enumerate(body.get(field) or []):
            name, value = header.get("name"), header.get("value")
            if not isinstance(name, str) or not SIP_TOKEN.match(name):
                return invalid_param(f"{field}/{index}/name", "A SIP header name must be a SIP token.")
            if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n\0"):
                return invalid_param(f"{field}/{index}/value", "A SIP header value must be one line of text.")
    return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# The engine named by transcription_start, by the engine a transcription_engine_config names.
ENGINE_FAMILIES = {"A": "Google", "B": "Telnyx", "deepgram/nova-2": "Deepgram", "deepgram/nova-3": "Deepgram"}


@cache
def _engine_configs() -> dict[str, Any]:
    """The SDK's engine config types by the `transcription_engine` each one names."""
    from telnyx.types.calls.action_start_transcription_params import ActionStartTranscriptionParams

    union = get_type_hints(ActionStartTranscriptionParams)["transcription_engine_config"]
    configs = {}
    for shape in get_args(union):
        engine = get_type_hints(shape)["transcription_engine"]
        for name in get_args(engine):
            configs[name] = shape
    return configs


def _engine_config_refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """The engine config must be the one of the engine it names, with only that engine's fields, and that
    engine the command's: the SDK's union of TypedDicts alone would take any dict some member ignores."""
    config = body.get("transcription_engine_config")
    if config is None:
        return None
    where = "transcription_engine_config"
    if not isinstance(config, dict):
        return invalid_param(where, "transcription_engine_config must be an object.")
    shape = _engine_configs().get(config.get("transcription_engine"))
    if shape is None:
        return invalid_param(f"{where}/transcription_engine", "Unknown transcription_engine in the engine config.")
    unknown = sorted(set(config) - set(get_type_hints(shape)))
    if unknown:
        return invalid_param(f"{where}/{unknown[0]}", f"'{unknown[0]}' is not a parameter of this engine.")
    try:
        TypeAdapter(shape).validate_python(config, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        field = "/".join(str(part) for part in first["loc"])
        return invalid_param(f"{where}/{field}", f"The '{field}' parameter is invalid: {first['msg']}.")
    family = ENGINE_FAMILIES.get(config["transcription_engine"], config["transcription_engine"])
    if body.get("transcription_engine", family) not in (family, config["transcription_engine"]):
        return invalid_param("transcription_engine", "transcription_engine does not match its engine config.")
    utterance_end = config.get("utterance_end_ms")
    if isinstance(utterance_end, int) and not 0 <= utterance_end <= 5000:
        return invalid_param(f"{where}/utterance_end_ms", "utterance_end_ms ranges from 0 to 5000 ms.")
    return None
