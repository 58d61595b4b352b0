"""Buying a business its phone number at Telnyx: search the numbers for sale, order one, wait for the order.

Shared by `cloudgreet businesses numbers` / `businesses add --order` and the admin API. The
order names the installation's Call Control connection (TELNYX_CONNECTION_ID), so calls to the new
number reach this installation's webhook from the moment the order succeeds. An order is `pending`
when created and settles at Telnyx a few seconds later; we wait for it, bounded, and report a
failure in Telnyx's own words. The business is added only after the number is ours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum

import telnyx
from pydantic import BaseModel, Field

ORDER_WAIT_SECONDS = 60.0
ORDER_POLL_SECONDS = 0.5


class AvailableNumber(BaseModel):
    phone_number: str
    place: str = Field(description="The rate center (city) and state Telnyx gives for it")
    monthly_cost: str | None = None
    upfront_cost: str | None = None
    currency: str | None = None
    features: list[str] = Field(default_factory=list)


class OrderProblem(StrEnum):
    REFUSED = "refused"  # Telnyx refused the order as asked (a number it cannot take, a bad request)
    NOT_SOLD = "not_sold"  # the order failed: the number is not for sale (sold meanwhile, or never offered)
    NOT_SETTLED = "not_settled"  # still pending when we stopped waiting: check the portal before ordering again
    TELNYX_DOWN = "telnyx_down"  # Telnyx failed (5xx) or did not answer: the order may or may not be placed


class NumberOrderFailed(Exception):
    """Telnyx did not sell us the number; the message says why, in words for the person who asked."""

    def __init__(self, problem: OrderProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class NumberOrderResult(BaseModel):
    order_id: str | None = Field(description="Telnyx's number order; None when the number was ours already")
    phone_number: str
    status: str
    already_ours: bool = Field(
        default=False, description="The account held the number before this order (an order retried after it succeeded)"
    )


def telnyx_error_words(error: telnyx.APIStatusError) -> str:
    """Telnyx's own explanation of a refusal (`errors[0].detail`), or its status when it gave none."""
    body = error.body if isinstance(error.body, dict) else {}
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str(first.get("detail") or first.get("title") or f"Telnyx answered {error.status_code}")


async def available_numbers(
    client: telnyx.AsyncTelnyx,
    *,
    country_code: str = "US",
    area_code: str | None = None,
    contains: str | None = None,
    limit: int = 10,
) -> list[AvailableNumber]:
    """Numbers Telnyx sells now that can take calls and texts, in the area code asked for."""
    wanted: dict = {"country_code": country_code, "features": ["voice", "sms"], "limit": limit}
    if area_code:
        wanted["national_destination_code"] = area_code
    if contains:
        wanted["phone_number"] = {"contains": contains}
    found = await client.available_phone_numbers.list(filter=wanted)  # type: ignore[arg-type]
    numbers = []
    for offer in found.data or []:
        if not offer.phone_number:
            continue
        regions = {region.region_type: region.region_name for region in offer.region_information or []}
        cost = offer.cost_information
        numbers.append(
            AvailableNumber(
                phone_number=offer.phone_number,
                place=", ".join(str(part) for part in (regions.get("rate_center"), regions.get("state")) if part),
                monthly_cost=cost.monthly_cost if cost else None,
                upfront_cost=cost.upfront_cost if cost else None,
                currency=cost.currency if cost else None,
                features=[feature.name for feature in offer.features or [] if feature.name],
            )
        )
    return numbers


async def _number_held(client: telnyx.AsyncTelnyx, phone_number: str) -> bool:
    # Telnyx matches filter[phone_number] on digits only: a "+" in it finds nothing.
    try:
        held = await client.phone_numbers.list(filter={"phone_number": phone_number.lstrip("+")})
    except telnyx.APIStatusError as error:
        problem = OrderProblem.TELNYX_DOWN if error.status_code >= 500 else OrderProblem.REFUSED
        raise NumberOrderFailed(
            problem, f"Telnyx refused to list our numbers before ordering {phone_number}: {telnyx_error_words(error)}"
        ) from None
    except telnyx.APIConnectionError:
        raise NumberOrderFailed(
            OrderProblem.TELNYX_DOWN, f"Telnyx could not be reached to order {phone_number}; nothing was ordered"
        ) from None
    return any(number.phone_number == phone_number for number in held.data or [])


async def order_number(
    client: telnyx.AsyncTelnyx,
    phone_number: str,
    *,
    connection_id: str,
    wait_seconds: float = ORDER_WAIT_SECONDS,
    poll_seconds: float = ORDER_POLL_SECONDS,
    on_pending: Callable[[float], None] | None = None,
) -> NumberOrderResult:
    """Orders one number on our Call Control connection and waits until Telnyx settles the order.
    NumberOrderFailed when Telnyx refuses it, fails it, or has not settled it within `wait_seconds`.

    A number the account holds already is not ordered again: an order retried after its answer was lost
    (a timeout, a closed terminal) finds the number bought and says so instead of "not for sale"."""
    if await _number_held(client, phone_number):
        return NumberOrderResult(order_id=None, phone_number=phone_number, status="success", already_ours=True)
    try:
        created = await client.number_orders.create(
            phone_numbers=[{"phone_number": phone_number}], connection_id=connection_id
        )
    except telnyx.APIStatusError as error:
        problem = OrderProblem.TELNYX_DOWN if error.status_code >= 500 else OrderProblem.REFUSED
        raise NumberOrderFailed(
            problem, f"Telnyx refused to order {phone_number}: {telnyx_error_words(error)}"
        ) from None
    except telnyx.APIConnectionError:
        raise NumberOrderFailed(
            OrderProblem.TELNYX_DOWN,
            f"Telnyx could not be reached to order {phone_number}; the order may not be placed",
        ) from None
    order = created.data
    if order is None or not order.id:
        raise NumberOrderFailed(OrderProblem.TELNYX_DOWN, f"Telnyx answered the order of {phone_number} without an id")
    order_id = order.id
    started = time.monotonic()
    while order.status == "pending":
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise NumberOrderFailed(
                OrderProblem.NOT_SETTLED,
                f"Telnyx has not completed order {order_id} for {phone_number} after {wait_seconds:.0f}s; "
                "check it in the Telnyx portal before ordering again",
            )
        if on_pending is not None:
            on_pending(waited)
        await asyncio.sleep(poll_seconds)
        try:
            settled = (await client.number_orders.retrieve(order_id)).data
        except (telnyx.APIStatusError, telnyx.APIConnectionError):
            continue  # a failed look at a placed order: look again, within the wait
        if settled is None:
            raise NumberOrderFailed(OrderProblem.TELNYX_DOWN, f"Telnyx answered order {order_id} without its status")
        order = settled
    if order.status != "success":
        raise NumberOrderFailed(
            OrderProblem.NOT_SOLD,
            f"Telnyx could not sell {phone_number} (order {order_id}: {order.status}); it may have been sold "
            "meanwhile: search again",
        )
    return NumberOrderResult(order_id=order_id, phone_number=phone_number, status="success")
