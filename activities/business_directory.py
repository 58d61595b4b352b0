"""The businesses a worker has served, remembered: a call learns its business without waiting for the database.

`know_call` reads the business (and the call-back an outbound call keeps) from the records
database, bounded by a short timeout, and remembers it. It writes the call's row in the same
session and sorts the call-backs owed to an incoming caller (`OwedCallbacks`), so the call is
spared an activity for each; when either fails, the call does it itself, as before. From the
worker's first call on, every business is read again in the background every
BUSINESS_REFRESH_SECONDS. When the database
does not answer in time, the call goes on with the last configuration this worker read; a
business it never loaded gets `receptionist.unknown_business`, which takes a message, and the
workflow writes the call's row in the background (`open_call`) when the database answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_records import (
    CallbackContext,
    CallContext,
    CallOpening,
    CallRecords,
    add_call_row,
    find_business,
)
from activities.follow_ups import PendingCallbacksQuery
from activities.owed_callbacks import OwedCallbacks, PendingCallbacks
from business.config import BusinessConfig
from database.caller_memories import returning_caller
from database.engine import DatabaseTimeouts, get_engine
from database.models import Business, Callback
from domain.vocabulary import BusinessKnowledge, Direction, PhoneMode
from receptionist.unknown_business import unknown_business

log = structlog.get_logger(__name__)

# How long a call waits for the database before it goes on with what the worker remembers:
# the caller hears ringing meanwhile.
READ_TIMEOUT_SECONDS = 2
# How often the worker reads every business again, whatever its calls read.
REFRESH_SECONDS = 60.0


class BusinessDirectory:
    def __init__(
        self,
        database_url: str,
        records: CallRecords,
        *,
        read_timeout_seconds: int = READ_TIMEOUT_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
        owed_callbacks: OwedCallbacks | None = None,
    ) -> None:
        self._database_url = database_url
        self._records = records
        self._owed_callbacks = owed_callbacks
        self._read_timeout = read_timeout_seconds
        self._timeouts = DatabaseTimeouts(
            connect_seconds=read_timeout_seconds,
            statement_seconds=read_timeout_seconds,
            pool_seconds=read_timeout_seconds,
        )
        self._refresh_seconds = refresh_seconds
        self._configs: dict[int, BusinessConfig] = {}
        self._modes: dict[int, PhoneMode] = {}  # who answers each line: a Realtime-mode call is transferred
        self._by_number: dict[str, int] = {}
        self._first: int | None = None  # the business a number nobody configured reaches
        self._refreshing: asyncio.Task[None] | None = None

    def start_refreshing(self) -> None:
        """Keeps every business fresh in the background from now on (from the worker's first call)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._keep_fresh())

    @activity.defn(name="know_call")
    async def know_call(self, opening: CallOpening) -> CallContext:
        self.start_refreshing()
        try:
            # The engine bounds connecting and every statement; this bounds the whole read besides
            # (a host name tried at two addresses, a pool wait).
            context = await asyncio.wait_for(asyncio.to_thread(self._read, opening), self._read_timeout * 2)
        except (SQLAlchemyError, TimeoutError, OSError) as error:
            log.warning(
                "the database did not answer: the call goes on with what this worker remembers", error=str(error)
            )
            return self._remembered(opening)
        if opening.sorts_owed_callbacks and opening.direction == Direction.INCOMING and opening.caller_number:
            context.owed = await self._sort_owed(context.business_id, opening.caller_number)
        return context

    async def _sort_owed(self, business_id: int, caller_number: str) -> PendingCallbacks | None:
        """The call-backs owed to the caller, sorted; None if the database did not answer in time (the call then
        asks `sort_pending_callbacks` itself, which is tried again)."""
        if self._owed_callbacks is None:
            return None
        query = PendingCallbacksQuery(business_id=business_id, caller_number=caller_number)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._owed_callbacks.sort_pending, query), self._read_timeout * 2
            )
        except (SQLAlchemyError, TimeoutError, OSError) as error:
            log.warning("the call-backs owed to the caller were not sorted with its business", error=str(error))
            return None

    async def _keep_fresh(self) -> None:
        """Reads every business again now and then, so an outage finds the worker with recent configurations."""
        while True:
            try:
                await asyncio.wait_for(asyncio.to_thread(self._read_all), self._read_timeout * 2)
            except (SQLAlchemyError, TimeoutError, OSError) as error:
                log.info("could not refresh the businesses: keeping the last ones read", error=repr(error))
            await asyncio.sleep(self._refresh_seconds)

    def _read_all(self) -> None:
        with Session(get_engine(self._database_url, self._timeouts)) as session:
            self._learn(session.exec(select(Business).order_by(Business.id)).all())

    def _learn(self, businesses: Sequence[Business]) -> None:
        """Every business there is: the last read replaces what was remembered (a number moved, a business gone)."""
        configs = {b.id: BusinessConfig.model_validate(b.config) for b in businesses if b.id is not None}
        self._configs = configs
        self._modes = {b.id: b.phone_mode for b in businesses if b.id is not None}
        self._by_number = {b.phone_number: b.id for b in businesses if b.phone_number and b.id is not None}
        self._first = min(configs) if configs else None

    def _remember(self, business_id: int, config: BusinessConfig, mode: PhoneMode) -> None:
        """One business, as a call just read it."""
        self._configs = {**self._configs, business_id: config}
        self._modes = {**self._modes, business_id: mode}
        numbers = {number: known for number, known in self._by_number.items() if known != business_id}
        if config.phone_number:
            numbers[config.phone_number] = business_id
        self._by_number = numbers
        if self._first is None or business_id < self._first:
            self._first = business_id

    def _read(self, opening: CallOpening) -> CallContext:
        with Session(get_engine(self._database_url, self._timeouts)) as session:
            callback = session.get(Callback, opening.callback_id) if opening.callback_id else None
            # An outbound call dials from the business's number; the business is the one that promised.
            chosen = callback.business_id if callback else opening.business_id
            business = session.get(Business, chosen) if chosen else find_business(session, opening.dialed_number)
            if business is None or business.id is None:
                raise ApplicationError(f"business {chosen} does not exist", type="UnknownBusiness", non_retryable=True)
            kept = (
                CallbackContext(
                    callback_id=callback.id,
                    callback_workflow_id=opening.callback_workflow_id or callback.workflow_id or "",
                    reason=callback.reason,
                    promised_at=callback.created_at,
                )
                if callback and callback.id is not None
                else None
            )
            config = BusinessConfig.model_validate(business.config)
            self._remember(business.id, config, business.phone_mode)
            returning = (
                returning_caller(session, business.id, config, opening.caller_number, opening.started_at)
                if opening.direction == Direction.INCOMING
                else None
            )
            context = self._records.context(
                business.id, config, opening, kept, returning=returning, phone_mode=business.phone_mode
            )
            if opening.writes_call_row:
                context.call_row_written = _wrote_call_row(session, opening, business.id)
            return context

    def _remembered(self, opening: CallOpening) -> CallContext:
        business_id = self._remembered_id(opening)
        if business_id is None:
            return self._records.context(0, unknown_business(), opening, knowledge=BusinessKnowledge.UNKNOWN)
        return self._records.context(
            business_id,
            self._configs[business_id],
            opening,
            knowledge=BusinessKnowledge.REMEMBERED,
            phone_mode=self._modes.get(business_id, PhoneMode.TELNYX_SPEECH),
        )

    def _remembered_id(self, opening: CallOpening) -> int | None:
        if opening.business_id is not None:
            return opening.business_id if opening.business_id in self._configs else None
        if opening.callback_id is not None:
            # An outbound call's own number is its business's.
            return self._by_number.get(opening.caller_number or "")
        if not opening.dialed_number:
            return self._first  # as `find_business`
        # Unlike `find_business`, a number this worker does not know is not the first business's:
        # it may be a business added since the worker last read them, whose callers must not hear another's name.
        return self._by_number.get(opening.dialed_number)


def _wrote_call_row(session: Session, opening: CallOpening, business_id: int) -> bool:
    """The call's row, in the session that read its business; False: the workflow writes it (`open_call`)."""
    try:
        add_call_row(session, opening, business_id)
    except SQLAlchemyError as error:
        session.rollback()
        log.warning("the call's row was not written with its business: the call writes it", error=str(error))
        return False
    return True
