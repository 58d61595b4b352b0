"""The satisfaction survey's database work: whether to ask the caller now, and what became of the text."""

from __future__ import annotations

import asyncio
from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio import activity

from database.engine import get_engine
from database.satisfaction import decide_survey, mark_survey
from domain.vocabulary import SurveyDecision, SurveyStatus


class SurveyPlan(BaseModel):
    """A finished call whose caller is to be asked for a rating, after the business's delay."""

    call_id: str
    business_id: int
    business_name: str
    caller_number: str
    from_number: str
    delay_minutes: int
    language: str | None = Field(default=None, description="The call's language: the text is written in it")


class SurveyFate(BaseModel):
    call_id: str
    status: SurveyStatus


class SatisfactionSurveys:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    @activity.defn(name="decide_survey")
    async def decide_survey(self, plan: SurveyPlan, at: datetime) -> SurveyDecision:
        return await asyncio.to_thread(self._decide, plan, at)

    def _decide(self, plan: SurveyPlan, at: datetime) -> SurveyDecision:
        with Session(get_engine(self._database_url)) as session:
            return decide_survey(
                session,
                call_id=plan.call_id,
                business_id=plan.business_id,
                caller_number=plan.caller_number,
                from_number=plan.from_number,
                now=at,
            )

    @activity.defn(name="mark_survey")
    async def mark_survey(self, fate: SurveyFate) -> None:
        await asyncio.to_thread(self._mark, fate)

    def _mark(self, fate: SurveyFate) -> None:
        with Session(get_engine(self._database_url)) as session:
            mark_survey(session, fate.call_id, fate.status)
