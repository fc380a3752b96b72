"""The node's Web Push keys, in DATA/keys (0600), made on first use.

- vapid.pem: the P-256 key that identifies this node to push services
  (VAPID, RFC 8292). Its public half is the browsers' applicationServerKey:
  if it changed, every subscription would stop working, so back it up with
  the signing key.
- push.key: 32 random bytes that encrypt the stored subscriptions (AES-GCM)
  and key the HMAC that finds one by its endpoint. It never leaves the data
  dir, and it is NOT in backups: a database copy or a PostgreSQL host alone
  then holds no readable endpoint, and a restored node only loses
  subscriptions that expire within 30 days anyway (people subscribe again).

Signing: one VAPID token per push-service origin, valid 12 h and reused
until an hour before it ends (RFC 8292 allows up to 24 h), so a fan-out to
10,000 subscribers signs a handful of tokens, not 10,000.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from py_vapid import Vapid02

from node.keys import write_private

VAPID_KEY_FILE = "vapid.pem"
PUSH_KEY_FILE = "push.key"
TOKEN_LIFETIME = timedelta(hours=12)
TOKEN_RENEW_BEFORE = timedelta(hours=1)
NONCE_BYTES = 12


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _load_or_create(path: Path, make: callable) -> bytes:  # type: ignore[valid-type]
    try:
        return path.read_bytes()
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_private(path, make())
        return path.read_bytes()


def _new_vapid_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class VapidSigner:
    """VAPID Authorization headers from the node's P-256 key, one token per origin, cached."""

    def __init__(self, pem: bytes, contact: str) -> None:
        self._vapid = Vapid02.from_pem(pem)
        self.contact = contact
        self._tokens: dict[str, tuple[datetime, dict[str, str]]] = {}
        raw = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.application_server_key = b64url(raw)

    def authorization(self, audience: str, now: datetime) -> dict[str, str]:
        """The VAPID Authorization header for a push-service origin ("https://host[:port]")."""
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] - TOKEN_RENEW_BEFORE > now:
            return cached[1]
        expires = now + TOKEN_LIFETIME
        claims = {"aud": audience, "exp": int(expires.timestamp()), "sub": self.contact}
        headers = self._vapid.sign(claims)
        self._tokens[audience] = (expires, headers)
        return headers


class PushKeys:
    """The VAPID key and the subscriptions' sealing key of one node."""

    def __init__(self, keys_dir: Path, contact: str) -> None:
        self.vapid_path = keys_dir / VAPID_KEY_FILE
        self.contact = contact
        self.signer = VapidSigner(_load_or_create(self.vapid_path, _new_vapid_pem), contact)
        self.application_server_key = self.signer.application_server_key
        self._seal = _load_or_create(keys_dir / PUSH_KEY_FILE, lambda: secrets.token_bytes(32))
        if len(self._seal) != 32:
            raise ValueError(f"{keys_dir / PUSH_KEY_FILE} is damaged: delete it to start anew")

    # -- sealing subscriptions -------------------------------------------------

    def lookup_id(self, endpoint: str) -> str:
        """A stable id for an endpoint that reveals nothing about it without push.key."""
        digest = hmac.new(self._seal, endpoint.encode("utf-8"), hashlib.sha256).digest()
        return b64url(digest[:18])

    def seal(self, plaintext: bytes, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self._seal).encrypt(nonce, plaintext, bound_to.encode())

    def open(self, blob: bytes, bound_to: str) -> bytes | None:
        """The plaintext, or None when the blob is not ours (damaged, or another key)."""
        try:
            return AESGCM(self._seal).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode()
            )
        except (InvalidTag, ValueError):
            return None
