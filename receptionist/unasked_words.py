"""What the receptionist says unasked (no brain wrote it), in the call's language.

The brains answer in the caller's language; these are the fixed sentences the call itself says
around them: the hold messages, the last rung's promise, the silence goodbye, the recording
notice, the after-hours words, the person offered to an upset caller. Each phrase is one table
keyed by language (the primary subtag: "es" for "es-US"), read by `words_in`; a language without
its own words hears English, which every table has. Values ("{business}") are filled in after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from business.config import BusinessConfig
from business.languages import primary
from business.opening_hours import spoken_moment
from receptionist import spoken_spanish

Phrase = Mapping[str, str]

# --- the call's own sentences (workflows/) ---------------------------------------------------------

SILENCE_GOODBYE: Phrase = {
    "en": "I haven't heard anything for a while, so I'll hang up now. Goodbye!",
    "es": "Hace un rato que no le oigo, así que voy a colgar. ¡Adiós!",
}
# A Realtime call at its length cap (workflows/realtime_sip_call.py).
TIME_UP_GOODBYE: Phrase = {
    "en": "I'm sorry, I have to end our call now. Please call again if you need anything else. Goodbye!",
    "es": "Lo siento, tengo que terminar la llamada. Llame de nuevo si necesita algo más. ¡Adiós!",
}
PLEASE_HOLD: Phrase = {
    "en": "Please hold while I connect you.",
    "es": "Por favor, espere mientras le comunico.",
}
STILL_HOLDING: Phrase = {
    "en": "Thank you for holding. I'm still trying to reach someone for you.",
    "es": "Gracias por esperar. Sigo intentando comunicarle con alguien.",
}
WEB_ESCALATION: Phrase = {
    "en": "On a phone call I would now put you through to someone from our team.",
    "es": "En una llamada telefónica ahora le pasaría con alguien de nuestro equipo.",
}
WEB_CALL_US: Phrase = {
    "en": "Please call {number} to reach them.",
    "es": "Llame al {number} para hablar con ellos.",
}
WEB_PROMISE: Phrase = {
    "en": "On a phone call I would now take a message and promise a call-back.",
    "es": "En una llamada telefónica ahora tomaría un mensaje y le prometería que le devolvemos la llamada.",
}
NOBODY_ANSWERED: Phrase = {
    "en": "I'm sorry, nobody could take your call right now.",
    "es": "Lo siento, ahora mismo nadie ha podido atender su llamada.",
}
CANNOT_PUT_THROUGH: Phrase = {
    "en": "I'm sorry, I can't put you through right now.",
    "es": "Lo siento, ahora mismo no puedo pasarle con nadie.",
}
ASK_FOR_MESSAGE: Phrase = {
    "en": "{sorry} Please tell me briefly what it's about, and we'll call you back.",
    "es": "{sorry} Dígame brevemente de qué se trata y le devolveremos la llamada.",
}
CALL_BACK_AT: Phrase = {
    "en": "We'll call you back {when}.",
    "es": "Le devolveremos la llamada {when}.",
}
# The last rung's promise while the database does not answer: when is not known yet.
CALL_BACK_SOON: Phrase = {
    "en": "We'll call you back as soon as we can.",
    "es": "Le devolveremos la llamada lo antes posible.",
}
PROMISE_GOODBYE: Phrase = {
    "en": "Thank you. {promised} Goodbye!",
    "es": "Gracias. {promised} ¡Adiós!",
}
# An urgent call-back, due within minutes (activities/follow_ups.py `spoken_when`).
IN_A_FEW_MINUTES: Phrase = {"en": "in a few minutes", "es": "en unos minutos"}
FILLER: Phrase = {
    "en": "One moment, let me check that.",
    "es": "Un momento, déjeme comprobarlo.",
}

# A call-back the receptionist makes: a person or a machine answers, in the business's first language.
RETURNING_YOUR_CALL: Phrase = {
    "en": "Hello, this is {business} returning your call{about}. How can I help?",
    "es": "Hola, le llamamos de {business} para devolverle la llamada{about}. ¿En qué puedo ayudarle?",
}
# "Call me" on the browser demo: the visitor asked for this call a moment ago.
CALLING_AS_ASKED: Phrase = {
    "en": "Hello, this is {business}, calling you as you asked on our website. How can I help?",
    "es": "Hola, le llamamos de {business}, como nos pidió en nuestra web. ¿En qué puedo ayudarle?",
}
RETURNING_ABOUT: Phrase = {"en": " about {reason}", "es": " sobre {reason}"}
VOICEMAIL: Phrase = {
    "en": "Hello, this is {business} returning your call. Please call us back at {number}. Thank you!",
    "es": "Hola, le llamamos de {business} para devolverle la llamada. Llámenos al {number}, por favor. ¡Gracias!",
}
OUR_USUAL_NUMBER: Phrase = {"en": "our usual number", "es": "nuestro número de siempre"}

# Recordings (workflows/call_recording.py): said before anything else, in the business's first language.
CONSENT_QUESTION: Phrase = {
    "en": "This call may be recorded. Is that all right?",
    "es": "Esta llamada puede ser grabada. ¿Está de acuerdo?",
}
RECORDING_NOTICE: Phrase = {"en": "This call is recorded.", "es": "Esta llamada se graba."}
RECORDING_AGREED: Phrase = {
    "en": "Thank you, this call is recorded.",
    "es": "Gracias, esta llamada se graba.",
}
NOT_RECORDED: Phrase = {
    "en": "All right, this call is not recorded.",
    "es": "De acuerdo, esta llamada no se graba.",
}

# An urgent call-back still owed to the number, asked about in the greeting.
OWED_CALLBACK_QUESTION: Phrase = {
    "en": "We still owe you an urgent call-back from earlier. Is that sorted now?",
    "es": "Le debemos una llamada urgente de antes. ¿Ya está resuelto?",
}

# --- the greeting while closed (the business wrote no after-hours message) ------------------------

CLOSED: Phrase = {
    "en": "Thank you for calling {business}. We're closed right now.{reopening} "
    "I can answer questions, take a message, or arrange a call-back. How can I help?",
    "es": "Gracias por llamar a {business}. Ahora mismo estamos cerrados.{reopening} "
    "Puedo responder a sus preguntas, tomar un mensaje o programar una llamada. ¿En qué puedo ayudarle?",
}
REOPENING: Phrase = {"en": " We open again {when}.", "es": " Volvemos a abrir {when}."}

# --- the person offered to a caller upset for two turns (receptionist/caller_mood.py) -------------

PERSON_OFFER: Phrase = {
    "en": "I'm sorry this has been frustrating. Would you like me to put you through to a person?",
    "es": "Siento mucho las molestias. ¿Quiere que le pase con una persona?",
}
ACCEPTED_OFFER: Phrase = {
    "en": "Of course, let me get someone for you.",
    "es": "Por supuesto, ahora mismo le paso con alguien.",
}

# --- a welcome back to a returning caller (receptionist/caller_memory.py) -------------------------

_WELCOME = {"en": "Hi {name}, welcome back to {business}.", "es": "Hola, {name}, bienvenido de nuevo a {business}."}
# The offline responder knows the caller's answer to it answers this question (receptionist/offline_phrases.py).
UPCOMING_QUESTION: Phrase = {
    "en": "Is this about your upcoming appointment?",
    "es": "¿Llama por su próxima cita?",
}
WELCOME_BACK: Phrase = {
    "en": f"{_WELCOME['en']} How can I help you today?",
    "es": f"{_WELCOME['es']} ¿En qué puedo ayudarle?",
}
WELCOME_BACK_UPCOMING: Phrase = {lang: f"{_WELCOME[lang]} {UPCOMING_QUESTION[lang]}" for lang in _WELCOME}


# A web reply that would have quoted the receptionist's instructions (receptionist/web_replies.py).
NOT_SHARED: Phrase = {
    "en": "I'm sorry, I can't share how I've been set up. I'm happy to help with our services, hours or a booking.",
    "es": "Lo siento, no puedo compartir cómo estoy configurada. Con gusto le ayudo con nuestros servicios, "
    "horarios o una cita.",
}

# The browser demo's last words at its length cap, before the server hangs up (api/realtime_session.py).
DEMO_TIME_UP: Phrase = {
    "en": "Our time for this demo is up. Thank you for calling {business}. Goodbye!",
    "es": "Se ha terminado el tiempo de esta demostración. Gracias por llamar a {business}. ¡Adiós!",
}

# --- texts to the caller ----------------------------------------------------------------------------

BOOKING_TEXTED: Phrase = {
    "en": "{business}: {booked} Reply or call us to change it.",
    "es": "{business}: {booked} Responda o llámenos para cambiarla.",
}
# A booking as a Spanish caller's text says it (an English one's are the book's own words).
BOOKED_FOR: Phrase = {
    "en": "Booked a {service} {when}.",
    "es": "Su cita de {service} está reservada para {when}.",
}
CODE_TEXTED: Phrase = {
    "en": "{business}: your code is {code}. Say it to our receptionist on the phone; it works for "
    "{minutes} minutes. If you are not on the phone with us, do not share it.",
    "es": "{business}: su código es {code}. Dígaselo a nuestra recepcionista por teléfono; vale durante "
    "{minutes} minutos. Si no está hablando con nosotros, no lo comparta.",
}
SURVEY_QUESTION: Phrase = {
    "en": "{business}: thanks for calling! How did we do? Reply with a number from 1 (poor) to 5 (excellent). "
    "Reply STOP to opt out.",
    "es": "{business}: ¡gracias por llamar! ¿Qué tal le atendimos? Responda con un número del 1 (mal) al 5 "
    "(excelente). Responda STOP para no recibir más mensajes.",
}


def words_in(phrase: Phrase, language: str | None, **values: object) -> str:
    """`phrase` in `language` (a BCP-47 tag; None or one we have no words in: English), values filled in."""
    text = phrase.get(primary(language or "en"), phrase["en"])
    return text.format(**values) if values else text


def all_languages(phrase: Phrase) -> tuple[str, ...]:
    """Every language's words of `phrase`: to recognise it, whichever was said."""
    return tuple(phrase.values())


def moment_in(language: str | None, config: BusinessConfig, at: datetime, now: datetime) -> str:
    """A moment as a native speaker says it: "tomorrow at 10 AM", "mañana a las diez de la mañana"."""
    if primary(language or "en") == "es":
        return spoken_spanish.moment(config, at, now)
    return spoken_moment(config, at, now)
