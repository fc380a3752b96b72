"""`python -m bench [--quick]`: run every benchmark; each prints `RESULT <name> <value>`."""

from __future__ import annotations

import argparse
import asyncio

from bench import alerts, intake


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="shorter runs of every benchmark")
    args = parser.parse_args()
    asyncio.run(intake.main(quick=args.quick))
    asyncio.run(alerts.main(quick=args.quick))


if __name__ == "__main__":
    main()
