"""The dashboard's numbers for a business (or all) over a range of days, from the call records.

The four key metrics of the original system description, each against its target:
call success rate > 99 %, average response latency < 3 s, booking rate > 40 %, customer
satisfaction > 4.5 / 5. Satisfaction is the average of the ratings callers texted back to the
surveys of the range's calls (database/satisfaction.py), with its response rate; with no rating
yet, the dashboard says so rather than showing a made-up number.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from business.config import BusinessConfig
from database.models import Business, Call, CallMetrics, ConversationTurn
from database.satisfaction import SatisfactionFigures, satisfaction_figures
from domain.vocabulary import Brain, CallOutcome, CallStatus, FallbackLevel, Speaker

# A finished call failed the caller when it was never answered, or had to fall back to the
# last resort (hanging up with a call-back promise because nothing else worked).
UNANSWERED = CallStatus.MISSED
LAST_RESORT = FallbackLevel.CALLBACK_PROMISE
LATENCY_BUCKETS_MS = (500, 1000, 1500, 2000, 3000, 5000)
LATENCY_TARGET_MS = 3000
SATISFACTION_TARGET = 4.5
# No dead air: a caller hears the filler after about 1.2 s of waiting (business/listening.py).
SILENCE_TARGET_MS = 1500


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
    mood: float | None = Field(default=None, description="The mean mood of the day's caller turns, -1 to 1")


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
    surveys_sent: int = Field(default=0, description="Satisfaction texts sent about the range's calls")
    ratings: int = Field(default=0, description="Ratings callers texted back to them")
    survey_response_rate: float | None = Field(default=None, description="Ratings per survey sent, in %")


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
    start = datetime.combine(since, time(0), zone).astimezone(UTC)
    end = datetime.combine(until + timedelta(days=1), time(0), zone).astimezone(UTC)

    statement = (
        select(Call, CallMetrics)
        .join(CallMetrics, CallMetrics.call_id == Call.id, isouter=True)
        .where(Call.started_at >= start, Call.started_at < end)
    )
    turns = (
        select(ConversationTurn.reply_latency_ms, ConversationTurn.brain)
        .join(Call, Call.id == ConversationTurn.call_id)
        .where(ConversationTurn.speaker == Speaker.AGENT, Call.started_at >= start, Call.started_at < end)
    )
    moods = (
        select(Call.started_at, ConversationTurn.sentiment)
        .join(Call, Call.id == ConversationTurn.call_id)
        .where(
            ConversationTurn.speaker == Speaker.CALLER,
            col(ConversationTurn.sentiment).is_not(None),
            Call.started_at >= start,
            Call.started_at < end,
        )
    )
    if business_id is not None:
        statement = statement.where(Call.business_id == business_id)
        turns = turns.where(Call.business_id == business_id)
        moods = moods.where(Call.business_id == business_id)
    rows = session.exec(statement.order_by(col(Call.started_at))).all()
    replies = session.exec(turns).all()
    moods_by_day: dict[date, list[float]] = {}
    for started_at, sentiment in session.exec(moods).all():
        moods_by_day.setdefault(started_at.astimezone(zone).date(), []).append(sentiment)

    finished = [(c, m) for c, m in rows if c.status.finished]
    answered = [(c, m) for c, m in finished if c.status != UNANSWERED]
    succeeded = [c for c, _ in answered if c.fallback_level != LAST_RESORT]
    outcome_of = {c.id: c.outcome or (m.outcome if m else None) for c, m in rows}
    booked = [c for c, _ in answered if outcome_of[c.id] == CallOutcome.BOOKED]
    latencies = [latency for latency, _ in replies if latency is not None]
    costs = [m.estimated_cost_usd for _, m in finished if m is not None and m.estimated_cost_usd is not None]
    silences = [m.longest_silence_ms for _, m in finished if m is not None and m.longest_silence_ms is not None]
    longest_silence = max(silences) / 1000 if silences else None

    days: dict[date, DayRow] = {}
    day = since
    while day <= until:
        days[day] = DayRow(day=day, calls=0, booked=0, cost_usd=0.0)
        day += timedelta(days=1)
    for call, metrics in rows:
        row = days.get(call.started_at.astimezone(zone).date())
        if row is None:
            continue
        row.calls += 1
        row.booked += outcome_of[call.id] == CallOutcome.BOOKED
        row.cost_usd = round(row.cost_usd + ((metrics.estimated_cost_usd or 0.0) if metrics else 0.0), 6)
    for day_of_moods, scores in moods_by_day.items():
        if day_of_moods in days:
            days[day_of_moods].mood = round(statistics.fmean(scores), 3)

    buckets = Counter(_bucket_of(latency) for latency in latencies)
    average_latency = statistics.fmean(latencies) / 1000 if latencies else None
    success_rate = _percent(len(succeeded), len(finished))
    booking_rate = _percent(len(booked), len(answered))
    satisfaction = satisfaction_figures(session, business_id, start, end)
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
            key="longest_silence",
            label="Longest silence",
            value=None if longest_silence is None else round(longest_silence, 3),
            display="no measured calls" if longest_silence is None else f"{longest_silence:.2f} s",
            target=f"< {SILENCE_TARGET_MS / 1000:g} s",
            met=None if longest_silence is None else longest_silence * 1000 < SILENCE_TARGET_MS,
            explanation="The longest a caller waited in silence for the receptionist in any call of the period, "
            "from their final words (or the end of its last sentence) to its next words.",
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
        _satisfaction(satisfaction),
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
        offline_reply_share=_percent(sum(1 for _, brain in replies if brain == Brain.OFFLINE), len(replies)),
        cost_per_call_usd=round(statistics.fmean(costs), 6) if costs else None,
        total_cost_usd=round(sum(costs), 6),
        surveys_sent=satisfaction.surveys_sent,
        ratings=len(satisfaction.ratings),
        survey_response_rate=satisfaction.response_rate,
    )


def _satisfaction(figures: SatisfactionFigures) -> KeyMetric:
    average, rate = figures.average, figures.response_rate
    if average is None:
        display = "no ratings yet" if figures.surveys_sent else "not measured"
    else:
        display = f"{average:.1f} / 5"
    answered = (
        f"{len(figures.ratings)} of {figures.surveys_sent} surveys answered ({rate:g} %)"
        if rate is not None
        else "no survey sent"
    )
    return KeyMetric(
        key="customer_satisfaction",
        label="Customer satisfaction",
        value=average,
        display=display,
        target=f"> {SATISFACTION_TARGET:g} / 5",
        met=None if average is None else average > SATISFACTION_TARGET,
        explanation=f"The average rating callers texted back (1 to 5) when asked after a call: {answered}. "
        "Businesses turn the survey on in their configuration.",
    )
