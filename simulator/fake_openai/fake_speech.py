"""Audio the fake can "hear": words carried in PCM16 samples, and the server VAD that finds them.

The fake has no speech recogniser. A test speaks by appending audio (`input_audio_buffer.append`,
as a client streaming its microphone would): `spoken(text)` is loud PCM16 whose samples also carry
the words, and `silence(ms)` is zeros. The fake's VAD (`VoiceActivity`) hears loud 10 ms frames as
speech and enough silence after them as the end of a turn, as OpenAI's server VAD does with real
audio; its "transcriber" (`words_in`) reads the words back. Audio without words is heard as speech
all the same and transcribed as "" (the service would transcribe noise as little or nothing).
"""

from __future__ import annotations

import base64
from array import array
from dataclasses import dataclass, field

SAMPLE_RATE = 24_000  # audio/pcm, the GA default: 16-bit mono little-endian
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms
LOUD = 1_000  # mean |sample| above which a frame counts as speech
_BASE = 20_000  # a loud sample carrying one byte: _BASE + byte
_START, _END = 30_001, 30_002


def _pcm(samples: list[int]) -> bytes:
    return array("h", samples).tobytes()  # the machines this runs on are little-endian


def spoken(text: str, ms: int = 600) -> bytes:
    """At least `ms` of loud audio that carries `text`."""
    data = [_BASE + byte for byte in text.encode()]
    samples = [_START, *data, _END]
    samples += [_BASE] * max(0, ms * SAMPLE_RATE // 1000 - len(samples))
    return _pcm(samples)


def silence(ms: int) -> bytes:
    return bytes(2 * ms * SAMPLE_RATE // 1000)


def append_events(audio: bytes, chunk_ms: int = 100) -> list[dict[str, str]]:
    """`input_audio_buffer.append` events for `audio`, in chunks a data channel carries."""
    step = 2 * chunk_ms * SAMPLE_RATE // 1000
    return [
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio[i : i + step]).decode()}
        for i in range(0, len(audio), step)
    ]


def words_in(audio: bytes) -> str:
    """What the fake "transcribes" from committed audio: the words `spoken` put there, else ""."""
    samples = array("h", audio[: len(audio) // 2 * 2])
    words: list[int] = []
    inside = False
    for sample in samples:
        if sample == _START:
            inside, words = True, []
        elif sample == _END and inside:
            return bytes(words).decode(errors="replace")
        elif inside and _BASE <= sample < _BASE + 256:
            words.append(sample - _BASE)
        elif inside:
            inside = False
    return ""


@dataclass
class Turn:
    """One stretch of speech VAD found: when it started and ended, and its audio."""

    start_ms: int
    end_ms: int
    audio: bytes


@dataclass
class VoiceActivity:
    """Server VAD over appended PCM16: `feed` returns what happened, in order."""

    silence_duration_ms: int = 500
    prefix_padding_ms: int = 300
    buffer: bytearray = field(default_factory=bytearray)
    position_ms: int = 0
    speech_start_ms: int | None = None
    quiet_ms: int = 0
    _pending: bytearray = field(default_factory=bytearray)

    def feed(self, audio: bytes) -> list[tuple[str, int, Turn | None]]:
        """("started", audio_start_ms, None) and ("stopped", audio_end_ms, the turn) as frames cross
        the thresholds; a stop ends the turn there, and the frames after it start a new buffer."""
        happened: list[tuple[str, int, Turn | None]] = []
        self._pending += audio
        frame_bytes = 2 * FRAME_SAMPLES
        while len(self._pending) >= frame_bytes:
            frame = bytes(self._pending[:frame_bytes])
            del self._pending[:frame_bytes]
            self.buffer += frame
            self.position_ms += 10
            samples = array("h", frame)
            loud = sum(abs(s) for s in samples) / len(samples) >= LOUD
            if loud:
                self.quiet_ms = 0
                if self.speech_start_ms is None:
                    self.speech_start_ms = max(0, self.position_ms - 10 - self.prefix_padding_ms)
                    happened.append(("started", self.speech_start_ms, None))
            elif self.speech_start_ms is not None:
                self.quiet_ms += 10
                if self.quiet_ms >= self.silence_duration_ms:
                    end = self.position_ms - self.quiet_ms
                    turn = Turn(start_ms=self.speech_start_ms, end_ms=end, audio=bytes(self.buffer))
                    self.buffer.clear()
                    self.speech_start_ms = None
                    self.quiet_ms = 0
                    happened.append(("stopped", end, turn))
        return happened

    def keep(self, audio: bytes) -> None:
        """Audio buffered without detection (turn detection off: the client commits)."""
        self._pending += audio

    def take_turn(self) -> Turn:
        """The buffered audio as one turn (at a VAD stop or a client's commit), and an empty buffer."""
        start = self.speech_start_ms if self.speech_start_ms is not None else 0
        turn = Turn(
            start_ms=start, end_ms=self.position_ms - self.quiet_ms, audio=bytes(self.buffer) + bytes(self._pending)
        )
        self.clear()
        return turn

    def buffered_ms(self) -> int:
        return (len(self.buffer) + len(self._pending)) * 1000 // (2 * SAMPLE_RATE)

    def clear(self) -> None:
        self.buffer.clear()
        self._pending.clear()
        self.speech_start_ms = None
        self.quiet_ms = 0
