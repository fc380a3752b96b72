"""The node under faults: killed mid-stream, its database locked, its disk full.

Each test runs a real `vecinos run` child process (nodeproc.NodeProcess)
and speaks HTTP to it, as reporters do; the store is then read directly,
with SQL, never through the node under test.

- SIGKILL while submissions are in flight (several at once): after a
  restart, every report that got a 201 is in the store, on SQLite and on
  PostgreSQL. The node is killed once half of the submissions were
  acknowledged, restarted, and the rest are sent.
- A database locked by another process for longer than the node's busy
  timeout: a 503 with Retry-After and the translated reason, reads still
  served, nothing acknowledged that was not stored, and it works again
  once the lock is gone.
- A full disk (the child's RLIMIT_FSIZE lowered to 1 byte with prlimit, so
  every file write fails with EFBIG, as on a full disk; no mount needed,
  no root): the same clear 503, the node alive, working again once space
  is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import resource
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from nodeproc import NodeProcess, source_address, submit
from proof_sizes import SIZES
from sqlalchemy import create_engine, text

from node.config import load_config
from node.gazetteer import DEFAULT_PATH, Gazetteer
from node.i18n import translate
from node.setup import init_chapter
from node.store import DB_NAME, database_url
from tests.support import set_config

TYPES = ("checkpoint", "raid", "vehicle", "patrol")
AREAS = [a.name for a in Gazetteer.load(DEFAULT_PATH).areas]
IN_FLIGHT = 16
TIMEOUT = aiohttp.ClientTimeout(total=60)


def make_chapter(base: Path, storage: str = "") -> Path:
    data = base / "chapter"
    init_chapter(data, "Fault Test")
    set_config(data, "web", "trust_forwarded_for", "true")  # one source per X-Forwarded-For
    if storage:
        set_config(data, "storage", "database_url", f'"{storage}"')
    return data


def stored_ids(data: Path) -> set[str]:
    """Report ids in the chapter's store, read with SQL (SQLite file or PostgreSQL)."""
    config = load_config(data / "vecinos.toml")
    engine = create_engine(database_url(data, config.get("storage", "database_url")))
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT id FROM report"))}
    finally:
        engine.dispose()


def report(n: int, description: bool = False) -> dict:
    body = {"type": TYPES[n % len(TYPES)], "area": AREAS[n % len(AREAS)]}
    if description:
        body["description"] = f"fault test report number {n}"
    return body


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[list[NodeProcess]]:
    """The node processes a test starts; any left alive are SIGKILLed at the end."""
    started: list[NodeProcess] = []
    yield started
    for node in started:
        await node.ensure_dead()


