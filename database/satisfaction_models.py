"""Satisfaction surveys: the text asking a caller to rate a call, the caller's texts back, and who opted out.

A survey is one row per call (its key: a replayed or retried survey writes nothing twice). A
caller's text is remembered by Telnyx's message id only, so a redelivered webhook changes nothing;
its words are not kept. An opt-out is per business and number, as a caller's STOP is to the
number that texted them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from database.models import UTCDateTime, utcnow, words_of
from domain.vocabulary import SurveyStatus, TextReplyOutcome


class SatisfactionSurvey(SQLModel, table=True):
    __tablename__ = "satisfaction_surveys"

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", unique=True, description="The call the caller is asked to rate")
    business_id: int = Field(foreign_key="businesses.id", index=True)
    caller_number: str = Field(index=True)
    from_number: str = Field(description="The number the text came from, which the caller replies to")
    status: SurveyStatus = Field(default=SurveyStatus.ASKING, sa_type=words_of(SurveyStatus))
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    rating: int | None = Field(default=None, description="1 (poor) to 5 (excellent), once the caller answered")
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TextOptOut(SQLModel, table=True):
    """A caller who texted STOP to a business: it texts them nothing until they text START."""

    __tablename__ = "text_opt_outs"
    __table_args__ = (UniqueConstraint("business_id", "caller_number", name="uq_opt_out_once"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id")
    caller_number: str
    opted_out: bool = Field(description="False once the caller texted START or UNSTOP")
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TextReply(SQLModel, table=True):
    """A caller's text, by Telnyx's message id, and what it did (never its words)."""

    __tablename__ = "text_replies"

    id: int | None = Field(default=None, primary_key=True)
    telnyx_message_id: str = Field(unique=True)
    business_id: int | None = Field(default=None, foreign_key="businesses.id")
    survey_id: int | None = Field(default=None, foreign_key="satisfaction_surveys.id")
    outcome: TextReplyOutcome = Field(sa_type=words_of(TextReplyOutcome))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
