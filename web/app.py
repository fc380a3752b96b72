"""Building the aiohttp application: routes, middlewares, security headers and privacy-safe logging.

Privacy rules enforced here for every request: no access log unless asked
for, and then only method, route template, status and duration; aiohttp's
own server log scrubbed of the client address and of exception text; no
5xx for anything a client sends; security headers on every response
(HSTS when the request came over TLS or the operator set secure_cookies,
i.e. the node is served over HTTPS by a proxy).

Slow clients cannot hold the node (slowloris): a connection that has not sent
a whole request head within `[web] header_timeout_seconds` (also the idle
keep-alive time) is closed, and a body that has not arrived within
`body_timeout_seconds` gets a 408 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp_session import session_middleware
from yarl import URL

from node.service import Node
from web import (
    api,
    assets,
    compression,
    feeds,
    incident_page,
    layout,
    map_page,
    moderation_pages,
    pages,
    push,
    trends,
)
from web.auth import SESSION_CHECK, HourCookieStorage, LoginThrottle
from web.context import NODE, SETTINGS, THROTTLE, WebSettings
from web.messages import translate

log = logging.getLogger("vecinos.web")
access_log = logging.getLogger("vecinos.web.access")
server_log = logging.getLogger("vecinos.web.server")

CLIENT_MAX_SIZE = 16 * 1024
SESSION_MAX_AGE_S = 8 * 3600
HEADER_TIMEOUT_S = 20.0  # [web] header_timeout_seconds
BODY_TIMEOUT_S = 30.0  # [web] body_timeout_seconds
LINGERING_S = 1.0  # after an answer, how long the rest of an unread body is read and dropped

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CSP_KEY: web.AppKey[str] = web.AppKey("vecinos_csp", str)


def content_security_policy(tile_origin: str | None) -> str:
    """The CSP: the node only, plus the chapter's own tile server for images when set."""
    if not tile_origin:
        return CSP
    return CSP.replace("img-src 'self' data:;", f"img-src 'self' data: {tile_origin};")


STATIC_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
    "Server": "vecinos",
}
HSTS = "max-age=31536000"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", *UNSAFE_METHODS})
ERROR_CODES = {
    400: "web_bad_request",
    403: "web_cross_site",
    404: "web_not_found",
    405: "web_method_not_allowed",
    408: "web_request_timeout",
    413: "body_too_large",
}
BODY_TIMEOUT_KEY: web.AppKey[float] = web.AppKey("vecinos_body_timeout", float)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- logging ----------------------------------------------------------------


class _ScrubFilter(logging.Filter):
    """Rewrites aiohttp's server log records: no client address, no exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_class = "-"
        if record.exc_info and record.exc_info[0] is not None:
            exc_class = record.exc_info[0].__name__
        record.msg = "aiohttp server: %s"
        record.args = (exc_class,)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


server_log.addFilter(_ScrubFilter())


def _route(request: web.BaseRequest) -> str:
    """The matched route's template (never the path as sent, never the query)."""
    try:
        resource = request.match_info.route.resource  # type: ignore[attr-defined]
    except AttributeError:
        return "-"
    return resource.canonical if resource is not None else "-"


def _method(request: web.BaseRequest) -> str:
    return request.method if request.method in KNOWN_METHODS else "OTHER"


class RouteAccessLogger(AbstractAccessLogger):
    """Access log line: method, route template, status, duration. Nothing else."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %.3fs", _method(request), _route(request), response.status, time)


# --- responses --------------------------------------------------------------


def _is_api(request: web.BaseRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(
    request: web.Request, status: int, code: str, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """An error in the shape of the path: JSON under /api/, a small page elsewhere."""
    lang = layout.page_lang(request)
    if _is_api(request):
        body: dict[str, object] = {"error": code, "message": translate(code, lang)}
        if status == 413:
            body["max_bytes"] = request.app[SETTINGS].client_max_size
        return web.json_response(body, status=status, headers=headers)
    response = layout.message_page(request, code, status=status)
    if headers:
        response.headers.update(headers)
    return response


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.update(STATIC_HEADERS)
    behind_tls = False
    if isinstance(request, web.Request):  # the chapter's tile server, when it has one
        headers["Content-Security-Policy"] = request.app.get(CSP_KEY, CSP)
        settings = request.app.get(SETTINGS)
        # Behind a TLS-terminating proxy the node sees plain HTTP; secure_cookies says HTTPS.
        behind_tls = settings is not None and settings.secure_cookies
    if request.secure or behind_tls:  # browsers ignore HSTS over plain HTTP anyway
        headers["Strict-Transport-Security"] = HSTS
    headers.setdefault("Cache-Control", "no-store")


def _cross_site(request: web.BaseRequest) -> bool:
    """Whether a browser says this request comes from another site.

    Stops other sites from making visitors' browsers post reports (each from a
    different address, which would fake independent corroboration) or
    moderator actions. Non-browser clients send neither header and pass.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    try:
        origin_url = URL(origin.strip())
        own = URL(f"{request.scheme}://{request.host}")
        return (origin_url.host, origin_url.port) != (own.host, own.port)
    except (ValueError, TypeError):
        return True


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every client error in the path's shape; an unexpected exception logged by class only."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        fallback = "web_bad_request" if exc.status < 500 else "web_server_error"
        code = ERROR_CODES.get(exc.status, fallback)
        kept = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(request, exc.status, code, kept)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("unhandled %s in %s %s", type(exc).__name__, _method(request), _route(request))
        return error_response(request, 500, "web_server_error")


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's body within the body timeout (handlers then read it from memory)."""
    if request.body_exists:
        try:
            async with asyncio.timeout(request.app[BODY_TIMEOUT_KEY]):
                await request.read()
        except TimeoutError:
            response = error_response(request, 408, "web_request_timeout")
            response.force_close()
            return response
    return await handler(request)


