"""Keys that live outside the database, in DATA/keys (0700, files 0600).

- Description keys: one AES-256-GCM key per (retention class, day). A report's
  description is encrypted under the key of the class it is in and the day it
  entered that class, bound to the report's id as associated data. A key is
  deleted (crypto-shredding) once everything it could cover has passed
  retention, so a copy of the database taken before a purge cannot be read
  after it.
  The same key encrypts every free-text field of the report (the text of a
  place not in the gazetteer too, bound to the id with AREA_BINDING).
- Day keys are created ahead (prepare(): today's and tomorrow's, by the
  scheduler at every publication tick and when the node opens), so a key
  file's birth never dates the day's first report, confirm or archive; a key
  made on demand is only a fallback. After a key is created or shredded, its
  file and directory are set back to the start of the hour (node.filetimes).
- The chapter's Ed25519 signing key for alerts (signedjson's file format).

Rule: no key is ever written anywhere but here, and never logged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from signedjson.key import generate_signing_key, read_signing_keys, write_signing_keys

from node.filetimes import set_back

KEY_BYTES = 32
NONCE_BYTES = 12
SIGNING_KEY_FILE = "signing.key"


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (never overwriting) and make it durable: all or nothing.

    The bytes go to a temporary file first and are linked into place only once
    written in full and synced, so a full disk (a short write) never leaves a
    truncated key behind: it raises OSError and `path` does not exist.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write", str(tmp))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # FileExistsError if another writer made it first
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@dataclass(frozen=True)
class KeyId:
    retention_class: str
    day: date

    @property
    def filename(self) -> str:
        return f"desc-{self.retention_class}-{self.day.isoformat()}.key"

    def label(self) -> str:
        return f"{self.retention_class}:{self.day.isoformat()}"

    @classmethod
    def parse(cls, label: str) -> KeyId:
        retention_class, _, day = label.partition(":")
        return cls(retention_class, date.fromisoformat(day))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KeyRing:
    """The description keys of one data dir."""

    def __init__(self, keys_dir: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        self.dir = keys_dir
        self.clock = clock
        self._cache: dict[KeyId, bytes] = {}

    def _load(self, key_id: KeyId, create: bool) -> bytes | None:
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        path = self.dir / key_id.filename
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            self._create(path)
            key = path.read_bytes()
        self._cache[key_id] = key
        return key

    def _create(self, path: Path) -> bool:
        """A new random key at `path` (False: another writer made it first)."""
        try:
            write_private(path, secrets.token_bytes(KEY_BYTES))
        except FileExistsError:
            return False
        set_back((path, self.dir), self.clock())
        return True

    def prepare(self, classes: Iterable[str], now: datetime, days_ahead: int = 1) -> int:
        """Create the keys of today and the next `days_ahead` days for each class; how many
        were new. Run ahead of need, so a key's birth dates no report."""
        made = 0
        self.dir.mkdir(mode=0o700, exist_ok=True)  # a restore leaves keys/desc/ out on purpose
        for retention_class in classes:
            for offset in range(days_ahead + 1):
                key_id = KeyId(retention_class, now.date() + timedelta(days=offset))
                path = self.dir / key_id.filename
                if not path.exists():
                    made += self._create(path)
        return made

    def encrypt(self, key_id: KeyId, plaintext: str, bound_to: str) -> bytes:
        key = self._load(key_id, create=True)
        assert key is not None
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), bound_to.encode())

    def decrypt(self, key_id: KeyId, blob: bytes, bound_to: str) -> str | None:
        """The plaintext, or None once the key has been shredded (or the blob is not ours)."""
        key = self._load(key_id, create=False)
        if key is None:
            return None
        try:
            return (
                AESGCM(key)
                .decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode())
                .decode()
            )
        except (InvalidTag, ValueError):
            return None

    def shred_expired(self, now: datetime, keep_for: dict[str, timedelta]) -> int:
        """Delete every key whose class's retention has passed for its whole day.

        A key of (class, day) covers reports that entered the class on `day`;
        the last of them is purged by the end of `day` + retention(class).
        """
        shredded = 0
        for path in self.dir.glob("desc-*.key"):
            stem = path.stem.removeprefix("desc-")
            retention_class, day_text = stem[:-11], stem[-10:]
            try:
                day = date.fromisoformat(day_text)
            except ValueError:
                continue
            retention = keep_for.get(retention_class)
            if retention is None:
                continue
            day_ends = datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1)
            if now >= day_ends + retention:
                _shred(path)
                self._cache.pop(KeyId(retention_class, day), None)
                shredded += 1
        if shredded:
            set_back((self.dir,), now)
        return shredded


def _shred(path: Path) -> None:
    """Overwrite, sync and unlink a key file (best effort on journaling filesystems)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.write(secrets.token_bytes(size))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()


def create_signing_key(keys_dir: Path) -> None:
    """A new Ed25519 signing key for the chapter's alerts."""
    key = generate_signing_key(secrets.token_hex(4))
    path = keys_dir / SIGNING_KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        write_signing_keys(handle, [key])
        handle.flush()
        os.fsync(handle.fileno())


def load_signing_key(keys_dir: Path):  # -> nacl SigningKey with .version (signedjson)
    with (keys_dir / SIGNING_KEY_FILE).open() as handle:
        return read_signing_keys(handle)[0]
