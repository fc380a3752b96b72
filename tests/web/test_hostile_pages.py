"""Hostile values on every page: escaped in HTML, kept out of the CSP, harmless in the CSV.

The values come from everywhere a page draws text from: the chapter's name and
gazetteer (operator), the reporter's free-text area and description, and a
neighbour chapter's alert (stored as the node keeps it, whatever federation let
through). Each carries a tag with an id "inj..." that must never become markup.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import Session

from node.moderators import add_moderator
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node, open_node
from node.trends import AggregateCount
from scoring.model import Channel
from tests.conftest import Clock
from tests.support import neighbour_alert, set_config
from tests.web.test_moderation_pages import log_in
from web import map_page
from web.app import CSP, make_app
from web.trends import csv_text

CHAPTER = "<script id=inj0>x</script> & Norte"
AREA_NAME = "<img src=x id=inj1> \"Mesa\" 'Sur' &amp;"
AREA_ID = '=HYPERLINK("x")'
HIGHWAY = '"><i id=inj2>'
FREE_AREA = "<svg id=inj3 onload=alert(1)> swap meet"
DESCRIPTION = "agents at the <b id=inj4>corner</b> & the market"
ALERT_AREA = "<iframe id=inj5 src=//evil.example></iframe>"
ALERT_HIGHWAY = "<u id=inj6>"
GAZETTEER = f"""
[region]
name = "Hostile"
highways = ["I-5", {HIGHWAY!r}]

[[area]]
id = '{AREA_ID}'
name = '''{AREA_NAME}'''
aliases = ["mesa sur"]
lat = 32.70
lon = -117.10
highways = ["I-5"]
"""
MODERATOR = ("buho", "a long enough moderator password")


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def injected(html: str) -> list[str]:
    """The tags of `html` that hostile values made (an id inj..., a script not ours)."""
    parser = Tags()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if (attrs.get("id") or "").startswith("inj") or tag in ("iframe", "img", "u", "i"):
            found.append(tag)
        if tag == "script" and not (attrs.get("src") or "").startswith("/static/"):
            found.append("script")
        if any(name.startswith("on") for name in attrs):
            found.append(f"{tag} handler")
    return found


@pytest.fixture
async def hostile(
    chapter_dir: Path, clock: Clock
) -> AsyncIterator[tuple[aiohttp.ClientSession, Node]]:
    (chapter_dir / "hostile.toml").write_text(GAZETTEER, encoding="utf-8")
    set_config(chapter_dir, "chapter", "gazetteer", '"hostile.toml"')
    set_config(chapter_dir, "chapter", "name", f'"{CHAPTER}"')
    node = await open_node(chapter_dir, clock=clock)
    with Session(node.engine) as session:
        add_moderator(session, *MODERATOR)
        session.commit()
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    client = aiohttp.ClientSession(
        base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    try:
        yield client, node
    finally:
        await client.close()
        await server.close()
        await node.close()


async def submit(node: Node, n: int, **fields: object) -> str:
    source = SourceRef(Channel.WEB, f"10.0.0.{n}".encode())
    outcome = await node.submit(ReportDraft(**fields), source)  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


async def test_hostile_values_are_text_on_every_page(
    hostile: tuple[aiohttp.ClientSession, Node], clock: Clock
) -> None:
    client, node = hostile
    # Last week's reports in the hostile area, purged into the aggregates the trends show.
    await submit(node, 1, type="raid", area="mesa sur")
    clock.advance(days=8)
    await node.purge()
    known = await submit(node, 2, type="raid", area="mesa sur", highway="I-5")
    await node.moderate(known, ModeratorAction.CONFIRM)  # its description becomes public
    await submit(node, 3, type="patrol", area=FREE_AREA, description=DESCRIPTION)
    confirmed = await submit(node, 4, type="checkpoint", area="Mesa Sur", description=DESCRIPTION)
    await node.moderate(confirmed, ModeratorAction.CONFIRM)
    alert = replace(neighbour_alert(node.clock()), area=ALERT_AREA, highway=ALERT_HIGHWAY)
    await node.receive_alert(alert)
    await node.publish()  # public pages change at publication ticks (node.publication)
    await log_in(client, MODERATOR)

    pages = {}
    for path in ("/", "/about", "/map", "/trends", "/moderation", "/nowhere"):
        async with client.get(path) as resp:
            assert resp.status < 500, path
            pages[path] = await resp.text()
    async with client.get("/map/list") as resp:
        pages["/map/list"] = await resp.text()
    for path, html in pages.items():
        assert injected(html) == [], path
        if path != "/map/list":  # a list, not a page
            assert "&lt;script id=inj0&gt;" in html, path  # the chapter's name, as text
    # The values were shown (as text), so the check above could have failed.
    assert "&lt;i id=inj2&gt;" in pages["/"]  # a highway of the form's list
    for path in ("/map", "/map/list"):
        # Free-text places and descriptions are never on the public list (incidents show
        # "a place not on our list"); the operator's and the neighbour's values are, as text.
        for raw in (AREA_NAME, ALERT_AREA, ALERT_HIGHWAY):
            assert escape_text(raw) in pages[path], (path, raw)
        for raw in (FREE_AREA, DESCRIPTION):
            assert escape_text(raw) not in pages[path], (path, raw)
    for raw in (AREA_NAME, FREE_AREA, DESCRIPTION):
        assert escape_text(raw) in pages["/moderation"], raw
    assert escape_text(AREA_NAME) in pages["/trends"]

    async with client.get("/trends.csv") as resp:
        rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[1][2:4] == ["'" + AREA_ID, AREA_NAME]


def escape_text(raw: str) -> str:
    """As the templates escape text (Jinja2's autoescape: markupsafe, quotes as &#34; &#39;)."""
    from markupsafe import escape

    return str(escape(raw))


def test_csv_cells_never_start_a_formula() -> None:
    rows = [
        AggregateCount(area, "raid", date(2026, 11, 1), 3, 1, 0, 0)
        for area in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "plain")
    ]
    names = {"plain": "=cmd|' /C calc'!A0"}
    got = list(csv.reader(io.StringIO(csv_text(rows, names), newline="")))[1:]
    for row in got:
        assert row[2][0] not in "=+-@\t\r\n" and row[3][0] not in "=+-@\t\r\n", row
    assert got[-1][2:4] == ["plain", "'=cmd|' /C calc'!A0"]
    assert got[0][2] == "'=1+1"


