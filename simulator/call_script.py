"""What the simulated caller says and how the simulated phone network misbehaves.

A call script is the whole part of a phone call that Telnyx and the person on the line
contribute: the numbers, what the person says (or keys in) turn by turn, and the faults of
real traffic (duplicated, reordered and late webhooks, failing commands) that our API must
survive. Scripts are written by hand as YAML or JSON files, so the models forbid unknown
keys: a misspelt key is a mistake to report, not an option to ignore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DTMF_DIGITS = set("0123456789*#ABCD")


class CallerLine(BaseModel):
    """One turn of the person on the line: a spoken sentence or one keypad digit.

    In a sentence, `{texted_code}` is read out as the last code our app texted to the person's
    number, and `{wrong_code}` as a code that is not that one (its last digit misread).
    """

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    # A barge-in line is spoken while the agent is still talking, to test interruption.
    barge_in: bool = False
    barge_in_after_seconds: float = Field(default=0.3, ge=0)
    dtmf: str | None = None
    # What the final transcript says, when it is not what the interims said: the engine changed its
    # mind on the last words ("... on Tuesday" heard as "... on Thursday"), as real engines do.
    final_text: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _speech_or_keypad(self) -> CallerLine:
        has_text = bool(self.text.strip())
        if has_text == (self.dtmf is not None):
            raise ValueError("a caller line needs exactly one of a non-empty 'text' or a 'dtmf' digit")
        if self.dtmf is not None and (len(self.dtmf) != 1 or self.dtmf not in DTMF_DIGITS):
            raise ValueError(f"'dtmf' must be one keypad digit (0-9, *, #, A-D), got {self.dtmf!r}")
        return self


class Misbehaviour(BaseModel):
    """Faults of real Telnyx traffic to inject into one call."""

    model_config = ConfigDict(extra="forbid")

    # Every webhook delivered twice with the same data.id (at-least-once delivery).
    duplicate_events: bool = False
    # Each pair of consecutive webhooks delivered in swapped order where timing allows.
    reorder_events: bool = False
    # One call.transcription and one call.speak.ended arrive after call.hangup.
    late_events_after_hangup: bool = False
    # The next N commands on the call answer HTTP 500 without taking effect.
    fail_commands: int = Field(default=0, ge=0)
    # Each command on the call answers HTTP 500 with this probability, drawn from a generator seeded
    # with `command_error_seed` (the same seed fails the same commands in the same order). Half of
    # them fail before the command takes effect, half after it did (the answer is lost, as behind a
    # gateway timeout): then only the command_id of its retry keeps it from acting twice.
    command_error_rate: float = Field(default=0, ge=0, le=1)
    command_error_seed: int = 0


class CallScript(BaseModel):
    """A whole scripted phone call, as placed by the simulator or by `cloudgreet simulate`."""

    model_config = ConfigDict(extra="forbid")

    from_number: str = "+15555550142"
    to_number: str = "+15555550100"
    lines: list[CallerLine] = Field(default_factory=list)
    hang_up_at_end: bool = True
    # Guard against a call that never ends, whatever the app under test does.
    max_call_seconds: float = Field(default=60, gt=0)
    # How long this caller waits in silence before taking the agent's reply as finished;
    # None keeps the simulator's setting.
    caller_pause_seconds: float | None = Field(default=None, ge=0)
    # How long the agent's speech takes per character on this call; None keeps the
    # simulator's setting. A slow talker leaves room to be talked over on a busy machine.
    speech_seconds_per_char: float | None = Field(default=None, ge=0)
    # How speech recognition hears this caller: an interim transcript every this many seconds while
    # they talk, and, with `endpointing`, the final transcript only once they were silent for the
    # `utterance_end_ms` our app asked for in transcription_start (0.7 s when it named none), as
    # Telnyx's Deepgram does; without it the final follows the last interim at once.
    interim_spacing_seconds: float = Field(default=0.02, ge=0, le=5)
    endpointing: bool = False
    misbehaviour: Misbehaviour = Field(default_factory=Misbehaviour)
    # Escalation: who picks up when our app transfers this call to a number, or dials it linked
    # to this call (a number not listed answers), how long an unanswered phone rings before Telnyx
    # gives up (at most the command's timeout_secs), and how long the caller talks to the human
    # it was put through to before hanging up. A `transfer` bridges whatever picks up; on a leg
    # our app dialled, a person who answers presses 1 once our app has spoken and gone quiet,
    # unless they are "no_key_press" (they listen and wait), and a voicemail box records.
    on_call_answers: dict[str, Literal["answer", "no_key_press", "voicemail", "no_answer", "busy"]] = Field(
        default_factory=dict
    )
    ring_seconds: float = Field(default=0.3, ge=0)
    transfer_talk_seconds: float = Field(default=0.3, ge=0)
    # A caller on hold (while a leg dialled for this call is up and not bridged to it) hangs up
    # after this long; None waits as long as the call may last.
    hold_patience_seconds: float | None = Field(default=None, ge=0)
    # For a call our app dials (expect_outbound_call): who answers it. "human" is the
    # scripted person saying `lines`; "voicemail" records what the agent says.
    callee: Literal["human", "voicemail", "no_answer", "busy"] = "human"

    @field_validator("lines", mode="before")
    @classmethod
    def _plain_strings_are_spoken_lines(cls, lines: Any) -> Any:
        # Hand-written scripts are mostly plain sentences; `- Hello` beats `- text: Hello`.
        if isinstance(lines, list):
            return [{"text": _spoken(line)} if isinstance(line, str | bool | int | float) else line for line in lines]
        return lines


def _spoken(line: str | bool | int | float) -> str:
    # YAML reads an unquoted `- Yes` or `- no` as a boolean; the caller meant the word.
    if isinstance(line, bool):
        return "Yes" if line else "No"
    return str(line)


def load_call_script(path: str | Path) -> CallScript:
    """Read a call script from a YAML or JSON file.

    Raises ValueError naming the file and the problem, because the person running
    `cloudgreet simulate` needs to know which file to fix and where.
    """
    path = Path(path)
    content = _parse_script_file(path)
    if not isinstance(content, dict):
        raise ValueError(
            f"call script {path}: expected a mapping with keys such as 'lines', got {type(content).__name__}"
        )
    try:
        return CallScript.model_validate(content)
    except ValidationError as error:
        raise ValueError(f"call script {path} is invalid:\n{_describe_errors(error)}") from None


def _parse_script_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read call script {path}: {error}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)  # JSON is (nearly) YAML too, so other suffixes go here
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"call script {path} is not valid {_format_name(path)}: {error}") from None


def _format_name(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def _describe_errors(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)
