"""The node's facade: what every channel (web, Matrix bot, CLI) may call.

Rule: channels talk to the node only through Node; they never touch the
store, the keys or the scorer directly. Built by node.service.open_node().
Writes go through the single writer thread (node.writer); reads run in
worker threads on their own sessions.

Two kinds of reads (node.publication): what the public may see
(active_reports, public_report, public_alerts) comes from the snapshot of the
last publication tick (tick(), run by the scheduler); what vetted people see
(live_reports for the member room, the review queue, the responders, the 201
of a reporter's own report) is live.

Rate limits count only what intake accepted, and every refusal says "retry
after the whole window" (node.sources).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, delete, select

from node import incidents, moderation, verification
from node.alerts import (
    OUTBOX_WRITTEN,
    PUSH_WRITTEN,
    AlertSettings,
    active_alert_bodies,
    cluster_reports,
    record_stage,
    refresh_alert,
    refresh_unassigned,
)
from node.channels import consumers
from node.config import CONFIG_NAME, ConfigError, NodeConfig, load_config, set_values
from node.filetimes import set_back, set_back_tree
from node.gazetteer import DEFAULT_PATH, Gazetteer
from node.i18n import SUPPORTED, translate
from node.incident_store import mark_unable
from node.intake import (
    IntakeContext,
    IntakeLimits,
    apply_verdict,
    area_text_of,
    description_of,
    settle,
    store_follow_up,
    store_report,
    validate,
)
from node.keys import KeyRing, load_signing_key
from node.localtime import chapter_zone, hour_text, local
from node.moderators import session_key_valid, verify_moderator
from node.outcome import (
    Accepted,
    AreaView,
    FieldError,
    MatrixSettings,
    Neighbour,
    Outcome,
    OutgoingAlert,
    PublicAlert,
    PublicIncident,
    PublicReport,
    QueueItem,
    RateLimited,
    ReceivedAlert,
    Refused,
    ReportDraft,
    SourceRef,
    Unavailable,
)
from node.publication import Snapshot
from node.push import subscriptions as push_subscriptions
from node.push.endpoints import PushHosts
from node.push.keys import PushKeys
from node.push.messages import Change
from node.recent import Entry, RecentIndex
from node.reports import (
    PUBLIC_DESCRIPTION_STATUSES,
    RETENTION_CLASS,
    Bounds,
    follow_ups_for,
    is_visible,
    public_view,
    recent_hours,
)
from node.responders import (
    MATRIX,
    RESPONDERS_WRITTEN,
    Notice,
    ResponderSettings,
    held_clusters,
    queue_reoffer,
    record_received,
)
from node.retention import PurgeCounts, purge
from node.setup import DESCRIPTION_KEYS_DIR, KEYS_DIR, check_data_dir
from node.sources import RateLimiter, RecentMemory, SourceKeys, TicketRules
from node.store import (
    DB_NAME,
    Alert,
    AlertRoom,
    Counter,
    Incident,
    NeighbourRow,
    OutboxAlert,
    PushQueueRow,
    ReceivedAlertRow,
    Report,
    ResponderNotice,
    ResponderOutbox,
    database_url,
    from_hour,
    make_engine,
    to_hour,
)
from node.trends import Trends, aggregate_counts, on_clock
from node.writer import Writer
from scoring.defaults import level_floor
from scoring.model import Channel, FollowUp, FollowUpKind, ReportType, Verdict
from scoring.review import priority

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]
UNAVAILABLE_RETRY_S = 30
PUSH_SUBSCRIPTIONS_PER_HOUR = 10  # a browser renews at most daily; ten allow a few devices
FEED_ENDED_HOURS = 12  # an all-clear stays in the feeds this long
LAST_PURGE = "last_purge_hour"  # counter row: the hour (since the epoch) of the latest purge
PUSH_QUEUE = "push_queue"  # the Web Push fan-out's table, where that feature is installed
MAX_LISTED = 500  # the most recent reports a public list looks at (a flood cannot grow a page)
LISTED_HOURS = 48  # ... of these last hours
# Reports of the last LISTED_HOURS a tick publishes (the public may read each by its id); the
# latest ones when a flood brings more. Kept as light copies without ciphertext (a few MB).
MAX_PUBLISHED = 20_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def responder_settings(config: NodeConfig) -> ResponderSettings:
    """Who drains responder notices; with nobody, settle watches nothing more than alerts."""
    found = consumers(config)
    threshold = level_floor(config.scoring.responder_level) if found else 1.0
    verifying = any(c.name == MATRIX for c in found)  # verifiers are dispatched in the room
    return ResponderSettings(
        found,
        threshold,
        hold=timedelta(minutes=config.get("responders", "hold_minutes")),
        verify_types=frozenset(config.get_list("responders", "verify_types"))
        if verifying
        else frozenset(),
    )


def _bump(session: Session, name: str, n: int = 1) -> None:
    row = session.get(Counter, name) or Counter(name=name)
    row.count += n
    session.add(row)


def _matrix_settings(data_dir: Path, config: NodeConfig) -> MatrixSettings:
    """What federation/ reads of a config, as plain values."""
    return MatrixSettings(
        data_dir=data_dir,
        chapter_id=config.chapter_id,
        homeserver=config.get("matrix", "homeserver"),
        user_id=config.get("matrix", "user_id"),
        relay=bool(config.get("federation", "relay")),
        share_threshold=float(config.get("federation", "share_threshold")),
        retention_ms=int(config.get("retention", "unverified_hours")) * 3_600_000,
        redact_member_messages=bool(config.get("matrix", "redact_member_messages")),
        moderator_level=int(config.get("matrix", "moderator_level")),
        moderators=tuple(config.get_list("matrix", "responder_moderators")),
        responders=tuple(config.get_list("matrix", "responders")),
        verifier_level=int(config.get("matrix", "verifier_level")),
        verifiers=tuple(config.get_list("matrix", "verifiers")),
    )


def read_matrix_settings(data_dir: Path) -> MatrixSettings:
    """A data dir's matrix settings without opening its node (`vecinos matrix setup`);
    DataDirError / ConfigError when it holds no valid chapter."""
    return _matrix_settings(data_dir, load_config(check_data_dir(data_dir)))


def record_matrix_bot(data_dir: Path, homeserver: str, user_id: str) -> Path:
    """Write the bot's homeserver and Matrix ID into the chapter's vecinos.toml (its path)."""
    path = data_dir / CONFIG_NAME
    set_values(path, {("matrix", "homeserver"): homeserver, ("matrix", "user_id"): user_id})
    return path


def push_contact(config: NodeConfig) -> str:
    """VAPID's `sub`: [push] contact, else the public https address, else a placeholder."""
    contact = config.get("push", "contact")
    if contact:
        return contact
    url = config.get("web", "public_url")
    return url.rstrip("/") if url.startswith("https://") else "mailto:push@vecinos.invalid"


