"""Publication ticks: the only moments at which what the public sees changes.

The public pages, data and feeds are polled by adversaries too. A poller must
not learn a report's minute, its order within the hour, or whether two
reports came from one sender. So nothing public reads the live store: it
reads the Snapshot taken at the last tick (Node.publish(), run by the
scheduler every `[web] publish_every_minutes` and when the node opens).

Rules kept here:
- A report is public only from the first tick after it was stored
  (`Snapshot.published`): that is the gate every public view requires,
  per-report lists today and incidents tomorrow. A tick publishes the
  reports of the last two days (the latest MAX_PUBLISHED in a flood); lists
  show the latest MAX_LISTED of them.
- What the public sees of a report is frozen at the tick: its score,
  status, verdict, follow-ups and (where the chapter allows) description. A
  later corroboration, "still there" / "gone" or verdict shows at the next
  tick, together with everything else of that tick. Neighbours' alerts too.
- The order carries no arrival order: by hour (which is public anyway), then
  level, type and area, ties by the reports' random ids.
- Decay (age labels, fading, "still active") is computed when read, from the
  frozen rows and the clock: it depends only on the hour.
- The member room, responders and moderators read the live store: they are
  vetted and are never delayed.
- A snapshot lives in memory only; nothing here is written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from node.outcome import ReceivedAlert
from node.recent import Entry
from node.store import Report
from scoring.defaults import LEVEL_FLOORS, level_for
from scoring.model import FollowUp

# How serious a level is: confirmed first in public lists (LEVEL_FLOORS runs high to low).
LEVEL_RANK: dict[str, int] = {level.value: -rank for rank, (_, level) in enumerate(LEVEL_FLOORS)}


Row = Report | Entry  # a frozen copy of a report's columns (Entry: without its ciphertext)


def public_order(rows: Sequence[Row]) -> list[Row]:
    """Latest hour first, then the most serious level, type, area; ties by random id."""
    return sorted(
        rows,
        key=lambda r: (
            -r.hour,
            -LEVEL_RANK[level_for(r.confidence).value],
            r.type,
            r.area_name,
            r.id,
        ),
    )


@dataclass(frozen=True)
class Snapshot:
    """What the public may see, as of the last publication tick."""

    reports: tuple[Row, ...] = ()  # the listed rows, in public order
    follow_ups: Mapping[str, tuple[FollowUp, ...]] = field(default_factory=dict)  # all published
    descriptions: Mapping[str, str] = field(default_factory=dict)  # the public ones only
    alerts: tuple[ReceivedAlert, ...] = ()  # neighbours' alerts, unexpired at the tick
    tick: int = 0  # how many ticks this process has made (0: none yet)
    _by_id: Mapping[str, Row] = field(default_factory=dict, repr=False)  # all published

    @classmethod
    def of(
        cls,
        rows: Sequence[Row],
        follow_ups: Mapping[str, Sequence[FollowUp]],
        descriptions: Mapping[str, str],
        alerts: Sequence[ReceivedAlert],
        tick: int,
        listed: int,
    ) -> Snapshot:
        """`rows`: every published report, latest (hour, id) first; the first `listed` of
        them make the lists."""
        return cls(
            reports=tuple(public_order(rows[:listed])),
            follow_ups={r.id: tuple(follow_ups.get(r.id, ())) for r in rows},
            descriptions=dict(descriptions),
            alerts=tuple(alerts),
            tick=tick,
            _by_id={r.id: r for r in rows},
        )

    def published(self, report_id: str) -> bool:
        """Whether a report is public (it was stored before the last tick)."""
        return report_id in self._by_id

    def report(self, report_id: str) -> Row | None:
        return self._by_id.get(report_id)
