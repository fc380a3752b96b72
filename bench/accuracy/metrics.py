"""Matching alerts against the truth, and the figures.

Rules kept here (this is the definition the README repeats):
- Pure: episodes and truth in, numbers out.
- An alert is an Episode: one system's alert about one (type, area), from
  the moment it is given to the moment it ends. For the node: a cluster
  shown at 'likely' or above (shown), a responder notice from 'new' to its
  all-clear (notice), an alert shared with neighbours from its first outbox
  row to its withdrawal or expiry (shared). For a baseline, its rule.
- An alert is TRUE when some true Event has the same type, an area that is
  the alert's area or a gazetteer neighbour of it (centroids within
  world.NEAR_KM), and started at or before the alert and ended no more than
  GRACE before it (witnesses report minutes late; an alert about a van that
  left ten minutes ago is late, not false). Otherwise it is FALSE: a false
  alarm, an attack, a wrong type or an area too far.
- An event is DETECTED by a system when one of its true alerts matches it;
  its time to alert is that alert's start minus the event's true start.
- Precision = true alerts / alerts; recall = detected events / events;
  false alerts per day = false alerts / simulated days.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.accuracy.baselines import Episode
from bench.accuracy.world import WITNESS_CLASSES, Event, Fake, FalseAlarm

GRACE = timedelta(minutes=30)
CAUSE_SPAN = timedelta(hours=6)  # how long after a false alarm or an event an alert is "its"
LEVEL_RANK = {"unverified": 0, "possible": 1, "likely": 2, "confirmed": 3}
SYSTEMS = ("likely", "notice", "shared", "crowd_map", "waze_like", "naive")
NODE_SYSTEMS = ("likely", "notice", "shared")
Near = Callable[[str], Iterable[str]]


def matches(ep: Episode, event: Event, near: Near) -> bool:
    return (
        ep.type == event.type
        and ep.area_id in near(event.area_id)
        and event.start <= ep.start <= event.end + GRACE
    )


def hits(ep: Episode, fake: Fake, near: Near) -> bool:
    return (
        ep.type == fake.type
        and ep.area_id in near(fake.area_id)
        and (fake.start <= ep.start <= fake.end)
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[min(len(ordered), rank) - 1]


def precision_upper_bound(true_alerts: int, alerts: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound on precision from `true_alerts` of `alerts`.

    The largest precision p under which seeing at most `true_alerts` right alerts
    out of `alerts` still has probability >= 1 - confidence. A bound below a
    guard means the sample shows precision below it; a handful of alerts (a
    quick run has 1-11 per scenario) cannot, whatever one false alert does to
    the ratio. 1.0 when every alert was right or there were none.
    """
    if alerts <= 0 or true_alerts >= alerts:
        return 1.0
    alpha = 1.0 - confidence

    def at_most(p: float) -> float:  # P(X <= true_alerts) for X ~ Binomial(alerts, p)
        return sum(
            math.comb(alerts, k) * p**k * (1.0 - p) ** (alerts - k) for k in range(true_alerts + 1)
        )

    low, high = true_alerts / alerts, 1.0  # at_most falls as p grows
    for _ in range(60):
        middle = (low + high) / 2
        if at_most(middle) >= alpha:
            low = middle
        else:
            high = middle
    return low


def covered(spans: Iterable[tuple[datetime, datetime]], a: datetime, b: datetime) -> float:
    """The share of [a, b) inside the union of spans."""
    if b <= a:
        return 0.0
    clipped = sorted((max(s, a), min(e, b)) for s, e in spans if e > a and s < b)
    total, cursor = timedelta(), a
    for s, e in clipped:
        s = max(s, cursor)
        if e > s:
            total += e - s
            cursor = e
    return total / (b - a)


