"""How a `cloudgreet` process ends once it has used the Temporal SDK.

The SDK's Rust threads outlive the event loops they served and may still be handing back the GIL
while the interpreter finalizes; the process then aborts after its work is done ("Fatal Python
error: PyGILState_Release: thread state ... must be current when releasing", exit code 134,
temporalio/sdk-python#300, open). A worker stopped by its service manager, or `cloudgreet calls
show`, would report a crash it did not have. So a process that loaded the SDK's bridge ends as
Python would up to that point (its other threads finished, its `atexit` functions run: the logs
flushed, the last spans exported) and then without finalizing the interpreter: there is nothing
left for finalization to do that the operating system does not do at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

TEMPORAL_BRIDGE = "temporalio.bridge.temporal_sdk_bridge"


def exit_status(code: object) -> int:
    """What `sys.exit(code)` makes the exit status: None is 0, a number itself, anything else 1 (printed)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def end_process(code: object = 0) -> NoReturn:
    if TEMPORAL_BRIDGE not in sys.modules:
        sys.exit(code)
    status = exit_status(code)
    for thread in threading.enumerate():  # as the interpreter waits for them at exit
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # the interpreter's own call at exit; multiprocessing's children make it too
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            stream.flush()
    os._exit(status)
