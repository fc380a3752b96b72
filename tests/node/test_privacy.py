"""Privacy, tested as a seizure would find it: a real `vecinos run` process
takes reports from a chosen loopback address with a distinctive User-Agent,
X-Forwarded-For, description and a place not in the gazetteer; then every
file of the data dir, everything the process printed and every answer is
searched for those bytes."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import DateTime, create_engine, inspect

from node.setup import init_chapter
from node.store import DB_NAME

ADDRESS = "127.0.0.77"
USER_AGENT = "Mozilla/5.0 (ReporterPhone-7f3a9c)"
FORWARDED = "203.0.113.199"
DESCRIPTION = "furgoneta-marcador-q8z7 en la esquina"
PLACE = "puesto-marcador-k4p2"  # a place not in the gazetteer: encrypted, never public


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_node(data: Path, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "node.cli",
        "run",
        "--data",
        str(data),
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert b"serving on" in first, first
    return process


async def test_nothing_identifying_reaches_disk_or_output(tmp_path: Path) -> None:
    data = tmp_path / "chapter"
    init_chapter(data, "Privacy Test")
    port = free_port()
    process = await start_node(data, port)
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED, "Accept-Language": "es-MX"}
    connector = aiohttp.TCPConnector(local_addr=(ADDRESS, 0))
    statuses = []
    answers = b""
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        base = f"http://127.0.0.1:{port}"
        for body in (
            {"type": "raid", "area": "Barrio Logan", "description": DESCRIPTION},
            {"type": "raid", "area": "Barrio Logan", "description": DESCRIPTION + " otra vez"},
            {"type": "patrol", "area": "cerca de mi casa " + FORWARDED, "description": "x"},
            {"type": "raid", "area": f"junto al {PLACE} del tianguis"},
        ):
            async with http.post(f"{base}/api/v1/reports", json=body) as response:
                statuses.append(response.status)
                answers += await response.read()
        async with http.post(
            f"{base}/report",
            data={"type": "vehicle", "area": "Logan Heights", "description": DESCRIPTION},
        ) as response:
            statuses.append(response.status)
        for path in ("/api/v1/reports", "/map", "/map/data.json"):
            async with http.get(f"{base}{path}") as response:
                statuses.append(response.status)
                answers += await response.read()
    assert statuses[0] == 201 and statuses[1] == 201 and statuses[3] == 201
    assert statuses[-3:] == [200, 200, 200]
    assert PLACE.encode() not in answers  # not even to its own reporter
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output

    needles = [ADDRESS, USER_AGENT, "ReporterPhone-7f3a9c", FORWARDED, "furgoneta-marcador-q8z7"]
    needles.append(PLACE)
    for needle in needles:
        assert needle.encode() not in output, f"{needle!r} in the node's output"
    scanned = 0
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle.encode() not in content, f"{needle!r} found in {path.name}"
    assert scanned >= 3


def test_no_column_can_hold_a_time_finer_than_the_hour(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    engine = create_engine(f"sqlite:///{tmp_path / 'c' / DB_NAME}")
    inspector = inspect(engine)
    # A neighbouring chapter's bot account is a public address of a chapter, not a reporter.
    allowed = {("neighbour", "bot_user_id")}
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            if (table, column["name"]) in allowed:
                continue
            assert not isinstance(column["type"], DateTime), (table, column["name"])
            words = set(column["name"].lower().split("_"))
            assert not words & {
                "ip",
                "addr",
                "address",
                "agent",
                "header",
                "headers",
                "mxid",
                "sender",
                "user",
                "minute",
                "created",
                "timestamp",
            }, column
    engine.dispose()
