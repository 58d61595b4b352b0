"""Where a phone call reaches OpenAI's Realtime model over SIP: the project's SIP URI, and the header
that carries the number the caller dialled (the one place both are spelled)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from runtime.signing import SecretKeyMissing, SigningPurpose, keyed_fingerprint

# OpenAI's SIP endpoint for a project (https://platform.openai.com/docs/guides/realtime-sip); TLS, as the guide says.
REALTIME_SIP_HOST = "sip.api.openai.com"
# Added by our Telnyx transfer to the SIP INVITE: the webhook's `To` is then the project's URI, not the number.
DIALED_NUMBER_HEADER = "X-CloudGreet-Dialed"
# Its signature (SECRET_KEY): anyone can dial the project's SIP URI with any header, so an unsigned
# dialled number would let a stranger be answered as whichever business they name.
DIALED_SIGNATURE_HEADER = "X-CloudGreet-Dialed-Signature"


def dialed_number_headers(secret_key: SecretStr | None, dialed_number: str) -> list[dict[str, str]]:
    """The SIP headers our transfer adds: the number dialled, and its signature."""
    return [
        {"name": DIALED_NUMBER_HEADER, "value": dialed_number},
        {
            "name": DIALED_SIGNATURE_HEADER,
            "value": keyed_fingerprint(secret_key, SigningPurpose.REALTIME_DIALED_NUMBER, dialed_number),
        },
    ]


def dialed_number_signed(secret_key: SecretStr | None, dialed_number: str, signature: str) -> bool:
    """Whether `signature` is ours for `dialed_number` (never, without SECRET_KEY)."""
    try:
        wanted = keyed_fingerprint(secret_key, SigningPurpose.REALTIME_DIALED_NUMBER, dialed_number)
    except SecretKeyMissing:
        return False
    return hmac.compare_digest(wanted, signature)


def realtime_sip_uri(project_id: str) -> str:
    """The SIP URI OpenAI answers for the project `project_id` (`proj_...`)."""
    return f"sip:{project_id}@{REALTIME_SIP_HOST};transport=tls"
