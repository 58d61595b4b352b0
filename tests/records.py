"""Call records written straight into the test database, for pages and commands that read them.

Each test makes a business of its own (a fresh number), so what it counts is only its own.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from business.config import BusinessConfig, Service
from database.engine import get_engine
from database.models import Appointment, Business, Call, CallMetrics, ConversationTurn, ErrorLog, Escalation


def fresh_number() -> str:
    return f"+1555{random.randrange(10**6, 10**7)}"


def add_business(
    database_url: str, name: str, timezone: str = "America/New_York", *, demo_enabled: bool = False, **config: object
) -> tuple[int, BusinessConfig]:
    business_config = BusinessConfig(
        name=name,
        business_type="plumber",
        phone_number=fresh_number(),
        timezone=timezone,
        services=[Service(name="Drain cleaning", duration_minutes=60, price="$150")],
        **{"remember_callers": False, **config},  # callers remembered only where a test asks for it
    )
    with Session(get_engine(database_url)) as session:
        row = Business(
            name=name,
            phone_number=business_config.phone_number,
            config=business_config.model_dump(mode="json"),
            demo_enabled=demo_enabled,
        )
        session.add(row)
        session.commit()
        return row.id, business_config


def add_call(
    database_url: str,
    business_id: int,
    *,
    started_at: datetime,
    status: str = "ended",
    outcome: str | None = "completed",
    fallback_level: str = "llm",
    caller: str = "+15555550142",
    replies: list[tuple[str, str, float, str]] = (),  # (caller said, agent said, reply latency ms, brain)
    cost: float | None = 0.01,
    errors: list[tuple[str, str]] = (),  # (source, message)
    booking: str | None = None,
    escalation_attempts: list[dict] | None = None,
    tool_calls: list[dict] = (),  # on the last agent turn
    longest_silence_ms: float | None = None,
) -> str:
    call_id = f"v3:records-{uuid.uuid4().hex}"
    with Session(get_engine(database_url)) as session:
        finished = status in ("ended", "missed")
        session.add(
            Call(
                id=call_id,
                workflow_id=f"call-{call_id}",
                business_id=business_id,
                caller_number=caller,
                dialed_number="+15555550100",
                status=status,
                outcome=outcome if finished else None,
                fallback_level=fallback_level,
                started_at=started_at,
                ended_at=started_at + timedelta(seconds=60) if finished else None,
                hangup_cause="normal_clearing" if finished else None,
            )
        )
        session.flush()
        for index, (caller_text, agent_text, latency, brain) in enumerate(replies, start=1):
            said_at = started_at + timedelta(seconds=10 * index)
            tools = list(tool_calls) if index == len(replies) else []
            session.add(
                ConversationTurn(
                    call_id=call_id,
                    turn_index=index,
                    speaker="agent",
                    text=agent_text,
                    tool_calls=tools,
                    reply_latency_ms=latency,
                    brain=brain,
                    spoken_at=said_at + timedelta(seconds=1),
                )
            )
            session.add(
                ConversationTurn(
                    call_id=call_id, turn_index=index, speaker="caller", text=caller_text, spoken_at=said_at
                )
            )
        if finished:
            latencies = sorted(latency for _, _, latency, _ in replies)
            session.add(
                CallMetrics(
                    call_id=call_id,
                    duration_seconds=60,
                    caller_turns=len(replies),
                    reply_latency_p50_ms=latencies[len(latencies) // 2] if latencies else None,
                    reply_latency_max_ms=latencies[-1] if latencies else None,
                    offline_replies=sum(1 for *_, brain in replies if brain == "offline"),
                    outcome=outcome or "completed",
                    fallback_level=fallback_level,
                    llm_prompt_tokens=120 * len(replies),
                    llm_completion_tokens=20 * len(replies),
                    estimated_cost_usd=cost,
                    longest_silence_ms=longest_silence_ms,
                )
            )
        for number, (source, message) in enumerate(errors):
            session.add(
                ErrorLog(
                    key=f"{call_id}/error-{number}",
                    call_id=call_id,
                    source=source,
                    message=message,
                    context={"turn": 1},
                    occurred_at=started_at + timedelta(seconds=5 + number),
                )
            )
        if booking:
            session.add(
                Appointment(
                    business_id=business_id,
                    call_id=call_id,
                    service=booking,
                    caller_name="Dana",
                    starts_at=started_at + timedelta(days=1),
                    ends_at=started_at + timedelta(days=1, hours=1),
                    idempotency_key=f"{call_id}/booking",
                )
            )
        if escalation_attempts is not None:
            session.add(
                Escalation(
                    business_id=business_id,
                    call_id=call_id,
                    reason="burst pipe",
                    status="connected",
                    attempts=escalation_attempts,
                    idempotency_key=f"{call_id}/escalation",
                )
            )
        session.commit()
    return call_id
