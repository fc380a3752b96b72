"""Compressing the node's HTML, JSON and CSV answers (gzip or deflate, as the browser asks).

Rules kept here:
- only text answers (HTML, JSON, CSV) above MIN_BYTES: below that the
  headers and the compressor's frame cost more than they save;
- never an answer that mixes a secret with text a visitor sent (BREACH: an
  attacker who can make a victim's browser repeat requests learns a secret
  byte by byte from the compressed length): the moderators' pages (marked by
  web.layout.render(compress=False)), any answer that sets a cookie, and any
  answer to a request that carries the moderator's session cookie;
- static files are compressed once at start-up by web.assets (they carry
  their own Content-Encoding and are left alone here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_response import ContentCoding

from web.auth import COOKIE_NAME
from web.layout import NO_COMPRESS

MIN_BYTES = 1024
TYPES = frozenset({"text/html", "application/json", "text/csv"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def compressible(request: web.Request, response: web.StreamResponse) -> bool:
    """Whether this answer may be compressed (see the rules above)."""
    if not isinstance(response, web.Response) or response.body is None:
        return False
    if response.status in (204, 304) or response.content_type not in TYPES:
        return False
    if "Content-Encoding" in response.headers or "Set-Cookie" in response.headers:
        return False
    if response.get(NO_COMPRESS) or COOKIE_NAME in request.cookies:
        return False
    return len(response.body) >= MIN_BYTES  # type: ignore[arg-type]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if isinstance(response, web.Response) and response.content_type in TYPES:
        vary = response.headers.get("Vary")
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if compressible(request, response):
        # gzip when the browser takes it (every one does): deflate's framing is ambiguous.
        accepted = request.headers.get("Accept-Encoding", "").lower()
        response.enable_compression(ContentCoding.gzip if "gzip" in accepted else None)
    return response
