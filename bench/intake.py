"""Intake speed, as ratios measured in one run on this machine.

intake_ratio: requests/s of the full intake path (HTTP, JSON, validate,
moderate, score against the stored reports, durable group commit, re-scoring,
alert outbox) divided by requests/s of a bare aiohttp handler that parses the
same JSON body and answers a fixed 201, both served by one process on
loopback and driven by the same client (32 keep-alive connections). The
workload is bench.workload.realistic_mix (a surge week of a large chapter,
replayed); intake_ratio_one_area_flood is the same ratio for the worst case,
bench.workload.one_area_flood. Goal >= 0.5 (for the mix).

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
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

from bench.workload import (
    MIX_STEP,
    TYPES,
    Request,
    bench_chapter,
    one_area_flood,
    realistic_mix,
    serve,
    set_key,
    stop,
)
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import open_node
from node.store import DB_NAME, to_hour
from scoring.model import Channel

WORDS = ("dos camionetas blancas", "three unmarked vans", "agentes en la esquina")
CONCURRENCY = 32


async def drive(port: int, requests: list[Request], concurrency: int = CONCURRENCY) -> float:
    """Requests/s for these POSTs over `concurrency` keep-alive connections, in order."""
    url = f"http://127.0.0.1:{port}/api/v1/reports"
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    statuses: dict[int, int] = {}

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            request = queue.get_nowait()
            headers = {"X-Forwarded-For": request.reporter}
            async with http.post(url, json=request.body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if set(statuses) != {201}:
        raise SystemExit(f"bench: not every request got 201: {statuses}")
    return len(requests) / elapsed


async def ratio(
    root: Path, name: str, requests: list[Request], step: timedelta | None
) -> tuple[float, float, float]:
    """(node/bare, node req/s, bare req/s): bare first, then the node on a fresh chapter."""
    warm, timed = requests[:300], requests[300:]
    rates = {}
    for kind in ("bare", "node"):
        data = bench_chapter(root / f"{name}-{kind}")
        process, port = await serve(kind, data, step if kind == "node" else None)
        try:
            await drive(port, warm)
            rates[kind] = await drive(port, timed)
        finally:
            await stop(process)
        print(f"  {name} {kind}: {rates[kind]:.0f} requests/s", flush=True)
    return rates["node"] / rates["bare"], rates["node"], rates["bare"]


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
                    None,  # area_ct: a gazetteer area has no free text
                    "transient",
                    now_hour + 24 * 365,
                    None,  # incident_id: old reports of no incident (node.incident_store)
                )
            )
            if len(rows) == 50_000:
                db.executemany("INSERT INTO report VALUES (" + ",".join("?" * 24) + ")", rows)
                rows.clear()
        if rows:
            db.executemany("INSERT INTO report VALUES (" + ",".join("?" * 24) + ")", rows)


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
        set_key(data, "intake", "rate_limit_reports", "1000")
        started = time.perf_counter()
        fill(data, stored)
        print(f"  filled {stored} reports in {time.perf_counter() - started:.1f} s", flush=True)
        seconds[stored] = await per_report_seconds(data, reports)
        print(f"  {stored} stored: {seconds[stored] * 1000:.2f} ms per report", flush=True)
    return seconds[1_000_000] / seconds[10_000]


async def main(quick: bool = False) -> dict[str, float]:
    n = 3000 if quick else 20_000
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-") as tmp:
        root = Path(tmp)
        mix, node_rate, bare_rate = await ratio(root, "mix", realistic_mix(n), MIX_STEP)
        results["intake_ratio"] = mix
        print(
            f"  realistic mix, {n - 300} reports: node {node_rate:.0f} req/s, "
            f"bare {bare_rate:.0f} req/s",
            flush=True,
        )
        print(f"RESULT intake_ratio {mix:.3f}", flush=True)
        flood_n = 1500 if quick else 6000
        worst, node_rate, bare_rate = await ratio(root, "flood", one_area_flood(flood_n), None)
        results["intake_ratio_one_area_flood"] = worst
        print(
            f"  one area flooded, {flood_n - 300} reports in one hour: node {node_rate:.0f} "
            f"req/s, bare {bare_rate:.0f} req/s",
            flush=True,
        )
        print(f"RESULT intake_ratio_one_area_flood {worst:.3f}", flush=True)
        scale = await scoring_scale(root, 300 if quick else 1000)
        results["scoring_scale"] = scale
        print(f"RESULT scoring_scale {scale:.3f}", flush=True)
    print(
        f"intake_ratio {mix:.3f} (goal >= 0.5; one area flooded {worst:.3f}), "
        f"scoring_scale {scale:.3f} (goal <= 1.5)"
    )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