BAD_TILE_URLS = [
    "https://tiles.example.org;script-src *;/{z}/{x}/{y}.png",  # a directive in the CSP
    "https://tiles.example.org/{z}/{x}/{y}.png script-src *",
    "https://tiles.example.org, https://evil.example/{z}/{x}/{y}",
    "https://*/{z}/{x}/{y}",
    "https://user:secret@tiles.example.org/{z}/{x}/{y}",
    "https://tiles.example.org:99999/{z}/{x}/{y}",
    "javascript://tiles.example.org/{z}/{x}/{y}",
    'https://tiles.example.org/{z}/{x}/{y}"><script>',
    "https://tiles.example.org/{z}/{x}.png",  # no {y}
    "//tiles.example.org/{z}/{x}/{y}",
    "https://tiles.example.org\\u0000/{z}/{x}/{y}",
]


@pytest.mark.parametrize("url", BAD_TILE_URLS)
async def test_an_unsafe_tile_url_is_ignored_and_never_reaches_the_csp(
    chapter_dir: Path, clock: Clock, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    toml = '"' + url.replace('"', '\\"') + '"'  # \u0000 stays a TOML escape
    set_config(chapter_dir, "web", "tile_url", toml.replace("\\", "\\\\"))  # re.sub's escapes
    node = await open_node(chapter_dir, clock=clock)
    try:
        assert map_page.tile_url(node) is None
        caplog.set_level(logging.WARNING)
        server = TestServer(make_app(node), host="127.0.0.1", port=0)
        assert "tile_url ignored" in caplog.text
        await server.start_server()
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.make_url("/map")) as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Content-Security-Policy"] == CSP
            html = await resp.text()
        assert "data-map-tiles" not in html and "leaflet" not in html  # the SVG map only
        await server.close()
    finally:
        await node.close()


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}{r}.png?v=2", "http://127.0.0.1:8081"),
        ("https://[2001:db8::1]/{z}/{x}/{y}.png", "https://[2001:db8::1]"),
    ],
)
def test_usable_tile_urls_give_one_csp_source(url: str, source: str) -> None:
    assert map_page.tile_origin(url) == source
    assert re.fullmatch(r"[a-z]+://[\w.*:\[\]-]+", source)
