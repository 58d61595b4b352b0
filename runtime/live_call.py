"""A call in flight, as its workflow sees it right now, and where to look at it in the Temporal UI.

Shared by the admin pages, the admin API and `cloudgreet calls show`. It sits below the workflows,
so it asks for `CallWorkflow.state` by the query's name and gets the state as JSON; the tests that
show a call in flight (tests/test_calls_cli.py) keep the name and the workflow in step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.service import RPCError

CALL_STATE_QUERY = "state"  # the name of CallWorkflow.state


class LiveState(BaseModel):
    state: dict[str, Any] | None = Field(default=None, description="The workflow's `state` query, for a call in flight")
    problem: str | None = Field(default=None, description="Why the live state could not be read")


async def read_live_state(client: Client, workflow_id: str, timeout_seconds: float = 3.0) -> LiveState:
    """The `state` query of a call's workflow: what it has heard and said so far, right now."""
    try:
        handle = client.get_workflow_handle(workflow_id)
        state = await handle.query(CALL_STATE_QUERY, result_type=dict, rpc_timeout=timedelta(seconds=timeout_seconds))
    except RPCError as error:
        return LiveState(problem=f"Temporal could not answer: {error.message}")
    except Exception as error:  # noqa: BLE001  (a failed query is reported on the page, not raised)
        return LiveState(problem=f"the query failed: {error}")
    return LiveState(state=state)


def temporal_ui_link(ui_url: str, namespace: str, workflow_id: str) -> str:
    return f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
