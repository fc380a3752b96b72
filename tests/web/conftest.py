"""Fixtures for the web tests: the web app over a real node, served on loopback, and a client.

The node comes from tests/conftest.py (a fresh chapter made by
node.setup.init_chapter and opened with node.service.open_node); the app is
served by a real aiohttp server on 127.0.0.1 and spoken to over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlmodel import Session

from node.moderators import add_moderator
from node.service import Node
from web.app import make_app

MODERATOR = ("lechuza", "correct horse battery staple")

Serve = Callable[..., Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def serve(node: Node) -> AsyncIterator[Serve]:
    """serve(**make_app_options) -> a ClientSession bound to a fresh server of that app."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**options: Any) -> aiohttp.ClientSession:
        # Moderators' debunks and archives apply at once unless a test asks for the undo window.
        options.setdefault("undo_window_s", 0)
        app: web.Application = make_app(node, **options)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        session = aiohttp.ClientSession(
            base_url=str(server.make_url("/")),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1
            headers={"Accept-Language": "en"},  # tests ask for Spanish where they mean it
        )
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


@pytest.fixture
async def client(serve: Serve) -> aiohttp.ClientSession:
    return await serve()


@pytest.fixture
def moderator(node: Node) -> tuple[str, str]:
    """A moderator account in the node's database (what `vecinos moderator add` does)."""
    with Session(node.engine) as session:
        add_moderator(session, *MODERATOR)
        session.commit()
    return MODERATOR
