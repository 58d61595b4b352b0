"""What the fake model answers, how fast, and how it misbehaves: `FakeLLMBehaviour` and its rules.

Replies are deterministic (derived from the last user message or from configured rules) so a
test can predict them; both the chat completions and the Realtime fake answer from here, so one
`PUT /_fake/behaviour` scripts both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FakeToolCall(BaseModel):
    """A function call the fake model makes; ``arguments`` is sent JSON-encoded, as OpenAI does."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # A model may ask for the same function many times in one answer ("book 50 slots").
    repeat: int = Field(default=1, ge=1, le=100)


class FakeReplyRule(BaseModel):
    """Scripts the answer to a user message that contains ``contains`` (case-insensitive).

    ``tool_call`` wins when the request offers a function of that name; otherwise ``reply`` is
    used. A rule with neither usable is skipped, so a tool rule can be followed by a text rule
    for requests that offer no tools. An empty ``contains`` matches every message.
    """

    model_config = ConfigDict(extra="forbid")

    contains: str
    reply: str | None = None
    tool_call: FakeToolCall | None = None


class FakeReply(BaseModel):
    """What the fake model answers: either text or a single tool call."""

    text: str | None = None
    tool_call: FakeToolCall | None = None
    # The request's max_tokens cut the text short: OpenAI then ends with finish_reason "length".
    cut_short: bool = False

    def within(self, max_tokens: int | None) -> FakeReply:
        """The reply as a model limited to `max_tokens` (a word stands for a token) gives it."""
        words = (self.text or "").split()
        if max_tokens is None or self.tool_call is not None or len(words) <= max_tokens:
            return self
        return self.model_copy(update={"text": " ".join(words[:max_tokens]), "cut_short": True})


class FakeLLMBehaviour(BaseModel):
    """How the fake model answers, how fast, and how it misbehaves.

    The counters ``fail_next`` and ``hang_next`` are consumed (decremented) by the requests
    they affect, so ``GET /_fake/behaviour`` shows what is still pending. Unknown keys are
    rejected so a typo in a ``PUT /_fake/behaviour`` body fails loudly instead of doing nothing.

    Injected failures are checked before hangs, and both after authentication and validation. A
    hang ends early when the client disconnects (recorded as status 499) or when
    ``FakeOpenAI.release_hangs()`` is called (the request then answers normally).
    """

    model_config = ConfigDict(extra="forbid")

    rules: list[FakeReplyRule] = Field(default_factory=list)
    first_token_delay_ms: float = Field(default=0.0, ge=0)
    chunk_delay_ms: float = Field(default=0.0, ge=0)
    fail_next: int = Field(default=0, ge=0)
    fail_status: int = Field(default=500, ge=400, le=599)
    fail_always: bool = False
    hang_next: int = Field(default=0, ge=0)
    hang_seconds: float = Field(default=30.0, ge=0)

    def reply_for(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> FakeReply:
        """Decides the reply deterministically, so tests can predict it without scripting every turn.

        Order: a trailing tool result is acknowledged ("Done: <result>.") -- checked first so a
        tool-call rule cannot loop forever; with no user text, "How can I help you?"; then the
        first matching rule; else an echo of the last user message in two sentences, so a
        sentence-by-sentence speaker sees two sentences.
        """
        if messages and messages[-1].get("role") == "tool":
            return FakeReply(text=f"Done: {text_of(messages[-1].get('content'))}.")
        user_texts = [text_of(m.get("content")).strip() for m in messages if m.get("role") == "user"]
        if not user_texts or not user_texts[-1]:
            return FakeReply(text="How can I help you?")
        last_user = user_texts[-1]
        offered = _offered_function_names(tools)
        for rule in self.rules:
            if rule.contains.lower() not in last_user.lower():
                continue
            if rule.tool_call is not None and rule.tool_call.name in offered:
                return FakeReply(tool_call=rule.tool_call)
            if rule.reply is not None:
                return FakeReply(text=rule.reply)
        return FakeReply(text=f"Thanks for asking about {last_user.rstrip('.?!')}. I can help you with that.")


def text_of(content: Any) -> str:
    """Message content as plain text; OpenAI allows a string or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return str(content)


def _offered_function_names(tools: Sequence[Mapping[str, Any]] | None) -> set[str]:
    names: set[str] = set()
    for tool in tools or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names
