"""Call-backs kept the next morning, on Temporal's time-skipping test server.

Every call-back here is promised the way a caller gets one: an after-hours call to a closed
practice, in which the caller asks for a message to be taken. The call-back workflow then
waits on a Temporal timer until the practice opens at 8 AM; the test moves the virtual clock
there (see tests/time_skipping_stack.py), and the Telnyx simulator plays whoever picks up
when our app dials: a person, nobody, a voicemail box. While a call is on the line the clock
is locked and runs at the speed of real time, so the calls' own timers mean what they say.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from database.engine import get_engine
from database.models import Business, Call, Callback, ConversationTurn
from receptionist.owed_callbacks import OWED_CALLBACK_QUESTION
from simulator.call_script import CallScript
from simulator.telnyx.records import ReceivedCommand, SimulatedCall
from tests.time_skipping_stack import TimeSkippingStack, time_skipping_stack
from tests.waiting import eventually
from workflows.call_messages import CallSummary, call_workflow_id
from workflows.callback import CallbackWorkflow

pytestmark = pytest.mark.database

NEW_YORK = ZoneInfo("America/New_York")
MAX_ATTEMPTS = 3
RETRY_MINUTES = 30
EIGHT_TO_FIVE = OpeningHours(opens=time(8), closes=time(17))
_numbers = itertools.count(random.randrange(10**6, 9 * 10**6, 1000))


@pytest.fixture(scope="module")
async def phone(database_url: str) -> AsyncIterator[TimeSkippingStack]:
    async with time_skipping_stack(
        database_url, CALLBACK_MAX_ATTEMPTS=MAX_ATTEMPTS, CALLBACK_RETRY_MINUTES=RETRY_MINUTES
    ) as stack:
        yield stack


@pytest.fixture
async def line(phone: TimeSkippingStack) -> AsyncIterator[TimeSkippingStack]:
    """The module's phone line, left for the next test as found: a worker running, no call-back pending."""
    try:
        yield phone
    finally:
        if phone.worker is not None and not phone.worker_cached:
            await phone.stop_worker()
        if phone.worker is None:
            await phone.start_worker()
        await phone.terminate_leftovers()


# --- a practice, a caller and the message they leave ------------------------------------------


@dataclass
class Practice:
    business_id: int
    config: BusinessConfig
    caller: str  # the patient who calls, and is called back

    @property
    def number(self) -> str:
        return self.config.phone_number


def new_practice(database_url: str, name: str) -> Practice:
    """A practice of its own (open 8 AM to 5 PM every day in New York) and a caller of its own."""
    # The caller's is a number a call-back may dial (New Jersey's 201; the +1 555 ones are fictional).
    number, caller = f"+1555{next(_numbers)}", f"+12015{next(_numbers) % 10**6:06d}"
    config = BusinessConfig(
        name=name,
        business_type="dental office",
        phone_number=number,
        timezone="America/New_York",
        services=[Service(name="Cleaning", duration_minutes=30, price="$90")],
        hours={day: EIGHT_TO_FIVE for day in WEEKDAYS},
    )
    with Session(get_engine(database_url)) as session:
        row = Business(name=name, phone_number=number, config=config.model_dump(mode="json"))
        session.add(row)
        session.commit()
        return Practice(row.id, config, caller)


def at_local(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=NEW_YORK)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def evening(stack: TimeSkippingStack) -> datetime:
    """Skip to the next 8 PM in New York: the practice is closed until 8 AM tomorrow."""
    local = (await stack.now()).astimezone(NEW_YORK)
    target = at_local(local.date(), time(20))
    if target <= local:
        target = at_local(local.date() + timedelta(days=1), time(20))
    await stack.skip_to(target)
    return target


async def leave_message(stack: TimeSkippingStack, practice: Practice, about: str) -> tuple[SimulatedCall, Callback]:
    """An after-hours call in which the caller asks to be called back; returns the call and the promise."""
    evening_at = await evening(stack)
    script = CallScript(
        from_number=practice.caller,
        to_number=practice.number,
        lines=[f"Can you take a message? Please call me back about {about}.", "Thanks, bye"],
    )
    call = stack.place_call(script)
    await stack.simulator.wait_ended(call, 30)
    summary = await stack.workflow_result(call_workflow_id(call.call_control_id), CallSummary)
    assert summary.outcome == "message", summary
    callback = the_callback(stack, practice)
    stack.watch(callback.workflow_id)
    assert callback.call_id == call.call_control_id
    assert callback.status == "pending" and callback.attempts == 0
    assert about in (callback.message or "")
    assert as_utc(callback.due_at) == at_local(evening_at.date() + timedelta(days=1), time(8)).astimezone(UTC)
    return call, callback


