"""Turn-taking through the real path: a listener's "mm-hmm", a "yeah" that answers, and the keypad."""

from __future__ import annotations

import pytest

from receptionist.turn_taking import asks_yes_or_no, is_backchannel, keypad_words
from simulator.call_script import CallerLine, CallScript
from simulator.fake_openai.behaviour import FakeReplyRule
from tests.businesses import open_every_day, store_business
from tests.test_phone_call import fake_reply, finished_workflow, place, spoken

BUSINESS_NUMBER = "+15555550113"
# Long enough to be murmured over on a busy machine: a slow talker (see speech_seconds_per_char).
SLOW = 0.02
LONG_ANSWER = "Whitening brightens your teeth by several shades. It takes about an hour in the chair."


@pytest.mark.parametrize("said", ["Mm-hmm.", "mm hmm", "Okay.", "Yeah, okay.", "Uh-huh", "Right.", "I see."])
def test_a_listeners_murmur_is_a_backchannel(said: str) -> None:
    assert is_backchannel(said)


@pytest.mark.parametrize("said", ["Okay so I need a cleaning", "Yes please book it", "Wait", "Stop", "Hello?"])
def test_real_words_are_not(said: str) -> None:
    assert not is_backchannel(said)


def test_only_a_question_a_yes_answers_holds_a_murmur_for_an_answer() -> None:
    assert asks_yes_or_no("It takes an hour. Would you like me to book it?")
    assert asks_yes_or_no("Is there anything else I can help with?")
    assert not asks_yes_or_no("Thank you for calling. How can I help you today?")
    assert not asks_yes_or_no("We're open from nine to five.")


def test_keys_one_and_two_say_yes_and_no() -> None:
    assert keypad_words("1").startswith("Yes")
    assert keypad_words("2").startswith("No")
    assert keypad_words("5") == "(the caller pressed 5 on the keypad)"


@pytest.fixture
def whitening_rules(stack):
    fake = stack.fake_llm.fake
    store_business(stack.database_url, open_every_day(BUSINESS_NUMBER))
    fake.set_behaviour(
        fake.behaviour.model_copy(
            update={
                "rules": [
                    FakeReplyRule(contains="book", reply=f"{LONG_ANSWER} Would you like me to book it?"),
                    FakeReplyRule(contains="whitening", reply=LONG_ANSWER),
                ]
            }
        )
    )
    fake.clear_requests()
    yield fake
    fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))


def caller_messages(fake) -> list[str]:
    return [m["content"] for r in fake.requests if r.messages for m in r.messages if m["role"] == "user"]


async def test_a_murmur_during_speech_neither_stops_the_agent_nor_gets_an_answer(stack, whitening_rules):
    script = CallScript(
        to_number=BUSINESS_NUMBER,
        lines=[
            CallerLine(text="Tell me about whitening"),
            CallerLine(text="Mm-hmm.", barge_in=True, barge_in_after_seconds=0.1),
            CallerLine(text="What are your hours?"),
        ],
        speech_seconds_per_char=SLOW,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    assert "stop_playback" not in [c.action for c in call.commands]
    assert not any(line.interrupted for line in call.conversation if line.speaker == "agent")
    assert spoken(call)[-2:] == fake_reply("What are your hours?")
    assert LONG_ANSWER.split(". ")[-1] in spoken(call), "the answer was heard to its end"
    assert not any("Mm-hmm" in said for said in caller_messages(whitening_rules)), "nothing answered the murmur"


async def test_a_yeah_said_over_a_yes_or_no_question_is_answered_when_the_agent_has_finished(stack, whitening_rules):
    script = CallScript(
        to_number=BUSINESS_NUMBER,
        lines=[
            CallerLine(text="Can I book whitening"),
            CallerLine(text="Yeah.", barge_in=True, barge_in_after_seconds=0.1),
        ],
        speech_seconds_per_char=SLOW,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    assert "stop_playback" not in [c.action for c in call.commands]
    assert "Would you like me to book it?" in spoken(call), "the question was heard to its end"
    assert caller_messages(whitening_rules)[-1] == "Yeah."
    assert spoken(call)[-2:] == fake_reply("Yeah.")


async def test_a_key_pressed_during_speech_stops_the_agent_and_2_says_no(stack, whitening_rules):
    script = CallScript(
        to_number=BUSINESS_NUMBER,
        lines=[
            CallerLine(text="Tell me about whitening"),
            CallerLine(dtmf="2", barge_in=True, barge_in_after_seconds=0.1),
        ],
        speech_seconds_per_char=SLOW,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    assert "stop_playback" in [c.action for c in call.commands if not c.duplicate]
    assert any(line.interrupted for line in call.conversation if line.speaker == "agent")
    assert caller_messages(whitening_rules)[-1] == "No (pressed 2 on the keypad)"


async def test_zero_on_the_keypad_reaches_a_person_without_asking_the_brain(stack, whitening_rules):
    script = CallScript(
        to_number=BUSINESS_NUMBER,
        lines=[CallerLine(dtmf="0")],
        on_call_answers={"+15555550199": "answer"},
        hang_up_at_end=False,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    assert "Of course. I'm connecting you with a person now." in spoken(call)
    assert [(t.to, t.outcome) for t in call.transfers] == [("+15555550199", "answered")]
    assert caller_messages(whitening_rules) == [], "no LLM request for a key press that means a person"


async def test_a_protected_greeting_is_heard_whole_and_what_was_said_over_it_answered_after(stack, whitening_rules):
    store_business(stack.database_url, open_every_day("+15555550114", protect_greeting=True))
    script = CallScript(
        to_number="+15555550114",
        lines=[CallerLine(text="What are your hours?", barge_in=True, barge_in_after_seconds=0.1)],
        speech_seconds_per_char=SLOW,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    assert "stop_playback" not in [c.action for c in call.commands]
    greeting = next(line for line in call.conversation if line.speaker == "agent")
    assert greeting.text.startswith("Thank you for calling") and not greeting.interrupted
    assert spoken(call)[-2:] == fake_reply("What are your hours?")


async def test_a_reply_cut_off_stays_in_the_history_as_far_as_it_was_heard(stack, whitening_rules):
    facts = [f"Here is fact number {n} about our practice." for n in range(1, 16)]
    fake = whitening_rules
    fake.set_behaviour(
        fake.behaviour.model_copy(update={"rules": [FakeReplyRule(contains="everything", reply=" ".join(facts))]})
    )
    script = CallScript(
        to_number=BUSINESS_NUMBER,
        lines=[
            CallerLine(text="Tell me everything"),
            CallerLine(text="Sorry, just the price of a cleaning", barge_in=True, barge_in_after_seconds=0.05),
        ],
        speech_seconds_per_char=SLOW,
    )
    call = await place(stack, script, timeout=90)
    await finished_workflow(stack, call)

    heard = [line.text for line in call.conversation if line.speaker == "agent" and line.text in facts]
    assert heard and len(heard) < len(facts), "the caller heard the first facts only"
    [answer_to_the_interruption] = [r for r in fake.requests if r.messages and "Sorry" in r.messages[-1]["content"]]
    told = [m["content"] for m in answer_to_the_interruption.messages if m["role"] == "assistant"][-1]
    assert told == " ".join(heard), "the LLM is told what the caller heard, not all that was sent"
