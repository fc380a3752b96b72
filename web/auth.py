"""Moderator sessions: the hour-stamped encrypted cookie, login throttling and CSRF tokens.

A session holds only a moderator flag, the login hour, a CSRF token and the
moderator's session key (node.moderators: an account row id and a hash of its
password hash); never the moderator's name. Every request checks that key
against the database (SESSION_CHECK), so a removed moderator or a new
password ends the sessions at once. The cookie is encrypted with a random key
held in memory only, so a restart logs everyone out and nothing about
sessions is on disk. Times inside the cookie (and in the token's own header) are truncated
to the hour. Logging out revokes the session on the server too (a keyed
hash of its token, in memory until the session would have expired), so a
copy of the cookie taken before is worth nothing after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from aiohttp_session import STORAGE_KEY, AbstractStorage, Session, get_session, new_session
from cryptography.fernet import Fernet, InvalidToken

COOKIE_NAME = "vecinos_mod"
# Whether a moderator's session key still holds (node.service.Node.moderator_session_valid).
SESSION_CHECK: web.AppKey[Callable[[str], Awaitable[bool]]] = web.AppKey("vecinos_session_check")
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
MAX_NAME_CHARS = 200
MAX_PASSWORD_CHARS = 1024


def _hour_floor(ts: float) -> int:
    return int(ts) - int(ts) % 3600


class HourCookieStorage(AbstractStorage):
    """aiohttp-session storage: Fernet-encrypted cookie whose timestamps are hour-truncated.

    Like aiohttp_session's EncryptedCookieStorage (same Fernet construction),
    except that neither the session's "created" nor the Fernet token's
    timestamp is finer than the hour, and the cookie is a browser-session
    cookie (no Expires): the max age is enforced here, on the server.
    """

    def __init__(self, key: bytes, *, max_age_s: int, secure: bool) -> None:
        super().__init__(
            cookie_name=COOKIE_NAME,
            max_age=None,  # no Max-Age/Expires on the cookie itself
            path="/",
            secure=secure,
            httponly=True,
            samesite="Strict",
        )
        if len(key) != 32:
            raise ValueError("the session key must be 32 bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._max_age_s = max_age_s
        self._hash_key = os.urandom(32)
        self._revoked: dict[bytes, float] = {}  # keyed hash of a CSRF token -> forget after

    def _token_key(self, token: str) -> bytes:
        return hmac.new(self._hash_key, token.encode("utf-8", "replace"), hashlib.sha256).digest()

    def revoke(self, session: Session) -> None:
        """Refuse this session's cookie from now on (until it would have expired anyway)."""
        now = time.monotonic()
        self._revoked = {k: until for k, until in self._revoked.items() if until > now}
        token = session.get("csrf")
        if isinstance(token, str):
            self._revoked[self._token_key(token)] = now + self.max_age + 3600

    def _is_revoked(self, data: Mapping[str, object]) -> bool:
        token = data.get("csrf")
        if not isinstance(token, str) or not self._revoked:
            return False
        until = self._revoked.get(self._token_key(token))
        return until is not None and until > time.monotonic()

    @property
    def max_age(self) -> int:
        """The session's lifetime, enforced on load (the cookie itself has none)."""
        return self._max_age_s

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie is None or len(cookie) > 4096:
            return Session(None, data=None, new=True, max_age=self.max_age)
        try:
            # +1 h: the token's time is the hour's start, "created" enforces the max age.
            plain = self._fernet.decrypt(cookie.encode("ascii"), ttl=self.max_age + 3600)
            data = json.loads(plain.decode("utf-8"))
        except (InvalidToken, ValueError, TypeError):
            return Session(None, data=None, new=True, max_age=self.max_age)
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("created"), int)
            or not isinstance(data.get("session"), dict)
            or self._is_revoked(data["session"])
        ):
            return Session(None, data=None, new=True, max_age=self.max_age)
        return Session(None, data=data, new=False, max_age=self.max_age)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        if session.empty:
            self.save_cookie(response, "", max_age=0)
            return
        hour = _hour_floor(time.time())
        payload = {"created": min(hour, _hour_floor(session.created)), "session": dict(session)}
        token = self._fernet.encrypt_at_time(json.dumps(payload).encode("utf-8"), hour)
        self.save_cookie(response, token.decode("ascii"), max_age=None)


