"""Moderator accounts: pseudonymous names with argon2id password hashes (argon2-cffi).

Rules kept here:
- A login hands the web a moderator's *session key*: the account's row id and
  a hash of its password hash (whose salt is random per password). The web
  keeps it in the encrypted session cookie and checks it against the database
  on every request (session_key_valid), so removing a moderator or giving a
  new password ends their sessions at once, even from another process
  (`vecinos moderator remove|passwd` while `vecinos run` serves).
- Unknown names cost as much as known ones (a dummy hash is verified).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from node.store import Moderator

NAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this when the name is unknown keeps both paths equally slow.
_DUMMY_HASH = _hasher.hash("vecinos-no-such-moderator")
_KEY = re.compile(r"^([0-9]{1,18})\.([0-9a-f]{32})$")


class ModeratorError(ValueError):
    pass


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ModeratorError(f"the password must have at least {MIN_PASSWORD} characters")


def _find(session: Session, name: str) -> Moderator:
    row = session.exec(select(Moderator).where(Moderator.name == name)).first()
    if row is None:
        raise ModeratorError(f"no moderator named {name!r}: see `vecinos moderator list`")
    return row


def add_moderator(session: Session, name: str, password: str) -> None:
    if not NAME.match(name):
        raise ModeratorError(
            "a moderator name is 2-64 letters, digits, '.', '_' or '-' "
            "(use a pseudonym, not a real name)"
        )
    _check_password(password)
    if session.exec(select(Moderator).where(Moderator.name == name)).first():
        raise ModeratorError(f"a moderator named {name!r} exists already")
    session.add(Moderator(name=name, password_hash=_hasher.hash(password)))


def list_moderators(session: Session) -> list[str]:
    """Every moderator's name, sorted."""
    return list(session.exec(select(Moderator.name).order_by(col(Moderator.name))))


def remove_moderator(session: Session, name: str) -> None:
    """Delete the account: its sessions end at their next request."""
    session.delete(_find(session, name))


def set_password(session: Session, name: str, password: str) -> None:
    """A new password (a new salt, so a new session key): every session of it ends."""
    _check_password(password)
    row = _find(session, name)
    row.password_hash = _hasher.hash(password)
    session.add(row)


def _session_key(row: Moderator) -> str:
    stamp = hashlib.sha256(b"vecinos-session\0" + row.password_hash.encode()).hexdigest()[:32]
    return f"{row.id}.{stamp}"


def verify_moderator(session: Session, name: str, password: str) -> str | None:
    """The moderator's session key when the password is right, else None."""
    row = None
    if NAME.match(name):  # anything else cannot be a moderator (and never reaches the DB)
        row = session.exec(select(Moderator).where(Moderator.name == name)).first()
    try:
        ok = _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return _session_key(row) if ok and row is not None else None


def session_key_valid(session: Session, key: str) -> bool:
    """Whether a session key still names an account with the same password."""
    found = _KEY.match(key) if isinstance(key, str) else None
    if found is None:
        return False
    row = session.get(Moderator, int(found.group(1)))
    return row is not None and hmac.compare_digest(_session_key(row), key)
