"""Numbers for sale and our orders of them: Telnyx's GET /v2/available_phone_numbers and /v2/number_orders.

The search takes the `filter[...]` query parameters the `telnyx` SDK writes (deepObject style,
a list joined by commas), checked against the SDK's own `Filter` type: an unknown filter or a
wrong value is refused with 400, not ignored. An order is checked against `NumberOrderCreateParams`
(422 for a number not in +E.164 or no number at all). As at Telnyx, an order is `pending` when it
is created and settles a moment later: `success` for a number that was for sale, `failure` for one
that was not (sold meanwhile, or never offered); a number sold is no longer offered.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from simulator.telnyx.command_rules import E164, invalid_param
from simulator.telnyx.commands import missing_param, telnyx_error

# The area codes offered, each with its city and state, as a search by area code finds them.
AREAS = {
    "312": ("CHICAGO", "IL"),
    "415": ("SAN FRANCISCO", "CA"),
    "512": ("AUSTIN", "TX"),
    "617": ("BOSTON", "MA"),
}
NUMBERS_PER_AREA = 20
DEFAULT_LIMIT = 10
ORDER_SETTLES_AFTER_SECONDS = 0.3
FEATURES = ("sms", "mms", "voice", "fax", "emergency")


@cache
def _filter_shape() -> TypeAdapter[Any]:
    from telnyx.types.available_phone_number_list_params import Filter

    return TypeAdapter(Filter)


@cache
def _order_shape() -> TypeAdapter[Any]:
    from telnyx.types.number_order_create_params import NumberOrderCreateParams

    return TypeAdapter(NumberOrderCreateParams)


@cache
def _ordered_number_shape() -> TypeAdapter[Any]:
    # Checked one by one: pydantic validates the SDK's `Iterable[PhoneNumber]` lazily, so not at all here.
    from telnyx.types.number_order_create_params import PhoneNumber

    return TypeAdapter(PhoneNumber)


def _order_refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """Telnyx's 422 body for an order it refuses, by the SDK's NumberOrderCreateParams; None to take it."""
    entries = body.get("phone_numbers")
    checks: list[tuple[TypeAdapter[Any], Any, list[str]]] = [(_order_shape(), body, [])]
    if isinstance(entries, list):
        checks += [(_ordered_number_shape(), entry, ["phone_numbers", str(i)]) for i, entry in enumerate(entries)]
    elif entries is not None:
        return invalid_param("phone_numbers", "The 'phone_numbers' parameter must be a list.")
    for shape, value, prefix in checks:
        try:
            shape.validate_python(value, strict=True)
        except ValidationError as error:
            first = error.errors()[0]
            where = "/".join([*prefix, *map(str, first["loc"])])
            if first["type"] == "missing":
                return missing_param(where)
            return invalid_param(where, f"The '{where}' parameter is invalid: {first['msg']}.")
    if unknown := sorted(set(body) - set(_order_shape().json_schema()["properties"])):
        return invalid_param(unknown[0], f"The '{unknown[0]}' parameter is not accepted.")
    if not entries:
        return missing_param("phone_numbers")
    for entry in entries:
        if not E164.match(entry["phone_number"]):
            return invalid_param(
                "phone_numbers", "The specified phone number parameter must be in +E.164 format.", "10016"
            )
    return None


@cache
def _owned_filter_shape() -> TypeAdapter[Any]:
    from telnyx.types.phone_number_list_params import Filter

    return TypeAdapter(Filter)


# GET /v2/phone_numbers takes these besides its filter (the SDK's PhoneNumberListParams).
OWNED_LIST_PARAMETERS = ("page[number]", "page[size]", "sort", "handle_messaging_profile_error")


def search_filter(
    query: list[tuple[str, str]], shape: TypeAdapter[Any] | None = None, others: tuple[str, ...] = ()
) -> dict[str, Any] | str:
    """The `filter` of a query string (`filter[country_code]=US&filter[phone_number][contains]=55`),
    or what is wrong with it, by the SDK's Filter type of the endpoint (`shape`)."""
    shape = shape or _filter_shape()
    found: dict[str, Any] = {}
    for key, value in query:
        if key in others:
            continue
        if not (key.startswith("filter[") and key.endswith("]")):
            return f"unknown parameter {key!r}"
        path = key[len("filter[") : -1].split("][")
        into = found
        for part in path[:-1]:
            into = into.setdefault(part, {})
        into[path[-1]] = value.split(",") if path[-1] == "features" else value
    allowed = set(shape.json_schema()["properties"])
    if unknown := sorted(set(found) - allowed):
        return f"unknown filter {unknown[0]!r}"
    try:
        return shape.validate_python(found)  # lax: a query's "5" is the int 5, as Telnyx reads it
    except ValidationError as error:
        first = error.errors()[0]
        return f"filter[{']['.join(map(str, first['loc']))}]: {first['msg']}"


