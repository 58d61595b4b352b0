"""The admin side's own tables: sessions (revocable) and the audit log of configuration changes.
In the database, so every API replica agrees on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import AutoString, Field, SQLModel

from database.models import UTCDateTime, utcnow


class AdminCredential(StrEnum):
    """How an admin request proved itself."""

    SESSION = "session"  # a person, logged in through the form (the session cookie)
    BEARER = "bearer"  # a program, sending ADMIN_API_KEY as a bearer token


class AdminSession(SQLModel, table=True):
    """One login through the form. The signed cookie carries only `id`; this row says whether it still counts."""

    __tablename__ = "admin_sessions"

    id: str = Field(primary_key=True, description="Random; what the signed session cookie carries")
    admin_key_fingerprint: str = Field(description="Of the ADMIN_API_KEY it was opened with: another key ends it")
    client_address: str
    user_agent: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="Logged out")


class ConfigChange(SQLModel, table=True):
    """One saved change of a business's configuration: who, when, and each field before and after."""

    __tablename__ = "config_changes"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Stored as its plain value: a database enum type would need a migration for every new kind.
    credential: AdminCredential = Field(sa_type=AutoString, description="session (a person) or bearer (a program)")
    session_id: str | None = Field(default=None, description="The admin session that saved it, if a person did")
    client_address: str
    changes: list = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description='[{"field": ..., "before": ..., "after": ...}] for each field that changed',
    )
