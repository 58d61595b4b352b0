"""What a replay reads: a past call's caller turns with what the agent said and asked for then, and saved sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from business.config import BusinessConfig
from database.models import Business, Call, ConversationTurn
from database.replay_models import ReplaySet
from database.utc import utcnow
from domain.vocabulary import Brain, Speaker


@dataclass
class RecordedTurn:
    turn_index: int
    caller_text: str
    spoken_at: datetime
    agent_text: str = ""
    brain: Brain | None = None
    tool_calls: list[dict] = field(default_factory=list)  # as the call recorded them: name, arguments, result


@dataclass
class RecordedCall:
    call_id: str
    business_id: int
    business: BusinessConfig
    started_at: datetime
    turns: list[RecordedTurn]


class UnknownCall(LookupError):
    """No call of that id, or one with no business or no caller turn to replay."""


def recorded_call(session: Session, call_id: str) -> RecordedCall:
    call = session.get(Call, call_id)
    if call is None:
        raise UnknownCall(f"no call {call_id!r}")
    business = session.get(Business, call.business_id) if call.business_id is not None else None
    if business is None or business.id is None:
        raise UnknownCall(f"call {call_id!r} has no business to replay it with")
    rows = session.exec(
        select(ConversationTurn).where(ConversationTurn.call_id == call_id).order_by(col(ConversationTurn.turn_index))
    ).all()
    turns: dict[int, RecordedTurn] = {}
    for row in rows:
        if row.speaker == Speaker.CALLER:
            turns[row.turn_index] = RecordedTurn(row.turn_index, row.text, row.spoken_at)
    for row in rows:
        if row.speaker == Speaker.AGENT and (turn := turns.get(row.turn_index)) is not None:
            turn.agent_text, turn.brain, turn.tool_calls = row.text, row.brain, list(row.tool_calls or [])
    if not turns:
        raise UnknownCall(f"call {call_id!r} has no caller turn to replay")
    return RecordedCall(
        call_id=call.id,
        business_id=business.id,
        business=BusinessConfig.model_validate(business.config),
        started_at=call.started_at,
        turns=[turns[index] for index in sorted(turns)],
    )


def latest_calls(session: Session, business_id: int, limit: int) -> list[str]:
    """The business's latest calls in which a caller spoke, newest first."""
    spoke = select(ConversationTurn.call_id).where(ConversationTurn.speaker == Speaker.CALLER)
    statement = (
        select(Call.id)
        .where(Call.business_id == business_id, col(Call.id).in_(spoke))
        .order_by(col(Call.started_at).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


def save_set(session: Session, name: str, call_ids: list[str]) -> ReplaySet:
    for call_id in call_ids:
        recorded_call(session, call_id)  # UnknownCall for one that cannot be replayed
    saved = session.exec(select(ReplaySet).where(ReplaySet.name == name)).first() or ReplaySet(name=name, call_ids=[])
    saved.call_ids, saved.updated_at = list(dict.fromkeys(call_ids)), utcnow()
    session.add(saved)
    session.commit()
    session.refresh(saved)
    return saved


def saved_set(session: Session, name: str) -> list[str]:
    saved = session.exec(select(ReplaySet).where(ReplaySet.name == name)).first()
    if saved is None:
        raise UnknownCall(f"no saved set {name!r}")
    return list(saved.call_ids)


def set_names(session: Session) -> list[ReplaySet]:
    return list(session.exec(select(ReplaySet).order_by(col(ReplaySet.name))).all())
