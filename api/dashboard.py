"""The dashboard's numbers for a business (or all) over a range of days, from the call records.

The four key metrics of the original system description, each against its target:
call success rate > 99 %, average response latency < 3 s, booking rate > 40 %, customer
satisfaction > 4.5 / 5. Nothing measures satisfaction yet, and the dashboard says so rather
than showing a made-up number.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.call_queries import FINISHED_STATUSES, as_utc
from business.config import BusinessConfig
from database.models import Business, Call, CallMetrics, ConversationTurn

# A finished call failed the caller when it was never answered, failed, or had to fall back
# to the last resort (hanging up with a call-back promise because nothing else worked).
FAILED_STATUSES = frozenset({"missed", "failed"})
LAST_RESORT = "callback_promise"
LATENCY_BUCKETS_MS = (500, 1000, 1500, 2000, 3000, 5000)
LATENCY_TARGET_MS = 3000


class KeyMetric(BaseModel):
    key: str
    label: str
    value: float | None = Field(description="None when there is nothing to measure yet")
    display: str
    target: str
    met: bool | None = Field(description="None when there is no value to compare")
    explanation: str


class DayRow(BaseModel):
    day: date
    calls: int
    booked: int
    cost_usd: float


class LatencyBucket(BaseModel):
    label: str
    turns: int
    within_target: bool = Field(description="Every reply in this bucket met the 3 s target")


class Dashboard(BaseModel):
    business_id: int | None
    business_name: str | None
    since: date
    until: date
    timezone: str = Field(description="Days are counted in this timezone: the business's, or UTC for all")
    calls: int
    finished_calls: int
    key_metrics: list[KeyMetric]
    calls_per_day: list[DayRow]
    latency_distribution: list[LatencyBucket]
    outcomes: dict[str, int]
    fallback_levels: dict[str, int]
    offline_reply_share: float | None = Field(description="Share of replies the offline responder gave")
    cost_per_call_usd: float | None
    total_cost_usd: float


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _bucket_labels() -> list[str]:
    labels, lower = [], 0
    for upper in LATENCY_BUCKETS_MS:
        labels.append(f"{lower / 1000:g}–{upper / 1000:g} s")
        lower = upper
    return [*labels, f"over {lower / 1000:g} s"]


def _bucket_of(latency_ms: float) -> int:
    return next((i for i, upper in enumerate(LATENCY_BUCKETS_MS) if latency_ms < upper), len(LATENCY_BUCKETS_MS))


def build_dashboard(session: Session, business_id: int | None, since: date, until: date) -> Dashboard:
    business = session.get(Business, business_id) if business_id is not None else None
    zone_name = BusinessConfig.model_validate(business.config).timezone if business else "UTC"
    zone = ZoneInfo(zone_name)
    start = datetime.combine(since, time(0), zone).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time(0), zone).astimezone(timezone.utc)

    statement = (
        select(Call, CallMetrics)
        .join(CallMetrics, CallMetrics.call_id == Call.id, isouter=True)
        .where(Call.started_at >= start, Call.started_at < end)
    )
    turns = (
        select(ConversationTurn.reply_latency_ms, ConversationTurn.brain)
        .join(Call, Call.id == ConversationTurn.call_id)
        .where(ConversationTurn.speaker == "agent", Call.started_at >= start, Call.started_at < end)
    )
    if business_id is not None:
        statement = statement.where(Call.business_id == business_id)
        turns = turns.where(Call.business_id == business_id)
    rows = session.exec(statement.order_by(col(Call.started_at))).all()
    replies = session.exec(turns).all()

    finished = [(c, m) for c, m in rows if c.status in FINISHED_STATUSES]
    answered = [(c, m) for c, m in finished if c.status not in FAILED_STATUSES]
    succeeded = [c for c, _ in answered if c.fallback_level != LAST_RESORT]
    outcome_of = {c.id: c.outcome or (m.outcome if m else None) for c, m in rows}
    booked = [c for c, _ in answered if outcome_of[c.id] == "booked"]
    latencies = [latency for latency, _ in replies if latency is not None]
    costs = [m.estimated_cost_usd for _, m in finished if m is not None and m.estimated_cost_usd is not None]

    days: dict[date, DayRow] = {}
    day = since
    while day <= until:
        days[day] = DayRow(day=day, calls=0, booked=0, cost_usd=0.0)
        day += timedelta(days=1)
    for call, metrics in rows:
        row = days.get(as_utc(call.started_at).astimezone(zone).date())
        if row is None:
            continue
        row.calls += 1
        row.booked += outcome_of[call.id] == "booked"
        row.cost_usd = round(row.cost_usd + ((metrics.estimated_cost_usd or 0.0) if metrics else 0.0), 6)

    buckets = Counter(_bucket_of(latency) for latency in latencies)
    average_latency = statistics.fmean(latencies) / 1000 if latencies else None
    success_rate = _percent(len(succeeded), len(finished))
    booking_rate = _percent(len(booked), len(answered))
    key_metrics = [
        KeyMetric(
            key="call_success_rate",
            label="Call success rate",
            value=success_rate,
            display="no finished calls" if success_rate is None else f"{success_rate:g} %",
            target="> 99 %",
            met=None if success_rate is None else success_rate > 99,
            explanation="Finished calls that were answered and handled without falling back to hanging up "
            "with a call-back promise.",
        ),
        KeyMetric(
            key="average_response_latency",
            label="Average response latency",
            value=None if average_latency is None else round(average_latency, 3),
            display="no replies" if average_latency is None else f"{average_latency:.2f} s",
            target=f"< {LATENCY_TARGET_MS / 1000:g} s",
            met=None if average_latency is None else average_latency * 1000 < LATENCY_TARGET_MS,
            explanation="From the caller's last word reaching CloudGreet to the first words of the reply being sent "
            "to the phone, averaged over every reply.",
        ),
        KeyMetric(
            key="booking_rate",
            label="Appointment booking rate",
            value=booking_rate,
            display="no answered calls" if booking_rate is None else f"{booking_rate:g} %",
            target="> 40 %",
            met=None if booking_rate is None else booking_rate > 40,
            explanation="Answered calls that ended with an appointment booked.",
        ),
        KeyMetric(
            key="customer_satisfaction",
            label="Customer satisfaction",
            value=None,
            display="not measured",
            target="> 4.5 / 5",
            met=None,
            explanation="CloudGreet does not ask callers for a rating yet, so there is no number to show.",
        ),
    ]
    return Dashboard(
        business_id=business_id,
        business_name=business.name if business else None,
        since=since,
        until=until,
        timezone=zone_name,
        calls=len(rows),
        finished_calls=len(finished),
        key_metrics=key_metrics,
        calls_per_day=list(days.values()),
        latency_distribution=[
            LatencyBucket(
                label=label,
                turns=buckets.get(i, 0),
                within_target=i < len(LATENCY_BUCKETS_MS) and LATENCY_BUCKETS_MS[i] <= LATENCY_TARGET_MS,
            )
            for i, label in enumerate(_bucket_labels())
        ],
        outcomes=dict(Counter(outcome_of[c.id] or "unknown" for c, _ in finished).most_common()),
        fallback_levels=dict(Counter(c.fallback_level for c, _ in finished).most_common()),
        offline_reply_share=_percent(sum(1 for _, brain in replies if brain == "offline"), len(replies)),
        cost_per_call_usd=round(statistics.fmean(costs), 6) if costs else None,
        total_cost_usd=round(sum(costs), 6),
    )
