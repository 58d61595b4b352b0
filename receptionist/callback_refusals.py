"""What the caller hears when no call-back is promised: a polite sentence instead of another promise.

The offline responder speaks a tool's answer as it is, and the LLM reads it to say it in its own
words, so each answer is a sentence a receptionist would say.
"""

from __future__ import annotations

from domain.vocabulary import CallbackRefusal

CALL_AGAIN = "Please call us again"


def refusal_words(refusal: CallbackRefusal, already_promised_for: str = "", *, typed: bool = False) -> str:
    """`already_promised_for`: when the call-back already promised to this caller is due, in words, if
    there is one; `typed`: the number is one a web visitor gave, not the line they call from."""
    if already_promised_for and refusal in (CallbackRefusal.CALL_LIMIT, CallbackRefusal.CALLER_DAILY_LIMIT):
        return f"I've already taken your message; we'll call you back {already_promised_for}."
    if refusal == CallbackRefusal.CALL_LIMIT:
        return "I've already taken your message; we'll call you back as promised."
    if refusal == CallbackRefusal.CALLER_DAILY_LIMIT:
        return f"I'm sorry, we can't promise another call-back to this number today. {CALL_AGAIN} tomorrow."
    if refusal == CallbackRefusal.BUSINESS_HOURLY_LIMIT:
        return f"I'm sorry, we can't promise any more call-backs just now. {CALL_AGAIN} a little later."
    if refusal == CallbackRefusal.INVALID_NUMBER and typed:
        return "I'm sorry, that isn't a phone number we can call back. Please give the whole number, with its country code."
    if refusal == CallbackRefusal.COUNTRY_NOT_ALLOWED:
        return f"I'm sorry, we can't call back a number in that country. {CALL_AGAIN} when it suits you."
    # No caller ID, or a line nobody can ring back (NO_NUMBER, INVALID_NUMBER).
    return f"I'm sorry, we can't call you back on the number you're calling from. {CALL_AGAIN} when it suits you."


# A web visitor has no caller ID: a call-back needs a number they typed, heard back and confirmed.
WEB_NUMBER_NEEDED = (
    "I can arrange a call-back to a phone number you give me. What number should we call you on, with its country code?"
)


def read_back_words(number: str) -> str:
    """For the model: the confirmation step before a web visitor's number is called."""
    return (
        f"Not yet scheduled. Read the number back to the visitor: {number}. Once they confirm it is right, "
        f"call take_message again with callback_number {number} and number_confirmed true."
    )
