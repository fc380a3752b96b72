"""In real Chromium: the map's labels and the tile attribution are text, never markup.

Without tiles the node's SVG area map names the areas (Jinja2 autoescapes);
with tiles Leaflet puts a string tooltip or attribution in as HTML, so map.js
hands it text. The gazetteer's area names, the neighbour's alert label and the
configured attribution each carry a tag with an id that must not exist in the
page.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer, unused_port

from node.service import open_node
from tests.browser.conftest import DESKTOP
from tests.conftest import Clock
from tests.support import neighbour_alert, set_config
from web.app import make_app

AREA = "<b id=inj1>Mesa</b>"
ATTRIBUTION = "© <img id=inj2 src=x> tile makers"
GAZETTEER = f"""
[region]
name = "Hostile"
highways = ["I-5"]

[[area]]
id = "mesa"
name = '{AREA}'
aliases = []
lat = 32.70
lon = -117.10
"""


@pytest.mark.parametrize("tiles", [False, True])
async def test_labels_and_attribution_are_text(
    browser: Any, chapter_dir: Path, clock: Clock, tiles: bool
) -> None:
    (chapter_dir / "hostile.toml").write_text(GAZETTEER, encoding="utf-8")
    set_config(chapter_dir, "chapter", "gazetteer", '"hostile.toml"')
    port = unused_port()
    if tiles:  # the node itself as the "tile server": every tile is a 404, which is fine here
        set_config(chapter_dir, "web", "tile_url", f'"http://127.0.0.1:{port}/t/{{z}}/{{x}}/{{y}}"')
        set_config(chapter_dir, "web", "tile_attribution", f'"{ATTRIBUTION}"')
    node = await open_node(chapter_dir, clock=clock)
    server = TestServer(make_app(node), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        await node.receive_alert(replace(neighbour_alert(clock()), lat=32.7, lon=-117.1))
        await node.publish()  # public from the next publication tick
        context = await browser.new_context(viewport=DESKTOP, locale="en")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(str(server.make_url("/map")))
        await page.wait_for_selector("body[data-map-live=true]", state="attached")
        if tiles:
            await page.wait_for_selector("#map[data-loaded=true]", state="attached")
            await page.wait_for_selector(".leaflet-marker-icon.alert-icon", state="attached")
            await page.hover(".leaflet-marker-icon.alert-icon")
            await page.wait_for_selector(".alert-label", state="attached")
            text = await page.text_content(".leaflet-control-attribution")
            assert ATTRIBUTION in (text or "")
        else:
            assert await page.query_selector("#map") is None  # no Leaflet without tiles
            assert await page.text_content("svg.area-map-svg text.am-label") == AREA
        assert await page.query_selector("#inj1") is None
        assert await page.query_selector("#inj2") is None
        assert errors == []
        await context.close()
    finally:
        await server.close()
        await node.close()
