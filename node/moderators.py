"""Moderator accounts: pseudonymous names with argon2id password hashes (argon2-cffi)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from node.store import Moderator

NAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this when the name is unknown keeps both paths equally slow.
_DUMMY_HASH = _hasher.hash("vecinos-no-such-moderator")


class ModeratorError(ValueError):
    pass


def add_moderator(session: Session, name: str, password: str) -> None:
    if not NAME.match(name):
        raise ModeratorError(
            "a moderator name is 2-64 letters, digits, '.', '_' or '-' "
            "(use a pseudonym, not a real name)"
        )
    if len(password) < MIN_PASSWORD:
        raise ModeratorError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.exec(select(Moderator).where(Moderator.name == name)).first():
        raise ModeratorError(f"a moderator named {name!r} exists already")
    session.add(Moderator(name=name, password_hash=_hasher.hash(password)))


def verify_moderator(session: Session, name: str, password: str) -> bool:
    row = None
    if NAME.match(name):  # anything else cannot be a moderator (and never reaches the DB)
        row = session.exec(select(Moderator).where(Moderator.name == name)).first()
    try:
        return (
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password) and row is not None
        )
    except (VerificationError, InvalidHashError):
        return False
