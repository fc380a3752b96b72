"""`python -m bench [--quick]`: run every benchmark; each prints `RESULT <name> <value>`."""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench import alerts, flood, intake, process, push
from bench.accuracy import report as accuracy


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="shorter runs of every benchmark")
    args = parser.parse_args()
    started = time.perf_counter()
    load = os.getloadavg()[0]
    found = asyncio.run(intake.main(quick=args.quick))
    found["flood_p99_ratio"] = asyncio.run(flood.main(quick=args.quick))
    found["alert_latency_ratio"] = asyncio.run(alerts.main(quick=args.quick))
    found["cold_start_s"], found["idle_rss_mb"] = asyncio.run(process.main(quick=args.quick))
    found.update(asyncio.run(push.main(quick=args.quick)))
    found.update(accuracy.summary(accuracy.main(quick=args.quick)))  # bench/accuracy
    print(
        f"bench: {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs, load average "
        f"{load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end; "
        + ", ".join(f"{name} {value:.3g}" for name, value in found.items())
    )


if __name__ == "__main__":
    main()
