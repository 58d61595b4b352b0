"""Saved sets of past calls: a configuration change is tried on them before it is saved (`cloudgreet replay`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from database.models import UTCDateTime, utcnow


class ReplaySet(SQLModel, table=True):
    __tablename__ = "replay_sets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=80)
    call_ids: list = Field(sa_column=Column(JSON, nullable=False), description="The calls, in the order given")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
