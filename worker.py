"""The worker: runs call workflows and their activities on the task queue named in the settings."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import openai
import structlog
import telnyx
from sqlalchemy.exc import OperationalError
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.appointments import AppointmentActivities
from activities.booking_codes import BookingCodes
from activities.business_directory import BusinessDirectory
from activities.calendar_schedules import keep_every_calendar_schedule
from activities.calendar_sync import CalendarSync
from activities.call_recordings import CallRecordings
from activities.call_records import CallRecords
from activities.caller_memory import CallerMemories
from activities.caller_reply import CallerReplies
from activities.follow_ups import CallbackCaps, FollowUps
from activities.llm_circuit import LLMCircuit
from activities.owed_callbacks import OwedCallbacks
from activities.realtime_calls import RealtimeCalls
from activities.reply_playback import ReplyPlayback
from activities.satisfaction_surveys import SatisfactionSurveys
from activities.telnyx_commands import TelnyxCommands
from database.migrate import upgrade_database
from runtime.activity_log_context import LogContextInterceptor
from runtime.call_cost import CallPrices
from runtime.collector import collect_from_here, hold_collector
from runtime.heartbeats import KeepAliveHeartbeats
from runtime.metrics import serve_worker_metrics
from runtime.settings import Settings, get_settings
from runtime.temporal_connection import connect_temporal, ensure_search_attributes
from runtime.tracing import start_tracing
from runtime.workflow_sandbox import workflow_runner
from workflows.registry import WORKER_WORKFLOWS

STICKY_QUEUE_TIMEOUT = timedelta(seconds=1)


class WorkerConfigurationError(RuntimeError):
    pass


def telnyx_client(settings: Settings) -> telnyx.AsyncTelnyx:
    if not settings.telnyx_api_key:
        raise WorkerConfigurationError("TELNYX_API_KEY is not set: the worker cannot send call commands")
    # Retries belong to the activities' retry policies, where Temporal records them.
    return telnyx.AsyncTelnyx(api_key=settings.telnyx_api_key, base_url=settings.telnyx_base_url, max_retries=0)


def llm_client(settings: Settings) -> openai.AsyncOpenAI | None:
    if not settings.openai_api_key:
        return None
    return openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=0)


async def build_worker(settings: Settings, runtime: Runtime | None = None) -> Worker:
    client = await connect_temporal(settings, runtime)
    await ensure_search_attributes(client, settings.temporal_namespace)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKER_WORKFLOWS,
        activities=call_activities(settings),
        # Every activity's log lines carry its call and workflow ids; those with a heartbeat timeout
        # heartbeat while they run, so a dead worker's activities move on after that timeout.
        interceptors=[LogContextInterceptor(), KeepAliveHeartbeats()],
        workflow_runner=workflow_runner(),  # our deterministic packages imported once, not per call
        # A killed worker's calls move to another worker after this long, not the default 10 s: the
        # caller's next words wait it out. A living worker polls its sticky queue all the time, so
        # only one stalled for a second loses its cached calls (and replays them, milliseconds each).
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
        # Heartbeats carry barge-in cancellations back to a speaking reply: send them often.
        max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        graceful_shutdown_timeout=timedelta(seconds=5),
        # A call's `hear_reply` waits seconds for the end of its speech, awaiting the API, not using the CPU:
        # the SDK's default of 100 activity slots would make a busy worker's replies queue behind them.
        max_concurrent_activities=2000,
    )


def call_activities(settings: Settings) -> list:
    telnyx_commands = TelnyxCommands(
        telnyx_client(settings),
        settings.telnyx_connection_id,
        settings.secret_key,
        realtime_sip_uri=settings.realtime_sip_uri,
    )
    replies = CallerReplies(
        telnyx_client(settings),
        llm_client(settings),
        model=settings.openai_model,
        first_sentence_timeout=settings.llm_first_sentence_timeout_seconds,
        database_url=settings.database_url,
        llm_circuit=LLMCircuit(failures=settings.llm_circuit_failures, open_seconds=settings.llm_circuit_open_seconds),
        playback=ReplyPlayback(settings.api_internal_url, settings.secret_key) if settings.api_internal_url else None,
    )
    records = CallRecords(
        settings.database_url,
        memories=CallerMemories(settings.database_url, llm_client(settings), model=settings.openai_model),
        llm_configured=settings.llm_configured,
        turn_deadline_seconds=settings.turn_deadline_seconds,
        transfer_ring_seconds=settings.transfer_ring_seconds,
        prices=CallPrices.from_settings(settings),
    )
    follow_ups = FollowUps(
        settings.database_url,
        callback_max_attempts=settings.callback_max_attempts,
        callback_retry_spacing_seconds=settings.callback_retry_minutes * 60,
        ring_seconds=settings.transfer_ring_seconds,
        callback_caps=CallbackCaps(
            per_call=settings.callbacks_per_call,
            per_caller_per_day=settings.callbacks_per_caller_per_day,
            per_business_per_hour=settings.callbacks_per_business_per_hour,
        ),
    )
    appointments = AppointmentActivities(settings.database_url, timedelta(hours=settings.demo_booking_hours))
    booking_codes = BookingCodes(settings.database_url, telnyx_commands)
    owed_callbacks = OwedCallbacks(settings.database_url)
    surveys = SatisfactionSurveys(settings.database_url)
    directory = BusinessDirectory(
        settings.database_url,
        records,
        refresh_seconds=settings.business_refresh_seconds,
        owed_callbacks=owed_callbacks,
    )
    calendars = CalendarSync(
        settings.database_url, settings.secret_key.get_secret_value() if settings.secret_key else None
    )
    realtime_calls = RealtimeCalls(
        llm_client(settings),
        settings.database_url,
        model=settings.realtime_model,
        transcription_model=settings.realtime_transcription_model,
        voice=settings.realtime_voice,
    )
    return [
        directory.know_call,
        realtime_calls.find_realtime_line,
        realtime_calls.accept_realtime_call,
        realtime_calls.reject_realtime_call,
        realtime_calls.refer_realtime_call,
        realtime_calls.hang_up_realtime_call,
        realtime_calls.keep_control_channel,
        telnyx_commands.answer_call,
        telnyx_commands.speak,
        telnyx_commands.start_transcription,
        telnyx_commands.stop_transcription,
        telnyx_commands.stop_speaking,
        telnyx_commands.transfer_call,
        telnyx_commands.transfer_to_realtime,
        telnyx_commands.dial_caller,
        telnyx_commands.dial_on_call,
        telnyx_commands.bridge_calls,
        telnyx_commands.send_text_message,
        telnyx_commands.hang_up,
        telnyx_commands.start_recording,
        CallRecordings(settings.database_url).keep_recording,
        surveys.decide_survey,
        surveys.mark_survey,
        replies.reply_to_caller,
        replies.speculate_reply,
        replies.hear_reply,
        replies.say_followed,
        records.open_call,
        records.mark_call_status,
        records.record_turn,
        records.close_call,
        records.record_error,
        follow_ups.open_escalation,
        follow_ups.record_transfer_attempt,
        follow_ups.close_escalation,
        follow_ups.schedule_callback,
        follow_ups.begin_callback_attempt,
        follow_ups.update_callback,
        follow_ups.claim_pending_callbacks,
        follow_ups.set_fallback_level,
        appointments.find_free_times,
        appointments.book_appointment,
        appointments.move_appointment,
        appointments.cancel_appointment,
        appointments.look_up_appointment,
        booking_codes.text_booking_code,
        owed_callbacks.sort_pending_callbacks,
        owed_callbacks.settle_owed_callbacks,
        calendars.calendar_sync_state,
        calendars.read_calendar,
        calendars.keep_calendar_busy_times,
        calendars.follow_calendar,
        calendars.write_calendar_event,
        calendars.delete_calendar_event,
        calendars.record_calendar_sync,
    ]


async def run_worker(settings: Settings) -> None:
    try:
        await asyncio.to_thread(upgrade_database, settings.database_url)
    except OperationalError as error:
        # Calls are answered without the database (README, "A call never waits for the records
        # database"): a worker that starts during an outage serves them; `cloudgreet migrate` migrates.
        structlog.get_logger(__name__).warning("database unreachable at start: not migrated", error=repr(error))
    start_tracing(settings, "cloudgreet-worker")
    # Prometheus on METRICS_PORT: CloudGreet's metrics and, through this runtime, the Temporal SDK's.
    runtime = serve_worker_metrics(settings.metrics_port) if settings.metrics_port else None
    worker = await build_worker(settings, runtime)
    collect_from_here()  # the workflows are validated and the worker built: what exists now stays
    await keep_calendar_schedules(worker, settings)
    shutting_down = shut_down_on_termination(worker)
    await worker.run()
    await asyncio.gather(*shutting_down)


def shut_down_on_termination(worker: Worker) -> set[asyncio.Task]:
    """SIGTERM (a deploy, `docker stop`, a service manager) shuts the worker down as Ctrl-C does, not at
    once: it takes no new task, and the replies it is speaking get `graceful_shutdown_timeout` to end
    before their calls move to another worker, so their callers hear no gap. Python's own answer to
    SIGTERM ends the process mid-sentence."""
    shutting_down: set[asyncio.Task] = set()

    def shut_down() -> None:
        structlog.get_logger(__name__).info("SIGTERM: shutting down, letting the replies in flight end")
        shutting_down.add(asyncio.create_task(worker.shutdown()))

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, shut_down)
    return shutting_down


async def keep_calendar_schedules(worker: Worker, settings: Settings) -> None:
    """Every linked calendar has its sync schedule, one linked while Temporal was away included."""
    from sqlmodel import Session

    from database.calendar_store import linked_businesses
    from database.engine import get_engine

    def linked() -> list[int]:
        with Session(get_engine(settings.database_url)) as session:
            return linked_businesses(session)

    try:
        business_ids = await asyncio.to_thread(linked)
    except OperationalError as error:
        structlog.get_logger(__name__).warning(
            "database unreachable: calendar schedules not checked", error=repr(error)
        )
        return
    every = timedelta(seconds=settings.calendar_sync_seconds)
    try:
        await keep_every_calendar_schedule(worker.client, business_ids, settings.temporal_task_queue, every)
    except RPCError as error:  # calls come first: the worker serves them, and the next start checks again
        structlog.get_logger(__name__).warning("calendar schedules not checked", error=repr(error))


def main() -> None:
    from runtime.logs import configure_logging

    hold_collector()  # until the worker is built (runtime/collector.py)
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