def the_callback(stack: TimeSkippingStack, practice: Practice) -> Callback:
    with Session(get_engine(stack.database_url)) as session:
        [callback] = session.exec(select(Callback).where(Callback.caller_number == practice.caller)).all()
        return callback


def callback_calls(stack: TimeSkippingStack, callback: Callback) -> list[Call]:
    """The outbound calls made to keep the promise, as recorded by their CallWorkflows."""
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(select(Call).where(Call.callback_id == callback.id).order_by(Call.started_at)).all()


def dials_to(stack: TimeSkippingStack, number: str) -> list[ReceivedCommand]:
    """Every dial our app sent to `number` that placed a call (repeats of a command_id excluded)."""
    return [
        c
        for c in list(stack.simulator.simulator.commands)
        if c.action == "dial" and c.body.get("to") == number and c.status_code == 200 and not c.duplicate
    ]


def agent_lines(call: SimulatedCall) -> list[str]:
    return [line.text for line in call.conversation if line.speaker == "agent"]


async def timer_fires_at(handle: WorkflowHandle, accept: Callable[[timedelta], bool], what: str) -> datetime:
    """Once the workflow waits on a timer (of a duration `accept`ed) and on nothing else: when it fires."""

    async def last_event():
        return (await handle.fetch_history()).events[-1]

    def waiting_on_timer(event) -> bool:
        return event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and accept(
            event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        )

    event = await eventually(last_event, waiting_on_timer, what=what)
    started = event.event_time.ToDatetime(tzinfo=UTC)
    return started + event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()


async def wait_for_next_morning(stack: TimeSkippingStack, callback: Callback) -> tuple[WorkflowHandle, datetime]:
    handle = stack.client.get_workflow_handle(callback.workflow_id)
    fires_at = await timer_fires_at(
        handle, lambda wait: wait > timedelta(hours=6), "the call-back waits for the morning"
    )
    assert abs(fires_at - as_utc(callback.due_at)) < timedelta(seconds=5)
    return handle, fires_at


async def next_dial(
    stack: TimeSkippingStack, practice: Practice, timeout: float = 30
) -> tuple[SimulatedCall, CallSummary]:
    """The next call our app dials to the caller, once over and recorded by its CallWorkflow."""
    call = await stack.simulator.wait_for_outbound_call(practice.caller, timeout)
    await stack.simulator.wait_ended(call, 30)
    return call, await stack.workflow_result(call_workflow_id(call.call_control_id), CallSummary)


# --- the tests --------------------------------------------------------------------------------


async def test_a_call_back_is_made_the_next_morning_with_the_context_of_the_first_call(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "Morning Smile Dental")
    first_call, callback = await leave_message(line, practice, "my loose crown")
    assert any("call-back is scheduled for tomorrow at 8 AM" in said for said in agent_lines(first_call))
    handle, fires_at = await wait_for_next_morning(line, callback)

    await line.skip_to(fires_at - timedelta(minutes=1))
    assert dials_to(line, practice.caller) == [], "nobody is rung before the practice opens"
    assert await handle.query(CallbackWorkflow.status) == "waiting"
    assert the_callback(line, practice).status == "pending"

    line.simulator.expect_outbound_call(
        practice.caller,
        CallScript(callee="human", lines=["Oh hello. When are you open today?", "Great, thanks, bye"]),
    )
    await line.skip_to(fires_at)
    call, summary = await next_dial(line, practice)
    assert await line.orphan_result(callback.workflow_id) == "done"
    assert (summary.status, summary.caller_turns) == ("ended", 2)

    [dial] = dials_to(line, practice.caller)
    assert dial.body["from"] == practice.number
    assert dial.body["connection_id"] == "test-connection"
    assert dial.body["answering_machine_detection"] == "detect"
    assert dial.body["timeout_secs"] == line.settings.transfer_ring_seconds
    assert dial.command_id == f"{callback.workflow_id}/dial-1"

    greeting, *replies = agent_lines(call)
    assert greeting.startswith("Hello, this is Morning Smile Dental returning your call about")
    assert greeting.endswith("returning your call about your loose crown. How can I help?")
    heard = [said.text for said in call.conversation if said.speaker == "caller"]
    assert heard == ["Oh hello. When are you open today?", "Great, thanks, bye"]
    assert any("8 AM" in reply for reply in replies), replies  # the hours, answered in the call-back

    kept = the_callback(line, practice)
    assert (kept.status, kept.attempts) == ("done", 1)
    assert kept.completed_at is not None
    [record] = callback_calls(line, callback)
    assert record.id == call.call_control_id
    assert record.workflow_id == call_workflow_id(call.call_control_id)
    assert (record.direction, record.dialed_number, record.status) == ("outgoing", practice.caller, "ended")
    assert as_utc(record.started_at) >= as_utc(callback.due_at), "rung at the promised time, not before"
    with Session(get_engine(line.database_url)) as session:
        turns = session.exec(
            select(ConversationTurn).where(ConversationTurn.call_id == record.id, ConversationTurn.speaker == "caller")
        ).all()
    assert [t.text for t in sorted(turns, key=lambda t: t.turn_index)] == heard


