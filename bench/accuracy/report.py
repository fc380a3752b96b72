"""Run seed sets of scenarios and print their figures (tables and RESULT lines).

Rules kept here:
- Two seed sets, never mixed: DEV_SEEDS for looking at while changing the
  node, HELD_OUT_SEEDS to report beside them (a change tuned to the dev
  days shows as a gap between the two). Both are printed, each on its own.
- Each (scenario, seed) is one World in its own fresh chapter; worlds run in
  `jobs` worker processes (each with its own event loop and node).
- RESULT lines carry the set's name: accuracy_<set>_<figure>.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

from bench.accuracy.attacks import SCENARIOS, build
from bench.accuracy.metrics import NODE_SYSTEMS, SYSTEMS, Figures, percentile
from bench.accuracy.observe import DEFAULT_ADAPTER
from bench.accuracy.run import run_world
from bench.accuracy.world import WITNESS_CLASSES

DEV_SEEDS = (1, 2, 3, 4, 5)
HELD_OUT_SEEDS = (1001, 1002, 1003, 1004, 1005)
QUICK_DEV_SEEDS = (1,)
QUICK_HELD_OUT_SEEDS = (1001,)
SHM = Path("/dev/shm")


def _workdir() -> str | None:
    return str(SHM) if SHM.is_dir() and os.access(SHM, os.W_OK) else None


def run_one(scenario: str, seed: int, adapter: str, days: int = 1) -> Figures:
    """One World through a fresh chapter in a temporary directory (a worker's job)."""
    world = build(scenario, seed, days)
    with tempfile.TemporaryDirectory(prefix="vecinos-accuracy-", dir=_workdir()) as tmp:
        return asyncio.run(run_world(world, Path(tmp), adapter))


def run_set(
    scenarios: Sequence[str], seeds: Sequence[int], adapter: str, days: int, jobs: int
) -> dict[str, Figures]:
    """Every scenario over every seed; the figures summed per scenario."""
    out = {name: Figures(name) for name in scenarios}
    work = [(name, seed) for name in scenarios for seed in seeds]
    if jobs <= 1:
        for name, seed in work:
            out[name].add(run_one(name, seed, adapter, days))
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [(name, pool.submit(run_one, name, seed, adapter, days)) for name, seed in work]
        for name, future in futures:
            out[name].add(future.result())
    return out


def pooled(figures: dict[str, Figures]) -> Figures:
    total = Figures("all")
    for fig in figures.values():
        total.add(fig)
    return total


# -- printing ---------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _m(values: Sequence[float], q: float) -> str:
    found = percentile(values, q)
    return "-" if found is None else f"{found:.0f}"


def system_rows(fig: Figures, label: str) -> list[str]:
    rows = []
    for i, name in enumerate(SYSTEMS):
        s = fig.systems[name]
        rows.append(
            f"{label if i == 0 else '':<17} {name:<10} {_f(s.precision()):>5} {_f(s.recall()):>6}"
            f" {_m(s.delays_min, 0.5):>5} {_m(s.delays_min, 0.9):>5}"
            f" {_f(fig.false_per_day(name), 1):>7} {s.true_alerts:>5}/{s.alerts:<5}"
            f" {s.fakes_hit:>3}/{s.fakes:<3}"
        )
    return rows


def _classes(fig: Figures, system: str) -> str:
    return " ".join(_f(fig.systems[system].class_recall(c)) for c in WITNESS_CLASSES)


def _by_type(delays: dict[str, list[float]]) -> str:
    """Median minutes per event type, most harmful first: "raid 7, checkpoint 35"."""
    order = ("raid", "checkpoint", "patrol", "vehicle")
    return ", ".join(f"{t} {_m(delays[t], 0.5)}" for t in order if delays.get(t))


def detail_rows(fig: Figures) -> list[str]:
    v = fig.verifications
    answered = [x for x in v if x.answer]
    by = {
        a: sum(1 for x in answered if x.answer == a) for a in ("confirm", "false_alarm", "unable")
    }
    to_answer = [(x.answered_at - x.at) / timedelta(minutes=1) for x in answered if x.answered_at]
    rows = [
        f"  reports {fig.accepted}/{fig.submitted} accepted ({fig.rate_limited} rate-limited),"
        f" review-queue items/day {_f(fig.review_per_day(), 1)},"
        f" notices downgraded while open {_f(fig.downgraded_share())}"
        f" ({fig.notices_downgraded}/{fig.notices},"
        f" {fig.downgraded_after_false_alarm} right after a verifier's false alarm nearby)",
        f"  recall by witnesses {'/'.join(WITNESS_CLASSES)}: likely {_classes(fig, 'likely')};"
        f" notice {_classes(fig, 'notice')}; shared {_classes(fig, 'shared')};"
        f" waze {_classes(fig, 'waze_like')}",
        f"  >=5 witnesses at likely: median {_m(fig.systems['likely'].delays_5plus_min, 0.5)} min"
        f" ({_by_type(fig.systems['likely'].delays_5plus_by_type)});"
        f" verifications asked {len(v)}, answered {len(answered)} in a median"
        f" {_m(to_answer, 0.5)} min (confirm {by['confirm']},"
        f" false alarm {by['false_alarm']}, unable {by['unable']}); confirm to shared:"
        f" median {_m(fig.answer_to_share_min, 0.5)} min (n={len(fig.answer_to_share_min)},"
        f" {fig.answered_already_shared} already shared, {fig.answered_never_shared} never)",
    ]
    if fig.kept_swept or fig.kept_untouched:
        swept = sum(fig.kept_swept) / len(fig.kept_swept) if fig.kept_swept else None
        untouched = (
            sum(fig.kept_untouched) / len(fig.kept_untouched) if fig.kept_untouched else None
        )
        rows.append(
            f"  shared alert kept for the rest of the event: swept {_f(swept)}"
            f" (n={len(fig.kept_swept)}), untouched {_f(untouched)} (n={len(fig.kept_untouched)})"
        )
    for name in ("likely", "shared", "waze_like"):
        causes = fig.systems[name].false_causes
        if any(causes.values()):
            rows.append(
                f"  false {name} alerts by cause: "
                + ", ".join(f"{cause} {n}" for cause, n in causes.items())
            )
    for tag, systems in sorted(fig.tagged.items()):
        parts = [f"{name} {d}/{n}" for name, (d, n) in systems.items() if name in NODE_SYSTEMS]
        rows.append(f"  true events under '{tag}' detected: " + ", ".join(parts))
    fakes = fig.systems["likely"].fakes
    if fakes:
        hit = ", ".join(f"{n} {fig.systems[n].fakes_hit}/{fakes}" for n in NODE_SYSTEMS)
        minutes = fig.systems["shared"].false_minutes / max(1, fig.systems["shared"].false_alerts)
        rows.append(f"  attack fakes reaching: {hit}; false shared alerts last {minutes:.0f} min")
    return rows


HEADER = (
    f"{'scenario':<17} {'system':<10} {'prec':>5} {'recall':>6} {'med':>5} {'p90':>5}"
    f" {'false/d':>7} {'true/alerts':>11} {'fakes':>7}"
)


def print_set(label: str, seeds: Sequence[int], figures: dict[str, Figures], wall_s: float) -> None:
    days = sum(f.days for f in figures.values())
    print(f"\n== accuracy, {label} seeds {' '.join(map(str, seeds))}: {days:.0f} chapter-days,"
          f" {wall_s:.0f} s ==")  # fmt: skip
    print("(med/p90: minutes from the event's true start to the first true alert)")
    print(HEADER)
    for name, fig in figures.items():
        for row in system_rows(fig, name):
            print(row)
        for row in detail_rows(fig):
            print(row)
    total = pooled(figures)
    if len(figures) > 1:
        print(HEADER)
        for row in system_rows(total, "all scenarios"):
            print(row)
        for row in detail_rows(total):
            print(row)


def results(label: str, figures: dict[str, Figures]) -> dict[str, float]:
    """The figures worth a RESULT line, by name."""
    found: dict[str, float] = {}

    def put(name: str, value: float | None) -> None:
        if value is not None:
            found[f"accuracy_{label}_{name}"] = round(value, 3)

    for name, fig in figures.items():
        put(f"{name}_shared_precision", fig.systems["shared"].precision())
        put(f"{name}_likely_precision", fig.systems["likely"].precision())
        put(f"{name}_likely_recall", fig.systems["likely"].recall())
    shared = [f.systems["shared"].precision() for f in figures.values()]
    put("shared_precision_min", min((p for p in shared if p is not None), default=None))
    total = pooled(figures)
    for name in SYSTEMS:
        s = total.systems[name]
        put(f"{name}_precision", s.precision())
        put(f"{name}_recall", s.recall())
        put(f"{name}_median_min", percentile(s.delays_min, 0.5))
        put(f"{name}_false_per_day", total.false_per_day(name))
    likely = total.systems["likely"]
    put("likely_recall_5plus", _mean_recall(likely.by_class, ("5-10", "20+")))
    put("likely_median_5plus_min", percentile(likely.delays_5plus_min, 0.5))
    for report_type, delays in sorted(likely.delays_5plus_by_type.items()):
        put(f"likely_median_5plus_{report_type}_min", percentile(delays, 0.5))
    put("likely_recall_2to3", likely.class_recall("2-3"))
    put("notices_downgraded", total.downgraded_share())
    put(
        "notices_downgraded_not_after_false_alarm",
        (total.notices_downgraded - total.downgraded_after_false_alarm) / total.notices
        if total.notices
        else None,
    )
    put("review_items_per_day", total.review_per_day())
    if total.kept_swept:
        put("kept_swept", sum(total.kept_swept) / len(total.kept_swept))
    if total.kept_untouched:
        put("kept_untouched", sum(total.kept_untouched) / len(total.kept_untouched))
    put("confirm_to_share_median_min", percentile(total.answer_to_share_min, 0.5))
    return found


def _mean_recall(by_class: dict[str, list[int]], classes: Sequence[str]) -> float | None:
    detected = sum(by_class[c][0] for c in classes)
    events = sum(by_class[c][1] for c in classes)
    return detected / events if events else None


SUMMARY = ("shared_precision_min", "likely_precision", "likely_recall", "shared_recall")


def summary(found: dict[str, float]) -> dict[str, float]:
    """The few accuracy figures `python -m bench` repeats in its last line."""
    return {
        name: value
        for name, value in found.items()
        if any(name == f"accuracy_{s}_{f}" for s in ("dev", "heldout") for f in SUMMARY)
    }


def main(
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    scenarios: Sequence[str] | None = None,
    sets: Sequence[str] = ("dev", "heldout"),
    adapter: str = DEFAULT_ADAPTER,
    days: int = 1,
    jobs: int | None = None,
) -> dict[str, float]:
    """Run and print; returns every RESULT figure by name."""
    started = time.perf_counter()
    names = list(scenarios or SCENARIOS)
    jobs = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    plan: list[tuple[str, Sequence[int]]] = []
    if seeds:
        plan.append(("custom", seeds))
    else:
        if "dev" in sets:
            plan.append(("dev", QUICK_DEV_SEEDS if quick else DEV_SEEDS))
        if "heldout" in sets:
            plan.append(("heldout", QUICK_HELD_OUT_SEEDS if quick else HELD_OUT_SEEDS))
    found: dict[str, float] = {}
    for label, chosen in plan:
        t0 = time.perf_counter()
        figures = run_set(names, chosen, adapter, days, jobs)
        wall = time.perf_counter() - t0
        print_set(label, chosen, figures, wall)
        per_day = wall * jobs / max(1, sum(f.runs for f in figures.values()))
        figures_found = results(label, figures)
        figures_found[f"accuracy_{label}_wall_s_per_world"] = round(per_day, 2)
        for name, value in figures_found.items():
            print(f"RESULT {name} {value}")
        found.update(figures_found)
    print(f"accuracy: {time.perf_counter() - started:.0f} s, {jobs} worker(s), adapter {adapter}")
    return found
