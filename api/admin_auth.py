"""Who may read and change the admin pages and API: whoever holds ADMIN_API_KEY.

Programs send it as `Authorization: Bearer <key>`. People type it into the login form, which
opens a session: a row of `admin_sessions` (so every API replica agrees on it), whose id the
cookie carries signed with SECRET_KEY. Logging out revokes that row, so a copy of the cookie
stops working too; "log out everywhere" revokes every row; a new ADMIN_API_KEY ends every
session opened with the old one (each row keeps a keyed fingerprint of its key). The cookie is
HttpOnly, SameSite=Lax (a cross-site form cannot post with it) and Secure over HTTPS.

Wrong keys, at the form or as a bearer token, are counted per client address (api/admin_throttle.py):
after FAILURES_ALLOWED within FAILURE_WINDOW the address gets 429 with Retry-After, and until
then even the right key is refused from it (otherwise the throttle would go on answering
guesses). Once the window has room again the right key works as ever. A session cookie is not
throttled: it cannot be guessed, and a person logged in on the same network keeps working.

Without ADMIN_API_KEY and SECRET_KEY nothing of the admin side is served at all.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.admin_throttle import FailedAttempts
from api.dependencies import SessionDep
from database.admin_models import AdminCredential
from database.admin_sessions import live_admin_session, open_admin_session, revoke_admin_session
from runtime.settings import Settings
from runtime.signing import SigningPurpose, keyed_fingerprint, token_signer

SESSION_COOKIE = "cloudgreet_admin"
SESSION_LIFETIME = timedelta(hours=12)
# Ten typing mistakes in a quarter of an hour is already a lot for a person; a generated key
# (16 characters or more) is out of reach of 40 guesses an hour per address.
FAILURES_ALLOWED = 10
FAILURE_WINDOW = timedelta(minutes=15)

DATABASE_DOWN = (
    "the database does not answer, so admin sessions cannot be checked; "
    "GET /api/admin/health with `Authorization: Bearer <ADMIN_API_KEY>` says why"
)

bearer = HTTPBearer(auto_error=False, description="ADMIN_API_KEY as a bearer token")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="Set by the login form at /admin/login"
)


class AdminKey:
    """The admin key of this installation, and the session cookies signed for it."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
        self._secret = settings.secret_key
        self._cookies = None
        self.fingerprint = ""  # of the admin key, keyed with SECRET_KEY: what each session row remembers
        if self._key is not None and self._secret is not None:
            self._cookies = token_signer(self._secret, SigningPurpose.ADMIN_SESSION)
            self.fingerprint = keyed_fingerprint(self._secret, SigningPurpose.ADMIN_KEY_FINGERPRINT, self._key)

    @property
    def configured(self) -> bool:
        return self._key is not None and self._secret is not None

    @property
    def missing(self) -> str:
        """Why the admin side is off, for a person to fix."""
        needed = [name for name, value in (("ADMIN_API_KEY", self._key), ("SECRET_KEY", self._secret)) if value is None]
        return (
            f"the admin side is off: set {' and '.join(needed)} (ADMIN_API_KEY 16 characters or more, "
            "SECRET_KEY 32 or more: openssl rand -hex 32)"
        )

    def matches(self, candidate: str | None) -> bool:
        if not self._key or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self._key.encode())

    def cookie_for(self, session_id: str) -> str:
        assert self._cookies is not None
        return self._cookies.dumps(session_id)

    def session_id_in(self, cookie: str | None) -> str | None:
        """The session id a cookie carries, if this installation signed it and it is not too old."""
        if self._cookies is None or not cookie:
            return None
        try:
            session_id = self._cookies.loads(cookie, max_age=int(SESSION_LIFETIME.total_seconds()))
        except BadSignature:
            return None
        return session_id if isinstance(session_id, str) else None


@dataclass(frozen=True)
class AdminCaller:
    """Who made an admin request: for the audit log."""

    credential: AdminCredential
    client_address: str
    session_id: str | None = None


def admin_key(request: Request) -> AdminKey:
    key = getattr(request.app.state, "admin_key", None)
    if key is None:
        key = request.app.state.admin_key = AdminKey(request.app.state.settings)
    return key


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers / FORWARDED_ALLOW_IPS make this the visitor's address.
    return request.client.host if request.client else "unknown"


