"""The area map on the page: node.areamap's geometry coloured by the active incidents, as an
inline SVG partial (web/templates/area_map.html), readable without JavaScript or tiles.

- `setup(app)` has the geometry built once, in a worker thread as the app starts (so the
  node serves at once; node.areamap.build takes about 0.5 s for the default gazetteer),
  never per request; `render(request, incidents)` awaits it and fills the template.
- Each area is coloured by its most serious active incident (confirmed > likely > possible >
  unverified) and faded by that incident's age (its opacity, never below MIN_OPACITY so a
  faded area still reads); colour is never the only cue: every level also has its own
  pattern, every shape a <title>, and the legend names the levels in words.
- Labels: name and active-incident count "(2)"; placed per request (node.areamap.place_labels)
  so that areas with incidents are named first. Crowded areas carry their number, listed
  under the map; zoomed views are plain links (?view=z3), so zooming needs no script.
- Every text comes from the catalogs; the template autoescapes; no style attribute (the
  CSP forbids inline style): colours and patterns come from /static/areamap.css and <defs>.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from string import ascii_uppercase
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from node import areamap
from node.gazetteer import Gazetteer
from node.outcome import PublicIncident
from web.context import NODE
from web.messages import request_lang, translate
from web.present import age_words

STYLESHEET = "/static/areamap.css"
LEVEL_RANK = {"unverified": 1, "possible": 2, "likely": 3, "confirmed": 4}
LEVELS = ("confirmed", "likely", "possible", "unverified")  # the legend's order
MAX_ZOOM = 1.5  # the SVG is drawn at most this many CSS px per unit (its names stay ~18 px)
MIN_OPACITY = 0.45  # an old incident fades, but its area stays visibly coloured

AREA_MAP: web.AppKey[asyncio.Future[areamap.AreaMap]] = web.AppKey("vecinos_area_map")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def build_for(gazetteer: Gazetteer) -> areamap.AreaMap:
    """The area map of a gazetteer (its outline read once)."""
    return areamap.build(gazetteer.areas, areamap.load_outline(gazetteer.outline_path))


def setup(app: web.Application) -> None:
    """Have the node's area map computed once, in a worker thread, when the app starts."""

    async def start(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        app[AREA_MAP] = loop.run_in_executor(None, build_for, app[NODE].gazetteer)

    app.on_startup.append(start)


async def area_map(app: web.Application) -> areamap.AreaMap:
    """The app's area map (computed at start; the first request may wait for it)."""
    return await app[AREA_MAP]


# --- the view's context ---------------------------------------------------------------------


@dataclass(frozen=True)
class AreaState:
    """What the map says about one area: its most serious active incident, and how many."""

    level: str
    opacity: float
    count: int
    top: PublicIncident


def area_states(incidents: Sequence[PublicIncident]) -> dict[str, AreaState]:
    best: dict[str, AreaState] = {}
    for incident in incidents:
        if not incident.active or incident.ended or not incident.area_id:
            continue
        if incident.level not in LEVEL_RANK:
            continue
        seen = best.get(incident.area_id)
        count = (seen.count if seen else 0) + 1
        key = (LEVEL_RANK[incident.level], incident.opacity)
        if seen is None or key > (LEVEL_RANK[seen.level], seen.opacity):
            opacity = max(MIN_OPACITY, min(1.0, incident.opacity))
            best[incident.area_id] = AreaState(incident.level, opacity, count, incident)
        else:
            best[incident.area_id] = AreaState(seen.level, seen.opacity, count, seen.top)
    return best


def _state_text(state: AreaState | None, lang: str, now: datetime | None) -> str:
    if state is None:
        return translate("web_areamap_quiet", lang)
    # honest words for an hour-precision time, as on the list (web.present.age_words)
    age = age_words(state.top.last_hour, now) if now is not None else state.top.age_label
    return translate(
        "web_areamap_state",
        lang,
        level=translate(state.level, lang),
        type=translate(state.top.type, lang),
        age=translate(age, lang),
        count=str(state.count),
    )


def view_context(
    the_map: areamap.AreaMap,
    view_id: str,
    incidents: Sequence[PublicIncident],
    lang: str,
    path: str = "/map",
    now: datetime | None = None,
) -> dict[str, object]:
    """Everything area_map.html needs for one view (unknown view ids show the whole region)."""
    views = {v.id: v for v in the_map.views}
    view = views.get(view_id) or the_map.views[0]
    states = area_states(incidents)
    names = the_map.names

    def label_text(area_id: str) -> str:
        state = states.get(area_id)
        return f"{names[area_id]} ({state.count})" if state else names[area_id]

    texts = {m: label_text(m) for m in view.members}
    priority = {a: LEVEL_RANK[s.level] for a, s in states.items()}
    labels = areamap.place_labels(view, the_map.numbers, texts, priority)
    cells = []
    for cell in view.cells:
        state = states.get(cell.area_id)
        cells.append(
            {
                "id": cell.area_id,
                "path": cell.path,
                "level": state.level if state else "none",
                "opacity": f"{state.opacity:.2f}" if state else "1",
                "title": f"{names[cell.area_id]}: {_state_text(state, lang, now)}",
            }
        )
    letters = {z.view_id: ascii_uppercase[i % 26] for i, z in enumerate(view.zooms)}

    def view_href(target: str) -> str:  # escaped by the template
        return path + "?" + urlencode({"lang": lang, "view": target})

    def view_title(target: areamap.View) -> str:
        shown = [names[a] for a in target.highlights]
        more = len(_subtree(target, views)) - len(shown)
        listed = ", ".join(shown)
        if more > 0:
            return translate("web_areamap_zoom_more", lang, names=listed, count=str(more))
        return listed

    zooms = [
        {
            "letter": letters[z.view_id],
            "href": view_href(z.view_id) + "#area-map",
            "x": z.x,
            "y": z.y,
            "width": z.width,
            "height": z.height,
            "title": translate("web_areamap_zoom_in", lang, names=view_title(views[z.view_id])),
        }
        for z in view.zooms
    ]
    up = []
    parent = next((v for v in the_map.views if any(z.view_id == view.id for z in v.zooms)), None)
    while parent is not None:
        text = translate("web_areamap_whole", lang) if parent.id == "all" else view_title(parent)
        up.insert(0, {"href": view_href(parent.id) + "#area-map", "text": text})
        parent = next(
            (v for v in the_map.views if any(z.view_id == parent.id for z in v.zooms)), None
        )
    numbered = [
        {
            "number": label.number,
            "name": names[label.area_id],
            "state": _state_text(states.get(label.area_id), lang, now),
            "level": states[label.area_id].level if label.area_id in states else "none",
        }
        for label in sorted(labels, key=lambda lb: lb.number or 0)
        if label.number is not None
    ]
    active_here = sum(1 for m in _subtree(view, views) if m in states)
    return {
        "view_id": view.id,
        "max_zoom": MAX_ZOOM,
        "width": view.width,
        "height": view.height,
        "outline": view.outline,
        "cells": cells,
        "labels": [
            {
                "x": lb.x,
                "y": lb.y,
                "text": str(lb.number) if lb.number is not None else texts[lb.area_id],
                "number": lb.number is not None,
                "level": states[lb.area_id].level if lb.area_id in states else "none",
            }
            for lb in labels
        ],
        "zooms": zooms,
        "up": up,
        "numbered": numbered,
        "legend": [{"level": lv, "text": translate(lv, lang)} for lv in LEVELS],
        "heading": (
            translate("web_areamap_title", lang)
            if view.id == "all"
            else translate("web_areamap_zoomed", lang, names=view_title(view))
        ),
        "summary": translate("web_areamap_summary", lang, count=str(active_here)),
        "t": {
            "legend": translate("web_areamap_legend", lang),
            "none": translate("web_areamap_none", lang),
            "count_note": translate("web_areamap_count_note", lang),
            "numbers": translate("web_areamap_numbers", lang),
            "zoom_list": translate("web_areamap_zoom_list", lang),
            "up": translate("web_areamap_up", lang),
        },
    }


def _subtree(view: areamap.View, views: Mapping[str, areamap.View]) -> set[str]:
    """The areas a view stands for: its own members and those of its zooms, all the way down."""
    found = set(view.members)
    for zoom in view.zooms:
        found |= _subtree(views[zoom.view_id], views)
    return found


def render_context(context: Mapping[str, object]) -> str:
    """The partial's HTML for a context from view_context()."""
    return _environment().get_template("area_map.html").render(**context)


async def render(
    request: web.Request, incidents: Sequence[PublicIncident], path: str | None = None
) -> str:
    """The area map partial for this request (?view=, the request's language); its view links
    go to `path` (the request's own path by default)."""
    view_id = request.query.get("view", "all")
    the_map = await area_map(request.app)
    now = request.app[NODE].clock()
    context = view_context(
        the_map, view_id[:8], incidents, request_lang(request), path or request.path, now
    )
    return render_context(context)
