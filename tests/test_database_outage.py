"""The records database is not on a call's critical path: calls go on while PostgreSQL is down.

The damage is real: a PostgreSQL server of this module's own (tests/postgres_server.py), which
the test stops while a call rings or talks and starts again afterwards. The stack is the real
one (API and worker processes, Temporal, the Telnyx simulator, the fake LLM). Each test asserts
what the caller heard, then that the database is whole once it is back: one call record with
its outcome, every turn exactly once, and the promised call-back.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowExecutionStatus

from business.config import BusinessConfig
from database.appointment_book import AppointmentBook
from database.engine import get_engine
from database.migrate import upgrade_database
from database.models import Appointment, Call, Callback, CallMetrics, ConversationTurn, Escalation
from receptionist import unknown_business
from receptionist.appointment_requests import BookingRequest
from receptionist.kept_bookings import OTHER_TIMES_REASON
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.businesses import closed_now, open_every_day, store_business
from tests.conftest import Stack, always_open, running_stack
from tests.postgres_server import PostgresServer
from tests.tcp_proxy import TcpProxy
from tests.test_phone_call import GREETING, fake_reply, spoken
from tests.waiting import eventually
from workflows.call import CallWorkflow
from workflows.call_callbacks import MESSAGE_KEPT
from workflows.call_messages import CallSummary, call_workflow_id

# How long the records of a call may take to reach the database once it is back: the workflow
# tries again after timers that grow while the database is down.
RECORDS_WRITTEN_WITHIN = 120


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    server.create_database()
    upgrade_database(server.url)
    always_open(server.url)
    yield server
    get_engine(server.url).dispose()
    server.remove()


@pytest.fixture(scope="module")
def outage_stack(temporal, postgres, fake_llm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    extra_env = {
        "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": "3",
        # No refresh within a test: a business stored during one is one the worker never loaded.
        "BUSINESS_REFRESH_SECONDS": "3600",
    }
    logs = tmp_path_factory.mktemp("outage-logs")
    with running_stack(temporal, postgres.url, fake_llm, logs, name="outage", llm=True, extra_env=extra_env) as stack:
        yield stack


@pytest.fixture(scope="module")
def proxy(postgres: PostgresServer) -> Iterator[TcpProxy]:
    with TcpProxy(postgres.port) as the_proxy:
        yield the_proxy


@pytest.fixture(scope="module")
async def hanging_stack(temporal, postgres, proxy, fake_llm, tmp_path_factory: pytest.TempPathFactory):
    """A stack whose database is reached through `proxy`, once its worker has served a call."""
    url = postgres.url.replace(f":{postgres.port}/", f":{proxy.port}/")
    logs = tmp_path_factory.mktemp("hanging-logs")
    env = {"DATABASE_CONNECT_TIMEOUT_SECONDS": "2", "DATABASE_STATEMENT_TIMEOUT_SECONDS": "3"}
    with running_stack(temporal, url, fake_llm, logs, name="hanging", llm=True, extra_env=env) as stack:
        await place(stack, CallScript(lines=["Hello"]))
        yield stack


@pytest.fixture(scope="module")
async def served_stack(outage_stack: Stack) -> Stack:
    """The stack once its worker has served a call: it has started (its start migrates the database)
    and read the businesses there are."""
    await place(outage_stack, CallScript(lines=["Hello"]))
    return outage_stack


class Outage:
    """The database down (`damage`) from `begin` until `end` (`repair`), or the test's end, whatever happens."""

    def __init__(self, damage: Callable[[], None], repair: Callable[[], None]) -> None:
        self._damage = damage
        self._repair = repair
        self.down = False

    def begin(self) -> None:
        self._damage()
        self.down = True

    def end(self) -> None:
        if self.down:
            self._repair()
            self.down = False


@pytest.fixture
def outage(postgres: PostgresServer) -> Iterator[Outage]:
    """PostgreSQL stopped: connections are refused."""
    damage = Outage(postgres.stop, postgres.start)
    try:
        yield damage
    finally:
        damage.end()


@pytest.fixture
def hang(proxy: TcpProxy) -> Iterator[Outage]:
    """The proxy to PostgreSQL cut: connections open and nothing answers."""
    damage = Outage(proxy.cut, proxy.mend)
    try:
        yield damage
    finally:
        damage.end()


def dialable_caller() -> str:
    # New Jersey's 201: a number a call-back may dial (the +1 555 ones are fictional).
    return f"+12015{random.randrange(10**6):06d}"


async def place(stack: Stack, script: CallScript):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, 90)
    return call