async def test_nobody_answers_so_the_call_back_is_tried_again_then_given_up(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "No Answer Dental")
    _, callback = await leave_message(line, practice, "a cleaning")
    handle, fires_at = await wait_for_next_morning(line, callback)
    for _ in range(MAX_ATTEMPTS):
        line.simulator.expect_outbound_call(practice.caller, CallScript(callee="no_answer"))

    await line.skip_to(fires_at)
    calls = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        call, _summary = await next_dial(line, practice)
        calls.append(call)
        assert call.conversation == [], "it rang out: nobody picked up, nobody was spoken to"
        if attempt == MAX_ATTEMPTS:
            break
        retry_at = await timer_fires_at(
            handle, lambda wait: wait == timedelta(minutes=RETRY_MINUTES), f"the wait after attempt {attempt}"
        )
        waiting = the_callback(line, practice)
        assert (waiting.status, waiting.attempts) == ("pending", attempt)
        assert await handle.query(CallbackWorkflow.status) == "waiting to retry after no_answer"

        await line.skip_to(retry_at - timedelta(minutes=1))
        assert len(dials_to(line, practice.caller)) == attempt, "no retry before the spacing has passed"
        await line.skip_to(retry_at)

    assert await line.orphan_result(callback.workflow_id) == "failed"
    given_up = the_callback(line, practice)
    assert (given_up.status, given_up.attempts) == ("failed", MAX_ATTEMPTS)

    dials = dials_to(line, practice.caller)
    assert [d.command_id for d in dials] == [f"{callback.workflow_id}/dial-{n}" for n in range(1, MAX_ATTEMPTS + 1)]
    assert len({d.call_control_id for d in dials}) == MAX_ATTEMPTS
    records = callback_calls(line, callback)
    assert [r.id for r in records] == [c.call_control_id for c in calls]
    assert {(r.status, r.outcome) for r in records} == {("missed", "no_answer")}
    spacings = [as_utc(b.started_at) - as_utc(a.started_at) for a, b in itertools.pairwise(records)]
    assert all(spacing >= timedelta(minutes=RETRY_MINUTES) for spacing in spacings), spacings


async def test_a_voicemail_gets_a_short_message_and_the_call_back_ends_there(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "Voicemail Dental")
    _, callback = await leave_message(line, practice, "my bill")
    _, fires_at = await wait_for_next_morning(line, callback)
    line.simulator.expect_outbound_call(practice.caller, CallScript(callee="voicemail"))

    await line.skip_to(fires_at)
    call, summary = await next_dial(line, practice)
    assert await line.orphan_result(callback.workflow_id) == "voicemail"
    assert (summary.outcome, summary.caller_turns) == ("voicemail", 0)

    [recorded] = agent_lines(call)
    assert "Voicemail Dental" in recorded and "returning your call" in recorded
    assert practice.number in recorded, "the box is told which number to call back"
    assert [c.action for c in call.commands if not c.duplicate][-1] == "hangup", "our app hung up after its message"
    assert not any(c.action == "start_transcription" for c in call.commands), "no conversation with a machine"
    assert len(dials_to(line, practice.caller)) == 1
    left = the_callback(line, practice)
    assert (left.status, left.attempts) == ("voicemail", 1)
    [record] = callback_calls(line, callback)
    assert record.outcome == "voicemail"


async def test_the_caller_calling_first_makes_the_call_back_unnecessary(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "Early Bird Dental")
    _, callback = await leave_message(line, practice, "my insurance form")
    handle, fires_at = await wait_for_next_morning(line, callback)

    await line.skip_to(fires_at - timedelta(minutes=30))  # 7:30 the next morning: still closed
    call = line.place_call(CallScript(from_number=practice.caller, to_number=practice.number, lines=["Thanks, bye"]))
    await line.simulator.wait_ended(call, 30)
    await line.workflow_result(call_workflow_id(call.call_control_id))

    assert await line.orphan_result(callback.workflow_id) == "fulfilled"
    fulfilled = the_callback(line, practice)
    assert (fulfilled.status, fulfilled.attempts) == ("fulfilled", 0)
    assert fulfilled.completed_at is not None
    history = await line.client.get_workflow_handle(call_workflow_id(call.call_control_id)).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "know_call" in scheduled and "sort_pending_callbacks" not in scheduled, (
        "the call-back was sorted as the call learnt its business, with no activity of its own"
    )

    await line.skip_to(fires_at + timedelta(hours=2))
    assert dials_to(line, practice.caller) == []
    assert callback_calls(line, callback) == []
    assert await handle.query(CallbackWorkflow.status) == "fulfilled"


