"""Warm transfers through the real stack: the on-call person is dialled on a leg of their own, briefed,
and bridged to the caller only once they press 1; a voicemail box, a person who presses nothing and a
caller who gives up on hold each end the way the ladder says.

What each side heard comes from the simulator's record of the two legs, what was sent from its
record of commands and texts, and what was kept from the escalation's row.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Callback, Escalation
from receptionist.briefings import HOLD_WORDS
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.test_phone_call import finished_workflow

pytestmark = pytest.mark.database

BUSINESS_LINE = "+15555550111"
FIRST_ON_CALL = "+15555550199"
SECOND_ON_CALL = "+15555550198"
OWNER = "+15555550190"


@pytest.fixture(scope="module", autouse=True)
def business(database_url: str) -> None:
    store_business(database_url, open_every_day(BUSINESS_LINE))


async def place(stack, script: CallScript, timeout: float = 120):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, timeout)
    await finished_workflow(stack, call)
    return call


async def on_call_legs(stack, call) -> list:
    """The legs our app dialled linked to the call, in order, once each has ended."""
    legs = [c for c in list(stack.simulator.simulator.calls.values()) if c.linked_to == call.call_control_id]
    for leg in legs:
        await stack.simulator.wait_ended(leg, 30)
    return legs


def heard(call) -> list[str]:
    """What the person on a leg heard played, in order."""
    return [line.text for line in call.conversation if line.speaker == "agent"]


def keyed(call) -> list[str]:
    return [line.text for line in call.conversation if line.speaker == "caller"]


def escalation_of(stack, call) -> Escalation:
    with Session(get_engine(stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
    return escalation


def commands(call, action: str) -> list:
    return [c for c in call.commands if c.action == action and not c.duplicate and c.status_code == 200]


def texts_to(stack, number: str) -> list[str]:
    return [m.text for m in stack.simulator.simulator.messages if m.to_number == number]


async def test_a_person_who_presses_1_is_briefed_then_bridged_to_the_caller(offline_stack):
    caller = "+15555550231"
    script = CallScript(from_number=caller, to_number=BUSINESS_LINE, lines=["My tooth was knocked out, it's bleeding"])
    call = await place(offline_stack, script)

    [leg] = await on_call_legs(offline_stack, call)
    briefing = (
        f"Emergency call from {caller} at Skills Test Dental. "
        'They said: "My tooth was knocked out, it\'s bleeding." Press 1 to take the call.'
    )
    assert leg.to_number == FIRST_ON_CALL and leg.from_number == BUSINESS_LINE
    assert heard(leg) == [briefing] and keyed(leg) == ["[DTMF 1]"]
    [dial] = [
        c
        for c in offline_stack.simulator.simulator.commands
        if c.call_control_id == leg.call_control_id and c.action == "dial"
    ]
    assert dial.body["answering_machine_detection"] == "detect" and dial.body["link_to"] == call.call_control_id
    [bridge] = commands(call, "bridge")
    assert bridge.body["call_control_id"] == leg.call_control_id
    assert commands(call, "transfer") == [], "no cold transfer"
    assert [(t.to, t.outcome, t.bridged) for t in call.transfers] == [(FIRST_ON_CALL, "answered", True)]
    assert leg.call_session_id == call.call_session_id
    assert "Please hold while I connect you." in heard(call)
    assert [t for t in texts_to(offline_stack, FIRST_ON_CALL) if caller in t] == [
        f"Emergency call from {caller} at Skills Test Dental. "
        'They said: "My tooth was knocked out, it\'s bleeding." We are calling you now: answer and press 1 to take it.'
    ]

    escalation = escalation_of(offline_stack, call)
    assert escalation.status == "connected"
    [attempt] = escalation.attempts
    assert (attempt["number"], attempt["outcome"]) == (FIRST_ON_CALL, "answered")
    assert [s["step"] for s in attempt["steps"]] == [
        "texted", "dialled", "answered", "human", "briefed", "key_pressed", "bridged"
    ]  # fmt: skip


async def test_a_voicemail_box_is_hung_up_on_and_the_next_number_takes_the_call(offline_stack):
    script = CallScript(
        from_number="+15555550232",
        to_number=BUSINESS_LINE,
        lines=["This is an emergency, I have severe pain"],
        on_call_answers={FIRST_ON_CALL: "voicemail"},
    )
    call = await place(offline_stack, script)

    voicemail, person = await on_call_legs(offline_stack, call)
    assert (voicemail.to_number, person.to_number) == (FIRST_ON_CALL, SECOND_ON_CALL)
    assert heard(voicemail) == [], "the voicemail box recorded nothing: no briefing, never bridged"
    assert [c.action for c in voicemail.commands if c.status_code == 200 and not c.duplicate] == ["dial", "hangup"]
    assert keyed(person) == ["[DTMF 1]"]
    [bridge] = commands(call, "bridge")
    assert bridge.body["call_control_id"] == person.call_control_id
    assert [(t.to, t.bridged) for t in call.transfers] == [(FIRST_ON_CALL, False), (SECOND_ON_CALL, True)]

    escalation = escalation_of(offline_stack, call)
    assert escalation.status == "connected"
    assert [(a["number"], a["outcome"]) for a in escalation.attempts] == [
        (FIRST_ON_CALL, "voicemail"),
        (SECOND_ON_CALL, "answered"),
    ]
    assert [s["step"] for s in escalation.attempts[0]["steps"]] == [
        "texted",
        "dialled",
        "answered",
        "machine",
        "hung_up",
    ]


async def test_nobody_pressing_1_leaves_the_caller_held_then_the_ladder_goes_on(offline_stack):
    script = CallScript(
        from_number="+12015550233",  # a number a call-back may dial
        to_number=BUSINESS_LINE,
        lines=["I have severe pain, it's an emergency", "A tooth was knocked out playing football"],
        on_call_answers={FIRST_ON_CALL: "no_key_press", SECOND_ON_CALL: "no_key_press"},
        max_call_seconds=120,
    )
    call = await place(offline_stack, script)

    first, second = await on_call_legs(offline_stack, call)
    for leg in (first, second):
        assert len(heard(leg)) == 1 and heard(leg)[0].endswith("Press 1 to take the call.")
        assert keyed(leg) == []
        assert len(commands(leg, "hangup")) == 1, "our app hung up on the person who pressed nothing"
    assert commands(call, "bridge") == []
    said = heard(call)
    assert HOLD_WORDS in said, "the caller heard they were still held, not silence"
    assert said.index(HOLD_WORDS) < said.index(next(s for s in said if "nobody could take your call" in s))
    assert "We'll call you back in a few minutes. Goodbye!" in " ".join(said)

    escalation = escalation_of(offline_stack, call)
    assert escalation.status == "nobody_answered"
    assert [a["outcome"] for a in escalation.attempts] == ["no_key_press", "no_key_press"]
    assert [s["step"] for s in escalation.attempts[0]["steps"]] == [
        "texted", "dialled", "answered", "human", "briefed", "hung_up"
    ]  # fmt: skip
    with Session(get_engine(offline_stack.database_url)) as session:
        [callback] = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
    assert callback.urgent and "knocked out" in (callback.message or "")
    assert len([t for t in texts_to(offline_stack, OWNER) if "+12015550233" in t]) == 1
    await offline_stack.temporal_client.get_workflow_handle(callback.workflow_id).terminate("test over")


async def test_a_caller_who_hangs_up_on_hold_ends_the_escalation_and_the_on_call_leg(offline_stack):
    script = CallScript(
        from_number="+15555550234",
        to_number=BUSINESS_LINE,
        lines=["This is an emergency, my gum is bleeding"],
        on_call_answers={FIRST_ON_CALL: "no_key_press"},
        hold_patience_seconds=1.0,
    )
    call = await place(offline_stack, script)

    [leg] = await on_call_legs(offline_stack, call)
    assert call.hangup_source == "caller"
    assert len(commands(leg, "hangup")) == 1, "our app hung up the on-call leg the caller left behind"
    assert keyed(leg) == [] and commands(call, "bridge") == []

    escalation = escalation_of(offline_stack, call)
    assert escalation.status == "caller_hung_up"
    assert [(a["number"], a["outcome"]) for a in escalation.attempts] == [(FIRST_ON_CALL, "caller_hung_up")]
    with Session(get_engine(offline_stack.database_url)) as session:
        assert session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all() == []
