"""What an anonymous client hears when Temporal or the database is down: a plain sentence with a
reference, never the upstream's own words (its address, the driver's or SDK's error); those are
in the log under the reference. (OpenAI refusing or unreachable: tests/test_realtime_session.py.)
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlmodel import Session, func, select
from structlog.testing import capture_logs

from api.web_conversation_tokens import WebConversationGrant, issue_conversation_token
from database.engine import get_engine
from database.models import Call
from tests.conftest import free_port
from tests.in_process import make_settings, served_api
from tests.test_realtime_session import SESSION, demo_business_id, open_session, page_client, realtime_api
from tests.test_webhook_input import reference_event, signed_headers

pytestmark = pytest.mark.database


def calls_recorded(database_url: str) -> int:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(func.count()).select_from(Call)).one()


def failures_logged(logs: list[dict]) -> dict[str, dict]:
    return {line["reference"]: line for line in logs if line["event"] == "upstream failed"}


async def test_with_temporal_down_the_web_channel_says_try_again_later_and_logs_why(database_url) -> None:
    temporal_address = f"127.0.0.1:{free_port()}"
    settings = make_settings(TEMPORAL_ADDRESS=temporal_address, DATABASE_URL=database_url)
    calls_before = calls_recorded(database_url)
    business_id = demo_business_id(database_url)
    # A visitor's own conversation (its token is good), so the answer is about Temporal, not about whose it is.
    token = issue_conversation_token(settings, WebConversationGrant(call_id="web-0123abcd", business_id=business_id))
    with served_api(settings) as url, capture_logs() as logs:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = {
                "start": await client.post("/api/web-calls", json={"business_id": business_id}),
                "turn": await client.post(
                    "/api/web-calls/web-0123abcd/turns", json={"text": "Hello?", "conversation_token": token}
                ),
                "hang up": await client.post("/api/web-calls/web-0123abcd/hangup", json={"conversation_token": token}),
            }
    logged = failures_logged(logs)
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        detail = answer.json()["detail"]
        assert detail.startswith("The phone assistant is unavailable right now; try again later (reference "), name
        reference = detail.removesuffix(")").rsplit(" ", 1)[-1]
        # The SDK's words name the address it tried; the client hears none of them, the log has them.
        assert logged[reference]["upstream"] == "temporal"
        assert temporal_address in logged[reference]["error"]
        assert temporal_address not in answer.text and "tonic" not in answer.text.lower()
        if name != "start":
            assert logged[reference]["call_id"] == "web-0123abcd"
    assert calls_recorded(database_url) == calls_before


async def test_with_temporal_down_a_webhook_hears_no_upstream_words(database_url) -> None:
    import base64

    from nacl.signing import SigningKey

    key = SigningKey.generate()
    seed = base64.b64encode(bytes(key)).decode()
    public = base64.b64encode(bytes(key.verify_key)).decode()
    temporal_address = f"127.0.0.1:{free_port()}"
    settings = make_settings(TEMPORAL_ADDRESS=temporal_address, TELNYX_PUBLIC_KEY=public, DATABASE_URL=database_url)
    call_control_id = f"v3:down-{uuid.uuid4().hex}"
    raw = json.dumps(reference_event("call.initiated", call_control_id)).encode()
    with served_api(settings) as url, capture_logs() as logs:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await client.post("/api/telnyx/voice-handler", content=raw, headers=signed_headers(seed, raw))
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("Temporal is unavailable; deliver the event again (reference ")
    assert temporal_address not in answer.text
    [failure] = failures_logged(logs).values()
    assert failure["reference"] in answer.text and temporal_address in failure["error"]
    with Session(get_engine(database_url)) as session:
        assert session.get(Call, call_control_id) is None


async def test_with_the_database_down_a_page_hears_try_again_later_not_the_driver(fake_realtime) -> None:
    """No route catches a database outage itself: the app answers 503 and logs what the driver said."""
    database_port = free_port()
    database_url = f"postgresql+psycopg://cloudgreet@127.0.0.1:{database_port}/cloudgreet"
    with realtime_api(database_url, fake_realtime) as url, capture_logs() as logs:
        async with page_client(url) as page:
            answer = await open_session(page, business_id=1)
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("The service is busy or down; try again later (reference ")
    assert str(database_port) not in answer.text and "psycopg" not in answer.text.lower()
    [failure] = failures_logged(logs).values()
    assert failure["upstream"] == "database" and failure["path"] == SESSION
    assert failure["reference"] in answer.text and str(database_port) in failure["error"]
    assert fake_realtime.fake.realtime.secret_requests == []
