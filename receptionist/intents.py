"""What a caller's sentence asks for (an intent) and the details it names (slots), in English and Spanish.

The offline responder decides from this, not from keywords scattered through its replies. One
sentence has one intent, chosen by precedence: an emergency first (the safety net), then a
message ("have someone call me back" is a message, not a wish for a person), a technician's
visit ("send someone to take a look" is a booking, not a transfer), a person, the errands on a
booking the caller has, a new booking, the questions (prices, hours, address, services), and
last the short answers (yes, no, goodbye). A sentence that only names a day, a time, a service
or a name is `INFORM`: an answer to the question the responder asked.

Both languages' lexicons are always checked, on `plain` text (lowercase, no accents): callers mix
("okay, el martes"), and the language of the reply is the call's, not the sentence's.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from business.config import BusinessConfig, Service
from receptionist.caller_words import clock_in, day_in, mentions, name_in, plain
from receptionist.emergency_lexicons import emergency_heard


class Intent(StrEnum):
    BOOK = "book"
    VISIT = "visit"  # "send someone", "can someone take a look": a booking of a technician's visit
    MOVE = "move"
    CANCEL = "cancel"
    LOOK_UP = "look_up"  # "when is my appointment?"
    HOURS = "hours"
    PRICES = "prices"
    ADDRESS = "address"
    SERVICES = "services"
    EMERGENCY = "emergency"
    PERSON = "person"
    MESSAGE = "message"
    YES = "yes"
    NO = "no"
    GOODBYE = "goodbye"
    GREETING = "greeting"
    INFORM = "inform"  # only details: "Tuesday at 3", "it's Jane", "a cleaning"
    UNKNOWN = "unknown"


class Understanding(BaseModel):
    intent: Intent
    service: str | None = None  # a service's name as the business configured it
    day: date | None = None
    time: str | None = None  # "14:30"
    name: str | None = None
    emergency: str | None = None  # the words that made it one

    @property
    def clock(self) -> tuple[int, int] | None:
        if self.time is None:
            return None
        hours, minutes = self.time.split(":")
        return int(hours), int(minutes)

    def has_slots(self) -> bool:
        return any((self.service, self.day, self.time, self.name))


MESSAGE = (
    r"(call|ring|phone|get back to) me( back)?\b",
    r"call ?back|callback",
    r"(leave|take|pass on|give (him|her|them)) (a |the )?message",
    r"(have|get|ask) (someone|somebody|him|her|them|the (owner|manager|doctor|dentist)).{0,25}(call|ring|get back)",
    r"let (him|her|them) know",
    r"tell .{1,25}\b(i called|to call)",
    r"let .{1,25}\bknow\b",
    r"(dejar|deje|dejarle|tome|tomar) (un )?(mensaje|recado)",
    r"(que )?me (llame|llamen|devuelva|devuelvan) (la llamada)?",
    r"devolver(me)? la llamada",
)
VISIT = (
    r"send (someone|somebody|a (tech|technician|plumber|guy|person|man|repairman)|one of your)",
    r"(someone|somebody|a (tech|technician|plumber)) (to )?(come|come out|come over|come by|stop by|look at|take a look|check)",
    r"(come|coming) (out|over|by) (and|to) (look|take a look|check|fix|see)",
    r"take a look at",
    r"(can|could) you (come|stop) (out|by|over)",
    r"(need|want|get) (a|an) (tech|technician|plumber|repairman|estimate|inspection)( out| to come)?",
    r"house ?call|service call|home visit",
    r"(manden|mande|envien|envie|mandar|enviar) (a )?(alguien|un tecnico|un plomero)",
    r"(alguien|un tecnico) (que )?(venga|pueda venir|pase) a (ver|revisar|mirar)",
    r"(venga|vengan|mandar|enviar|manden) (un|una|el|al) (tecnico|plomero)",
    r"(vengan|venga) a (ver|revisar|mirar)",
    r"(get|need|want) (someone|somebody|a guy|a tech) (out|over|here|to (come|fix|look|check|unclog))",
    r"come (out |over |by )?(and |to )(fix|unclog|snake|look|check|repair|see)",
    r"(pueden|puede|podrian) venir|vengan a|que venga",
)
PERSON = (
    r"(can|could|may) i (speak|talk) (to|with)",
    r"(speak|talk) (to|with) (a |an |the |someone|somebody|a real|your|the owner|the manager|the doctor)",
    r"(real|live|actual) (person|human)",
    r"\b(a|an) (human|person|representative|operator|agent)\b",
    r"(get|put|transfer|connect) me (to|through|with)",
    r"\b(operator|representative|receptionist)\b",
    r"is (anyone|someone|somebody) (there|in)",
    r"front desk|billing (department|office)",
    r"(hablar|habla) con (una persona|alguien|el (dueno|doctor|gerente|encargado)|la (duena|doctora|gerente|encargada)|un humano)",
    r"(una persona|persona real|un humano|un agente|una operadora|un operador)",
    r"(comuniqueme|paseme|transfierame) con",
    r"(comunica|comunicar|pasa|pasar) con|(machine|robot|bot)\b",
)
CANCEL = (
    r"cancel",
    r"(won'?t|can'?t|not|not gonna|not going to) (be able to )?(make (it|my appointment)|come in)",
    r"call off|take me off|no voy a poder (ir|venir)",
    r"cancelar|anular",
)
MOVE = (
    r"(move|switch|shift|bump) (my|the|our|it)\b",
    r"re-?schedul",
    r"change (my|the|our) (appointment|booking|time)",
    r"(different|another|later|earlier) (time|day|date)",
    r"push (it|my (\w+ )?appointment)",
    r"(later|earlier|another time|some other time) instead",
    r"(cambiar|mover) (mi|la) (cita|hora)|cambiar(la)? (para|a)|reprogramar|otro dia|otra hora",
    r"^(quiero |quisiera )?(cambiarla|moverla)\b",  # "¿Quiere cambiarla o cancelarla?" "Cambiarla."
)
LOOK_UP = (
    r"when('?s| is) my (appointment|booking)",
    r"what (time|day) is my (appointment|booking)",
    r"(check|confirm) (on )?my (appointment|booking)",
    r"do i have an? (appointment|booking)",
    r"(have|got) (something|anything|an appointment) (booked|scheduled)",
    r"(am i|i'?m) (booked|scheduled|down)",
    r"(cuando|a que hora) es mi cita",
    r"(confirmar|revisar) mi cita",
    r"tengo (una )?cita",
)
# "Do you have anything Monday?" asks for a time to book, though it reads like a question about the hours.
AVAILABILITY = (
    r"(have|got) (anything|something|any ?thing|room|any openings|availability|an opening|a spot|any spots)",
    r"tienen algo|hay algo|algo disponible|hay (espacio|lugar)|tienen (espacio|lugar)",
    r"what (have|do) you (got|have)|what'?s (open|available)",
)
BOOK = (
    r"book",
    r"(make|set up|get|schedule) (an |a )?(appointment|appt|booking|visit)",
    r"appointment",
    r"schedul",
    r"reserv",
    r"come in\b",
    r"get (me )?in\b|fit me in|squeeze me in",
    r"(any|have) (openings|availability|anything (open|free|available))|availab",
    r"(need|want|like) to (get|have) (my|a|an|the|some)\b",
    r"(i'?d like|i want|i (just |really )?need|looking for|can i get|i'd love|get) (a |an |to get a |to get an |to have a )",
    r"(cita|reservar|agendar|apartar|programar)",
    r"(quiero|quisiera|necesito) (una |un |hacer )",
    r"(could|can|may) (i|we) (get|have|come)\b|earliest (you have|available|appointment|time)",
    r"set (that|it|one|something|me) up|set up (a|an|my)",
)
PRICES = (
    r"how much",
    r"price|pricing|cost|charge|fee\b|rates?\b|expensive|cheap",
    r"what do (you|y'all) (charge|ask)",
    r"run me|(gonna|going to) cost|cobran|me cobra",
    r"cuanto (cuesta|cobran|sale|vale|es)",
    r"precio|costo|tarifa",
)
HOURS = (
    r"hours",
    r"(are|r) (you|y'all|u)( guys| all)? (still )?open",
    r"(what time|when) do (you|y'all)( guys| all)? (open|close)",
    r"(when are|when're) (you|y'all) open",
    r"open (right )?now|open (on|today|tomorrow|this|until|till|late|at)|open\?|opening time|closing time|close today",
    r"(a que hora|cuando) (abren|cierran)|horario|estan abiertos|\b(abren|cierran)\b",
    r"do you (guys |all )?work (on )?(weekends|sundays|saturdays|sunday|saturday|late)|(until|till) what time|hasta que hora",
)
ADDRESS = (
    r"where (are|is|r) (you|y'all|your|the)|where'?s (your|the)",
    r"address",
    r"locat",
    r"directions",
    r"how do i (get|find) (to )?you",
    r"(donde|adonde) (estan|quedan|se encuentran|queda)",
    r"direccion|ubicacion|ubicados",
    r"(what|which) street|en que calle|que calle",
)
SERVICES = (
    r"what (services|do you (do|offer))",
    r"do you (do|offer|provide|fix|handle|work on|install|repair|take|see|treat|accept)",
    r"services",
    r"(que servicios|que hacen|ofrecen)",
)
GOODBYE = (
    r"bye|goodbye|good bye|see ya|take care",
    r"that'?s (all|it|everything)|that is all|that'?ll be all",
    r"nothing else|i'?m (all )?(good|set),? thanks|no,? that'?s (all|it)|have a (good|nice|great) (day|one)",
    r"never ?mind",
    r"adios|hasta luego|chao|eso es todo|nada mas|es todo|que tenga (un )?buen",
)
YES = (
    r"yes|yeah|yep|yup|ya\b|mhm|uh huh|you got it|sure|of course|absolutely|definitely|certainly",
    r"please do|go ahead|do it|book it|that works|works for me|sounds (good|great|perfect)|perfect|great|correct|exactly",
    r"that'?s (right|correct|fine|perfect|great)|right\b|ok\b|okay|alright|all right|fine\b|lovely|please\b",
    r"si\b|claro|andale|por supuesto|de acuerdo|esta bien|perfecto|correcto|dale|vale\b|bueno\b|exacto|por favor",
)
NO = (
    r"no\b|nope|nah|not really|no thanks|no thank you|don'?t|not (right|correct|quite)|wrong",
    r"no gracias|para nada|incorrecto|todavia no",
)
# "Not sure" is no answer, though it starts with "no" in Spanish ("no sé").
UNSURE = (r"(not|no) (sure|certain)|i don'?t know|dunno|no se\b|no estoy segur", r"let me think|dejame pensar")
# "I'll call back later" is a goodbye, not a request for a call-back.
LEAVING = (r"i'?ll (call|try|ring) (you |again|back)|(llamo|llamare) (mas tarde|despues|luego)",)
# Said after a yes, these confirm what was offered: "yes, book it", "yeah, go ahead and send someone".
CONFIRMING = (r"book it|go ahead|send (someone|somebody|him|her|them|one)|do it|please do|mandenlo|hazlo|adelante",)
YES_START = r"(yes|yeah|yep|yup|sure|ok|okay|si|claro|perfect|great|sounds|that works|alright)\b"
NO_START = r"(no|nope|nah|not)\b"
FILLERS = r"^((um+|uh+|er|so|hi|hello|hey|well|oh|ok|okay|yeah|hola|bueno|pues|este),? )+"
GREETING = (r"hello|hi\b|hey\b|good (morning|afternoon|evening)", r"hola|buenos dias|buenas tardes|buenas")

# Services as Spanish callers name them, for businesses that list them in English.
SERVICE_WORDS_ES = {
    "limpieza": "cleaning",
    "revision": "checkup",
    "chequeo": "checkup",
    "examen": "exam",
    "blanqueamiento": "whitening",
    "corte": "haircut",
    "tinte": "color",
    "empaste": "filling",
    "reparacion": "repair",
    "inspeccion": "inspection",
}


def services_in(config: BusinessConfig, text: str) -> list[Service]:
    """The business's services a caller names, also in Spanish or in the plural."""
    said = plain(text)
    for spanish, english in SERVICE_WORDS_ES.items():
        if re.search(rf"\b{spanish}", said):
            said += f" {english}"
    tokens = re.findall(r"[\w'-]+", said)
    found = []
    for service in config.services:
        words = re.findall(r"[\w'-]+", plain(service.name))
        # Every word of its name, or of its stem ("teeth cleaned" is a cleaning, "heater installed" an
        # installation), or the last word of a longer name ("a tune-up" is the AC tune-up).
        if all(any(_same_word(token, word) for token in tokens) for word in words) or (
            len(words) > 1 and words[-1] in tokens
        ):
            found.append(service)
    return found


