"""Rate limits that every API replica shares: counters in the database, one row per key and window.

Counted in the database, not in each process, so N replicas allow the limit once, not N times.
The `limits` library (memory, Redis, Memcached, MongoDB storages) has no SQL storage, and its
checks of several limits are not one atomic step; PostgreSQL and SQLite both have
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which counts a hit and reads the count in one
statement, under the row's lock. All the limits of one request are counted in one transaction,
rolled back when any is full: a refused request counts against none of them.

A rate is a sliding window counter (the `limits` library's "sliding window counter", Cloudflare's
rate limiting): fixed windows of `window_seconds`, the previous window's count weighted by how
much of it the sliding window still covers. Two rows per key at most; never more hits than the
limit in any window of that length, and never a burst of twice the limit at a window's edge. A
total (`total=True`) counts over a key's whole life, such as the turns of one conversation.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Engine, String, delete, select
from sqlmodel import Field, SQLModel, col


class RateLimitWindow(SQLModel, table=True):
    """The hits of one key within one fixed window (or, for a total, ever)."""

    __tablename__ = "rate_limit_windows"

    key: str = Field(primary_key=True, sa_type=String, description="What is counted, e.g. web-business:7")
    window_number: int = Field(
        primary_key=True, sa_type=BigInteger, description="Seconds since the epoch // length; 0: a total"
    )
    hits: int = 0
    expires_at: int = Field(
        sa_type=BigInteger, index=True, description="Seconds since the epoch; then it counts no more"
    )


@dataclass(frozen=True)
class Allowance:
    """At most `limit` hits of `key` per `window_seconds`; for a total, ever (kept `window_seconds`)."""

    key: str
    limit: int
    window_seconds: float
    total: bool = False


def try_hit(engine: Engine, allowances: Sequence[Allowance], now: float) -> float | None:
    """Counts one hit against every allowance if all have room; else the seconds until all would have.

    A total that is full never has room again: its wait is `math.inf`.
    """
    wait = 0.0
    new_windows = False
    with engine.connect() as connection, connection.begin() as transaction:
        # Always in the same order, so two requests never wait on each other's rows (no deadlock).
        for allowance in sorted(allowances, key=lambda a: a.key):
            allowed, hits = _hit(connection, allowance, now)
            wait = max(wait, allowed)
            new_windows = new_windows or hits == 1
        if wait > 0:
            transaction.rollback()
            return wait
    if new_windows:
        # Expired rows go when a window begins: now and then, on an index, holding no other row.
        with engine.begin() as connection:
            connection.execute(delete(RateLimitWindow).where(col(RateLimitWindow.expires_at) < math.floor(now)))
    return None


def _hit(connection: Connection, allowance: Allowance, now: float) -> tuple[float, int]:
    """Counts the hit: (0 when the allowance has room for it, else how long until it would; the count)."""
    length = allowance.window_seconds
    window = 0 if allowance.total else math.floor(now / length)
    # A window's count is read again in the next window, as the previous one.
    expires_at = math.ceil(now + length if allowance.total else (window + 2) * length)
    hits = _count_hit(connection, allowance.key, window, expires_at)
    if allowance.total:
        return (0.0 if hits <= allowance.limit else math.inf), hits
    previous = (
        connection.execute(
            select(RateLimitWindow.hits).where(
                col(RateLimitWindow.key) == allowance.key, col(RateLimitWindow.window_number) == window - 1
            )
        ).scalar_one_or_none()
        or 0
    )
    into_window = now - window * length
    weight = (length - into_window) / length
    limit = allowance.limit
    if previous * weight + hits <= limit:
        return 0.0, hits
    if hits <= limit:
        # Room comes within this window, as the previous one's weight falls.
        return max(length - into_window - (limit - hits) * length / previous, 0.001), hits
    # This window alone is full: wait into the next one, until this one's weight has fallen enough.
    return (length - into_window) + length * (hits - limit) / (hits - 1), hits


@dataclass(frozen=True)
class Budget:
    """At most `limit` units (seconds of Realtime voice, say) spent under `key` per UTC day."""

    key: str
    limit: int


DAY_SECONDS = 86_400


def try_spend(engine: Engine, budgets: Sequence[Budget], amount: int, now: float) -> Budget | None:
    """Spends `amount` from every budget of today if all have room (None); else the first that has not.

    One transaction: a refused spend spends nothing. The day is `now`'s UTC day (`spend_day`).
    """
    day = spend_day(now)
    with engine.connect() as connection, connection.begin() as transaction:
        for budget in sorted(budgets, key=lambda b: b.key):  # same order always: no deadlock
            spent = _count_hit(connection, budget.key, day, (day + 2) * DAY_SECONDS, amount)
            if spent > budget.limit:
                transaction.rollback()
                return budget
    return None


def give_back(engine: Engine, budgets: Sequence[Budget], amount: int, day: int) -> None:
    """Returns `amount` of what `try_spend` took on `day` (a reservation that was not all used)."""
    if amount <= 0:
        return
    with engine.begin() as connection:
        for budget in sorted(budgets, key=lambda b: b.key):
            connection.execute(
                RateLimitWindow.__table__.update()  # type: ignore[attr-defined]
                .where(RateLimitWindow.__table__.c.key == budget.key)  # type: ignore[attr-defined]
                .where(RateLimitWindow.__table__.c.window_number == day)  # type: ignore[attr-defined]
                .values(hits=RateLimitWindow.__table__.c.hits - amount)  # type: ignore[attr-defined]
            )


def spend_day(now: float) -> int:
    return math.floor(now / DAY_SECONDS)


def _count_hit(connection: Connection, key: str, window: int, expires_at: int, amount: int = 1) -> int:
    # The dialect's module is imported when first used: PostgreSQL's costs ~0.1 s of start-up that a
    # process on SQLite never needs (the engine imports it anyway on PostgreSQL).
    dialect = importlib.import_module(f"sqlalchemy.dialects.{connection.dialect.name}")
    insert = dialect.insert(RateLimitWindow)
    statement = (
        insert.values(key=key, window_number=window, hits=amount, expires_at=expires_at)
        .on_conflict_do_update(
            index_elements=[RateLimitWindow.key, RateLimitWindow.window_number],
            set_={"hits": RateLimitWindow.hits + amount},
        )
        .returning(RateLimitWindow.hits)
    )
    return int(connection.execute(statement).scalar_one())
