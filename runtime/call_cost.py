"""What a call cost, estimated from its length and its LLM tokens at the prices in the settings.

An estimate for the dashboard, not an invoice: Telnyx bills each started minute (voice,
transcription and speech together here), the LLM bills tokens, and on a Realtime-SIP call
OpenAI's Realtime model bills its audio and text tokens, in and out (`RealtimeUsage`).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field


class RealtimeUsage(BaseModel):
    """The Realtime model's tokens on one call, summed from its responses' `usage` (response.done).

    Input counts the whole conversation each response reads again, as the service bills it."""

    text_input_tokens: int = 0
    audio_input_tokens: int = 0
    text_output_tokens: int = 0
    audio_output_tokens: int = 0

    def add(self, usage: dict[str, Any]) -> None:
        """One response's usage (the SDK's RealtimeResponseUsage, as JSON)."""
        given = usage.get("input_token_details") or {}
        made = usage.get("output_token_details") or {}
        self.text_input_tokens += int(given.get("text_tokens") or 0)
        self.audio_input_tokens += int(given.get("audio_tokens") or 0)
        self.text_output_tokens += int(made.get("text_tokens") or 0)
        self.audio_output_tokens += int(made.get("audio_tokens") or 0)


class CallPrices(BaseModel):
    telnyx_per_minute_usd: float = Field(default=0.01, ge=0)
    llm_per_million_prompt_tokens_usd: float = Field(default=0.15, ge=0)
    llm_per_million_completion_tokens_usd: float = Field(default=0.60, ge=0)
    realtime_per_million_audio_input_tokens_usd: float = Field(default=32.0, ge=0)
    realtime_per_million_audio_output_tokens_usd: float = Field(default=64.0, ge=0)
    realtime_per_million_text_input_tokens_usd: float = Field(default=4.0, ge=0)
    realtime_per_million_text_output_tokens_usd: float = Field(default=16.0, ge=0)

    @classmethod
    def from_settings(cls, settings) -> CallPrices:
        return cls(
            telnyx_per_minute_usd=settings.telnyx_price_per_minute_usd,
            llm_per_million_prompt_tokens_usd=settings.llm_price_per_million_prompt_tokens_usd,
            llm_per_million_completion_tokens_usd=settings.llm_price_per_million_completion_tokens_usd,
            realtime_per_million_audio_input_tokens_usd=settings.realtime_price_per_million_audio_input_tokens_usd,
            realtime_per_million_audio_output_tokens_usd=settings.realtime_price_per_million_audio_output_tokens_usd,
            realtime_per_million_text_input_tokens_usd=settings.realtime_price_per_million_text_input_tokens_usd,
            realtime_per_million_text_output_tokens_usd=settings.realtime_price_per_million_text_output_tokens_usd,
        )


def estimated_cost_usd(
    prices: CallPrices,
    duration_seconds: float | None,
    prompt_tokens: int,
    completion_tokens: int,
    realtime: RealtimeUsage | None = None,
) -> float:
    minutes = math.ceil(duration_seconds / 60) if duration_seconds and duration_seconds > 0 else 0
    telephony = minutes * prices.telnyx_per_minute_usd
    llm = (
        prompt_tokens * prices.llm_per_million_prompt_tokens_usd
        + completion_tokens * prices.llm_per_million_completion_tokens_usd
    ) / 1_000_000
    spoken = 0.0
    if realtime is not None:
        spoken = (
            realtime.audio_input_tokens * prices.realtime_per_million_audio_input_tokens_usd
            + realtime.audio_output_tokens * prices.realtime_per_million_audio_output_tokens_usd
            + realtime.text_input_tokens * prices.realtime_per_million_text_input_tokens_usd
            + realtime.text_output_tokens * prices.realtime_per_million_text_output_tokens_usd
        ) / 1_000_000
    return round(telephony + llm + spoken, 6)
