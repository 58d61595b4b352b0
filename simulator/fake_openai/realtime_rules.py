"""What OpenAI's GA Realtime API accepts, checked against the `openai` SDK's own pydantic models.

The SDK's models allow unknown fields (they must read newer servers), so validating alone would
let beta-shaped fields through (`session.voice`, `session.turn_detection`, ...). The real service
refuses them, so `client_event_refusal` also walks the validated model and refuses any field the
SDK does not define, and the ranges the SDK's docstrings document. A refusal is the `error` the
service sends: `RealtimeError` (type "invalid_request_error", code, message, param, event_id).

`check_server_event` is the fake's own guard: every event it sends must parse as a member of the
SDK's `RealtimeServerEvent` union (its literals: content parts are "audio"/"text", ...).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any

from openai.types.realtime import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter, ValidationError


def _members(union: Any) -> dict[str, type[BaseModel]]:
    """The union's event classes by their `type` literal (the SDK's discriminator is not pydantic's)."""
    inner = typing.get_args(union)[0]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in typing.get_args(inner)}


CLIENT_EVENTS = _members(RealtimeClientEvent)
SERVER_EVENTS = _members(RealtimeServerEvent)

# Documented in the SDK's docstrings, not its types: (path suffix, minimum, maximum).
RANGES: tuple[tuple[str, float, float], ...] = (
    ("max_output_tokens", 1, 4096),
    ("max_response_output_tokens", 1, 4096),
    ("audio.output.speed", 0.25, 1.5),
    ("turn_detection.threshold", 0.0, 1.0),
)
EXPIRES_AFTER_SECONDS = (10, 7200)  # client_secrets: "Select a value between `10` and `7200`"


class RealtimeRefusal(Exception):
    """A client event (or request) the real service refuses; `error` is its `RealtimeError` body."""

    def __init__(self, code: str, message: str, param: str | None = None, event_id: str | None = None) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }


def client_event_refusal(raw: str | bytes) -> tuple[dict[str, Any] | None, RealtimeRefusal | None]:
    """The event as a dict and, when the service would refuse it, why."""
    try:
        event = json.loads(raw)
    except (TypeError, ValueError):
        return None, RealtimeRefusal("invalid_json", "The event is not valid JSON.")
    if not isinstance(event, dict):
        return None, RealtimeRefusal("invalid_type", "Invalid type for event: expected an object.")
    event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    try:
        check_client_event(event)
    except RealtimeRefusal as refusal:
        refusal.error["event_id"] = event_id
        return event, refusal
    return event, None


def check_client_event(event: Mapping[str, Any]) -> BaseModel:
    kind = event.get("type")
    if kind is None:
        raise RealtimeRefusal("missing_required_parameter", "Missing required parameter: 'type'.", "type")
    cls = CLIENT_EVENTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        supported = ", ".join(f"'{name}'" for name in CLIENT_EVENTS)
        raise RealtimeRefusal("invalid_value", f"Invalid value: '{kind}'. Supported values are: {supported}.", "type")
    return strictly(cls, event)


def check_session(session: Mapping[str, Any], prefix: str = "session") -> BaseModel:
    """A GA realtime session (client_secrets' `session`, or a whole `session.update` session)."""
    return strictly(RealtimeSessionCreateRequest, session, prefix)


def check_expires_after(expires_after: Any) -> None:
    if expires_after is None:
        return
    if not isinstance(expires_after, dict):
        raise RealtimeRefusal("invalid_type", "Invalid type for 'expires_after': expected an object.", "expires_after")
    for key in expires_after:
        if key not in ("anchor", "seconds"):
            raise RealtimeRefusal(
                "unknown_parameter", f"Unknown parameter: 'expires_after.{key}'.", f"expires_after.{key}"
            )
    if expires_after.get("anchor", "created_at") != "created_at":
        raise RealtimeRefusal(
            "invalid_value",
            f"Invalid value: '{expires_after['anchor']}'. Supported values are: 'created_at'.",
            "expires_after.anchor",
        )
    seconds = expires_after.get("seconds", 600)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise RealtimeRefusal(
            "invalid_type", "Invalid type for 'expires_after.seconds': expected an integer.", "expires_after.seconds"
        )
    _in_range("expires_after.seconds", seconds, *EXPIRES_AFTER_SECONDS)


