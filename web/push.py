"""Web Push and the installable web app: the subscribe page, its API, the manifest, the worker.

Routes:
- GET /alerts: pick areas (and types) and subscribe this browser; works as a
  page without JavaScript too (it then offers the Atom feeds instead, since a
  push subscription needs the browser's script).
- GET /api/v1/push/key -> {"public_key": applicationServerKey (base64url)}.
- POST /api/v1/push/subscriptions {"subscription": {...}, "areas": [...],
  "types": [...], "lang": "en"|"es"} -> 201; 422 with a reason per field.
- DELETE /api/v1/push/subscriptions {"endpoint": ...} -> 204, whether or not
  it was subscribed (the answer tells a stranger nothing).
- GET /manifest.webmanifest, GET /sw.js (served from / so its scope is the
  whole node; it caches the last active list for offline reading).
Rules: the handlers only translate (node.Node.subscribe_push does the
rest); no endpoint, key or area choice is ever logged.
"""

from __future__ import annotations

import json

from aiohttp import web

from node.outcome import RateLimited, Unavailable
from web import assets
from web.api import PREFIX, field_errors, json_error, refusal_json
from web.assets import ASSETS
from web.context import NODE
from web.forms import BodyNotUnderstood
from web.layout import render
from web.messages import request_lang, translate
from web.source import request_source

MAX_BODY = 4096  # a subscription with 50 areas is about 2 KB
RENEW_RETRY_S = 3600  # the subscription limit's window: Retry-After dates no one


def _disabled(request: web.Request) -> web.Response | None:
    if not request.app[NODE].push_enabled:
        return json_error(request, 404, "push_disabled")
    return None


async def _json_body(request: web.Request) -> object:
    """The JSON body (read once, within the body timeout, by web.app's middleware)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(raw))
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyNotUnderstood() from exc


async def push_key(request: web.Request) -> web.Response:
    off = _disabled(request)
    if off is not None:
        return off
    return web.json_response({"public_key": request.app[NODE].push_public_key()})


async def subscribe(request: web.Request) -> web.Response:
    off = _disabled(request)
    if off is not None:
        return off
    node = request.app[NODE]
    try:
        body = await _json_body(request)
    except BodyNotUnderstood:
        return json_error(request, 400, "web_bad_request")
    source = request_source(request)
    found = await node.subscribe_push(body, source)
    lang = request_lang(request)
    if isinstance(found, tuple):
        return web.json_response(refusal_json(field_errors(found), None, lang), status=422)
    if isinstance(found, RateLimited):
        return json_error(
            request, 429, "push_rate_limited", headers={"Retry-After": str(RENEW_RETRY_S)}
        )
    if isinstance(found, Unavailable):
        return json_error(
            request, 503, "unavailable", headers={"Retry-After": str(found.retry_after_s)}
        )
    days = node.config.get("push", "expiry_days")
    return web.json_response(
        {"areas": list(found.areas), "types": list(found.types), "expires_in_days": days},
        status=201,
    )


async def unsubscribe(request: web.Request) -> web.Response:
    off = _disabled(request)
    if off is not None:
        return off
    try:
        body = await _json_body(request)
    except BodyNotUnderstood:
        return json_error(request, 400, "web_bad_request")
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1024:
        codes = {"endpoint": [("push_endpoint_missing", {})]}
        return web.json_response(refusal_json(codes, None, request_lang(request)), status=422)
    done = await request.app[NODE].unsubscribe_push(endpoint)
    if isinstance(done, Unavailable):
        return json_error(
            request, 503, "unavailable", headers={"Retry-After": str(done.retry_after_s)}
        )
    return web.Response(status=204)


async def alerts_page(request: web.Request) -> web.Response:
    """Pick areas and subscribe (JavaScript), or follow a feed (no JavaScript)."""
    node = request.app[NODE]
    lang = request_lang(request)
    areas = sorted(node.areas(), key=lambda a: a.name.casefold())
    context = {
        "title": translate("push_page_title", lang),
        "areas": areas,
        "types": ("raid", "checkpoint", "patrol", "vehicle"),
        "enabled": node.push_enabled,
    }
    data = {"push-lang": lang, "push-enabled": "1" if node.push_enabled else ""}
    return render(
        request,
        "push_page.html",
        context,
        path="/alerts",
        scripts=["/static/push.js"],
        stylesheets=["/static/push.css"],
        body_data=data,
        feeds=[(f"/feeds/alerts.atom?lang={lang}", translate("feeds_chapter", lang))],
    )


async def manifest(request: web.Request) -> web.Response:
    node = request.app[NODE]
    lang = request_lang(request)
    name = translate("web_title", lang)
    document = {
        "name": f"{name} — {node.chapter_name}" if node.chapter_name else name,
        "short_name": name,
        "lang": lang,
        "start_url": f"/map?lang={lang}",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#7a1f1f",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return web.json_response(document, content_type="application/manifest+json")


async def service_worker(request: web.Request) -> web.Response:
    """The worker at the root, so that its scope is the whole node (not /static/)."""
    asset = request.app[ASSETS].get(assets.PREFIX + "sw.js")
    if asset is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=asset.body,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


def add_routes(app: web.Application) -> None:
    """The subscribe page, the push API, the manifest and the service worker."""
    app.router.add_get("/alerts", alerts_page)
    app.router.add_get(f"{PREFIX}/push/key", push_key)
    app.router.add_post(f"{PREFIX}/push/subscriptions", subscribe)
    app.router.add_delete(f"{PREFIX}/push/subscriptions", unsubscribe)
    app.router.add_get("/manifest.webmanifest", manifest)
    app.router.add_get("/sw.js", service_worker)
