"""The simulator's one window onto a node: drive it, read what it shows, dispatch verifiers.

Everything bench/accuracy knows about how a node decides lives behind the
Chapter protocol below; the simulator (run.py) and the figures (metrics.py)
only see its plain answers. To measure a node that decides differently (the
incident state machine of issue 10), write one class with these methods and
add it to ADAPTERS; nothing else in bench/accuracy changes.

What a Chapter answers:
- submit / follow_up: the node's real intake path (Node.submit, Node.follow_up);
- targets(type, area): what the public can follow up for that incident (the
  ids a "still there" / "gone" form posts to), most prominent first;
- shown(level): the incidents the node shows now at `level` or above, as
  (type, area_id, level): "what level is the truth's incident at now";
- changes(): what the node queued since the last call: responder notices
  (opened / updated / all-clear, with their level), alerts shared with
  neighbours (outbox rows: alert / update / withdrawal, level, expiry), and
  requests for a verifier;
- claim / answer: a verifier takes a request and answers confirm,
  false alarm or unable;
- every_minute(): the node's per-minute job (held responder notices open when
  their hold passed, verification requests offered again); whether it did
  anything the simulator must look at;
- scheduled(): the node's periodic jobs (retention, every 10 minutes);
- expiry_step: how often what shown() answers may change with no call at
  all (the simulator looks again each time this much has passed).

ReportsChapter is today's node (reports scored one by one, clusters of
area x type). It reads the node's tables directly, which bench/ may do and
production code may not: the outbox and responder outbox rows (their JSON
bodies are the wire format), and the recent reports and follow-ups (to tell
which are active, with the node's own decay rules). A verification request
is a responder notice that opens (the responders are paged and one goes to
look), and the verifier's answer is a moderator's Node.moderate (confirm the
best active report of the cluster; a false alarm debunks all of them; unable
does nothing), the same kind of verdict as the responders room's `!confirm`
and `!falsealarm` (node.verification confirms or debunks the cluster's
undecided reports). The room's claim/answer cycle itself is not simulated
here; tests/federation/test_verifier_room.py runs it on Synapse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, Protocol

from sqlalchemy import bindparam, text
from sqlmodel import Session

from node import verification
from node.config import CONFIG_NAME
from node.outcome import Accepted, PublicReport, RateLimited, ReportDraft, SourceRef
from node.reports import ALERT_HOURS, decay_of, still_active
from node.responders import MATRIX, held_clusters
from node.service import ModeratorAction, Node, open_node
from node.setup import init_chapter
from node.store import from_hour, to_hour
from scoring.defaults import level_floor, level_for
from scoring.model import FollowUp, FollowUpKind


class _Row(NamedTuple):
    """The columns of a stored report that say whether it is shown now (node.reports)."""

    id: str
    type: str
    area_id: str
    hour: int
    verdict: str
    still_active_claimed: bool
    confidence: float
    independent_sources: int


ROW_COLUMNS = ", ".join(_Row._fields)
PURGE_MATTERS = text(
    "SELECT EXISTS (SELECT 1 FROM alert WHERE NOT withdrawn)"
    " OR EXISTS (SELECT 1 FROM responder_notice WHERE NOT closed)"
    " OR EXISTS (SELECT 1 FROM report WHERE purge_after_hour <= :hour)"
)
FOLLOW_UPS = text(
    "SELECT report_id, kind, hour, by_moderator, by_member FROM followup WHERE report_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

Clock = Callable[[], datetime]


class Answer(StrEnum):
    CONFIRM = "confirm"
    FALSE_ALARM = "false_alarm"
    UNABLE = "unable"


@dataclass(frozen=True)
class Submitted:
    accepted: bool
    rate_limited: bool = False
    review: bool = False  # the report went to the moderators' queue


@dataclass(frozen=True)
class Shown:
    type: str
    area_id: str
    level: str


@dataclass(frozen=True)
class NoticeChange:
    key: str  # one notice (thread) in the responders room
    kind: str  # new, update, all_clear
    type: str
    area_id: str
    level: str


@dataclass(frozen=True)
class ShareChange:
    key: str  # one alert id, as neighbours see it
    kind: str  # alert, update, withdrawal
    type: str
    area_id: str
    level: str
    expires: datetime
    still_active: bool


@dataclass(frozen=True)
class VerifyRequest:
    key: str
    type: str
    area_id: str
    hint: tuple[str, ...] = field(default=(), compare=False)  # ids the request named


class Chapter(Protocol):
    label: str
    expiry_step: timedelta  # shown() may change without a call only when this much has passed

    async def submit(self, draft: ReportDraft, source: SourceRef) -> Submitted: ...
    async def targets(self, report_type: str, area_id: str) -> list[str]: ...
    async def follow_up(self, target: str, kind: FollowUpKind, source: SourceRef) -> bool: ...
    async def shown(self, level: str) -> list[Shown]: ...
    async def changes(
        self,
    ) -> tuple[list[NoticeChange], list[ShareChange], list[VerifyRequest]]: ...
    async def claim(self, request: VerifyRequest, eta_minutes: float) -> None: ...
    async def answer(self, request: VerifyRequest, answer: Answer) -> None: ...
    async def every_minute(self) -> bool: ...
    async def scheduled(self) -> None: ...
    async def close(self) -> None: ...


# -- today's node ---------------------------------------------------------------------


class ReportsChapter:
    """Today's node: reports scored one by one; an incident is a cluster (area x type)."""

    label = "reports"
    # What is shown changes only when the node is called, or at a whole hour (every
    # report's activity ends on an hour boundary: scoring.decay counts from hour buckets).
    expiry_step = timedelta(hours=1)

    def __init__(self, node: Node) -> None:
        self.node = node
        self.scoring = node.config.scoring
        self.area_of_name = {a.name: a.id for a in node.gazetteer.areas}
        self._shares: set[tuple[str, int]] = set()
        self._notices: set[tuple[str, int]] = set()
        self._purged_hour = -1

    async def submit(self, draft: ReportDraft, source: SourceRef) -> Submitted:
        outcome = await self.node.submit(draft, source)
        if isinstance(outcome, Accepted):
            return Submitted(True, review=bool(outcome.review_reasons))
        return Submitted(False, rate_limited=isinstance(outcome, RateLimited))

    def _recent(self, report_type: str | None, area_id: str | None, floor: float) -> list[_Row]:
        """The cluster's (or all clusters') active reports of the last ALERT_HOURS with at least
        `floor` confidence, not debunked or archived, as the node's decay rules see them."""
        now = self.node.clock()
        where = "hour >= :hour AND confidence >= :floor AND verdict NOT IN ('debunked', 'archived')"
        params: dict[str, object] = {"hour": to_hour(now) - ALERT_HOURS, "floor": floor}
        if report_type is not None:
            where += " AND type = :type AND area_id = :area"
            params.update(type=report_type, area=area_id)
        with self.node.engine.connect() as conn:
            found = conn.execute(text(f"SELECT {ROW_COLUMNS} FROM report WHERE {where}"), params)
            rows = [_Row(*row) for row in found]
            follow_ups: dict[str, list[FollowUp]] = {r.id: [] for r in rows}
            if rows:
                for report_id, kind, hour, moderator, member in conn.execute(
                    FOLLOW_UPS, {"ids": list(follow_ups)}
                ):
                    follow_ups[report_id].append(
                        FollowUp(FollowUpKind(kind), from_hour(hour), bool(moderator), bool(member))
                    )
        return [
            r
            for r in rows
            if still_active(r, follow_ups[r.id], decay_of(r, follow_ups[r.id], now, self.scoring))
        ]

    async def targets(self, report_type: str, area_id: str) -> list[str]:
        rows = self._recent(report_type, area_id, 0.0)
        rows.sort(key=lambda r: (-r.confidence, r.id))
        return [r.id for r in rows]

    async def follow_up(self, target: str, kind: FollowUpKind, source: SourceRef) -> bool:
        return isinstance(await self.node.follow_up(target, kind, source), PublicReport)

    async def shown(self, level: str) -> list[Shown]:
        best: dict[tuple[str, str], float] = {}
        for r in self._recent(None, None, level_floor(level)):
            key = (r.type, r.area_id)
            best[key] = max(best.get(key, 0.0), r.confidence)
        return [Shown(t, a, level_for(c).value) for (t, a), c in sorted(best.items())]

    def _area_id(self, name: str) -> str:
        return self.area_of_name.get(name, f"text:{name}")

    async def changes(self) -> tuple[list[NoticeChange], list[ShareChange], list[VerifyRequest]]:
        notices: list[NoticeChange] = []
        shares: list[ShareChange] = []
        requests: list[VerifyRequest] = []
        # Rows are told apart by (alert or notice, seq), not by id: the store may reuse a
        # purged row's id. Only unseen rows' bodies are read.
        with self.node.engine.connect() as conn:
            fresh = [
                key for key in conn.execute(text("SELECT alert_id, seq FROM outbox")).all()
                if tuple(key) not in self._shares
            ]  # fmt: skip
            for alert_id, seq in sorted(fresh, key=lambda k: k[1]):
                self._shares.add((alert_id, seq))
                body = json.loads(
                    conn.execute(
                        text("SELECT body FROM outbox WHERE alert_id = :a AND seq = :s"),
                        {"a": alert_id, "s": seq},
                    ).scalar_one()
                )
                shares.append(
                    ShareChange(
                        alert_id,
                        body["kind"],
                        body["type"],
                        self._area_id(body["area"]),
                        body["level"],
                        datetime.fromisoformat(body["expires"]),
                        body["still_active"],
                    )
                )
            found = conn.execute(
                text("SELECT notice_id, seq FROM responder_outbox WHERE consumer = :c"),
                {"c": MATRIX},
            ).all()
            fresh = [key for key in found if tuple(key) not in self._notices]
            for notice_id, seq in sorted(fresh, key=lambda k: k[1]):
                self._notices.add((notice_id, seq))
                body = json.loads(
                    conn.execute(
                        text(
                            "SELECT body FROM responder_outbox"
                            " WHERE consumer = :c AND notice_id = :n AND seq = :s"
                        ),
                        {"c": MATRIX, "n": notice_id, "s": seq},
                    ).scalar_one()
                )
                if body.get("origin"):
                    continue  # a neighbour's alert: not this chapter's decision
                change = NoticeChange(
                    notice_id, body["kind"], body["type"], self._area_id(body["area"]),
                    body["level"],
                )  # fmt: skip
                notices.append(change)
                if change.kind == "new":
                    requests.append(
                        VerifyRequest(
                            change.key, change.type, change.area_id, tuple(body["report_ids"])
                        )
                    )
        return notices, shares, requests

    async def claim(self, request: VerifyRequest, eta_minutes: float) -> None:
        return None  # today nobody records a claim; the verifier just goes

    async def answer(self, request: VerifyRequest, answer: Answer) -> None:
        if answer == Answer.UNABLE:
            return
        ids = await self.targets(request.type, request.area_id) or list(request.hint)
        if not ids:
            return
        if answer == Answer.CONFIRM:
            await self.node.moderate(ids[0], ModeratorAction.CONFIRM)
        else:
            await self.node.moderate_many(ids, ModeratorAction.DEBUNK)

    async def every_minute(self) -> bool:
        """Node.check_responders, as `vecinos run` schedules it each minute; skipped (False)
        when no notice is held and no verification request is open, where it provably
        changes nothing."""
        with Session(self.node.engine) as session:
            idle = not held_clusters(session) and not verification.open_requests(session)
        if idle:
            return False
        await self.node.check_responders()
        return True

    async def scheduled(self) -> None:
        """Retention (Node.purge), as `vecinos run` schedules it, skipped where it provably
        changes nothing the simulator sees (it costs several ms): everything it decides
        depends on the hour only, and every other change of the hour's clusters was settled
        by the call that made it, so only the first run in an hour can act; and only when
        an alert or notice is open or a report is due."""
        hour = to_hour(self.node.clock())
        if hour == self._purged_hour:
            return
        self._purged_hour = hour
        with self.node.engine.connect() as conn:
            busy = conn.execute(PURGE_MATTERS, {"hour": hour}).scalar()
        if busy:
            await self.node.purge()

    async def close(self) -> None:
        await self.node.close()


