"""The `cloudgreet` command under bad input: a clear message naming the problem, a non-zero
exit code, never a traceback. Run as a real subprocess where the user's view matters."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from typer.main import get_command
from typer.testing import CliRunner

from cloudgreet.cli import app
from simulator.serving import UvicornThread
from tests.conftest import ROOT, closed_port, free_port

README_COMMANDS = ["dev", "api", "worker", "migrate", "simulate", "simulator", "fake-openai", "keys"]


def environment(**variables: str) -> dict[str, str]:
    dropped = ("OPENAI_", "TELNYX_", "TEMPORAL_", "SIMULATOR_", "DATABASE_URL", "LOG_FORMAT", "LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Wide enough that typer's error boxes do not wrap the messages under test.
    env.update({"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"})
    env.update(variables)
    return env


def cloudgreet(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env or environment(), timeout=timeout,
    )  # fmt: skip


def message(result: subprocess.CompletedProcess) -> str:
    """stderr with typer's box drawing and line wrapping removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())


def assert_clean_failure(result: subprocess.CompletedProcess, code: int) -> None:
    assert result.returncode == code, f"exit code {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


# --------------------------------------------------------------------------- help and keys


def test_every_documented_command_exists_and_has_help() -> None:
    commands = get_command(app).commands
    assert set(README_COMMANDS) <= set(commands)
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for name in README_COMMANDS:
        assert name in top.output
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, f"{name} --help: {result.output}"
        assert "Usage:" in result.output
        assert commands[name].help, f"`cloudgreet {name}` has no description"


def test_the_readme_lists_the_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in README_COMMANDS:
        assert f"`cloudgreet {name}" in readme, name


def test_keys_prints_a_matching_ed25519_pair() -> None:
    result = CliRunner().invoke(app, ["keys"])
    assert result.exit_code == 0
    values = dict(line.split("=", 1) for line in result.output.splitlines())
    assert set(values) == {"SIMULATOR_SIGNING_KEY", "TELNYX_PUBLIC_KEY"}
    seed = base64.b64decode(values["SIMULATOR_SIGNING_KEY"], validate=True)
    public = base64.b64decode(values["TELNYX_PUBLIC_KEY"], validate=True)
    assert len(seed) == 32 and len(public) == 32
    assert bytes(nacl.signing.SigningKey(seed).verify_key) == public  # webhooks signed by one verify with the other
    assert CliRunner().invoke(app, ["keys"]).output != result.output  # a new pair each time


# --------------------------------------------------------------------------- options