@web.middleware
async def cross_site_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in UNSAFE_METHODS and _cross_site(request):
        return error_response(request, 403, "web_cross_site")
    return await handler(request)


# --- the application --------------------------------------------------------


def make_app(
    node: Node,
    *,
    secure_cookies: bool = False,
    trust_forwarded_for: bool = False,
    client_max_size: int = CLIENT_MAX_SIZE,
    session_max_age_s: int = SESSION_MAX_AGE_S,
    login_throttle: LoginThrottle | None = None,
    access_log_enabled: bool = False,
    undo_window_s: float = moderation_pages.UNDO_WINDOW_S,
    ipv6_prefix: int = 56,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> web.Application:
    """The chapter's web application, bound to an open node.

    secure_cookies: mark the moderator cookie Secure (set it behind TLS).
    trust_forwarded_for: take the client address from X-Forwarded-For's last
    hop (only behind a reverse proxy that sets it). access_log_enabled: log
    method, route template, status and duration per request (off by default:
    a log sink's timestamps would date reports finer than the hour).
    undo_window_s: how long a moderator's debunk or archive waits for an undo
    (web.undo; 0 applies it at once, with no undo).
    ipv6_prefix: how an IPv6 client is keyed (web.source). header_timeout_s,
    body_timeout_s: see the module's docstring.
    """
    storage = HourCookieStorage(os.urandom(32), max_age_s=session_max_age_s, secure=secure_cookies)
    app = web.Application(
        client_max_size=client_max_size,
        middlewares=[
            compression.middleware,
            error_middleware,
            body_timeout_middleware,
            cross_site_middleware,
            session_middleware(storage),
        ],
        handler_args={
            # handler_args override whatever a runner passes (even web.run_app's defaults).
            "access_log_class": RouteAccessLogger,
            "access_log": access_log if access_log_enabled else None,
            "logger": server_log,
            "auto_decompress": False,
            # aiohttp closes a connection that has no whole request head when this runs out,
            # from its start or from the previous answer: the header timeout.
            "keepalive_timeout": header_timeout_s,
            "lingering_time": LINGERING_S,
        },
    )
    app[BODY_TIMEOUT_KEY] = float(body_timeout_s)
    app[NODE] = node
    app[SETTINGS] = WebSettings(
        secure_cookies=secure_cookies,
        trust_forwarded_for=trust_forwarded_for,
        client_max_size=client_max_size,
        session_max_age_s=session_max_age_s,
        ipv6_prefix=ipv6_prefix,
    )
    app[THROTTLE] = login_throttle or LoginThrottle()
    app[SESSION_CHECK] = node.moderator_session_valid
    app.on_response_prepare.append(_security_headers)
    layout.setup(app)
    api.add_routes(app)
    pages.add_routes(app)
    map_page.add_routes(app)
    incident_page.add_routes(app)
    moderation_pages.add_routes(app, undo_window_s)
    trends.add_routes(app)
    push.add_routes(app)
    feeds.add_routes(app)
    assets.add_routes(app)
    tiles = map_page.tile_url(node)
    if tiles is None and str(node.config.get("web", "tile_url") or "").strip():
        log.warning(
            "[web] tile_url ignored: not an http(s) URL of a plain host with {z}, {x} and {y} "
            "(see vecinos.toml); the map draws the areas without tiles"
        )
    app[CSP_KEY] = content_security_policy(map_page.tile_origin(tiles) if tiles else None)
    return app
