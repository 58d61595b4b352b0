"""The shared rate limiter: counters in the database (SQLite here, PostgreSQL with DATABASE_URL),
so API replicas count together. Times are given, not waited for."""

from __future__ import annotations

import math
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.rate_limits import Allowance, RateLimitWindow, try_hit

pytestmark = pytest.mark.database

# On an hour's edge, so the window arithmetic below is easy to follow; years ahead of the clock.
START = 3_600_000_000.0


def key(name: str) -> str:
    return f"test-{name}-{uuid.uuid4().hex[:8]}"  # the database lives as long as the test session


def test_the_limit_holds_within_a_window_and_room_comes_back_as_it_slides(database_url) -> None:
    engine = get_engine(database_url)
    visitor = [Allowance(key("visitor"), 2, 60)]
    assert try_hit(engine, visitor, START + 10) is None
    assert try_hit(engine, visitor, START + 20) is None
    wait = try_hit(engine, visitor, START + 30)
    # Full: room comes once this window's two hits weigh less than one, halfway into the next window.
    assert wait == pytest.approx(30 + 30)
    assert try_hit(engine, visitor, START + 30 + wait - 1) is not None
    assert try_hit(engine, visitor, START + 30 + wait + 1) is None
    # Never twice the limit at a window's edge: the previous window still counts.
    assert try_hit(engine, visitor, START + 92) is not None


def test_a_refused_hit_counts_against_no_limit(database_url) -> None:
    engine = get_engine(database_url)
    business = Allowance(key("business"), 1, 3600)
    client = Allowance(key("client"), 1, 3600)
    assert try_hit(engine, [business], START) is None
    assert try_hit(engine, [client, business], START) is not None
    # The client was refused because of the business, so its own allowance is untouched.
    assert try_hit(engine, [client, Allowance(key("other-business"), 1, 3600)], START) is None


def test_a_total_counts_over_the_keys_life_and_never_comes_back(database_url) -> None:
    engine = get_engine(database_url)
    turns = [Allowance(key("turns"), 3, 900, total=True)]
    assert [try_hit(engine, turns, START + i * 100) for i in range(3)] == [None, None, None]
    assert try_hit(engine, turns, START + 850) == math.inf


def test_hits_from_many_at_once_are_counted_exactly(database_url) -> None:
    engine = get_engine(database_url)
    shared = [Allowance(key("crowd"), 5, 3600)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: try_hit(engine, shared, START), range(24)))
    assert answers.count(None) == 5


def test_expired_counters_are_swept_when_a_window_begins(database_url) -> None:
    engine = get_engine(database_url)
    old = key("old")
    assert try_hit(engine, [Allowance(old, 5, 60)], START) is None
    assert try_hit(engine, [Allowance(key("later"), 5, 60)], START + 3600) is None
    with Session(engine) as session:
        assert session.exec(select(RateLimitWindow).where(RateLimitWindow.key == old)).all() == []
