"""Three simple alerting rules, run on the very reports the node accepted.

Rules kept here:
- Pure: a list of StreamReport in, a list of Episode out; no node, no clock.
- An alert is per (area, type), like the node's clusters: it starts when the
  rule first holds and lasts while it holds (or while a report keeps it
  shown), so one event's many reports make one alert, not many.
- The rules see what the node accepted (its rate limit and validation are
  plumbing any system would have); they see no follow-ups and no verifier.

The rules:
- crowd_map: no verification. Every report is shown at once, for the
  type's active time (ACTIVE, the node's default expiry) from its minute.
- waze_like: an alert once WAZE_MIN_SOURCES distinct sources reported the
  same area and type within WAZE_WINDOW; every later report keeps it shown
  for the type's active time.
- naive: the seed's update. p = prior odds x (s/(1-s))^n with prior 0.3,
  s = 0.6 and n the reports of the same area and type in the last 2 hours
  (the latest included); an alert while p > 0.7, which takes n >= 5.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIVE = {  # scoring.defaults expiry_* : how long one report stays on a crowd map
    "vehicle": timedelta(hours=1),
    "patrol": timedelta(hours=2),
    "checkpoint": timedelta(hours=4),
    "raid": timedelta(hours=6),
}
WAZE_WINDOW = timedelta(minutes=60)
WAZE_MIN_SOURCES = 2
NAIVE_PRIOR = 0.3
NAIVE_S = 0.6
NAIVE_WINDOW = timedelta(hours=2)
NAIVE_ALERT = 0.7


def naive_reports_needed(prior: float = NAIVE_PRIOR, s: float = NAIVE_S) -> int:
    """The smallest n with prior odds x (s/(1-s))^n above NAIVE_ALERT's odds."""
    need = math.log(NAIVE_ALERT / (1 - NAIVE_ALERT)) - math.log(prior / (1 - prior))
    n = math.floor(need / math.log(s / (1 - s))) + 1
    return max(1, n)


@dataclass(frozen=True)
class StreamReport:
    """A report the node accepted, as the simulator knows it."""

    at: datetime
    type: str
    area_id: str
    source: bytes


@dataclass(frozen=True)
class Episode:
    """One alert of one system: (type, area), from start to end.

    `intervals` are the times it was really shown (a shared alert may lapse at its
    expiry and come back with an update); empty means the whole [start, end].
    """

    key: str
    type: str
    area_id: str
    start: datetime
    end: datetime
    intervals: tuple[tuple[datetime, datetime], ...] = ()

    def spans(self) -> tuple[tuple[datetime, datetime], ...]:
        return self.intervals or ((self.start, self.end),)

    def active_at(self, t: datetime) -> bool:
        return any(a <= t < b for a, b in self.spans())


def _clusters(stream: Iterable[StreamReport]) -> dict[tuple[str, str], list[StreamReport]]:
    found: dict[tuple[str, str], list[StreamReport]] = defaultdict(list)
    for r in stream:
        found[(r.area_id, r.type)].append(r)
    for reports in found.values():
        reports.sort(key=lambda r: r.at)
    return found


def _shown_while_reported(
    name: str, cluster: tuple[str, str], starts: list[tuple[datetime, bool]]
) -> list[Episode]:
    """Episodes where each (time, qualifies) report keeps the alert for ACTIVE[type];
    a new alert opens only at a qualifying report."""
    area_id, report_type = cluster
    out: list[Episode] = []
    start = end = None
    for at, qualifies in starts:
        if end is not None and at < end:
            end = max(end, at + ACTIVE[report_type])
            continue
        if end is not None:
            out.append(Episode(f"{name}{len(out)}", report_type, area_id, start, end))  # type: ignore[arg-type]
            start = end = None
        if qualifies:
            start, end = at, at + ACTIVE[report_type]
    if start is not None and end is not None:
        out.append(Episode(f"{name}{len(out)}", report_type, area_id, start, end))
    return out


def crowd_map(stream: Iterable[StreamReport]) -> list[Episode]:
    out: list[Episode] = []
    for cluster, reports in sorted(_clusters(stream).items()):
        key = f"crowd:{cluster[0]}:{cluster[1]}:"
        out += _shown_while_reported(key, cluster, [(r.at, True) for r in reports])
    return out


def waze_like(stream: Iterable[StreamReport]) -> list[Episode]:
    out: list[Episode] = []
    for cluster, reports in sorted(_clusters(stream).items()):
        marks = []
        for i, r in enumerate(reports):
            sources = {o.source for o in reports[: i + 1] if r.at - o.at < WAZE_WINDOW}
            marks.append((r.at, len(sources) >= WAZE_MIN_SOURCES))
        out += _shown_while_reported(f"waze:{cluster[0]}:{cluster[1]}:", cluster, marks)
    return out


def naive(stream: Iterable[StreamReport]) -> list[Episode]:
    need = naive_reports_needed()
    out: list[Episode] = []
    for (area_id, report_type), reports in sorted(_clusters(stream).items()):
        # +1 when a report arrives, -1 when it leaves the 2-hour window; leaving first on ties.
        changes = sorted(
            [(r.at, 1) for r in reports] + [(r.at + NAIVE_WINDOW, -1) for r in reports],
            key=lambda c: (c[0], c[1]),
        )
        count, start = 0, None
        for at, step in changes:
            count += step
            if start is None and count >= need:
                start = at
            elif start is not None and count < need:
                key = f"naive:{area_id}:{report_type}:{len(out)}"
                out.append(Episode(key, report_type, area_id, start, at))
                start = None
    return out


BASELINES = {"crowd_map": crowd_map, "waze_like": waze_like, "naive": naive}