def _same_word(said: str, named: str) -> bool:
    if said in (named, f"{named}s", f"{named}es"):
        return True
    return len(said) > 5 and len(named) > 5 and said[:5] == named[:5]  # "check" is no checkup


def understand(config: BusinessConfig, caller_text: str, today: date) -> Understanding:
    text = plain(caller_text)
    named = services_in(config, caller_text)
    clock = clock_in(caller_text)
    slots = {
        "service": named[0].name if named else None,
        "day": day_in(caller_text, today),
        "time": f"{clock[0]:02d}:{clock[1]:02d}" if clock else None,
        "name": name_in(caller_text),
    }
    if emergency := emergency_heard(config, caller_text):
        return Understanding(intent=Intent.EMERGENCY, emergency=emergency, **slots)
    return Understanding(intent=_intent(text, has_slots=any(slots.values())), **slots)


def _intent(text: str, *, has_slots: bool) -> Intent:
    text = text.strip(" ¿?¡!.,")
    asked = re.sub(FILLERS, "", text)
    if re.match(YES_START, text) and mentions(text, CONFIRMING) and not has_slots:
        return Intent.YES
    if mentions(text, LEAVING) and not mentions(text, (r"(call|ring) me",)):
        return Intent.GOODBYE
    asks = "?" in text or re.match(r"(how|what|when|where|do|are|is|can|cuanto|cuando|donde|a que|que)\b", asked)
    if asks and mentions(text, PRICES):  # "what's your service call fee?" asks a price
        return Intent.PRICES
    if mentions(text, MESSAGE):
        return Intent.MESSAGE
    if mentions(text, VISIT):
        return Intent.VISIT
    if mentions(text, PERSON):
        return Intent.PERSON
    errands: tuple[tuple[Intent, tuple[str, ...]], ...] = (
        (Intent.CANCEL, CANCEL),
        (Intent.LOOK_UP, LOOK_UP),
        (Intent.MOVE, MOVE),
    )
    for intent, lexicon in errands:
        if mentions(text, lexicon):
            return intent
    if mentions(text, AVAILABILITY):
        return Intent.BOOK
    questions: tuple[tuple[Intent, tuple[str, ...]], ...] = (
        (Intent.PRICES, PRICES),
        (Intent.HOURS, HOURS),
        (Intent.ADDRESS, ADDRESS),
    )
    if asks:  # "how much is a cleaning?" asks a price, though it names a service to book
        for intent, lexicon in questions:
            if mentions(text, lexicon):
                return intent
    if mentions(text, BOOK):
        return Intent.BOOK
    for intent, lexicon in (*questions, (Intent.SERVICES, SERVICES)):
        if mentions(text, lexicon):
            return intent
    if mentions(text, GOODBYE):
        return Intent.GOODBYE
    if mentions(text, UNSURE):
        return Intent.UNKNOWN
    if re.match(NO_START, text):
        return Intent.NO
    if has_slots:  # "Thursday works for me", "a cleaning please": the details are the answer
        return Intent.INFORM
    if mentions(text, YES):
        return Intent.YES
    if mentions(text, NO):
        return Intent.NO
    if mentions(text, GREETING) and len(text.split()) <= 5:
        return Intent.GREETING
    return Intent.UNKNOWN
