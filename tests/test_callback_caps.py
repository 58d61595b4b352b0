"""Call-backs cannot flood a number: the caps, the numbers a call-back may dial, and web visitors' numbers.

Through the real stack: the fake LLM is scripted to call take_message again and again (nine at
once, turn after turn, from several calls of one number and of several numbers); what the caller
heard comes from the simulator, the promises from the database and Temporal, the dials from the
simulator's record of our Call Control commands. The business is open around the clock, so each
promised call-back dials at once; nobody answers, and each then waits half an hour to retry.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from database.engine import get_engine
from database.models import Business, Callback, ConversationTurn, ErrorLog
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.records import fresh_number
from tests.test_phone_call import finished_workflow, spoken
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id
from workflows.callback import CallbackPlan, CallbackWorkflow

pytestmark = pytest.mark.database

AROUND_THE_CLOCK = OpeningHours(opens=time(0), closes=time(23, 59, 59))
ALREADY_TAKEN = "I've already taken your message; we'll call you back today at"
# Callers on numbers a call-back may dial (New Jersey's 201); the fictional +1 555 ones are not.
_callers = itertools.count(random.randrange(200_000, 900_000, 100))


def new_caller() -> str:
    return f"+12015{next(_callers):06d}"


def open_business(database_url: str, name: str, **config: object) -> tuple[int, BusinessConfig]:
    business = BusinessConfig(
        name=name,
        business_type="plumber",
        phone_number=fresh_number(),
        services=[Service(name="Drain cleaning", duration_minutes=60, price="$150")],
        hours={day: AROUND_THE_CLOCK for day in WEEKDAYS},
        **config,
    )
    with Session(get_engine(database_url)) as session:
        row = Business(name=name, phone_number=business.phone_number, config=business.model_dump(mode="json"))
        session.add(row)
        session.commit()
        return row.id, business


def callbacks_of(database_url: str, business_id: int) -> list[Callback]:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(Callback).where(Callback.business_id == business_id).order_by(Callback.id)).all()


def refusals_of(database_url: str, call_ids: list[str]) -> list[ErrorLog]:
    with Session(get_engine(database_url)) as session:
        return session.exec(
            select(ErrorLog).where(ErrorLog.call_id.in_(call_ids), ErrorLog.source == "callback.refused")
        ).all()


def tool_results(database_url: str, call_id: str) -> list[str]:
    with Session(get_engine(database_url)) as session:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call_id, ConversationTurn.speaker == "agent")
            .order_by(ConversationTurn.turn_index)
        ).all()
    return [tool["result"] for turn in turns for tool in turn.tool_calls]


def dials_to(stack, number: str) -> list:
    return [
        c
        for c in list(stack.simulator.simulator.commands)
        if c.action == "dial" and c.body.get("to") == number and c.status_code == 200 and not c.duplicate
    ]


async def history_counts(stack, call) -> tuple[int, int]:
    """How often the call's workflow asked to schedule a call-back, and how many CallbackWorkflows it started."""
    history = await stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id)).fetch_history()
    scheduled = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "schedule_callback"
    ]
    children = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    return len(scheduled), len(children)


async def place(stack, script: CallScript):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, 90)
    await finished_workflow(stack, call)
    return call


def take_message(repeat: int = 1, **arguments: object) -> FakeToolCall:
    return FakeToolCall(
        name="take_message",
        arguments={"message": "The kitchen tap is leaking", "reason": "a leaking tap", **arguments},
        repeat=repeat,
    )


@pytest.fixture
def scripted_llm(stack):
    """Sets the fake model's rules for one test, and leaves it as found."""
    fake = stack.fake_llm.fake

    def script(*rules: FakeReplyRule) -> None:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": list(rules)}))

    yield script
    fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))


async def settled(stack, callbacks: list[Callback]) -> None:
    """Every promised call-back has dialled once and rung out (it waits half an hour to retry), or was
    fulfilled by its caller ringing again first."""
    for callback in callbacks:
        handle: WorkflowHandle = stack.temporal_client.get_workflow_handle(callback.workflow_id)
        await eventually(
            lambda handle=handle: handle.query(CallbackWorkflow.status),
            lambda status: status in ("waiting to retry after no_answer", "fulfilled"),
            timeout=60,
            what=f"call-back {callback.id} rang once and waits, or was fulfilled",
        )


async def end_callbacks(stack, callbacks: list[Callback]) -> None:
    for callback in callbacks:
        handle = stack.temporal_client.get_workflow_handle(callback.workflow_id)
        if (await handle.describe()).status.name == "RUNNING":
            await handle.terminate("test over")


