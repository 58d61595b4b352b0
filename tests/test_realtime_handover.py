"""A Realtime-mode line whose number is on our Telnyx Call Control application: the call is transferred to
OpenAI's SIP endpoint (OPENAI_PROJECT_ID) with the number dialled in a SIP header, and nothing is spoken
by Telnyx speech; without a project id the caller is answered with Telnyx speech as before.

The whole path is real (simulator -> API -> Temporal -> worker -> simulator, the telnyx SDK, the database);
the simulator plays OpenAI's SIP endpoint as a far end that answers the transfer.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Call, ErrorLog
from domain.vocabulary import CallOutcome, CallStatus, PhoneMode
from runtime.realtime_sip import dialed_number_headers
from simulator.call_script import CallerLine, CallScript
from simulator.fake_openai.server import FakeOpenAIServer
from simulator.telnyx.sip_far_end import SipFarEnd, SipInvite
from tests.conftest import Stack, running_stack
from tests.in_process import SECRET_KEY
from tests.test_phone_call import finished_workflow, place, spoken
from tests.test_realtime_sip import SECRET, agent_said, fake_call, hang_up, realtime_business
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

PROJECT_ID = "proj_cloudgreetTests01"
REALTIME_URI = f"sip:{PROJECT_ID}@sip.api.openai.com;transport=tls"


@pytest.fixture(scope="module")
def handover_stack(temporal, database_url, fake_llm, tmp_path_factory) -> Iterator[Stack]:
    """The phone path with a worker that knows the OpenAI project whose SIP URI Realtime lines go to."""
    with running_stack(
        temporal,
        database_url,
        fake_llm,
        tmp_path_factory.mktemp("logs"),
        name="handover",
        llm=True,
        # The API takes OpenAI's webhook for the calls the transfer sends there (the end-to-end test).
        extra_env={"OPENAI_PROJECT_ID": PROJECT_ID, "OPENAI_WEBHOOK_SECRET": SECRET},
    ) as the_stack:
        yield the_stack


def script_to(number: str) -> CallScript:
    return CallScript(to_number=number, lines=[CallerLine(text="Hi, I'd like a cleaning.")], transfer_talk_seconds=0.2)


async def test_a_call_to_a_realtime_line_is_transferred_to_openai_with_the_number_dialled(
    handover_stack: Stack,
) -> None:
    config = realtime_business(handover_stack)
    assert config.phone_number
    call = await place(handover_stack, script_to(config.phone_number))
    summary = await finished_workflow(handover_stack, call)

    assert (summary.status, summary.outcome) == (CallStatus.ENDED, CallOutcome.HANDED_TO_REALTIME)
    [transfer] = [c for c in call.commands if c.action == "transfer"]
    assert transfer.status_code == 200
    assert transfer.body["to"] == REALTIME_URI
    # The number dialled, signed with SECRET_KEY: the webhook believes no such header a stranger wrote.
    assert transfer.body["custom_headers"] == dialed_number_headers(SecretStr(SECRET_KEY), config.phone_number)
    # The caller's number shown to OpenAI, verified by the inbound call to the number dialled.
    assert (transfer.body["from"], transfer.body["diversion"]) == (call.from_number, config.phone_number)
    assert [c.action for c in call.commands] == ["transfer"], "not answered, nothing spoken by Telnyx speech"
    assert spoken(call) == []
    [attempt] = call.transfers
    assert (attempt.to, attempt.outcome, attempt.bridged) == (REALTIME_URI, "answered", True)

    def record() -> Call | None:
        with Session(get_engine(handover_stack.database_url)) as session:
            return session.get(Call, call.call_control_id)

    row = await eventually(record, lambda r: r is not None and r.outcome is not None, what="the call's record")
    assert row is not None
    assert (row.status, row.outcome) == (CallStatus.ENDED, CallOutcome.HANDED_TO_REALTIME)


async def test_a_telnyx_speech_line_on_the_same_worker_is_answered_as_before(handover_stack: Stack) -> None:
    config = realtime_business(handover_stack, mode=PhoneMode.TELNYX_SPEECH)
    assert config.phone_number
    call = await place(handover_stack, script_to(config.phone_number))
    await answered_by_telnyx_speech(handover_stack, call)


async def test_without_a_project_id_a_realtime_line_is_answered_with_telnyx_speech_and_the_reason_kept(
    stack: Stack,
) -> None:
    config = realtime_business(stack)
    assert config.phone_number
    call = await place(stack, script_to(config.phone_number))
    await answered_by_telnyx_speech(stack, call)

    def errors() -> list[ErrorLog]:
        with Session(get_engine(stack.database_url)) as session:
            return list(session.exec(select(ErrorLog).where(ErrorLog.call_id == call.call_control_id)).all())

    logged = await eventually(errors, lambda e: any(x.source == "telnyx.realtime-handover" for x in e), what="why")
    [why] = [e for e in logged if e.source == "telnyx.realtime-handover"]
    assert "OPENAI_PROJECT_ID" in why.message


async def answered_by_telnyx_speech(stack: Stack, call) -> None:
    """The call ended as Telnyx speech answers one: answered, greeted, never transferred to OpenAI."""
    summary = await finished_workflow(stack, call)
    assert summary.status == CallStatus.ENDED and summary.outcome != CallOutcome.HANDED_TO_REALTIME
    actions = [c.action for c in call.commands]
    assert actions[0] == "answer" and "transfer" not in actions
    assert spoken(call), "greeted and answered by Telnyx speech: the caller is never left in silence"


def openai_sip_endpoint(fake: FakeOpenAIServer, api_url: str, rung: list[str]) -> SipFarEnd:
    """OpenAI's SIP endpoint as the transfer's far end: the fake makes the call and posts the signed webhook
    to our API, and the INVITE is answered once the call is accepted (declined if rejected)."""

    async def answer(invite: SipInvite) -> bool:
        async with httpx.AsyncClient(timeout=30) as client:
            made = await client.post(
                f"{fake.url}/_fake/realtime/sip/incoming",
                json={
                    "webhook_url": f"{api_url}/api/openai/webhooks",
                    "secret": SECRET,
                    "from_number": invite.from_number,
                    "to_uri": invite.to_uri,
                    "headers": invite.headers,
                },
            )
        call_id = made.json()["call_id"]
        rung.append(call_id)
        status = await eventually(
            lambda: fake_call(fake, call_id)["sip_status"], lambda s: s != "ringing", what="OpenAI's answer"
        )
        return bool(status == "accepted")

    return answer


async def test_the_transfer_reaches_openai_whose_webhook_starts_the_realtime_call_of_the_line(
    handover_stack: Stack, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(handover_stack)
    assert config.phone_number
    rung: list[str] = []
    handover_stack.simulator.simulator.sip_far_ends["sip.api.openai.com"] = openai_sip_endpoint(
        fake_realtime, handover_stack.api_url, rung
    )
    try:
        script = CallScript(to_number=config.phone_number, transfer_talk_seconds=10, max_call_seconds=30)
        call = handover_stack.simulator.place_call(script)
        await eventually(lambda: list(rung), bool, what="OpenAI's SIP endpoint rung by the transfer")
        telnyx_summary = await finished_workflow(handover_stack, call)
        assert telnyx_summary.outcome == CallOutcome.HANDED_TO_REALTIME
        [call_id] = rung

        # OpenAI's call, announced by its webhook, is answered by its own workflow with the business's session.
        assert fake_call(fake_realtime, call_id)["sip_status"] == "accepted"
        said = await eventually(lambda: agent_said(fake_realtime, call_id), bool, what="the model's greeting")
        assert said[0].startswith("Thank you for calling Harbour Dental.")
        await hang_up(fake_realtime, call_id)
        handle = handover_stack.temporal_client.get_workflow_handle(call_workflow_id(call_id))
        summary = await handle.result()
        assert summary["status"] == CallStatus.ENDED
        await handover_stack.simulator.wait_ended(call, 30)
    finally:
        handover_stack.simulator.simulator.sip_far_ends.clear()

    with Session(get_engine(handover_stack.database_url)) as session:
        realtime = session.get(Call, call_id)
        assert realtime is not None
        # The line found by the header (the To is the project's URI); the caller by the From the transfer set.
        assert (realtime.dialed_number, realtime.caller_number) == (config.phone_number, call.from_number)
        telnyx_row = session.get(Call, call.call_control_id)
        assert telnyx_row is not None and telnyx_row.outcome == CallOutcome.HANDED_TO_REALTIME


async def test_a_transfer_openai_declines_leaves_the_caller_to_be_answered_with_telnyx_speech(
    handover_stack: Stack,
) -> None:
    config = realtime_business(handover_stack)
    assert config.phone_number

    async def declines(invite: SipInvite) -> bool:
        return False  # a SIP error to the INVITE: the leg ends, the caller still rings on our line

    handover_stack.simulator.simulator.sip_far_ends["sip.api.openai.com"] = declines
    try:
        call = await place(handover_stack, script_to(config.phone_number))
        summary = await finished_workflow(handover_stack, call)
    finally:
        handover_stack.simulator.simulator.sip_far_ends.clear()

    assert summary.status == CallStatus.ENDED and summary.outcome != CallOutcome.HANDED_TO_REALTIME
    actions = [c.action for c in call.commands]
    assert actions[:2] == ["transfer", "answer"], "tried OpenAI first, then answered"
    [attempt] = call.transfers
    assert attempt.outcome != "answered" and not attempt.bridged
    assert spoken(call), "the caller is answered with Telnyx speech, never left in silence"
