"""`python -m bench.accuracy [--quick] [--seeds 1,2] [--scenario NAME ...] [--set dev|heldout]`.

Prints, per seed set, a table per scenario (the node at 'likely', its
responder notices, its shared alerts, and the three baselines) with details,
then `RESULT accuracy_<set>_<figure> <value>` lines. See bench/README.md.
"""

from __future__ import annotations

import argparse

from bench.accuracy import report
from bench.accuracy.attacks import SCENARIOS
from bench.accuracy.observe import ADAPTERS, DEFAULT_ADAPTER


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy")
    parser.add_argument("--quick", action="store_true", help="one dev and one held-out seed")
    parser.add_argument("--seeds", help="comma-separated seeds (one 'custom' set instead)")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all"
    )
    parser.add_argument("--set", action="append", choices=("dev", "heldout"), dest="sets")
    parser.add_argument("--days", type=int, default=1, help="simulated days per world")
    parser.add_argument("--jobs", type=int, help="worker processes (default: up to 2)")
    parser.add_argument("--adapter", choices=sorted(ADAPTERS), default=DEFAULT_ADAPTER)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    report.main(
        quick=args.quick,
        seeds=seeds,
        scenarios=args.scenario,
        sets=args.sets or ("dev", "heldout"),
        adapter=args.adapter,
        days=args.days,
        jobs=args.jobs,
    )


if __name__ == "__main__":
    main()