def ring_me_back(number: str, business: BusinessConfig) -> CallScript:
    return CallScript(from_number=number, to_number=business.phone_number, lines=["Please ring me back"])


async def test_a_flood_of_messages_leaves_at_most_the_caps_of_call_backs_and_dials(stack, scripted_llm):
    """One caller asks nine times a turn for three turns, rings twice more at once, and three others join in."""
    business_id, business = open_business(
        stack.database_url,
        "Flood Plumbing",
        callbacks_per_call=2,
        callbacks_per_caller_per_day=3,
        callbacks_per_hour=5,  # lowered by the business: the service's own caps are higher
    )
    flooder, others = new_caller(), [new_caller() for _ in range(3)]
    for number in [flooder, *others]:
        for _ in range(8):  # more than any cap: a dial beyond the caps would be answered (and seen)
            stack.simulator.simulator.expect_outbound_call(number, CallScript(callee="no_answer"))
    scripted_llm(
        FakeReplyRule(contains="call me back", tool_call=take_message(repeat=9)),
        FakeReplyRule(contains="ring me back", tool_call=take_message()),
    )
    try:
        first = await place(
            stack,
            CallScript(
                from_number=flooder,
                to_number=business.phone_number,
                lines=["Please call me back", "Call me back, please!", "I said call me back", "And ring me back"],
            ),
        )
        results = tool_results(stack.database_url, first.call_control_id)
        assert sum(r.startswith("Message taken. A call-back is scheduled for today at") for r in results) == 2
        assert sum(r.startswith(ALREADY_TAKEN) for r in results) == 8  # the third of each turn's three, and more
        assert sum(r.startswith("Refused: at most 3 actions at a time") for r in results) == 18
        assert any(ALREADY_TAKEN in said for said in spoken(first)), spoken(first)
        # The call asked the database once more than its cap, then remembered the answer.
        assert await history_counts(stack, first) == (3, 2)
        await settled(stack, callbacks_of(stack.database_url, business_id))

        # The same number rings twice at once (fulfilling the two promises waiting for it): one more
        # call-back, for the day's cap of three.
        racing = await asyncio.gather(*(place(stack, ring_me_back(flooder, business)) for _ in range(2)))
        # Three other callers: the business's hourly cap of five leaves room for two of them.
        rest = [await place(stack, ring_me_back(number, business)) for number in others]

        promised = callbacks_of(stack.database_url, business_id)
        by_number = {number: [c for c in promised if c.caller_number == number] for number in [flooder, *others]}
        assert len(promised) == 5, [(c.caller_number, c.call_id) for c in promised]
        assert [len(by_number[n]) for n in [flooder, *others]] == [3, 1, 1, 0]
        started = [await history_counts(stack, call) for call in [first, *racing, *rest]]
        assert sum(children for _, children in started) == 5, "one CallbackWorkflow per promise, no more"

        heard = [" ".join(spoken(call)) for call in [*racing, *rest]]
        refused_too = ("we can't promise another call-back to this number today", ALREADY_TAKEN)
        assert sorted("A call-back is scheduled for" in words for words in heard[:2]) == [False, True], heard[:2]
        assert any(sentence in words for words in heard[:2] for sentence in refused_too), heard[:2]
        assert "can't promise any more call-backs just now" in heard[4], heard[4]
        calls = [first, *racing, *rest]
        refusals = refusals_of(stack.database_url, [call.call_control_id for call in calls])
        assert sorted(r.context["refusal"] for r in refusals) == [
            "business_hourly_limit",
            "call_limit",
            "caller_daily_limit",
        ]

        await settled(stack, promised)
        dials = {number: dials_to(stack, number) for number in [flooder, *others]}
        assert 2 <= len(dials[flooder]) <= 3, "each promise dials once (unless its caller rang first)"
        assert [len(dials[n]) for n in others] == [1, 1, 0]
        workflow_ids = {c.workflow_id for c in promised}
        for dial in [d for number_dials in dials.values() for d in number_dials]:
            assert dial.body["from"] == business.phone_number
            assert dial.command_id.rsplit("/", 1)[0] in workflow_ids and dial.command_id.endswith("/dial-1")
    finally:
        await end_callbacks(stack, callbacks_of(stack.database_url, business_id))