class LoginThrottle:
    """Failed-login counters, per moderator name and global, in bounded memory.

    Names are kept only as keyed hashes (random in-memory key). Fixed windows:
    `per_name` failures for one name within `name_window_s` lock that name
    until the window ends; `global_limit` failures of any names within
    `global_window_s` lock every login (argon2 is expensive: this also caps
    CPU). A locked login is refused even with the right password.
    """

    def __init__(
        self,
        *,
        per_name: int = 5,
        name_window_s: float = 900.0,
        global_limit: int = 50,
        global_window_s: float = 60.0,
        max_names: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_name = per_name
        self._name_window = name_window_s
        self._global_limit = global_limit
        self._global_window = global_window_s
        self._max_names = max_names
        self._clock = clock
        self._key = os.urandom(32)
        self._names: OrderedDict[bytes, tuple[float, int]] = OrderedDict()
        self._global: tuple[float, int] = (0.0, 0)

    def _name_key(self, name: str) -> bytes:
        return hmac.new(self._key, name.encode("utf-8", "replace"), hashlib.sha256).digest()

    def _expire(self, now: float) -> None:
        while self._names:
            key, (start, _) = next(iter(self._names.items()))
            if now - start < self._name_window and len(self._names) <= self._max_names:
                break
            del self._names[key]

    def retry_after(self, name: str) -> int | None:
        """Seconds until a login for `name` may be tried, or None when it may be now."""
        now = self._clock()
        self._expire(now)
        waits: list[float] = []
        g_start, g_count = self._global
        if g_count >= self._global_limit and now - g_start < self._global_window:
            waits.append(g_start + self._global_window - now)
        entry = self._names.get(self._name_key(name))
        if entry is not None and entry[1] >= self._per_name:
            waits.append(entry[0] + self._name_window - now)
        if not waits:
            return None
        return max(1, int(max(waits) + 0.999))

    def failed(self, name: str) -> None:
        now = self._clock()
        g_start, g_count = self._global
        self._global = (g_start, g_count + 1) if now - g_start < self._global_window else (now, 1)
        key = self._name_key(name)
        entry = self._names.get(key)
        if entry is None or now - entry[0] >= self._name_window:
            self._names.pop(key, None)
            self._names[key] = (now, 1)
        else:
            self._names[key] = (entry[0], entry[1] + 1)
        self._expire(now)

    def succeeded(self, name: str) -> None:
        self._names.pop(self._name_key(name), None)


@dataclass(frozen=True)
class Throttled:
    """The login is locked for now (too many failures)."""

    retry_after_s: int


async def log_in(
    request: web.Request,
    throttle: LoginThrottle,
    verify: Callable[[str, str], Awaitable[str | None]],
    name: str,
    password: str,
) -> str | Throttled | None:
    """One login attempt through the throttle (the JSON API's and the HTML form's).

    `verify` gives the moderator's session key, or None. Returns the new
    session's CSRF token, Throttled (the password is not even checked), or
    None for a wrong name or password.
    """
    wait = throttle.retry_after(name)
    if wait is not None:
        return Throttled(wait)
    key = None
    if len(name) <= MAX_NAME_CHARS and len(password) <= MAX_PASSWORD_CHARS:
        try:
            key = await verify(name, password)
        except UnicodeError:  # a lone surrogate cannot be a password
            key = None
    if not isinstance(key, str) or not key:
        throttle.failed(name)
        return None
    throttle.succeeded(name)
    return await start_moderator_session(request, key)


def end_moderator_session(request: web.Request, session: Session) -> None:
    """Log out: the browser forgets the cookie and the server refuses any copy of it."""
    storage = request.get(STORAGE_KEY)
    if isinstance(storage, HourCookieStorage):
        storage.revoke(session)
    session.invalidate()


async def start_moderator_session(request: web.Request, key: str) -> str:
    """A fresh session (no fixation) for a verified moderator (their session key);
    returns its CSRF token."""
    session = await new_session(request)
    token = secrets.token_urlsafe(32)
    session["moderator"] = True
    session["key"] = key
    session["login_hour"] = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()
    session["csrf"] = token
    return token


async def moderator_session(request: web.Request) -> Session | None:
    """The request's moderator session, or None when it has none (or its moderator
    was removed or given a new password since: the session is then dropped)."""
    session = await get_session(request)
    if session.get("moderator") is not True or not isinstance(session.get("csrf"), str):
        return None
    key = session.get("key")
    check = request.app.get(SESSION_CHECK)
    if not isinstance(key, str) or check is None or not await check(key):
        session.invalidate()
        return None
    return session


def csrf_ok(request: web.Request, session: Session, fields: Mapping[str, object]) -> bool:
    """Whether the request carries the session's CSRF token (header or body field)."""
    expected = session.get("csrf")
    if not isinstance(expected, str):
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        value = fields.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
