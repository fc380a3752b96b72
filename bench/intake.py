"""Intake speed, as ratios measured in one run on this machine.

intake_ratio: requests/s of the full intake path (HTTP, validate, moderate,
score against the stored reports, durable group commit) divided by requests/s
of a bare aiohttp handler that answers the same POST with a fixed 201, both
served by one process on loopback and driven by the same client. Goal >= 0.5.

scoring_scale: time per report of the node's intake (scoring against stored
neighbours and history, storing, re-scoring) with 1M reports stored, divided
by the same with 10k stored. The stored reports spread over the past weeks as
a chapter's would; the recent neighbourhood is the same in both. Goal <= 1.5.

Run: python -m bench.intake [--quick]. The last line is the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import open_node
from node.setup import init_chapter
from node.store import DB_NAME, to_hour
from scoring.model import Channel

TYPES = ("checkpoint", "raid", "vehicle", "patrol")
WORDS = (
    "dos camionetas blancas",
    "three unmarked vans",
    "agentes en la esquina",
    "patrol car parked",
    "retén en la salida",
    "people detained near the store",
)
SERVER = r"""
import asyncio, sys
from aiohttp import web
from pathlib import Path

async def main(kind, port, data):
    if kind == "bare":
        async def handle(request):
            await request.json()
            return web.json_response({"id": "x", "status": "unverified"}, status=201)
        app = web.Application()
        app.router.add_post("/api/v1/reports", handle)
    else:
        from node.service import open_node
        from web.app import make_app
        node = await open_node(Path(data))
        app = make_app(node)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_chapter(root: Path) -> Path:
    data = root / "chapter"
    init_chapter(data, "Bench")
    config = data / "vecinos.toml"
    text = config.read_text().replace("# rate_limit_reports = 5", "rate_limit_reports = 1000")
    config.write_text(text)
    return data


async def drive(port: int, requests: int, concurrency: int, areas: list[str]) -> float:
    """Requests/s for `requests` POSTs, `concurrency` clients each on its own 127.0.0.x."""
    rng = random.Random(7)
    bodies = [
        {
            "type": rng.choice(TYPES),
            "area": rng.choice(areas),
            "description": f"{rng.choice(WORDS)} {i}",
        }
        for i in range(requests)
    ]
    url = f"http://127.0.0.1:{port}/api/v1/reports"
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0

    async def client(n: int) -> None:
        nonlocal failures
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.0.{n + 2}", 0), limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(url, json=body) as response:
                    await response.read()
                    failures += response.status != 201

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"bench: {failures} requests did not get 201")
    return requests / elapsed


async def serve(kind: str, data: Path) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, kind, str(port), str(data), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line.strip() == b"ready", line
    return process, port


async def intake_ratio(root: Path, requests: int, concurrency: int) -> float:
    data = bench_chapter(root)
    from node.gazetteer import DEFAULT_PATH, Gazetteer

    areas = [a.name for a in Gazetteer.load(DEFAULT_PATH).areas]
    rates = {}
    for kind in ("bare", "node"):
        process, port = await serve(kind, data)
        try:
            await drive(port, min(500, requests), concurrency, areas)  # warm-up
            rates[kind] = await drive(port, requests, concurrency, areas)
        finally:
            process.terminate()
            await process.wait()
        print(f"  {kind}: {rates[kind]:.0f} requests/s", flush=True)
    return rates["node"] / rates["bare"]


def fill(data: Path, stored: int) -> None:
    """Add `stored` old reports (the past 8 weeks) straight into the chapter's SQLite file."""
    from node.gazetteer import DEFAULT_PATH, Gazetteer

    areas = Gazetteer.load(DEFAULT_PATH).areas
    rng = random.Random(stored)
    now_hour = to_hour(__import__("datetime").datetime.now(__import__("datetime").UTC))
    with sqlite3.connect(data / DB_NAME) as db:
        db.execute("PRAGMA synchronous=OFF")
        rows = []
        for i in range(stored):
            area = rng.choice(areas)
            hour = now_hour - rng.randint(24, 24 * 56)
            rows.append(
                (
                    f"old{i}",
                    rng.choice(TYPES),
                    area.id,
                    area.name,
                    1,
                    area.place.lat,
                    area.place.lon,
                    None,
                    hour,
                    "web",
                    "none",
                    "possible",
                    0.35,
                    1,
                    1,
                    "",
                    "",
                    0,
                    None,
                    None,
                    "transient",
                    now_hour + 24 * 365,
                )
            )
            if len(rows) == 50_000:
                db.executemany("INSERT INTO report VALUES (" + ",".join("?" * 22) + ")", rows)
                rows.clear()
        if rows:
            db.executemany("INSERT INTO report VALUES (" + ",".join("?" * 22) + ")", rows)


async def per_report_seconds(data: Path, reports: int) -> float:
    from node.gazetteer import DEFAULT_PATH, Gazetteer

    areas = [a.name for a in Gazetteer.load(DEFAULT_PATH).areas][:12]
    node = await open_node(data)
    rng = random.Random(3)
    try:
        drafts = [
            ReportDraft(
                type=rng.choice(TYPES),
                area=rng.choice(areas),
                description=f"{rng.choice(WORDS)} {i}",
            )
            for i in range(reports)
        ]
        for i, draft in enumerate(drafts[:50]):  # warm-up and a recent neighbourhood
            await node.submit(draft, SourceRef(Channel.WEB, f"w{i}".encode()))
        started = time.perf_counter()
        for i, draft in enumerate(drafts):
            outcome = await node.submit(draft, SourceRef(Channel.WEB, f"s{i}".encode()))
            assert isinstance(outcome, Accepted), outcome
        return (time.perf_counter() - started) / reports
    finally:
        await node.close()


async def scoring_scale(root: Path, reports: int) -> float:
    seconds = {}
    for stored in (10_000, 1_000_000):
        data = bench_chapter(root / f"s{stored}")
        started = time.perf_counter()
        fill(data, stored)
        print(f"  filled {stored} reports in {time.perf_counter() - started:.1f} s", flush=True)
        seconds[stored] = await per_report_seconds(data, reports)
        print(f"  {stored} stored: {seconds[stored] * 1000:.2f} ms per report", flush=True)
    return seconds[1_000_000] / seconds[10_000]


async def main(quick: bool = False) -> None:
    requests = 3000 if quick else 20_000
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-") as tmp:
        root = Path(tmp)
        ratio = await intake_ratio(root / "intake", requests, concurrency=32)
        print(f"RESULT intake_ratio {ratio:.3f}", flush=True)
        scale = await scoring_scale(root, 300 if quick else 1000)
        print(f"RESULT scoring_scale {scale:.3f}", flush=True)
    print(f"intake_ratio {ratio:.3f} (goal >= 0.5), scoring_scale {scale:.3f} (goal <= 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
