"""A node process's cold start and idle memory (Matrix off: no homeserver configured).

cold_start_s: from starting `vecinos run` (a fresh process on an initialised
chapter) to the first 200 answer of GET /api/v1/areas; the median of RUNS.
idle_rss_mb: VmRSS of that process (from /proc/<pid>/status) after it
started, took a few reports and served the public pages, then sat idle for
a second; the median of RUNS.

Run: python -m bench.process [--quick].
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.workload import bench_chapter, free_port, realistic_mix

VECINOS = Path(sys.executable).with_name("vecinos")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"bench: no VmRSS for {pid}")


async def one_run(data: Path) -> tuple[float, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(VECINOS), "run", "--data", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            while True:
                if process.poll() is not None:
                    raise SystemExit("bench: vecinos run exited")
                try:
                    async with http.get(f"{base}/api/v1/areas") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.01)
            cold = time.perf_counter() - started
            for request in realistic_mix(5, seed=3):
                headers = {"X-Forwarded-For": request.reporter}
                async with http.post(f"{base}/api/v1/reports", json=request.body, headers=headers):
                    pass
            for path in ("/", "/api/v1/reports", "/api/v1/areas"):
                async with http.get(base + path) as response:
                    await response.read()
        await asyncio.sleep(1)
        return cold, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def main(quick: bool = False) -> tuple[float, float]:
    runs = 3 if quick else 7
    colds, rsss = [], []
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-") as tmp:
        data = bench_chapter(Path(tmp) / "chapter")
        for _ in range(runs):
            cold, rss = await one_run(data)
            colds.append(cold)
            rsss.append(rss)
    cold, rss = statistics.median(colds), statistics.median(rsss)
    print(f"  {runs} starts: cold start {', '.join(f'{c:.2f}' for c in colds)} s")
    print(f"RESULT cold_start_s {cold:.2f}", flush=True)
    print(f"RESULT idle_rss_mb {rss:.0f}", flush=True)
    return cold, rss


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.process")
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