async def fire(
    base: str, numbers: range, acked: dict[int, str], on_ack: asyncio.Event, ack_target: int
) -> tuple[int, int]:
    """Submit reports `numbers`, IN_FLIGHT at a time, until done or the node is gone.

    acked[n] = id for every 201; on_ack is set once len(acked) >= ack_target.
    Returns (requests that ended without an answer, requests sent).
    """
    todo = iter(numbers)
    lost = sent = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal lost, sent
        for n in todo:
            sent += 1
            try:
                status, body = await submit(http, base, report(n, n % 3 == 0), source_address(n))
            except (aiohttp.ClientError, TimeoutError):
                lost += 1
                return  # the node is gone: stop this worker
            assert status == 201, (status, body)
            acked[n] = body["id"]
            if len(acked) >= ack_target:
                on_ack.set()

    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as http:
        await asyncio.gather(*(worker(http) for _ in range(IN_FLIGHT)))
    return lost, sent


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_sigkill_mid_stream_loses_no_acknowledged_report(
    tmp_path: Path, running: list[NodeProcess], backend: str, request: pytest.FixtureRequest
) -> None:
    storage = "" if backend == "sqlite" else request.getfixturevalue("postgres_database")
    data = make_chapter(tmp_path, storage)
    total = SIZES.submissions
    half = total // 2
    acked: dict[int, str] = {}

    first = NodeProcess(data)
    running.append(first)
    await first.start()
    half_acked = asyncio.Event()
    firing = asyncio.create_task(fire(first.base, range(total), acked, half_acked, half))
    await asyncio.wait(
        [firing, asyncio.create_task(half_acked.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    assert half_acked.is_set(), "the node stopped answering before the kill"
    code = await first.kill()  # SIGKILL, while IN_FLIGHT requests are on their way
    assert code == -9
    lost, sent_before = await firing
    assert lost >= 1, "no request was in flight at the kill"
    before_kill = dict(acked)

    # The store, read while no node runs: every acknowledged report is there.
    ids = stored_ids(data)
    assert set(before_kill.values()) <= ids
    # Unacknowledged requests may or may not have been stored; never more than were sent.
    assert len(ids) <= sent_before

    second = NodeProcess(data)
    running.append(second)
    await second.start()
    rest = range(total, total + total - sent_before)  # fresh numbers: fresh sources
    assert await fire(second.base, rest, acked, asyncio.Event(), total) == (0, len(rest))
    assert len(acked) == total - lost
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:  # read back through the API too
        for n in itertools.islice(before_kill, 0, None, max(1, len(before_kill) // 50)):
            async with http.get(f"{second.base}/api/v1/reports/{before_kill[n]}") as resp:
                assert resp.status == 200
    assert await second.stop() == 0
    assert set(acked.values()) <= stored_ids(data)
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(data / DB_NAME)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert "Traceback" not in first.text + second.text


async def expect_unavailable(http: aiohttp.ClientSession, base: str, n: int, lang: str) -> None:
    headers = {"X-Forwarded-For": source_address(n), "Accept-Language": lang}
    body = report(n, description=True)
    async with http.post(f"{base}/api/v1/reports", json=body, headers=headers) as resp:
        answer = await resp.json()
        assert resp.status == 503, answer
        assert int(resp.headers["Retry-After"]) >= 1
    assert answer == {"error": "unavailable", "message": translate("unavailable", lang)}


async def test_locked_database_answers_503_and_keeps_nothing_unacknowledged(
    tmp_path: Path, running: list[NodeProcess]
) -> None:
    data = make_chapter(tmp_path)
    node = NodeProcess(data)
    running.append(node)
    await node.start()
    acked = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        status, body = await submit(http, node.base, report(0, True), source_address(0))
        assert status == 201
        acked.append(body["id"])
        await node.publish()  # public reads show it from a publication tick on

        # Another process takes the write lock and keeps it past the busy timeout (5 s).
        locker = sqlite3.connect(data / DB_NAME, isolation_level=None, timeout=0)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            refused = asyncio.gather(
                expect_unavailable(http, node.base, 1, "en"),
                expect_unavailable(http, node.base, 2, "es"),
            )
            async with http.get(f"{node.base}/api/v1/reports/{acked[0]}") as resp:
                assert resp.status == 200  # reads go on (WAL)
            await refused
        finally:
            locker.execute("ROLLBACK")
            locker.close()

        for n in range(10, 13):
            status, body = await submit(http, node.base, report(n, True), source_address(n))
            assert status == 201, body
            acked.append(body["id"])
    assert node.proc is not None and node.proc.returncode is None
    assert await node.stop() == 0
    assert stored_ids(data) == set(acked)  # nothing refused was kept
    assert "Traceback" not in node.text
    assert "write not stored: OperationalError" in node.text


async def test_full_disk_answers_503_and_recovers(
    tmp_path: Path, running: list[NodeProcess]
) -> None:
    data = make_chapter(tmp_path)
    node = NodeProcess(data)
    running.append(node)
    await node.start()
    acked = []
    _soft, hard = resource.prlimit(node.pid, resource.RLIMIT_FSIZE)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        status, body = await submit(http, node.base, report(0), source_address(0))
        assert status == 201
        acked.append(body["id"])

        resource.prlimit(node.pid, resource.RLIMIT_FSIZE, (1, hard))  # no file may grow
        try:
            # With descriptions (the day keys exist: made ahead; the database cannot grow).
            for n, lang in ((1, "en"), (2, "es"), (3, "en")):
                await expect_unavailable(http, node.base, n, lang)
            assert node.proc is not None and node.proc.returncode is None
            async with http.get(f"{node.base}/api/v1/reports") as resp:
                assert resp.status == 200
        finally:
            resource.prlimit(node.pid, resource.RLIMIT_FSIZE, (hard, hard))

        for n in range(10, 13):
            status, body = await submit(http, node.base, report(n, True), source_address(n))
            assert status == 201, body
            acked.append(body["id"])
            await node.publish()
            async with http.get(f"{node.base}/api/v1/reports/{body['id']}") as resp:
                assert resp.status == 200
    assert await node.stop() == 0
    assert stored_ids(data) == set(acked)
    assert "Traceback" not in node.text