async def records_kept_in_the_workflow(stack: Stack, call) -> None:
    """The call is over but its workflow is not: it still holds records the database has not taken."""
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def finished(stack: Stack, call) -> CallSummary:
    handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call.call_control_id))
    return await asyncio.wait_for(handle.result(), RECORDS_WRITTEN_WITHIN)


def turns_on_record(database_url: str, call_id: str) -> list[tuple[int, str, str]]:
    with Session(get_engine(database_url)) as session:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.speaker.desc())
        ).all()
        return [(t.turn_index, t.speaker, t.text) for t in turns]


def agent_lines(call) -> int:
    return sum(1 for line in call.conversation if line.speaker == "agent")


async def test_a_call_while_the_database_is_down_is_answered_greeted_and_recorded_when_it_returns(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    outage.begin()
    lines = ["What are your opening hours?", "Do you do whitening?"]
    call = await place(stack, CallScript(from_number=dialable_caller(), lines=lines))
    await records_kept_in_the_workflow(stack, call)
    outage.end()

    # What the caller heard: answered, greeted by the business's name, every line answered.
    assert next(c.action for c in call.commands if not c.duplicate) == "answer"
    assert spoken(call) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]

    summary = await finished(stack, call)
    assert summary.status == "ended" and summary.caller_turns == 2
    assert turns_on_record(stack.database_url, call.call_control_id) == [
        (1, "caller", lines[0]),
        (1, "agent", " ".join(fake_reply(lines[0]))),
        (2, "caller", lines[1]),
        (2, "agent", " ".join(fake_reply(lines[1]))),
    ]
    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert (record.status, record.outcome, record.hangup_cause) == ("ended", "completed", "normal_clearing")
        assert session.get(CallMetrics, call.call_control_id).caller_turns == 2


async def test_the_database_stopping_mid_call_changes_nothing_the_caller_hears_and_nothing_is_lost(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    lines = ["Do you do checkups?", "What about cleanings?", "And whitening?", "Thanks, that's all."]
    # The caller pauses after each reply: time for the database to go down between two turns.
    call = stack.simulator.place_call(CallScript(from_number=dialable_caller(), lines=lines, caller_pause_seconds=2))
    await eventually(lambda: agent_lines(call), lambda heard: heard >= 3, timeout=60, what="the first turn answered")
    outage.begin()
    answered_before_the_outage = agent_lines(call)
    await stack.simulator.wait_ended(call, 90)
    await records_kept_in_the_workflow(stack, call)
    outage.end()

    assert spoken(call) == [GREETING, *[sentence for line in lines for sentence in fake_reply(line)]]
    assert agent_lines(call) - answered_before_the_outage >= 2 * 2, "two turns or more answered during the outage"

    summary = await finished(stack, call)
    assert summary.status == "ended" and summary.caller_turns == len(lines)
    assert turns_on_record(stack.database_url, call.call_control_id) == [
        entry
        for turn, line in enumerate(lines, start=1)
        for entry in [(turn, "caller", line), (turn, "agent", " ".join(fake_reply(line)))]
    ]
    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert (record.status, record.outcome) == ("ended", "completed")
        assert session.get(CallMetrics, call.call_control_id).caller_turns == len(lines)


async def test_a_business_the_worker_never_loaded_takes_a_message_and_the_call_back_is_promised_when_the_database_returns(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    # Stored after the worker last read the businesses: it has never heard of this one.
    # Closed for days: the call-back it is promised is not due during the test.
    config = closed_now(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    message = "This is Ann Lee, please call me about my crown."

    outage.begin()
    # The caller waits to be hung up on: the receptionist ends the call, after its goodbye.
    script = CallScript(from_number=caller, to_number=config.phone_number, lines=[message], hang_up_at_end=False)
    call = await place(stack, script)
    await records_kept_in_the_workflow(stack, call)
    outage.end()

    assert next(c.action for c in call.commands if not c.duplicate) == "answer"
    assert spoken(call) == [unknown_business.GREETING, unknown_business.GOODBYE]
    assert [c.action for c in call.commands if not c.duplicate][-1] == "hangup", "the receptionist hung up"

    summary = await finished(stack, call)
    assert summary.status == "ended" and summary.outcome == "message"
    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert (record.business_id, record.status, record.outcome) == (business_id, "ended", "message")
        promised = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
        assert [(c.business_id, c.caller_number, c.message, c.status) for c in promised] == [
            (business_id, caller, message, "pending")
        ]
    assert turns_on_record(stack.database_url, call.call_control_id) == [
        (1, "caller", message),
        (1, "agent", unknown_business.GOODBYE),
    ]
    keeper = stack.temporal_client.get_workflow_handle(promised[0].workflow_id)
    await eventually(
        lambda: keeper.describe(),
        lambda d: d.status == WorkflowExecutionStatus.RUNNING,
        what="the call-back's workflow keeps the promise",
    )


# --- a booking asked for while the appointment book is down ---------------------------------------

BOOKING_LINE = "Please book a cleaning for Ann"


def at_ten(days_ahead: int) -> str:
    """10 AM that many days from today in New York, as the LLM names a time (the business's local time)."""
    return (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=days_ahead)).strftime("%Y-%m-%dT10:00")


@contextmanager
def llm_uses_a_tool(stack: Stack, when_caller_says: str, tool_call: FakeToolCall) -> Iterator[None]:
    fake = stack.fake_llm.fake
    fake.set_behaviour(
        fake.behaviour.model_copy(update={"rules": [FakeReplyRule(contains=when_caller_says, tool_call=tool_call)]})
    )
    try:
        yield
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))


