"""Runs one benchmark against a whole stack of its own: started in a temporary data dir, measured,
reported (and written as JSON when asked), then stopped and removed, whatever happened."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.turn_latency import BenchStack, _interrupt
from cloudgreet.dev_stack import DevStackError


def run_on_a_stack(
    name: str,
    measure: Callable[[BenchStack, Path], dict],
    print_report: Callable[[dict], None],
    json_path: Path | None = None,
) -> int:
    """The exit code of benchmark `name`: 0 when `measure(stack, data_dir)` gave its report, 1 when the stack
    failed (the logs' place is said), 130 when interrupted."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"cloudgreet-bench-{name}-"))
    stack = BenchStack(data_dir)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"starting the stack in {data_dir} ...", flush=True)
        stack.start()
        report = measure(stack, data_dir)
        print_report(report)
        if json_path:
            json_path.write_text(json.dumps(report, indent=2))
        return 0
    except KeyboardInterrupt:
        return 130
    except (DevStackError, TimeoutError, httpx.HTTPError) as error:
        print(f"{name}: {error} (logs: {data_dir / 'logs'})", file=sys.stderr)
        return 1
    finally:
        stack.children.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)
