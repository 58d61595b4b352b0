"""An outage of the fake model: for a window of its own clock, every chat request fails or hangs.

Unlike ``fail_next`` and ``hang_next``, which count requests, an outage is a stretch of time, as a
real provider's is: whatever asks during it (however many calls, turns and retries) gets the same,
and the first request after it is answered. "fail" answers 500 at once; "hang" holds the request
until the outage ends or the client gives up (a client that waits it out is then answered).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OutageKind = Literal["fail", "hang"]


class OutageRequest(BaseModel):
    """Body of ``POST /_fake/outage``."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(gt=0, le=3600)
    kind: OutageKind = "fail"


@dataclass(frozen=True)
class Outage:
    kind: OutageKind
    started_at: float  # time.time(), for records and reports
    ends_at: float  # time.monotonic(): the fake's own clock decides when it is over

    @classmethod
    def starting_now(cls, request: OutageRequest) -> Outage:
        return cls(request.kind, time.time(), time.monotonic() + request.seconds)

    def seconds_left(self) -> float:
        return max(0.0, self.ends_at - time.monotonic())

    def ongoing(self) -> bool:
        return self.seconds_left() > 0
