"""The reply's chat request skips the SDK's walk of `messages` and `tools` (activities/caller_reply.py)
by sending them in `extra_body`. This holds only while the SDK merges `extra_body` into the body it
would have sent: the same bytes, keys in the same places. An SDK upgrade that changes that fails here."""

from __future__ import annotations

from benchmarks.llm_request_cost import REQUEST, conversation, recording_client
from receptionist.tools import chat_completion_tools

TOOL_ROUND = [
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "check_availability", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Thursday 14:00 is free"},
]


async def test_the_conversation_in_extra_body_is_sent_as_the_sdk_would_send_it() -> None:
    client, sent = recording_client()
    async with client:
        messages, tools = [*conversation(3), *TOOL_ROUND], chat_completion_tools()
        for arguments in (
            {"messages": messages, "tools": tools},
            {"messages": [], "tools": [], "extra_body": {"messages": messages, "tools": tools}},
        ):
            async for _ in await client.chat.completions.create(**REQUEST, temperature=0.4, **arguments):
                pass
    typed, untyped = sent
    assert untyped == typed
    assert b'"tool_call_id":"call_1"' in untyped  # the conversation is in it, not the empty placeholders
