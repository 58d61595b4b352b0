"""The audit log of configuration changes: each save that changed something, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from database.admin_models import AdminCredential, ConfigChange


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level configuration fields whose value differs, in the configuration's order, each whole
    (a changed opening hour shows the week's hours before and after)."""
    names = [*after, *(name for name in before if name not in after)]
    return [
        {"field": name, "before": before.get(name), "after": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    ]


def add_config_change(
    db: Session,
    business_id: int,
    changes: list[dict[str, Any]],
    *,
    credential: AdminCredential,
    session_id: str | None,
    client_address: str,
    now: datetime,
) -> None:
    """Adds the entry to the caller's transaction, so it is saved exactly when the configuration is."""
    db.add(
        ConfigChange(
            business_id=business_id,
            changed_at=now,
            credential=credential,
            session_id=session_id,
            client_address=client_address,
            changes=changes,
        )
    )


def config_changes(db: Session, business_id: int, *, limit: int) -> list[ConfigChange]:
    """The newest first."""
    return list(
        db.exec(
            select(ConfigChange)
            .where(ConfigChange.business_id == business_id)
            .order_by(col(ConfigChange.changed_at).desc(), col(ConfigChange.id).desc())
            .limit(limit)
        ).all()
    )
