"""The satisfaction survey's bookkeeping: whether a caller is asked, what their texts back do, the figures.

Rules (README "Satisfaction surveys"): a caller who texted STOP to a business is never asked by
it again until they text START; a caller is asked at most once per SURVEY_SPACING per business;
a rating counts for the latest call of that number the business asked about within REPLY_WINDOW,
and a later rating replaces an earlier one (the caller changed their mind). Every write is keyed
(the call, Telnyx's message id), so a retried activity or a redelivered webhook changes nothing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from business.config import BusinessConfig
from database.models import Business, Call
from database.satisfaction_models import SatisfactionSurvey, TextOptOut, TextReply
from domain.vocabulary import SurveyDecision, SurveyStatus, TextReplyOutcome
from receptionist.survey_texts import meaning_of

SURVEY_SPACING = timedelta(days=30)
REPLY_WINDOW = timedelta(days=7)
ASKED = (SurveyStatus.ASKING, SurveyStatus.SENT, SurveyStatus.RATED)


@dataclass(frozen=True)
class InboundText:
    """A caller's text, as Telnyx's message.received says it."""

    message_id: str
    from_number: str
    to_number: str
    text: str
    received_at: datetime


@dataclass(frozen=True)
class SatisfactionFigures:
    surveys_sent: int
    ratings: list[int]

    @property
    def average(self) -> float | None:
        return round(statistics.fmean(self.ratings), 2) if self.ratings else None

    @property
    def response_rate(self) -> float | None:
        return round(100 * len(self.ratings) / self.surveys_sent, 1) if self.surveys_sent else None


class SurveyInfo(BaseModel):
    """A call's satisfaction survey, on its page."""

    status: SurveyStatus
    asked_at: datetime
    rating: int | None = Field(default=None, description="1 (poor) to 5 (excellent)")
    rated_at: datetime | None = None


def survey_info(session: Session, call_id: str) -> SurveyInfo | None:
    survey = session.exec(select(SatisfactionSurvey).where(SatisfactionSurvey.call_id == call_id)).first()
    return SurveyInfo.model_validate(survey, from_attributes=True) if survey else None


def opted_out(session: Session, business_id: int, number: str) -> bool:
    row = session.exec(
        select(TextOptOut).where(TextOptOut.business_id == business_id, TextOptOut.caller_number == number)
    ).first()
    return bool(row and row.opted_out)


def decide_survey(
    session: Session, *, call_id: str, business_id: int, caller_number: str, from_number: str, now: datetime
) -> SurveyDecision:
    """ASK, with the survey's row written (ASKING); or why not. Asked again for the same call: the same answer."""
    if (
        known := session.exec(select(SatisfactionSurvey).where(SatisfactionSurvey.call_id == call_id)).first()
    ) is not None:
        return SurveyDecision.ASK if known.status in ASKED else SurveyDecision.ASKED_RECENTLY
    if opted_out(session, business_id, caller_number):
        return SurveyDecision.OPTED_OUT
    recent = select(SatisfactionSurvey).where(
        SatisfactionSurvey.business_id == business_id,
        SatisfactionSurvey.caller_number == caller_number,
        col(SatisfactionSurvey.status).in_(ASKED),
        SatisfactionSurvey.asked_at >= now - SURVEY_SPACING,
    )
    if session.exec(recent).first() is not None:
        return SurveyDecision.ASKED_RECENTLY
    session.add(
        SatisfactionSurvey(
            call_id=call_id, business_id=business_id, caller_number=caller_number, from_number=from_number, asked_at=now
        )
    )
    try:
        session.commit()
    except IntegrityError:  # another attempt of the same survey wrote it meanwhile
        session.rollback()
    return SurveyDecision.ASK


def mark_survey(session: Session, call_id: str, status: SurveyStatus) -> None:
    survey = session.exec(select(SatisfactionSurvey).where(SatisfactionSurvey.call_id == call_id)).one()
    if survey.status == SurveyStatus.ASKING:  # a rating that came first stays
        survey.status = status
        session.add(survey)
        session.commit()


def business_texting_from(session: Session, number: str) -> Business | None:
    """The business whose texts come from `number`: its sms_from_number, else the number callers dial."""
    businesses = session.exec(select(Business).order_by(col(Business.id))).all()
    by_sender = [b for b in businesses if BusinessConfig.model_validate(b.config).sms_from_number == number]
    return by_sender[0] if by_sender else next((b for b in businesses if b.phone_number == number), None)


def take_reply(session: Session, text: InboundText) -> TextReplyOutcome:
    """Records what a caller's text means; the same message again changes nothing."""
    if session.exec(select(TextReply).where(TextReply.telnyx_message_id == text.message_id)).first() is not None:
        return TextReplyOutcome.DUPLICATE
    business = business_texting_from(session, text.to_number)
    meaning = meaning_of(text.text)
    outcome, survey_id = meaning.outcome, None
    if business is None or business.id is None:
        outcome = TextReplyOutcome.UNKNOWN_NUMBER
    elif outcome in (TextReplyOutcome.OPTED_OUT, TextReplyOutcome.OPTED_IN):
        _remember_choice(
            session, business.id, text.from_number, outcome == TextReplyOutcome.OPTED_OUT, text.received_at
        )
    elif outcome == TextReplyOutcome.RATED:
        survey = session.exec(
            select(SatisfactionSurvey)
            .where(
                SatisfactionSurvey.business_id == business.id,
                SatisfactionSurvey.caller_number == text.from_number,
                col(SatisfactionSurvey.status).in_(ASKED),
                SatisfactionSurvey.asked_at >= text.received_at - REPLY_WINDOW,
                SatisfactionSurvey.asked_at <= text.received_at,
            )
            .order_by(col(SatisfactionSurvey.asked_at).desc())
        ).first()
        if survey is None:
            outcome = TextReplyOutcome.NO_SURVEY
        else:
            survey_id = survey.id
            if survey.rated_at is None or text.received_at >= survey.rated_at:
                survey.rating, survey.rated_at, survey.status = meaning.rating, text.received_at, SurveyStatus.RATED
                session.add(survey)
    session.add(
        TextReply(
            telnyx_message_id=text.message_id,
            business_id=business.id if business else None,
            survey_id=survey_id,
            outcome=outcome,
            received_at=text.received_at,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # the same message, taken by another delivery meanwhile
        session.rollback()
        return TextReplyOutcome.DUPLICATE
    return outcome


def _remember_choice(session: Session, business_id: int, number: str, out: bool, at: datetime) -> None:
    row = session.exec(
        select(TextOptOut).where(TextOptOut.business_id == business_id, TextOptOut.caller_number == number)
    ).first() or TextOptOut(business_id=business_id, caller_number=number, opted_out=out, changed_at=at)
    row.opted_out, row.changed_at = out, at
    session.add(row)


def satisfaction_figures(
    session: Session, business_id: int | None, start: datetime, end: datetime
) -> SatisfactionFigures:
    """Surveys sent about the calls that started in [start, end), and the ratings they brought."""
    statement = (
        select(SatisfactionSurvey.status, SatisfactionSurvey.rating)
        .join(Call, col(Call.id) == SatisfactionSurvey.call_id)
        .where(Call.started_at >= start, Call.started_at < end)
        .where(col(SatisfactionSurvey.status).in_((SurveyStatus.SENT, SurveyStatus.RATED)))
    )
    if business_id is not None:
        statement = statement.where(SatisfactionSurvey.business_id == business_id)
    rows = session.exec(statement).all()
    return SatisfactionFigures(
        surveys_sent=len(rows), ratings=[rating for status, rating in rows if rating is not None]
    )
