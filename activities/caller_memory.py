"""The business's memory of a call, made when the call closes: its facts from the records, and a short
summary, written by the LLM when one is configured and answers in time, extractive otherwise.

Part of closing a call (CallRecords.close_call): no workflow schedules it on its own, so calls
recorded on earlier code replay unchanged. A retried close writes nothing twice (one memory per call).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import openai
import structlog
from sqlmodel import Session

from business.config import BusinessConfig
from database.caller_memories import CallRecordsForMemory, already_remembered, remember_call
from database.engine import get_engine
from database.models import Business, Call
from domain.vocabulary import Direction
from receptionist.caller_memory import CallFacts, call_facts, extractive_summary

log = structlog.get_logger(__name__)

# The close of a call waits this long at most for the LLM's summary, then keeps the extractive one.
SUMMARY_TIMEOUT_SECONDS = 3.0
SUMMARY_INSTRUCTIONS = (
    "Summarise this phone call to a business's receptionist in one or two short sentences, for the "
    "receptionist's memory of a returning caller: who called, what they wanted, and what was booked or promised. "
    "Plain text, no lists."
)


class MemoryToKeep:
    def __init__(
        self, business_id: int, caller_number: str, config: BusinessConfig, facts: CallFacts, lines: list[str]
    ):
        self.business_id = business_id
        self.caller_number = caller_number
        self.config = config
        self.facts = facts
        self.caller_lines = lines


class CallerMemories:
    def __init__(self, database_url: str, llm: openai.AsyncOpenAI | None, *, model: str) -> None:
        self._database_url = database_url
        self._llm = llm
        self._model = model

    async def remember(self, call_id: str) -> None:
        now = datetime.now(UTC)
        keep = await asyncio.to_thread(self._what_to_keep, call_id, now)
        if keep is None:
            return
        summary = await self._summary(keep) or extractive_summary(keep.facts)
        await asyncio.to_thread(self._keep, call_id, keep, summary, now)

    def _what_to_keep(self, call_id: str, now: datetime) -> MemoryToKeep | None:
        with Session(get_engine(self._database_url)) as session:
            call = session.get(Call, call_id)
            if (
                call is None
                or call.business_id is None
                or not call.caller_number
                or call.direction != Direction.INCOMING  # a call-back's "caller" is the business itself
                or already_remembered(session, call_id)
            ):
                return None
            business = session.get(Business, call.business_id)
            if business is None:
                return None
            config = BusinessConfig.model_validate(business.config)
            if not config.remember_callers:
                return None
            records = CallRecordsForMemory(session, call_id, config, now)
            if not records.caller_lines:
                return None  # a call in which the caller said nothing leaves nothing to remember
            facts = call_facts(records.caller_lines, records.booked, records.promised, records.booked_name)
            return MemoryToKeep(call.business_id, call.caller_number, config, facts, records.caller_lines)

    async def _summary(self, keep: MemoryToKeep) -> str | None:
        if self._llm is None:
            return None
        said = "\n".join(f"Caller: {line}" for line in keep.caller_lines)
        facts = keep.facts.model_dump_json(exclude_none=True)
        try:
            answer = await asyncio.wait_for(
                self._llm.chat.completions.create(
                    model=self._model,
                    messages=[
                        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
                        {"role": "user", "content": f"What the caller said:\n{said}\n\nFrom the records: {facts}"},
                    ],
                    max_tokens=120,
                    temperature=0.2,
                ),
                SUMMARY_TIMEOUT_SECONDS,
            )
        except (TimeoutError, openai.OpenAIError) as error:
            log.info("the LLM did not summarise the call: keeping the extractive summary", error=repr(error))
            return None
        text = (answer.choices[0].message.content or "").strip() if answer.choices else ""
        return text[:600] or None

    def _keep(self, call_id: str, keep: MemoryToKeep, summary: str, now: datetime) -> None:
        with Session(get_engine(self._database_url)) as session:
            remember_call(
                session,
                business_id=keep.business_id,
                caller_number=keep.caller_number,
                call_id=call_id,
                summary=summary,
                facts=keep.facts,
                now=now,
                keep_days=keep.config.caller_memory_days,
            )
