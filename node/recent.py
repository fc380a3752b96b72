"""The recent window of reports, in memory: what scoring reads instead of rows.

A RecentIndex holds every stored report whose hour is at or after its
`floor` hour (the last `keep_hours`), per area and sorted by (hour, id), so
the neighbourhood of a new report is found without a query. It is a cache of
the store, never a source of truth:

- it is built from the store when the node opens (a restart scores the same);
- it is written only on the writer thread: by the intake's fast path
  (put/update), and by `attach`ed sessions' flushes of Report objects (any
  other writer job that changes a report through the ORM keeps it right);
- every change is journaled, and the writer undoes a failed job's changes
  (undo_to) and a failed batch's (undo_to its start mark), so the index
  never holds what the database did not commit;
- it also holds the follow-ups of the reports it holds (for the alert
  refresh, node.alerts), kept the same way, and each cluster's open
  incident (node.incident_store reads and writes it here, and in the store,
  on a writer session: every incident write goes through that module);
- a writer job may stage a new report and its history count here instead
  of writing them (`stage`): they are written with one statement each for
  the batch (`flush`), before the batch's settle and before any later SQL
  of the batch (on an attached session's first statement of each job), so
  every read sees them; a flush inside a job that is rolled back is staged
  again;
- a range below `floor` is not covered (`covers`): callers read the store;
  nor is anything in a session that bulk-deleted reports or follow-ups
  (a purge) until `after_purge` resynced it (`current`).

Ties within an hour are broken by id, in the index and in the store's
fallback query alike, so both give the same neighbours.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event, insert, select, text
from sqlmodel import Session

from node.store import AreaHour, FollowUpRow, Incident, Report, from_hour
from scoring.model import (
    Channel,
    Evidence,
    FollowUp,
    FollowUpKind,
    History,
    Place,
    ReportType,
    Verdict,
)

# Columns of a report row, in the order of the table (an Entry carries them all).
COLUMNS: tuple[str, ...] = tuple(c.name for c in Report.__table__.columns)  # type: ignore[attr-defined]
T = TypeVar("T")
NEVER = 2**62  # the floor of an index that covers nothing
MAX_ENTRIES = 200_000  # a flood beyond this raises the floor instead of growing memory


class Entry:
    """One report as the index keeps it: the row's columns, plus its evidence parts."""

    __slots__ = (*COLUMNS, "seq", "_static", "_evidence", "_recent")

    id: str
    type: str
    area_id: str
    area_name: str
    area_known: bool
    lat: float | None
    lon: float | None
    highway: str | None
    hour: int
    channel: str
    verdict: str
    status: str
    confidence: float
    independent_sources: int
    still_active_claimed: bool
    flags: str
    review_reasons: str
    in_review: bool
    description_ct: bytes | None
    description_key: str | None
    retention_class: str
    purge_after_hour: int
    incident_id: str | None

    def __init__(self, **fields: Any) -> None:
        for name in COLUMNS:
            setattr(self, name, fields[name])
        self._static: tuple[ReportType, Place | None, datetime, Channel] | None = None
        self._evidence: Evidence | None = None
        self._recent: object = None

    @classmethod
    def of_row(cls, row: Any) -> Entry:
        return cls(**{name: getattr(row, name) for name in COLUMNS})

    def copy(self) -> Entry:
        return Entry(**self.params())

    def params(self) -> dict[str, Any]:
        """The row's values by column name (for an INSERT)."""
        return {name: getattr(self, name) for name in COLUMNS}

    def evidence(self, recent: Any) -> Evidence:
        """This report as evidence, with what memory still holds of it (`recent`, or None)."""
        found = self._evidence
        if found is not None and self._recent is recent:
            return found
        static = self._static
        if static is None:
            known = self.lat is not None and self.lon is not None
            place = Place(self.lat, self.lon) if known else None  # type: ignore[arg-type]
            static = self._static = (
                ReportType(self.type),
                place,
                from_hour(self.hour),
                Channel(self.channel),
            )
        found = Evidence(
            key=self.id,
            type=static[0],
            area=self.area_id,
            place=static[1],
            hour=static[2],
            channel=static[3],
            sources=recent.sources if recent is not None else frozenset(),
            fingerprint=recent.fingerprint if recent is not None else None,
            verdict=Verdict(self.verdict),
            seen_at=recent.seen_at if recent is not None else None,
        )
        self._evidence, self._recent = found, recent
        return found


