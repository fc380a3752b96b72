"""Legitimate reports' latency during a flood from one source, as a ratio.

flood_p99_ratio: the p99 latency of legitimate reports (each from its own
reporter, at LEGIT_RATE per second, open loop) while one source floods the
report endpoint at FLOOD_RATE requests/s, divided by their p99 without the
flood. The flood comes from a separate process (aiohttp, keep-alive
connections, paced); its source is rate-limited after its first few reports,
so the node mostly answers 429: the point is that refusing costs little.
Each phase runs on a fresh chapter. The achieved flood rate is printed.
Goal <= 2.

Run: python -m bench.flood [--quick]. `python -m bench.flood flood PORT RATE SECONDS`
is the flood process itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.workload import bench_chapter, realistic_mix, serve, stop

FLOOD_RATE = 2000
LEGIT_RATE = 20
FLOOD_SOURCE = "10.250.0.1"
FLOOD_CONNECTIONS = 16


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def flood(port: int, rate: float, seconds: float) -> dict[str, float]:
    """Send `rate` POSTs/s from one source for `seconds`; what was sent and answered."""
    url = f"http://127.0.0.1:{port}/api/v1/reports"
    body = {"type": "raid", "area": "Chula Vista", "description": "agentes en la esquina"}
    headers = {"X-Forwarded-For": FLOOD_SOURCE}
    statuses: dict[int, int] = {}
    per = FLOOD_CONNECTIONS
    interval = per / rate
    started = time.perf_counter()
    deadline = started + seconds

    async def one(http: aiohttp.ClientSession, offset: float) -> None:
        due = started + offset
        while due < deadline:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            async with http.post(url, json=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            due += interval

    connector = aiohttp.TCPConnector(limit=per)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(one(http, i * interval / per) for i in range(per)))
    elapsed = time.perf_counter() - started
    sent = sum(statuses.values())
    return {"sent": sent, "rate": sent / elapsed, "statuses": statuses}  # type: ignore[dict-item]


async def legit(port: int, seconds: float, offset: int) -> list[float]:
    """Latencies (ms) of realistic reports sent at LEGIT_RATE/s, each on time (open loop)."""
    url = f"http://127.0.0.1:{port}/api/v1/reports"
    requests = realistic_mix(int(seconds * LEGIT_RATE) + offset)[offset:]
    latencies: list[float] = []
    failures: dict[int, int] = {}

    async def send(http: aiohttp.ClientSession, body: dict, reporter: str) -> None:
        t0 = time.perf_counter()
        async with http.post(url, json=body, headers={"X-Forwarded-For": reporter}) as response:
            await response.read()
        if response.status == 201:
            latencies.append((time.perf_counter() - t0) * 1000)
        else:
            failures[response.status] = failures.get(response.status, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        tasks = []
        started = time.perf_counter()
        for i, request in enumerate(requests):
            wait = started + i / LEGIT_RATE - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(send(http, request.body, request.reporter)))
        await asyncio.gather(*tasks)
    if failures:
        raise SystemExit(f"bench: legitimate reports refused: {failures}")
    return latencies


async def phase(
    root: Path, name: str, seconds: float, with_flood: bool
) -> tuple[list[float], dict]:
    data = bench_chapter(root / name)
    process, port = await serve("node", data)
    try:
        await legit(port, 2, offset=50_000)  # warm-up
        flooder = None
        if with_flood:
            flooder = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.flood", "flood", str(port), str(FLOOD_RATE),
                str(seconds + 1), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await asyncio.sleep(1)  # the flood is on before the first measured report
        latencies = await legit(port, seconds, offset=0)
        report: dict = {}
        if flooder is not None:
            out, _ = await flooder.communicate()
            report = json.loads(out)
        return latencies, report
    finally:
        await stop(process)


async def main(quick: bool = False) -> float:
    seconds = 20 if quick else 60
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-") as tmp:
        root = Path(tmp)
        calm, _ = await phase(root, "calm", seconds, with_flood=False)
        stormy, flood_report = await phase(root, "flood", seconds, with_flood=True)
    ratio = p99(stormy) / p99(calm)
    print(
        f"  legitimate reports at {LEGIT_RATE}/s for {seconds} s: p99 {p99(calm):.1f} ms "
        f"(median {statistics.median(calm):.1f}) without the flood, {p99(stormy):.1f} ms "
        f"(median {statistics.median(stormy):.1f}) with it"
    )
    print(
        f"  flood from one source: asked {FLOOD_RATE} req/s, achieved "
        f"{flood_report['rate']:.0f} req/s, answers {flood_report['statuses']}"
    )
    print(f"RESULT flood_p99_ratio {ratio:.2f}", flush=True)
    return ratio


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "flood":
        found = asyncio.run(flood(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
        print(json.dumps(found))
    else:
        parser = argparse.ArgumentParser(prog="python -m bench.flood")
        parser.add_argument("--quick", action="store_true")
        asyncio.run(main(parser.parse_args().quick))
