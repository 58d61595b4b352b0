"""Telnyx answering 5xx to a share of a call's commands (`Misbehaviour.command_error_rate`), reproducibly.

Telnyx documents that its Call Control API may answer 500, 503 or 504 and asks clients to send the
same command again with the same command_id, which it then ignores if the first one took effect.
So a failed command here either did nothing, or took effect and lost its answer.
"""

from __future__ import annotations

import random
from typing import Literal

from simulator.call_script import Misbehaviour

CommandError = Literal["before", "after"]  # the command failed before taking effect, or after


class CommandErrors:
    def __init__(self, misbehaviour: Misbehaviour) -> None:
        self._rate = misbehaviour.command_error_rate
        self._draws = random.Random(misbehaviour.command_error_seed)

    def draw(self) -> CommandError | None:
        """Whether the next command fails, and how; None when it succeeds."""
        if self._rate <= 0 or self._draws.random() >= self._rate:
            return None
        return "before" if self._draws.random() < 0.5 else "after"
