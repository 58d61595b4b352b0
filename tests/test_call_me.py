"""The browser demo's "call me" (`POST /api/ai/call-me`) over real HTTP, with the real Temporal dev
server, the real database, and the real telnyx SDK dialling the strict fake Telnyx.

A visitor whose WebRTC cannot connect gives a number and consents; the business's line calls
them once, and the answered call is a normal `CallWorkflow` whose greeting the visitor hears.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle

from api.call_me import call_me_workflow_id
from database.engine import get_engine
from database.models import Business, Call, Callback
from domain.vocabulary import CallbackStatus, CallStatus
from simulator.call_script import CallScript, Misbehaviour
from simulator.telnyx.records import SimulatedCall
from tests.conftest import free_port
from tests.in_process import make_settings, served_api
from tests.records import add_business
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

CALL_ME = "/api/ai/call-me"
GREETING_START = "calling you as you asked on our website"


def fresh_loopback_address() -> str:
    """A client address of the loopback range that no other test counts against."""
    return f"127.{random.randrange(10, 250)}.{random.randrange(0, 250)}.{random.randrange(1, 250)}"


def fresh_visitor_number() -> str:
    """A valid New York number (+1 212 555 ...) that no other test has asked to be called."""
    return f"+1212555{random.randrange(0, 10_000):04d}"


@asynccontextmanager
async def page_client(
    url: str, *, address: str | None = None, origin: str | None = "same"
) -> AsyncIterator[httpx.AsyncClient]:
    """What the demo page's fetch() sends: its Origin (the API's own by default), from a loopback address."""
    headers = {} if origin is None else {"Origin": url if origin == "same" else origin}
    transport = httpx.AsyncHTTPTransport(local_address=address or fresh_loopback_address())
    async with httpx.AsyncClient(base_url=url, headers=headers, transport=transport, timeout=30) as client:
        yield client


@contextmanager
def call_me_api(stack, **limits: object) -> Iterator[str]:
    """Another API replica on the stack's database, Temporal task queue and Telnyx, with its own limits."""
    keys = ("DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "TELNYX_API_KEY", "TELNYX_BASE_URL")
    values = {key: stack.env[key] for key in keys} | {"TELNYX_CONNECTION_ID": stack.env["TELNYX_CONNECTION_ID"]}
    with served_api(make_settings(**(values | limits))) as url:
        yield url


def callback_of(database_url: str, number: str) -> Callback | None:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(Callback).where(Callback.caller_number == number)).first()


def call_row(database_url: str, call_control_id: str) -> Call | None:
    with Session(get_engine(database_url)) as session:
        return session.get(Call, call_control_id)


def call_me_handle(stack, business_id: int, number: str) -> WorkflowHandle:
    return stack.temporal_client.get_workflow_handle(call_me_workflow_id(business_id, number))


def spoken(call: SimulatedCall) -> list[str]:
    return [c.body.get("payload", "") for c in call.commands if c.action == "speak" and not c.duplicate]


def dials_to(stack, number: str) -> list[str]:
    return [
        c.call_control_id for c in stack.simulator.simulator.commands if c.action == "dial" and c.body["to"] == number
    ]


