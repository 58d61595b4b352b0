"""Secrets a business gives us (its calendar's password), sealed at rest with SECRET_KEY.

Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under a key derived from SECRET_KEY with
HKDF, one key per purpose: a database dump or backup alone reveals nothing, and a token sealed for
one purpose does not open for another. A changed SECRET_KEY makes the stored ones unreadable; the
owner enters them again (the calendar's status says so).
"""

from __future__ import annotations

import base64


def _fernet(secret_key: str, purpose: str):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=f"cloudgreet/{purpose}".encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str, secret_key: str, purpose: str) -> str:
    return _fernet(secret_key, purpose).encrypt(value.encode()).decode()


def unseal(token: str, secret_key: str, purpose: str) -> str | None:
    """The value, or None when it was sealed under another SECRET_KEY (or purpose) or was tampered with."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret_key, purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
