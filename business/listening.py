"""How the receptionist listens: Telnyx's speech recognition, and when a reply starts before the caller ends.

Telnyx's final transcript comes only after the engine's endpointing: it waits that long in
silence before it decides the caller has finished (Deepgram's `utterance_end_ms`). 700 ms ends
a turn about half a second sooner than the engines' defaults of a second or more, yet leaves a
caller who pauses between two thoughts ("I'd like a cleaning ... on Tuesday") the room to go on.
Interim results must be on: they are the barge-in signal, and what a speculative reply starts on.

A speculative reply is the LLM's answer to an interim transcript that has stayed the same for
`speculate_after_ms`: generated, never spoken, until the final transcript says the same words.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The languages Telnyx's Deepgram models take (the telnyx SDK's DeepgramNova3ConfigParam, ...Nova2...).
NOVA3_LANGUAGES = frozenset(
    {
        "en-US", "en-AU", "en-GB", "en-IN", "en-NZ", "de", "nl", "sv-SE", "da-DK", "es", "es-419", "fr", "fr-CA",
        "pt-BR", "pt-PT",
    }
)  # fmt: skip
NOVA2_LANGUAGES = frozenset(
    {
        "bg", "ca", "zh-CN", "zh-TW", "zh-HK", "cs", "da-DK", "nl-BE", "en-US", "en-AU", "en-GB", "en-NZ", "en-IN",
        "et", "fi", "fr", "fr-CA", "de-CH", "el", "hi", "hu", "id", "it", "ja", "ko-KR", "lv", "lt", "ms", "no", "pl",
        "pt-BR", "pt-PT", "ro", "ru", "sk", "es-419", "sv-SE", "th-TH", "tr", "uk", "vi",
    }
)  # fmt: skip
DEEPGRAM_LANGUAGES = {"deepgram/nova-3": NOVA3_LANGUAGES, "deepgram/nova-2": NOVA2_LANGUAGES}
DEFAULT_FILLER = "One moment, let me check that."


class TranscriptionSettings(BaseModel):
    """What the transcription_start command asks of Telnyx for this business's calls."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["Deepgram", "Google"] = Field(
        default="Deepgram", description="Deepgram ends turns on silence (utterance_end_ms); Google decides alone"
    )
    model: Literal["deepgram/nova-3", "deepgram/nova-2", "latest_short", "phone_call"] = Field(
        default="deepgram/nova-3", description="deepgram/* with Deepgram; latest_short or phone_call with Google"
    )
    interim_results: bool = Field(default=True, description="Needed for barge-in and speculative replies")
    utterance_end_ms: int = Field(
        default=700, ge=0, le=5000, strict=True, description="Deepgram: silence that ends the caller's turn"
    )

    def command_params(self, language: str) -> dict[str, Any]:
        """The transcription_engine and transcription_engine_config of Telnyx's transcription_start."""
        if self.engine == "Google":
            google: dict[str, Any] = {"transcription_engine": "Google", "interim_results": self.interim_results}
            if self.model in ("latest_short", "phone_call"):
                google["model"] = self.model
            return {"transcription_engine": "Google", "transcription_engine_config": google}
        model = self.model if self.model.startswith("deepgram/") else "deepgram/nova-3"
        config: dict[str, Any] = {
            "transcription_engine": model,
            "transcription_model": model,
            "interim_results": self.interim_results,
            "utterance_end_ms": self.utterance_end_ms,
        }
        # Both models detect the language themselves when the business's is not one they name.
        config["language"] = language if language in DEEPGRAM_LANGUAGES[model] else "auto_detect"
        return {"transcription_engine": "Deepgram", "transcription_engine_config": config}


class ReplyTiming(BaseModel):
    """When the receptionist starts thinking, and what it says rather than leave the caller in silence."""

    model_config = ConfigDict(extra="forbid")

    speculate: bool = Field(default=True, description="Start the reply on a stable interim transcript")
    speculate_after_ms: int = Field(
        default=250, ge=50, le=3000, strict=True, description="How long an interim transcript stays the same first"
    )
    filler_after_ms: int = Field(
        default=1200, ge=300, le=10000, strict=True, description="Silence after which the caller hears the filler"
    )
    filler: str = Field(default=DEFAULT_FILLER, min_length=1, max_length=120)
