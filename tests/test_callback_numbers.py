"""Which numbers a call-back may dial, and the caps counted where a call-back is written, calls racing."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.follow_ups import CallbackCaps, CallbackRequest, FollowUps
from business.callback_numbers import DialableNumber, callback_countries, check_number
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Callback, ErrorLog
from domain.vocabulary import CallbackRefusal
from tests.records import add_business

US_LINE = BusinessConfig(name="Line", phone_number="+15555550100")  # fictional, but +1: a US business


@pytest.mark.parametrize(
    ("number", "checked"),
    [
        ("+12015550123", DialableNumber("+12015550123", "US")),
        ("(201) 555-0123", DialableNumber("+12015550123", "US")),  # as a US caller says it
        ("+16135550123", CallbackRefusal.COUNTRY_NOT_ALLOWED),  # Ottawa: +1, but Canada
        ("+18765550123", CallbackRefusal.COUNTRY_NOT_ALLOWED),  # Jamaica: +1 as well
        ("+442079460958", CallbackRefusal.COUNTRY_NOT_ALLOWED),
        ("+15555550142", CallbackRefusal.INVALID_NUMBER),  # the fictional +1 555 numbers ring nowhere
        ("+19005550123", CallbackRefusal.INVALID_NUMBER),  # premium rate: it would cost the business
        ("12", CallbackRefusal.INVALID_NUMBER),
        ("call me", CallbackRefusal.INVALID_NUMBER),
        ("", CallbackRefusal.NO_NUMBER),
        (None, CallbackRefusal.NO_NUMBER),
    ],
)
def test_a_call_back_dials_valid_numbers_of_the_business_country_only(number, checked) -> None:
    assert callback_countries(US_LINE) == ["US"]
    assert check_number(number, callback_countries(US_LINE)) == checked


def test_a_business_may_call_back_the_countries_it_lists() -> None:
    both = US_LINE.model_copy(update={"callback_countries": ["US", "CA"]})
    assert check_number("+16135550123", callback_countries(both)) == DialableNumber("+16135550123", "CA")
    assert check_number("+18765550123", callback_countries(both)) == CallbackRefusal.COUNTRY_NOT_ALLOWED
    with pytest.raises(ValueError, match="not country codes"):
        BusinessConfig(name="Typo", callback_countries=["USA"])
    assert BusinessConfig(name="Lower", callback_countries=[" gb "]).callback_countries == ["GB"]


_numbers = itertools.count(random.randrange(200_000, 900_000, 100))


@pytest.mark.database
async def test_calls_racing_for_a_number_cannot_all_pass_its_daily_cap(database_url: str) -> None:
    """Eight calls from one number ask for a call-back at the same moment; the cap is three a day."""
    business_id, config = add_business(database_url, "Racing Plumbing")
    caller = f"+12015{next(_numbers):06d}"
    follow_ups = FollowUps(database_url, callback_caps=CallbackCaps(per_caller_per_day=3))
    now = datetime.now(UTC)

    async def ask(call: int):
        request = CallbackRequest(
            idempotency_key=f"race-{caller}/call-{call}/callback-1",
            business_id=business_id,
            business=config,
            call_id=f"race-{caller}-{call}",
            caller_number=caller,
            reason="a leak",
            now=now,
            workflow_id=f"callback-race-{caller}-{call}",
        )
        return await ActivityEnvironment().run(follow_ups.schedule_callback, request)

    answers = await asyncio.gather(*(ask(call) for call in range(8)))
    assert sorted(str(a.refusal) for a in answers) == ["None"] * 3 + ["caller_daily_limit"] * 5
    assert all(a.spoken_when for a in answers), "each refused caller hears when the earlier promise is kept"
    with Session(get_engine(database_url)) as session:
        promised = session.exec(select(Callback).where(Callback.caller_number == caller)).all()
        refusals = session.exec(select(ErrorLog).where(ErrorLog.key.startswith(f"race-{caller}/"))).all()
    assert len(promised) == 3
    assert sorted(r.context["refusal"] for r in refusals) == ["caller_daily_limit"] * 5
    assert {r.source for r in refusals} == {"callback.refused"}

    # Asked again (a retried activity, a replayed call), each call hears what it heard, and nothing more is written.
    refused = next(call for call, a in enumerate(answers) if a.refusal)
    promised_to = next(call for call, a in enumerate(answers) if not a.refusal)
    assert (await ask(refused)).refusal == CallbackRefusal.CALLER_DAILY_LIMIT
    assert (await ask(promised_to)).callback_id == answers[promised_to].callback_id
    with Session(get_engine(database_url)) as session:
        assert len(session.exec(select(Callback).where(Callback.caller_number == caller)).all()) == 3
