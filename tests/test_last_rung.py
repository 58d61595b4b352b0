"""The last rung (issue 10): with Temporal down, the API answers a call itself, promises a call-back,
keeps the promise in its outbox, and hands it to Temporal once Temporal is back.

The damage is done for real: two API processes behind a round-robin balancer, a worker, and a
Temporal dev server of this test's own, which the test stops before the call and starts again on
the same database file afterwards. The caller is the Telnyx simulator, which redelivers refused
webhooks as Telnyx does and records every command it received and every sentence it played.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from api.business_names import BusinessNames
from api.last_rung_outbox import PromiseOutbox
from database.engine import get_engine
from database.models import Call, Callback, ErrorLog
from domain.vocabulary import CallbackStatus, CallOutcome, FallbackLevel
from simulator.call_script import CallScript
from simulator.telnyx.records import SimulatedCall
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, sign_webhook, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from tests.businesses import closed_now, store_business
from tests.conftest import ManagedProcess, free_port
from tests.outages import RoundRobinBalancer, TemporalDevServer
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id
from workflows.last_rung_promise import last_rung_callback_workflow_id, last_rung_workflow_id

pytestmark = pytest.mark.database

GRACE_SECONDS = 3.0
DELIVERY_TIMEOUT_SECONDS = 1.0
# A business of this test's own, closed whenever the test runs: the promised call-back waits for
# its opening, so it stays pending (and nobody is dialled) while the test looks at it.
NUMBER = "+15555550131"
BUSINESS = "Closed Now Dental"
PROMISE = (
    f"Thank you for calling {BUSINESS}. We can't take your call right now, "
    "but we have your number and we'll call you back. Goodbye!"
)


@dataclass
class OutageStack:
    temporal: TemporalDevServer
    apis: list[ManagedProcess]
    outboxes: list[Path]
    balancer: RoundRobinBalancer
    simulator: TelnyxSimulatorServer
    signing_seed: str
    database_url: str

    @property
    def webhook_url(self) -> str:
        return f"{self.balancer.url}/api/telnyx/voice-handler"

    def api_url(self, api: ManagedProcess) -> str:
        return f"http://127.0.0.1:{api.port}"


@contextmanager
def outage_stack(tmp_path: Path, database_url: str) -> Iterator[OutageStack]:
    """Temporal (running), a worker, two API replicas with an outbox each, a balancer, the simulator."""
    logs = tmp_path / "logs"
    logs.mkdir()
    temporal = TemporalDevServer(tmp_path / "temporal.db", logs / "temporal.log")
    ports = [free_port(), free_port()]
    seed, public_key = generate_signing_key()
    with ExitStack() as stack:
        temporal.start()
        stack.callback(temporal.stop)
        balancer = stack.enter_context(RoundRobinBalancer([f"http://127.0.0.1:{port}" for port in ports]))
        simulator = stack.enter_context(
            TelnyxSimulatorServer(
                TelnyxSimulator(
                    f"{balancer.url}/api/telnyx/voice-handler",
                    signing_key_from_b64(seed),
                    # The promise plays for seconds, as spoken: time for the other replica to answer too.
                    speech_seconds_per_char=0.03,
                    caller_pause_seconds=0.25,
                )
            )
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "LAST_"))},
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal.address,
            "TEMPORAL_TASK_QUEUE": "cloudgreet-tests-last-rung",
            "TELNYX_API_KEY": "test-key",
            "TELNYX_PUBLIC_KEY": public_key,
            "TELNYX_BASE_URL": simulator.base_url,
            "TELNYX_CONNECTION_ID": "test-connection",
            "LAST_RUNG_GRACE_SECONDS": str(GRACE_SECONDS),
            "TEMPORAL_DELIVERY_TIMEOUT_SECONDS": str(DELIVERY_TIMEOUT_SECONDS),
            "PYTHONUNBUFFERED": "1",
        }
        python = [sys.executable, "-m", "cloudgreet.cli"]
        worker = ManagedProcess("worker", [*python, "worker"], env, logs / "worker.log")
        outboxes = [tmp_path / f"outbox-{name}" for name in ("a", "b")]
        apis = [
            ManagedProcess(
                f"api-{name}",
                [*python, "api", "--port", str(port)],
                {**env, "LAST_RUNG_DIR": str(outbox)},
                logs / f"api-{name}.log",
                port=port,
            )
            for name, port, outbox in zip(("a", "b"), ports, outboxes, strict=True)
        ]
        for process in (worker, *apis):
            process.start()
            stack.callback(process.stop)
        yield OutageStack(temporal, apis, outboxes, balancer, simulator, seed, database_url)


async def temporal_client(stack: OutageStack) -> Client:
    return await Client.connect(stack.temporal.address, data_converter=pydantic_data_converter)


def commands(call: SimulatedCall, action: str) -> list:
    return [c for c in call.commands if c.action == action]


def callbacks_of(database_url: str, call_id: str) -> list[Callback]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(Callback).where(Callback.call_id == call_id)).all())


def last_rung_counts(stack: OutageStack) -> Counter[str]:
    """cloudgreet_last_rung_total by step, summed over both API processes."""
    counts: Counter[str] = Counter()
    for api in stack.apis:
        text = httpx.get(f"{stack.api_url(api)}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "cloudgreet_last_rung_total":
                    counts[sample.labels["step"]] += int(sample.value)
    return counts


def redeliver(stack: OutageStack, call: SimulatedCall, event_type: str) -> list[httpx.Response]:
    """Telnyx delivering a webhook of the call late, once to each replica (the balancer takes turns)."""
    body = next(d.body for d in call.deliveries if d.event_type == event_type)
    raw = json.dumps(body, sort_keys=True)
    return [
        httpx.post(
            stack.webhook_url,
            content=raw,
            headers=sign_webhook(signing_key_from_b64(stack.signing_seed), raw, str(int(time.time()))),
            timeout=30,
        )
        for _ in stack.apis
    ]


async def test_with_temporal_down_the_api_answers_once_promises_a_call_back_and_hands_it_over(
    tmp_path: Path, database_url: str
) -> None:
    store_business(database_url, closed_now(NUMBER))
    with outage_stack(tmp_path, database_url) as stack:
        # Both replicas know the business's name (from the database, now on their disks) and have
        # talked to Temporal: the outage hits connected clients, as it would in production.
        for api, outbox in zip(stack.apis, stack.outboxes, strict=True):
            await eventually(lambda outbox=outbox: BusinessNames(outbox).name_for(NUMBER), bool, what="the names")
            async with httpx.AsyncClient(timeout=30) as http:
                assert (await http.get(f"{stack.api_url(api)}/api/health/ready")).status_code == 200

        stack.temporal.stop()
        # A dialable caller: a call-back is promised only to a number that can be called (business/callback_numbers.py).
        call = stack.simulator.place_call(
            CallScript(from_number="+12015550131", to_number=NUMBER, hang_up_at_end=False)
        )
        await stack.simulator.wait_ended(call, timeout=60)
        call_id = call.call_control_id

        # The caller heard the promise once, and the API hung up after it.
        assert [(line.speaker, line.text) for line in call.conversation] == [("agent", PROMISE)]
        assert call.hangup_source == "callee"
        for action in ("answer", "speak", "hangup"):
            taken = [c for c in commands(call, action) if c.status_code == 200 and not c.duplicate]
            assert len(taken) == 1, f"{action}: {commands(call, action)}"
        # Both replicas answered, with the same command_ids: the second answer was ignored.
        assert any(c.duplicate for c in commands(call, "answer")), commands(call, "answer")
        assert {c.body["command_id"] for c in call.commands} == {
            "last-rung/answer",
            "last-rung/promise",
            "last-rung/hang-up",
        }
        # Not before the grace period, and long before the caller would have given up.
        rang = next(d.sent_at for d in call.deliveries if d.event_type == "call.initiated")
        answered = commands(call, "answer")[0].received_at
        assert GRACE_SECONDS - 0.1 <= answered - rang < GRACE_SECONDS + DELIVERY_TIMEOUT_SECONDS + 10
        # Refused while it rang (Telnyx redelivered), acknowledged from the answer on.
        first_ok = next(i for i, d in enumerate(call.deliveries) if d.status_code == 200)
        assert all(d.status_code == 503 for d in call.deliveries[:first_ok])
        assert all(d.status_code == 200 for d in call.deliveries[first_ok:]), [
            (d.event_type, d.status_code) for d in call.deliveries
        ]

        # Each replica's outbox holds the promise, on disk, not yet handed over.
        for outbox in stack.outboxes:
            held = PromiseOutbox(outbox)
            assert [p.call_control_id for p in held.waiting()] == [call_id]
            assert held.waiting()[0].caller_number == call.from_number
        assert callbacks_of(database_url, call_id) == []

        stack.temporal.start()
        # One pending call-back in the database, one CallbackWorkflow keeping it.
        pending = await eventually(
            lambda: callbacks_of(database_url, call_id), bool, timeout=60, what="the call-back on record"
        )
        assert [(c.status, c.caller_number) for c in pending] == [(CallbackStatus.PENDING, call.from_number)]
        for outbox in stack.outboxes:
            await eventually(
                lambda outbox=outbox: PromiseOutbox(outbox).handed_over_at(call_id), bool, what="the hand-over"
            )
        client = await temporal_client(stack)
        callback_id = last_rung_callback_workflow_id(call_id)
        # The only CallbackWorkflow of this Temporal server (its listing lags a little behind).
        keeping = await eventually(
            lambda: client.count_workflows("WorkflowType = 'CallbackWorkflow'"),
            lambda counted: counted.count > 0,
            what="the CallbackWorkflow listed",
        )
        assert keeping.count == 1
        description = await client.get_workflow_handle(callback_id).describe()
        assert (description.workflow_type, description.status) == ("CallbackWorkflow", WorkflowExecutionStatus.RUNNING)
        assert pending[0].workflow_id == callback_id
        handed = await client.get_workflow_handle(last_rung_workflow_id(call_id)).result()
        assert handed == callback_id
        with Session(get_engine(database_url)) as session:
            record = session.get(Call, call_id)
            assert (record.outcome, record.fallback_level) == (CallOutcome.MESSAGE, FallbackLevel.CALLBACK_PROMISE)
            cause = session.exec(select(ErrorLog).where(ErrorLog.call_id == call_id)).one()
            assert cause.source == "last_rung"

        # Late webhooks of the call, with Temporal back, are acknowledged and never become a call workflow.
        for event_type in ("call.initiated", "call.speak.ended", "call.hangup"):
            for response in redeliver(stack, call, event_type):
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "answered_by_api"
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(call_workflow_id(call_id)).describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND
        assert len(callbacks_of(database_url, call_id)) == 1

        counts = last_rung_counts(stack)
        assert counts["promise_recorded"] == 2 and counts["answered"] == 2, counts
        assert counts["handed_over"] == 2 and counts["hung_up"] >= 1, counts
