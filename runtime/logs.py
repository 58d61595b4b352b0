"""Logging for every process: readable in development, JSON lines in production.

Every record, ours or a library's, goes through the same chain: the call and workflow ids
bound for the current request or activity are added, then secrets are removed and phone
numbers masked, and only then is it rendered. Tracebacks are rendered to text before that
step, so a key that shows up in an exception message is removed as well.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from runtime.settings import Settings

REDACTED = "[redacted]"
# Keys whose values are secrets whatever they hold (but "prompt_tokens" is a count, not a token).
SECRET_WORDS = frozenset({"secret", "password", "passwd", "token", "authorization", "cookie", "apikey"})
SECRET_PAIRS = re.compile(r"(api|signing|private)[_-]?key", re.I)
BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# E.164 numbers as Telnyx sends them; not digits inside longer words or ids.
PHONE_NUMBER = re.compile(r"(?<![\w+])\+\d{7,15}\b")


def is_secret_key(key: str) -> bool:
    return bool(SECRET_PAIRS.search(key)) or any(word in SECRET_WORDS for word in re.split(r"[_\-\s.]+", key.lower()))


def mask_phone_number(number: str) -> str:
    """+15555550142 -> +1555***0142: enough to tell calls apart, not enough to call anyone."""
    digits = number.lstrip("+")
    keep = 4 if len(digits) >= 10 else 2
    return f"+{digits[:keep]}***{digits[-keep:]}"


class Scrubber:
    """A structlog processor: secrets out, phone numbers masked, in every value of the event."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secret_values if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, _logger: object, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        return {key: self._clean(key, value) for key, value in event.items()}

    def _clean(self, key: object, value: Any) -> Any:
        if isinstance(key, str) and is_secret_key(key) and value not in (None, ""):
            return REDACTED
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, Mapping):
            return {k: self._clean(k, v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(None, v) for v in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.scrub_text(str(value))

    def scrub_text(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = BEARER.sub(rf"\1 {REDACTED}", text)
        return PHONE_NUMBER.sub(lambda m: mask_phone_number(m.group()), text)


def secret_values(settings: Settings) -> list[str]:
    admin = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    signing = settings.secret_key.get_secret_value() if settings.secret_key else None
    return [v for v in (settings.telnyx_api_key, settings.openai_api_key, admin, signing) if v]


def processors(settings: Settings) -> list:
    """Everything before rendering; shared by structlog loggers and standard-library records."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.format_exc_info,
        Scrubber(secret_values(settings)),
    ]


# The HTTP clients of the openai (httpx2) and telnyx (httpx) SDKs and our own.
QUIET_REQUEST_LOGGERS = ("httpx", "httpx2")
# Paths machines call several times in every caller turn: the carrier's webhooks (each verified before
# it is answered 2xx) and the worker's playback windows. /metrics counts them (webhooks by event type
# and delivery); an access line each was a fifth of the API's CPU under load.
MACHINE_PATHS = ("/api/telnyx/", "/api/internal/")


class QuietMachineRequests(logging.Filter):
    """Drops uvicorn's access line of a machine path's request that succeeded. Every refusal stays:
    a forged or oversized webhook, a rejected playback request, Temporal down (4xx, 5xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path, status = args[2], args[4]
            if isinstance(status, int) and status < 400 and isinstance(path, str) and path.startswith(MACHINE_PATHS):
                return False
        return True


def configure_logging(settings: Settings) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared = processors(settings)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Records from structlog loggers already went through `shared`; library records go through it here.
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # httpx writes a line at INFO for every request it sends: each Telnyx command, LLM request and
    # playback window of every turn (~3% of the worker's CPU under load), whatever its answer. A request
    # that fails fails its activity, which is logged; the lines themselves are shown at LOG_LEVEL=DEBUG.
    quiet = root.level if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for library in QUIET_REQUEST_LOGGERS:
        logging.getLogger(library).setLevel(quiet)
    access = logging.getLogger("uvicorn.access")
    for earlier in [f for f in access.filters if isinstance(f, QuietMachineRequests)]:
        access.removeFilter(earlier)
    if root.level > logging.DEBUG:
        access.addFilter(QuietMachineRequests())


def call_id_of(workflow_id: str) -> str | None:
    # Call workflows are named call-<call_control_id> (workflows/call_messages.call_workflow_id).
    return workflow_id[len("call-") :] if workflow_id.startswith("call-") else None
