"""What a call cost, estimated from its length and its LLM tokens at the prices in the settings.

An estimate for the dashboard, not an invoice: Telnyx bills each started minute (voice,
transcription and speech together here), the LLM bills tokens.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field


class CallPrices(BaseModel):
    telnyx_per_minute_usd: float = Field(default=0.01, ge=0)
    llm_per_million_prompt_tokens_usd: float = Field(default=0.15, ge=0)
    llm_per_million_completion_tokens_usd: float = Field(default=0.60, ge=0)

    @classmethod
    def from_settings(cls, settings) -> CallPrices:
        return cls(
            telnyx_per_minute_usd=settings.telnyx_price_per_minute_usd,
            llm_per_million_prompt_tokens_usd=settings.llm_price_per_million_prompt_tokens_usd,
            llm_per_million_completion_tokens_usd=settings.llm_price_per_million_completion_tokens_usd,
        )


def estimated_cost_usd(
    prices: CallPrices, duration_seconds: float | None, prompt_tokens: int, completion_tokens: int
) -> float:
    minutes = math.ceil(duration_seconds / 60) if duration_seconds and duration_seconds > 0 else 0
    telephony = minutes * prices.telnyx_per_minute_usd
    llm = (
        prompt_tokens * prices.llm_per_million_prompt_tokens_usd
        + completion_tokens * prices.llm_per_million_completion_tokens_usd
    ) / 1_000_000
    return round(telephony + llm, 6)