def test_api_port_out_of_range(tmp_path: Path) -> None:
    result = cloudgreet("api", "--port", "70000", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "--port" in message(result) and "65535" in message(result)


def test_simulator_needs_a_signing_key(tmp_path: Path) -> None:
    result = cloudgreet("simulator", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "SIMULATOR_SIGNING_KEY" in message(result)
    assert "cloudgreet keys" in message(result)


def test_simulator_rejects_a_signing_key_that_is_not_a_key(tmp_path: Path) -> None:
    result = cloudgreet(
        "simulator", "--port", str(free_port()), cwd=tmp_path, env=environment(SIMULATOR_SIGNING_KEY="abc")
    )
    assert_clean_failure(result, 2)
    assert "base64" in message(result)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("TELNYX_PUBLIC_KEY", "abc", "base64"),
        ("TELNYX_PUBLIC_KEY", base64.b64encode(bytes(16)).decode(), "32 bytes"),
        ("LOG_FORMAT", "xml", "'console' or 'json'"),
        ("TELNYX_BASE_URL", "ftp://api.telnyx.com/v2", "http"),
        ("WEBHOOK_MAX_BODY_BYTES", "lots", "integer"),
        ("DATABASE_URL", "garbage", "not a database URL"),
        ("DATABASE_URL", "nosuchdb://host/db", "not a database URL"),
    ],
)
def test_invalid_settings_are_named_without_a_traceback(
    tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    result = cloudgreet("migrate", cwd=tmp_path, env=environment(**{variable: value}))
    assert_clean_failure(result, 2)
    assert "The configuration is not valid" in result.stderr
    assert variable in result.stderr
    assert problem in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was created with a half-valid configuration


@pytest.mark.parametrize("command", ["api", "worker"])
def test_every_process_checks_the_settings(tmp_path: Path, command: str) -> None:
    result = cloudgreet(command, cwd=tmp_path, env=environment(LOG_FORMAT="xml"))
    assert_clean_failure(result, 2)
    assert "The configuration is not valid" in result.stderr
    assert "LOG_FORMAT" in result.stderr


# --------------------------------------------------------------------------- simulate: scripts


def test_simulate_a_missing_scenario(tmp_path: Path) -> None:
    result = cloudgreet("simulate", "--scenario", "missing.yaml", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "missing.yaml" in message(result)
    assert "cannot read" in message(result)


@pytest.mark.parametrize(
    ("name", "content", "problems"),
    [
        (
            "typo.yaml",
            "lines:\n  - text: Hello\n    bargein: true\nmax_call_seconds: -5\n",
            ["lines.0.bargein", "max_call_seconds", "greater than 0"],
        ),
        ("keypad.yaml", "lines:\n  - dtmf: '12'\n", ["lines.0", "one keypad digit"]),
        ("empty-line.yaml", "lines:\n  - ''\n", ["lines.0", "'text' or a 'dtmf'"]),
        ("list.yaml", "- Hello\n- Bye\n", ["expected a mapping", "got list"]),
        ("broken.yaml", "lines: [Hello\n", ["not valid YAML"]),
        ("broken.json", '{"lines": ["Hello",]}', ["not valid JSON"]),
    ],
)
def test_simulate_an_invalid_scenario_names_the_file_and_the_problem(
    tmp_path: Path, name: str, content: str, problems: list[str]
) -> None:
    (tmp_path / name).write_text(content)
    result = cloudgreet("simulate", "--scenario", name, cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert name in result.stderr
    for problem in problems:
        assert problem in result.stderr


def test_simulate_lines_and_a_scenario_together(tmp_path: Path) -> None:
    (tmp_path / "call.yaml").write_text("lines: [Hello]\n")
    result = cloudgreet("simulate", "--scenario", "call.yaml", "Hi there", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "not both" in message(result)


# --------------------------------------------------------------------------- simulate: the simulator


def test_simulate_without_a_simulator_says_to_start_the_stack(tmp_path: Path) -> None:
    with closed_port() as port:  # nothing listens here
        url = f"http://127.0.0.1:{port}"
        result = cloudgreet("simulate", "--simulator-url", url, "Hello", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "cannot be reached" in result.stderr
    assert url in result.stderr
    assert "cloudgreet dev" in result.stderr


STUCK_CALL = {
    "call_control_id": "v3:stuck",
    "status": "active",
    "finished": False,
    "conversation": [
        {"speaker": "agent", "text": "Thank you for calling.", "at": 0.0, "interrupted": False, "ended_at": 1.0},
        {"speaker": "caller", "text": "Hello", "at": 1.5, "interrupted": False, "ended_at": 2.0},
        {"speaker": "agent", "text": "Still talk", "at": 2.5, "interrupted": False, "ended_at": None},
    ],
}


@pytest.fixture(scope="module")
def unhappy_simulator() -> Iterator[str]:
    """A simulator control API that refuses scripts under /reject and never ends a call under /stuck."""
    fake = FastAPI()

    @fake.post("/reject/simulator/calls")
    async def reject() -> JSONResponse:
        detail = [{"loc": ["body", "lines", 0], "msg": "this simulator does not speak Klingon"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @fake.post("/stuck/simulator/calls", status_code=201)
    async def place() -> dict:
        return {"call_control_id": STUCK_CALL["call_control_id"]}

    @fake.get("/stuck/simulator/calls/{call_control_id}")
    async def call(call_control_id: str) -> dict:
        return STUCK_CALL

    server = UvicornThread(fake)
    server.start()
    yield server.url
    server.stop()


def test_simulate_a_script_the_simulator_rejects(tmp_path: Path, unhappy_simulator: str) -> None:
    result = cloudgreet("simulate", "--simulator-url", f"{unhappy_simulator}/reject", "Hello", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "the call was not placed" in result.stderr
    assert "422" in result.stderr
    assert "does not speak Klingon" in result.stderr


def test_simulate_a_call_that_does_not_end_in_time(tmp_path: Path, unhappy_simulator: str) -> None:
    result = cloudgreet(
        "simulate", "--simulator-url", f"{unhappy_simulator}/stuck", "--timeout", "1", "--json", "Hello", cwd=tmp_path
    )
    assert_clean_failure(result, 1)
    assert "did not end within 1s" in result.stderr
    conversation, _, record = result.stdout.partition("\n{")
    # Finished sentences are shown; the one still playing is held back (it may yet be interrupted).
    assert conversation.splitlines() == ["Agent: Thank you for calling.", "Caller: Hello"]
    assert json.loads("{" + record)["status"] == "active"


# --------------------------------------------------------------------------- example scenarios

SCENARIOS = sorted((ROOT / "scenarios").glob("*.y*ml")) + sorted((ROOT / "scenarios").glob("*.json"))


def test_there_are_example_scenarios() -> None:
    names = {path.name for path in SCENARIOS}
    assert {"opening-hours.yaml", "barge-in.yaml"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_example_scenario_is_a_valid_call_script(path: Path) -> None:
    from simulator.call_script import load_call_script

    script = load_call_script(path)
    assert script.lines, f"{path.name} has no caller lines"


def test_barge_in_example_interrupts_the_agent() -> None:
    from simulator.call_script import load_call_script

    assert any(line.barge_in for line in load_call_script(ROOT / "scenarios" / "barge-in.yaml").lines)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_simulate_accepts_the_example_scenario(tmp_path: Path, path: Path) -> None:
    # Nothing listens at this URL: an accepted script gets as far as dialling (exit 1,
    # "cannot be reached"); a rejected one would stop earlier with exit 2.
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = cloudgreet("simulate", "--scenario", str(path), "--simulator-url", url, cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "cannot be reached" in result.stderr