# -- opening a chapter ------------------------------------------------------------------


def set_config(data_dir: Path, section: str, key: str, value: str) -> None:
    """Set one key of a fresh chapter's vecinos.toml (its template lists every key)."""
    path = data_dir / CONFIG_NAME
    head, _, tail = path.read_text().partition(f"[{section}]\n")
    tail, count = re.subn(
        rf"^(# )?{re.escape(key)} = .*$", f"{key} = {value}", tail, count=1, flags=re.M
    )
    if not count:
        raise KeyError(f"[{section}] {key}")
    path.write_text(f"{head}[{section}]\n{tail}")


# The bench chapter: shipped defaults, except that Matrix is configured (never
# connected: only the CLI's `run` starts federation) so the node keeps responder
# notices, and SQLite trades durability it does not need here for speed.
BENCH_CONFIG = (
    ("matrix", "homeserver", '"http://127.0.0.1:9"'),
    ("matrix", "user_id", '"@bench:localhost"'),
    ("storage", "sqlite_synchronous", '"NORMAL"'),
)

ADAPTERS: dict[str, type] = {"reports": ReportsChapter}
DEFAULT_ADAPTER = "reports"


async def open_chapter(data_dir: Path, clock: Clock, adapter: str = DEFAULT_ADAPTER) -> Chapter:
    """A fresh chapter in `data_dir` on the fake clock, behind the named adapter."""
    init_chapter(data_dir, "Accuracy Bench")
    for section, key, value in BENCH_CONFIG:
        set_config(data_dir, section, key, value)
    return ADAPTERS[adapter](await open_node(data_dir, clock=clock))
