"""Texting a caller the one-time code that shows the appointments of their number are theirs.

One activity does both halves, the code and the text, so the code never passes through the
workflow's history (which the admin pages and `temporal workflow show` display). A retry finds
the same code (the tool call's key is on its row) and sends it with the same idempotency key,
which Telnyx answers without texting again.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.telnyx_commands import TelnyxCommands, TextMessage
from database.appointment_book import AppointmentBook
from receptionist.appointment_requests import CodeRequest, ToolOutcome
from receptionist.booking_proof import CODE_SENT, code_text


class BookingCodes:
    def __init__(self, database_url: str, texts: TelnyxCommands) -> None:
        self._book = AppointmentBook(database_url)
        self._texts = texts

    @activity.defn(name="text_booking_code")
    async def text_booking_code(self, request: CodeRequest) -> ToolOutcome:
        code = await asyncio.to_thread(self._book.code_to_send, request)
        if isinstance(code, ToolOutcome):
            return code
        await self._texts.send_text_message(
            TextMessage(
                idempotency_key=f"{request.idempotency_key}/code",
                from_number=code.from_number,
                to=code.to,
                text=code_text(request.business.name, code.code, request.language),
            )
        )
        return ToolOutcome(ok=True, message=CODE_SENT)
