"""Places read right: the place corpus (tests/node/places/) against the default gazetteer.

Goals (issue 13): at least 97% right, where asking back counts as right only for a
truly ambiguous phrase; no phrase matched to an area more than 10 km from the real
place. dev.txt is what the matcher was tuned on; heldout.txt was written before the
matcher and never tuned on: both rates are printed (pytest -s) and asserted.
"""

from __future__ import annotations

import time

import pytest

from node.gazetteer import DEFAULT_PATH, Gazetteer
from tests.node.places import Verdict, judge, load

GOAL_RIGHT = 0.97
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


@pytest.mark.parametrize("name", ["dev.txt", "heldout.txt"])
def test_places_read_right(gazetteer: Gazetteer, name: str) -> None:
    verdicts = [judge(gazetteer, case) for case in load(name)]
    right, worst = _report(name, verdicts)
    assert worst <= GOAL_MAX_KM
    assert right >= GOAL_RIGHT


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
