"""Everything the offline responder says, in English and Spanish.

`say(language, key, **values)` picks the call's language ("es", "es-US", "es-MX" all speak
Spanish; anything else English). The questions are listed by what they ask, so the next turn
knows what the caller's "yes please" or "Tuesday" answers, whichever language asked it; the
LLM's usual phrasings of the same questions are listed too, for a call the LLM began.
"""

from __future__ import annotations

from receptionist.booking_proof import (
    APPOINTMENT_IS,
    ASK_CODE_TO_CANCEL,
    ASK_NAME_AND_DAY,
    BOOKING_DAY_QUESTION,
    CANNOT_TEXT,
    CHECK_NAME_AND_DAY,
    CODE_QUESTION,
    CODE_SENT,
    NAME_ON_BOOKING_QUESTION,
    NO_MATCH,
    OFFER_CODE,
    SEND_CODE_QUESTION,
)
from receptionist.unasked_words import OWED_CALLBACK_QUESTION as OWED_CALLBACK_ASKED
from receptionist.unasked_words import UPCOMING_QUESTION, all_languages

READBACK_QUESTION = "Shall I book it?"
NAME_QUESTION = "May I have your name for the booking?"
BOOK_OFFER = "Would you like to book?"
VISIT_OFFER = "Shall I book a visit?"
BOOKED = "All set."
ANYTHING_ELSE = "Is there anything else I can help with?"

ENGLISH: dict[str, str] = {
    "greeting": "Hello! How can I help you today?",
    "upcoming_errand": "Of course. Would you like to move it, or cancel it?",
    "upcoming_not": "No problem. How can I help you today?",
    "not_understood": (
        "I'm sorry, I didn't quite catch that. I can tell you about our hours and services, "
        "book an appointment, or take a message."
    ),
    "emergency": "That sounds urgent. I'm getting someone from our team on the line for you right now.",
    "person": "Of course, let me get someone for you.",
    "message_taken": "I'll pass that on.",
    "message_ask": "Of course. What message shall I pass on?",
    "goodbye": "Thank you for calling {business}. Goodbye!",
    "no_problem": f"No problem. {ANYTHING_ELSE}",
    "what_else": "Of course. What else can I help with?",
    "change": "No problem. What would you like to change?",
    "which_service": "I can help you book. Which service would you like: {services}?",
    "which_visit": "I can book a visit for you. What do you need us for: {services}?",
    "visit_as_message": (
        "I'll pass on your request for a visit, and someone will call you back to arrange it. {anything_else}"
    ),
    "which_day": "What day would suit you?",
    "which_time": "What time would suit you?",
    "name": NAME_QUESTION,
    "check": "Let me check.",
    "one_moment": "One moment.",
    "readback_booking": "Just to confirm: a {service} {when}, under the name {name}. " + READBACK_QUESTION,
    "readback_move": "Just to confirm: moving your appointment to {when}. " + READBACK_QUESTION,
    "bad_time": "{error}. What time would suit you?",
    "hours_unknown": "I'm sorry, I don't have our opening hours to hand.",
    "open_now": "We're open now, until {closes}.",
    "closed_until": "We're closed right now; we open again {when}.",
    "closed": "We're closed right now.",
    "hours": "{today} Our hours are {hours}.",
    "address": "We're at {address}.",
    "address_unknown": "I'm sorry, I don't have our address to hand.",
    "services_unknown": "I'm sorry, I don't have our services to hand. Can I take a message?",
    "service_line": "a {service} takes {minutes} minutes",
    "service_price": " and costs {price}",
    "prices": "{services}. " + BOOK_OFFER,
    "sorted": "Good to hear, then we won't call you back about it. How else can I help?",
    "not_sorted": "Then we'll call you back as promised. How else can I help?",
    "again": "Sorry, I didn't catch that. {question}",
    "done": "Done. Anything else?",
}

