"""The HTTP API: Telnyx webhooks, health, and (later) the pages and session endpoints."""
