"""The browser demo's "call me", on record as a call-back due now: the same row, workflow and
dialled `CallWorkflow` as a call-back a caller was promised, so the admin pages list it with
the others and its outcome (done, voicemail, failed) is kept the same way."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine
from sqlmodel import Session

from database.models import Callback
from database.utc import utcnow
from domain.vocabulary import CallbackStatus

# What the admin pages show as the call-back's reason.
CALL_ME_REASON = "asked on the website demo to be called now"


def record_call_me(engine: Engine, *, business_id: int, number: str, workflow_id: str) -> int:
    """The visitor's request as a call-back due now; its id."""
    with Session(engine) as session:
        callback = Callback(
            business_id=business_id,
            caller_number=number,
            reason=CALL_ME_REASON,
            due_at=utcnow(),
            workflow_id=workflow_id,
            # The workflow id is the business's and the number's, again for each request.
            idempotency_key=f"{workflow_id}/{uuid.uuid4().hex}",
        )
        session.add(callback)
        session.commit()
        assert callback.id is not None
        return callback.id


def call_me_not_started(engine: Engine, callback_id: int) -> None:
    """Its workflow could not be started (Temporal down): nobody will dial, so it is not pending."""
    with Session(engine) as session:
        callback = session.get(Callback, callback_id)
        if callback is not None:
            callback.status = CallbackStatus.FAILED
            callback.completed_at = utcnow()
            session.add(callback)
            session.commit()


def forget_call_me(engine: Engine, callback_id: int) -> None:
    """A request sent twice whose twin is already calling: it is no call-back of its own."""
    with Session(engine) as session:
        callback = session.get(Callback, callback_id)
        if callback is not None:
            session.delete(callback)
            session.commit()
