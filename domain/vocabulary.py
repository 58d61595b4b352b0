"""The call's vocabulary: every status, outcome and level a call, a call-back or an escalation can have.

One home for the words that the workflows write, the database stores, the admin filters offer and
the metrics count, so they cannot disagree. Each is a `StrEnum`: it is its own string in JSON, in
SQL and in workflow histories, so histories recorded before these types existed replay unchanged.

This module is the floor of the project: it imports nothing of ours, and every layer imports it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Channel(StrEnum):
    """How the caller reaches the receptionist."""

    PHONE = "phone"  # a Telnyx call: Telnyx speaks and listens
    WEB = "web"  # a browser talking to the phone brain: replies go back as text
    REALTIME_SIP = "realtime_sip"  # a phone call Telnyx routed to OpenAI's SIP endpoint: the Realtime model speaks


class PhoneMode(StrEnum):
    """Who answers a business's phone line (`Business.phone_mode`)."""

    TELNYX_SPEECH = "telnyx_speech"  # Telnyx transcribes and speaks; the workflow's brain (chat LLM) decides
    REALTIME_SIP = "realtime_sip"  # Telnyx routes the call to OpenAI's SIP URI; the Realtime model talks


class Direction(StrEnum):
    INCOMING = "incoming"  # the caller rang the business
    OUTGOING = "outgoing"  # the business rang the caller (a call-back)
    WEB = "web"


class CallStatus(StrEnum):
    """Where a call is now. The last three are final."""

    RINGING = "ringing"
    ANSWERING = "answering"
    IN_PROGRESS = "in_progress"
    TRANSFERRED = "transferred"  # bridged to a person; the receptionist listens no more
    DIALING = "dialing"  # an outbound call-back, not yet answered
    VOICEMAIL = "voicemail"  # a call-back that reached a machine and leaves a message
    ENDED = "ended"
    MISSED = "missed"  # never answered (or a call-back nobody picked up)
    NEVER_STARTED = "never_started"  # a stray event for a call that never rang

    @property
    def finished(self) -> bool:
        return self in FINISHED_CALL_STATUSES


FINISHED_CALL_STATUSES = frozenset({CallStatus.ENDED, CallStatus.MISSED, CallStatus.NEVER_STARTED})


class CallOutcome(StrEnum):
    """What a call achieved, decided by the workflow; the dashboard's booking rate counts `booked`."""

    COMPLETED = "completed"  # talked and ended without anything below
    BOOKED = "booked"
    ESCALATED = "escalated"  # put through to a person
    MESSAGE = "message"  # a message taken and a call-back promised
    ABANDONED = "abandoned"  # the caller hung up before the call was answered
    VOICEMAIL = "voicemail"  # a call-back left a voicemail
    NO_ANSWER = "no_answer"  # a call-back nobody answered
    # A Realtime-mode line's call that reached our Call Control application, transferred to OpenAI's SIP
    # endpoint: the conversation is on the record of the Realtime call that transfer started.
    HANDED_TO_REALTIME = "handed_to_realtime"


class FallbackLevel(StrEnum):
    """The deepest rung of the fallback ladder a call reached, in the order they are climbed."""

    LLM = "llm"
    OFFLINE = "offline"
    ESCALATION = "escalation"
    CALLBACK_PROMISE = "callback_promise"

    @property
    def depth(self) -> int:
        return list(FallbackLevel).index(self)


class Brain(StrEnum):
    """What produced a reply."""

    LLM = "llm"
    OFFLINE = "offline"
    SAFETY_NET = "safety_net"  # the emergency phrase net, no brain needed
    REALTIME = "realtime"  # OpenAI's Realtime model, on a Realtime-SIP call: it heard and spoke itself
    NONE = "none"  # nothing could answer the turn


class BusinessKnowledge(StrEnum):
    """Where a call learned its business from: the records database, or the worker's memory of it."""

    DATABASE = "database"  # read as the call began
    REMEMBERED = "remembered"  # the database did not answer: the last configuration this worker read
    UNKNOWN = "unknown"  # the database did not answer and this worker never loaded the business


class Speaker(StrEnum):
    CALLER = "caller"
    AGENT = "agent"


class EscalationStatus(StrEnum):
    TRANSFERRING = "transferring"
    CONNECTED = "connected"
    NOBODY_ANSWERED = "nobody_answered"
    CALLER_HUNG_UP = "caller_hung_up"  # the caller left while the on-call numbers rang


