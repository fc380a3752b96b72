"""Atom feeds of the chapter's alerts: /feeds/alerts.atom and /feeds/areas/<area id>.atom.

For anyone with a feed reader, without JavaScript or an account. The same
content rules as Web Push: an entry is one of the chapter's own alerts (an
aggregate of a gazetteer area at the chapter's sharing level) or its
all-clear, with type, area, highway, level and an age; never a description,
a count of sources, a minute or an arrival order (entries go most serious
first, and every time is a whole hour). Linked from /map and /alerts with
<link rel="alternate" type="application/atom+xml">.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from jinja2 import Environment, PackageLoader

from node.outcome import PublicAlert
from node.push.messages import age_label
from web.context import NODE
from web.messages import request_lang, translate

ATOM = "application/atom+xml"
# Atom is XML: every value is escaped (autoescape), like the pages.
templates = Environment(loader=PackageLoader("web", "templates"), autoescape=True)
FEED_PATH = "/feeds/alerts.atom"
AREA_FEED_PATH = "/feeds/areas/{area}.atom"
TAG = "tag:vecinos.invalid,2026:"  # Atom ids: RFC 4151 tag URIs, stable per chapter and alert


def _iso_hour(moment: datetime) -> str:
    return (
        moment.astimezone(UTC)
        .replace(minute=0, second=0, microsecond=0)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _base(request: web.Request) -> str:
    configured = request.app[NODE].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def _entry(alert: PublicAlert, lang: str, base: str, chapter_id: str, now: datetime) -> dict:
    params = {
        "type": translate(alert.type, lang),
        "area": alert.area_name,
        "level": translate(alert.level, lang),
        "age": translate(age_label(alert.hour, now), lang),
    }
    kind = "all_clear" if alert.ended else ("verified" if alert.level == "confirmed" else "alert")
    path = f"/incident/{alert.incident_id}" if alert.incident_id else "/map"
    text = translate(f"push_body_{kind}", lang, **params)
    if alert.highway:
        text = f"{text} ({alert.highway})"
    return {
        "id": f"{TAG}{chapter_id}/alert/{alert.alert_id}" + ("/ended" if alert.ended else ""),
        "title": translate(f"push_title_{kind}", lang, **params),
        "updated": _iso_hour(alert.hour),
        "url": f"{base}{path}?lang={lang}",
        "text": text,
    }


async def _feed(request: web.Request, area_id: str | None) -> web.Response:
    node = request.app[NODE]
    lang = request_lang(request)
    area_name = None
    if area_id is not None:
        area_name = next((a.name for a in node.areas() if a.id == area_id), None)
        if area_name is None:
            raise web.HTTPNotFound()
    now = node.clock()
    alerts = await node.feed_alerts(area_id)
    base = _base(request)
    chapter_id = node.config.chapter_id
    entries = [_entry(a, lang, base, chapter_id, now) for a in alerts]
    title = translate("feeds_feed_title", lang, chapter=node.chapter_name or chapter_id)
    if area_name is not None:
        title = f"{title} — {area_name}"
    self_path = FEED_PATH if area_id is None else AREA_FEED_PATH.format(area=area_id)
    text = templates.get_template("feed.atom").render(
        lang=lang,
        feed_id=f"{TAG}{chapter_id}/alerts" + (f"/{area_id}" if area_id else ""),
        title=title,
        subtitle=translate("feeds_subtitle", lang),
        updated=_iso_hour(now),
        chapter=node.chapter_name or chapter_id,
        self_url=f"{base}{self_path}?lang={lang}",
        map_url=f"{base}/map?lang={lang}",
        entries=entries,
    )
    return web.Response(
        text=text, content_type=ATOM, charset="utf-8", headers={"Cache-Control": "max-age=300"}
    )


async def chapter_feed(request: web.Request) -> web.Response:
    return await _feed(request, None)


async def area_feed(request: web.Request) -> web.Response:
    return await _feed(request, request.match_info["area"])


def add_routes(app: web.Application) -> None:
    app.router.add_get(FEED_PATH, chapter_feed)
    app.router.add_get("/feeds/areas/{area}.atom", area_feed)