def strictly(cls: type[BaseModel], value: Mapping[str, Any], prefix: str = "") -> BaseModel:
    """`cls` validated from `value`, refusing unknown fields and documented out-of-range values."""
    try:
        model = cls.model_validate(value)
    except ValidationError as error:
        raise _refusal_for(error, prefix) from None
    _no_unknown_fields(model, prefix)
    return model


def check_params(params: type, body: Any) -> None:
    """A request body checked against the SDK's TypedDict of its parameters (`CallReferParams`, ...):
    no unknown parameter, the required ones there, each of its type (strictly: "603" is no integer)."""
    if not isinstance(body, Mapping):
        raise RealtimeRefusal("invalid_type", "The body must be a JSON object.", None)
    known = typing.get_type_hints(params)
    for key in body:
        if key not in known:
            raise RealtimeRefusal("unknown_parameter", f"Unknown parameter: '{key}'.", key)
    try:
        TypeAdapter(params).validate_python(dict(body), strict=True)
    except ValidationError as error:
        raise _refusal_for(error, "") from None


def _join(prefix: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{prefix}[{part}]"
    return f"{prefix}.{part}" if prefix else part


def _no_unknown_fields(value: Any, path: str) -> None:
    if isinstance(value, BaseModel):
        for key in value.__pydantic_extra__ or {}:
            where = _join(path, key)
            raise RealtimeRefusal("unknown_parameter", f"Unknown parameter: '{where}'.", where)
        for name in value.model_fields_set:
            field = type(value).model_fields.get(name)
            if field is None:
                continue
            where = _join(path, field.alias or name)
            child = getattr(value, name)
            if isinstance(child, int | float) and not isinstance(child, bool):
                for suffix, low, high in RANGES:
                    if where == suffix or where.endswith("." + suffix):
                        _in_range(where, child, low, high)
            _no_unknown_fields(child, where)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _no_unknown_fields(child, _join(path, index))


def _in_range(where: str, number: float, low: float, high: float) -> None:
    kind = "integer" if isinstance(number, int) else "decimal"
    if number < low:
        raise RealtimeRefusal(
            f"{kind}_below_min_value",
            f"Invalid '{where}': {kind} below minimum value. Expected a value >= {low}, but got {number} instead.",
            where,
        )
    if number > high:
        raise RealtimeRefusal(
            f"{kind}_above_max_value",
            f"Invalid '{where}': {kind} above maximum value. Expected a value <= {high}, but got {number} instead.",
            where,
        )


def _refusal_for(error: ValidationError, prefix: str) -> RealtimeRefusal:
    """The service's wording for the most telling of pydantic's complaints."""
    problems = error.errors()
    # A union reports every member: the deepest complaint comes from the member the event meant
    # (its `type` matched); among equals, "missing" is what the service says.
    problem = max(problems, key=lambda p: (len(p["loc"]), p["type"] == "missing"))
    where = prefix
    for part in problem["loc"]:
        # pydantic names union members and validators in the location: they are no parameters.
        if isinstance(part, str) and (part[:1].isupper() or "[" in part or "-" in part):
            continue
        where = _join(where, part)
    if problem["type"] == "missing":
        return RealtimeRefusal("missing_required_parameter", f"Missing required parameter: '{where}'.", where)
    if problem["type"] in ("literal_error", "enum"):
        expected = (problem.get("ctx") or {}).get("expected", "")
        return RealtimeRefusal(
            "invalid_value", f"Invalid value: '{problem.get('input')}'. Supported values are: {expected}.", where
        )
    return RealtimeRefusal("invalid_type", f"Invalid type for '{where}': {problem['msg']}.", where)


class FakeShapeError(AssertionError):
    """The fake was about to send an event the SDK's types do not describe: a bug in the fake."""


def check_server_event(event: Mapping[str, Any]) -> None:
    cls = SERVER_EVENTS.get(str(event.get("type")))
    if cls is None:
        raise FakeShapeError(f"no GA server event is called {event.get('type')!r}")
    try:
        cls.model_validate(event)
    except ValidationError as error:
        raise FakeShapeError(f"{event.get('type')} does not match the SDK's {cls.__name__}: {error}") from None
