"""CPU to readiness of the API and the worker, beside bare Python and bare uvicorn in the same run.

    python -m benchmarks.startup [--repeats N] [--json out.json] [--keep-data] [--compare CHECKOUT]
    cloudgreet bench startup [same options]

It starts a Temporal dev server and migrates a SQLite database in a temporary data dir (so each
process starts as a restarted replica does: the schema is current), compiles the project's bytecode
where it is missing (as a deployment has it: a regular install compiles), then starts, --repeats times
in turn, each of these processes and stops it once it is ready:

  python -c pass           bare interpreter; ready = exited
  uvicorn hello (ASGI)     `uvicorn benchmarks.hello_app:asgi_hello`; ready = GET / answers
  uvicorn hello (FastAPI)  one FastAPI route; ready = GET / answers
  cloudgreet api           ready = GET /api/health/ready answers 200 (Temporal and the database answered)
  cloudgreet worker        ready = the Temporal server lists it (its pid@host identity) as a poller
                           of the task queue: it takes workflow tasks

With --compare, the API and the worker of another checkout (the code before a change) take their
turns too, against the same Temporal server and database.

CPU to readiness = user + system time of the process (and its reaped children) from /proc/<pid>/stat
at the moment it is seen ready; `python -c pass` from its rusage. The processes take turns, so a
machine busy with other work slows every row alike; the ratios to the baselines are the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from cloudgreet.dev_stack import DevStack, DevStackError, DevStackPorts, wait_for_temporal

TARGET_CPU_SECONDS = 1.5
REPO = Path(__file__).resolve().parent.parent
TASK_QUEUE = "cloudgreet-startup-bench"


@dataclass
class Started:
    cpu_seconds: float
    wall_seconds: float


def _free_port() -> int:
    from benchmarks.turn_latency import _free_port as free

    return free()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run_to_exit(command: list[str], env: dict[str, str]) -> Started:
    started = time.monotonic()
    # Not asyncio's subprocess: its child watcher would reap the process before os.wait4 reads its rusage.
    process = subprocess.Popen(command, env=env, cwd=REPO)  # noqa: ASYNC220  (returns at once)
    _, status, usage = await asyncio.to_thread(os.wait4, process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise DevStackError(f"{command} exited with code {process.returncode}")
    return Started(usage.ru_utime + usage.ru_stime, time.monotonic() - started)


async def run_to_ready(
    command: list[str],
    env: dict[str, str],
    ready: Callable[[int], Awaitable[bool]],
    log: Path,
    timeout: float = 60,
    cwd: Path = REPO,
) -> Started:
    """Starts `command`, asks `ready(pid)` every 20 ms, reads the CPU it used, stops it."""
    started = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)  # noqa: ASYNC220  (returns at once)
    try:
        while not await ready(process.pid):
            if process.poll() is not None:
                raise DevStackError(f"{command} exited with code {process.returncode} before it was ready (log: {log})")
            if time.monotonic() - started > timeout:
                raise DevStackError(f"{command} was not ready within {timeout:.0f}s (log: {log})")
            await asyncio.sleep(0.02)  # the polling interval: the resolution of the wall time
        return Started(process_cpu_seconds(process.pid), time.monotonic() - started)
    finally:
        _stop(process)


def http_ready(url: str) -> Callable[[int], Awaitable[bool]]:
    async def ready(pid: int) -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                return (await http.get(url)).status_code == 200
            except httpx.HTTPError:
                return False

    return ready


def polling_ready(temporal: Client, task_queue: str) -> Callable[[int], Awaitable[bool]]:
    host = socket.gethostname()

    async def ready(pid: int) -> bool:
        # The SDK's default identity is pid@host: a poller of an earlier run has another pid.
        response = await temporal.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return any(p.identity == f"{pid}@{host}" for p in response.pollers)

    return ready


async def measure(
    stack: DevStack, env: dict[str, str], repeats: int, compare: Path | None = None
) -> dict[str, list[Started]]:
    temporal = await Client.connect(f"127.0.0.1:{stack.ports.temporal}")
    python = [sys.executable]
    logs = stack.data_dir / "logs"
    results: dict[str, list[Started]] = {}

    async def uvicorn(app: str, *extra: str) -> Started:
        port = _free_port()
        command = [*python, "-m", "uvicorn", app, *extra, "--port", str(port), "--log-level", "warning"]
        return await run_to_ready(command, env, http_ready(f"http://127.0.0.1:{port}/"), logs / "hello.log")

    async def api(checkout: Path = REPO) -> Started:
        port = _free_port()
        command = [*python, "-m", "cloudgreet.cli", "api", "--port", str(port)]
        return await run_to_ready(
            command,
            {**env, "PYTHONPATH": str(checkout)},
            http_ready(f"http://127.0.0.1:{port}/api/health/ready"),
            logs / "api.log",
            cwd=checkout,
        )

    async def worker(checkout: Path = REPO) -> Started:
        command = [*python, "-m", "cloudgreet.cli", "worker"]
        return await run_to_ready(
            command,
            {**env, "PYTHONPATH": str(checkout)},
            polling_ready(temporal, TASK_QUEUE),
            logs / "worker.log",
            cwd=checkout,
        )

    rows: dict[str, Callable[[], Awaitable[Started]]] = {
        "python -c pass": lambda: run_to_exit([*python, "-c", "pass"], env),
        "uvicorn hello (ASGI)": lambda: uvicorn("benchmarks.hello_app:asgi_hello"),
        "uvicorn hello (FastAPI)": lambda: uvicorn("benchmarks.hello_app:fastapi_hello", "--factory"),
        "cloudgreet api": api,
        "cloudgreet worker": worker,
    }
    if compare is not None:  # another checkout's code (the code before a change), started in turn with this one's
        rows["cloudgreet api (--compare)"] = lambda: api(compare)
        rows["cloudgreet worker (--compare)"] = lambda: worker(compare)
    for repeat in range(1, repeats + 1):
        for name, start in rows.items():  # in turn, so a busy moment slows every row alike
            results.setdefault(name, []).append(await start())
        print(f"  round {repeat}/{repeats} done", flush=True)
    return results


def print_report(results: dict[str, list[Started]]) -> dict:
    rows = {
        name: {
            "cpu_seconds_median": statistics.median(s.cpu_seconds for s in runs),
            "cpu_seconds_min": min(s.cpu_seconds for s in runs),
            "wall_seconds_median": statistics.median(s.wall_seconds for s in runs),
            "runs": [vars(s) for s in runs],
        }
        for name, runs in results.items()
    }
    hello = rows["uvicorn hello (ASGI)"]["cpu_seconds_median"] or float("nan")
    print(f"\nCPU to readiness, median of {len(next(iter(results.values())))} runs each (user + system)")
    print(f"{'process':<30} {'CPU s':>7} {'min':>7} {'wall s':>7} {'x ASGI hello':>13}")
    for name, row in rows.items():
        print(
            f"{name:<30} {row['cpu_seconds_median']:7.2f} {row['cpu_seconds_min']:7.2f} "
            f"{row['wall_seconds_median']:7.2f} {row['cpu_seconds_median'] / hello:13.1f}"
        )
        row["x_asgi_hello"] = row["cpu_seconds_median"] / hello
    for name in [row for row in rows if row.startswith("cloudgreet")]:
        met = rows[name]["cpu_seconds_median"] <= TARGET_CPU_SECONDS
        print(f"  {name}: ready in <= {TARGET_CPU_SECONDS} s of CPU: {'MET' if met else 'NOT MET'}")
    return rows


def compile_project(checkout: Path) -> None:
    """The project's bytecode, as a deployment runs it (a regular install compiles it; scripts/setup-venv
    does for a checkout). Without it, under PYTHONDONTWRITEBYTECODE, each start compiles ~150 modules."""
    print(f"compiling the bytecode of {checkout} (where it is missing or stale) ...", flush=True)
    skip = re.compile(r"/(\.venv|\.git|tests|data)/")
    if not compileall.compile_dir(checkout, quiet=1, rx=skip, workers=0):
        # A read-only checkout, say: its processes still start, compiling as they import.
        print(f"  not all of {checkout} was compiled (above): its start-up figures include compiling it", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="starts of each process (default 5)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="also start the API and the worker of another checkout of CloudGreet (the code before a change, say: "
        "`git worktree add /tmp/before HEAD~1`), in turn with this one's, on this checkout's Python",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.compare is not None:
        args.compare = args.compare.resolve()
        if not (args.compare / "cloudgreet" / "cli.py").is_file():
            parser.error(f"--compare {args.compare}: not a checkout of CloudGreet (no cloudgreet/cli.py)")
    from database.migrate import upgrade_database
    from simulator.telnyx.signing import generate_signing_key

    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-startup-"))
    (data_dir / "logs").mkdir()
    for name in ("DATABASE_URL", "METRICS_PORT", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"):
        os.environ.pop(name, None)
    free = {name: _free_port() for name in DevStackPorts.model_fields}
    stack = DevStack(DevStackPorts(**free), data_dir=data_dir, fake_llm=True)
    env = {
        **stack._environment(generate_signing_key()[1]),
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "LAST_RUNG_DIR": str(data_dir / "last-rung"),
        "PYTHONPATH": str(REPO),
    }
    failed = True
    try:
        print(f"starting the Temporal dev server in {data_dir} ...", flush=True)
        temporal = stack.children.start("temporal", stack._temporal_command(), env, data_dir / "logs")
        wait_for_temporal(stack.ports.temporal, timeout=60, process=temporal)
        upgrade_database(env["DATABASE_URL"])
        compile_project(REPO)
        if args.compare is not None:
            compile_project(args.compare)
        rows = print_report(asyncio.run(measure(stack, env, args.repeats, args.compare)))
        if args.json:
            args.json.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2))
            print(f"\nall numbers written to {args.json}")
        failed = False
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except DevStackError as error:
        print(f"startup: {error}", file=sys.stderr)
        return 1
    finally:
        stack.children.stop_all()
        if failed or args.keep_data:
            print(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
