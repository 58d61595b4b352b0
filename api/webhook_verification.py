"""Telnyx's Ed25519 webhook signature, checked before anything reads the body.

Telnyx signs `<telnyx-timestamp>|<raw body>` with Ed25519 and refuses timestamps over five
minutes old. The check is PyNaCl's, as in the telnyx SDK's `webhooks.unwrap`, called directly:
`unwrap` also parses the body into its union of every webhook model, which costs ~1 s of CPU to
import when the API starts and ~0.5 ms per webhook, to build a parse we discard (ours is
permissive). README "Performance", `cloudgreet bench startup`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from api.telnyx_events import WebhookRejected

# The telnyx SDK's own tolerance for a signature's timestamp.
MAX_TIMESTAMP_SKEW_SECONDS = 300


class WebhookVerifier:
    def __init__(self, public_key: str | None) -> None:
        self._key: VerifyKey | None = None
        self._key_error: str | None = None
        if public_key:
            try:
                self._key = VerifyKey(base64.b64decode(public_key, validate=True))
            except (binascii.Error, ValueError, TypeError) as error:
                self._key_error = f"TELNYX_PUBLIC_KEY is not a base64 Ed25519 public key: {error}"

    def verify(self, raw: str, headers: Mapping[str, str]) -> None:
        if self._key is None:
            raise WebhookRejected(503, self._key_error or "TELNYX_PUBLIC_KEY is not set: webhooks cannot be verified")
        lowered = {k.lower(): v for k, v in headers.items()}
        signature, timestamp = lowered.get("telnyx-signature-ed25519"), lowered.get("telnyx-timestamp")
        if signature is None or timestamp is None:
            raise WebhookRejected(401, "missing telnyx-signature-ed25519 or telnyx-timestamp header")
        try:
            stale = abs(time.time() - int(timestamp)) > MAX_TIMESTAMP_SKEW_SECONDS
        except ValueError:
            raise WebhookRejected(403, f"signature rejected: invalid timestamp {timestamp[:40]!r}") from None
        if stale:
            raise WebhookRejected(403, "signature rejected: the timestamp is too old or too new")
        try:
            self._key.verify(f"{timestamp}|{raw}".encode(), base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError, BadSignatureError):
            raise WebhookRejected(403, "signature rejected: it does not match the body") from None
