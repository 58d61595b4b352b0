"""Who may read and change the admin pages and API: whoever holds ADMIN_API_KEY.

Programs send it as `Authorization: Bearer <key>`. People type it once into the login form,
which sets a signed session cookie (itsdangerous, keyed by the admin key itself, so every API
replica accepts it and changing the key logs everyone out). The cookie is HttpOnly,
SameSite=Lax (a cross-site form cannot post with it) and Secure whenever the request came
over HTTPS. Without ADMIN_API_KEY nothing of the admin side is served at all.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

SESSION_COOKIE = "cloudgreet_admin"
SESSION_HOURS = 12
NOT_CONFIGURED = "the admin side is off: set ADMIN_API_KEY (16 characters or more) to turn it on"

bearer = HTTPBearer(auto_error=False, description="ADMIN_API_KEY as a bearer token")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Set by the login form at /admin/login")


class AdminKey:
    def __init__(self, key: SecretStr | None) -> None:
        self._key = key.get_secret_value() if key else None
        self._sessions = URLSafeTimedSerializer(self._key, salt="cloudgreet-admin-session") if self._key else None

    @property
    def configured(self) -> bool:
        return self._key is not None

    def matches(self, candidate: str | None) -> bool:
        if not self._key or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self._key.encode())

    def new_session(self) -> str:
        assert self._sessions is not None
        return self._sessions.dumps({"admin": True})

    def session_valid(self, cookie: str | None) -> bool:
        if not self._sessions or not cookie:
            return False
        try:
            return self._sessions.loads(cookie, max_age=SESSION_HOURS * 3600).get("admin") is True
        except (BadSignature, AttributeError):
            return False


def admin_key(request: Request) -> AdminKey:
    key = getattr(request.app.state, "admin_key", None)
    if key is None:
        key = request.app.state.admin_key = AdminKey(request.app.state.settings.admin_api_key)
    return key


def _same_origin(request: Request) -> bool:
    """A browser sends Origin with every POST/PUT; one from another site is a forged request."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _authenticated(request: Request, key: AdminKey, credentials: HTTPAuthorizationCredentials | None, cookie: str | None) -> bool:
    if credentials is not None and key.matches(credentials.credentials):
        return True
    if key.session_valid(cookie):
        return request.method in ("GET", "HEAD", "OPTIONS") or _same_origin(request)
    return False


def require_admin_api(
    request: Request,
    key: Annotated[AdminKey, Depends(admin_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> None:
    """For the JSON API: 401 with a clear message when the key or session is missing or wrong."""
    if not key.configured:
        raise HTTPException(503, NOT_CONFIGURED)
    if not _authenticated(request, key, credentials, cookie):
        raise HTTPException(
            401,
            "admin login required: send `Authorization: Bearer <ADMIN_API_KEY>` or log in at /admin/login",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_admin_page(
    request: Request,
    key: Annotated[AdminKey, Depends(admin_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> None:
    """For the pages: a person without a session is sent to the login form, and back here after it."""
    if not key.configured or not _authenticated(request, key, credentials, cookie):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": f"/admin/login?next={quote(target, safe='')}"})


def safe_next(target: str | None) -> str:
    """Only back into the admin pages: never an open redirect to another site."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/dashboard"


def start_session(request: Request, response: Response, key: AdminKey) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        key.new_session(),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


AdminApi = Security(require_admin_api)
AdminPage = Depends(require_admin_page)
