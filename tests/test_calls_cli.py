"""`cloudgreet calls list` and `cloudgreet calls show` as an operator runs them: the real command
in a subprocess against the test database, and, for a call in flight, the real Temporal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from simulator.call_script import CallScript
from tests.conftest import ROOT
from tests.records import add_business, add_call
from tests.waiting import eventually
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database


def shown_id(call_id: str) -> str:
    return call_id[:20]


def cloudgreet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A wide terminal, so the tables keep each id on one line.
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        env={**env, "COLUMNS": "220", "NO_COLOR": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def env(database_url: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "ADMIN_"))}
    return {**kept, "DATABASE_URL": database_url}


@pytest.fixture(scope="module")
def salon(database_url: str) -> dict:
    business_id, _ = add_business(database_url, "Curl Up And Dye")
    now = datetime.now(UTC)
    return {
        "id": business_id,
        "recent": add_call(
            database_url,
            business_id,
            started_at=now - timedelta(hours=1),
            outcome="booked",
            caller="+15555550201",
            replies=[("A haircut on Friday?", "Friday at ten is free.", 900, "llm")],
            errors=[("reply.llm", "the LLM answered 500: boom")],
            booking="Haircut",
            tool_calls=[
                {"name": "book_appointment", "arguments": '{"service": "Cut"}', "result": "[Booked] Friday 10:00"}
            ],
        ),
        "missed": add_call(
            database_url,
            business_id,
            started_at=now - timedelta(hours=5),
            status="missed",
            outcome="abandoned",
            caller="+15555550202",
        ),
        "old": add_call(database_url, business_id, started_at=now - timedelta(days=5), caller="+15555550203"),
    }


def test_calls_list_shows_a_businesss_calls_newest_first_with_filters(env, salon) -> None:
    listed = cloudgreet(env, "calls", "list", "--business", "curl up and dye")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    # The list shows the start of each id, enough for `calls show`.
    rows = [
        next(i for i, line in enumerate(lines) if shown_id(salon[key]) in line) for key in ("recent", "missed", "old")
    ]
    assert rows == sorted(rows), listed.stdout  # newest first
    assert "3 of 3 calls" in listed.stdout
    assert "+15555550201" in listed.stdout and "booked" in listed.stdout

    missed = cloudgreet(env, "calls", "list", "--business", str(salon["id"]), "--status", "missed")
    assert shown_id(salon["missed"]) in missed.stdout and shown_id(salon["recent"]) not in missed.stdout

    last_two_days = cloudgreet(env, "calls", "list", "--business", str(salon["id"]), "--since", "2d")
    assert shown_id(salon["recent"]) in last_two_days.stdout and shown_id(salon["old"]) not in last_two_days.stdout

    booked = cloudgreet(env, "calls", "list", "--business", str(salon["id"]), "--outcome", "booked", "--limit", "1")
    assert "1 of 1 calls" in booked.stdout


def words(text: str) -> str:
    """Text without the frame and line breaks of the error box typer draws around a message."""
    return " ".join(text.replace("│", " ").split())


def test_calls_list_and_show_say_what_is_wrong_with_bad_input(env, salon) -> None:
    since = cloudgreet(env, "calls", "list", "--since", "yesterday")
    assert since.returncode == 2
    assert "'yesterday' is neither a duration" in words(since.stderr)
    nobody = cloudgreet(env, "calls", "list", "--business", "Nobody At All")
    assert nobody.returncode == 2
    assert "no business 'Nobody At All'; known: 1 (Bright Smile Dental)" in words(nobody.stderr)
    missing = cloudgreet(env, "calls", "show", "v3:no-such-call")
    assert missing.returncode == 1
    assert "no call 'v3:no-such-call'" in missing.stderr


def test_calls_show_prints_the_transcript_outcome_and_errors(env, salon) -> None:
    shown = cloudgreet(env, "calls", "show", salon["recent"])
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    # As `list` shows it, or by its workflow id: the same call.
    assert cloudgreet(env, "calls", "show", shown_id(salon["recent"])).stdout == out
    assert cloudgreet(env, "calls", "show", f"call-{salon['recent']}").stdout == out
    assert "Curl Up And Dye" in out and "booked" in out
    assert out.index("A haircut on Friday?") < out.index("Friday at ten is free.")
    assert "0.90 s" in out  # the reply latency
    assert '[book_appointment({"service": "Cut"}) → [Booked] Friday 10:00]' in out  # printed as is, not as markup
    assert "the LLM answered 500: boom" in out
    assert "Haircut at " in out and "for Dana (booked)" in out
    assert f"/workflows/call-{salon['recent'].replace(':', '%3A')}" in out
    assert "Live state" not in out  # a finished call is read from the records only


async def test_calls_show_reads_the_live_state_of_a_call_in_flight(stack) -> None:
    # The caller stays on the line after the answer (until the simulator hangs up after
    # max_call_seconds, long after this test), so the call is in flight when we look.
    script = CallScript(
        from_number="+15555550188", lines=["Is Dr. Lee in today?"], hang_up_at_end=False, max_call_seconds=45
    )
    call = stack.simulator.place_call(script)
    handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call.call_control_id))
    await eventually(
        lambda: handle.query(CallWorkflow.state), lambda s: len(s.transcript) >= 3, what="the first turn answered"
    )
    shown = await asyncio.to_thread(cloudgreet, stack.env, "calls", "show", call.call_control_id)
    assert shown.returncode == 0, shown.stderr
    assert "Live state: in_progress, 1 caller turns" in shown.stdout, shown.stdout
    live = shown.stdout[shown.stdout.index("Live state") :]
    assert "Is Dr. Lee in today?" in live and "Thanks for asking about Is Dr. Lee in today." in live


def test_calls_callbacks_lists_the_promises_and_refuses_an_unknown_status(env, database_url) -> None:
    from sqlmodel import Session

    from database.engine import get_engine
    from database.models import Callback

    business_id, _ = add_business(database_url, "Call-back CLI Dental")
    with Session(get_engine(database_url)) as session:
        session.add(
            Callback(
                business_id=business_id,
                caller_number="+15555550178",
                reason="a cracked filling",
                due_at=datetime(2031, 6, 1, 13, tzinfo=UTC),
                idempotency_key=f"cli-{business_id}",
            )
        )
        session.commit()
    shown = cloudgreet(env, "calls", "callbacks", "--business", str(business_id))
    assert shown.returncode == 0, shown.stderr
    assert "a cracked filling" in shown.stdout and "+15555550178" in shown.stdout and "pending" in shown.stdout
    refused = cloudgreet(env, "calls", "callbacks", "--status", "lost")
    assert refused.returncode == 2
    assert "'lost' is not one of 'pending', 'dialing', 'done', 'fulfilled', 'voicemail', 'failed'" in words(
        refused.stderr
    )


def test_calls_list_finds_a_transferred_call_and_refuses_a_status_no_call_has(env, database_url) -> None:
    business_id, _ = add_business(database_url, "Put Through Plumbing")
    now = datetime.now(UTC)
    transferred = add_call(
        database_url, business_id, started_at=now - timedelta(minutes=10), status="transferred", caller="+15555550211"
    )
    ended = add_call(database_url, business_id, started_at=now - timedelta(minutes=20), caller="+15555550212")
    listed = cloudgreet(env, "calls", "list", "--business", str(business_id), "--status", "transferred")
    assert listed.returncode == 0, listed.stderr
    assert shown_id(transferred) in listed.stdout and shown_id(ended) not in listed.stdout

    # `failed` was offered once, but no call is ever failed: refused, naming what a call can be.
    refused = cloudgreet(env, "calls", "list", "--status", "failed")
    assert refused.returncode == 2
    assert (
        "'failed' is not one of 'ringing', 'answering', 'in_progress', 'transferred', 'dialing', 'voicemail', "
        "'ended', 'missed', 'never_started'" in words(refused.stderr)
    )
    no_outcome = cloudgreet(env, "calls", "list", "--outcome", "won")
    assert no_outcome.returncode == 2 and "'won' is not one of 'completed', 'booked'" in words(no_outcome.stderr)