def now() -> datetime:
    return datetime.now(UTC)


# --- throttling ----------------------------------------------------------------------------------


def failed_attempts(request: Request) -> FailedAttempts:
    attempts = getattr(request.app.state, "admin_failed_attempts", None)
    if attempts is None:
        attempts = request.app.state.admin_failed_attempts = FailedAttempts(
            FAILURES_ALLOWED, FAILURE_WINDOW.total_seconds()
        )
    return attempts


def throttle_wait_seconds(request: Request) -> int | None:
    """Whole seconds this client must wait before its next attempt; None: it may try now."""
    wait = failed_attempts(request).wait_seconds(client_address(request))
    return max(1, math.ceil(wait)) if wait is not None else None


def too_many_attempts(seconds: int) -> str:
    later = f"{math.ceil(seconds / 60)} minutes" if seconds > 90 else f"{seconds} seconds"
    return (
        f"Too many wrong admin keys from your address ({FAILURES_ALLOWED} within "
        f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes). Try again in {later}; "
        "until then every key from this address is refused, the right one too."
    )


def count_failure(request: Request) -> None:
    failed_attempts(request).record(client_address(request))


# --- the guard -----------------------------------------------------------------------------------


def _same_origin(request: Request) -> bool:
    """A browser sends Origin with every POST/PUT; one from another site is a forged request."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _authenticated(
    request: Request,
    db: Session,
    key: AdminKey,
    credentials: HTTPAuthorizationCredentials | None,
    cookie: str | None,
) -> AdminCaller | None:
    address = client_address(request)
    if credentials is not None:
        if (wait := throttle_wait_seconds(request)) is not None:
            raise HTTPException(429, too_many_attempts(wait), headers={"Retry-After": str(wait)})
        if key.matches(credentials.credentials):
            return AdminCaller(AdminCredential.BEARER, address)
        count_failure(request)
        return None
    session_id = key.session_id_in(cookie)
    if session_id is None:
        return None
    try:
        live = live_admin_session(db, session_id, key_fingerprint=key.fingerprint, now=now())
    except SQLAlchemyError:
        raise HTTPException(503, DATABASE_DOWN) from None
    if live is None:
        return None
    if request.method in ("GET", "HEAD", "OPTIONS") or _same_origin(request):
        return AdminCaller(AdminCredential.SESSION, address, session_id)
    return None


def require_admin_api(
    request: Request,
    db: SessionDep,
    key: Annotated[AdminKey, Depends(admin_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> AdminCaller:
    """For the JSON API: 401 with a clear message when the key or session is missing or wrong."""
    if not key.configured:
        raise HTTPException(503, key.missing)
    caller = _authenticated(request, db, key, credentials, cookie)
    if caller is None:
        raise HTTPException(
            401,
            "admin login required: send `Authorization: Bearer <ADMIN_API_KEY>` or log in at /admin/login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


def require_admin_page(
    request: Request,
    db: SessionDep,
    key: Annotated[AdminKey, Depends(admin_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> AdminCaller:
    """For the pages: a person without a session is sent to the login form, and back here after it."""
    caller = _authenticated(request, db, key, credentials, cookie) if key.configured else None
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": f"/admin/login?next={quote(target, safe='')}"})
    return caller


def safe_next(target: str | None) -> str:
    """Only back into the admin pages (/test-agent-simple is one): never an open redirect to another site."""
    if (
        target
        and target.startswith(("/admin", "/test-agent-simple"))
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/admin/dashboard"


def start_session(request: Request, response: Response, db: Session, key: AdminKey) -> None:
    opened = open_admin_session(
        db,
        key_fingerprint=key.fingerprint,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        now=now(),
        lifetime=SESSION_LIFETIME,
    )
    response.set_cookie(
        SESSION_COOKIE,
        key.cookie_for(opened.id),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(response: Response, db: Session, key: AdminKey, cookie: str | None) -> None:
    """Revokes the session on the server, so the cookie is refused even if someone kept a copy."""
    if (session_id := key.session_id_in(cookie)) is not None:
        revoke_admin_session(db, session_id, now=now())
    response.delete_cookie(SESSION_COOKIE, path="/")


AdminApi = Security(require_admin_api)
AdminPage = Depends(require_admin_page)
AdminApiCaller = Annotated[AdminCaller, AdminApi]
