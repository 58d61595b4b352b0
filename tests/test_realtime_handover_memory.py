"""A Realtime-mode line's mode is part of what a worker remembers of a business: during a database outage
the call is still handed to OpenAI (its configuration read from the worker's memory, as every call's is)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from activities.business_directory import READ_TIMEOUT_SECONDS, BusinessDirectory
from activities.call_records import CallOpening, CallRecords
from database.engine import DatabaseTimeouts, get_engine
from database.migrate import upgrade_database
from database.models import Business
from domain.vocabulary import BusinessKnowledge, Direction, PhoneMode
from tests.businesses import open_every_day, store_business

REALTIME_LINE = "+15555550181"
SPEECH_LINE = "+15555550182"


def opening(number: str) -> CallOpening:
    return CallOpening(
        call_control_id=f"v3:{number}",
        workflow_id=f"call-{number}",
        caller_number="+15555550142",
        dialed_number=number,
        direction=Direction.INCOMING,
        started_at=datetime.now(UTC),
    )


async def test_a_lines_mode_is_read_with_its_business_and_remembered_through_an_outage(tmp_path: Path) -> None:
    database = tmp_path / "records.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    realtime_id = store_business(url, open_every_day(REALTIME_LINE))
    store_business(url, open_every_day(SPEECH_LINE))
    with Session(get_engine(url)) as session:
        business = session.get(Business, realtime_id)
        assert business is not None
        business.phone_mode = PhoneMode.REALTIME_SIP
        session.add(business)
        session.commit()
    directory = BusinessDirectory(url, CallRecords(url, llm_configured=False, turn_deadline_seconds=5))

    read = [await directory.know_call(opening(number)) for number in (REALTIME_LINE, SPEECH_LINE)]
    assert [(c.knowledge, c.phone_mode) for c in read] == [
        (BusinessKnowledge.DATABASE, PhoneMode.REALTIME_SIP),
        (BusinessKnowledge.DATABASE, PhoneMode.TELNYX_SPEECH),
    ]

    # The directory's engine (its read timeouts) lets go of the file, which is then gone.
    get_engine(url, DatabaseTimeouts(READ_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)).dispose()
    database.unlink()  # the records are gone: every read fails (no such table)
    remembered = [await directory.know_call(opening(number)) for number in (REALTIME_LINE, SPEECH_LINE)]
    assert [(c.knowledge, c.phone_mode) for c in remembered] == [
        (BusinessKnowledge.REMEMBERED, PhoneMode.REALTIME_SIP),
        (BusinessKnowledge.REMEMBERED, PhoneMode.TELNYX_SPEECH),
    ]
