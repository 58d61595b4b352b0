"""What the caller hears when no call-back is promised: a polite sentence instead of another promise.

The offline responder speaks a tool's answer as it is, and the LLM reads it to say it in its own
words, so each answer is a sentence a receptionist would say.
"""

from __future__ import annotations

from domain.vocabulary import CallbackRefusal
from receptionist.unasked_words import Phrase, words_in

CALL_AGAIN = "Please call us again"

ALREADY_PROMISED_FOR: Phrase = {
    "en": "I've already taken your message; we'll call you back {when}.",
    "es": "Ya he tomado su mensaje; le devolveremos la llamada {when}.",
}
ALREADY_PROMISED: Phrase = {
    "en": "I've already taken your message; we'll call you back as promised.",
    "es": "Ya he tomado su mensaje; le devolveremos la llamada como le prometimos.",
}
NO_MORE_TODAY: Phrase = {
    "en": f"I'm sorry, we can't promise another call-back to this number today. {CALL_AGAIN} tomorrow.",
    "es": "Lo siento, hoy no podemos prometer otra llamada a este número. Vuelva a llamarnos mañana, por favor.",
}
NO_MORE_NOW: Phrase = {
    "en": f"I'm sorry, we can't promise any more call-backs just now. {CALL_AGAIN} a little later.",
    "es": "Lo siento, ahora mismo no podemos prometer más llamadas. Vuelva a llamarnos un poco más tarde, por favor.",
}
NOT_A_NUMBER: Phrase = {
    "en": "I'm sorry, that isn't a phone number we can call back. Please give the whole number, with its country code.",
    "es": "Lo siento, ese no es un número al que podamos llamar. Deme el número completo, con su código de país.",
}
COUNTRY_REFUSED: Phrase = {
    "en": f"I'm sorry, we can't call back a number in that country. {CALL_AGAIN} when it suits you.",
    "es": "Lo siento, no podemos llamar a un número de ese país. Vuelva a llamarnos cuando le venga bien.",
}
NO_LINE_TO_CALL: Phrase = {
    "en": f"I'm sorry, we can't call you back on the number you're calling from. {CALL_AGAIN} when it suits you.",
    "es": "Lo siento, no podemos devolverle la llamada al número desde el que llama. "
    "Vuelva a llamarnos cuando le venga bien.",
}


def refusal_words(
    refusal: CallbackRefusal, already_promised_for: str = "", *, typed: bool = False, language: str | None = None
) -> str:
    """`already_promised_for`: when the call-back already promised to this caller is due, in words, if
    there is one; `typed`: the number is one a web visitor gave, not the line they call from; `language`:
    the call's (English for the tools' answers, which the brains read)."""
    if already_promised_for and refusal in (CallbackRefusal.CALL_LIMIT, CallbackRefusal.CALLER_DAILY_LIMIT):
        return words_in(ALREADY_PROMISED_FOR, language, when=already_promised_for)
    if refusal == CallbackRefusal.CALL_LIMIT:
        return words_in(ALREADY_PROMISED, language)
    if refusal == CallbackRefusal.CALLER_DAILY_LIMIT:
        return words_in(NO_MORE_TODAY, language)
    if refusal == CallbackRefusal.BUSINESS_HOURLY_LIMIT:
        return words_in(NO_MORE_NOW, language)
    if refusal == CallbackRefusal.INVALID_NUMBER and typed:
        return words_in(NOT_A_NUMBER, language)
    if refusal == CallbackRefusal.COUNTRY_NOT_ALLOWED:
        return words_in(COUNTRY_REFUSED, language)
    # No caller ID, or a line nobody can ring back (NO_NUMBER, INVALID_NUMBER).
    return words_in(NO_LINE_TO_CALL, language)


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
