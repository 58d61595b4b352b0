"""Telnyx `client_state`, signed: the tag we set on a call comes back in its webhooks, and is trusted only if we signed it.

A tag routes a transfer leg's events to the caller's call and ties a dialled call to its
call-back, so a tag nobody signed must route nothing. The activity that sends the command signs
the tag with SECRET_KEY under a purpose of its own (`runtime.signing`; a workflow has no
secret); the API verifies it before routing (`api.call_routing`). The signature carries its time,
and a tag older than any tagged call can last is refused too.

What Telnyx echoes must be base64, so the signed token (itsdangerous, HMAC-SHA256) is base64 once more.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from enum import StrEnum

from itsdangerous import BadData, SignatureExpired
from pydantic import SecretStr

from runtime.signing import SecretKeyMissing, SigningPurpose, token_signer

# A transferred call lasts 4 hours at most, a call-back's call 1 hour (workflows/call_options.py).
CLIENT_STATE_MAX_AGE = timedelta(days=1)


class ClientStateRefusal(StrEnum):
    UNSIGNED = "unsigned"  # not base64 of a signed token: someone else's, or a tag from before signing
    BAD_SIGNATURE = "bad_signature"  # signed with another key, or changed after signing
    EXPIRED = "expired"
    NO_SECRET_KEY = "no_secret_key"  # this API cannot check anything without SECRET_KEY
    UNKNOWN_TAG = "unknown_tag"  # signed by us, but no tag this code knows (a newer worker's?)


class ClientStateRefused(Exception):
    def __init__(self, reason: ClientStateRefusal) -> None:
        super().__init__(f"client_state refused: {reason}")
        self.reason = reason


def sign_client_state(secret_key: SecretStr | None, tag: str) -> str:
    """The value to send as client_state; `SecretKeyMissing` without SECRET_KEY."""
    token = token_signer(secret_key, SigningPurpose.TELNYX_CLIENT_STATE).dumps(tag)
    return base64.b64encode(token.encode()).decode()


def verify_client_state(secret_key: SecretStr | None, value: str) -> str:
    """The tag we signed into `value`; `ClientStateRefused` saying why for anything else."""
    try:
        token = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ClientStateRefused(ClientStateRefusal.UNSIGNED) from None
    try:
        signer = token_signer(secret_key, SigningPurpose.TELNYX_CLIENT_STATE)
    except SecretKeyMissing:
        raise ClientStateRefused(ClientStateRefusal.NO_SECRET_KEY) from None
    try:
        tag = signer.loads(token, max_age=int(CLIENT_STATE_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise ClientStateRefused(ClientStateRefusal.EXPIRED) from None
    except BadData:
        # Not a token at all is "unsigned"; a token whose signature fails is "bad_signature".
        reason = ClientStateRefusal.BAD_SIGNATURE if token.count(".") >= 2 else ClientStateRefusal.UNSIGNED
        raise ClientStateRefused(reason) from None
    if not isinstance(tag, str):
        raise ClientStateRefused(ClientStateRefusal.BAD_SIGNATURE)
    return tag
