"""The search attributes by which operators find a call in the Temporal UI (`cloudgreet dev` and the tests register them)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

BUSINESS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetBusiness")
CALLER_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCaller")
STATUS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCallStatus")
FALLBACK_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetFallbackLevel")
SEARCH_ATTRIBUTES = (
    BUSINESS_SEARCH_ATTRIBUTE,
    CALLER_SEARCH_ATTRIBUTE,
    STATUS_SEARCH_ATTRIBUTE,
    FALLBACK_SEARCH_ATTRIBUTE,
)