async def test_an_invalid_or_foreign_number_is_never_dialled(offline_stack):
    business_id, business = open_business(offline_stack.database_url, "Home Country Plumbing")
    fictional, jamaican = "+15555550177", "+18765550123"  # +1 both, but nowhere, and not the US
    calls = [
        await place(
            offline_stack,
            CallScript(
                from_number=number, to_number=business.phone_number, lines=["Please call me back about the tap"]
            ),
        )
        for number in (fictional, jamaican)
    ]
    said = [" ".join(spoken(call)) for call in calls]
    assert "we can't call you back on the number you're calling from" in said[0], said[0]
    assert "we can't call back a number in that country" in said[1], said[1]
    assert callbacks_of(offline_stack.database_url, business_id) == []
    assert [await history_counts(offline_stack, call) for call in calls] == [(1, 0), (1, 0)]
    refusals = refusals_of(offline_stack.database_url, [c.call_control_id for c in calls])
    assert sorted((r.context["caller_number"], r.context["refusal"]) for r in refusals) == [
        (fictional, "invalid_number"),
        (jamaican, "country_not_allowed"),
    ]

    # A promise made before numbers were checked is checked again where it is dialled.
    with Session(get_engine(offline_stack.database_url)) as session:
        old_promises = [
            Callback(
                business_id=business_id,
                caller_number=number,
                reason="an old promise",
                due_at=datetime.now(UTC),
                workflow_id=f"callback-old-promise-{number}-{random.randrange(10**9)}",
                idempotency_key=f"old-promise/{number}/{random.randrange(10**9)}",
            )
            for number in (fictional, jamaican)
        ]
        session.add_all(old_promises)
        session.commit()
        for promise in old_promises:
            session.refresh(promise)
    for promise in old_promises:
        handle = await offline_stack.temporal_client.start_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=promise.id,
                caller_number=promise.caller_number,
                from_number=business.phone_number,
                due_at=datetime.now(UTC) - timedelta(seconds=1),
            ),
            id=promise.workflow_id,
            task_queue=offline_stack.env["TEMPORAL_TASK_QUEUE"],
        )
        assert await handle.result() == "refused"
    kept = callbacks_of(offline_stack.database_url, business_id)
    assert [(c.status, c.attempts) for c in kept] == [("refused", 1), ("refused", 1)]
    assert dials_to(offline_stack, fictional) == [] and dials_to(offline_stack, jamaican) == []


async def test_a_web_visitor_is_called_back_only_on_a_number_they_gave_and_confirmed(stack, scripted_llm):
    business_id, _ = open_business(stack.database_url, "Web Plumbing")
    visitor = new_caller()
    stack.simulator.simulator.expect_outbound_call(visitor, CallScript(callee="no_answer"))
    scripted_llm(
        FakeReplyRule(contains="call me back", tool_call=take_message()),
        FakeReplyRule(contains="old number", tool_call=take_message(callback_number="12", number_confirmed=True)),
        FakeReplyRule(contains="yes, 12", tool_call=take_message(callback_number="12", number_confirmed=True)),
        FakeReplyRule(contains="my number is", tool_call=take_message(callback_number=visitor, number_confirmed=True)),
        FakeReplyRule(contains="that's right", tool_call=take_message(callback_number=visitor, number_confirmed=True)),
    )
    promised: list[Callback] = []
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
            call = (await api.post("/api/web-calls", json={"business_id": business_id})).json()

            async def say(words: str) -> str:
                response = await api.post(
                    f"/api/web-calls/{call['call_id']}/turns",
                    json={"text": words, "conversation_token": call["conversation_token"]},
                )
                assert response.status_code == 200, response.text
                return response.json()["reply"]

            no_number = await say("Can you call me back?")
            invalid_read_back = await say("My old number is 12")
            invalid = await say("Yes, 12 is right")
            read_back = await say(f"My number is {visitor}")
            scheduled = await say("Yes, that's right")
            await api.post(
                f"/api/web-calls/{call['call_id']}/hangup", json={"conversation_token": call["conversation_token"]}
            )

        assert "What number should we call you on, with its country code?" in no_number
        assert "Not yet scheduled. Read the number back to the visitor: 12." in invalid_read_back
        assert "that isn't a phone number we can call back" in invalid
        assert f"Not yet scheduled. Read the number back to the visitor: {visitor}." in read_back, read_back
        assert "Message taken. A call-back is scheduled for today at" in scheduled
        promised = callbacks_of(stack.database_url, business_id)
        assert [(c.call_id, c.caller_number) for c in promised] == [(call["call_id"], visitor)]
        [refusal] = refusals_of(stack.database_url, [call["call_id"]])
        assert (refusal.context["caller_number"], refusal.context["refusal"]) == ("12", "invalid_number")
        await settled(stack, promised)
        assert len(dials_to(stack, visitor)) == 1
    finally:
        await end_callbacks(stack, promised or callbacks_of(stack.database_url, business_id))
