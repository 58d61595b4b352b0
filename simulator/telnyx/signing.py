"""Ed25519 webhook signing, exactly as Telnyx signs, so our API's real verification is exercised.

The simulator holds the private seed (SIMULATOR_SIGNING_KEY); our API is given the public key
(TELNYX_PUBLIC_KEY), as it would be given Telnyx's. `cloudgreet keys` makes a pair.
"""

from __future__ import annotations

import base64

import nacl.signing


def generate_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 key pair: (private seed base64 for the simulator, public key base64
    for our API's TELNYX_PUBLIC_KEY)."""
    key = nacl.signing.SigningKey.generate()
    return b64(bytes(key)), public_key_b64(key)


def signing_key_from_b64(seed_b64: str) -> nacl.signing.SigningKey:
    try:
        seed = base64.b64decode(seed_b64, validate=True)
    except ValueError as error:
        raise ValueError(f"the simulator signing key is not valid base64: {error}") from None
    if len(seed) != 32:
        raise ValueError(f"the simulator signing key must be a 32-byte seed, got {len(seed)} bytes")
    return nacl.signing.SigningKey(seed)


def public_key_b64(key: nacl.signing.SigningKey) -> str:
    """The public half, as our API's TELNYX_PUBLIC_KEY wants it."""
    return b64(bytes(key.verify_key))


def sign_webhook(signing_key: nacl.signing.SigningKey, raw_body: str, timestamp: str) -> dict[str, str]:
    """Headers exactly as Telnyx signs: Ed25519 over f"{timestamp}|{raw body}"."""
    signature = signing_key.sign(f"{timestamp}|{raw_body}".encode()).signature
    return {
        "content-type": "application/json",
        "telnyx-signature-ed25519": b64(signature),
        "telnyx-timestamp": timestamp,
    }


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
