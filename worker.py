"""The worker: runs call workflows and their activities on the task queue named in the settings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import openai
import telnyx
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.appointments import AppointmentBook
from activities.call_records import CallRecords
from activities.caller_reply import CallerReplies
from activities.follow_ups import FollowUps
from activities.telnyx_commands import TelnyxCommands
from cloudgreet.call_cost import CallPrices
from cloudgreet.logs import LogContextInterceptor
from cloudgreet.metrics import serve_worker_metrics
from cloudgreet.settings import Settings, get_settings
from cloudgreet.temporal_connection import connect_temporal, ensure_search_attributes
from database.migrate import upgrade_database
from workflows.call import CallWorkflow
from workflows.callback import CallbackWorkflow


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
        workflows=[CallWorkflow, CallbackWorkflow],
        activities=call_activities(settings),
        interceptors=[LogContextInterceptor()],  # every activity's log lines carry its call and workflow ids
        # A killed worker's calls move to another worker after this long, not the default 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        # Heartbeats carry barge-in cancellations back to a speaking reply: send them often.
        max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        graceful_shutdown_timeout=timedelta(seconds=5),
    )


def call_activities(settings: Settings) -> list:
    telnyx_commands = TelnyxCommands(telnyx_client(settings), settings.telnyx_connection_id)
    replies = CallerReplies(
        telnyx_client(settings),
        llm_client(settings),
        model=settings.openai_model,
        first_sentence_timeout=settings.llm_first_sentence_timeout_seconds,
        database_url=settings.database_url,
    )
    records = CallRecords(
        settings.database_url,
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
    )
    appointments = AppointmentBook(settings.database_url)
    return [
        telnyx_commands.answer_call,
        telnyx_commands.speak,
        telnyx_commands.start_transcription,
        telnyx_commands.stop_speaking,
        telnyx_commands.transfer_call,
        telnyx_commands.dial_caller,
        telnyx_commands.send_text_message,
        telnyx_commands.hang_up,
        replies.reply_to_caller,
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
    ]


async def run_worker(settings: Settings) -> None:
    await asyncio.to_thread(upgrade_database, settings.database_url)
    # Prometheus on METRICS_PORT: CloudGreet's metrics and, through this runtime, the Temporal SDK's.
    runtime = serve_worker_metrics(settings.metrics_port) if settings.metrics_port else None
    worker = await build_worker(settings, runtime)
    await worker.run()


def main() -> None:
    from cloudgreet.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