class ModeratorAction(StrEnum):
    CONFIRM = "confirm"
    DEBUNK = "debunk"
    ARCHIVE = "archive"
    STILL_THERE = "still_there"
    GONE = "gone"


VERDICT_OF: dict[ModeratorAction, Verdict] = {
    ModeratorAction.CONFIRM: Verdict.CONFIRMED,
    ModeratorAction.DEBUNK: Verdict.DEBUNKED,
    ModeratorAction.ARCHIVE: Verdict.ARCHIVED,
}


class Node:
    """One chapter's node. All methods are safe to call from the event loop."""

    def __init__(self, data_dir: Path, config: NodeConfig, clock: Clock = utc_now) -> None:
        self.data_dir = data_dir
        self.config = config
        self.clock = clock
        gazetteer_path = config.get("chapter", "gazetteer")
        self.gazetteer = Gazetteer.load(
            (data_dir / gazetteer_path) if gazetteer_path else DEFAULT_PATH
        )
        # The chapter's clock, for every time a volunteer reads (stored times stay UTC).
        self.timezone = chapter_zone(config.get("chapter", "timezone"), self.gazetteer.timezone)
        url = database_url(data_dir, config.get("storage", "database_url"))
        synchronous = config.get("storage", "sqlite_synchronous")
        self.engine = make_engine(url, synchronous)  # readers
        # The recent window in memory (node.recent), rebuilt from the store on every start.
        self.recent = RecentIndex(recent_hours(config.scoring))
        self.writer = Writer(
            make_engine(url, synchronous, writer=True) if url.startswith("sqlite") else self.engine,
            before_commit=lambda session: settle(session, self.context),
            after_commit=self._after_commit,
            journal=self.recent,
        )
        with Session(self.writer.engine) as session:
            self.recent.load(session, to_hour(clock()))
        self._loop: asyncio.AbstractEventLoop | None = None
        self.keys = KeyRing(data_dir / KEYS_DIR / DESCRIPTION_KEYS_DIR, clock)
        scoring = config.scoring
        now = clock()
        self.limiter = RateLimiter(
            config.get("intake", "rate_limit_reports"),
            timedelta(minutes=config.get("intake", "rate_limit_window_minutes")),
            config.get("intake", "rate_limit_max_sources"),
            TicketRules(
                bits=config.get("intake", "ticket_bits"),
                wait_s=config.get("intake", "ticket_wait_seconds"),
                step=config.get("intake", "ticket_step"),
            ),
        )
        longest = max(scoring.expiry(t) for t in ReportType)
        self.memory = RecentMemory(keep=max(scoring.window, longest) + timedelta(hours=2))
        # The previous day's key lives as long as anything hashed with it is remembered.
        self.source_keys = SourceKeys(now, keep_previous_for=self.memory.keep)
        self.limits = IntakeLimits(
            config.get("intake", "max_area_chars"), config.get("intake", "max_description_chars")
        )
        self.retention = {
            "transient": timedelta(hours=config.get("retention", "unverified_hours")),
            "verified": timedelta(days=config.get("retention", "verified_days")),
            "archived": timedelta(days=config.get("retention", "archived_days")),
        }
        self.context = IntakeContext(
            config=scoring,
            keys=self.keys,
            memory=self.memory,
            alerts=AlertSettings(
                config.chapter_id,
                config.get("federation", "share_threshold"),
                responder_settings(config),
                push=config.get("push", "enabled"),
            ),
            retention=self.retention,
            nearby=self._nearby,
            bounds=Bounds(
                config.get("intake", "max_neighbours"), config.get("intake", "max_rescored")
            ),
            recent=self.recent,
        )
        # Set whenever the outbox gets a row: federation's delivery loop awaits it.
        self.outbox_ready = asyncio.Event()
        # One per consumer of responder notices, set whenever one is queued.
        self._notice_events: list[asyncio.Event] = []
        self.public_statuses = PUBLIC_DESCRIPTION_STATUSES[
            config.get("web", "public_descriptions_from")
        ]
        self.sketches = moderation.SketchCache()  # near-copy sketches, memory only
        # Verifiers' claims and claim-to-answer times: memory only (node.verification).
        self.desk = verification.Desk(
            timedelta(minutes=config.get("responders", "offer_minutes")),
            timedelta(minutes=config.get("responders", "claim_minutes")),
        )
        # Web Push (node.push): keys made on first start; set when a change is queued.
        self.push_ready = asyncio.Event()
        try:
            self.push_hosts = PushHosts.parse(config.get_list("push", "allow_hosts"))
        except ValueError as exc:
            raise ConfigError(f"[push] allow_hosts: {exc}") from exc
        # Subscriptions one source may add or renew (a flood cannot grow the table).
        self.push_limiter = RateLimiter(
            PUSH_SUBSCRIPTIONS_PER_HOUR,
            timedelta(hours=1),
            config.get("intake", "rate_limit_max_sources"),
        )
        self.push_keys = (
            PushKeys(data_dir / KEYS_DIR, push_contact(config))
            if config.get("push", "enabled")
            else None
        )
        # What the public sees: the last publication tick's snapshot (node.publication).
        self.publication = Snapshot()
        self.published_incidents: tuple[PublicIncident, ...] = ()  # as of the last tick
        # SQLite's files, set back to the hour after every write (node.filetimes).
        self._db_files: tuple[Path, ...] = ()
        if url.startswith("sqlite") and url == database_url(data_dir, ""):
            db = data_dir / DB_NAME
            self._db_files = (db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm"))

    @property
    def chapter_name(self) -> str:
        return self.config.chapter_name

    @property
    def default_language(self) -> str:
        """The language for a browser that asks for none the node has."""
        return self.config.get("chapter", "default_language")

    @property
    def hotline(self) -> str:
        return self.config.get("chapter", "hotline")

    # -- what federation/ reads (it never opens the config or key files itself) -----

    def matrix_settings(self) -> MatrixSettings:
        """The [matrix]/[federation] values federation/ uses, as the node started with them."""
        return _matrix_settings(self.data_dir, self.config)

    def reread_matrix_settings(self) -> MatrixSettings | None:
        """The same, from vecinos.toml as it is now (SIGHUP applies a changed responders
        list); None (and a warning) when the file cannot be read."""
        try:
            return _matrix_settings(self.data_dir, load_config(self.data_dir / CONFIG_NAME))
        except ConfigError as exc:
            log.warning("config not re-read (%s); keeping the last one", exc)
            return None

    def signing_key(self):  # -> nacl SigningKey with .version (signedjson)
        """The chapter's federation signing key (DATA/keys), read now."""
        return load_signing_key(self.data_dir / KEYS_DIR)

    languages: tuple[str, ...] = SUPPORTED  # the languages the node has catalogs for

    @staticmethod
    def text(code: str, lang: str, **params: object) -> str:
        """A message id in `lang` (English when `lang` has no catalog), {params} filled in."""
        return translate(code, lang, **params)

    def highway(self, text: str) -> str | None:
        """The chapter's spelling of a highway, or None when it is not on its list."""
        return self.gazetteer.highway(text)

    def local_time(self, moment: datetime) -> datetime:
        """A stored (UTC) time on the chapter's clock ([chapter] timezone)."""
        return local(moment, self.timezone)

    def hour_text(self, moment: datetime) -> str:
        """A stored hour as volunteers read it: "2025-06-01 14:00 PDT"."""
        return hour_text(moment, self.timezone)

    # -- helpers ---------------------------------------------------------

    def _nearby(self, area_id: str) -> Sequence[str]:
        """An area and its gazetteer neighbours; a place not on the list is alone (and its id
        never enters the gazetteer's cache)."""
        if area_id not in self.gazetteer.by_id:
            return (area_id,)
        return self.gazetteer.nearby(area_id, 2 * self.config.scoring.radius_km)

    def _after_commit(self, info: dict[str, object]) -> None:
        """On the writer thread: the database's files back to the hour; wake federation when
        a commit queued an alert or a notice."""
        set_back(self._db_files, self.clock())
        if info.get(OUTBOX_WRITTEN) and self._loop is not None:
            self._loop.call_soon_threadsafe(self.outbox_ready.set)
        if info.get(PUSH_WRITTEN) and self._loop is not None:
            self._loop.call_soon_threadsafe(self.push_ready.set)
        for notice_id in info.get(verification.OPENED) or ():  # type: ignore[attr-defined]
            self.desk.offered(notice_id, self.clock())  # offered with its opening
        if info.get(RESPONDERS_WRITTEN) and self._loop is not None:
            for event in self._notice_events:
                self._loop.call_soon_threadsafe(event.set)

    async def _write(self, job: Callable[[Session], T]) -> T | Unavailable:
        """Run a write on the writer; Unavailable when the store cannot take it."""
        try:
            return await self.writer.run(job)
        except OperationalError as exc:  # locked, disk full, server gone: nothing was kept
            log.error("write not stored: %s", type(exc.orig).__name__)
            return Unavailable(UNAVAILABLE_RETRY_S)
        except OSError as exc:  # a new description key could not be written (disk full)
            log.error("write not stored: %s", type(exc).__name__)
            return Unavailable(UNAVAILABLE_RETRY_S)

    async def _read(self, job: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return job(session)

        return await asyncio.to_thread(run)

    def _description(self, row: Report) -> str | None:
        return description_of(row, self.keys)

    def _public(self, row: Report, follow_ups, now: datetime) -> PublicReport:
        text = self._description(row) if row.status in self.public_statuses else None
        return public_view(row, follow_ups, now, self.config.scoring, text)

    # -- intake ------------------------------------------------------------

    def _admit(self, tag: bytes, now: datetime, proof: str | None) -> RateLimited | str | None:
        """Count an accepted submission against its source: None (within the bucket), the
        ticket it redeemed (take it back with _unadmit if nothing is stored), or RateLimited
        (the whole window, and a new ticket to get past it)."""
        if not self.limiter.hit(tag, now):
            return None
        if proof and self.limiter.redeem(tag, proof, now):
            return proof
        ticket = self.limiter.ticket(tag, now)
        return RateLimited(self.limiter.retry_after_s, ticket.token, ticket.bits, ticket.wait_s)

    def _unadmit(self, tag: bytes, now: datetime, admitted: str | None) -> None:
        if admitted is None:
            self.limiter.release(tag, now)
        else:
            self.limiter.unredeem(tag, admitted, now)

    async def submit(
        self, draft: ReportDraft, source: SourceRef, proof: str | None = None
    ) -> Outcome:
        """The one intake path: validate, moderate, score, store, flag, maybe alert.

        Only a report that is valid and stored counts against its source's rate
        limit; `proof` redeems a ticket of an earlier RateLimited (node.sources).
        """
        now = self.clock()
        checked = validate(draft, self.gazetteer, self.limits)
        if isinstance(checked, tuple):
            return Refused(checked, draft)
        tag = self.source_keys.primary(source.identity, now)
        admitted = self._admit(tag, now, proof)
        if isinstance(admitted, RateLimited):
            return admitted
        sources = self.source_keys.tags(source.identity, now)
        stored = await self._write(
            lambda s: store_report(s, self.context, checked, source.channel, sources, now)
        )
        if isinstance(stored, Unavailable):
            self._unadmit(tag, now, admitted)
            return stored
        return Accepted(self._public(stored.report, [], now), stored.review)

    async def follow_up(
        self, report_id: str, kind: FollowUpKind, source: SourceRef, proof: str | None = None
    ) -> PublicReport | RateLimited | Unavailable | None:
        """A "still there" / "gone" from a reporter; None when no such report.

        Counts against the rate limit only when the report exists. The answer is
        the report as the public sees it (as of the last tick; live for the
        reporter of a report not yet published), so it tells no more than a poll.
        """
        now = self.clock()
        exists = await self._read(lambda s: s.get(Report, report_id) is not None)
        if not exists:
            return None
        tag = self.source_keys.primary(source.identity, now)
        admitted = self._admit(tag, now, proof)
        if isinstance(admitted, RateLimited):
            return admitted
        sources = self.source_keys.tags(source.identity, now)
        member = source.channel == Channel.MEMBER
        row = await self._write(
            lambda s: store_follow_up(
                s, self.context, report_id, kind, sources, False, now, by_member=member
            )
        )
        if row is None or isinstance(row, Unavailable):
            self._unadmit(tag, now, admitted)
            return row
        if self.publication.published(report_id):
            return self.public_report(report_id)
        return await self.get_report(report_id)

    # -- reading -----------------------------------------------------------

    def _listed(self, session: Session, now: datetime, limit: int = MAX_LISTED) -> list[Report]:
        """The reports a list looks at: the latest `limit` of the last LISTED_HOURS."""
        horizon = to_hour(now) - LISTED_HOURS
        return list(
            session.exec(
                select(Report)
                .where(col(Report.hour) >= horizon)
                .order_by(col(Report.hour).desc(), col(Report.id))
                .limit(limit)
            ).all()
        )

    async def active_reports(self) -> list[PublicReport]:
        """What the public sees now: the reports of the last publication tick that are
        active, and debunks still visible as debunks, in no arrival order."""
        now = self.clock()
        snapshot = self.publication
        scoring = self.config.scoring
        shown = []
        for row in snapshot.reports:
            follow_ups = list(snapshot.follow_ups[row.id])
            if is_visible(row, follow_ups, now, scoring):
                text = snapshot.descriptions.get(row.id)
                shown.append(public_view(row, follow_ups, now, scoring, text))
        return shown

    def public_report(self, report_id: str) -> PublicReport | None:
        """One report as the public sees it (None until a tick published it)."""
        snapshot = self.publication
        row = snapshot.report(report_id)
        if row is None:
            return None
        text = snapshot.descriptions.get(report_id)
        follow_ups = list(snapshot.follow_ups[report_id])
        return public_view(row, follow_ups, self.clock(), self.config.scoring, text)

    def public_alerts(self) -> list[ReceivedAlert]:
        """Neighbours' alerts as of the last publication tick, not yet expired."""
        now = self.clock()
        return [a for a in self.publication.alerts if a.expires > now]

    async def live_reports(self) -> list[PublicReport]:
        """active_reports() from the live store, for vetted readers (the member room)."""
        now = self.clock()

        def job(session: Session) -> list[PublicReport]:
            rows = self._listed(session, now)
            follow_ups = follow_ups_for(session, [r.id for r in rows])
            return [
                self._public(r, follow_ups[r.id], now)
                for r in rows
                if is_visible(r, follow_ups[r.id], now, self.config.scoring)
            ]

        return await self._read(job)

    # -- publication ticks (node.publication) -----------------------------------

    async def publish(self) -> Snapshot:
        """A publication tick: what the public sees becomes what the store holds now."""
        now = self.clock()
        statuses = self.public_statuses

        def job(session: Session) -> tuple[list[Entry], dict, dict[str, str]]:
            rows = self._listed(session, now, MAX_PUBLISHED)
            follow_ups: dict[str, list[FollowUp]] = {}
            for start in range(0, len(rows), 500):
                chunk = [r.id for r in rows[start : start + 500]]
                follow_ups.update(follow_ups_for(session, chunk))
            texts = {}
            copies = []
            for row in rows:
                text = self._description(row) if row.status in statuses else None
                if text is not None:
                    texts[row.id] = text
                copy = Entry.of_row(row)
                copy.description_ct = copy.area_ct = None  # the public needs no ciphertext
                copies.append(copy)
            return copies, follow_ups, texts

        rows, follow_ups, texts = await self._read(job)
        alerts = await self.received_alerts()
        tick = self.publication.tick + 1
        self.publication = Snapshot.of(rows, follow_ups, texts, alerts, tick, MAX_LISTED)
        self.published_incidents = tuple(await self.live_incidents())
        return self.publication

    async def prepare_keys(self) -> int:
        """Create today's and tomorrow's day keys of every retention class ahead of need."""
        classes = sorted(set(RETENTION_CLASS.values()))
        return await asyncio.to_thread(self.keys.prepare, classes, self.clock())

    async def set_back_file_times(self) -> int:
        """Every file and directory of the data dir back to the start of the hour."""
        return await asyncio.to_thread(set_back_tree, self.data_dir, self.clock())

    async def tick(self) -> Snapshot:
        """The scheduler's publication tick: publish, keys ahead, file times to the hour."""
        snapshot = await self.publish()
        await self.prepare_keys()
        await self.set_back_file_times()
        return snapshot

    async def get_report(self, report_id: str) -> PublicReport | None:
        now = self.clock()

        def job(session: Session) -> PublicReport | None:
            row = session.get(Report, report_id)
            if row is None:
                return None
            return self._public(row, follow_ups_for(session, [row.id])[row.id], now)

        return await self._read(job)

    def areas(self) -> list[AreaView]:
        return [
            AreaView(a.id, a.name, a.aliases, a.place.lat, a.place.lon)
            for a in self.gazetteer.areas
        ]

    def highways(self) -> list[str]:
        return list(self.gazetteer.highways)

    # -- moderation ----------------------------------------------------------

    async def review_queue(self, limit: int = 200) -> list[QueueItem]:
        now = self.clock()
        scoring = self.config.scoring

        def job(session: Session) -> list[QueueItem]:
            rows = session.exec(select(Report).where(col(Report.in_review).is_(True))).all()
            follow_ups = follow_ups_for(session, [r.id for r in rows])
            held = {r.incident_id for r in rows if r.incident_id is not None}
            stages: dict[str, str] = {}
            if held:
                found = select(Incident.id, Incident.stage).where(col(Incident.id).in_(held))
                stages = {incident_id: stage for incident_id, stage in session.exec(found).all()}
            ranked = []
            for row in rows:
                view = public_view(row, follow_ups[row.id], now, scoring)
                reasons = tuple(r for r in row.review_reasons.split(",") if r)
                rank = priority(
                    ReportType(row.type), view.still_active, row.confidence, reasons, scoring
                )  # type: ignore[arg-type]
                ranked.append(((rank, row.hour, row.id), row, view, reasons))
            # An incident's reports together, the incidents by their most pressing report;
            # within one, highest priority first, then the most recent, ties by random id (never by
            # arrival). A report no incident holds is its own group. Only the shown ones are
            # decrypted.
            lead: dict[str, tuple[float, int, str]] = {}
            for order, row, _, _ in ranked:
                group = row.incident_id or row.id
                lead[group] = max(lead.get(group, order), order)
            ranked.sort(key=lambda item: (lead[item[1].incident_id or item[1].id], item[0]))
            ranked.reverse()
            return [
                QueueItem(
                    view,
                    reasons,
                    self._description(row),
                    order[0],
                    area_text=area_text_of(row, self.keys),
                    incident_id=row.incident_id,
                    incident_stage=stages.get(row.incident_id) if row.incident_id else None,
                )
                for order, row, view, reasons in ranked[:limit]
            ]

        return await self._read(job)

    async def moderate(
        self, report_id: str, action: ModeratorAction
    ) -> PublicReport | Unavailable | None:
        """A moderator's decision; None when no such report."""
        now = self.clock()
        if action in (ModeratorAction.STILL_THERE, ModeratorAction.GONE):
            kind = FollowUpKind(action.value)
            found = await self._write(
                lambda s: store_follow_up(s, self.context, report_id, kind, frozenset(), True, now)
            )
        else:
            found = await self._write(
                lambda s: apply_verdict(s, self.context, report_id, VERDICT_OF[action], now)
            )
        if not found or isinstance(found, Unavailable):
            return found or None
        return await self.get_report(report_id)

    async def verify_moderator(self, name: str, password: str) -> str | None:
        """The moderator's session key (node.moderators) when the password is right."""
        return await self._read(lambda s: verify_moderator(s, name, password))

    async def moderator_session_valid(self, key: str) -> bool:
        """Whether a session key still names a moderator with the same password."""
        return await self._read(lambda s: session_key_valid(s, key))

    # -- moderation tools and trends (node/moderation.py, node/trends.py) ------

    async def correct_report(
        self, report_id: str, report_type: str | None = None, area: str | None = None
    ) -> PublicReport | tuple[FieldError, ...] | Unavailable | None:
        """A moderator's fix of type and/or area (a gazetteer area); re-scores. None: no report."""
        errors: list[FieldError] = []
        kind = None
        if report_type is not None:
            try:
                kind = ReportType(report_type)
            except ValueError:
                errors.append(FieldError("type", "invalid_type"))
        match = self.gazetteer.match(area) if area is not None and area.strip() else None
        if match is not None and not match.known:
            errors.append(FieldError("area", "correction_unknown_area"))
        if errors:
            return tuple(errors)
        fix = moderation.Correction(kind, match)
        now = self.clock()
        found = await self._write(
            lambda s: moderation.correct_report(s, self.context, report_id, fix, now)
        )
        if found is None or isinstance(found, Unavailable):
            return found
        return await self.get_report(report_id)

    async def moderate_many(
        self, report_ids: Sequence[str], action: ModeratorAction
    ) -> int | Unavailable:
        """Confirm, debunk or archive up to moderation.MAX_BATCH reports; how many existed."""
        verdict = VERDICT_OF[action]
        now = self.clock()
        ids = list(report_ids)
        return await self._write(
            lambda s: moderation.apply_verdicts(s, self.context, ids, verdict, now)
        )

    async def near_copies(self, report_id: str) -> list[str]:
        """Undecided recent reports whose description is a near-copy of this report's."""
        now = self.clock()
        threshold = self.config.scoring.near_duplicate_similarity
        sketches = await self._read(
            lambda s: moderation.candidate_sketches(s, self.keys, self.sketches, now)
        )
        return moderation.near_copies(report_id, sketches, threshold)

    async def near_copy_counts(self, report_ids: Sequence[str]) -> dict[str, int]:
        """For each report, how many near-copies near_copies() would find."""
        now = self.clock()
        threshold = self.config.scoring.near_duplicate_similarity
        sketches = await self._read(
            lambda s: moderation.candidate_sketches(s, self.keys, self.sketches, now)
        )
        return moderation.near_copy_counts(list(report_ids), sketches, threshold)

    async def trends(self, days: int | None = None) -> Trends:
        """The aggregates of the last `days` days up to today (all of them when None);
        days on the chapter's clock, so its local rows start a UTC day earlier."""
        today = self.local_time(self.clock()).date()
        first = today - timedelta(days=days - 1) if days is not None else None
        since = first - timedelta(days=1) if first is not None else None
        rows = await self._read(lambda s: aggregate_counts(s, since))
        local_rows = [r for r in on_clock(rows, self.timezone) if first is None or r.day >= first]
        stored = [r for r in rows if first is None or r.day >= first]
        return Trends(today, first, tuple(stored), tuple(local_rows))

    # -- between chapters (called by federation/) --------------------------------

    async def pending_alerts(self, limit: int = 100) -> list[OutgoingAlert]:
        """Outbox rows not yet delivered, oldest first."""

        def job(session: Session) -> list[OutgoingAlert]:
            rows = session.exec(
                select(OutboxAlert)
                .where(col(OutboxAlert.delivered).is_(False))
                .order_by(col(OutboxAlert.id))
                .limit(limit)
            ).all()
            return [OutgoingAlert(r.id or 0, r.alert_id, r.seq, json.loads(r.body)) for r in rows]

        return await self._read(job)

    async def active_alerts(self) -> list[OutgoingAlert]:
        """This chapter's alerts still active, as last sent (for a new neighbour)."""
        rows = await self._read(
            lambda s: active_alert_bodies(s, self.clock(), self.config.chapter_id)
        )
        return [OutgoingAlert(0, a, seq, json.loads(body)) for a, seq, body in rows]

    async def alert_delivered(self, outbox_id: int) -> None:
        def job(session: Session) -> None:
            row = session.get(OutboxAlert, outbox_id)
            if row is not None:
                row.delivered = True
                session.add(row)

        await self.writer.run(job)

    async def alert_rooms(self, alert_id: str) -> frozenset[str]:
        """Rooms that were sent some seq of this alert (they get every later seq too)."""
        return await self._read(
            lambda s: frozenset(
                r.room_id for r in s.exec(select(AlertRoom).where(AlertRoom.alert_id == alert_id))
            )
        )

    async def add_alert_room(self, alert_id: str, room_id: str) -> None:
        def job(session: Session) -> None:
            if session.get(AlertRoom, (alert_id, room_id)) is None:
                session.add(AlertRoom(alert_id=alert_id, room_id=room_id))

        await self.writer.run(job)

    async def neighbours(self) -> list[Neighbour]:
        def job(session: Session) -> list[Neighbour]:
            rows = session.exec(select(NeighbourRow).order_by(col(NeighbourRow.chapter_id)))
            return [Neighbour(**r.model_dump()) for r in rows]

        return await self._read(job)

    async def save_neighbour(self, neighbour: Neighbour) -> None:
        """Add or replace (by chapter_id) a neighbour."""
        await self.writer.run(lambda s: s.merge(NeighbourRow(**asdict(neighbour))))

    async def remove_neighbour(self, chapter_id: str) -> bool:
        def job(session: Session) -> bool:
            row = session.get(NeighbourRow, chapter_id)
            if row is None:
                return False
            session.delete(row)
            return True

        return await self.writer.run(job)

    async def receive_alert(self, alert: ReceivedAlert) -> bool:
        """Store a verified neighbour alert; False when not newer than the stored seq."""
        fields = asdict(alert)
        fields["hour"] = to_hour(alert.hour)
        fields["expires_hour"] = to_hour(fields.pop("expires"))

        def job(session: Session) -> bool:
            row = session.get(ReceivedAlertRow, (alert.chapter, alert.alert_id))
            if row is not None and row.seq >= alert.seq:
                return False
            session.merge(ReceivedAlertRow(**fields))
            record_received(
                session, alert, self.clock(), self.config.scoring, self.context.alerts.responders
            )
            return True

        return await self.writer.run(job)

    async def received_alerts(self) -> list[ReceivedAlert]:
        """Neighbours' alerts not yet expired (withdrawn ones have still_active False)."""
        now_hour = to_hour(self.clock())

        def job(session: Session) -> list[ReceivedAlert]:
            rows = session.exec(
                select(ReceivedAlertRow)
                .where(col(ReceivedAlertRow.expires_hour) > now_hour)
                .order_by(col(ReceivedAlertRow.hour).desc())
            )
            found = []
            for row in rows:
                fields = row.model_dump()
                fields["hour"] = from_hour(fields["hour"])
                fields["expires"] = from_hour(fields.pop("expires_hour"))
                found.append(ReceivedAlert(**fields))
            return found

        return await self._read(job)

    async def latest_seqs(self) -> dict[tuple[str, str], int]:
        """(origin chapter, alert id) -> highest seq stored, to seed replay protection."""
        return await self._read(
            lambda s: {(r.chapter, r.alert_id): r.seq for r in s.exec(select(ReceivedAlertRow))}
        )

    # -- responders (consumers: federation.responders, node.channels) -------------

    @property
    def public_url(self) -> str:
        return self.config.get("web", "public_url")

    def watch_notices(self) -> asyncio.Event:
        """An event set whenever a responder notice is queued (one per consumer; it clears it)."""
        event = asyncio.Event()
        self._notice_events.append(event)
        return event

    async def pending_notices(self, consumer: str, limit: int = 50) -> list[Notice]:
        """Responder notices queued for one consumer, oldest first."""

        def job(session: Session) -> list[Notice]:
            rows = session.exec(
                select(ResponderOutbox)
                .where(ResponderOutbox.consumer == consumer)
                .order_by(col(ResponderOutbox.id))
                .limit(limit)
            ).all()
            return [Notice(r.id or 0, r.consumer, json.loads(r.body)) for r in rows]

        return await self._read(job)

    async def notice_done(self, outbox_id: int) -> None:
        """A consumer sent (or gave up on) one queued notice."""
        await self.writer.run(
            lambda s: s.exec(delete(ResponderOutbox).where(col(ResponderOutbox.id) == outbox_id))
        )

    async def notice_root(self, notice_id: str) -> str | None:
        """The Matrix event that opened the notice's thread in the responders room."""

        def job(session: Session) -> str | None:
            row = session.get(ResponderNotice, notice_id)
            return row.root_event_id if row is not None else None

        return await self._read(job)

    async def set_notice_root(self, notice_id: str, event_id: str) -> None:
        def job(session: Session) -> None:
            row = session.get(ResponderNotice, notice_id)
            if row is not None:
                row.root_event_id = event_id
                session.add(row)

        await self.writer.run(job)

    # -- verifier dispatch (node.verification; federation.responders, web) -------

    async def check_responders(self) -> int:
        """The scheduled check (every minute; `now` is the node's clock): held notices whose
        hold has passed open, unclaimed or timed-out verification requests are offered
        again. How many requests were offered again."""
        now = self.clock()
        settings = self.context.alerts
        scoring = self.config.scoring

        def job(session: Session) -> int:
            for area_id, report_type in held_clusters(session):
                refresh_alert(session, area_id, report_type, now, scoring, settings)
            open_ids = {n.notice_id for n in verification.open_requests(session)}
            offered = 0
            for notice_id in self.desk.due(open_ids, now):
                if queue_reoffer(session, notice_id, settings.responders):
                    self.desk.offered(notice_id, now)
                    offered += 1
            if offered:
                _bump(session, "verifications_offered_again", offered)
            return offered

        found = await self._write(job)
        return 0 if isinstance(found, Unavailable) else found

    async def verification_requests(self) -> list[verification.Request]:
        """The open verification requests, claimed or not (claims from memory)."""
        rows = await self._read(verification.open_requests)
        found = []
        for notice in rows:
            claim = self.desk.holder(notice.notice_id)
            found.append(
                verification.Request(
                    notice_id=notice.notice_id,
                    type=notice.type,
                    area=notice.area_name,
                    highway=notice.highway,
                    hour=from_hour(notice.hour),
                    level=notice.level,
                    reports=notice.reports,
                    claimed=claim is not None,
                    eta=claim.eta if claim else None,
                    claimed_since=claim.since if claim else None,
                    token=claim.token if claim else None,
                )
            )
        return found

    async def verification_for_thread(self, event_id: str) -> str | None:
        """The open request whose responders-room thread starts at this event."""
        return await self._read(lambda s: verification.request_by_root(s, event_id))

    async def claim_verification(
        self, notice_id: str, claimer: str, eta: int | None
    ) -> verification.ClaimResult | None:
        """A verifier claims a request (claimer: whatever names them in the room; only a
        keyed hash of it is kept, in memory). None: no such open request."""
        if await self._read(lambda s: verification.request_of(s, notice_id)) is None:
            return None
        return self.desk.claim(notice_id, claimer, eta, self.clock())

    async def answer_verification(
        self, notice_id: str, answer: verification.Answer, claimer: str | None
    ) -> verification.Outcome | Unavailable:
        """The verifier's answer (claimer None: a moderator, who may answer any request).
        Confirmed and false alarm confirm or debunk the undecided reports of the notice's
        incident (not an earlier one at the place), as a moderator would; unable stores the
        incident's stage as "unable" (scoring.incident, node.incident_store), lets the claim
        go and offers the request again at once."""
        if claimer is not None and not self.desk.may_answer(notice_id, claimer):
            return verification.Outcome.NOT_YOURS
        now = self.clock()
        settings = self.context.alerts

        def job(session: Session) -> bool:
            notice = verification.request_of(session, notice_id)
            if notice is None:
                return False
            _bump(session, f"verifications_{answer.value}")
            area_id, _, report_type = notice.source_key.rpartition("|")
            unable = answer == verification.Answer.UNABLE
            mark_unable(session, area_id, report_type, unable)  # node.incident_store
            if unable:  # the stage says so; no report changes, so no alert or notice does
                record_stage(session, area_id, report_type, now, self.config.scoring, settings)
                self.desk.release(notice_id)
                if queue_reoffer(session, notice_id, settings.responders):
                    self.desk.offered(notice_id, now)
                return True
            verification.close_request(session, notice_id, answer.value)
            rows, _ = cluster_reports(session, area_id, report_type, to_hour(now))
            mine = notice.incident_id  # what the verifier looked at: this incident's reports
            undecided = [
                r.id
                for r in rows
                if r.verdict == Verdict.NONE and (mine is None or r.incident_id == mine)
            ]
            verdict = (
                Verdict.CONFIRMED if answer == verification.Answer.CONFIRMED else (Verdict.DEBUNKED)
            )
            moderation.apply_verdicts(session, self.context, undecided, verdict, now)
            return True

        done = await self._write(job)
        if isinstance(done, Unavailable):
            return done
        if not done:
            return verification.Outcome.NOT_OPEN
        if answer != verification.Answer.UNABLE:
            taken = self.desk.answered(notice_id, now)
            if taken is not None:  # at rest in whole hours only: verification_time_0h, _1h, ...
                await self.count(f"verification_time_{int(taken // timedelta(hours=1))}h")
        return verification.Outcome.DONE

    def verification_times(self) -> tuple[timedelta, ...]:
        """Claim-to-answer times since the node started (memory only): the bench's figure.
        At rest only whole hours are counted (counters verification_time_<h>h)."""
        return self.desk.times()

    async def count(self, name: str, n: int = 1) -> None:
        """Add to a named counter (alerts_sent, rejected_bad_signature, ...); kept in the DB."""

        def job(session: Session) -> None:
            row = session.get(Counter, name) or Counter(name=name)
            row.count += n
            session.add(row)

        await self.writer.run(job)

    async def counters(self) -> dict[str, int]:
        return await self._read(lambda s: {r.name: r.count for r in s.exec(select(Counter))})

    async def feed_alerts(self, area_id: str | None = None) -> list[PublicAlert]:
        """The chapter's own alerts for the feeds: open ones, and those ended in the last
        FEED_ENDED_HOURS (as all-clears). Most serious first, then by area: no arrival order."""
        now_hour = to_hour(self.clock())

        def job(session: Session) -> list[PublicAlert]:
            query = select(Alert).where(col(Alert.expires_hour) > now_hour - FEED_ENDED_HOURS)
            if area_id is not None:
                query = query.where(Alert.area_id == area_id)
            found = []
            for row in session.exec(query):
                ended = row.withdrawn or row.expires_hour <= now_hour
                found.append(
                    PublicAlert(
                        alert_id=row.alert_id,
                        type=row.type,
                        area_id=row.area_id,
                        area_name=row.area_name,
                        highway=row.highway,
                        level=row.level,
                        hour=from_hour(row.hour),
                        expires=from_hour(row.expires_hour),
                        ended=ended,
                        incident_id=getattr(row, "incident_id", None),
                    )
                )
            found.sort(key=lambda a: (a.ended, -level_floor(a.level), a.type, a.area_name))
            return found

        return await self._read(job)

    # -- Web Push (web.push, node.push.sender) ------------------------------------

    @property
    def push_enabled(self) -> bool:
        return self.push_keys is not None

    def push_public_key(self) -> str | None:
        """The VAPID applicationServerKey (base64url), None when Web Push is off."""
        return self.push_keys.application_server_key if self.push_keys else None

    async def subscribe_push(
        self, body: object, source: SourceRef
    ) -> push_subscriptions.Subscription | tuple[FieldError, ...] | RateLimited | Unavailable:
        """Add or renew a browser's subscription; its per-field reasons when refused.

        Only accepted subscriptions count against the source's limit.
        """
        assert self.push_keys is not None
        keys = self.push_keys
        found = push_subscriptions.parse_subscription(
            body, self.push_hosts, (a.id for a in self.gazetteer.areas), keys
        )
        if isinstance(found, tuple):
            return found
        now = self.clock()
        wait = self.push_limiter.hit(self.source_keys.primary(source.identity, now), now)
        if wait:
            return RateLimited(wait)
        days = self.config.get("push", "expiry_days")
        expires = to_hour(self.clock()) + 24 * days
        stored = await self._write(lambda s: push_subscriptions.save(s, keys, found, expires))
        return stored if isinstance(stored, Unavailable) else found

    async def unsubscribe_push(self, endpoint: str) -> bool | Unavailable:
        assert self.push_keys is not None
        keys = self.push_keys
        return await self._write(lambda s: push_subscriptions.remove(s, keys, endpoint))

    async def push_subscriptions(self) -> list[push_subscriptions.Subscription]:
        """Every live subscription, unsealed (the fan-out's read; memory only)."""
        assert self.push_keys is not None
        keys, now_hour = self.push_keys, to_hour(self.clock())
        return await self._read(lambda s: push_subscriptions.load_all(s, keys, now_hour))

    async def push_subscription_count(self) -> int:
        now_hour = to_hour(self.clock())
        return await self._read(lambda s: push_subscriptions.count(s, now_hour))

    async def drop_push_subscriptions(self, ids: Sequence[str]) -> None:
        await self.writer.run(lambda s: push_subscriptions.remove_ids(s, list(ids)))

    async def pending_pushes(self, limit: int = 20) -> list[tuple[int, Change]]:
        """Queued alert changes for the fan-out, oldest first."""

        def job(session: Session) -> list[tuple[int, Change]]:
            rows = session.exec(
                select(PushQueueRow).order_by(col(PushQueueRow.id)).limit(limit)
            ).all()
            return [(r.id or 0, Change.from_body(r.body)) for r in rows]

        return await self._read(job)

    async def push_done(self, row_id: int) -> None:
        await self.writer.run(
            lambda s: s.exec(delete(PushQueueRow).where(col(PushQueueRow.id) == row_id))
        )

    async def queue_sizes(self) -> dict[str, int]:
        """What waits, for `vecinos status`: the review queue, the federation outbox,
        responder notices per consumer ("notices_matrix", ...) and the Web Push queue."""

        def job(session: Session) -> dict[str, int]:
            sizes = {
                "review": session.exec(
                    select(func.count()).select_from(Report).where(col(Report.in_review))
                ).one(),
                "outbox": session.exec(
                    select(func.count())
                    .select_from(OutboxAlert)
                    .where(col(OutboxAlert.delivered).is_(False))
                ).one(),
            }
            per_consumer = session.exec(
                select(ResponderOutbox.consumer, func.count()).group_by(ResponderOutbox.consumer)
            ).all()
            sizes.update({f"notices_{name}": n for name, n in per_consumer})
            if inspect(session.get_bind()).has_table(PUSH_QUEUE):
                sizes["push"] = session.execute(text(f"SELECT count(*) FROM {PUSH_QUEUE}")).one()[0]
            return sizes

        return await self._read(job)

    async def last_purge(self) -> datetime | None:
        """The hour of the latest retention run (None: never)."""
        hour = (await self.counters()).get(LAST_PURGE)
        return from_hour(hour) if hour else None

    # -- retention -------------------------------------------------------------

    async def purge(self) -> PurgeCounts:
        """Run retention now: aggregate and delete what is due, then shred old keys."""
        now = self.clock()

        def job(session: Session) -> PurgeCounts:
            counts = self.recent.after_purge(
                session, purge(session, now, self.config.scoring, self.context.alerts)
            )
            session.merge(Counter(name=LAST_PURGE, count=to_hour(now)))  # for `vecinos status`
            return counts

        counts = await self.writer.run(job)
        counts.keys_shredded = await asyncio.to_thread(self.keys.shred_expired, now, self.retention)
        await self.writer.run(lambda s: push_subscriptions.purge_expired(s, to_hour(now)))
        await asyncio.to_thread(self._checkpoint)
        return counts

    def _checkpoint(self) -> None:
        """Fold the SQLite WAL into the database and truncate it, so purged rows leave it too."""
        if self.writer.engine.dialect.name != "sqlite":
            return
        connection = self.writer.engine.raw_connection()
        try:
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    # -- incidents (node.incidents: the stored incidents, node.incident_store) ---

    async def live_incidents(
        self, area: str | None = None, type: str | None = None, level: str | None = None
    ) -> list[PublicIncident]:
        """Incidents as the store holds them now, most important first (what a publication
        tick publishes; vetted readers): node/incidents.py."""
        return await incidents.public_incidents(self, area, type, level)

    async def public_incidents(
        self, area: str | None = None, type: str | None = None, level: str | None = None
    ) -> list[PublicIncident]:
        """What the public sees: the incidents of the last publication tick, most important
        first (node.publication: no minute, no arrival order), filtered by area id, type and
        level ("this level or higher")."""
        floor = level_floor(level) if level else None
        return [
            incident
            for incident in self.published_incidents
            if (area is None or incident.area_id == area)
            and (type is None or incident.type == type)
            and (floor is None or level_floor(incident.level) >= floor)
        ]

    async def get_incident(self, incident_id: str) -> PublicIncident | None:
        """One incident as of the last publication tick (None: unknown, or not yet published)."""
        return next((i for i in self.published_incidents if i.id == incident_id), None)

    async def incident_follow_up(
        self, incident_id: str, kind: FollowUpKind, source: SourceRef
    ) -> PublicIncident | RateLimited | Unavailable | None:
        """A follow-up (still there / gone) for a published incident, rate limited like a
        report; the answer shows the incident as of the last tick."""
        if await self.get_incident(incident_id) is None:
            return None
        done = await incidents.incident_follow_up(self, incident_id, kind, source)
        if done is None or isinstance(done, RateLimited | Unavailable):
            return done
        return await self.get_incident(incident_id)

    async def close(self) -> None:
        await asyncio.to_thread(self.writer.close)
        self.writer.engine.dispose()
        self.engine.dispose()
        await self.set_back_file_times()  # SQLite removed its WAL: the dir changed


async def open_node(data_dir: Path, clock: Clock = utc_now) -> Node:
    """Open an initialised data dir (see node.setup.init_chapter); opening is a tick."""
    config = load_config(check_data_dir(data_dir))
    node = await asyncio.to_thread(Node, data_dir, config, clock)
    node._loop = asyncio.get_running_loop()
    now = node.clock()  # reports from before incidents were stored get theirs before publishing
    await node.writer.run(
        lambda s: refresh_unassigned(s, now, node.config.scoring, node.context.alerts)
    )
    await node.tick()
    return node
