"""The accuracy simulator's quick form as a CI guard: every scenario (honest and attacked)
on the first dev seed, through a real node; shared-alert precision must stay >= 0.9 in
each. A guard against regressions, not the goal (issue 10 asks 0.95): the full figures
come from `python -m bench.accuracy` (bench/README.md)."""

from __future__ import annotations

import pytest

from bench.accuracy.attacks import SCENARIOS
from bench.accuracy.observe import DEFAULT_ADAPTER
from bench.accuracy.report import QUICK_DEV_SEEDS, print_set, run_set

GUARD = 0.9


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 10: honest false alarms a member and two others saw are still shared on seed 1 "
    "(0.86 in honest); a verifier (part 4) is what catches them",
)
def test_shared_precision_holds_in_every_scenario() -> None:
    figures = run_set(list(SCENARIOS), QUICK_DEV_SEEDS, DEFAULT_ADAPTER, days=1, jobs=2)
    print_set("dev (quick)", QUICK_DEV_SEEDS, figures, sum(f.wall_s for f in figures.values()))
    assert all(f.runs == len(QUICK_DEV_SEEDS) for f in figures.values())
    below = {
        name: round(precision, 2)
        for name, fig in figures.items()
        if (precision := fig.systems["shared"].precision()) is not None and precision < GUARD
    }
    assert not below, f"shared precision below {GUARD}: {below}"