@dataclass
class NumberOrder:
    id: str
    numbers: list[str]
    for_sale: dict[str, bool]
    connection_id: str | None
    messaging_profile_id: str | None
    customer_reference: str | None
    created_at: float = field(default_factory=time.time)

    def status_of(self, number: str) -> str:
        if time.time() - self.created_at < ORDER_SETTLES_AFTER_SECONDS:
            return "pending"
        return "success" if self.for_sale[number] else "failure"

    def owned_number(self, number: str) -> dict[str, Any]:
        """The number as GET /v2/phone_numbers shows it once the order bought it (the SDK's NumbersPhoneNumberDetailed)."""
        bought = datetime.fromtimestamp(self.created_at + ORDER_SETTLES_AFTER_SECONDS, UTC)
        stamp = bought.isoformat().replace("+00:00", "Z")
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"owned/{number}")),
            "record_type": "phone_number",
            "phone_number": number,
            "phone_number_type": "local",
            "status": "active",
            "connection_id": self.connection_id,
            "customer_reference": self.customer_reference,
            "messaging_profile_id": self.messaging_profile_id,
            "created_at": stamp,
            "purchased_at": stamp,
            "updated_at": stamp,
            "deletion_lock_enabled": False,
            "tags": [],
            "source_type": "number_order",
        }

    def resource(self) -> dict[str, Any]:
        statuses = [self.status_of(number) for number in self.numbers]
        status = "pending" if "pending" in statuses else ("failure" if "failure" in statuses else "success")
        created = datetime.fromtimestamp(self.created_at, UTC).isoformat().replace("+00:00", "Z")
        return {
            "id": self.id,
            "record_type": "number_order",
            "status": status,
            "connection_id": self.connection_id,
            "messaging_profile_id": self.messaging_profile_id,
            "customer_reference": self.customer_reference,
            "phone_numbers_count": len(self.numbers),
            "requirements_met": True,
            "created_at": created,
            "updated_at": created,
            "sub_number_orders_ids": [str(uuid.uuid5(uuid.NAMESPACE_URL, self.id))],
            "phone_numbers": [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/{number}")),
                    "record_type": "number_order_phone_number",
                    "phone_number": number,
                    "regulatory_requirements": [],
                    "requirements_met": True,
                    "status": status_of_number,
                }
                for number, status_of_number in zip(self.numbers, statuses, strict=True)
            ],
        }


@dataclass
class NumberInventory:
    sold: set[str] = field(default_factory=set)
    orders: dict[str, NumberOrder] = field(default_factory=dict)

    def offered(self) -> list[tuple[str, str]]:
        """Every number for sale now, with its area code."""
        return [
            (f"+1{area}555{index:04d}", area)
            for area in AREAS
            for index in range(100, 100 + NUMBERS_PER_AREA)
            if f"+1{area}555{index:04d}" not in self.sold
        ]

    def search(self, query: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
        wanted = search_filter(query)
        if isinstance(wanted, str):
            return 400, telnyx_error("10015", "Invalid filter", wanted)
        country = str(wanted.get("country_code", "US")).upper()
        area = wanted.get("national_destination_code")
        pattern = wanted.get("phone_number", {})
        state = wanted.get("administrative_area")
        found = []
        for number, number_area in self.offered() if country == "US" else []:
            if area and number_area != area:
                continue
            if state and AREAS[number_area][1] != str(state).upper():
                continue
            local = number[2:]  # the national number, which Telnyx's patterns match
            if (contains := pattern.get("contains")) and contains not in local:
                continue
            if (starts := pattern.get("starts_with")) and not local.startswith(starts):
                continue
            if (ends := pattern.get("ends_with")) and not local.endswith(ends):
                continue
            found.append(self._available(number, number_area))
        limit = int(wanted.get("limit", DEFAULT_LIMIT))
        return 200, {
            "data": found[:limit],
            "meta": {"total_results": min(len(found), limit), "best_effort_results": 0},
        }

    @staticmethod
    def _available(number: str, area: str) -> dict[str, Any]:
        city, state = AREAS[area]
        return {
            "record_type": "available_phone_number",
            "phone_number": number,
            "vanity_format": "",
            "best_effort": False,
            "quickship": True,
            "reservable": True,
            "region_information": [
                {"region_type": "rate_center", "region_name": city},
                {"region_type": "state", "region_name": state},
                {"region_type": "country_code", "region_name": "US"},
            ],
            "cost_information": {"upfront_cost": "1.00", "monthly_cost": "1.00", "currency": "USD"},
            "features": [{"name": name} for name in FEATURES],
        }

    def order(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if (refused := _order_refusal(body)) is not None:
            return 422, refused
        numbers = [entry["phone_number"] for entry in body["phone_numbers"]]
        for_sale = {number: number in {offered for offered, _ in self.offered()} for number in numbers}
        self.sold.update(number for number, available in for_sale.items() if available)
        order = NumberOrder(
            id=str(uuid.uuid4()),
            numbers=numbers,
            for_sale=for_sale,
            connection_id=body.get("connection_id"),
            messaging_profile_id=body.get("messaging_profile_id"),
            customer_reference=body.get("customer_reference"),
        )
        self.orders[order.id] = order
        return 200, {"data": order.resource()}

    def owned(self, query: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
        """GET /v2/phone_numbers: the numbers our settled orders bought. Telnyx matches `filter[phone_number]`
        on digits, and a value with anything else in it (a "+") finds nothing."""
        wanted = search_filter(query, _owned_filter_shape(), OWNED_LIST_PARAMETERS)
        if isinstance(wanted, str):
            return 400, telnyx_error("10015", "Invalid filter", wanted)
        digits = wanted.get("phone_number")
        found = []
        for order in self.orders.values():
            for number in order.numbers:
                if order.status_of(number) != "success":
                    continue
                if digits is not None and (not str(digits).isdigit() or str(digits) not in number):
                    continue
                found.append(order.owned_number(number))
        return 200, {
            "data": found,
            "meta": {"total_results": len(found), "total_pages": 1, "page_number": 1, "page_size": max(len(found), 1)},
        }

    def retrieve(self, order_id: str) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(order_id)
        if order is None:
            return 404, telnyx_error("10005", "Resource not found", f"No number order with id {order_id}.")
        return 200, {"data": order.resource()}
