"""The accuracy simulator's quick form as a CI guard: every scenario (honest and attacked)
on the first dev seed, through a real node. A guard against regressions, not the goal
(issue 10 asks 0.95; the full figures come from `python -m bench.accuracy`, bench/README.md).

What it asserts: the sample does not show shared-alert precision below 0.9, in any
scenario or pooled over all of them. "Shows" is a one-sided 95 % Clopper-Pearson bound
(bench.accuracy.metrics.precision_upper_bound): a quick run shares 1-11 alerts per
scenario, so one honest false alarm that a member and two others saw moves the raw ratio
to 0.86 without telling anything about the node; a real regression (a third of the
shared alerts false in one scenario, or one in six over all) does show, and fails.
"""

from __future__ import annotations

from bench.accuracy.attacks import SCENARIOS
from bench.accuracy.metrics import SystemFigures, precision_upper_bound
from bench.accuracy.observe import DEFAULT_ADAPTER
from bench.accuracy.report import QUICK_DEV_SEEDS, print_set, run_set

GUARD = 0.9
CONFIDENCE = 0.95


def shows_below(fig: SystemFigures) -> bool:
    return precision_upper_bound(fig.true_alerts, fig.alerts, CONFIDENCE) < GUARD


def test_shared_precision_holds_in_every_scenario() -> None:
    figures = run_set(list(SCENARIOS), QUICK_DEV_SEEDS, DEFAULT_ADAPTER, days=1, jobs=2)
    print_set("dev (quick)", QUICK_DEV_SEEDS, figures, sum(f.wall_s for f in figures.values()))
    assert all(f.runs == len(QUICK_DEV_SEEDS) for f in figures.values())
    shared = {name: fig.systems["shared"] for name, fig in figures.items()}
    assert sum(s.alerts for s in shared.values()) > 0, "no alert shared at all: nothing guarded"
    below = {name: f"{s.true_alerts}/{s.alerts}" for name, s in shared.items() if shows_below(s)}
    assert not below, f"shared precision shown below {GUARD}: {below}"
    pooled = SystemFigures()
    for s in shared.values():
        pooled.add(s)
    assert not shows_below(pooled), (
        f"pooled shared precision shown below {GUARD}: {pooled.true_alerts}/{pooled.alerts}"
    )


def test_the_bound_shows_what_a_sample_shows() -> None:
    """The statistic the guard rests on: exact where it has a closed form, and it
    tells a noisy sample from a regression."""
    assert precision_upper_bound(7, 7) == 1.0
    assert precision_upper_bound(0, 0) == 1.0
    assert abs(precision_upper_bound(0, 10) - (1 - 0.05 ** (1 / 10))) < 1e-9
    assert abs(precision_upper_bound(6, 7) - 0.95 ** (1 / 7)) < 1e-9
    assert precision_upper_bound(6, 7) >= GUARD  # one false alert in seven: not shown
    assert precision_upper_bound(4, 7) < GUARD  # three in seven: shown
    assert precision_upper_bound(46, 50) >= GUARD  # pooled, 0.92: not shown
    assert precision_upper_bound(40, 50) < GUARD  # pooled, 0.80: shown
