"""web.assets: every file a page references is expected, and a missing one is said at start."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp
import pytest

from node.service import Node
from web import assets
from web.app import make_app

PAGES = ("/", "/map", "/about", "/trends", "/login")


async def test_every_referenced_asset_is_expected_and_served(client: aiohttp.ClientSession) -> None:
    referenced: set[str] = set()
    for path in PAGES:
        async with client.get(path) as resp:
            assert resp.status == 200
            referenced |= set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', await resp.text()))
    assert referenced <= set(assets.EXPECTED)
    for path in assets.EXPECTED:
        async with client.get(path) as resp:
            assert resp.status == 200, path


def test_a_missing_asset_is_one_warning_at_start(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bare = tmp_path / "static"
    bare.mkdir()
    (bare / "style.css").write_text("body {}")
    monkeypatch.setattr(assets, "STATIC_DIR", bare)
    with caplog.at_level(logging.WARNING, logger="vecinos.web"):
        make_app(node)
    [line] = [r.getMessage() for r in caplog.records if "static files missing" in r.getMessage()]
    assert "/static/vendor/leaflet/leaflet.js" in line and "/static/style.css" not in line


def test_a_complete_install_says_nothing(node: Node, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vecinos.web"):
        make_app(node)
    assert not [r for r in caplog.records if "static files missing" in r.getMessage()]
