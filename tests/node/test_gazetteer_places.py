"""Places read right: the place corpus (tests/node/places/) against the default gazetteer.

Goals (issue 13): at least 97% right, where asking back counts as right only for a
truly ambiguous phrase; no phrase matched to an area more than 10 km from the real
place. dev.txt is what the matcher was tuned on; heldout.txt was written before the
matcher and never tuned on. Both rates are printed (pytest -s). Asserted: the distance
goal on both parts, the 97% goal on dev and on the whole corpus, and a floor of 90% on
the held-out part alone (it measured 93.8% when first run: below the goal, and left so
rather than tuned on; its misses are ports named loosely and run-together words). Issue 13's
last pass wrote 279 new dev phrases, improved the matcher where they failed, and measured the
held-out part once at the end, aggregate only: 95.4% (62 of 65), no wrong area named (its
three misses ask back or keep the text), still below the 97% goal.
"""

from __future__ import annotations

import time

import pytest

from node.gazetteer import DEFAULT_PATH, Gazetteer
from tests.node.places import Verdict, judge, load

GOAL_RIGHT = 0.97
HELDOUT_FLOOR = 0.90  # a regression alarm for the untuned part, not the goal
GOAL_MAX_KM = 10.0
MIN_PHRASES = 200


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(DEFAULT_PATH)


def _report(name: str, verdicts: list[Verdict]) -> tuple[float, float]:
    right = sum(v.right for v in verdicts) / len(verdicts)
    worst = max((v.km for v in verdicts if v.km is not None), default=0.0)
    print(f"\n{name}: {len(verdicts)} phrases, {right:.1%} right, worst match {worst:.1f} km")
    for v in verdicts:
        if not v.right:
            print(f"  wrong: {v.case.phrase!r} -> {v.got} (expected {v.case.expected})")
    return right, worst


def test_the_corpus_is_large_enough() -> None:
    dev, held = load("dev.txt"), load("heldout.txt")
    assert len(dev) + len(held) >= MIN_PHRASES
    assert not {c.phrase for c in dev} & {c.phrase for c in held}


def test_places_read_right(gazetteer: Gazetteer) -> None:
    dev = [judge(gazetteer, case) for case in load("dev.txt")]
    held = [judge(gazetteer, case) for case in load("heldout.txt")]
    dev_right, dev_worst = _report("dev.txt", dev)
    held_right, held_worst = _report("heldout.txt (never tuned on)", held)
    all_right, _ = _report("all", dev + held)
    assert max(dev_worst, held_worst) <= GOAL_MAX_KM
    assert dev_right >= GOAL_RIGHT and all_right >= GOAL_RIGHT
    assert held_right >= HELDOUT_FLOOR


def test_match_time_is_printed(gazetteer: Gazetteer) -> None:
    """Per-call time of match() over the whole corpus (printed, not asserted: see bench/)."""
    phrases = [c.phrase for c in load("dev.txt") + load("heldout.txt")]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        found = [gazetteer.match(p) for p in phrases]
    per_call = (time.perf_counter() - start) / (rounds * len(phrases))
    print(f"\nmatch(): {per_call * 1e6:.0f} µs per call over {len(phrases)} phrases")
    assert len(found) == len(phrases)
