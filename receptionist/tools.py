"""The receptionist's tools, offered to the LLM on the phone and to the Realtime session alike.

The project executes every tool itself, after checking its arguments; the model only asks.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

TIME_FORMAT = "YYYY-MM-DDTHH:MM in the business's local time"
# What the caller says to show a booking found by their caller ID is theirs (receptionist/booking_proof.py).
PROOF = {
    "caller_name": {"type": "string", "description": "The name the appointment is under, as the caller says it"},
    "day": {"type": "string", "description": "YYYY-MM-DD: the day the appointment is on, as the caller says it"},
    "code": {"type": "string", "description": "The code from text_booking_code, as the caller reads it out"},
}

TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "check_availability": {
        "description": "Find free appointment times for a service, on a given day or the earliest ones.",
        "parameters": {
            "type": "object",
            "properties": {
                "service": {"type": "string", "description": "One of the business's services"},
                "day": {"type": "string", "description": "YYYY-MM-DD; omit for the earliest free times"},
            },
            "required": ["service"],
        },
    },
    "book_appointment": {
        "description": "Book an appointment. Read the booking back to the caller and get a yes before calling this.",
        "parameters": {
            "type": "object",
            "properties": {
                "service": {"type": "string"},
                "start": {"type": "string", "description": TIME_FORMAT},
                "caller_name": {"type": "string"},
            },
            "required": ["service", "start", "caller_name"],
        },
    },
    "look_up_appointment": {
        "description": "Tell the caller when their appointment is. Needs the name on it and its day, or a code.",
        "parameters": {"type": "object", "properties": PROOF},
    },
    "move_appointment": {
        "description": "Move the caller's booked appointment to a new time. Needs the name on it and its day, "
        "or a code.",
        "parameters": {
            "type": "object",
            "properties": {
                "current_start": {"type": "string", "description": f"{TIME_FORMAT}; omit for their next one"},
                "new_start": {"type": "string", "description": TIME_FORMAT},
                **PROOF,
            },
            "required": ["new_start"],
        },
    },
    "cancel_appointment": {
        "description": "Cancel the caller's booked appointment. Needs a code from text_booking_code.",
        "parameters": {
            "type": "object",
            "properties": {
                "start": {"type": "string", "description": f"{TIME_FORMAT}; omit for their next one"},
                **PROOF,
            },
        },
    },
    "text_booking_code": {
        "description": "Text a one-time code to the phone number on the caller's booking, then ask the caller to "
        "read it out: to cancel, or when the name and day did not match.",
        "parameters": {"type": "object", "properties": {}},
    },
    "escalate_to_human": {
        "description": "Transfer the caller to a person: emergencies, or when the caller asks for a human.",
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string"}, "emergency": {"type": "boolean"}},
            "required": ["reason"],
        },
    },
    "take_message": {
        "description": "Take a message for the business and promise a call-back.",
        "parameters": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "reason": {"type": "string", "description": "What it is about, in a few words, e.g. 'a loose crown'"},
                "caller_name": {"type": "string"},
                "callback_wanted": {"type": "boolean"},
                # A phone call is called back on the caller's own number, whatever these say.
                "callback_number": {
                    "type": "string",
                    "description": "Web chat only: the number the visitor typed to be called back on, with country code",
                },
                "number_confirmed": {
                    "type": "boolean",
                    "description": "Web chat only: true once you read callback_number back and the visitor said it is right",
                },
            },
            "required": ["message"],
        },
    },
    "end_call": {
        "description": "Hang up after saying goodbye, when the caller has nothing more.",
        "parameters": {"type": "object", "properties": {}},
    },
}


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: str  # JSON text, as the model sent it

    def parsed_arguments(self) -> dict[str, Any]:
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


class ToolRound(BaseModel):
    """One exchange inside a caller turn: what the brain said, asked for, and what the tools answered."""

    said: str
    calls: list[ToolCall]
    results: list[str]


def chat_completion_tools() -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": name, **schema}} for name, schema in TOOL_SCHEMAS.items()]


def realtime_tools() -> list[dict[str, Any]]:
    return [{"type": "function", "name": name, **schema} for name, schema in TOOL_SCHEMAS.items()]
