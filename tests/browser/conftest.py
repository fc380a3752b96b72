"""Fixtures for the browser tests: a real node served on loopback, and Debian's Chromium.

Chromium is /usr/bin/chromium (scripts/chromium.sh installs it; `playwright
install` is never run), driven by Playwright's async API on the test's own
event loop, so the aiohttp server and the browser share one loop. Each
browser is launched with a fresh temporary profile. Without Chromium the
tests are skipped, except under CI (CI=true), where that is a failure.
Every request any page makes is recorded (context.on("request")).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import Session

from node.moderators import add_moderator
from node.service import Node
from web import map_page
from web.app import make_app

CHROMIUM = os.environ.get("VECINOS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MODERATOR = ("garza", "una contraseña bastante larga")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def storage() -> str:
    """Browser tests run on SQLite only (PostgreSQL is covered by the node and web tests)."""
    return ""


@dataclass
class Served:
    """A node's web app on 127.0.0.1, and what the browsers asked of anyone."""

    base: str
    node: Node
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base).netloc
        return [u for u in self.requests if urlsplit(u).netloc != own]


@contextlib.asynccontextmanager
async def serve(node: Node) -> AsyncIterator[Served]:
    """The node's web app on a free loopback port, for the browser."""
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Served(str(server.make_url("")).rstrip("/"), node)
    finally:
        await server.close()


@pytest.fixture
async def served(node: Node, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    # The map polls every second here, so a test awaits the change instead of 30 s.
    monkeypatch.setattr(map_page, "POLL_SECONDS", 1)
    async with serve(node) as site:
        yield site


@pytest.fixture
def moderator(node: Node) -> tuple[str, str]:
    with Session(node.engine) as session:
        add_moderator(session, *MODERATOR)
        session.commit()
    return MODERATOR


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/chromium.sh should have installed it")
        pytest.skip(f"no {CHROMIUM} (scripts/chromium.sh installs Debian's chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
