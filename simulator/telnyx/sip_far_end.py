"""A SIP URI a transfer rings: the far end is whoever a test put at that host (OpenAI's SIP endpoint, the
fake's), told of the INVITE and answering it or not, as a phone rung by number is played by its script.

Telnyx sends the INVITE with the `custom_headers` of the transfer; the far end answers (200 OK: the leg is
answered and bridged), declines (a SIP error: the leg ends `call_rejected`, the caller stays with our app),
or says nothing until the transfer's ring time runs out (`timeout`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SipInvite:
    """What reaches the far end: who calls (the transfer's `from`; Telnyx's default is the number the caller
    dialled), the URI, and the transfer's custom headers."""

    from_number: str
    to_uri: str
    headers: dict[str, str] = field(default_factory=dict)


# Answers an INVITE: True once the far end picks up, False if it declines.
SipFarEnd = Callable[[SipInvite], Awaitable[bool]]


def sip_host(uri: str) -> str | None:
    """The host of a sip: URI (`sip:user@host:port;params`), or None for a number."""
    if not uri.startswith("sip:") or "@" not in uri:
        return None
    return uri.split("@", 1)[1].split(";", 1)[0].split(":", 1)[0].lower()


def invite_of(body: dict[str, Any], to_uri: str, default_from: str) -> SipInvite:
    headers = {str(h["name"]): str(h["value"]) for h in body.get("custom_headers") or []}
    return SipInvite(from_number=str(body.get("from") or default_from), to_uri=to_uri, headers=headers)
