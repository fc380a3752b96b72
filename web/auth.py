"""Moderator sessions: the hour-stamped encrypted cookie, login throttling and CSRF tokens.

Login throttling is per source first (LoginThrottle): no stranger can keep a
moderator out; argon2's cost is what node.moderators sets, never lowered.

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
import math
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

from node.outcome import SourceRef

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


class _Windows:
    """Failure counts per key in fixed windows, in bounded memory (oldest keys forgotten)."""

    def __init__(self, window_s: float, max_keys: int) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._counts: OrderedDict[bytes, tuple[float, int]] = OrderedDict()

    def count(self, key: bytes, now: float) -> int:
        entry = self._counts.get(key)
        if entry is None or now - entry[0] >= self.window_s:
            return 0
        return entry[1]

    def add(self, key: bytes, now: float) -> None:
        entry = self._counts.pop(key, None)
        if entry is None or now - entry[0] >= self.window_s:
            entry = (now, 0)
        self._counts[key] = (entry[0], entry[1] + 1)
        while self._counts:
            oldest, (start, _) = next(iter(self._counts.items()))
            if now - start < self.window_s and len(self._counts) <= self.max_keys:
                break
            del self._counts[oldest]

    def forget(self, key: bytes) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


GLOBAL = b"*"


class LoginThrottle:
    """Failed-login counters, per source first, then per name and global, in bounded memory.

    Sources (the client's address as web.source keys it) and names are kept
    only as keyed hashes (a random in-memory key), like node.sources does for
    reports. Fixed windows; checked in this order:
    1. a source with `per_source` failures within `source_window_s` is refused;
    2. a name with `per_name` failures within `name_window_s`, and every login
       while `global_limit` failures of any names came within `global_window_s`
       (argon2 is expensive: this caps the CPU guessing takes), are refused,
       but only to a source that has failed itself within its window.
    A source that has not failed (the moderator, at home or at work) always
    gets its password checked: no stranger, with any number of addresses, can
    keep a moderator out, and each address a stranger uses gets one guess at a
    locked name per window. (Behind one shared address, e.g. Tor, rule 1
    applies to everyone on it: moderators should not log in over an address
    the public shares; see docs/web.md.) A refusal says "retry after the whole
    window", never a time that dates someone else's attempt.
    """

    def __init__(
        self,
        *,
        per_source: int = 10,
        source_window_s: float = 900.0,
        per_name: int = 5,
        name_window_s: float = 900.0,
        global_limit: int = 50,
        global_window_s: float = 60.0,
        max_names: int = 4096,
        max_sources: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_source = per_source
        self._per_name = per_name
        self._global_limit = global_limit
        self._clock = clock
        self._key = os.urandom(32)
        self._sources = _Windows(source_window_s, max_sources)
        self._names = _Windows(name_window_s, max_names)
        self._global = _Windows(global_window_s, 1)

    def _hash(self, kind: bytes, value: bytes) -> bytes:
        return hmac.new(self._key, kind + b"\0" + value, hashlib.sha256).digest()

    def _name_key(self, name: str) -> bytes:
        return self._hash(b"name", name.encode("utf-8", "replace"))

    def _source_key(self, source: bytes) -> bytes:
        return self._hash(b"source", source)

    def retry_after(self, name: str, source: bytes = b"") -> int | None:
        """Seconds until a login for `name` from `source` may be tried, None when it may now."""
        now = self._clock()
        failed_here = self._sources.count(self._source_key(source), now)
        if failed_here >= self._per_source:
            return _whole(self._sources.window_s)
        if not failed_here:
            return None  # a source that has not failed is never locked out by others
        waits = []
        if self._names.count(self._name_key(name), now) >= self._per_name:
            waits.append(self._names.window_s)
        if self._global.count(GLOBAL, now) >= self._global_limit:
            waits.append(self._global.window_s)
        return _whole(max(waits)) if waits else None

    def failed(self, name: str, source: bytes = b"") -> None:
        now = self._clock()
        self._sources.add(self._source_key(source), now)
        self._names.add(self._name_key(name), now)
        self._global.add(GLOBAL, now)

    def succeeded(self, name: str, source: bytes = b"") -> None:
        self._names.forget(self._name_key(name))
        self._sources.forget(self._source_key(source))


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds))


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
    source: SourceRef,
) -> str | Throttled | None:
    """One login attempt through the throttle (the JSON API's and the HTML form's).

    `source`: the client (web.source.request_source), for the per-source throttle;
    `verify` gives the moderator's session key, or None. Returns the new
    session's CSRF token, Throttled (the password is not even checked), or
    None for a wrong name or password.
    """
    who = source.identity
    wait = throttle.retry_after(name, who)
    if wait is not None:
        return Throttled(wait)
    key = None
    if len(name) <= MAX_NAME_CHARS and len(password) <= MAX_PASSWORD_CHARS:
        try:
            key = await verify(name, password)
        except UnicodeError:  # a lone surrogate cannot be a password
            key = None
    if not isinstance(key, str) or not key:
        throttle.failed(name, who)
        return None
    throttle.succeeded(name, who)
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