async def promise_urgent_callback(stack: TimeSkippingStack, practice: Practice) -> Callback:
    """An emergency nobody can take (nobody is on call): the caller is promised a call-back in minutes."""
    call = stack.place_call(
        CallScript(
            from_number=practice.caller,
            to_number=practice.number,
            lines=["I have severe pain in my jaw", "My face is swelling up since this morning"],
        )
    )
    await stack.simulator.wait_ended(call, 30)
    await stack.workflow_result(call_workflow_id(call.call_control_id), CallSummary)
    callback = the_callback(stack, practice)
    stack.watch(callback.workflow_id)
    assert callback.urgent and callback.status == "pending"
    return callback


async def call_from_the_same_number(stack: TimeSkippingStack, practice: Practice, lines: list[str]) -> SimulatedCall:
    call = stack.place_call(CallScript(from_number=practice.caller, to_number=practice.number, lines=lines))
    await stack.simulator.wait_ended(call, 30)
    await stack.workflow_result(call_workflow_id(call.call_control_id))
    return call


async def test_a_call_from_the_same_number_does_not_silently_fulfil_an_urgent_call_back(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "Spoofed Number Dental")
    callback = await promise_urgent_callback(line, practice)

    # Anyone can present that number: the call asks, and this caller never says it is sorted.
    spoofed = await call_from_the_same_number(line, practice, ["What are your opening hours?", "Thanks, bye"])
    greeting, *replies = agent_lines(spoofed)
    assert greeting.endswith(OWED_CALLBACK_QUESTION)
    assert "Our hours are" in " ".join(replies)
    still_owed = the_callback(line, practice)
    assert (still_owed.status, still_owed.attempts) == ("pending", 0)

    line.simulator.expect_outbound_call(
        practice.caller, CallScript(callee="human", lines=["Hello? Yes, it still hurts a lot", "Thanks, bye"])
    )
    await line.skip_to(as_utc(callback.due_at))
    call, _summary = await next_dial(line, practice)
    assert await line.orphan_result(callback.workflow_id) == "done"
    assert agent_lines(call)[0].startswith("Hello, this is Spoofed Number Dental returning your call about")
    made = the_callback(line, practice)
    assert (made.status, made.attempts) == ("done", 1)


async def test_a_caller_who_says_the_urgent_matter_is_sorted_is_not_called_back(line: TimeSkippingStack):
    practice = new_practice(line.database_url, "Sorted Now Dental")
    callback = await promise_urgent_callback(line, practice)

    call = await call_from_the_same_number(line, practice, ["Yes, it's all sorted now, thanks", "Bye"])
    assert agent_lines(call)[1].startswith("Good to hear, then we won't call you back about it.")
    assert await line.orphan_result(callback.workflow_id) == "fulfilled"
    kept = the_callback(line, practice)
    assert (kept.status, kept.attempts) == ("fulfilled", 0)

    await line.skip_to(as_utc(callback.due_at) + timedelta(minutes=30))
    assert dials_to(line, practice.caller) == []


# Last in the module: it stops the worker, and the test server keeps what a stopped worker held.
async def test_a_waiting_call_back_survives_restarts_and_is_made_once(line: TimeSkippingStack):
    # Workers without a workflow cache here: the test server never moves a task off a stopped worker's
    # sticky queue (see TimeSkippingStack.start_worker), so a cached call would wait for it forever.
    await line.stop_worker()
    await line.start_worker(workflow_cache=False)
    practice = new_practice(line.database_url, "Restart Dental")
    _, callback = await leave_message(line, practice, "an x-ray")
    handle, fires_at = await wait_for_next_morning(line, callback)

    # Every CloudGreet process goes away while the promise waits; the night passes without them.
    await line.stop_worker()
    await line.restart_api()
    await line.skip_to(fires_at - timedelta(hours=1))
    assert dials_to(line, practice.caller) == []

    await line.start_worker(workflow_cache=False)
    assert await handle.query(CallbackWorkflow.status) == "waiting", "the new worker has the promise"
    line.simulator.expect_outbound_call(
        practice.caller, CallScript(callee="human", lines=["Thanks for calling back, bye"])
    )

    await line.skip_to(fires_at)
    call, _summary = await next_dial(line, practice)
    assert await line.orphan_result(callback.workflow_id) == "done"
    assert agent_lines(call)[0].startswith("Hello, this is Restart Dental returning your call about")
    assert len(dials_to(line, practice.caller)) == 1
    kept = the_callback(line, practice)
    assert (kept.status, kept.attempts) == ("done", 1)
    assert len(callback_calls(line, callback)) == 1


# --- an urgent call-back and a call from the same number ---------------------------------------------