@dataclass
class SystemFigures:
    """One system's counts, summed over days."""

    alerts: int = 0
    true_alerts: int = 0
    events: int = 0
    detected: int = 0
    delays_min: list[float] = field(default_factory=list)
    by_class: dict[str, list[int]] = field(  # class -> [detected, events]
        default_factory=lambda: {c: [0, 0] for c in WITNESS_CLASSES}
    )
    delays_5plus_min: list[float] = field(default_factory=list)
    # the same by event type: a raid's witnesses see it start, a checkpoint's pass for hours
    delays_5plus_by_type: dict[str, list[float]] = field(default_factory=dict)
    fakes_hit: int = 0
    fakes: int = 0
    false_minutes: float = 0.0  # minutes false alerts were shown, summed
    false_causes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0))

    @property
    def false_alerts(self) -> int:
        return self.alerts - self.true_alerts

    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    def recall(self) -> float | None:
        return self.detected / self.events if self.events else None

    def class_recall(self, cls: str) -> float | None:
        detected, events = self.by_class[cls]
        return detected / events if events else None

    def add(self, other: SystemFigures) -> None:
        self.alerts += other.alerts
        self.true_alerts += other.true_alerts
        self.events += other.events
        self.detected += other.detected
        self.delays_min += other.delays_min
        self.delays_5plus_min += other.delays_5plus_min
        for report_type, delays in other.delays_5plus_by_type.items():
            self.delays_5plus_by_type.setdefault(report_type, []).extend(delays)
        for cls, (d, n) in other.by_class.items():
            self.by_class[cls][0] += d
            self.by_class[cls][1] += n
        self.fakes_hit += other.fakes_hit
        self.fakes += other.fakes
        self.false_minutes += other.false_minutes
        for cause, n in other.false_causes.items():
            self.false_causes[cause] += n


CAUSES = ("attack", "false_alarm", "wrong_type", "late", "other")


def false_cause(
    ep: Episode,
    events: Sequence[Event],
    fakes: Sequence[Fake],
    alarms: Sequence[FalseAlarm],
    near: Near,
) -> str:
    """Why a false alert is false (the first that fits, in CAUSES order):
    an attack's fake; an honest false alarm of that type nearby in the hours before;
    a true event nearby at the time, of another type; a true event of that type
    nearby that had ended more than GRACE before; anything else."""
    if any(hits(ep, f, near) for f in fakes):
        return "attack"
    if any(
        a.type == ep.type
        and ep.area_id in near(a.area_id)
        and a.at <= ep.start <= a.at + CAUSE_SPAN
        for a in alarms
    ):
        return "false_alarm"
    around = [e for e in events if ep.area_id in near(e.area_id)]
    if any(e.start <= ep.start <= e.end + GRACE for e in around):
        return "wrong_type"
    if any(e.type == ep.type and e.end + GRACE < ep.start <= e.end + CAUSE_SPAN for e in around):
        return "late"
    return "other"


def system_figures(
    episodes: Sequence[Episode],
    events: Sequence[Event],
    fakes: Sequence[Fake],
    near: Near,
    alarms: Sequence[FalseAlarm] = (),
) -> SystemFigures:
    fig = SystemFigures()
    for ep in episodes:
        fig.alerts += 1
        if any(matches(ep, e, near) for e in events):
            fig.true_alerts += 1
        else:
            fig.false_minutes += sum(((b - a) for a, b in ep.spans()), timedelta()) / timedelta(
                minutes=1
            )
            fig.false_causes[false_cause(ep, events, fakes, alarms, near)] += 1
    for event in events:
        fig.events += 1
        starts = [ep.start for ep in episodes if matches(ep, event, near)]
        fig.by_class[event.witness_class][1] += 1
        if starts:
            fig.detected += 1
            fig.by_class[event.witness_class][0] += 1
            delay = max(timedelta(), min(starts) - event.start) / timedelta(minutes=1)
            fig.delays_min.append(delay)
            if event.witnesses >= 5:
                fig.delays_5plus_min.append(delay)
                fig.delays_5plus_by_type.setdefault(event.type, []).append(delay)
    for fake in fakes:
        fig.fakes += 1
        fig.fakes_hit += any(hits(ep, fake, near) for ep in episodes)
    return fig


def downgraded(changes: Sequence[tuple[datetime, str, str, str]], floor: str) -> tuple[int, int]:
    """(notices that fell below `floor` while open, notices) from (at, key, kind, level)."""
    opened: dict[str, bool] = {}
    fell: set[str] = set()
    for _, key, kind, level in sorted(changes, key=lambda c: c[0]):
        if kind == "new":
            opened[key] = True
        elif kind == "all_clear":
            opened[key] = False
        elif opened.get(key) and LEVEL_RANK.get(level, 0) < LEVEL_RANK[floor]:
            fell.add(key)
    return len(fell), len(opened)


# The re-score a verifier's answer causes runs in the answer's own job; the runner looks
# at the node each simulated minute: a fall within this of the answer is that answer's.
ANSWER_LAG = timedelta(minutes=1)


