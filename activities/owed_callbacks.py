"""The call-backs owed to a number that calls in: the ones its call keeps, and the urgent ones it asks about.

A non-urgent call-back (a message left, to be returned at the next opening) is kept by the caller
ringing first, as it always was: the message stays on record for the team, and a spoofer who
calls from that number gains no more than a courtesy call not made. An urgent one (an emergency
nobody on call could take) is not: caller ID is easy to spoof, so the call asks, and only a caller
who says it is sorted settles it (`receptionist.owed_callbacks`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select
from temporalio import activity

from activities.follow_ups import PendingCallbacksQuery
from database.engine import get_engine
from database.models import Callback
from domain.vocabulary import CallbackStatus


class OwedCallback(BaseModel):
    callback_id: int
    workflow_id: str | None


class PendingCallbacks(BaseModel):
    kept: list[str]  # the workflows of the call-backs this call keeps, to be told
    urgent: list[OwedCallback]  # still owed, until the caller says otherwise


class OwedCallbacks:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def _session(self) -> Session:
        return Session(get_engine(self._database_url))

    @activity.defn(name="sort_pending_callbacks")
    async def sort_pending_callbacks(self, query: PendingCallbacksQuery) -> PendingCallbacks:
        """The caller called in: their non-urgent call-backs are fulfilled, their urgent ones returned."""
        return await asyncio.to_thread(self.sort_pending, query)

    def sort_pending(self, query: PendingCallbacksQuery) -> PendingCallbacks:
        """`sort_pending_callbacks`, in the caller's thread (`BusinessDirectory.know_call` sorts them so too)."""
        with self._session() as session:
            pending = session.exec(
                select(Callback).where(
                    Callback.business_id == query.business_id,
                    Callback.caller_number == query.caller_number,
                    Callback.status == CallbackStatus.PENDING,
                )
            ).all()
            kept = [c for c in pending if not c.urgent]
            self._fulfil(session, kept)
            return PendingCallbacks(
                kept=[c.workflow_id for c in kept if c.workflow_id],
                urgent=[OwedCallback(callback_id=c.id, workflow_id=c.workflow_id) for c in pending if c.urgent],
            )

    @activity.defn(name="settle_owed_callbacks")
    async def settle_owed_callbacks(self, callback_ids: list[int]) -> list[str]:
        """The caller said the matter is sorted: those still pending are fulfilled. Returns the workflows to tell."""
        return await asyncio.to_thread(self._settle_owed_callbacks, callback_ids)

    def _settle_owed_callbacks(self, callback_ids: list[int]) -> list[str]:
        with self._session() as session:
            owed = session.exec(select(Callback).where(col(Callback.id).in_(callback_ids))).all()
            self._fulfil(session, [c for c in owed if c.status == CallbackStatus.PENDING])
            # A retry tells the workflows again: one already told ignores it.
            return [c.workflow_id for c in owed if c.workflow_id and c.status == CallbackStatus.FULFILLED]

    @staticmethod
    def _fulfil(session: Session, callbacks: Sequence[Callback]) -> None:
        for callback in callbacks:
            callback.status = CallbackStatus.FULFILLED
            callback.completed_at = datetime.now(UTC)
            session.add(callback)
        session.commit()
