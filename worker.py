"""The worker: runs call workflows and their activities on the task queue named in the settings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import openai
import telnyx
from temporalio.worker import Worker

from activities.call_records import CallRecords
from activities.caller_reply import CallerReplies
from activities.telnyx_commands import TelnyxCommands
from cloudgreet.settings import Settings, get_settings
from cloudgreet.temporal_connection import connect_temporal, ensure_search_attributes
from database.migrate import upgrade_database
from workflows.call import CallWorkflow


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


async def build_worker(settings: Settings) -> Worker:
    client = await connect_temporal(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    telnyx_commands = TelnyxCommands(telnyx_client(settings))
    replies = CallerReplies(
        telnyx_client(settings),
        llm_client(settings),
        model=settings.openai_model,
        database_url=settings.database_url,
        first_sentence_timeout=settings.llm_first_sentence_timeout_seconds,
    )
    records = CallRecords(
        settings.database_url,
        llm_configured=settings.llm_configured,
        turn_deadline_seconds=settings.turn_deadline_seconds,
    )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[CallWorkflow],
        activities=[
            telnyx_commands.answer_call,
            telnyx_commands.speak,
            telnyx_commands.start_transcription,
            telnyx_commands.stop_speaking,
            telnyx_commands.hang_up,
            replies.reply_to_caller,
            records.open_call,
            records.mark_call_status,
            records.close_call,
            records.record_error,
        ],
        # A killed worker's calls move to another worker after this long, not the default 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        graceful_shutdown_timeout=timedelta(seconds=5),
    )


async def run_worker(settings: Settings) -> None:
    await asyncio.to_thread(upgrade_database, settings.database_url)
    worker = await build_worker(settings)
    await worker.run()


def main() -> None:
    from cloudgreet.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
