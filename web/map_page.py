"""The map page (/map) and its live data (/map/data.json): active reports and neighbours' alerts.

Without JavaScript (or for a screen reader) the page is a list of the same
reports and alerts, rendered here. With JavaScript, /static/map.js draws
them on Leaflet (served by this node, see web.vendor) and polls
/map/data.json every 30 s. Polling rather than server-sent events: a phone on
a bad connection or over Tor drops long-lived connections, and a proxy may
buffer them; a conditional GET (ETag / If-None-Match, 304 when nothing
changed) costs a few hundred bytes and holds nothing open on the node.

Map tiles come only from the chapter's configured [web] tile_url; with none,
the map draws the gazetteer's areas on a blank background and the page asks
no one else for anything. The tile URL is checked strictly (TILE_URL): its
origin goes into the CSP header, so a URL that is not a plain http(s) host is
ignored (web.app logs why at start-up) rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from aiohttp import web

from node.outcome import PublicReport, ReceivedAlert
from node.service import Node
from web import assets
from web.context import NODE
from web.layout import e, html_response, page
from web.messages import request_lang, translate
from web.pages import report_item
from web.present import alert_json, report_json

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"
MAP_SCRIPT = "/static/map.js"
DATA_PATH = "/map/data.json"
POLL_SECONDS = 30
LEVELS = ("unverified", "possible", "likely", "confirmed", "debunked")


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


def _alert_item(alert: ReceivedAlert, lang: str) -> str:
    where = e(alert.area) + (f" · {e(alert.highway)}" if alert.highway else "")
    state = translate("web_still_active" if alert.still_active else "web_not_active", lang)
    return (
        f'<li class="alert-item level-{e(alert.level)}" data-alert-id="{e(alert.alert_id)}">'
        f'<span class="swatch swatch-alert" aria-hidden="true"></span> '
        f"<strong>{e(translate(alert.type, lang))}</strong> — {where}"
        f'<br><span class="status">{e(translate(alert.level, lang))}</span>'
        f" · <span>{e(translate('web_alert_from', lang, chapter=alert.chapter))}</span>"
        f" · <span>{e(state)}</span>"
        f" · <span>{e(translate('web_alert_reports', lang, count=str(alert.reports)))}</span>"
        "</li>"
    )


def list_html(reports: Sequence[PublicReport], alerts: Sequence[ReceivedAlert], lang: str) -> str:
    """The list view: the same reports and alerts as the map, as HTML."""
    out = [f'<h2 id="list-title">{e(translate("web_list_title", lang))}</h2>']
    if reports:
        out.append('<ul class="reports">' + "".join(report_item(r, lang) for r in reports))
        out.append("</ul>")
    else:
        out.append(f'<p class="empty">{e(translate("web_no_reports", lang))}</p>')
    out.append(f'<h2 id="alerts-title">{e(translate("web_alerts_title", lang))}</h2>')
    if alerts:
        out.append('<ul class="alerts">' + "".join(_alert_item(a, lang) for a in alerts))
        out.append("</ul>")
    else:
        out.append(f'<p class="empty">{e(translate("web_no_alerts", lang))}</p>')
    return "".join(out)


def _legend(lang: str) -> str:
    items = "".join(
        f'<li><span class="swatch swatch-{level}" aria-hidden="true"></span> '
        f"{e(translate(level, lang))}</li>"
        for level in LEVELS
    )
    items += (
        '<li><span class="swatch swatch-alert" aria-hidden="true"></span> '
        f"{e(translate('web_legend_alert', lang))}</li>"
    )
    return (
        f'<section class="legend" aria-labelledby="legend-title"><h2 id="legend-title">'
        f"{e(translate('web_legend', lang))}</h2><ul>{items}</ul></section>"
    )


async def map_page(request: web.Request) -> web.Response:
    lang = request_lang(request)
    node = request.app[NODE]
    reports = await node.active_reports()
    alerts = node.public_alerts()  # as of the last publication tick
    have_leaflet = assets.available(request.app, LEAFLET_JS) and assets.available(
        request.app, LEAFLET_CSS
    )
    title = translate("web_map_title", lang)
    tiles = tile_url(node)
    out = [f"<h1>{e(title)}</h1>"]
    scripts: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    data: dict[str, str] = {}
    if have_leaflet:
        scripts, styles = (LEAFLET_JS, MAP_SCRIPT), (LEAFLET_CSS,)
        data = {
            "map-data": f"{DATA_PATH}?lang={lang}",
            "map-areas": "/api/v1/areas",
            "map-poll": str(POLL_SECONDS),
            "map-tiles": tiles or "",
            "map-attribution": str(node.config.get("web", "tile_attribution") or ""),
            "msg-updated": translate("web_map_updated", lang),
            "msg-offline": translate("web_map_offline", lang),
            "msg-debunked": translate("debunked", lang),
        }
        out.append(
            '<div id="map" class="map" role="region"'
            f' aria-label="{e(translate("web_map_label", lang))}" hidden></div>'
            f'<p class="notice no-js-only">{e(translate("web_map_needs_js", lang))}</p>'
        )
        if not tiles:
            out.append(
                f'<p class="notice js-only" hidden>{e(translate("web_map_no_tiles", lang))}</p>'
            )
        out.append(
            f'<p class="live js-only" hidden>{e(translate("web_map_live", lang))} '
            '<span id="live-status" aria-live="polite"></span></p>'
        )
    else:
        unavailable = e(translate("web_map_unavailable", lang))
        out.append(f'<p class="notice" id="map-unavailable">{unavailable}</p>')
    out.append(_legend(lang))
    out.append(
        '<section id="map-list" aria-labelledby="list-title">'
        f"{list_html(reports, alerts, lang)}</section>"
    )
    html = page(
        request,
        title,
        "".join(out),
        path="/map",
        scripts=scripts,
        stylesheets=styles,
        body_data=data,
    )
    return html_response(html)


def _report_data(report: PublicReport, lang: str) -> dict[str, object]:
    data = report_json(report, lang)
    data["type_text"] = translate(report.type, lang)
    data.pop("description", None)  # the map shows none; the list has it where public
    return data


async def map_data(request: web.Request) -> web.Response:
    """Reports, alerts and the list's HTML in one conditional GET (ETag, 304)."""
    lang = request_lang(request)
    node = request.app[NODE]
    reports = await node.active_reports()
    alerts = node.public_alerts()  # as of the last publication tick
    body = {
        "reports": [_report_data(r, lang) for r in reports],
        "alerts": [alert_json(a, lang) for a in alerts],
        "list_html": list_html(reports, alerts, lang),
    }
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(raw).hexdigest()[:24] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Language"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=raw, content_type="application/json", charset="utf-8", headers=headers)


def add_routes(app: web.Application) -> None:
    """Register /map and /map/data.json."""
    app.router.add_get("/map", map_page)
    app.router.add_get(DATA_PATH, map_data)
