"""A stand-in for a browser push service (RFC 8030), on loopback, for the Web Push tests.

A real push service (FCM, Mozilla autopush, Apple) cannot run here, so this
one checks what they check and decrypts what they would carry:
- POST /push/<token> only; `Content-Encoding: aes128gcm`, a `TTL` (integer
  seconds), an optional `Urgency` of the four RFC 8030 values, a `Topic` of
  at most 32 base64url characters;
- `Authorization: vapid t=<JWT>,k=<key>` (RFC 8292): k is the node's
  applicationServerKey, the JWT is ES256 over {aud, exp, sub} signed by that
  key, aud is this service's origin, exp within 24 h, sub mailto: or https:;
- the body is decrypted (RFC 8291/8188) with the subscriber's private key and
  auth secret: the tests read exactly what a phone would show.
Anything wrong is answered 400/401 (and recorded), as a real service would.
A subscriber can be told to answer 410 Gone (unsubscribed in the browser).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

URGENCIES = {"very-low", "low", "normal", "high"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of a subscription: its keys, and what it received."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answer: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)

    def subscription(self) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives the page."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Delivery:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]


class PushServiceStandIn:
    def __init__(self, application_server_key: str | None = None) -> None:
        self.expected_key = application_server_key
        self.subscribers: dict[str, Subscriber] = {}
        self.deliveries: list[Delivery] = []
        self.refused: list[tuple[str, str]] = []  # (token, why)
        self.requests = 0
        self._arrived = asyncio.Condition()
        self.server: TestServer | None = None

    @property
    def origin(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def host_port(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{token}", self._push)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def subscriber(self, answer: int = 201) -> Subscriber:
        token = secrets.token_urlsafe(16)
        sub = Subscriber(
            token,
            f"{self.origin}/push/{token}",
            ec.generate_private_key(ec.SECP256R1()),
            os.urandom(16),
            answer,
        )
        self.subscribers[token] = sub
        return sub

    async def wait_requests(self, n: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: self.requests >= n)

    # -- the service ------------------------------------------------------------

    def _check_vapid(self, authorization: str) -> str | None:
        """None when the VAPID header is right, else why not."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return "not vapid"
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = parts.get("t"), parts.get("k")
        if not token or not key:
            return "no t or k"
        if self.expected_key is not None and key != self.expected_key:
            return "k is not the node's key"
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        claims = json.loads(unb64url(claims_b64))
        if header.get("alg") != "ES256":
            return "alg"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        raw = unb64url(signature_b64)
        if len(raw) != 64:
            return "signature size"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad signature"
        if claims.get("aud") != self.origin:
            return f"aud {claims.get('aud')!r}"
        exp = int(claims.get("exp", 0))
        if not time.time() < exp <= time.time() + 24 * 3600:
            return "exp"
        sub = str(claims.get("sub", ""))
        if not sub.startswith(("mailto:", "https://")):
            return "sub"
        return None

    async def _push(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        body = await request.read()
        why = None
        headers = {k: v for k, v in request.headers.items()}
        sub = self.subscribers.get(token)
        if sub is None:
            why, status = "unknown subscription", 404
        elif request.headers.get("Content-Encoding") != "aes128gcm":
            why, status = "content encoding", 400
        elif not request.headers.get("TTL", "").isdigit():
            why, status = "ttl", 400
        elif request.headers.get("Urgency", "normal") not in URGENCIES:
            why, status = "urgency", 400
        elif len(request.headers.get("Topic", "")) > 32:
            why, status = "topic", 400
        else:
            why = self._check_vapid(request.headers.get("Authorization", ""))
            status = 401 if why else sub.answer
        if why is None and status < 300:
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
            sub.received.append(payload)
            self.deliveries.append(Delivery(token, headers, payload))
        elif why is not None:
            self.refused.append((token, why))
        async with self._arrived:
            self.requests += 1
            self._arrived.notify_all()
        return web.Response(status=status)
