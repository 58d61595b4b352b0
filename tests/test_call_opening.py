"""A call opens with one activity: `know_call` reads the business, writes the call's row and sorts the
call-backs owed to the caller, each on a real SQLite database. When the write or the sort fails, the
call is told so (and does it itself, as before); the business read stands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from activities.business_directory import BusinessDirectory
from activities.call_records import CallOpening, CallRecords
from activities.owed_callbacks import OwedCallbacks
from database.engine import get_engine
from database.migrate import upgrade_database
from database.models import Call, Callback
from domain.vocabulary import BusinessKnowledge, CallbackStatus, CallStatus, Direction
from tests.businesses import open_every_day, store_business

LINE = "+15555550191"
CALLER = "+15555550142"


def opening(call: str, *, with_business: bool = True) -> CallOpening:
    return CallOpening(
        call_control_id=call,
        workflow_id=f"call-{call}",
        caller_number=CALLER,
        dialed_number=LINE,
        direction=Direction.INCOMING,
        started_at=datetime.now(UTC),
        writes_call_row=with_business,
        sorts_owed_callbacks=with_business,
    )


def records(tmp_path: Path) -> tuple[str, int, BusinessDirectory]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    upgrade_database(url)
    business_id = store_business(url, open_every_day(LINE))
    directory = BusinessDirectory(
        url, CallRecords(url, llm_configured=False, turn_deadline_seconds=5), owed_callbacks=OwedCallbacks(url)
    )
    return url, business_id, directory


def owe_callbacks(url: str, business_id: int) -> None:
    with Session(get_engine(url)) as session:
        for urgent, workflow_id in ((False, "callback-message"), (True, "callback-emergency")):
            session.add(
                Callback(
                    business_id=business_id,
                    caller_number=CALLER,
                    reason="a message" if not urgent else "an emergency",
                    urgent=urgent,
                    due_at=datetime.now(UTC),
                    status=CallbackStatus.PENDING,
                    workflow_id=workflow_id,
                    idempotency_key=workflow_id,
                )
            )
        session.commit()


async def test_the_business_read_writes_the_calls_row_and_sorts_the_call_backs_owed(tmp_path: Path) -> None:
    url, business_id, directory = records(tmp_path)
    owe_callbacks(url, business_id)

    context = await directory.know_call(opening("v3:opened"))

    assert (context.knowledge, context.business_id, context.call_row_written) == (
        BusinessKnowledge.DATABASE,
        business_id,
        True,
    )
    assert context.owed is not None
    assert context.owed.kept == ["callback-message"], "the message's call-back is kept by the caller calling"
    assert [c.workflow_id for c in context.owed.urgent] == ["callback-emergency"], "the urgent one is asked about"
    with Session(get_engine(url)) as session:
        row = session.get(Call, "v3:opened")
        assert row is not None and (row.business_id, row.status) == (business_id, CallStatus.ANSWERING)
        statuses = {c.workflow_id: c.status for c in session.exec(select(Callback)).all()}
    assert statuses == {"callback-message": CallbackStatus.FULFILLED, "callback-emergency": CallbackStatus.PENDING}

    again = await directory.know_call(opening("v3:opened"))  # a retried activity
    assert again.call_row_written
    with Session(get_engine(url)) as session:
        assert len(session.exec(select(Call)).all()) == 1, "the row is written once"


async def test_a_call_on_older_code_writes_and_sorts_nothing_with_its_business(tmp_path: Path) -> None:
    url, business_id, directory = records(tmp_path)
    owe_callbacks(url, business_id)

    context = await directory.know_call(opening("v3:older", with_business=False))

    assert (context.knowledge, context.call_row_written, context.owed) == (BusinessKnowledge.DATABASE, False, None)
    with Session(get_engine(url)) as session:
        assert session.get(Call, "v3:older") is None, "its workflow writes the row (`open_call`)"
        assert {c.status for c in session.exec(select(Callback)).all()} == {CallbackStatus.PENDING}


async def test_a_row_the_database_refuses_is_left_to_the_call_and_the_business_read_stands(tmp_path: Path) -> None:
    url, _, directory = records(tmp_path)
    with Session(get_engine(url)) as session:
        session.exec(text("CREATE TRIGGER refuse_calls BEFORE INSERT ON calls BEGIN SELECT RAISE(ABORT, 'full'); END"))
        session.commit()

    context = await directory.know_call(opening("v3:refused"))

    assert context.knowledge == BusinessKnowledge.DATABASE, "the business was read: the call knows it"
    assert not context.call_row_written, "the call writes its row itself, in the background"
    assert context.owed is not None and context.owed.kept == [], "the sort, a transaction of its own, went on"
    with Session(get_engine(url)) as session:
        assert session.get(Call, "v3:refused") is None