SPANISH: dict[str, str] = {
    "greeting": "¡Hola! ¿En qué le puedo ayudar?",
    "upcoming_errand": "Claro. ¿Quiere cambiarla o cancelarla?",
    "upcoming_not": "De acuerdo. ¿En qué puedo ayudarle?",
    "not_understood": (
        "Perdone, no le entendí bien. Puedo darle nuestro horario y precios, hacerle una cita o tomarle un mensaje."
    ),
    "emergency": "Eso suena urgente. Ahora mismo le comunico con alguien de nuestro equipo.",
    "person": "Claro, ahora le comunico con alguien.",
    "message_taken": "Le paso el mensaje.",
    "message_ask": "Claro. ¿Qué mensaje le dejo?",
    "goodbye": "Gracias por llamar a {business}. ¡Que tenga buen día!",
    "no_problem": "No hay problema. ¿Le puedo ayudar en algo más?",
    "what_else": "Claro. ¿En qué más le puedo ayudar?",
    "change": "No hay problema. ¿Qué le gustaría cambiar?",
    "which_service": "Con gusto le hago la cita. ¿Qué servicio desea: {services}?",
    "which_visit": "Con gusto le programo una visita. ¿Para qué servicio: {services}?",
    "visit_as_message": (
        "Le paso su solicitud de visita y alguien le llamará para coordinarla. ¿Le puedo ayudar en algo más?"
    ),
    "which_day": "¿Qué día le conviene?",
    "which_time": "¿A qué hora le conviene?",
    "name": "¿A nombre de quién hago la cita?",
    "check": "Permítame revisar.",
    "one_moment": "Un momento.",
    "readback_booking": "Para confirmar: {service} {when}, a nombre de {name}. ¿Se la reservo?",
    "readback_move": "Para confirmar: cambiamos su cita para {when}. ¿Se la cambio?",
    "bad_time": "Esa hora no es válida. ¿A qué hora le conviene?",
    "hours_unknown": "Lo siento, no tengo nuestro horario a la mano.",
    "open_now": "Ahora estamos abiertos, hasta {closes}.",
    "closed_until": "Ahora estamos cerrados; abrimos de nuevo {when}.",
    "closed": "Ahora estamos cerrados.",
    "hours": "{today} Nuestro horario es {hours}.",
    "address": "Estamos en {address}.",
    "address_unknown": "Lo siento, no tengo nuestra dirección a la mano.",
    "services_unknown": "Lo siento, no tengo nuestros servicios a la mano. ¿Le tomo un mensaje?",
    "service_line": "{service}: {minutes} minutos",
    "service_price": ", {price}",
    "prices": "{services}. ¿Le gustaría hacer una cita?",
    "sorted": "Qué bueno, entonces no le volveremos a llamar por eso. ¿En qué más le puedo ayudar?",
    "not_sorted": "Entonces le llamaremos como quedamos. ¿En qué más le puedo ayudar?",
    "again": "Perdone, no le entendí. {question}",
    "done": "Listo. ¿Algo más?",
    # After the book's tools: what the activity answered, said in Spanish.
    "booked": "Listo, su cita de {service} quedó reservada para {when}. ¿Le puedo ayudar en algo más?",
    "moved": "Listo, su cita quedó cambiada para {when}. ¿Le puedo ayudar en algo más?",
    "cancelled": "Listo, su cita quedó cancelada. ¿Le puedo ayudar en algo más?",
    "appointment_is": "Su cita es {when}. ¿Le puedo ayudar en algo más?",
    "available": "Tenemos libre {times}. ¿Cuál le conviene?",
    "free_times": "Esa hora no está disponible. Tenemos {times}. ¿Cuál le conviene?",
    "no_free_times": "Lo siento, no tenemos horas libres ese día. ¿Qué otro día le conviene?",
    "refused": "Lo siento, no pude hacerlo. ¿Le tomo un mensaje para el equipo?",
}

# The book's answers (activities/appointments.py, booking_proof), as a Spanish caller hears them.
SPANISH_RESULTS = {
    ASK_NAME_AND_DAY: "Por su privacidad, necesito el nombre de la cita y el día. ¿A nombre de quién está la cita?",
    ASK_CODE_TO_CANCEL: "Para cancelar, le envío un código por mensaje al número de la cita. ¿Se lo envío?",
    NO_MATCH: "Ese nombre y día no coinciden con una cita de este número.",
    OFFER_CODE: "Puedo enviarle un código por mensaje al número de la cita. ¿Se lo envío?",
    CHECK_NAME_AND_DAY: "Revisémoslos otra vez, o le tomo un mensaje. ¿A nombre de quién está la cita?",
    CODE_SENT: "Si tenemos una cita para este número, le llegará un código por mensaje. ¿Cuál es el código?",
    CANNOT_TEXT: "Esta línea no envía mensajes, así que necesito el nombre y el día de la cita. ¿A nombre de quién está la cita?",
}

# What each question asks, in both languages, so the next turn knows what is being answered.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "readback": (READBACK_QUESTION, "¿Se la reservo?", "¿Se la cambio?", "shall i book that", "should i book that"),
    "name": (NAME_QUESTION, "¿A nombre de quién hago la cita?", "what name should i put", "may i have your name"),
    "proof_name": (NAME_ON_BOOKING_QUESTION, "¿A nombre de quién está la cita?"),
    "proof_day": (BOOKING_DAY_QUESTION, "¿Qué día es la cita?"),
    "send_code": (SEND_CODE_QUESTION, "¿Se lo envío?"),
    "code": (CODE_QUESTION, "¿Cuál es el código?"),
    "owed_callback": all_languages(OWED_CALLBACK_ASKED),
    "upcoming": all_languages(UPCOMING_QUESTION),  # a returning caller's welcome back
    "upcoming_errand": ("Would you like to move it, or cancel it?", "¿Quiere cambiarla o cancelarla?"),
    "change": ("What would you like to change?", "¿Qué le gustaría cambiar?"),
    "service": ("Which service would you like", "What do you need us for", "¿Qué servicio desea", "¿Para qué servicio"),
    "day": ("What day would suit you?", "¿Qué día le conviene?", "what day works"),
    "time": (
        "What time would suit you?",
        "Which would suit you?",
        "Which would you like?",
        "¿A qué hora le conviene?",
        "¿Cuál le conviene?",
        "what time works",
    ),
    "book_offer": (
        BOOK_OFFER,
        "¿Le gustaría hacer una cita?",
        "would you like to book",
        "would you like to schedule",
        "would you like me to book",
        "shall i book you",
        "would you like an appointment",
    ),
    "visit_offer": (VISIT_OFFER, "would you like us to send someone", "shall i send someone"),
    "message": ("What message shall I pass on?", "¿Qué mensaje le dejo?"),
    "message_offer": ("Can I take a message?", "¿Le tomo un mensaje", "take a message for the team"),
    "anything_else": (ANYTHING_ELSE, "¿Le puedo ayudar en algo más?", "¿Algo más?", "anything else"),
}

# Said once a booking, move, cancellation or look-up is done: the slots collected so far are used up.
DONE_MARKERS = (BOOKED, APPOINTMENT_IS, "Listo, su cita", "Su cita es")


def spanish(language: str) -> bool:
    return language.lower().split("-")[0] == "es"


def say(language: str, key: str, **values: object) -> str:
    table = SPANISH if spanish(language) else ENGLISH
    return table[key].format(**values)
