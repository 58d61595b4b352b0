"""Reading the commands our app sends to the Call Control API, and answering them as Telnyx does.

The checks (a Bearer key, required parameters) and the error bodies are Telnyx's, because our
API turns the answers into the telnyx SDK's exceptions (`AuthenticationError`,
`UnprocessableEntityError`, ...) and decides from their codes what to do: code 90018, for one,
means the caller already hung up.
"""

from __future__ import annotations

from typing import Any

# The SDK posts Telnyx's wire names (transcription_start, playback_stop) for the methods
# it calls start_transcription / stop_playback. Both spellings are accepted; commands are
# recorded under the SDK method's name, which is what our code and tests talk about.
ACTION_ALIASES = {
    "transcription_start": "start_transcription",
    "transcription_stop": "stop_transcription",
    "playback_stop": "stop_playback",
    "playback_start": "start_playback",
    "record_start": "start_recording",
    "record_stop": "stop_recording",
}
# Telnyx rejects these commands without the parameters; so does the simulator.
REQUIRED_PARAMS = {"speak": ("payload", "voice"), "transfer": ("to",), "bridge": ("call_control_id",)}
OK = {"data": {"result": "ok"}}


def telnyx_error(code: str, title: str, detail: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


AUTH_FAILED = telnyx_error(
    "10009", "Authentication failed", "The required authentication headers were missing or invalid."
)
CALL_ENDED = telnyx_error(
    "90018", "Call has already ended", "This call is no longer active and can't receive commands."
)
UNEXPECTED = {"errors": [{"code": "10007", "title": "Unexpected error"}]}
NOT_A_JSON_OBJECT = telnyx_error("10015", "Bad Request", "The body must be a JSON object.")


def unknown_call(call_control_id: str) -> dict[str, Any]:
    return telnyx_error("90015", "Invalid Call Control ID", f"No call with call_control_id {call_control_id!r}.")


def missing_param(name: str) -> dict[str, Any]:
    error = telnyx_error("10004", "Missing required parameter", f"The '{name}' parameter is required.")
    error["errors"][0]["source"] = {"pointer": f"/{name}"}
    return error


def authorized(authorization: str | None) -> bool:
    """Any Bearer key will do: the simulator checks that our app sends one, not which."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def first_missing(body: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of the required parameters the body lacks (or leaves empty)."""
    return next((name for name in names if not body.get(name)), None)


def first_number(to: Any) -> str:
    """A command's `to`: one number, or a list of which the first is used."""
    return str(to[0]) if isinstance(to, list) and to else str(to)