# Journal records: ("put", entry, replaced entry or None), ("set", entry, {column: old value}),
# ("drop", entry, None), ("hist", (area_id, hour_of_week), old [reports, confirmed] or None),
# ("follow", report_id, None): one follow-up appended, ("unfollow", report_id, old list),
# ("stage", staged item, None), ("flushed", the staged items written, inside a savepoint?),
# ("incident", (area_id, type), the open incident's old columns or None).
Change = tuple[str, Any, Any]
INSERT_REPORT = insert(Report.__table__)  # type: ignore[arg-type]
# node.reports.COUNT_HISTORY_SQL for reports only (no confirmed change: sums commute)
ADD_REPORTS_SQL = text(
    "INSERT INTO area_hour (area_id, hour_of_week, reports, confirmed)"
    " VALUES (:area, :how, :reports, 0)"
    " ON CONFLICT (area_id, hour_of_week) DO UPDATE SET"
    " reports = area_hour.reports + excluded.reports"
)
INFO_KEY = "vecinos_recent"  # session.info: the index attached to a writer session
STALE_KEY = "vecinos_recent_stale"  # session.info: bulk deletes the index has not seen yet
NO_FOLLOW_UPS: tuple[FollowUp, ...] = ()


def follow_up_of(row: FollowUpRow) -> FollowUp:
    return FollowUp(FollowUpKind(row.kind), from_hour(row.hour), row.by_moderator, row.by_member)


HOURS_PER_WEEK = 168


