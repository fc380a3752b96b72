"""The node's tables (SQLModel) and its database engine.

Rules kept by the schema:
- No column can hold an IP address, a header, a Matrix ID or a minute: times
  are whole hours since the epoch (`*_hour` ints), sources never reach the DB.
- Free text is stored only as AES-GCM ciphertext under the day keys (node.keys):
  descriptions, and the text of a place not in the gazetteer (`area_ct`; such a
  report's area id is UNLISTED + its own random id and its area name is empty).
  Any free-text field added later follows the same rule.
- No insertion order at rest: reports and follow-ups have random keys and, on
  SQLite, live in WITHOUT ROWID tables (ordered by those keys), as do the
  per-area counters; nothing is numbered in arrival order. (PostgreSQL keeps a
  heap in write order: see docs/deploy.md.)
- SQLite runs in WAL mode with secure_delete, so purged rows do not linger in
  free pages; PostgreSQL is used as given by URL.
- Upgrades only add: a table missing from the database is created, and a
  column missing from an existing table is added with its default
  (add_missing_columns), so a node keeps its data across a `pip install -U`.
  A change that is not an addition needs its own step, said in the changelog.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, Index, LargeBinary, event, inspect, literal
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Column, Field, SQLModel, create_engine

DB_NAME = "vecinos.db"
UNLISTED = "unlisted:"  # area id prefix of a place not in the gazetteer (one per report)
NO_ROWID = {"sqlite_with_rowid": False}  # table option: rows ordered by their key, not arrival


def listed(area_id: str) -> bool:
    """Whether an area id is a gazetteer area (not a reporter's free text)."""
    return not area_id.startswith(UNLISTED)


def random_key() -> str:
    """A random row key (never a counter: it must carry no arrival order)."""
    return secrets.token_urlsafe(8)


def to_hour(moment: datetime) -> int:
    """Whole hours since the epoch: the only way a time is stored."""
    return int(moment.astimezone(UTC).timestamp()) // 3600


def from_hour(hour: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)


class Report(SQLModel, table=True):
    # Neighbours are read per area, most recent first; alerts per area and type.
    __table_args__ = (
        Index("ix_report_area_hour", "area_id", "hour"),
        Index("ix_report_area_type_hour", "area_id", "type", "hour"),
        NO_ROWID,
    )
    id: str = Field(primary_key=True, max_length=16)
    type: str = Field(max_length=16)
    area_id: str = Field(max_length=160)
    area_name: str = Field(max_length=160)
    area_known: bool
    lat: float | None = None
    lon: float | None = None
    highway: str | None = Field(default=None, max_length=16)
    hour: int = Field(index=True)
    channel: str = Field(max_length=16)
    verdict: str = Field(default="none", max_length=16)
    status: str = Field(max_length=16)
    confidence: float
    independent_sources: int = 1
    still_active_claimed: bool = True
    flags: str = ""  # comma-separated scoring.model.Flag values
    review_reasons: str = ""  # comma-separated; empty when not in review
    in_review: bool = Field(default=False, index=True)
    description_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    description_key: str | None = Field(default=None, max_length=40)  # KeyId.label() of both
    area_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    retention_class: str = Field(max_length=16)
    purge_after_hour: int = Field(index=True)
    incident_id: str | None = Field(default=None, index=True, max_length=16)  # node.incident_store


class FollowUpRow(SQLModel, table=True):
    __tablename__ = "followup"
    __table_args__ = (NO_ROWID,)
    id: str = Field(default_factory=random_key, primary_key=True, max_length=16)
    report_id: str = Field(index=True, foreign_key="report.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    hour: int
    by_moderator: bool = False
    by_member: bool = False  # a vetted member's (scoring.decay weighs the tiers)


class AreaHour(SQLModel, table=True):
    """History per area and hour of week (0 = Monday 00h): counts only."""

    __tablename__ = "area_hour"
    __table_args__ = (NO_ROWID,)
    area_id: str = Field(primary_key=True, max_length=160)
    hour_of_week: int = Field(primary_key=True)
    reports: int = 0
    confirmed: int = 0


class Aggregate(SQLModel, table=True):
    """Purged reports, counted by area x type x day x hour of day. No report in it."""

    __table_args__ = (NO_ROWID,)
    area_id: str = Field(primary_key=True, max_length=160)
    type: str = Field(primary_key=True, max_length=16)
    day: str = Field(primary_key=True, max_length=10)
    hour_of_day: int = Field(primary_key=True)
    reports: int = 0
    confirmed: int = 0
    debunked: int = 0


class Incident(SQLModel, table=True):
    """One incident: a cluster (area x type) from the report that opened it until its stage
    is ended or false alarm (node.incident_store stores what scoring.incident decides).

    A random id, whole hours only (opened, last changed), no report, source or verifier:
    its reports point at it (Report.incident_id), as do its alert and responder notice.
    """

    __table_args__ = (Index("ix_incident_area_type_closed", "area_id", "type", "closed"), NO_ROWID)
    id: str = Field(default_factory=random_key, primary_key=True, max_length=16)
    area_id: str = Field(max_length=160)
    type: str = Field(max_length=16)
    stage: str = Field(max_length=24)  # scoring.incident.Stage
    reason: str = Field(max_length=24)  # scoring.incident.Reason
    opened_hour: int
    updated_hour: int  # the hour its stage or reason last changed
    closed: bool = Field(default=False, index=True)  # ended or false alarm: a new one opens next
    verifier_unable: bool = False  # a verifier answered "unable" (node.incident_store)


class Alert(SQLModel, table=True):
    """The chapter's own alert for an active cluster (area x type), as last sent."""

    alert_id: str = Field(primary_key=True, max_length=32)
    area_id: str = Field(index=True, max_length=160)
    area_name: str = Field(max_length=160)
    lat: float | None = None
    lon: float | None = None
    highway: str | None = Field(default=None, max_length=16)
    hour: int  # the hour of the cluster's earliest report
    type: str = Field(max_length=16)
    seq: int = 0
    level: str = Field(max_length=16)
    confidence: float
    reports: int
    still_active: bool
    expires_hour: int
    withdrawn: bool = Field(default=False, index=True)
    incident_id: str | None = Field(default=None, max_length=16)  # the incident it was last for


class OutboxAlert(SQLModel, table=True):
    """An alert body waiting for federation to send it; written with its report."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(index=True, max_length=32)
    seq: int
    body: str  # canonical JSON of the aggregate (never a description)
    attempts: int = 0
    delivered: bool = Field(default=False, index=True)


class AlertRoom(SQLModel, table=True):
    """Which federation rooms got some seq of an alert (they get every later one)."""

    __tablename__ = "alert_room"
    alert_id: str = Field(primary_key=True, max_length=32)
    room_id: str = Field(primary_key=True, max_length=255)


class NeighbourRow(SQLModel, table=True):
    """A neighbouring chapter: its bot, its pinned signing key, the room we share."""

    __tablename__ = "neighbour"
    chapter_id: str = Field(primary_key=True, max_length=64)
    bot_user_id: str = Field(max_length=255)  # a bot's Matrix ID, never a reporter's
    key_id: str = Field(max_length=64)
    verify_key: str = Field(max_length=64)
    fingerprint: str = Field(max_length=128)
    room_id: str = Field(max_length=255)
    share_threshold: float


class ReceivedAlertRow(SQLModel, table=True):
    """A neighbour's alert, latest seq only; deleted once expired."""

    __tablename__ = "received_alert"
    chapter: str = Field(primary_key=True, max_length=64)
    alert_id: str = Field(primary_key=True, max_length=32)
    seq: int
    relayed_by: str | None = Field(default=None, max_length=64)
    type: str = Field(max_length=16)
    area: str = Field(max_length=160)
    lat: float | None = None
    lon: float | None = None
    highway: str | None = Field(default=None, max_length=16)
    hour: int
    level: str = Field(max_length=16)
    confidence: float
    reports: int
    still_active: bool
    expires_hour: int = Field(index=True)


class ResponderNotice(SQLModel, table=True):
    """What the responders were told about one cluster, or one neighbour's alert.

    An aggregate like an alert (no description, no source, no moderator):
    origin is "" for this chapter's cluster (source_key "area_id|type") and
    the neighbour's chapter id for a received alert (source_key its alert
    id). root_event_id is the Matrix event that opened the thread in the
    responders room (an id, no content).
    """

    __tablename__ = "responder_notice"
    notice_id: str = Field(primary_key=True, max_length=16)
    origin: str = Field(default="", max_length=64)
    source_key: str = Field(index=True, max_length=200)
    type: str = Field(max_length=16)
    area_name: str = Field(max_length=160)
    highway: str | None = Field(default=None, max_length=16)
    hour: int
    level: str = Field(max_length=16)
    confidence: float
    reports: int
    expires_hour: int
    report_ids: str = Field(default="", max_length=60)  # up to 3 local report ids
    seq: int = 0
    closed: bool = Field(default=False, index=True)
    root_event_id: str | None = Field(default=None, max_length=255)
    incident_id: str | None = Field(default=None, max_length=16)  # a local cluster's incident


class ResponderOutbox(SQLModel, table=True):
    """One notice seq waiting for one consumer (matrix, signal, telegram, sms); gone once sent."""

    __tablename__ = "responder_outbox"
    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(index=True, max_length=16)
    notice_id: str = Field(index=True, max_length=16)
    seq: int
    body: str  # JSON of the aggregate (never a description)


class VerificationRow(SQLModel, table=True):
    """A responder notice that needs a verifier (node.verification): its state only.

    No claimer, no Matrix ID, no minute: who claimed it and when live in
    memory (node.verification.Desk).
    """

    __tablename__ = "verification"
    notice_id: str = Field(primary_key=True, max_length=16)
    state: str = Field(default="open", index=True, max_length=16)  # open, confirmed, ...


class Counter(SQLModel, table=True):
    """Named counts for `vecinos status` (alerts sent, rejected by reason...)."""

    name: str = Field(primary_key=True, max_length=64)
    count: int = 0


class Moderator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    password_hash: str


class PushSubscriptionRow(SQLModel, table=True):
    """A Web Push subscription, sealed whole (node.push.subscriptions); no order at rest."""

    __tablename__ = "push_subscription"
    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(primary_key=True, max_length=32)  # HMAC of the endpoint under push.key
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_hour: int = Field(index=True)


class PushQueueRow(SQLModel, table=True):
    """A change of one of the chapter's alerts waiting for the Web Push fan-out; gone once sent."""

    __tablename__ = "push_queue"
    id: int | None = Field(default=None, primary_key=True)
    body: str  # the alert's aggregate (node.alerts.alert_body): never a description


def database_url(data_dir: Path, configured: str) -> str:
    return configured or f"sqlite:///{data_dir / DB_NAME}"


def make_engine(url: str, sqlite_synchronous: str = "FULL", writer: bool = False) -> Engine:
    """An engine with the node's pragmas; creates the tables if they are missing.

    writer=True (SQLite): transactions take the write lock at BEGIN (IMMEDIATE),
    so a batch waits for another process's write instead of failing midway.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, open transactions, or SAVEPOINTs misbehave.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    add_missing_columns(engine)
    return engine


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns the models have and the database's tables lack (an upgrade of the
    node), each with its model default, and the indexes they lack; returns "table.column"
    for each column added."""
    added = []
    for table in SQLModel.metadata.sorted_tables:
        existing = inspect(engine)
        if not existing.has_table(table.name):
            continue
        have = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            default = column.default.arg if column.default is not None else None
            if callable(default) or (default is None and not column.nullable):
                raise RuntimeError(f"{table.name}.{column.name}: no default to add it with")
            kind = column.type.compile(dialect=engine.dialect)
            ddl = f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
            if default is not None:
                value = literal(default, column.type).compile(
                    dialect=engine.dialect, compile_kwargs={"literal_binds": True}
                )
                ddl += f" DEFAULT {value}" + ("" if column.nullable else " NOT NULL")
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql(ddl)
            except (OperationalError, ProgrammingError):
                # another process of this node added it meanwhile
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
            added.append(f"{table.name}.{column.name}")
        for index in table.indexes:  # an added column's index (create_all made the others)
            try:
                index.create(engine, checkfirst=True)
            except (OperationalError, ProgrammingError):  # another process made it meanwhile
                if index.name not in {i["name"] for i in inspect(engine).get_indexes(table.name)}:
                    raise
    return added
