"""Logs as an operator reads them: JSON lines in production that carry the call and workflow
ids, never a secret, and phone numbers only masked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

import httpx
import pytest

from runtime.logs import mask_phone_number
from tests.conftest import ROOT, ManagedProcess, free_port
from tests.test_webhook_input import reference_event, signed_headers
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

SECRET = "sk-live-0123456789-do-not-print"


def test_phone_numbers_keep_only_enough_to_tell_calls_apart() -> None:
    assert mask_phone_number("+15555550142") == "+1555***0142"
    assert mask_phone_number("+442071838750") == "+4420***8750"
    assert mask_phone_number("+3312345") == "+33***45"


def log_in_a_process(log_format: str) -> str:
    """A process configured as every CloudGreet process is, logging what careless code might log."""
    script = textwrap.dedent(
        f"""
        import logging, structlog
        from runtime.logs import configure_logging
        from runtime.settings import Settings
        configure_logging(Settings(_env_file=None, OPENAI_API_KEY={SECRET!r}, LOG_FORMAT={log_format!r}))
        structlog.contextvars.bind_contextvars(call_id="v3:abc", workflow_id="call-v3:abc")
        log = structlog.get_logger("cloudgreet.example")
        log.info("calling the LLM with key {SECRET}", api_key={SECRET!r}, caller="+15555550142", prompt_tokens=120)
        logging.getLogger("httpx").warning("headers: Authorization: Bearer {SECRET}")
        try:
            raise RuntimeError("refused key {SECRET} for +15555550142")
        except RuntimeError:
            log.exception("the LLM failed")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_key_in_a_log_record_is_never_printed(log_format: str) -> None:
    output = log_in_a_process(log_format)
    assert SECRET not in output
    assert "+15555550142" not in output
    assert "+1555***0142" in output
    assert "[redacted]" in output
    assert "RuntimeError" in output  # the traceback is still there, only without the key
    if log_format == "json":
        records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert len(records) == 3
        assert records[0]["call_id"] == "v3:abc" and records[0]["workflow_id"] == "call-v3:abc"
        assert records[0]["api_key"] == "[redacted]"
        assert records[0]["prompt_tokens"] == 120  # a count of tokens is no secret


@pytest.mark.parametrize(("log_level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_the_http_clients_line_per_request_is_shown_only_at_debug(log_level: str, shown: bool) -> None:
    script = textwrap.dedent(
        f"""
        import logging
        from runtime.logs import configure_logging
        from runtime.settings import Settings
        configure_logging(Settings(_env_file=None, LOG_LEVEL={log_level!r}))
        for library in ("httpx", "httpx2"):
            logging.getLogger(library).info(f"HTTP Request: POST http://telnyx.invalid/v2/calls/speak by {{library}}")
            logging.getLogger(library).warning(f"connection pool is full, by {{library}}")
        logging.getLogger("cloudgreet.example").info("the reply was spoken")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ("HTTP Request: POST" in done.stderr) is shown
    assert done.stderr.count("connection pool is full") == 2  # what goes wrong is always shown
    assert "the reply was spoken" in done.stderr


@pytest.mark.database
async def test_the_api_logs_json_with_the_call_ids_and_no_secret_or_number(stack, tmp_path) -> None:
    port = free_port()
    env = {**stack.env, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG", "OPENAI_API_KEY": SECRET}
    api = ManagedProcess(
        "api-json-logs",
        [sys.executable, "-m", "cloudgreet.cli", "api", "--port", str(port)],
        env,
        tmp_path / "api.log",
        port,
    )
    api.start()
    try:
        call_id = f"v3:logs-{uuid.uuid4().hex}"
        body = json.dumps(reference_event("call.hangup", call_id)).encode()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            answer = await http.post(
                "/api/telnyx/voice-handler", content=body, headers=signed_headers(stack.signing_seed, body)
            )
            assert answer.status_code == 200, answer.text
            # The health check talks to OpenAI with the key: whatever the SDKs log must not show it.
            await http.get("/api/health")

        def records() -> list[dict]:
            return [json.loads(line) for line in api.log().splitlines() if line.startswith("{")]

        about_the_call = await eventually(
            records, lambda rs: any(r.get("event") == "webhook" for r in rs), what="the webhook logged"
        )
    finally:
        api.stop()
    webhook = next(r for r in about_the_call if r.get("event") == "webhook")
    assert webhook["call_id"] == call_id
    assert webhook["workflow_id"] == call_workflow_id(call_id)
    assert webhook["caller"] == "+1555***0142"
    output = api.log()
    assert "+15555550142" not in output
    assert SECRET not in output


@pytest.mark.database
async def test_the_access_log_keeps_every_refusal_and_skips_the_carriers_accepted_webhooks(stack, tmp_path) -> None:
    """At INFO the carrier's verified webhooks (several a caller turn) write no access line; a
    forged webhook, a stranger at the playback path and any other request still do."""
    port = free_port()
    api = ManagedProcess(
        "api-access-log",
        [sys.executable, "-m", "cloudgreet.cli", "api", "--port", str(port)],
        {**stack.env, "LOG_LEVEL": "INFO"},
        tmp_path / "api.log",
        port,
    )
    api.start()
    try:
        accepted = json.dumps(reference_event("call.hangup", f"v3:accepted-{uuid.uuid4().hex}")).encode()
        forged = json.dumps(reference_event("call.hangup", f"v3:forged-{uuid.uuid4().hex}")).encode()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ok = await http.post(
                "/api/telnyx/voice-handler", content=accepted, headers=signed_headers(stack.signing_seed, accepted)
            )
            refused = await http.post(
                "/api/telnyx/voice-handler", content=forged, headers=signed_headers(stack.signing_seed, accepted)
            )
            stranger = await http.post("/api/internal/calls/v3%3Aguess/reply-playback", json={})
            health = await http.get("/api/health")
        assert ok.status_code == 200, ok.text
        assert refused.status_code == 403 and stranger.status_code >= 400 and health.status_code < 500
        await eventually(api.log, lambda text: "GET /api/health" in text, what="the health check's access line")
    finally:
        api.stop()
    lines = [line for line in api.log().splitlines() if "HTTP/1.1" in line]
    assert [line for line in lines if "/api/telnyx/voice-handler" in line and " 403" in line], lines
    assert [line for line in lines if "/reply-playback" in line and f" {stranger.status_code}" in line], lines
    assert not [line for line in lines if "/api/telnyx/voice-handler" in line and " 200" in line], lines
