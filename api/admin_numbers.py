"""Phone numbers for a new business, bought at Telnyx from the admin API: search what is for sale, order one.

An order names the installation's Call Control connection (TELNYX_CONNECTION_ID), so the number's
calls come here once it is ours; then `POST /api/admin/businesses` gives it to a business. A number
that a business here already answers is never bought (409), and Telnyx's refusals come back in its
own words: 409 for a number it does not sell, 422 for an order it refuses, 502 when it fails.
"""

from __future__ import annotations

from typing import Annotated, Any

import telnyx
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from activities.number_orders import (
    AvailableNumber,
    NumberOrderFailed,
    NumberOrderResult,
    OrderProblem,
    available_numbers,
    order_number,
    telnyx_error_words,
)
from api.admin_auth import AdminApi
from api.dependencies import SessionDep
from api.telnyx_account import telnyx_account
from database.business_queries import business_with_number

api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminApi])

TELNYX_PROBLEMS: dict[int | str, dict[str, Any]] = {
    502: {"description": "Telnyx failed or did not answer; the detail says whether the order may be placed"},
    503: {"description": "TELNYX_API_KEY (or, to order, TELNYX_CONNECTION_ID) is not set"},
}
ORDER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A business here already answers the number, or Telnyx does not sell it (sold meanwhile)"},
    422: {"description": "Telnyx refused the order as asked; the detail gives its reason"},
    504: {"description": "Telnyx had not completed the order after a minute; check it before ordering again"},
}
STATUS_OF_PROBLEM = {
    OrderProblem.REFUSED: 422,
    OrderProblem.NOT_SOLD: 409,
    OrderProblem.NOT_SETTLED: 504,
    OrderProblem.TELNYX_DOWN: 502,
}
E164 = r"^\+[1-9]\d{1,14}$"


class NumberOrderRequest(BaseModel):
    phone_number: str = Field(pattern=E164, description="A number the search offered, E.164")


@api.get("/numbers/available", response_model=list[AvailableNumber], responses=TELNYX_PROBLEMS)
async def numbers_for_sale(
    request: Request,
    area_code: Annotated[str | None, Query(pattern=r"^\d{2,5}$", description="e.g. 312")] = None,
    country: Annotated[str, Query(pattern=r"^[A-Z]{2}$", description="ISO country code")] = "US",
    contains: Annotated[str | None, Query(pattern=r"^\d{1,10}$", description="digits the number contains")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[AvailableNumber]:
    """Numbers Telnyx sells now that take calls and texts."""
    async with telnyx_account(request, "numbers are bought at Telnyx") as client:
        try:
            return await available_numbers(
                client, country_code=country, area_code=area_code, contains=contains, limit=limit
            )
        except telnyx.APIStatusError as error:
            raise HTTPException(502, f"Telnyx refused the search: {telnyx_error_words(error)}") from None
        except telnyx.APIConnectionError:
            raise HTTPException(502, "Telnyx could not be reached; try again") from None


@api.post(
    "/numbers/orders",
    status_code=201,
    response_model=NumberOrderResult,
    responses=TELNYX_PROBLEMS | ORDER_PROBLEMS,
)
async def buy_number(
    wanted: NumberOrderRequest, request: Request, response: Response, session: SessionDep
) -> NumberOrderResult:
    """Buys the number on this installation's Call Control connection and waits for Telnyx to complete the
    order (up to a minute). Then add the business with `POST /api/admin/businesses`. A number the account
    holds already (an order retried after its answer was lost) is not bought again: 200, `already_ours`."""
    settings = request.app.state.settings
    if (owner := business_with_number(session, wanted.phone_number)) is not None:
        raise HTTPException(409, f"{wanted.phone_number} is already the number of {owner.name}")
    if not settings.telnyx_connection_id:
        raise HTTPException(503, "TELNYX_CONNECTION_ID is not set: a number is bought on our Call Control connection")
    async with telnyx_account(request, "numbers are bought at Telnyx") as client:
        try:
            bought = await order_number(client, wanted.phone_number, connection_id=settings.telnyx_connection_id)
        except NumberOrderFailed as failed:
            raise HTTPException(STATUS_OF_PROBLEM[failed.problem], str(failed)) from None
    if bought.already_ours:
        response.status_code = 200
    return bought
