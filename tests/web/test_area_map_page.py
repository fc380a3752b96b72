"""The area map on /map (web/areamap.py): server-rendered SVG, coloured by incidents, zoomed
views as plain links, names escaped, every text from the catalogs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from node.gazetteer import DEFAULT_PATH, Gazetteer
from node.outcome import PublicIncident
from node.service import Node, open_node
from tests.conftest import Clock
from tests.support import set_config
from web import areamap
from web.messages import translate


async def _get(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path) as resp:
        assert resp.status == 200
        return await resp.text()


def _svg(html: str) -> str:
    found = re.search(r'<svg class="area-map-svg".*?</svg>', html, re.S)
    assert found, "no area map"
    return found.group(0)


async def test_the_map_page_draws_every_area_without_script(
    client: aiohttp.ClientSession, node: Node
) -> None:
    html = await _get(client, "/map?lang=es")
    assert '<link rel="stylesheet" href="/static/areamap.css">' in html
    svg = _svg(html)
    assert "style=" not in svg and "<script" not in svg
    assert translate("web_areamap_title", "es") in html
    # Every area is drawn on the whole region's view, each with a title in words.
    drawn = set(re.findall(r'<path class="am-cell am-none" d="[^"]+" data-area="([^"]+)">', svg))
    assert drawn == {a.id for a in node.gazetteer.areas}
    assert svg.count("<title>") >= len(drawn)
    print(f"\narea map SVG (whole region, default gazetteer): {len(svg.encode())} bytes")
    # Zoomed views are plain links.
    zooms = re.findall(r'<a href="(/map\?lang=es&amp;view=z\d+)#area-map" class="am-zoom">', svg)
    assert zooms
    sizes = []
    for link in zooms:
        zoomed = await _get(client, link.replace("&amp;", "&"))
        sizes.append(len(_svg(zoomed).encode()))
        assert translate("web_areamap_whole", "es") in zoomed  # the way back
    print(f"zoomed views: {sizes} bytes")


async def test_areas_are_coloured_by_their_most_serious_incident(
    client: aiohttp.ClientSession, node: Node
) -> None:
    for n, area in enumerate(("Chula Vista", "Chula Vista", "San Ysidro")):
        report = {"type": "raid", "area": area}
        headers = {"X-Forwarded-For": f"10.1.0.{n}"}
        async with client.post("/api/v1/reports", json=report, headers=headers) as resp:
            assert resp.status == 201
    await node.publish()  # the public map changes at publication ticks
    html = await _get(client, "/map?lang=en&view=all")
    svg = _svg(html)
    found = re.findall(r'class="am-cell am-(\w+)" d="[^"]+"[^>]*data-area="([^"]+)"', svg)
    by_area = {area: level for level, area in found}
    assert by_area.get("chula-vista") in ("possible", "likely")
    assert by_area.get("san-ysidro") in ("possible", "likely")
    assert re.search(r'data-area="chula-vista"><title>Chula Vista: raid: \w+, ', svg)
    assert 'fill="url(#am-p-' in svg  # colour is never the only cue
    assert "Areas with active reports in this view: 2." in html


async def test_an_unknown_view_is_the_whole_region(client: aiohttp.ClientSession) -> None:
    html = await _get(client, "/map?view=%3Cscript%3E")
    assert translate("web_areamap_title", "en") in html and "<script>" not in _svg(html)


async def test_area_names_are_escaped(chapter_dir: Path, clock: Clock) -> None:
    (chapter_dir / "hostile.toml").write_text(
        """
[[area]]
id = "a"
name = "<b id=x>Mesa & Co</b>"
lat = 32.70
lon = -117.10

[[area]]
id = "b"
name = "Norte"
lat = 32.80
lon = -117.10
""",
        encoding="utf-8",
    )
    set_config(chapter_dir, "chapter", "gazetteer", '"hostile.toml"')
    node = await open_node(chapter_dir, clock=clock)
    try:
        the_map = areamap.build_for(node.gazetteer)
        html = areamap.render_context(areamap.view_context(the_map, "all", [], "en"))
        assert "<b id=x>" not in html and "&lt;b id=x&gt;Mesa &amp; Co&lt;/b&gt;" in html
    finally:
        await node.close()


def _incident(area_id: str, level: str, opacity: float, **extra: object) -> PublicIncident:
    hour = datetime(2026, 11, 17, 14, tzinfo=UTC)
    values: dict = {
        "id": f"i-{area_id}-{level}",
        "type": "raid",
        "area_id": area_id,
        "area_name": area_id,
        "lat": 32.64,
        "lon": -117.08,
        "highway": None,
        "level": level,
        "stage": "reported",
        "verified": level == "confirmed",
        "ended": None,
        "reports": "1",
        "first_hour": hour,
        "last_hour": hour,
        "age_label": "just_reported",
        "opacity": opacity,
        "active": True,
        "active_until": hour + timedelta(hours=6),
    }
    values.update(extra)
    return PublicIncident(**values)


def test_an_area_takes_its_most_serious_active_incident() -> None:
    states = areamap.area_states(
        [
            _incident("chula-vista", "possible", 1.0),
            _incident("chula-vista", "confirmed", 0.6, type="checkpoint"),
            _incident("san-ysidro", "likely", 1.0, active=False, ended="expired"),
            _incident("", "possible", 1.0),  # a place not on the list: not on the map
        ]
    )
    assert set(states) == {"chula-vista"}
    assert (states["chula-vista"].level, states["chula-vista"].count) == ("confirmed", 2)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_view_renders_in_both_languages(lang: str) -> None:
    g = Gazetteer.load(DEFAULT_PATH)
    the_map = areamap.build_for(g)
    for view in the_map.views:
        html = areamap.render_context(areamap.view_context(the_map, view.id, [], lang))
        assert "{" not in re.sub(r"<[^>]+>", "", html)  # no placeholder left unfilled
