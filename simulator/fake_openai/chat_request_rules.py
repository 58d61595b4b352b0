"""What the Chat Completions API refuses, checked the way the service checks it.

A fake that takes what OpenAI refuses hides a bug until production, so a request is held to:
- the request arguments the `openai` SDK knows (`CompletionCreateParams`): anything else is an
  "Unrecognized request argument";
- each message's shape, by the SDK's own pydantic-checkable `ChatCompletion*MessageParam` for its role;
- the tool message rules: a `tool` message answers a `tool_calls` id of the assistant message
  before it, and every id of that assistant message is answered before anything else is said;
- each tool's shape (`ChatCompletionFunctionToolParam`) and its name's pattern, and at most 128;
- `tool_choice` only with `tools`, `stream_options` only with `stream`.

The messages are OpenAI's own (as the SDK receives them in its `BadRequestError`), with the
parameter paths it names (`messages.[2].role`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionFunctionMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat import completion_create_params as create_params
from pydantic import TypeAdapter, ValidationError

MAX_TOOLS = 128
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MESSAGE_TYPES: dict[str, Any] = {
    "developer": ChatCompletionDeveloperMessageParam,
    "system": ChatCompletionSystemMessageParam,
    "user": ChatCompletionUserMessageParam,
    "assistant": ChatCompletionAssistantMessageParam,
    "tool": ChatCompletionToolMessageParam,
    "function": ChatCompletionFunctionMessageParam,
}


@dataclass(frozen=True)
class Refusal:
    """A 400 as OpenAI words it."""

    message: str
    param: str | None = None
    code: str | None = None


@cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def _known_arguments() -> frozenset[str]:
    params = create_params.CompletionCreateParamsBase
    return frozenset(params.__annotations__) | {"stream"}


def refusal_of(body: dict[str, Any]) -> Refusal | None:
    """Why OpenAI would answer this request 400, or None when it would take it."""
    unknown = sorted(set(body) - _known_arguments())
    if unknown:
        return Refusal(f"Unrecognized request argument supplied: {', '.join(unknown)}")
    if not body.get("model"):
        return Refusal("you must provide a model parameter")
    return _messages_refusal(body["messages"]) or _tools_refusal(body)


def _messages_refusal(messages: list[dict[str, Any]]) -> Refusal | None:
    unanswered: list[str] = []  # the tool_call ids of the last assistant message, not yet answered
    asked_at = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in MESSAGE_TYPES:
            return Refusal(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.",
                param=f"messages.[{index}].role",
                code="invalid_value",
            )
        if (wrong := _shape_refusal(message, index)) is not None:
            return wrong
        if role == "tool":
            if message["tool_call_id"] not in unanswered:
                return Refusal(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            unanswered.remove(message["tool_call_id"])
            continue
        if unanswered:
            return _unanswered(unanswered, asked_at)
        if role == "assistant":
            unanswered = [call["id"] for call in message.get("tool_calls") or []]
            asked_at = index
    return _unanswered(unanswered, asked_at) if unanswered else None


def _unanswered(ids: list[str], index: int) -> Refusal:
    return Refusal(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(ids)}",
        param=f"messages.[{index}].role",
    )


def _shape_refusal(message: dict[str, Any], index: int) -> Refusal | None:
    role = message["role"]
    no_content = message.get("content") is None
    if no_content and not (role == "assistant" and (message.get("tool_calls") or message.get("function_call"))):
        if "content" not in message:
            return Refusal(
                f"Missing required parameter: 'messages[{index}].content'.",
                param=f"messages.[{index}].content",
                code="missing_required_parameter",
            )
        return Refusal("Invalid value for 'content': expected a string, got null.", param=f"messages.[{index}].content")
    try:
        _adapter(MESSAGE_TYPES[role]).validate_python(message, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            return Refusal(
                f"Missing required parameter: 'messages[{index}].{where}'.",
                param=f"messages.[{index}].{where}",
                code="missing_required_parameter",
            )
        return Refusal(
            f"Invalid value for 'messages[{index}].{where}': {first['msg']}.",
            param=f"messages.[{index}].{where}",
            code="invalid_value",
        )
    return None


def _tools_refusal(body: dict[str, Any]) -> Refusal | None:
    tools = body.get("tools")
    if body.get("tool_choice") is not None and not tools:
        return Refusal(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        return Refusal(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    if tools is None:
        return None
    if tools == []:
        return Refusal(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="tools",
            code="empty_array",
        )
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        return Refusal(
            f"Invalid 'tools': expected an array of at most {MAX_TOOLS} tools.", param="tools", code="invalid_value"
        )
    for index, tool in enumerate(tools):
        try:
            _adapter(ChatCompletionFunctionToolParam).validate_python(tool, strict=True)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            if first["type"] == "missing":
                return Refusal(
                    f"Missing required parameter: 'tools[{index}].{where}'.",
                    param=f"tools[{index}].{where}",
                    code="missing_required_parameter",
                )
            return Refusal(
                f"Invalid 'tools[{index}].{where}': {error.errors()[0]['msg']}.",
                param=f"tools[{index}].{where}",
                code="invalid_value",
            )
        if not TOOL_NAME.match(tool["function"]["name"]):
            return Refusal(
                f"Invalid 'tools[{index}].function.name': string does not match pattern. Expected a string that "
                "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"tools[{index}].function.name",
                code="invalid_value",
            )
    return None
