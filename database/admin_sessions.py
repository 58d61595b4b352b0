"""Admin sessions in the database: opened at login, ended by logging out, by "log out everywhere",
by their expiry, or by a new ADMIN_API_KEY (their key fingerprint no longer matches)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, update

from database.admin_models import AdminSession

# Ended sessions are kept this long after their expiry, then deleted when someone logs in.
KEPT_AFTER_EXPIRY = timedelta(days=30)


def open_admin_session(
    db: Session,
    *,
    key_fingerprint: str,
    client_address: str,
    user_agent: str | None,
    now: datetime,
    lifetime: timedelta,
) -> AdminSession:
    db.exec(delete(AdminSession).where(col(AdminSession.expires_at) < now - KEPT_AFTER_EXPIRY))
    row = AdminSession(
        id=secrets.token_urlsafe(24),
        admin_key_fingerprint=key_fingerprint,
        client_address=client_address,
        user_agent=(user_agent or "")[:300] or None,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def live_admin_session(db: Session, session_id: str, *, key_fingerprint: str, now: datetime) -> AdminSession | None:
    """The session, if it has not been logged out, has not expired, and was opened with today's admin key."""
    row = db.get(AdminSession, session_id)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row if row.admin_key_fingerprint == key_fingerprint else None


def revoke_admin_session(db: Session, session_id: str, *, now: datetime) -> None:
    db.exec(
        update(AdminSession)
        .where(col(AdminSession.id) == session_id, col(AdminSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    db.commit()


def revoke_every_admin_session(db: Session, *, now: datetime) -> int:
    """Logs everyone out; returns how many sessions were still open."""
    result = db.exec(
        update(AdminSession)
        .where(col(AdminSession.revoked_at).is_(None), col(AdminSession.expires_at) > now)
        .values(revoked_at=now)
    )
    db.commit()
    return result.rowcount
