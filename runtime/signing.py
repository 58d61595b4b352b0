"""Everything CloudGreet signs is signed with SECRET_KEY, with a salt of its own per purpose.

itsdangerous derives a separate HMAC key from the secret and the salt, so a token made for one
purpose (an admin session) is refused for any other (a Realtime tools token), and no provider's
API key ever signs anything. Every API replica shares SECRET_KEY, so any replica accepts what
another signed; a new SECRET_KEY invalidates everything signed with the old one.

A new purpose gets a member of `SigningPurpose`; `unique` refuses two purposes with one salt.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum, unique

from itsdangerous import Signer, URLSafeTimedSerializer
from pydantic import SecretStr


@unique
class SigningPurpose(StrEnum):
    ADMIN_SESSION = "cloudgreet.admin-session"
    ADMIN_KEY_FINGERPRINT = "cloudgreet.admin-key-fingerprint"
    REALTIME_TOOLS = "cloudgreet.realtime-tools"
    WEB_CONVERSATION = "cloudgreet.web-conversation"
    TELNYX_CLIENT_STATE = "cloudgreet.telnyx-client-state"
    BROWSER_CALL = "cloudgreet.browser-call"
    REALTIME_DIALED_NUMBER = "cloudgreet.realtime-dialed-number"
    REPLY_PLAYBACK = "cloudgreet.reply-playback"


# itsdangerous still defaults to HMAC-SHA1 for compatibility; nothing old needs reading here.
SHA256 = {"digest_method": hashlib.sha256}


class SecretKeyMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("SECRET_KEY is not set, so nothing can be signed or checked (openssl rand -hex 32)")


def _secret(secret_key: SecretStr | None) -> str:
    if secret_key is None:
        raise SecretKeyMissing()
    return secret_key.get_secret_value()


def token_signer(secret_key: SecretStr | None, purpose: SigningPurpose) -> URLSafeTimedSerializer:
    """Signs JSON-able data into a URL-safe token with its time; `loads(token, max_age=...)` checks both."""
    return URLSafeTimedSerializer(_secret(secret_key), salt=purpose.value, signer_kwargs=SHA256)


def keyed_fingerprint(secret_key: SecretStr | None, purpose: SigningPurpose, value: str) -> str:
    """A stable fingerprint of `value` that only a holder of SECRET_KEY can compute: to recognise a
    value later (was the admin key rotated?) without storing it."""
    return Signer(_secret(secret_key), salt=purpose.value, **SHA256).get_signature(value).decode()
