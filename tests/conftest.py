"""Shared fixtures: a controllable clock and real chapters on SQLite and PostgreSQL.

The clock is how tests move time (retention, decay); it is handed to the node
the same way production hands it datetime.now. PostgreSQL runs when
VECINOS_TEST_POSTGRES_URL points to a server (`.ci/run` starts one); each test
gets a fresh database on it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from node.service import Node, open_node
from node.setup import init_chapter
from tests.support import set_config

POSTGRES_URL = os.environ.get("VECINOS_TEST_POSTGRES_URL", "")


class Clock:
    """Time as the tests decide it (a Tuesday, 14:37:12 UTC, unless moved)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 17, 14, 37, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; skipped when no server is configured."""
    if not POSTGRES_URL:
        pytest.skip("VECINOS_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    import psycopg

    name = "vecinos_test_" + secrets.token_hex(4)
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> str:
    """'' for SQLite in the data dir, or a fresh PostgreSQL database URL."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def chapter_dir(tmp_path: Path, storage: str) -> Path:
    data = tmp_path / "chapter"
    init_chapter(data, "Test Chapter")
    if storage:
        set_config(data, "storage", "database_url", f'"{storage}"')
    return data


@pytest.fixture
async def node(chapter_dir: Path, clock: Clock) -> AsyncIterator[Node]:
    opened = await open_node(chapter_dir, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