async def test_a_visitor_who_consents_is_called_once_and_greeted_by_the_receptionist(stack) -> None:
    business_id, config = add_business(stack.database_url, "Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    # The visitor answers, hears the greeting, asks one thing, and hangs up.
    stack.simulator.expect_outbound_call(visitor, CallScript(lines=["What are your opening hours?"]))
    async with page_client(stack.api_url) as page:
        offered = await page.get(f"{CALL_ME}/{business_id}")
        answer = await page.post(CALL_ME, json={"business_id": business_id, "phone_number": visitor, "consent": True})
    assert offered.json()["available"] is True and offered.json()["country_codes"] == ["+1"]
    assert answer.status_code == 202, answer.text
    assert answer.json()["number"] == visitor and config.phone_number in answer.json()["message"]

    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    assert call.from_number == config.phone_number
    assert len(dials_to(stack, visitor)) == 1
    said = spoken(call)
    assert said and GREETING_START in said[0] and config.name in said[0]
    assert len(said) >= 2, "the visitor's question was answered"
    # The answered call is a normal CallWorkflow, on record like any call-back's call.
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    assert (await handle.describe()).workflow_type == "CallWorkflow"
    record = await eventually(
        lambda: call_row(stack.database_url, call.call_control_id),
        lambda row: row is not None and row.status == CallStatus.ENDED,
        what="the dialled call's record",
    )
    assert record.business_id == business_id
    kept = await eventually(
        lambda: callback_of(stack.database_url, visitor),
        lambda row: row is not None and row.status == CallbackStatus.DONE,
        what="the call-me request kept",
    )
    assert kept.business_id == business_id and kept.attempts == 1


async def test_a_redelivered_answer_starts_one_call_workflow(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Redelivered Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    # Every webhook of the dialled call arrives twice, as Telnyx's at-least-once delivery may.
    stack.simulator.expect_outbound_call(visitor, CallScript(misbehaviour=Misbehaviour(duplicate_events=True)))
    async with page_client(stack.api_url) as page:
        answer = await page.post(CALL_ME, json={"business_id": business_id, "phone_number": visitor, "consent": True})
    assert answer.status_code == 202, answer.text
    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    answered = [d for d in call.deliveries if d.event_type == "call.answered" and d.status_code == 200]
    assert len({d.event_id for d in answered}) == 1 and len(answered) >= 2, "call.answered was delivered twice"
    # One workflow for the call (its id is the call's), which greeted once.
    workflows = [
        w
        async for w in stack.temporal_client.list_workflows(
            f"WorkflowType = 'CallWorkflow' AND WorkflowId = '{call_workflow_id(call.call_control_id)}'"
        )
    ]
    assert len(workflows) == 1
    assert [s for s in spoken(call) if GREETING_START in s] == [spoken(call)[0]]
    assert len(dials_to(stack, visitor)) == 1


@pytest.mark.parametrize(
    ("callee", "status"), [("busy", CallbackStatus.FAILED), ("voicemail", CallbackStatus.VOICEMAIL)]
)
async def test_a_busy_line_or_a_machine_ends_quietly_on_record(stack, callee: str, status: CallbackStatus) -> None:
    business_id, _ = add_business(stack.database_url, f"Unanswered Call Me Plumbing ({callee})", demo_enabled=True)
    visitor = fresh_visitor_number()
    stack.simulator.expect_outbound_call(visitor, CallScript(callee=callee))  # type: ignore[arg-type]
    async with page_client(stack.api_url) as page:
        answer = await page.post(CALL_ME, json={"business_id": business_id, "phone_number": visitor, "consent": True})
    assert answer.status_code == 202, answer.text
    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    kept = await eventually(
        lambda: callback_of(stack.database_url, visitor),
        lambda row: row is not None and row.status.finished,
        what="the call-me request's outcome",
    )
    assert kept.status == status
    assert spoken(call) == [], "nothing is said to a busy line or left on a machine"
    assert len(dials_to(stack, visitor)) == 1, "a missed call-me is not tried again"


async def test_no_consent_or_a_number_we_do_not_call_is_a_readable_422(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Careful Call Me Plumbing", demo_enabled=True)
    cases = {
        "no consent": ({"phone_number": fresh_visitor_number(), "consent": False}, "consent"),
        "no number": ({"phone_number": " ", "consent": True}, "Enter the phone number"),
        "abroad": ({"phone_number": "+44 20 7946 0000", "consent": True}, "country code +1"),
        "premium": ({"phone_number": "+1 900 555 0199", "consent": True}, "premium-rate"),
        "short": ({"phone_number": "911", "consent": True}, "short number"),
        "invalid": ({"phone_number": "+1 212 555 012", "consent": True}, "not a phone number in use"),
        "gibberish": ({"phone_number": "call me maybe", "consent": True}, "not a phone number"),
    }
    async with page_client(stack.api_url) as page:
        answers = {
            name: await page.post(CALL_ME, json={"business_id": business_id, **body})
            for name, (body, _) in cases.items()
        }
        draft = await page.post(
            CALL_ME,
            json={"business_id": business_id, "phone_number": fresh_visitor_number(), "consent": True, "config": {}},
        )
    for name, (_, words) in cases.items():
        assert answers[name].status_code == 422, name
        assert isinstance(answers[name].json()["detail"], str) and words in answers[name].json()["detail"], name
    assert draft.status_code == 422, "a draft configuration is never dialled for"
    assert not [c for c in stack.simulator.simulator.commands if c.action == "dial" and "+44" in c.body["to"]]


async def test_a_foreign_origin_is_refused_and_nothing_dialled(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Guarded Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    body = {"business_id": business_id, "phone_number": visitor, "consent": True}
    async with page_client(stack.api_url, origin="https://evil.example") as forged:
        refused = await forged.post(CALL_ME, json=body)
    async with page_client(stack.api_url, origin=None) as script:
        no_origin = await script.post(CALL_ME, json=body)
    assert refused.status_code == 403 and "evil.example" in refused.json()["detail"]
    assert no_origin.status_code == 403
    assert dials_to(stack, visitor) == []


async def test_a_business_off_the_public_demo_calls_nobody(stack) -> None:
    """Its real line would ring a stranger's phone for a business that never offered that."""
    business_id, _ = add_business(stack.database_url, "Private Call Me Plumbing")
    visitor = fresh_visitor_number()
    async with page_client(stack.api_url) as page:
        offered = await page.get(f"{CALL_ME}/{business_id}")
        answer = await page.post(CALL_ME, json={"business_id": business_id, "phone_number": visitor, "consent": True})
    assert offered.status_code == answer.status_code == 404
    assert "Private Call Me Plumbing" not in offered.text + answer.text
    assert dials_to(stack, visitor) == []


async def test_a_business_without_a_number_offers_no_call_me(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Numberless Plumbing", demo_enabled=True)
    with Session(get_engine(stack.database_url)) as session:
        business = session.get(Business, business_id)
        business.phone_number = None
        session.add(business)
        session.commit()
    visitor = fresh_visitor_number()
    async with page_client(stack.api_url) as page:
        offered = await page.get(f"{CALL_ME}/{business_id}")
        answer = await page.post(CALL_ME, json={"business_id": business_id, "phone_number": visitor, "consent": True})
    assert offered.json()["available"] is False and "no phone number" in offered.json()["reason"]
    assert answer.status_code == 409 and "no phone number" in answer.json()["detail"]
    assert dials_to(stack, visitor) == []


async def test_limits_per_number_and_per_client_are_429s_and_dial_nobody(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Limited Call Me Plumbing", demo_enabled=True)
    visitor, other, third = fresh_visitor_number(), fresh_visitor_number(), fresh_visitor_number()
    for number in (visitor, other):
        stack.simulator.expect_outbound_call(number, CallScript(callee="no_answer"))
    one, two = fresh_loopback_address(), fresh_loopback_address()
    with call_me_api(stack, CALL_ME_PER_NUMBER=1, CALL_ME_PER_CLIENT=2) as url:
        async with page_client(url, address=one) as first, page_client(url, address=two) as second:
            ask = {"business_id": business_id, "consent": True}
            dialled = await first.post(CALL_ME, json=ask | {"phone_number": visitor})
            other_number = await first.post(CALL_ME, json=ask | {"phone_number": other})
            third_from_first = await first.post(CALL_ME, json=ask | {"phone_number": third})
            # Once the number's call has ended, anyone asking for it again is over its limit.
            await call_me_handle(stack, business_id, visitor).result()
            same_number = await second.post(CALL_ME, json=ask | {"phone_number": visitor})
    assert dialled.status_code == 202 and other_number.status_code == 202
    # The number had its call, whoever asks again; the first client had its two, whatever the number.
    for refused in (same_number, third_from_first):
        assert refused.status_code == 429
        assert "too many calls requested" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 2 * 3600
    for number in (visitor, other):
        call = await stack.simulator.wait_for_outbound_call(number, timeout=30)
        await stack.simulator.wait_ended(call, timeout=60)
        assert len(dials_to(stack, number)) == 1
    assert dials_to(stack, third) == []


async def test_a_request_sent_again_while_its_call_is_on_dials_once_and_counts_once(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Double Click Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    # The visitor lets it ring: the call-back is on while the page (or the network) sends the request again.
    stack.simulator.expect_outbound_call(visitor, CallScript(callee="no_answer"))
    ask = {"business_id": business_id, "phone_number": visitor, "consent": True}
    with call_me_api(stack) as replica, call_me_api(stack, CALL_ME_PER_NUMBER=1) as strict_replica:
        async with page_client(stack.api_url) as page, page_client(replica) as other_replica:
            # Two replicas at once, as a proxy retrying a slow request on another one would.
            together = await asyncio.gather(*(client.post(CALL_ME, json=ask) for client in (page, other_replica)))
        call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
        async with page_client(strict_replica) as page:
            # While it rings; the number has had its one call here, so the request must not count again.
            again = await page.post(CALL_ME, json=ask)
    answers = [*together, again]
    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    assert all(a.json() == answers[0].json() for a in answers), "each request hears the same answer"
    await stack.simulator.wait_ended(call, timeout=60)
    assert await call_me_handle(stack, business_id, visitor).result() == CallbackStatus.FAILED
    assert len(dials_to(stack, visitor)) == 1
    with Session(get_engine(stack.database_url)) as session:
        kept = session.exec(select(Callback).where(Callback.caller_number == visitor)).all()
    assert [(c.status, c.attempts) for c in kept] == [(CallbackStatus.FAILED, 1)], "one call-back on record"


async def test_a_twin_that_starts_after_the_first_has_begun_calling_forgets_its_request(stack, monkeypatch) -> None:
    """The race of two replicas that both looked before either started: Temporal refuses the second start."""
    business_id, _ = add_business(stack.database_url, "Racing Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    stack.simulator.expect_outbound_call(visitor, CallScript(callee="no_answer"))

    async def looked_too_early(client, workflow_id) -> bool:
        return False

    monkeypatch.setattr("api.call_me._calling_already", looked_too_early)
    ask = {"business_id": business_id, "phone_number": visitor, "consent": True}
    with call_me_api(stack) as url:
        async with page_client(url) as page:
            first = await page.post(CALL_ME, json=ask)
            twin = await page.post(CALL_ME, json=ask)
    assert (first.status_code, twin.status_code) == (202, 202), twin.text
    assert twin.json() == first.json()
    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    assert len(dials_to(stack, visitor)) == 1
    with Session(get_engine(stack.database_url)) as session:
        kept = session.exec(select(Callback).where(Callback.caller_number == visitor)).all()
    assert len(kept) == 1, "the twin's row is forgotten"


async def test_with_temporal_down_the_visitor_is_told_to_try_later_and_nobody_is_dialled(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Temporal Down Call Me Plumbing", demo_enabled=True)
    visitor = fresh_visitor_number()
    stack.simulator.expect_outbound_call(visitor, CallScript(callee="no_answer"))
    with call_me_api(stack, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}") as url:
        async with page_client(url) as page:
            ask = {"business_id": business_id, "phone_number": visitor, "consent": True}
            answer = await page.post(CALL_ME, json=ask)
            # Asked again, it is not counted as called: the number is still within its limit once Temporal is back.
            again = await page.post(CALL_ME, json=ask)
    for refused in (answer, again):
        assert refused.status_code == 503
        assert refused.json()["detail"].startswith("We cannot call you right now; try again later (reference ")
    with call_me_api(stack, CALL_ME_PER_NUMBER=1) as url, Session(get_engine(stack.database_url)) as session:
        assert session.exec(select(Callback).where(Callback.caller_number == visitor)).all() == []
        async with page_client(url) as page:
            back = await page.post(CALL_ME, json=ask)
    assert back.status_code == 202, back.text
    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    assert len(dials_to(stack, visitor)) == 1


async def test_the_per_business_limit_counts_every_client(stack) -> None:
    business_id, _ = add_business(stack.database_url, "Busy Line Call Me Plumbing", demo_enabled=True)
    visitor, other = fresh_visitor_number(), fresh_visitor_number()
    stack.simulator.expect_outbound_call(visitor, CallScript(callee="no_answer"))
    with call_me_api(stack, CALL_ME_PER_BUSINESS=1) as url:
        async with page_client(url) as first, page_client(url) as second:
            ask = {"business_id": business_id, "consent": True}
            dialled = await first.post(CALL_ME, json=ask | {"phone_number": visitor})
            refused = await second.post(CALL_ME, json=ask | {"phone_number": other})
    assert dialled.status_code == 202
    assert refused.status_code == 429 and "retry-after" in refused.headers
    call = await stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await stack.simulator.wait_ended(call, timeout=60)
    assert dials_to(stack, other) == []
