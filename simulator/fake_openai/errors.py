"""OpenAI's error bodies and its Bearer key check, which the SDK turns into `openai.APIStatusError`s."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


def openai_error(
    status_code: int, message: str, *, type: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    """An error in OpenAI's shape, which the SDK turns into the matching ``openai.APIStatusError``."""
    return JSONResponse(
        status_code=status_code,
        content={"error": {"message": message, "type": type, "param": param, "code": code}},
    )


def unauthorized(request: Request) -> JSONResponse | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return None
    return openai_error(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type="invalid_request_error",
        code="invalid_api_key",
    )
