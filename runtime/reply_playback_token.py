"""The bearer token a worker shows the API to follow a reply's playback: derived from SECRET_KEY, which both hold."""

from __future__ import annotations

from pydantic import SecretStr

from runtime.signing import SigningPurpose, keyed_fingerprint


def reply_playback_token(secret_key: SecretStr | None) -> str:
    """`SecretKeyMissing` without SECRET_KEY."""
    return keyed_fingerprint(secret_key, SigningPurpose.REPLY_PLAYBACK, "worker")