class TransferOutcome(StrEnum):
    """What became of ringing one on-call number."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CALLER_HUNG_UP = "caller_hung_up"
    # A warm transfer's: what picked up was a machine, the person heard the briefing and pressed no
    # key, or hung up on it.
    VOICEMAIL = "voicemail"
    NO_KEY_PRESS = "no_key_press"
    HUNG_UP = "hung_up"


class TransferStep(StrEnum):
    """One step of a warm transfer's attempt, in the order they happen; each goes on the escalation's record."""

    TEXTED = "texted"  # the briefing, texted to the number before it rings
    DIALLED = "dialled"
    ANSWERED = "answered"  # something picked up: a person or a machine
    MACHINE = "machine"  # answering-machine detection heard a machine
    HUMAN = "human"  # ... a person, or was not sure (the key press decides)
    BRIEFED = "briefed"
    KEY_PRESSED = "key_pressed"
    BRIDGED = "bridged"
    HUNG_UP = "hung_up"  # we hung up the leg (a machine, no key, the caller gone)


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    DONE = "done"  # the caller answered and talked
    FULFILLED = "fulfilled"  # the caller rang first
    VOICEMAIL = "voicemail"
    FAILED = "failed"  # every attempt went unanswered
    REFUSED = "refused"  # its number may not be dialled (invalid, or a country the business does not call)

    @property
    def finished(self) -> bool:
        return self not in (CallbackStatus.PENDING, CallbackStatus.DIALING)


class CallbackCallOutcome(StrEnum):
    """What became of one outbound call made to keep a call-back promise."""

    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class CallbackRefusal(StrEnum):
    """Why a call-back was not promised: the caps against flooding a number, and numbers not to dial."""

    CALL_LIMIT = "call_limit"  # this call has had its call-backs
    CALLER_DAILY_LIMIT = "caller_daily_limit"  # this number has had its call-backs for the day
    BUSINESS_HOURLY_LIMIT = "business_hourly_limit"  # the business has promised its call-backs for the hour
    NO_NUMBER = "no_number"  # no caller ID, or a web visitor who gave and confirmed none
    INVALID_NUMBER = "invalid_number"  # not a valid, dialable phone number
    COUNTRY_NOT_ALLOWED = "country_not_allowed"  # outside the countries the business calls back


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class RecordingPlan(StrEnum):
    """How a call is recorded, decided when it opens from the business's settings and the caller's region."""

    NOT_RECORDED = "not_recorded"  # the business does not record calls
    ANNOUNCED = "announced"  # the greeting says the call is recorded, and it is
    ASK_CONSENT = "ask_consent"  # the caller's region needs consent: only a yes starts the recording


class RecordingDeletion(StrEnum):
    """Why a call's recording was deleted, at Telnyx and here."""

    REQUESTED = "requested"  # by an admin (page, API or `cloudgreet recordings delete`)
    RETENTION = "retention"  # older than the business's recording_retention_days


class CalendarSyncOutcome(StrEnum):
    """How the last sync with a business's own calendar (CalDAV) went."""

    SYNCED = "synced"  # read, compared and written
    UNREACHABLE = "unreachable"  # the server did not answer (or failed): bookings wait, written when it is back
    REFUSED = "refused"  # the server refused the username, password or calendar URL: fix the link
    NO_PASSWORD = "no_password"  # the stored password cannot be read (SECRET_KEY changed): enter it again


class CalendarChange(StrEnum):
    """What the business's calendar did to a booking; the calendar wins, and the caller is told."""

    MOVED = "moved"
    CANCELLED = "cancelled"


class WebhookDelivery(StrEnum):
    """What the API did with a verified webhook."""

    DELIVERED = "delivered"  # handed to the call's workflow
    DUPLICATE = "duplicate"  # this API process had already handed it over
    CALL_ENDED = "call_ended"  # the call's workflow has finished; acknowledged and dropped
    IGNORED = "ignored"  # an event type the calls do not use, or an interim transcript saying the same words again
    # Held a moment (api/held_events.py): a later interim transcript of an utterance, or its first while
    # nothing of ours plays (api/line_playback.py), dropped if newer words come first; with
    # HOLD_PLAYBACK_EVENTS, a call.speak.ended, signalled with the call's next event (the next sentence's start).
    COALESCED = "coalesced"
    # A speech event of a reply that follows its own playback (api/reply_windows.py): counted for it, not signalled.
    FOLLOWED = "followed"
    ANSWERED_BY_API = "answered_by_api"  # a call the API answered itself while Temporal was unreachable
    REFUSED = "refused"  # its client_state is not one we signed: acknowledged, routed to no call
    RECORDING_KEPT = "recording_kept"  # a call.recording.saved, handed to the workflow that stores it


class SurveyStatus(StrEnum):
    """Where a call's satisfaction survey is: one text asking the caller to rate the call from 1 to 5."""

    ASKING = "asking"  # decided: the text is being sent
    SENT = "sent"  # Telnyx took the text; a reply may rate the call
    RATED = "rated"  # the caller answered with a rating
    NOT_SENT = "not_sent"  # Telnyx refused the text (an opted-out number, a bad sender)


class SurveyDecision(StrEnum):
    """Whether a finished call's caller is asked for a rating, when the survey's delay is over."""

    ASK = "ask"
    OPTED_OUT = "opted_out"  # the caller texted STOP to the business
    ASKED_RECENTLY = "asked_recently"  # one survey per caller per business per SURVEY_SPACING


class TextReplyOutcome(StrEnum):
    """What a caller's text (Telnyx message.received) did."""

    RATED = "rated"  # a 1-5 rating, kept with the call it was asked about
    OPTED_OUT = "opted_out"  # STOP and its kin: no more texts from this business
    OPTED_IN = "opted_in"  # START or UNSTOP: texts again
    NOT_A_RATING = "not_a_rating"  # anything else: nothing recorded
    NO_SURVEY = "no_survey"  # a rating with no survey of this number to go with
    DUPLICATE = "duplicate"  # the same message delivered again: nothing changes
    UNKNOWN_NUMBER = "unknown_number"  # sent to a number no business texts from
    IGNORED = "ignored"  # not an inbound message (delivery reports)


class Utterance(BaseModel):
    """One thing said in a call, by the caller or the agent."""

    speaker: Speaker
    text: str
    interrupted: bool = False
