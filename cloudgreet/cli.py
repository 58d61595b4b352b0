"""The `cloudgreet` command: run the stack or one part of it, and place simulated calls."""

from __future__ import annotations

import asyncio
import json
import traceback
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cloudgreet.businesses_cli import businesses_app
from cloudgreet.callers_cli import callers_app
from cloudgreet.calls_cli import calls_app
from cloudgreet.command_settings import settings_or_exit
from cloudgreet.recordings_cli import recordings_app
from cloudgreet.replay_cli import replay_command
from runtime.collector import hold_collector
from runtime.lazy_sdk_types import defer_sdk_type_imports

# Before any command imports telnyx or openai: ~2 s of CPU less at the start of every process.
defer_sdk_type_imports()

app = typer.Typer(
    help="CloudGreet: an AI phone receptionist in which every call is a durable Temporal workflow.",
    no_args_is_help=True,
)


@app.command()
def dev(
    api_port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    simulator_port: Annotated[int, typer.Option(help="Port of the Telnyx simulator")] = 8090,
    temporal_port: Annotated[int, typer.Option(help="Port of the Temporal dev server")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Port of the Temporal web UI")] = 8233,
    fake_llm: Annotated[bool, typer.Option(help="Run the fake OpenAI server and use it as the LLM")] = False,
    fake_llm_port: Annotated[int, typer.Option(help="Port of the fake OpenAI server")] = 8091,
    data_dir: Annotated[Path, typer.Option(help="Where the Temporal and SQLite databases live")] = Path("data"),
    traces: Annotated[
        bool,
        typer.Option(help="Print every span of the API and the worker, a line each (OTEL_TRACES_EXPORTER=console)"),
    ] = False,
) -> None:
    """Start everything locally: Temporal dev server with its UI, worker, API, Telnyx simulator."""
    from cloudgreet.dev_stack import DevStack, DevStackPorts

    ports = DevStackPorts(
        api=api_port, simulator=simulator_port, temporal=temporal_port, ui=ui_port, fake_llm=fake_llm_port
    )
    for name, port in ports.model_dump().items():
        if not 0 < port < 65536:
            raise typer.BadParameter(f"{port} is not a TCP port", param_hint=f"--{name.replace('_', '-')}-port")
    used = [port for name, port in ports.model_dump().items() if name != "fake_llm" or fake_llm]
    if len(set(used)) != len(used):
        raise typer.BadParameter(
            f"each service needs a port of its own, got {sorted(used)}", param_hint="the port options"
        )
    raise typer.Exit(DevStack(ports, data_dir=data_dir, fake_llm=fake_llm, traces=traces).run())


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (Telnyx webhooks, health)."""
    if workers == 1:  # until the app has started (runtime/collector.py); a supervisor of several never starts one
        hold_collector()
    import uvicorn

    from database.migrate import upgrade_database

    settings = settings_or_exit()
    upgrade_database(settings.database_url)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_config=None)


@app.command()
def worker() -> None:
    """Run a worker: call workflows and their activities."""
    hold_collector()  # until the worker is built (runtime/collector.py)
    from runtime.temporal_connection import TemporalConnectionError
    from worker import WorkerConfigurationError, run_worker

    settings = settings_or_exit()
    try:
        asyncio.run(run_worker(settings))
    except (WorkerConfigurationError, TemporalConnectionError) as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema and create the demo business if there is none."""
    from database.migrate import upgrade_database

    settings = settings_or_exit()
    upgrade_database(settings.database_url)
    typer.echo(f"database is up to date: {settings.database_url}")


@app.command()
def simulate(
    lines: Annotated[list[str] | None, typer.Argument(help="What the caller says, one argument per line")] = None,
    scenario: Annotated[Path | None, typer.Option(help="A YAML or JSON call script instead of lines")] = None,
    simulator_url: Annotated[
        str, typer.Option(envvar="SIMULATOR_URL", help="Control URL of the Telnyx simulator")
    ] = "http://127.0.0.1:8090",
    caller: Annotated[str, typer.Option("--from", help="The caller's number")] = "+15555550142",
    dialed: Annotated[str, typer.Option("--to", help="The number dialed (picks the business)")] = "+15555550100",
    timeout: Annotated[float, typer.Option(min=1, help="Give up after this many seconds")] = 120,
    output_json: Annotated[bool, typer.Option("--json", help="Print the whole call record as JSON at the end")] = False,
) -> None:
    """Place one simulated call against a running stack and print the conversation as it happens."""
    from simulator.call_script import CallScript, load_call_script
    from simulator.simulate_client import SimulatorRequestFailed, SimulatorUnavailable, run_simulated_call

    if scenario and lines:
        raise typer.BadParameter("give caller lines or --scenario, not both")
    try:
        if scenario:
            script = load_call_script(scenario)
        else:
            script = CallScript(
                from_number=caller, to_number=dialed, lines=lines or ["Hello, what are your opening hours?"]
            )
    except (ValueError, ValidationError) as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        call = asyncio.run(run_simulated_call(simulator_url, script, typer.echo, timeout))
    except SimulatorUnavailable as error:
        typer.secho(
            f"{error}\nStart the stack with `cloudgreet dev`, or point --simulator-url at a running simulator.",
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from None
    except SimulatorRequestFailed as error:
        typer.secho(f"the call was not placed: {error}", fg="red", err=True)
        raise typer.Exit(1) from None
    if output_json:
        typer.echo(json.dumps(call, indent=2))
    if call.get("status") != "ended":
        typer.secho(f"the call did not end within {timeout:.0f}s", fg="yellow", err=True)
        raise typer.Exit(1)


@app.command()
def simulator(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8090,
    webhook_url: Annotated[
        str, typer.Option(help="Where to post webhooks")
    ] = "http://127.0.0.1:8000/api/telnyx/voice-handler",
    signing_key: Annotated[
        str, typer.Option(envvar="SIMULATOR_SIGNING_KEY", help="Base64 Ed25519 seed that signs webhooks")
    ] = "",
    speech_seconds_per_char: Annotated[float, typer.Option(min=0)] = 0.03,
    caller_pause_seconds: Annotated[float, typer.Option(min=0)] = 0.6,
) -> None:
    """Run the Telnyx simulator on its own (`cloudgreet dev` starts one for you)."""
    from simulator.telnyx.server import run_simulator
    from simulator.telnyx.signing import signing_key_from_b64

    if not signing_key:
        raise typer.BadParameter(
            "set SIMULATOR_SIGNING_KEY or --signing-key (see `cloudgreet keys`)", param_hint="--signing-key"
        )
    try:
        signing_key_from_b64(signing_key)
    except ValueError as error:
        raise typer.BadParameter(f"{error} (see `cloudgreet keys`)", param_hint="--signing-key") from None
    run_simulator(host, port, webhook_url, signing_key, speech_seconds_per_char, caller_pause_seconds)


@app.command("fake-openai")
def fake_openai(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8091,
) -> None:
    """Run the fake OpenAI-compatible server (for local runs and benchmarks without an account)."""
    from simulator.fake_openai.server import run_fake_openai

    run_fake_openai(host, port)


@app.command()
def keys() -> None:
    """Print a new Ed25519 key pair: SIMULATOR_SIGNING_KEY for the simulator, TELNYX_PUBLIC_KEY for the API."""
    from simulator.telnyx.signing import generate_signing_key

    seed, public = generate_signing_key()
    typer.echo(f"SIMULATOR_SIGNING_KEY={seed}\nTELNYX_PUBLIC_KEY={public}")


bench_app = typer.Typer(help="Benchmarks against a private stack on free ports.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def run_benchmark(module: str, args: list[str]) -> int:
    """Runs `benchmarks.<module>.main(args)`: benchmarks/ is beside the packages, not an installed one."""
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    return int(importlib.import_module(f"benchmarks.{module}").main(args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def turns(ctx: typer.Context) -> None:
    """Per-turn orchestration latency and history events per turn (options: `cloudgreet bench turns --help`)."""
    raise typer.Exit(run_benchmark("turn_latency", ctx.args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def failover(ctx: typer.Context) -> None:
    """Extra silence when one of two workers is SIGKILLed mid-turn (options: `cloudgreet bench failover --help`)."""
    raise typer.Exit(run_benchmark("failover", ctx.args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def startup(ctx: typer.Context) -> None:
    """CPU to readiness of the API and the worker beside bare baselines (options: `cloudgreet bench startup --help`)."""
    raise typer.Exit(run_benchmark("startup", ctx.args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def capacity(ctx: typer.Context) -> None:
    """Concurrent calls held at a human pace, beside the naive baseline (options: `cloudgreet bench capacity --help`)."""
    raise typer.Exit(run_benchmark("capacity", ctx.args))


@bench_app.command(
    "temporal-floor", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False
)
def bench_temporal_floor(ctx: typer.Context) -> None:
    """CPU of the least durable turn on the Temporal dev server, the floor under `bench turns` (options: `--help`)."""
    raise typer.Exit(run_benchmark("temporal_floor", ctx.args))


@bench_app.command(
    "llm-request", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False
)
def bench_llm_request(ctx: typer.Context) -> None:
    """CPU of one LLM request before it leaves the worker, beside the SDK's typed path (options: `--turns`)."""
    raise typer.Exit(run_benchmark("llm_request_cost", ctx.args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def intents(ctx: typer.Context) -> None:
    """The offline responder's intent and slot accuracy on the caller corpus (options: `--misses`)."""
    raise typer.Exit(run_benchmark("intent_accuracy", ctx.args))


@bench_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def outage(ctx: typer.Context) -> None:
    """The silence of each turn and any transfer while the LLM fails or hangs (options: `--no-circuit`)."""
    raise typer.Exit(run_benchmark("llm_outage", ctx.args))


app.add_typer(calls_app, name="calls")
app.add_typer(businesses_app, name="businesses")
app.add_typer(callers_app, name="callers")
app.add_typer(recordings_app, name="recordings")
app.command("replay")(replay_command)


def main() -> None:
    """The `cloudgreet` command (cloudgreet/process_exit.py: how it ends once it has used the Temporal SDK)."""
    from cloudgreet.process_exit import end_process

    try:
        app()
    except SystemExit as done:
        end_process(done.code)
    except BaseException:  # noqa: BLE001  (printed as Python would, then the same end)
        traceback.print_exc()
        end_process(1)
    end_process(0)


if __name__ == "__main__":
    main()
