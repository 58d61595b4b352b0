"""The conversation token: what binds a web conversation to the visitor who started it.

`POST /api/web-calls` answers with a token signed with SECRET_KEY (a salt of its own), naming
the conversation and its business; its turns and its hang-up need it. A call id alone (a phone
call's `call_control_id` shows in admin URLs and logs) opens nothing, and neither does another
visitor's token, a forged or a missing one: to the caller of the API, they are all the same
conversation that does not exist. Every replica shares SECRET_KEY, so any replica accepts it.
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature
from pydantic import BaseModel, ValidationError

from runtime.settings import Settings
from runtime.signing import SigningPurpose, token_signer


class WebConversationGrant(BaseModel):
    call_id: str
    business_id: int


class VisitorsConversation(BaseModel):
    """A grant whose token was shown with its own conversation's id, and how long ago it was issued."""

    grant: WebConversationGrant
    age_seconds: float


def issue_conversation_token(settings: Settings, grant: WebConversationGrant) -> str:
    return token_signer(settings.secret_key, SigningPurpose.WEB_CONVERSATION).dumps(grant.model_dump(mode="json"))


def visitors_conversation(settings: Settings, token: str | None, call_id: str) -> VisitorsConversation | None:
    """The conversation `call_id`, if `token` is the one its start gave; None for anything else."""
    if not token or settings.secret_key is None:
        return None
    signer = token_signer(settings.secret_key, SigningPurpose.WEB_CONVERSATION)
    try:
        # No max_age: an old token still proves whose conversation it is; its age ends the conversation.
        data, issued_at = signer.loads(token, return_timestamp=True)
        grant = WebConversationGrant.model_validate(data)
    except (BadSignature, ValidationError):
        return None
    if grant.call_id != call_id:
        return None
    return VisitorsConversation(grant=grant, age_seconds=time.time() - issued_at.timestamp())