def booking_asked(stack: Stack, start: str):
    """The fake LLM books a cleaning at `start` for Ann when the caller asks."""
    arguments = {"service": "Cleaning", "start": start, "caller_name": "Ann"}
    return llm_uses_a_tool(stack, "book a cleaning", FakeToolCall(name="book_appointment", arguments=arguments))


async def call_through_an_outage(
    stack: Stack, outage: Outage, config: BusinessConfig, caller: str, asking: str = BOOKING_LINE, **script_fields
):
    """A call that begins with the database up; it stops after the first turn, before the caller asks."""
    script = CallScript(
        from_number=caller,
        to_number=config.phone_number,
        lines=["Hello", asking],
        caller_pause_seconds=2,
        **script_fields,
    )
    call = stack.simulator.place_call(script)
    await eventually(lambda: agent_lines(call), lambda heard: heard >= 3, timeout=60, what="the first turn answered")
    outage.begin()
    await stack.simulator.wait_ended(call, 90)
    await records_kept_in_the_workflow(stack, call)
    outage.end()
    return call


def kept_booking_read_back(call) -> bool:
    heard = " ".join(spoken(call))
    return "I have taken the booking down: a Cleaning" in heard and "for Ann" in heard


async def test_a_booking_asked_for_during_an_outage_is_read_back_and_confirmed_by_text_when_the_database_returns(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    config = open_every_day(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    with booking_asked(stack, at_ten(days_ahead=2)):
        call = await call_through_an_outage(stack, outage, config, caller)

    assert kept_booking_read_back(call), spoken(call)
    assert not [m for m in stack.simulator.simulator.messages if m.to_number == caller], "no text before it is booked"

    summary = await finished(stack, call)
    assert summary.outcome == "booked"
    with Session(get_engine(stack.database_url)) as session:
        booked = session.exec(select(Appointment).where(Appointment.call_id == call.call_control_id)).all()
        assert [(a.business_id, a.service, a.caller_name, a.caller_number, a.status) for a in booked] == [
            (business_id, "Cleaning", "Ann", caller, "booked")
        ]
        assert session.get(Call, call.call_control_id).outcome == "booked"
    [text] = [m for m in stack.simulator.simulator.messages if m.to_number == caller]
    assert text.from_number == config.sms_from_number and "Booked" in text.text


async def test_a_booking_whose_time_was_taken_during_the_outage_gets_a_call_back_with_the_nearest_times(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    # Open on one day only, three days from now: the call-back is not due during the test.
    config = closed_now(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    start = at_ten(days_ahead=3)
    # Someone else has the time by the time the call's booking reaches the book.
    taken = AppointmentBook(stack.database_url).book(
        BookingRequest(
            business_id=business_id,
            business=config,
            caller_number=dialable_caller(),
            now=datetime.now(UTC),
            idempotency_key=f"someone-else-{caller}",
            service="Cleaning",
            start=start,
            caller_name="Someone Else",
        )
    )
    assert taken.ok, taken.message
    with booking_asked(stack, start):
        call = await call_through_an_outage(stack, outage, config, caller)

    assert kept_booking_read_back(call), spoken(call)

    summary = await finished(stack, call)
    assert summary.outcome == "message"
    with Session(get_engine(stack.database_url)) as session:
        assert not session.exec(select(Appointment).where(Appointment.call_id == call.call_control_id)).all()
        [promised] = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
        assert (promised.business_id, promised.caller_number, promised.reason) == (
            business_id,
            caller,
            OTHER_TIMES_REASON,
        )
        assert "nearest free times" in (promised.message or "")
        assert session.get(Call, call.call_control_id).outcome == "message"
    assert not [m for m in stack.simulator.simulator.messages if m.to_number == caller]


async def test_a_message_left_during_an_outage_is_promised_a_call_back_when_the_database_returns(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    config = closed_now(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    message = FakeToolCall(
        name="take_message",
        arguments={"reason": "a loose filling", "message": "Please call before noon", "caller_name": "Bo"},
    )
    with llm_uses_a_tool(stack, "leave a message", message):
        call = await call_through_an_outage(stack, outage, config, caller, asking="I'd like to leave a message")

    assert f"Done: {MESSAGE_KEPT}" in " ".join(spoken(call)), spoken(call)

    summary = await finished(stack, call)
    assert summary.outcome == "message"
    with Session(get_engine(stack.database_url)) as session:
        promised = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
        assert [(c.business_id, c.caller_number, c.caller_name, c.reason, c.message) for c in promised] == [
            (business_id, caller, "Bo", "a loose filling", "Please call before noon")
        ]
        assert session.get(Call, call.call_control_id).outcome == "message"


async def test_an_emergency_during_an_outage_is_put_through_and_its_escalation_recorded_when_the_database_returns(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    config = open_every_day(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    on_call = config.on_call_numbers[0]
    call = await call_through_an_outage(
        stack, outage, config, dialable_caller(), asking="I think I smell gas", on_call_answers={on_call: "answer"}
    )

    heard = spoken(call)
    assert "That sounds like an emergency. I'm getting someone on the line for you right now." in heard
    assert "Please hold while I connect you." in heard
    assert [(t.to, t.outcome) for t in call.transfers] == [(on_call, "answered")]

    summary = await finished(stack, call)
    assert summary.outcome == "escalated"
    with Session(get_engine(stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
        assert (escalation.business_id, escalation.status) == (business_id, "connected")
        assert [(a["number"], a["outcome"]) for a in escalation.attempts] == [(on_call, "answered")]
        record = session.get(Call, call.call_control_id)
        assert (record.outcome, record.fallback_level) == ("escalated", "escalation")


async def test_a_database_that_hangs_rather_than_refuses_holds_no_call_up(hanging_stack: Stack, hang: Outage) -> None:
    stack = hanging_stack
    lines = ["What are your opening hours?", "Do you do whitening?"]
    hang.begin()
    call = await place(stack, CallScript(from_number=dialable_caller(), lines=lines))
    await records_kept_in_the_workflow(stack, call)
    hang.end()

    assert next(c.action for c in call.commands if not c.duplicate) == "answer"
    assert spoken(call) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]

    summary = await finished(stack, call)
    assert summary.status == "ended" and summary.caller_turns == 2
    assert turns_on_record(stack.database_url, call.call_control_id) == [
        entry
        for turn, line in enumerate(lines, start=1)
        for entry in [(turn, "caller", line), (turn, "agent", " ".join(fake_reply(line)))]
    ]
    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert (record.status, record.outcome) == ("ended", "completed")


async def test_a_booking_asked_for_while_the_database_hangs_is_read_back_and_booked_when_it_answers(
    hanging_stack: Stack, hang: Outage
) -> None:
    stack = hanging_stack
    config = open_every_day(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    with booking_asked(stack, at_ten(days_ahead=2)):
        call = await call_through_an_outage(stack, hang, config, caller)

    assert kept_booking_read_back(call), spoken(call)

    summary = await finished(stack, call)
    assert summary.outcome == "booked"
    with Session(get_engine(stack.database_url)) as session:
        booked = session.exec(select(Appointment).where(Appointment.call_id == call.call_control_id)).all()
        assert [(a.business_id, a.caller_name, a.status) for a in booked] == [(business_id, "Ann", "booked")]
    [text] = [m for m in stack.simulator.simulator.messages if m.to_number == caller]
    assert "Booked" in text.text


# Last of the module's outage-stack tests: it starts the module's worker again, with nothing remembered.
async def test_a_worker_started_during_the_outage_answers_with_a_generic_greeting_and_takes_a_message(
    served_stack: Stack, outage: Outage
) -> None:
    stack = served_stack
    config = closed_now(f"+1555{random.randrange(10**6, 10**7)}")
    business_id = store_business(stack.database_url, config)
    caller = dialable_caller()
    message = "This is Cy, my appointment card is lost."

    stack.worker.stop()
    outage.begin()
    stack.worker.start()  # it cannot migrate the database, nor read a business: it serves calls all the same
    script = CallScript(from_number=caller, to_number=config.phone_number, lines=[message], hang_up_at_end=False)
    call = await place(stack, script)
    await records_kept_in_the_workflow(stack, call)
    outage.end()

    assert spoken(call) == [unknown_business.GREETING, unknown_business.GOODBYE]
    summary = await finished(stack, call)
    assert summary.outcome == "message"
    with Session(get_engine(stack.database_url)) as session:
        assert session.get(Call, call.call_control_id).business_id == business_id
        [promised] = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
        assert (promised.business_id, promised.caller_number, promised.message) == (business_id, caller, message)
