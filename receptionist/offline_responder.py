"""A receptionist that needs no network: it answers from the business configuration alone.

It is the brain when no OpenAI key is set, and the fallback when the LLM fails a turn. It
speaks the same protocol as the LLM (words, plus tool calls the workflow executes), so a
booking made offline goes through the same validated activity.

Each caller sentence is read as an intent with slots (receptionist/intents.py); the slots
carry across turns in a `ConversationState` that the call workflow keeps, with the question
last asked, so "yes please" answers "Would you like to book?" with the service, day and time
named sentences before. It answers in the call's language (English, or Spanish for "es",
"es-US", ...), dates and times as a native speaker says them.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from pydantic import BaseModel

from business.booking_rules import parse_local_start
from business.config import BusinessConfig, Service
from business.opening_hours import (
    is_open,
    local_time,
    next_opening,
    opening_on,
    spoken_clock,
    spoken_hours,
    spoken_moment,
)
from domain.vocabulary import Speaker, Utterance
from receptionist import offline_phrases as phrases
from receptionist import spoken_spanish
from receptionist.booking_proof import APPOINTMENT_IS, BookingAction, digits_of
from receptionist.caller_memory import ReturningCaller
from receptionist.caller_words import day_in, name_in, with_spanish_digits
from receptionist.conversation_state import (
    Asked,
    ConversationState,
    asked_in,
    bare_name,
    caught_up,
)
from receptionist.intents import SERVICE_WORDS_ES, Intent, Understanding, understand
from receptionist.offline_phrases import ANYTHING_ELSE, BOOKED, READBACK_QUESTION, say, spanish
from receptionist.owed_callbacks import says_not_sorted, says_sorted
from receptionist.tools import ToolCall, ToolRound

__all__ = ["READBACK_QUESTION", "BrainReply", "offline_reply"]

# The questions a caller may ask in the middle of a booking, answered without losing it.
SIDE_QUESTIONS = frozenset({Intent.HOURS, Intent.PRICES, Intent.ADDRESS, Intent.SERVICES})


class BrainReply(BaseModel):
    text: str
    tool_calls: list[ToolCall] = []
    # What the responder knows after this reply; None from the LLM, which keeps its own context.
    state: ConversationState | None = None

    @property
    def understood(self) -> bool:
        return self.state is None or self.state.not_understood == 0


def _call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=f"offline-{name}", name=name, arguments=json.dumps(arguments))


def offline_reply(
    config: BusinessConfig,
    history: list[Utterance],
    caller_text: str,
    rounds: list[ToolRound],
    now: datetime,
    *,
    language: str = "en",
    state: ConversationState | None = None,
    returning: ReturningCaller | None = None,
) -> BrainReply:
    """The reply to `caller_text`, and the state after it; `rounds` are this turn's tool rounds so far;
    `returning`, what the business remembers of the caller (caller_memory.py)."""
    today = local_time(config, now).date()
    turn_read = len(history) + 2  # the transcript once this turn's caller and agent lines are in it
    if not (rounds and state is not None and state.heard == turn_read):
        state = caught_up(state, config, history, today, language)
        heard = understand(config, caller_text, today)
        state = state.heard_caller(heard, caller_text)
        if rounds:  # a state lost in between: what round 0 said is read back in
            for tool_round in rounds[:-1]:
                state = state.heard_agent(tool_round.said)
    if rounds:
        text = _after_tools(config, rounds[-1], now, language)
        return BrainReply(text=text, state=state.heard_agent(text).model_copy(update={"heard": turn_read}))
    reply = _Turn(config, history, caller_text, now, language, state, heard, returning).reply()
    # Not understood: the fallback, or the same question asked again for an answer that was no answer.
    understood = reply.text != say(language, "not_understood") and not (
        heard.intent == Intent.UNKNOWN and state.asked is not None and asked_in(reply.text) == state.asked
    )
    after = state.heard_agent(reply.text).model_copy(
        update={"heard": turn_read, "not_understood": 0 if understood else state.not_understood + 1}
    )
    return reply.model_copy(update={"state": after})


class _Turn:
    """One caller sentence answered: `reply` routes by intent, in the light of the question asked."""

    def __init__(
        self,
        config: BusinessConfig,
        history: list[Utterance],
        caller_text: str,
        now: datetime,
        language: str,
        state: ConversationState,
        heard: Understanding,
        returning: ReturningCaller | None = None,
    ) -> None:
        self.config, self.history, self.caller_text, self.now = config, history, caller_text, now
        self.language, self.state, self.heard = language, state, heard
        self.today = local_time(config, now).date()
        self.returning = returning

    @property
    def name(self) -> str | None:
        """The name to book under: the one said in this call, else the one the business remembers."""
        return self.state.name or (self.returning.name if self.returning else None)

    def remembered_appointment(self, errand: _Errand, key: str) -> dict[str, str]:
        """`{key: start}` of the caller's next appointment as remembered, which "cancel it" or "move it"
        means when the caller names no other day and nothing was booked, moved or cancelled in this call
        yet (the memory is of the call's start). Naming it is no proof: the book still asks for one."""
        start = self.returning.upcoming_start if self.returning else None
        if start is None:
            return {}
        # A day said to cancel names the appointment (a day said to move is where it goes), and so does
        # the day given to prove it: another day than the remembered one's is another appointment.
        named = [errand.day, self.heard.day if key == "start" else None]
        if any(day is not None and day.isoformat() != start[:10] for day in named):
            return {}
        if len(_since_last_booking(self.history)) != len(self.history):
            return {}
        return {key: start}

    def say(self, key: str, **values: object) -> str:
        return say(self.language, key, **values)

    def reply(self) -> BrainReply:
        heard, state, asked = self.heard, self.state, self.state.asked
        intent = heard.intent
        if intent == Intent.EMERGENCY:
            return BrainReply(
                text=self.say("emergency"),
                tool_calls=[_call("escalate_to_human", reason=f"emergency: {heard.emergency}", emergency=True)],
            )
        if intent == Intent.PERSON:
            return BrainReply(
                text=self.say("person"),
                tool_calls=[_call("escalate_to_human", reason="the caller asked for a person")],
            )
        if asked == Asked.OWED_CALLBACK:  # the workflow hears the answer too, and acts on it
            if says_sorted(self.caller_text):
                return BrainReply(text=self.say("sorted"))
            if says_not_sorted(self.caller_text):
                return BrainReply(text=self.say("not_sorted"))
        if asked in (Asked.UPCOMING, Asked.UPCOMING_ERRAND) and not heard.has_slots():
            # About the appointment the business remembers: "yes" asks what to do with it; "no", what else.
            if intent == Intent.YES:
                return BrainReply(text=self.say("upcoming_errand"))
            if intent == Intent.NO:
                return BrainReply(text=self.say("upcoming_not" if asked == Asked.UPCOMING else "no_problem"))
        if errand := _errand_turn(self):  # "cancel my appointment" is not a booking
            return errand
        if intent == Intent.GOODBYE or (intent == Intent.NO and asked == Asked.ANYTHING_ELSE):
            return BrainReply(text=self.say("goodbye", business=self.config.name), tool_calls=[_call("end_call")])
        if asked == Asked.MESSAGE and intent not in SIDE_QUESTIONS:
            return self.message()
        offers = (Asked.BOOK_OFFER, Asked.VISIT_OFFER, Asked.MESSAGE_OFFER)
        if asked in offers and intent == Intent.NO and not heard.has_slots():  # "no, Friday" changes the offer
            return BrainReply(text=self.say("no_problem"))
        if asked == Asked.MESSAGE_OFFER and intent == Intent.YES:
            return BrainReply(text=self.say("message_ask"))
        if asked == Asked.ANYTHING_ELSE and intent == Intent.YES:
            return BrainReply(text=self.say("what_else"))
        answers_a_question = intent != Intent.UNKNOWN or asked is not None  # "Jane Doe" answers one
        if state.booking and intent not in SIDE_QUESTIONS | {Intent.MESSAGE, Intent.GREETING} and answers_a_question:
            return _booking_turn(self)
        if intent == Intent.MESSAGE:
            return self.message()
        if intent == Intent.PRICES or (intent == Intent.INFORM and heard.service and not state.booking):
            named = [s for s in self.config.services if s.name == heard.service]
            return BrainReply(text=self.prices(named))
        if intent == Intent.HOURS:
            return BrainReply(text=self.hours())
        if intent == Intent.ADDRESS:
            address = self.config.address
            return BrainReply(text=self.say("address", address=address) if address else self.say("address_unknown"))
        if intent == Intent.SERVICES:
            return BrainReply(text=self.prices([]))
        if intent == Intent.GREETING:
            return BrainReply(text=self.say("greeting"))
        if intent == Intent.YES and asked is None:
            return BrainReply(text=self.say("greeting"))  # "yes?" on picking up: how can I help
        return BrainReply(text=self.say("not_understood"))

    def message(self) -> BrainReply:
        short = self.heard.intent == Intent.MESSAGE and len(self.caller_text.split()) <= 4
        if short and self.state.asked is None and re.search(r"\b(leave|take|dejar|tomar)\b", self.caller_text, re.I):
            return BrainReply(text=self.say("message_ask"))  # "Can I leave a message?": the message comes next
        return BrainReply(
            text=self.say("message_taken"),
            tool_calls=[
                _call("take_message", message=self.caller_text, reason=_topic(self.caller_text), callback_wanted=True)
            ],
        )

    def prices(self, named: list[Service]) -> str:
        services = named or self.config.services
        if not services:
            return self.say("services_unknown")
        described = [
            self.say("service_line", service=self.service_name(s), minutes=s.duration_minutes)
            + (self.say("service_price", price=s.price) if s.price else "")
            for s in services
        ]
        sentence = "; ".join(described)
        return self.say("prices", services=f"{sentence[0].upper()}{sentence[1:]}")

    def service_name(self, service: Service) -> str:
        return _service_name(service, self.language)

    def hours(self) -> str:
        config, now = self.config, self.now
        if not config.hours:
            return self.say("hours_unknown")
        opening = opening_on(config, local_time(config, now))
        es = spanish(self.language)
        if is_open(config, now) and opening:
            closes = spoken_spanish.clock(opening.closes) if es else spoken_clock(opening.closes)
            today = self.say("open_now", closes=closes)
        elif reopening := next_opening(config, now):
            when = spoken_spanish.moment(config, reopening, now) if es else spoken_moment(config, reopening, now)
            today = self.say("closed_until", when=when)
        else:
            today = self.say("closed")
        return self.say("hours", today=today, hours=spoken_spanish.hours(config) if es else spoken_hours(config))

    def moment(self, start: datetime) -> str:
        if spanish(self.language):
            return spoken_spanish.moment(self.config, start, self.now)
        return spoken_moment(self.config, start, self.now)


# Services a business lists in English, as a Spanish caller hears them.
SPANISH_SERVICE_NAMES = {english: spanish for spanish, english in SERVICE_WORDS_ES.items()} | {
    "checkup": "revisión",
    "inspection": "inspección",
    "repair": "reparación",
}


def _service_name(service: Service, language: str) -> str:
    named = service.name.lower()
    return SPANISH_SERVICE_NAMES.get(named, named) if spanish(language) else named


# --- booking over several turns ----------------------------------------------------------------


def _booking_turn(turn: _Turn) -> BrainReply:
    """The next step of a booking (or a move, or a technician's visit) from the slots collected so far."""
    state, heard, config = turn.state, turn.heard, turn.config
    asked = state.asked
    errand = _read_errand(turn)
    service = next((s for s in config.services if s.name == state.service), None)
    moving = state.task == Intent.MOVE
    said_yes = heard.intent == Intent.YES or (heard.intent == Intent.VISIT and asked == Asked.READBACK)
    if moving and state.day and state.clock and errand.code and asked == Asked.CODE:
        # The name and day did not do; the code the caller reads out moves what they already confirmed.
        which = turn.remembered_appointment(errand, "current_start")
        move = _call("move_appointment", new_start=_start(state), code=errand.code, **which)
        return BrainReply(text=turn.say("one_moment"), tool_calls=[move])
    if asked == Asked.READBACK:
        if said_yes and (service or moving) and state.day and state.clock:
            if moving:
                which = turn.remembered_appointment(errand, "current_start")
                move = _call("move_appointment", new_start=_start(state), **which, **errand.proof_arguments())
                return BrainReply(text=turn.say("one_moment"), tool_calls=[move])
            assert service is not None
            book = _call("book_appointment", service=service.name, start=_start(state), caller_name=turn.name or "")
            return BrainReply(text=turn.say("one_moment"), tool_calls=[book])
        if heard.intent == Intent.NO and not heard.has_slots():
            return BrainReply(text=turn.say("change"))
    if moving and (question := errand.next_question(turn.language)):
        return BrainReply(text=question)
    if service is None and not moving:
        if not config.services:
            # Nothing to book a visit against: the team calls back to arrange it.
            message = _call("take_message", message=turn.caller_text, reason="a visit", callback_wanted=True)
            return BrainReply(text=turn.say("visit_as_message", anything_else=ANYTHING_ELSE), tool_calls=[message])
        names = ", ".join(turn.service_name(s) for s in config.services)
        key = "which_visit" if state.task == Intent.VISIT else "which_service"
        return BrainReply(text=turn.say(key, services=names))
    if state.day is None:
        return BrainReply(text=turn.say("which_day"))
    if state.clock is None:
        if service is None:
            return BrainReply(text=turn.say("which_time"))
        return BrainReply(
            text=turn.say("check"),
            tool_calls=[_call("check_availability", service=service.name, day=state.day.isoformat())],
        )
    if turn.name is None and not moving:
        return BrainReply(text=turn.say("name"))
    try:
        when = turn.moment(parse_local_start(config, _start(state)))
    except ValueError as error:
        return BrainReply(text=turn.say("bad_time", error=error))
    if service is not None and not moving:
        return BrainReply(
            text=turn.say("readback_booking", service=turn.service_name(service), when=when, name=turn.name)
        )
    return BrainReply(text=turn.say("readback_move", when=when))


def _start(state: ConversationState) -> str:
    assert state.day and state.clock
    return f"{state.day.isoformat()}T{state.clock[0]:02d}:{state.clock[1]:02d}"


def _topic(caller_text: str) -> str:
    """'... call me back about my loose crown.' -> 'your loose crown', for 'returning your call about ...'."""
    match = re.search(r"\babout\s+(.+?)(?:[.!?]|$)", caller_text, re.IGNORECASE)
    if not match:
        return ""
    topic = match[1].strip()
    return re.sub(r"^(my|our)\b", "your", topic, flags=re.IGNORECASE)


def _since_last_booking(history: list[Utterance]) -> list[Utterance]:
    """The conversation since the last booking, move, cancellation or look-up was done."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].speaker == Speaker.AGENT and any(
            done in history[index].text for done in phrases.DONE_MARKERS
        ):
            return history[index + 1 :]
    return history


# --- an appointment found by caller ID: the name and day, or a texted code, first ----------------


class _Errand(BaseModel):
    """What the caller wants done with a booking they have, and what they said to show it is theirs."""

    action: BookingAction | None = None
    name: str | None = None
    day: date | None = None
    code: str | None = None

    def next_question(self, language: str) -> str | None:
        if self.code:
            return None
        es = spanish(language)
        if self.name is None:
            return phrases.QUESTIONS["proof_name"][1 if es else 0]
        if self.day is None:
            return phrases.QUESTIONS["proof_day"][1 if es else 0]
        return None

    def proof_arguments(self) -> dict[str, str]:
        if self.code:
            return {"code": self.code}
        if self.name and self.day:
            return {"caller_name": self.name, "day": self.day.isoformat()}
        return {}


ERRANDS = {Intent.CANCEL: BookingAction.CANCEL, Intent.MOVE: BookingAction.MOVE, Intent.LOOK_UP: BookingAction.HEAR}


def _read_errand(turn: _Turn) -> _Errand:
    """The errand on a booking the caller has, read from the conversation since the last one was done."""
    errand = _Errand()
    asked: Asked | None = None
    lines = [*_since_last_booking(turn.history), Utterance(speaker=Speaker.CALLER, text=turn.caller_text)]
    for utterance in lines:
        if utterance.speaker == Speaker.AGENT:
            asked = asked_in(utterance.text)
            continue
        line = utterance.text
        if asked == Asked.PROOF_NAME:
            errand.name = name_in(line) or bare_name(line) or errand.name
        elif asked == Asked.PROOF_DAY:
            errand.day = day_in(line, turn.today) or errand.day
        elif asked == Asked.CODE and len(digits := digits_of(with_spanish_digits(line))) >= 4:
            errand.code = digits
        elif action := ERRANDS.get(understand(turn.config, line, turn.today).intent):
            errand.action = action
        asked = None
    return errand


def _errand_turn(turn: _Turn) -> BrainReply | None:
    """Hearing or cancelling a booking the caller has; a move goes on in the booking flow, whose time it needs.

    Nothing is said before these tools: what the caller hears next is the book's answer (what it
    needs, or what it did), and a caller told "a code is on its way" is told once it is."""
    errand = _read_errand(turn)
    if errand.action is None:
        return None
    asked, intent = turn.state.asked, turn.heard.intent
    if asked == Asked.SEND_CODE:
        if intent == Intent.YES:
            return BrainReply(text="", tool_calls=[_call("text_booking_code")])
        return BrainReply(text=turn.say("no_problem")) if intent == Intent.NO else None
    if errand.action == BookingAction.MOVE:
        return None
    tool = "cancel_appointment" if errand.action == BookingAction.CANCEL else "look_up_appointment"
    # "Cancel it": the appointment the business remembers, when the caller names none.
    which = turn.remembered_appointment(errand, "start") if errand.action == BookingAction.CANCEL else {}
    if errand.code and asked == Asked.CODE:
        return BrainReply(text="", tool_calls=[_call(tool, code=errand.code, **which)])
    if asked in (Asked.PROOF_NAME, Asked.PROOF_DAY):
        if question := errand.next_question(turn.language):
            last_agent = next((u.text for u in reversed(turn.history) if u.speaker == Speaker.AGENT), "")
            return BrainReply(text=turn.say("again", question=question) if question in last_agent else question)
        return BrainReply(text="", tool_calls=[_call(tool, **errand.proof_arguments(), **which)])
    if intent in (Intent.CANCEL, Intent.LOOK_UP):
        # The book answers with what it needs: nothing for a booking of this very call or conversation,
        # else the name and day, or a texted code.
        return BrainReply(text="", tool_calls=[_call(tool, **which)])
    return None


# --- answers after tools -------------------------------------------------------------------------

ISO_MOMENT = re.compile(r"\s*\((\d{4}-\d\d-\d\dT\d\d:\d\d)\)")


def _after_tools(config: BusinessConfig, last: ToolRound, now: datetime, language: str) -> str:
    if spanish(language):
        return _after_tools_in_spanish(config, last, now)
    spoken = [ISO_MOMENT.sub("", result) for result in last.results]
    names = [call.name for call in last.calls]
    if spoken and spoken[-1].startswith(("Booked", "Moved", "Cancelled")):
        return f"{BOOKED} {spoken[-1]} {ANYTHING_ELSE}"
    if spoken and spoken[-1].startswith(APPOINTMENT_IS):
        return f"{spoken[-1]} {ANYTHING_ELSE}"
    if ("book_appointment" in names or "move_appointment" in names) and "free times" in " ".join(spoken):
        return f"{' '.join(spoken)} Which would suit you?"
    if "check_availability" in names:
        return f"{' '.join(spoken)} Which would you like?"
    return " ".join(spoken) or say(language, "done")


def _after_tools_in_spanish(config: BusinessConfig, last: ToolRound, now: datetime) -> str:
    """The book answers in English sentences with ISO times; a Spanish caller hears them said anew."""
    result = last.results[-1] if last.results else ""
    call = last.calls[-1] if last.calls else None
    arguments = call.parsed_arguments() if call else {}

    def when(iso: str) -> str:
        return spoken_spanish.moment(config, parse_local_start(config, iso), now)

    if result.startswith("Booked") and call and "start" in arguments:
        service = next((s for s in config.services if s.name == arguments.get("service")), None)
        named = _service_name(service, "es") if service else ""
        return say("es", "booked", service=named, when=when(arguments["start"]))
    if result.startswith("Moved") and call and "new_start" in arguments:
        return say("es", "moved", when=when(arguments["new_start"]))
    if result.startswith("Cancelled"):
        return say("es", "cancelled")
    if result.startswith(APPOINTMENT_IS) and (found := re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", result)):
        return say("es", "appointment_is", when=when(found[0]))
    for english, spanish_words in phrases.SPANISH_RESULTS.items():
        if english in result:
            before = [s for e, s in phrases.SPANISH_RESULTS.items() if e != english and e in result]
            return " ".join([*before, spanish_words])
    if times := ISO_MOMENT.findall(result):
        key = "available" if call and call.name == "check_availability" else "free_times"
        return say("es", key, times="; ".join(when(t) for t in times))
    if call and call.name == "check_availability":
        return say("es", "no_free_times")
    if call and call.name in ("take_message", "end_call", "escalate_to_human"):
        return ""
    return say("es", "refused") if result else say("es", "done")
