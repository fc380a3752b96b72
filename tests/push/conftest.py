"""Fixtures for the Web Push tests: a push-service stand-in and a node that may send to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.service import Node, open_node
from node.setup import init_chapter
from tests.conftest import Clock
from tests.push.standin import PushServiceStandIn
from tests.support import set_config


@pytest.fixture
def storage() -> str:
    """SQLite; the store layer of subscriptions is plain SQLModel like the rest."""
    return ""


@pytest.fixture
async def push_service() -> AsyncIterator[PushServiceStandIn]:
    service = PushServiceStandIn()
    await service.start()
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
def push_chapter(tmp_path: Path, push_service: PushServiceStandIn) -> Path:
    data = tmp_path / "chapter"
    init_chapter(data, "Push Chapter")
    set_config(data, "push", "allow_hosts", f'"{push_service.host_port}"')
    return data


@pytest.fixture
async def push_node(
    push_chapter: Path, clock: Clock, push_service: PushServiceStandIn
) -> AsyncIterator[Node]:
    node = await open_node(push_chapter, clock=clock)
    push_service.expected_key = node.push_public_key()
    try:
        yield node
    finally:
        await node.close()