class RecentIndex:
    """Reports of the last `keep_hours`, per area; written on the writer thread only."""

    def __init__(self, keep_hours: int, max_entries: int = MAX_ENTRIES) -> None:
        self.keep_hours = keep_hours
        self.max_entries = max_entries
        self.floor = 0  # hours from here on are complete in the index
        self._by_id: dict[str, Entry] = {}
        self._by_area: dict[str, list[tuple[int, str]]] = {}
        self._journal: list[Change] = []
        self._follow_ups: dict[str, list[FollowUp]] = {}  # report id -> its follow-ups
        # staged writes: Entry (insert it) or (area_id, hour_of_week) (one more report)
        self._staged: list[Any] = []
        # area_hour, mirrored: area -> hour of week -> [reports, confirmed]
        self._history: dict[str, dict[int, list[int]]] = {}
        # open incidents, mirrored: (area_id, type) -> the Incident row's columns
        self._incidents: dict[tuple[str, str], dict[str, Any]] = {}
        self.holds_incidents = False  # loaded: the open incidents are read here, not stored

    def __len__(self) -> int:
        return len(self._by_id)

    @classmethod
    def disabled(cls) -> RecentIndex:
        """An index that covers nothing: every read goes to the store."""
        index = cls(keep_hours=0)
        index.floor = NEVER
        return index

    # -- building -------------------------------------------------------------

    def load(self, session: Session, now_hour: int) -> None:
        """(Re)build from the store: every report from now_hour - keep_hours on."""
        self._by_id.clear()
        self._by_area.clear()
        self._journal.clear()
        self.floor = now_hour - self.keep_hours
        columns = [Report.__table__.c[name] for name in COLUMNS]  # type: ignore[attr-defined]
        query = select(*columns).where(Report.__table__.c.hour >= self.floor)  # type: ignore[attr-defined]
        for row in session.connection().execute(query):
            self._insert(Entry(**row._mapping))
        self._follow_ups.clear()
        ids = select(Report.__table__.c.id).where(Report.__table__.c.hour >= self.floor)  # type: ignore[attr-defined]
        follow_ups = select(FollowUpRow).where(FollowUpRow.report_id.in_(ids))  # type: ignore[attr-defined]
        for (row,) in session.execute(follow_ups):
            if row.report_id in self._by_id:
                self._follow_ups.setdefault(row.report_id, []).append(follow_up_of(row))
        self._history.clear()
        counts = AreaHour.__table__.c  # type: ignore[attr-defined]
        query = select(counts.area_id, counts.hour_of_week, counts.reports, counts.confirmed)
        for area_id, how, reports, confirmed in session.connection().execute(query):
            self._history.setdefault(area_id, {})[how] = [reports, confirmed]
        self._incidents.clear()
        incidents = Incident.__table__  # type: ignore[attr-defined]
        for row in session.connection().execute(
            select(incidents).where(incidents.c.closed.is_(False))
        ):
            values = dict(row._mapping)
            self._incidents[(values["area_id"], values["type"])] = values
        self.holds_incidents = True

    def after_purge(self, session: Session, result: T) -> T:
        """Forget (journaled) what the store no longer has, after a purge's bulk delete."""
        table = Report.__table__  # type: ignore[attr-defined]
        query = select(table.c.id).where(table.c.hour >= self.floor)
        stored = {row[0] for row in session.connection().execute(query)}
        for report_id in [i for i in self._by_id if i not in stored]:
            self.drop(report_id)
        for report_id in [i for i in self._follow_ups if i not in stored]:
            self._journal.append(("unfollow", report_id, self._follow_ups.pop(report_id)))
        session.info.pop(STALE_KEY, None)
        return result

    def attach(self, session: Session) -> None:
        """Follow this session's flushes of Report objects (other writer jobs' changes),
        and serve its history reads (node.reports.history_for) from memory."""
        event.listen(session, "after_flush", self._after_flush)
        event.listen(session, "do_orm_execute", self._on_execute)
        event.listen(session, "after_begin", self._on_begin)
        session.info[INFO_KEY] = self

    def staging(self, session: Session) -> bool:
        """Whether `session` is a writer session of this index (it flushes what is staged)."""
        return session.info.get(INFO_KEY) is self

    def _on_begin(self, session: Session, transaction: Any, connection: Any) -> None:
        if transaction.nested and self._staged:  # a job's first statement: staged rows first
            self._flush(connection, inside_job=True)

    def flush(self, session: Session) -> None:
        """Write what jobs staged (the writer calls this before the batch's settle)."""
        if self._staged:
            self._flush(session.connection(), inside_job=False)

    def _flush(self, connection: Any, inside_job: bool) -> None:
        staged, self._staged = self._staged, []
        self._journal.append(("flushed", staged, inside_job))
        rows = [item.params() for item in staged if isinstance(item, Entry)]
        counts: dict[tuple[str, int], int] = {}
        for item in staged:
            if isinstance(item, tuple):
                counts[item] = counts.get(item, 0) + 1
        if rows:
            connection.execute(INSERT_REPORT, rows)
        if counts:
            connection.execute(
                ADD_REPORTS_SQL,
                [{"area": a, "how": how, "reports": n} for (a, how), n in sorted(counts.items())],
            )

    def stage(self, entry: Entry, history: tuple[str, int] | None) -> None:
        """A new report (already `put`) to insert, and the (area, hour of week) counter to add
        it to (None: not counted); written by the next flush (journaled)."""
        for item in (entry, history):
            if item is not None:
                self._staged.append(item)
                self._journal.append(("stage", item, None))

    @staticmethod
    def _on_execute(state: Any) -> None:
        """A bulk DELETE of reports or follow-ups: not current until after_purge."""
        if state.is_delete and any(m.class_ in (Report, FollowUpRow) for m in state.all_mappers):
            state.session.info[STALE_KEY] = True

    def current(self, session: Session) -> bool:
        """Whether this session's store holds what the index does (no unseen bulk delete)."""
        return session.info.get(INFO_KEY) is self and not session.info.get(STALE_KEY)

    def _after_flush(self, session: Session, _context: Any) -> None:
        for obj in session.deleted:
            if isinstance(obj, Report):
                self.drop(obj.id)
        for obj in session.new:
            if isinstance(obj, FollowUpRow) and obj.report_id in self._by_id:
                self._follow_ups.setdefault(obj.report_id, []).append(follow_up_of(obj))
                self._journal.append(("follow", obj.report_id, None))
        for obj in (*session.new, *session.dirty):
            if isinstance(obj, Report) and obj.hour >= self.floor:
                current = self._by_id.get(obj.id)
                if current is None:
                    self.put(Entry.of_row(obj))
                else:
                    self.update(current, {name: getattr(obj, name) for name in COLUMNS})

    # -- reading ----------------------------------------------------------------

    def get(self, report_id: str) -> Entry | None:
        return self._by_id.get(report_id)

    def covers(self, low_hour: int) -> bool:
        return low_hour >= self.floor

    def around(
        self, area_ids: Sequence[str], hour: int, span: int, limit: int
    ) -> list[Entry] | None:
        """Reports within `span` hours of `hour` in these areas, latest first; None: not covered.

        The first area gets the whole `limit`, each other area a share of it
        (at least 4), and the result is cut to `limit`: the same rule as the
        store's query (node.reports.neighbourhood).
        """
        low, high = hour - span, hour + span
        if not self.covers(low):
            return None
        share = max(4, limit // max(1, len(area_ids) - 1))
        found: list[tuple[int, str]] = []
        for index, area_id in enumerate(area_ids):
            keys = self._by_area.get(area_id)
            if not keys:
                continue
            n = limit if index == 0 else share
            end = bisect.bisect_right(keys, (high, "\uffff"))
            start = bisect.bisect_left(keys, (low, ""), 0, end)
            found.extend(keys[max(start, end - n) : end])
        found.sort(reverse=True)
        by_id = self._by_id
        return [by_id[key[1]] for key in found[:limit]]

    def entries(self) -> Iterable[Entry]:
        return self._by_id.values()

    def cluster(self, area_id: str, report_type: str, low_hour: int, limit: int) -> list[Entry]:
        """The area's reports of this type from `low_hour` on, latest (hour, id) first,
        at most `limit` (check `covers(low_hour)` first)."""
        keys = self._by_area.get(area_id)
        found: list[Entry] = []
        if not keys:
            return found
        by_id = self._by_id
        for hour, report_id in reversed(keys):
            if hour < low_hour or len(found) >= limit:
                break
            entry = by_id[report_id]
            if entry.type == report_type:
                found.append(entry)
        return found

    def follow_ups(self, report_id: str) -> Sequence[FollowUp]:
        """The follow-ups of an indexed report, as the store holds them."""
        return self._follow_ups.get(report_id, NO_FOLLOW_UPS)

    def history(self, area_id: str, hour_of_week: int) -> History:
        """The same sums as node.reports.HISTORY_SQL, from the mirrored counters."""
        counts = self._history.get(area_id)
        if not counts:
            return History(0, 0, 0, 0)
        weeks = {(hour_of_week + d) % HOURS_PER_WEEK for d in (-1, 0, 1)}
        days = {(hour_of_week % 24 + d) % 24 for d in (-1, 0, 1)}
        same_week = confirmed = reports = same_day = 0
        for how, (n, c) in counts.items():
            confirmed += c
            reports += n
            if how in weeks:
                same_week += c
            if how % 24 in days:
                same_day += n
        return History(same_week, confirmed, reports, same_day)

    def count(self, area_id: str, hour_of_week: int, reports: int, confirmed: int) -> None:
        """Mirror node.reports.COUNT_HISTORY_SQL's upsert (journaled)."""
        counts = self._history.setdefault(area_id, {})
        found = counts.get(hour_of_week)
        self._journal.append(("hist", (area_id, hour_of_week), None if found is None else found[:]))
        if found is None:
            counts[hour_of_week] = [reports, confirmed]
        else:
            found[0] += reports
            found[1] = max(0, found[1] + confirmed)

    def open_incident(self, area_id: str, report_type: str) -> dict[str, Any] | None:
        """The cluster's open incident's columns (not to be changed: set_open_incident)."""
        return self._incidents.get((area_id, report_type))

    def open_incidents(self) -> Iterable[dict[str, Any]]:
        return self._incidents.values()

    # -- writing (journaled) ----------------------------------------------------

    def set_open_incident(self, area_id: str, report_type: str, values: dict[str, Any]) -> None:
        """Mirror a write of the cluster's incident (a closed one is forgotten)."""
        key = (area_id, report_type)
        self._journal.append(("incident", key, self._incidents.get(key)))
        if values["closed"]:
            self._incidents.pop(key, None)
        else:
            self._incidents[key] = dict(values)

    def put(self, entry: Entry) -> None:
        """Add a report (or replace the one with its id)."""
        if entry.hour < self.floor:
            return
        old = self._by_id.get(entry.id)
        if old is not None:
            self._remove(old)
        self._insert(entry)
        self._journal.append(("put", entry, old))
        if len(self._by_id) > self.max_entries:
            self._raise_floor(entry.hour)

    def update(self, entry: Entry, values: dict[str, Any]) -> None:
        """Change columns of an indexed entry (area, type or hour changes move it)."""
        old = {name: getattr(entry, name) for name in values}
        if old == values:
            return
        moved = values.get("area_id", entry.area_id) != entry.area_id or (
            values.get("hour", entry.hour) != entry.hour
        )
        if moved:
            self._remove(entry)
        for name, value in values.items():
            setattr(entry, name, value)
        entry._static = entry._evidence = None
        if moved:
            self._insert(entry)
        self._journal.append(("set", entry, old))

    def drop(self, report_id: str) -> None:
        old = self._by_id.get(report_id)
        if old is not None:
            self._remove(old)
            self._journal.append(("drop", old, None))

    def evict(self, now_hour: int) -> None:
        """Forget what left the window (not journaled: the store still has it)."""
        floor = now_hour - self.keep_hours
        if self.floor < floor < NEVER:
            self._raise_floor(floor, exclusive=False)

    # -- the journal ---------------------------------------------------------------

    def mark(self) -> int:
        return len(self._journal)

    def undo_to(self, mark: int) -> None:
        """Take back every change made since `mark` (a rolled-back job or batch)."""
        while len(self._journal) > mark:
            kind, entry, old = self._journal.pop()
            if kind == "stage":
                if self._staged and self._staged[-1] is entry:  # (else: flushed since)
                    self._staged.pop()
            elif kind == "flushed":
                if old:  # written inside a job's savepoint, which was rolled back
                    self._staged[:0] = entry
            elif kind == "follow":
                follow_ups = self._follow_ups.get(entry)
                if follow_ups:  # (gone already if its report left the window since)
                    follow_ups.pop()
                    if not follow_ups:
                        del self._follow_ups[entry]
            elif kind == "unfollow":
                self._follow_ups[entry] = old
            elif kind == "incident":
                if old is None:
                    self._incidents.pop(entry, None)
                else:
                    self._incidents[entry] = old
            elif kind == "hist":
                area_id, how = entry
                if old is None:
                    self._history[area_id].pop(how, None)
                else:
                    self._history[area_id][how] = old
            elif kind == "put":
                if self._by_id.get(entry.id) is entry:
                    self._remove(entry)
                if old is not None:
                    self._insert(old)
            elif kind == "drop":
                if entry.hour >= self.floor:
                    self._insert(entry)
            else:
                moved = old.get("area_id", entry.area_id) != entry.area_id or (
                    old.get("hour", entry.hour) != entry.hour
                )
                indexed = self._by_id.get(entry.id) is entry
                if moved and indexed:
                    self._remove(entry)
                for name, value in old.items():
                    setattr(entry, name, value)
                entry._static = entry._evidence = None
                if moved and indexed:
                    self._insert(entry)

    def committed(self) -> None:
        """The batch committed: its changes stay."""
        self._journal.clear()
        self._staged.clear()  # (empty: flushed before the commit)

    # -- internals ------------------------------------------------------------------

    def _insert(self, entry: Entry) -> None:
        self._by_id[entry.id] = entry
        bisect.insort(self._by_area.setdefault(entry.area_id, []), (entry.hour, entry.id))

    def _remove(self, entry: Entry) -> None:
        del self._by_id[entry.id]
        keys = self._by_area[entry.area_id]
        i = bisect.bisect_left(keys, (entry.hour, entry.id))
        if i < len(keys) and keys[i] == (entry.hour, entry.id):
            del keys[i]
        if not keys:
            del self._by_area[entry.area_id]

    def _raise_floor(self, floor: int, exclusive: bool = True) -> None:
        """Drop every hour below `floor` (and, when full, the oldest hours until it fits)."""
        if exclusive:  # full: drop whole hours, oldest first, until under the bound
            hours = sorted({e.hour for e in self._by_id.values()})
            count: dict[int, int] = {}
            for e in self._by_id.values():
                count[e.hour] = count.get(e.hour, 0) + 1
            total = len(self._by_id)
            floor = self.floor
            for h in hours:
                if total <= self.max_entries * 3 // 4:
                    break
                total -= count[h]
                floor = h + 1
        self.floor = max(self.floor, floor)
        for entry in [e for e in self._by_id.values() if e.hour < self.floor]:
            self._remove(entry)
            self._follow_ups.pop(entry.id, None)
