"""A TLS proxy in front of a Synapse's federation listener that can refuse the joins it serves.

Used by the tests that need federation's asynchrony made deterministic: a
homeserver's server name carries the proxy's port, so every other server
reaches it through the proxy. Requests pass through unchanged (the
X-Matrix signature covers method, path, origin and destination, none of
which the proxy changes), except that while `refuse_joins()` is on, a
server asking to join one of its rooms (GET /_matrix/federation/v1/make_join/...)
is answered 403, as a busy homeserver that has not yet taken in an invite
would: `refused` counts them, `refusal` is set at the first.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
from aiohttp import web
from yarl import URL

from federation.homeserver import free_port, make_self_signed_cert

MAKE_JOIN = "/_matrix/federation/v1/make_join/"
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class FederationProxy:
    """Listens on `port` (TLS) and forwards to 127.0.0.1:`upstream_port` (TLS)."""

    def __init__(self, base: Path, upstream_port: int) -> None:
        self.base = base
        self.port = free_port()
        self.upstream_port = upstream_port
        self.refusing = False
        self.refused = 0
        self.refusal = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def refuse_joins(self, on: bool = True) -> None:
        self.refusing = on

    async def start(self) -> None:
        cert, key = self.base / "proxy.crt", self.base / "proxy.key"
        self.base.mkdir(parents=True, exist_ok=True)
        make_self_signed_cert(cert, key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.refusing and request.path.startswith(MAKE_JOIN):
            self.refused += 1
            self.refusal.set()
            return web.json_response({"errcode": "M_FORBIDDEN", "error": "refused"}, status=403)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        # The path exactly as it came (signed by the sender), not re-encoded.
        url = URL(f"https://127.0.0.1:{self.upstream_port}{request.raw_path}", encoded=True)
        async with self._session.request(
            request.method, url, headers=headers, data=body or None, ssl=False
        ) as upstream:
            payload = await upstream.read()
            kept = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_HEADERS and k.lower() != "content-encoding"
            }
            return web.Response(status=upstream.status, body=payload, headers=kept)
