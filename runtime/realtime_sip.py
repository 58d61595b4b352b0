"""Where a phone call reaches OpenAI's Realtime model over SIP: the project's SIP URI, and the header
that carries the number the caller dialled (the one place both are spelled)."""

from __future__ import annotations

# OpenAI's SIP endpoint for a project (https://platform.openai.com/docs/guides/realtime-sip); TLS, as the guide says.
REALTIME_SIP_HOST = "sip.api.openai.com"
# Added by our Telnyx transfer to the SIP INVITE: the webhook's `To` is then the project's URI, not the number.
DIALED_NUMBER_HEADER = "X-CloudGreet-Dialed"


def realtime_sip_uri(project_id: str) -> str:
    """The SIP URI OpenAI answers for the project `project_id` (`proj_...`)."""
    return f"sip:{project_id}@{REALTIME_SIP_HOST};transport=tls"
