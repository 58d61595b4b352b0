"""A process that used the Temporal SDK ends with the status its command gave, not with a crash.

The SDK's Rust threads can still be handing back the GIL while Python finalizes, and the process
aborts (134) or segfaults (139) after its work is done: 22 of 100 short-lived client processes on
this 2-core machine, four at a time (temporalio/sdk-python#300). `cloudgreet.process_exit` ends
such a process past finalization, once its threads and `atexit` functions have run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Connects, asks the server something, says goodbye from an atexit function, and ends as `cloudgreet` does.
CLIENT_PROCESS = """
import asyncio, atexit, sys
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from cloudgreet.process_exit import end_process

async def ask(address):
    client = await Client.connect(address)
    await client.workflow_service.get_system_info(GetSystemInfoRequest())

asyncio.run(ask(sys.argv[1]))
atexit.register(lambda: print("atexit ran", end=""))
print("asked; ", end="")
end_process(int(sys.argv[2]))
"""


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


async def run_client_process(address: str, status: int) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT_PROCESS, address, str(status),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment(),
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_processes_that_used_the_temporal_client_end_with_their_status_every_time(temporal) -> None:
    address = temporal.client.service_client.config.target_host
    # Two at a time, so as not to starve the other tests' servers on a 2-core machine; on one that is
    # busy, a third of such processes crashed before (8 of 24), so twelve catch it nearly always.
    two_at_a_time = asyncio.Semaphore(2)

    async def one(status: int) -> tuple[int, str, str]:
        async with two_at_a_time:
            return await run_client_process(address, status)

    ended = await asyncio.gather(*(one(index % 3) for index in range(12)))
    crashed = [(code, err[-300:]) for (code, _, err), index in zip(ended, range(12), strict=True) if code != index % 3]
    assert crashed == [], "a process ended with another status than its own"
    assert all(out == "asked; atexit ran" for _, out, _ in ended), "output flushed and atexit functions run"
    assert not any("Fatal Python error" in err for _, _, err in ended)


def end_in_a_process(code: str, *, with_temporal: bool) -> subprocess.CompletedProcess[str]:
    script = "\n".join(
        [
            "import temporalio.bridge.temporal_sdk_bridge" if with_temporal else "",
            "from cloudgreet.process_exit import end_process",
            f"end_process({code})",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment(), timeout=60, check=False
    )


def test_the_status_is_what_sys_exit_gives_with_the_temporal_sdk_loaded_or_not() -> None:
    for with_temporal in (True, False):
        assert end_in_a_process("None", with_temporal=with_temporal).returncode == 0
        assert end_in_a_process("3", with_temporal=with_temporal).returncode == 3
        refused = end_in_a_process("'the database is not reachable'", with_temporal=with_temporal)
        assert (refused.returncode, refused.stderr) == (1, "the database is not reachable\n")
