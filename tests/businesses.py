"""Businesses the skills tests call, stored the way the configuration panel stores them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from database.engine import get_engine
from database.models import Business

SERVICES = [
    Service(name="Cleaning", duration_minutes=30, price="$90"),
    Service(name="Checkup", duration_minutes=45, price="$120"),
    Service(name="Whitening", duration_minutes=60, price="$250"),
]
NINE_TO_FIVE = OpeningHours(opens=time(9), closes=time(17))


def open_every_day(number: str = "+15555550111", **changes) -> BusinessConfig:
    return BusinessConfig(
        name="Skills Test Dental",
        business_type="dental office",
        phone_number=number,
        timezone="America/New_York",
        services=SERVICES,
        hours={day: NINE_TO_FIVE for day in WEEKDAYS},
        on_call_numbers=["+15555550199", "+15555550198"],
        sms_from_number=number,
        owner_number="+15555550190",
        **{"remember_callers": False, **changes},  # a greeting must not depend on the tests before it
    )


def closed_now(number: str = "+15555550112") -> BusinessConfig:
    """Open only on the weekday three days from today: closed whenever the test runs."""
    in_three_days = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=3)
    return open_every_day(number).model_copy(
        update={"name": "Closed Now Dental", "hours": {WEEKDAYS[in_three_days.weekday()]: NINE_TO_FIVE}}
    )


def store_business(database_url: str, config: BusinessConfig) -> int:
    with Session(get_engine(database_url)) as session:
        business = session.exec(select(Business).where(Business.phone_number == config.phone_number)).first()
        business = business or Business(name=config.name, phone_number=config.phone_number, config={})
        business.name = config.name
        business.config = config.model_dump(mode="json")
        session.add(business)
        session.commit()
        return business.id


def demo_config(stack) -> BusinessConfig:
    with Session(get_engine(stack.database_url)) as session:
        business = session.exec(select(Business).where(Business.phone_number == "+15555550100")).one()
        return BusinessConfig.model_validate(business.config)


def patient_business(stack) -> BusinessConfig:
    """The demo business on a number of its own, with no filler: a test that checks a reply's own words."""
    demo = demo_config(stack)
    patient = demo.model_copy(
        update={
            "phone_number": "+15555550133",
            "reply_timing": demo.reply_timing.model_copy(update={"filler_after_ms": 10000}),
        }
    )
    store_business(stack.database_url, patient)
    return patient
