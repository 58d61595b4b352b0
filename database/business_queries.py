"""The businesses: the list the admin pages, the admin API and `cloudgreet calls` choose from, and adding one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from business.config import BusinessConfig
from database.models import Business


class BusinessSummary(BaseModel):
    id: int
    name: str
    phone_number: str | None
    demo_enabled: bool = False  # on the public /demo page
    updated_at: datetime


def list_businesses(session: Session) -> list[BusinessSummary]:
    rows = session.exec(select(Business).order_by(col(Business.id))).all()
    return [BusinessSummary.model_validate(b, from_attributes=True) for b in rows]


class NumberTaken(Exception):
    """The number is already another business's: one number reaches one business."""

    def __init__(self, number: str, owner: str | None) -> None:
        self.number = number
        self.owner = owner
        super().__init__(f"{number} is already the number of {owner or 'another business'}")


def business_with_number(session: Session, number: str) -> Business | None:
    """The business that answers `number`, if any: asked before buying a number, so we never buy one we
    cannot use (add_business's unique index still decides between two additions at once)."""
    return session.exec(select(Business).where(Business.phone_number == number)).first()


def add_business(session: Session, config: BusinessConfig) -> Business:
    """A new business answering on `config.phone_number` from its next call on; the caller commits
    (with the audit log's entry, in one transaction).

    The unique index on the number decides between two additions at once (a check first would
    race); the loser gets NumberTaken, naming the business that has the number."""
    business = Business(name=config.name, phone_number=config.phone_number, config=config.model_dump(mode="json"))
    session.add(business)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        owner = session.exec(select(Business).where(Business.phone_number == config.phone_number)).first()
        raise NumberTaken(config.phone_number or "", owner.name if owner else None) from None
    return business
