"""A call started on this code records one patch marker, however many patches its code asks.

Calls recorded before the generation ask each patch on their own: tests/test_replay.py replays them.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from simulator.call_script import CallScript
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.test_turn_events import history
from workflows.patches import GENERATIONS

WORKFLOWS = Path(__file__).parent.parent / "workflows"


def asked_patches() -> dict[str, str]:
    """Every patch id the workflows' code asks (`patched(NAME)`), by where it is asked."""
    asked = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        if path.stem == "patches":
            continue
        module = importlib.import_module(f"workflows.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "patched":
                (argument,) = node.args
                assert isinstance(argument, ast.Name), f"{path.name}:{node.lineno}: a patch id is a named constant"
                asked[getattr(module, argument.id)] = f"{path.name}:{node.lineno}"
    return asked


def test_every_patch_the_workflows_ask_is_in_the_newest_generation_and_each_generation_keeps_the_ones_before():
    newest = GENERATIONS[0][1]
    asked = asked_patches()
    assert len(asked) >= 20
    missing = {patch: where for patch, where in asked.items() if patch not in newest}
    assert not missing, f"a new patch goes into a new generation (workflows/patches.py): {missing}"
    for (_, newer), (_, older) in itertools.pairwise(GENERATIONS):
        assert older <= newer
    assert len({name for name, _ in GENERATIONS}) == len(GENERATIONS)


def patch_markers(events: list) -> list[str]:
    ids = []
    for event in events:
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        details = event.marker_recorded_event_attributes.details
        if "patch-data" in details:
            ids.append(json.loads(details["patch-data"].payloads[0].data)["id"])
    return ids


@pytest.mark.database
async def test_a_phone_call_with_turns_records_one_patch_marker(stack):
    lines = ["Do you do whitening", "And how long does it take"]
    call = stack.simulator.place_call(CallScript(lines=lines))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    events = await history(stack, call)
    assert patch_markers(events) == [GENERATIONS[0][0]], "the generation's marker stands for every patch"
    change_versions = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        and "TemporalChangeVersion"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    assert len(change_versions) <= 1, "and the SDK's TemporalChangeVersion upsert comes with it, once"
    # The call took the newest paths: no `speak.*` signal after the caller's words (replies heard with them).
    assert spoken(call) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]
