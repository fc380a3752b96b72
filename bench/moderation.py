"""Time per call of scoring.moderation.moderate() on what intake feeds it.

Intake moderates every report's area (the gazetteer's own names are cached by
node/intake.py, a free-text area is not) and its description. Three mixes:
- mix: bench.workload.realistic_mix's areas and descriptions, in its
  proportions (short EN/ES descriptions, some reports without one);
- innocent: the innocent lines of the moderation corpus (longer, varied);
- adversarial: its adversarial lines (they hit every detector).

Each prints `RESULT moderation_us_<mix> <microseconds per call>`: CPU time of
this process (time.process_time, so other work on a busy machine counts
less), best of 12 rounds (5 with --quick). A per-call figure depends on the
machine: compare two versions in the same run, never against a fixed number.

Run: python -m bench.moderation [--quick]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

from bench.workload import realistic_mix
from scoring.moderation import moderate

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "scoring" / "corpus"


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def _corpus(kind: str) -> list[str]:
    """The corpus lines (CATEGORY LANG TEXT, with \\uXXXX escapes), dev and held-out."""
    texts: list[str] = []
    for path in sorted(CORPUS.glob(f"{kind}*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                text = line.split(" ", 2)[2]
                texts.append(_ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text))
    return texts


def _mix(n: int) -> list[str]:
    texts: list[str] = []
    for request in realistic_mix(n):
        texts.append(str(request.body["area"]))
        description = request.body.get("description")
        texts.append(str(description) if description is not None else "")
    return texts


def per_call_us(texts: list[str], fn: Callable[[str], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for text in texts:
            fn(text)
        best = min(best, time.process_time() - started)
    return best / len(texts) * 1e6


def main(quick: bool = False) -> dict[str, float]:
    rounds = 5 if quick else 12
    mixes = {
        "mix": _mix(500 if quick else 2000),
        "innocent": _corpus("innocent"),
        "adversarial": _corpus("adversarial"),
    }
    found: dict[str, float] = {}
    for name, texts in mixes.items():
        if not texts:
            continue
        moderate(texts[0])  # compiled patterns and data are ready before timing
        found[f"moderation_us_{name}"] = value = per_call_us(texts, moderate, rounds)
        print(f"RESULT moderation_us_{name} {value:.1f}  ({len(texts)} texts)")
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.moderation")
    parser.add_argument("--quick", action="store_true")
    main(quick=parser.parse_args().quick)