def downgraded_after_false_alarm(
    changes: Sequence[tuple[datetime, str, str, str, str]],
    false_alarms: Sequence[tuple[datetime, str]],
    near: Near,
    floor: str,
) -> int:
    """Of the notices downgraded() counts, those whose first fall came right after a
    verifier's "false alarm" near its area (within ANSWER_LAG, and since the notice's
    previous change): a verifier finding nothing where the evidence around it was, not a
    transient peak. changes are (at, key, kind, level, area_id); false_alarms (answered
    at, area_id)."""
    opened: dict[str, bool] = {}
    previous: dict[str, datetime] = {}
    fell: dict[str, bool] = {}
    for at, key, kind, level, area_id in sorted(changes, key=lambda c: c[0]):
        since = previous.get(key, at)
        previous[key] = at
        if kind == "new":
            opened[key] = True
        elif kind == "all_clear":
            opened[key] = False
        elif opened.get(key) and key not in fell and LEVEL_RANK.get(level, 0) < LEVEL_RANK[floor]:
            around = set(near(area_id))
            fell[key] = any(
                since < t <= at and at - t <= ANSWER_LAG and a in around for t, a in false_alarms
            )
    return sum(fell.values())


def kept(episodes: Sequence[Episode], event: Event, near: Near) -> float | None:
    """The share of the event's remaining time, from its first true alert to its end,
    during which a true alert of it was shown; None when it never had one in time."""
    mine = [ep for ep in episodes if matches(ep, event, near)]
    if not mine:
        return None
    since = min(ep.start for ep in mine)
    if since >= event.end:
        return None
    return covered([s for ep in mine for s in ep.spans()], since, event.end)


@dataclass
class Verification:
    """One request for a verifier, and what came of it."""

    at: datetime
    type: str
    area_id: str
    answer: str | None = None  # confirm, false_alarm, unable; None: nobody took it
    answered_at: datetime | None = None
    real: bool = False  # a true event of the type was active nearby when asked


def answer_to_share(
    verifications: Sequence[Verification], shared: Sequence[Episode]
) -> tuple[list[float], int, int]:
    """Minutes from each 'confirm' to its cluster's share, with how many were already
    shared at the answer and how many never were (within the simulation)."""
    delays: list[float] = []
    already = never = 0
    for v in verifications:
        if v.answer != "confirm" or v.answered_at is None:
            continue
        mine = [ep for ep in shared if ep.type == v.type and ep.area_id == v.area_id]
        if any(ep.active_at(v.answered_at) for ep in mine):
            already += 1
            continue
        later = [ep.start for ep in mine if ep.start >= v.answered_at]
        if later:
            delays.append((min(later) - v.answered_at) / timedelta(minutes=1))
        else:
            never += 1
    return delays, already, never


@dataclass
class Figures:
    """A scenario's figures: one simulated day's, or several summed with add()."""

    name: str
    days: float = 0.0
    systems: dict[str, SystemFigures] = field(
        default_factory=lambda: {s: SystemFigures() for s in SYSTEMS}
    )
    review_items: int = 0  # reports the node put in the moderators' queue
    submitted: int = 0
    accepted: int = 0
    rate_limited: int = 0
    notices_downgraded: int = 0  # fell below the responders' level while open
    downgraded_after_false_alarm: int = 0  # of those, right after a verifier's false alarm nearby
    notices: int = 0
    kept_swept: list[float] = field(default_factory=list)  # per swept event (shared)
    kept_untouched: list[float] = field(default_factory=list)  # per unswept event (shared)
    verifications: list[Verification] = field(default_factory=list)
    answer_to_share_min: list[float] = field(default_factory=list)
    answered_already_shared: int = 0
    answered_never_shared: int = 0
    tagged: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # tag -> system -> [d, n]
    wall_s: float = 0.0
    runs: int = 0

    def add(self, other: Figures) -> None:
        self.runs += other.runs
        self.days += other.days
        for name, fig in other.systems.items():
            self.systems[name].add(fig)
        for name in (
            "review_items", "submitted", "accepted", "rate_limited", "notices_downgraded",
            "downgraded_after_false_alarm", "notices", "answered_already_shared",
            "answered_never_shared", "wall_s",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.kept_swept += other.kept_swept
        self.kept_untouched += other.kept_untouched
        self.verifications += other.verifications
        self.answer_to_share_min += other.answer_to_share_min
        for tag, systems in other.tagged.items():
            mine = self.tagged.setdefault(tag, {})
            for name, (d, n) in systems.items():
                got = mine.setdefault(name, [0, 0])
                got[0] += d
                got[1] += n

    def downgraded_share(self) -> float | None:
        return self.notices_downgraded / self.notices if self.notices else None

    def false_per_day(self, system: str) -> float | None:
        return self.systems[system].false_alerts / self.days if self.days else None

    def review_per_day(self) -> float | None:
        return self.review_items / self.days if self.days else None
