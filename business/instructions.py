"""Turns a business configuration into the assistant's instructions, for the phone and the browser alike."""

from __future__ import annotations

from business.config import WEEKDAYS, BusinessConfig


def describe_hours(config: BusinessConfig) -> str:
    if not config.hours:
        return "Opening hours are not set; offer to take a message."
    lines = []
    for day in WEEKDAYS:
        opening = config.hours.get(day)
        when = f"{opening.opens:%H:%M} to {opening.closes:%H:%M}" if opening else "closed"
        lines.append(f"- {day.capitalize()}: {when}")
    return "\n".join(lines)


def describe_services(config: BusinessConfig) -> str:
    if not config.services:
        return "No services are listed."
    return "\n".join(
        f"- {s.name}: {s.duration_minutes} minutes" + (f", {s.price}" if s.price else "") for s in config.services
    )


def build_instructions(config: BusinessConfig) -> str:
    parts = [
        f"You are the receptionist of {config.name}, a {config.business_type}. You answer its phone.",
        "You speak with callers on a phone line: keep every reply to one to three short sentences, "
        "plain words, no lists, no markdown, no emojis. Never invent facts that are not below.",
        f"Speak {config.language}.",
    ]
    if config.address:
        parts.append(f"Address: {config.address}.")
    parts.append(f"Opening hours ({config.timezone}):\n{describe_hours(config)}")
    if config.closures:
        parts.append("Closed on: " + ", ".join(config.closures) + ".")
    parts.append(f"Services:\n{describe_services(config)}")
    parts.append(
        "If the caller describes an emergency, say you are getting someone on the line right away."
    )
    if config.custom_instructions.strip():
        parts.append(f"Instructions from the business owner:\n{config.custom_instructions.strip()}")
    return "\n\n".join(parts)
