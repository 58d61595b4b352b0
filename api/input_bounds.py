"""The bounds of values that many routes take from a client: row ids, call ids, days.

Each is a limit the data can never reach, so a value past it gets a 422 naming the field and
the limit, instead of reaching the database or Temporal and failing there.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field

# The whole body of any request: a BusinessConfig at every limit, each character sent \u-escaped,
# is under 200 KB. The field limits apply once a body is parsed; this one while it arrives.
MAX_BODY_BYTES = 256 * 1024

# Every id column is PostgreSQL's `integer`: a larger number names no row, and the database
# would answer it with an error rather than "not found".
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

# A Telnyx call_control_id ("v3:" and URL-safe base64), a web conversation's "web-<hex>", or a
# call-back's id: short, and made of these characters only.
CallId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
# A caller's number as calls record it: E.164.
CallerNumber = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +15555550123")]

# Days a report or a filter may name: CloudGreet has no calls before 2000, and the arithmetic
# around a range (a day before, a day after) stays within what `date` can hold.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


class InvalidInput(BaseModel):
    """A 422: FastAPI's problems, each at its field, or one sentence from a rule the route checks
    itself (a range that starts after it ends, an unknown tool)."""

    detail: str | list[dict[str, Any]]


# For the `responses` of a route that raises some of its 422s itself: the schema then says both shapes.
INVALID_INPUT: dict[int | str, dict[str, Any]] = {
    422: {
        "model": InvalidInput,
        "description": "A value is missing, of the wrong type, past its limit or breaks a rule",
    }
}
