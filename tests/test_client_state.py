"""A client_state we did not sign routes nothing: forged tags on a transfer leg's events or on a dialled call-back.

Each forged event comes the way Telnyx would deliver it (a webhook with a good Telnyx signature),
so only the tag inside is false: unsigned (as tags were before they were signed), signed with
another key, or a genuine signature over a changed tag. The API acknowledges each (200, so Telnyx
does not redeliver it), routes it to no call, counts and logs it; the call it names hears nothing.
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType

from database.engine import get_engine
from database.models import Call, Callback
from runtime.client_state import sign_client_state
from simulator.call_script import CallScript
from tests.businesses import closed_now, store_business
from tests.in_process import SECRET_KEY
from tests.records import fresh_number
from tests.test_metrics import sample, scrape
from tests.test_phone_call import finished_workflow
from tests.test_webhook_input import reference_event, signed_headers, workflow_exists
from tests.waiting import eventually
from workflows.call_messages import CallbackDial, TransferLeg, call_workflow_id, client_state_tag
from workflows.callback import CallbackWorkflow

pytestmark = pytest.mark.database

OUR_KEY = SecretStr(SECRET_KEY)  # the stack's SECRET_KEY
ANOTHER_KEY = SecretStr("someone-elses-key-0123456789-abcdefghijkl")
REFUSED_METRIC = "cloudgreet_client_states_refused_total"


def unsigned(tag: TransferLeg | CallbackDial) -> str:
    """A tag as client_state carried it before it was signed: base64 of its text."""
    return base64.b64encode(client_state_tag(tag).encode()).decode()


def tampered(tag: TransferLeg | CallbackDial, genuine_for: TransferLeg | CallbackDial) -> str:
    """Our genuine signature over one tag, with the tag changed to another."""
    genuine = base64.b64decode(sign_client_state(OUR_KEY, client_state_tag(genuine_for))).decode()
    wanted = base64.b64decode(sign_client_state(ANOTHER_KEY, client_state_tag(tag))).decode()
    payload = wanted.rsplit(".", 2)[0]
    return base64.b64encode(".".join([payload, *genuine.rsplit(".", 2)[1:]]).encode()).decode()


def forgeries(tag: TransferLeg | CallbackDial, genuine_for: TransferLeg | CallbackDial) -> dict[str, str]:
    return {
        "unsigned": unsigned(tag),
        "another key": sign_client_state(ANOTHER_KEY, client_state_tag(tag)),
        "tampered": tampered(tag, genuine_for),
    }


def webhook(event_type: str, call_control_id: str, client_state: str, **payload: object) -> dict:
    body = reference_event(event_type, call_control_id)
    body["data"]["payload"].update(client_state=client_state, **payload)
    return body


async def deliver(stack, body: dict) -> httpx.Response:
    raw = json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        return await api.post("/api/telnyx/voice-handler", content=raw, headers=signed_headers(stack.signing_seed, raw))


async def signalled_event_ids(stack, workflow_id: str) -> set[str]:
    history = await stack.temporal_client.get_workflow_handle(workflow_id).fetch_history()
    ids = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            for payload in event.workflow_execution_signaled_event_attributes.input.payloads:
                data = json.loads(payload.data)  # one event, or several the API sent together
                ids.update(webhook.get("event_id") for webhook in (data if isinstance(data, list) else [data]))
    return ids


async def refusals_counted(stack) -> dict[str, float]:
    text = await scrape(f"{stack.api_url}/metrics")
    return {reason: sample(text, REFUSED_METRIC, reason=reason) for reason in ("unsigned", "bad_signature")}


async def test_forged_transfer_leg_events_reach_no_call_and_a_signed_one_does(offline_stack):
    stack = offline_stack
    counted_before = await refusals_counted(stack)
    call = stack.simulator.place_call(
        CallScript(lines=["What are your hours?", "Where are you?", "Do you do whitening?"], caller_pause_seconds=1.0)
    )
    workflow_id = call_workflow_id(call.call_control_id)
    await eventually(
        lambda: stack.temporal_client.get_workflow_handle(workflow_id).describe(),
        lambda described: described.status.name == "RUNNING",
        what="the call is under way",
    )
    leg = TransferLeg(parent_call_control_id=call.call_control_id, escalation=1, attempt=1)
    someone_elses = TransferLeg(parent_call_control_id=f"v3:someone-else-{uuid.uuid4().hex}", escalation=1, attempt=1)

    forged: dict[str, tuple[str, dict]] = {}
    for name, client_state in forgeries(leg, someone_elses).items():
        leg_id = f"v3:forged-leg-{uuid.uuid4().hex}"
        body = webhook("call.hangup", leg_id, client_state, hangup_cause="timeout")
        forged[name] = (leg_id, body)
        response = await deliver(stack, body)
        assert (response.status_code, response.json()["status"]) == (200, "refused"), (name, response.text)
    # The control: the same event with a tag we signed reaches the call it names.
    genuine = webhook(
        "call.hangup", f"v3:genuine-leg-{uuid.uuid4().hex}", sign_client_state(OUR_KEY, client_state_tag(leg))
    )
    response = await deliver(stack, genuine)
    assert (response.status_code, response.json()["status"]) == (200, "delivered"), response.text

    await stack.simulator.wait_ended(call, 60)
    summary = await finished_workflow(stack, call)
    assert (summary.status, summary.caller_turns) == ("ended", 3), "the call went on as if nothing happened"
    heard = await signalled_event_ids(stack, workflow_id)
    assert genuine["data"]["id"] in heard
    for name, (leg_id, body) in forged.items():
        assert body["data"]["id"] not in heard, f"the {name} tag reached the call"
        assert not await workflow_exists(stack, leg_id), f"the {name} tag started a call of its own"
    counted = await refusals_counted(stack)
    assert counted["unsigned"] - counted_before["unsigned"] == 1
    assert counted["bad_signature"] - counted_before["bad_signature"] == 2  # another key, and tampered
    assert "webhook refused: client_state not signed by us" in stack.api.log()


async def test_a_forged_call_back_tag_dials_into_no_call_and_leaves_the_promise_as_it_was(offline_stack):
    stack = offline_stack
    number = fresh_number()
    store_business(stack.database_url, closed_now(number).model_copy(update={"name": "Forgery Dental"}))
    caller = f"+12015{uuid.uuid4().int % 10**6:06d}"
    message = CallScript(
        from_number=caller,
        to_number=number,
        lines=["Can you take a message? Please call me back about a filling.", "Thanks, bye"],
    )
    call = stack.simulator.place_call(message)
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)
    with Session(get_engine(stack.database_url)) as session:
        [promise] = session.exec(select(Callback).where(Callback.caller_number == caller)).all()
    assert promise.status == "pending", "waiting for the practice to open"
    tag = CallbackDial(callback_id=promise.id, callback_workflow_id=promise.workflow_id)
    other = CallbackDial(callback_id=promise.id + 1000, callback_workflow_id=f"callback-someone-else-{uuid.uuid4()}")
    try:
        forged_ids = []
        for name, client_state in forgeries(tag, other).items():
            dialled = f"v3:forged-dial-{uuid.uuid4().hex}"
            forged_ids.append(dialled)
            for event_type, payload in [
                ("call.initiated", {"direction": "outgoing", "from": number, "to": caller}),
                ("call.answered", {}),
                ("call.hangup", {"hangup_cause": "normal_clearing"}),
            ]:
                response = await deliver(stack, webhook(event_type, dialled, client_state, **payload))
                assert (response.status_code, response.json()["status"]) == (200, "refused"), (name, event_type)

        for dialled in forged_ids:
            assert not await workflow_exists(stack, dialled)
        with Session(get_engine(stack.database_url)) as session:
            assert session.exec(select(Call).where(Call.id.in_(forged_ids))).all() == []
            assert session.exec(select(Call).where(Call.callback_id == promise.id)).all() == []
            kept = session.get(Callback, promise.id)
        assert (kept.status, kept.attempts, kept.completed_at) == ("pending", 0, None)
        handle = stack.temporal_client.get_workflow_handle(promise.workflow_id)
        assert await handle.query(CallbackWorkflow.status) == "waiting"
        assert await signalled_event_ids(stack, promise.workflow_id) == set(), "no outcome reached the promise"
    finally:
        await stack.temporal_client.get_workflow_handle(promise.workflow_id).terminate("test over")
