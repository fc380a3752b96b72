"""Web Push fan-out: one alert to 10,000 subscriptions, and what it costs intake meanwhile.

A real node (in this process, SQLite) holds N subscriptions of one area to a
push-service stand-in that runs in its own process (so its CPU is not the
node's) and answers 201 to each POST. One confirmed raid is queued; the
node's PushSender encrypts a payload per subscriber (RFC 8291) and POSTs
them all. Measured in the same run:

- push_fanout_s: from the start of the fan-out to the last answer;
- push_fanout_mb: the Python memory the fan-out held at its peak (tracemalloc);
- push_intake_ratio: p90 of Node.submit() latency while the fan-out runs,
  over its p90 on the same node with no fan-out (1.0 = intake not slowed).

Run: python -m bench.push [--quick] (N = 10,000; 2,000 with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.workload import free_port
from node.outcome import Accepted, ReportDraft, SourceRef
from node.push import subscriptions
from node.push.sender import PushSender
from node.service import ModeratorAction, open_node
from node.setup import init_chapter
from node.store import to_hour
from scoring.model import Channel

SERVICE = """
import sys
from aiohttp import web
count = 0
async def push(request):
    global count
    await request.read()
    count += 1
    return web.Response(status=201)
async def total(request):
    return web.json_response({"count": count})
app = web.Application()
app.router.add_post("/push/{n}", push)
app.router.add_get("/count", total)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys(n: int) -> list[tuple[str, str]]:
    found = []
    for _ in range(n):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        found.append((b64url(raw), b64url(b"\x01" * 16)))
    return found


async def intake_latencies(node, count: int, offset: int, areas) -> list[float]:  # type: ignore[no-untyped-def]
    """Reports at a steady pace, spread over `areas` (each phase its own areas, so that
    both phases score against the same amount of nearby evidence)."""
    times = []
    for i in range(count):
        draft = ReportDraft(type="vehicle", area=areas[i % len(areas)])
        source = SourceRef(Channel.WEB, f"10.{offset}.{i // 250}.{i % 250}".encode())
        started = time.perf_counter()
        outcome = await node.submit(draft, source)
        times.append(time.perf_counter() - started)
        assert isinstance(outcome, (Accepted,)) or outcome is not None
        await asyncio.sleep(0.005)  # a steady stream, not a flood
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


async def main(quick: bool = False) -> dict[str, float]:
    n = 2_000 if quick else 10_000
    probes = 150 if quick else 400
    port = free_port()
    service = subprocess.Popen([sys.executable, "-c", SERVICE, str(port)])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "chapter"
            init_chapter(data, "Bench Push")
            text = (data / "vecinos.toml").read_text()
            text = text.replace('# allow_hosts = ""', f'allow_hosts = "127.0.0.1:{port}"', 1)
            (data / "vecinos.toml").write_text(text)
            node = await open_node(data)
            try:
                return await _run(node, n, probes, port)
            finally:
                await node.close()
    finally:
        service.terminate()
        service.wait()


async def _run(node, n: int, probes: int, port: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    keys = node.push_keys
    area = next(a.id for a in node.areas() if a.name == "Chula Vista")
    pairs = browser_keys(50)
    expires = to_hour(datetime.now(UTC)) + 24 * 30

    def store(session, start: int, stop: int) -> None:  # type: ignore[no-untyped-def]
        for i in range(start, stop):
            p256dh, auth = pairs[i % len(pairs)]
            endpoint = f"http://127.0.0.1:{port}/push/{i}"
            sub = subscriptions.Subscription(
                keys.lookup_id(endpoint), endpoint, p256dh, auth, (area,), (), "es"
            )
            subscriptions.save(session, keys, sub, expires)

    for start in range(0, n, 1000):
        await node.writer.run(lambda s, a=start: store(s, a, min(n, a + 1000)))
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(f"http://127.0.0.1:{port}/count"):
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)

        # Probe areas: not the subscribers' area, and split in two halves, one per phase.
        names = sorted(a.name for a in node.areas() if a.id != area)
        quiet_areas, busy_areas = names[0::2], names[1::2]
        quiet = await intake_latencies(node, probes, 1, quiet_areas)
        outcome = await node.submit(
            ReportDraft(type="raid", area="Chula Vista"), SourceRef(Channel.WEB, b"10.9.9.9")
        )
        assert isinstance(outcome, Accepted)
        await node.moderate(outcome.report.id, ModeratorAction.CONFIRM)
        sender = PushSender(node, keys, node.push_hosts, retry_delay=0)
        tracemalloc.start()
        started = time.perf_counter()
        fan_out = asyncio.create_task(sender.drain())
        busy = await intake_latencies(node, probes, 2, busy_areas)
        await fan_out
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await sender.close()
        async with http.get(f"http://127.0.0.1:{port}/count") as resp:
            delivered = (await resp.json())["count"]
    if delivered < n:
        raise SystemExit(f"bench: only {delivered} of {n} pushes arrived")
    ratio = p90(busy) / p90(quiet)
    print(
        f"push fan-out: {n:,} subscribers in {elapsed:.2f} s ({n / elapsed:,.0f}/s), "
        f"peak {peak / 2**20:.1f} MB of Python memory; intake p90 "
        f"{p90(quiet) * 1000:.1f} ms quiet, {p90(busy) * 1000:.1f} ms during the fan-out"
    )
    print(f"RESULT push_fanout_s {elapsed:.3f}")
    print(f"RESULT push_fanout_mb {peak / 2**20:.1f}")
    print(f"RESULT push_intake_ratio {ratio:.2f}")
    return {"push_fanout_s": elapsed, "push_fanout_mb": peak / 2**20, "push_intake_ratio": ratio}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.push")
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(quick=parser.parse_args().quick))
