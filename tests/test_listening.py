"""How the receptionist listens: the transcription settings Telnyx takes, and when two transcripts say the same."""

from __future__ import annotations

import pytest

from business.listening import TranscriptionSettings
from receptionist.transcripts import same_words
from simulator.telnyx.command_rules import refusal_of


def transcription_start(**engine) -> dict:
    return {"command_id": "call-1/transcription", "transcription_tracks": "inbound", **engine}


@pytest.mark.parametrize(
    "settings",
    [
        TranscriptionSettings(),
        TranscriptionSettings(model="deepgram/nova-2", utterance_end_ms=1000),
        TranscriptionSettings(engine="Google", model="latest_short"),
        TranscriptionSettings(interim_results=False),
    ],
)
@pytest.mark.parametrize("language", ["en-US", "de", "cy-GB"])
def test_every_business_setting_makes_a_transcription_start_telnyx_takes(settings, language) -> None:
    assert refusal_of("start_transcription", transcription_start(**settings.command_params(language))) is None


def test_the_default_ends_a_turn_after_700_ms_of_silence_with_interim_results() -> None:
    params = TranscriptionSettings().command_params("en-US")
    assert params["transcription_engine"] == "Deepgram"
    assert params["transcription_engine_config"]["utterance_end_ms"] == 700
    assert params["transcription_engine_config"]["interim_results"] is True


@pytest.mark.parametrize(
    "engine",
    [
        # a field of another engine's config
        {"transcription_engine": "Deepgram", "transcription_engine_config": {
            "transcription_engine": "deepgram/nova-3", "transcription_model": "deepgram/nova-3", "endpointing": 300}},
        # a number as text
        {"transcription_engine": "Deepgram", "transcription_engine_config": {
            "transcription_engine": "deepgram/nova-3", "transcription_model": "deepgram/nova-3", "utterance_end_ms": "700"}},
        # out of Telnyx's range
        {"transcription_engine": "Deepgram", "transcription_engine_config": {
            "transcription_engine": "deepgram/nova-3", "transcription_model": "deepgram/nova-3", "utterance_end_ms": 9000}},
        # a Deepgram config for the Google engine
        {"transcription_engine": "Google", "transcription_engine_config": {
            "transcription_engine": "deepgram/nova-3", "transcription_model": "deepgram/nova-3"}},
    ],
)  # fmt: skip
def test_the_simulator_refuses_an_engine_config_telnyx_would_refuse(engine) -> None:
    refused = refusal_of("start_transcription", transcription_start(**engine))
    assert refused is not None and refused["errors"][0]["code"] == "10015"


@pytest.mark.parametrize(
    ("interim", "final"),
    [
        ("um do you do whitening", "Do you do whitening?"),
        ("I'd like a cleaning, uh, on Tuesday", "I'd like a cleaning on Tuesday."),
        ("What’s your address", "What's your address?"),
    ],
)
def test_case_punctuation_and_hesitations_do_not_change_the_words(interim, final) -> None:
    assert same_words(interim, final)


@pytest.mark.parametrize(
    ("interim", "final"),
    [
        ("Can I come in on Tuesday", "Can I come in on Thursday"),
        ("Can I come in", "Can I come in on Tuesday"),
        ("I'd like a cleaning", "I'd not like a cleaning"),
    ],
)
def test_any_word_changed_added_or_dropped_is_another_question(interim, final) -> None:
    assert not same_words(interim, final)
