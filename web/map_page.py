"""The map page (/map), its live data (/map/data.json), its list alone (/map/list) and its area
map alone (/map/area).

The page is the node's own area map (web.areamap: an inline SVG, no script,
no tiles) and the list of incidents by importance (active first, then level,
then type: node.Node.public_incidents), filtered by area, type and level with
a plain GET form, and the neighbours' alerts; it works without JavaScript and
is what screen readers read. Public fields only: levels and coarse counts,
never a raw confidence or a source count.

With JavaScript, /static/map.js keeps the page fresh: every 30 s it asks
/map/list and /map/area again with If-None-Match (the page carries both
ETags, so nothing new costs two 304s) and puts in place what changed: no data
is sent twice. Polling rather than server-sent events: a phone on a bad
connection or over Tor drops long-lived connections, and a proxy may buffer
them; a conditional GET costs a few hundred bytes and holds nothing open on
the node.

Leaflet only with a tile server: when the chapter configured [web] tile_url,
map.js also loads Leaflet (served by this node, see web.vendor) and draws the
incidents (/map/data.json, marker fields only) on the chapter's tiles. With no
tile URL the page names no Leaflet file at all, and the browser asks no one
else for anything. The tile URL is checked strictly (TILE_URL): its origin
goes into the CSP header, so a URL that is not a plain http(s) host is ignored
(web.app logs why at start-up) rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from node import i18n
from node.outcome import ReceivedAlert
from node.service import Node
from web import areamap, assets
from web.context import NODE
from web.layout import render, render_fragment
from web.messages import request_lang, translate
from web.present import REPORT_TYPES, coarse_count, count_words, incident_view

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"
MAP_SCRIPT = "/static/map.js"
DATA_PATH = "/map/data.json"
LIST_PATH = "/map/list"
AREA_PATH = "/map/area"
POLL_SECONDS = 30
LEVELS = ("unverified", "possible", "likely", "confirmed", "debunked")
FILTER_LEVELS = ("possible", "likely", "confirmed")  # "this level or higher"


# What a usable tile URL template looks like: http(s), a host name (or IPv4, or [IPv6]) that may
# start with Leaflet's {s}. subdomain placeholder, an optional port, and a path of plain URL
# characters and {z} {x} {y} {r} {s} placeholders. Nothing else: the origin goes into the CSP
# header, where a space, ';' or ',' would add sources or directives.
TILE_URL = re.compile(
    r"(?P<scheme>https?)://(?P<sub>\{s\}\.)?"
    r"(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]"
    r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?P<port>:[0-9]{1,5})?"
    r"(?P<path>/(?:[A-Za-z0-9._~!$&'()*+=:@%/-]|\{[zxyrs]\})*"
    r"(?:\?(?:[A-Za-z0-9._~!$&'()*+=:@%/?-]|\{[zxyrs]\})*)?)"
)
MAX_TILE_URL = 512


def tile_url(node: Node) -> str | None:
    """The configured [web] tile_url template when it is safe and usable, else None."""
    url = str(node.config.get("web", "tile_url") or "").strip()
    return url if url and tile_origin(url) else None


def tile_origin(url: str) -> str | None:
    """The CSP source of a tile URL template (https://*.host for {s}.), None when unusable.

    Usable: matches TILE_URL, has {z}, {x} and {y}, and a port in 1..65535.
    """
    found = TILE_URL.fullmatch(url) if len(url) <= MAX_TILE_URL else None
    if found is None or not all(part in found["path"] for part in ("{z}", "{x}", "{y}")):
        return None
    port = found["port"] or ""
    if port and not 0 < int(port[1:]) < 65536:
        return None
    wildcard = "*." if found["sub"] else ""
    return f"{found['scheme'].lower()}://{wildcard}{found['host'].lower()}{port}"


def alert_view(alert: ReceivedAlert, lang: str) -> dict[str, object]:
    """A neighbour's alert as the list and the map show it: a level and a coarse count."""
    plural, shown = count_words(coarse_count(alert.reports))
    state = "web_still_active" if alert.still_active else "web_not_active"
    return {
        "alert_id": alert.alert_id,
        "chapter": alert.chapter,
        "type": alert.type,
        "type_text": translate(alert.type, lang),
        "area": alert.area,
        "lat": alert.lat,
        "lon": alert.lon,
        "highway": alert.highway,
        "level": alert.level,
        "level_text": translate(alert.level, lang),
        "still_active": alert.still_active,
        "state_text": translate(state, lang),
        "reports_text": i18n.translate_plural("web_alert_reports_n", plural, lang, count=shown),
    }


@dataclass(frozen=True)
class Filters:
    """The list's filters, from GET query parameters (a plain form: no JavaScript needed)."""

    area: str = ""
    type: str = ""
    level: str = ""

    @classmethod
    def of(cls, request: web.Request, area_ids: Collection[str]) -> Filters:
        query = request.query
        area = query.get("area", "")
        kind = query.get("type", "")
        level = query.get("level", "")
        return cls(
            area if area in area_ids else "",
            kind if kind in REPORT_TYPES else "",
            level if level in FILTER_LEVELS else "",
        )

    @property
    def any(self) -> bool:
        return bool(self.area or self.type or self.level)

    def query(self) -> dict[str, str]:
        return {
            k: v for k, v in (("area", self.area), ("type", self.type), ("level", self.level)) if v
        }


async def _listed(
    request: web.Request,
) -> tuple[Filters, list[dict[str, object]], list[dict[str, object]]]:
    """(the filters, the incidents they keep, the neighbours' alerts), translated."""
    lang = request_lang(request)
    node = request.app[NODE]
    filters = Filters.of(request, {area.id for area in node.areas()})
    incidents = await node.public_incidents(
        area=filters.area or None, type=filters.type or None, level=filters.level or None
    )
    now = node.clock()
    alerts = node.public_alerts()  # as of the last publication tick
    return (
        filters,
        [incident_view(i, lang, now) for i in incidents],
        [alert_view(a, lang) for a in alerts],
    )


def _etag(raw: bytes) -> str:
    return '"' + hashlib.sha256(raw).hexdigest()[:24] + '"'


async def _area_html(request: web.Request) -> str:
    """The area map partial for this request's view, coloured by every active incident (not
    the filters' choice); its links point at /map whichever path asked."""
    node = request.app[NODE]
    return await areamap.render(request, await node.public_incidents(), path="/map")


def _list_html(
    request: web.Request,
    filters: Filters,
    incidents: list[dict[str, object]],
    alerts: list[dict[str, object]],
) -> str:
    context = {"incidents": incidents, "alerts": alerts, "filtered": filters.any}
    return render_fragment(request, "map/list.html", context)


async def map_page(request: web.Request) -> web.Response:
    lang = request_lang(request)
    node = request.app[NODE]
    filters, incidents, alerts = await _listed(request)
    tiles = tile_url(node)
    # Leaflet only under the chapter's own tiles: without them the SVG area map is the map.
    leaflet = bool(tiles) and all(
        assets.available(request.app, p) for p in (LEAFLET_JS, LEAFLET_CSS)
    )
    area_html = await _area_html(request)
    list_html = _list_html(request, filters, incidents, alerts)
    scripts: tuple[str, ...] = ()
    data: dict[str, str] = {}
    if assets.available(request.app, MAP_SCRIPT):
        scripts = (MAP_SCRIPT,)
        query = urlencode({"lang": lang, **filters.query()})
        view = request.query.get("view", "all")[:8]
        data = {
            "map-list": f"{LIST_PATH}?{query}",
            "map-list-etag": _etag(list_html.encode("utf-8")),
            "map-area": f"{AREA_PATH}?{urlencode({'lang': lang, 'view': view})}",
            "map-area-etag": _etag(area_html.encode("utf-8")),
            "map-poll": str(POLL_SECONDS),
            "msg-updated": translate("web_map_updated", lang),
            "msg-offline": translate("web_map_offline", lang),
        }
        if leaflet:  # map.js loads Leaflet itself, and draws on the tiles
            data.update(
                {
                    "map-leaflet-js": LEAFLET_JS,
                    "map-leaflet-css": LEAFLET_CSS,
                    "map-data": f"{DATA_PATH}?{query}",
                    "map-tiles": tiles or "",
                    "map-attribution": str(node.config.get("web", "tile_attribution") or ""),
                }
            )
    choices = sorted(((a.id, a.name) for a in node.areas()), key=lambda c: c[1].casefold())
    context = {
        "area_map_svg": Markup(area_html),
        "list_html": Markup(list_html),
        "title": translate("web_map_title", lang),
        "leaflet": leaflet,
        "live": bool(scripts),
        "tiles": tiles,
        "legend_levels": LEVELS,
        "filtered": filters.any,
        "chosen": filters,
        "area_choices": choices,
        "report_types": REPORT_TYPES,
        "filter_levels": FILTER_LEVELS,
    }
    return render(
        request,
        "map/map.html",
        context,
        path="/map",
        scripts=scripts,
        stylesheets=(areamap.STYLESHEET,),
        body_data=data,
        feeds=[(f"/feeds/alerts.atom?lang={lang}", translate("feeds_chapter", lang))],
    )


def _conditional(request: web.Request, raw: bytes, content_type: str) -> web.Response:
    """A response with an ETag of its body; 304 when the browser already has it."""
    etag = _etag(raw)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Language"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=raw, content_type=content_type, charset="utf-8", headers=headers)


MARKER_FIELDS = (
    "id",
    "type",
    "type_text",
    "area_text",
    "lat",
    "lon",
    "shown_level",
    "level_text",
    "state",
    "state_text",
    "reports_text",
    "age_text",
    "opacity",
)
ALERT_FIELDS = ("alert_id", "type_text", "lat", "lon", "level", "level_text", "chapter")


async def map_data(request: web.Request) -> web.Response:
    """What the map draws (incidents and alerts placed on it), as a conditional GET (ETag).

    Only the fields the markers use: the list is HTML at /map/list, asked for by
    map.js only when this changed, so no data is sent twice.
    """
    _, incidents, alerts = await _listed(request)
    body = {
        "incidents": [{k: i[k] for k in MARKER_FIELDS} for i in incidents if i["lat"] is not None],
        "alerts": [{k: a[k] for k in ALERT_FIELDS} for a in alerts if a["lat"] is not None],
    }
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _conditional(request, raw, "application/json")


async def map_list(request: web.Request) -> web.Response:
    """The list under the map alone (HTML), for map.js to put in place."""
    filters, incidents, alerts = await _listed(request)
    html = _list_html(request, filters, incidents, alerts)
    return _conditional(request, html.encode("utf-8"), "text/html")


async def map_area(request: web.Request) -> web.Response:
    """The area map alone (HTML, ?view= as on /map), for map.js to put in place."""
    html = await _area_html(request)
    return _conditional(request, html.encode("utf-8"), "text/html")


def add_routes(app: web.Application) -> None:
    """Register /map, /map/data.json, /map/list and /map/area."""
    areamap.setup(app)  # the areas' geometry, computed once as the app starts
    app.router.add_get("/map", map_page)
    app.router.add_get(DATA_PATH, map_data)
    app.router.add_get(LIST_PATH, map_list)
    app.router.add_get(AREA_PATH, map_area)
