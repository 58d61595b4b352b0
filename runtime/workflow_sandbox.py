"""The workflow sandbox of the production worker: our deterministic packages are passed through.

The sandbox imports a workflow's modules afresh for every workflow run, so that no run sees
another's module state, and checks their calls against its restrictions. For CloudGreet that is
every call: re-importing workflows/ (and what its modules import outside their
`imports_passed_through()` blocks) cost ~40 ms of a worker's CPU per call, a third of replaying
a whole recorded call (measured by replaying tests/fixtures/histories both ways).

These packages keep no module state that a run changes (constants, pydantic models, pure
functions), so they are passed through: imported once per worker. The sandbox's restrictions
still apply to everything else, and the workflows are still checked against them where it
matters for a change: tests/test_replay.py replays recorded calls in the default sandbox, as
does the time-skipping test stack (tests/time_skipping_stack.py).
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

DETERMINISTIC_PACKAGES = ("workflows", "domain", "receptionist", "business")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*DETERMINISTIC_PACKAGES)
    )
