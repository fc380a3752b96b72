"""In real Chromium at 390x844 and 1280x800: Leaflet only when the chapter has a tile server.

- Without [web] tile_url, /map asks for no Leaflet file (no leaflet.js, no leaflet.css), has no
  Leaflet box, and its map is the node's SVG area map; map.js still refreshes the area map and
  the list by itself, through the node's own /map/area and /map/list, and asks no other host.
- With a tile URL pointing at a tile stand-in on loopback (this test serves it), map.js loads
  Leaflet from the node and the tiles from the stand-in, and draws the incidents on them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from node.service import open_node
from tests.browser.conftest import DESKTOP, PHONE, Served
from tests.browser.test_public_face_browser import submit
from tests.conftest import Clock
from tests.support import set_config
from web.app import make_app


def png(width: int = 256, height: int = 256) -> bytes:
    """A plain light tile: a valid PNG, made here (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\xe8\xee\xe4" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    parts = (chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(rows)), chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


async def test_without_tiles_no_leaflet_and_the_svg_map_refreshes(
    browser: Any, served: Served, artifacts: Path
) -> None:
    node = served.node
    await submit(node, 1, type="raid", area="Chula Vista", still_active=True)
    views = (("phone", PHONE, "Oceanside"), ("desktop", DESKTOP, "Escondido"))
    for name, viewport, area in views:
        context = await browser.new_context(viewport=viewport, locale="en")
        asked: list[str] = []
        context.on("request", lambda request, seen=asked: seen.append(request.url))
        context.on("request", lambda request: served.requests.append(request.url))
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, seen=errors: seen.append(str(exc)))
        await page.goto(served.url("/map"))
        await page.wait_for_selector("body[data-map-live=true]", state="attached")
        assert await page.is_visible('svg.area-map-svg path.am-cell[data-area="chula-vista"]')
        assert await page.query_selector("#map") is None
        assert await page.query_selector("#map-show") is None
        # A new report at the next publication tick: the SVG map and the list follow by themselves.
        await submit(node, 10 + len(name), type="checkpoint", area=area, still_active=True)
        cell = f'svg.area-map-svg path.am-cell.am-possible[data-area="{area.lower()}"]'
        await page.wait_for_selector(cell, state="attached")
        await page.wait_for_selector(f'#map-list li.incident:has-text("{area}")', state="attached")
        await page.screenshot(path=artifacts / f"map-no-tiles-{name}.png", full_page=True)
        assert [u for u in asked if "leaflet" in u.lower()] == [], name
        assert any("/map/area?" in u for u in asked) and any("/map/list?" in u for u in asked)
        assert errors == []
        await context.close()
    assert served.foreign_requests() == []


async def test_with_a_tile_server_leaflet_draws_on_its_tiles(
    browser: Any, chapter_dir: Path, clock: Clock, artifacts: Path
) -> None:
    tiles_asked: list[str] = []
    tile = png()

    async def serve_tile(request: web.Request) -> web.Response:
        tiles_asked.append(request.path)
        return web.Response(body=tile, content_type="image/png")

    stand_in = web.Application()
    stand_in.router.add_get("/t/{z}/{x}/{y}.png", serve_tile)
    tile_server = TestServer(stand_in, host="127.0.0.1", port=0)
    await tile_server.start_server()
    tile_url = f"http://127.0.0.1:{tile_server.port}/t/{{z}}/{{x}}/{{y}}.png"
    set_config(chapter_dir, "web", "tile_url", f'"{tile_url}"')
    set_config(chapter_dir, "web", "tile_attribution", '"Tiles: the stand-in"')
    node = await open_node(chapter_dir, clock=clock)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        await submit(node, 1, type="raid", area="Chula Vista", still_active=True)
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = await browser.new_context(viewport=viewport, locale="en")
            asked: list[str] = []
            context.on("request", lambda request, seen=asked: seen.append(request.url))
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, seen=errors: seen.append(str(exc)))
            await page.goto(str(server.make_url("/map")))
            await page.wait_for_selector("#map[data-loaded=true]", state="attached")
            await page.wait_for_selector("path.incident-marker.level-possible", state="attached")
            await page.wait_for_selector("img.leaflet-tile-loaded", state="attached")
            assert await page.is_visible("#map")
            assert await page.is_visible("svg.area-map-svg")  # the area map stays
            assert "Tiles: the stand-in" in (
                await page.text_content(".leaflet-control-attribution") or ""
            )
            assert any(u.endswith("/static/vendor/leaflet/leaflet.js") for u in asked), name
            assert any(u.endswith("/static/vendor/leaflet/leaflet.css") for u in asked), name
            await page.screenshot(path=artifacts / f"map-tiles-{name}.png", full_page=True)
            assert errors == []
            await context.close()
        assert tiles_asked, "no tile was asked of the stand-in"
    finally:
        await server.close()
        await node.close()
        await tile_server.close()
