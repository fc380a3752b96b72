"""Reporter safety on a real node (issue 11): free text never public, forwarded or in
plaintext; publication ticks; no arrival order at rest; rate limits that date no one;
day keys made ahead and file times at the hour."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.intake import area_text_of
from node.outcome import Accepted, RateLimited, Refused, ReportDraft, SourceRef
from node.service import ModeratorAction, Node, open_node
from node.setup import DESCRIPTION_KEYS_DIR, KEYS_DIR
from node.sources import proof_bits
from node.store import DB_NAME, AreaHour, FollowUpRow, Report, ResponderOutbox, listed
from scoring.model import Channel, FollowUpKind
from tests.support import set_config

FREE = "el tianguis grande junto al puente viejo"  # a place not in the gazetteer
MARK = "tiendamarca7q"


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


def rows(node: Node) -> list[Report]:
    with Session(node.engine) as session:
        return list(session.exec(select(Report)).all())


@pytest.fixture
async def tnode(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    """A node whose responders get SMS (so that notices would be queued)."""
    set_config(chapter_dir, "sms", "account_sid", '"AC123"')
    set_config(chapter_dir, "sms", "auth_token", '"secret"')
    set_config(chapter_dir, "sms", "to", '"+15550100"')
    set_config(chapter_dir, "sms", "from_number", '"+15550199"')
    opened = await open_node(chapter_dir, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


# -- 1. free text: encrypted, never public, never forwarded ------------------------------


async def test_an_unlisted_place_is_encrypted_never_public_and_never_forwarded(
    tnode: Node, chapter_dir: Path, storage: str
) -> None:
    node = tnode
    place = f"{FREE} {MARK}"
    ids = []
    for n in range(1, 6):  # five sources, and a moderator's confirm: a known area would alert
        outcome = await node.submit(ReportDraft(type="raid", area=place), web(n))
        assert isinstance(outcome, Accepted), outcome
        assert outcome.report.area == "" and not outcome.report.area_known
        ids.append(outcome.report.id)
    await node.moderate(ids[0], ModeratorAction.CONFIRM)
    await node.publish()
    # Stored: an id of its own, no name, the text only as ciphertext under the day key.
    for row in rows(node):
        assert row.area_id.startswith("unlisted:") and row.area_id.endswith(row.id)
        assert row.area_name == "" and row.area_ct is not None
        assert MARK not in row.area_id and MARK.encode() not in row.area_ct
        assert area_text_of(row, node.keys) == place
    with Session(node.engine) as session:
        assert all(listed(h.area_id) for h in session.exec(select(AreaHour)).all())
        # No alert for neighbours and no responder notice (SMS, Matrix), even confirmed.
        assert await node.pending_alerts() == []
        assert session.exec(select(ResponderOutbox)).all() == []
    # Public: never the text.
    shown = await node.active_reports()
    assert len(shown) == 5 and all(r.area == "" and not r.area_known for r in shown)
    assert all(MARK not in repr(r) for r in shown)
    # The moderators' queue shows the text (decrypted for them only).
    queue = await node.review_queue()
    assert {item.area_text for item in queue} == {place}
    # Nothing in memory keeps the free text or its id beyond the request.
    assert not any(key[0].startswith("unlisted:") for key in node.gazetteer._nearby)
    # No file holds it in plaintext (SQLite: the database, its WAL, the keys).
    if not storage:
        for path in chapter_dir.rglob("*"):
            if path.is_file():
                assert MARK.encode() not in path.read_bytes(), path


async def test_a_moderator_maps_an_unlisted_place_to_an_area_and_its_text_goes(
    tnode: Node,
) -> None:
    node = tnode
    outcome = await node.submit(ReportDraft(type="raid", area=f"{FREE} {MARK}"), web(1))
    assert isinstance(outcome, Accepted)
    fixed = await node.correct_report(outcome.report.id, area="Chula Vista")
    assert fixed is not None and not isinstance(fixed, tuple)
    assert fixed.area == "Chula Vista" and fixed.area_known
    [row] = rows(node)
    assert row.area_id == "chula-vista" and row.area_ct is None


async def test_an_unlisted_place_is_shredded_with_its_day_key(node: Node, clock) -> None:
    outcome = await node.submit(ReportDraft(type="raid", area=f"{FREE} {MARK}"), web(1))
    assert isinstance(outcome, Accepted)
    [row] = rows(node)
    assert area_text_of(row, node.keys) is not None
    clock.advance(days=3)
    await node.purge()
    assert area_text_of(row, node.keys) is None  # a copy of the row is unreadable now


async def test_refused_free_text_comes_back_to_be_fixed(node: Node) -> None:
    draft = ReportDraft(type="raid", area="llamen al 619-555-0134")
    outcome = await node.submit(draft, web(1))
    assert isinstance(outcome, Refused) and outcome.draft == draft
    assert {e.field for e in outcome.errors} == {"area"}


# -- 3. publication ticks ------------------------------------------------------------------


async def test_a_poller_sees_nothing_before_the_tick_and_no_arrival_order(
    node: Node, clock
) -> None:
    drafts = [
        ReportDraft(type="vehicle", area="Escondido"),
        ReportDraft(type="raid", area="Chula Vista"),
        ReportDraft(type="patrol", area="Vista"),
        ReportDraft(type="raid", area="El Cajon"),
        ReportDraft(type="checkpoint", area="San Ysidro"),
    ]
    ids = {}
    for n, draft in enumerate(drafts, start=1):
        outcome = await node.submit(draft, web(n))
        assert isinstance(outcome, Accepted)
        ids[draft.area] = outcome.report.id
        assert await node.active_reports() == []  # a poller learns nothing before the tick
        assert node.public_report(outcome.report.id) is None
        clock.advance(minutes=2)
    await node.publish()
    shown = await node.active_reports()
    assert {r.id for r in shown} == set(ids.values())
    # The order is the public order of their values, whatever order they arrived in.
    expected = sorted(shown, key=lambda r: (-r.hour.timestamp(), r.type, r.area, r.id))
    assert [r.id for r in shown] == [r.id for r in expected]
    assert [r.id for r in shown] != list(ids.values())


async def test_public_values_change_only_at_ticks(node: Node, clock) -> None:
    first = await node.submit(ReportDraft(type="raid", area="Chula Vista"), web(1))
    assert isinstance(first, Accepted)
    await node.publish()
    [before] = await node.active_reports()
    for n in (2, 3):  # corroboration arrives, and a "gone"
        await node.submit(ReportDraft(type="raid", area="Chula Vista"), web(n))
    await node.follow_up(first.report.id, FollowUpKind.GONE, web(4))
    clock.advance(minutes=5)
    [same] = await node.active_reports()
    assert (same.level, same.independent_sources, same.still_active) == (
        before.level,
        before.independent_sources,
        before.still_active,
    )
    live = {r.id: r for r in await node.live_reports()}  # members and responders: at once
    assert live[first.report.id].independent_sources > before.independent_sources
    await node.publish()
    after = {r.id: r for r in await node.active_reports()}
    assert len(after) == 3
    assert after[first.report.id].independent_sources == live[first.report.id].independent_sources


async def test_no_arrival_order_at_rest(node: Node, chapter_dir: Path, storage: str) -> None:
    ids = []
    for n in range(1, 6):
        outcome = await node.submit(ReportDraft(type="raid", area="Chula Vista"), web(n))
        assert isinstance(outcome, Accepted)
        ids.append(outcome.report.id)
        await node.follow_up(outcome.report.id, FollowUpKind.STILL_THERE, web(n + 10))
    with Session(node.engine) as session:
        follow_ids = [f.id for f in session.exec(select(FollowUpRow)).all()]
    assert len(follow_ids) == 5 and all(isinstance(i, str) and len(i) >= 10 for i in follow_ids)
    if storage:
        return
    db = sqlite3.connect(chapter_dir / DB_NAME)
    try:
        for table in ("report", "followup", "area_hour", "aggregate"):
            (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            assert sql.rstrip().endswith("WITHOUT ROWID"), table
        # Rows come back in key order, which is random: not the order of arrival.
        stored = [r[0] for r in db.execute("SELECT id, flags, area_ct FROM report")]
        assert stored == sorted(ids)
    finally:
        db.close()


async def test_queue_ties_are_broken_by_random_id(node: Node) -> None:
    for n in range(1, 6):  # same type, area, hour and reasons: equal priority
        await node.submit(ReportDraft(type="raid", area=f"{FREE} {n}"), web(n))
    queue = await node.review_queue()
    ranks = {item.priority for item in queue}
    assert len(queue) == 5 and len(ranks) == 1
    assert [i.report.id for i in queue] == sorted((i.report.id for i in queue), reverse=True)


# -- 4. rate limits that date no one -------------------------------------------------------


async def test_only_accepted_reports_count_and_every_refusal_says_the_whole_window(
    node: Node, clock
) -> None:
    limit = node.config.get("intake", "rate_limit_reports")
    window = node.config.get("intake", "rate_limit_window_minutes") * 60
    shared = web(9)
    for _ in range(3 * limit):  # invalid and refused reports: nothing counted
        bad = await node.submit(ReportDraft(type="raid", area="calle 5 #123 placa 7ABC123"), shared)
        assert isinstance(bad, Refused)
        assert isinstance(await node.submit(ReportDraft(type="nonsense"), shared), Refused)
    for _ in range(limit):
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), shared), Accepted
        )
    waits = []
    for n, step in ((9, 1), (9, 7), (8, 0), (9, 3)):
        if n == 8:  # another source fills its bucket at another time
            for _ in range(limit):
                await node.submit(ReportDraft(type="raid", area="Vista"), web(8))
        clock.advance(minutes=step, seconds=13)
        limited = await node.submit(ReportDraft(type="raid", area="Vista"), web(n))
        assert isinstance(limited, RateLimited)
        waits.append(limited.retry_after_s)
    assert set(waits) == {window}  # the same for everyone, at any moment: it dates no hit
    # A follow-up to a report that does not exist neither counts nor is limited.
    assert await node.follow_up("nope", FollowUpKind.GONE, web(9)) is None


def solve(token: str, bits: int) -> str:
    nonce = 0
    while proof_bits(token, str(nonce)) < bits:
        nonce += 1
    return f"{token}:{nonce}"


async def test_a_shared_address_gets_through_with_a_ticket(chapter_dir: Path, clock) -> None:
    set_config(chapter_dir, "intake", "ticket_bits", "10")
    node = await open_node(chapter_dir, clock=clock)
    try:
        onion = web(1)  # every Tor visitor of the onion service
        limit = node.config.get("intake", "rate_limit_reports")
        for _ in range(limit):
            await node.submit(ReportDraft(type="raid", area="Vista"), onion)
        limited = await node.submit(ReportDraft(type="raid", area="Vista"), onion)
        assert isinstance(limited, RateLimited) and limited.ticket and limited.bits == 10
        # With JavaScript: a proof of work redeems it at once, once.
        proof = solve(limited.ticket, limited.bits)
        short = next(str(n) for n in range(100) if proof_bits(limited.ticket, str(n)) < 10)
        wrong = f"{limited.ticket}:{short}"
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), onion, wrong), RateLimited
        )
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), web(2), proof), Accepted
        )  # its own bucket
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), onion, proof), Accepted
        )
        again = await node.submit(ReportDraft(type="raid", area="Vista"), onion, proof)
        assert isinstance(again, RateLimited)  # used once
        # Without JavaScript: the ticket alone, once it is wait_s old.
        assert again.ticket and again.bits == 10
        early = await node.submit(ReportDraft(type="raid", area="Vista"), onion, again.ticket)
        assert isinstance(early, RateLimited)
        clock.advance(seconds=again.wait_s)
        late = await node.submit(ReportDraft(type="raid", area="Vista"), onion, again.ticket)
        assert isinstance(late, Accepted)
        # A refused report never uses a ticket up.
        ticket = early.ticket
        assert ticket is not None
        clock.advance(seconds=early.wait_s)
        refused = await node.submit(ReportDraft(type="raid", area="7ABC123"), onion, ticket)
        assert isinstance(refused, Refused)
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), onion, ticket), Accepted
        )
        # The price doubles every `step` tickets in the window: a flooder pays, exponentially.
        step = node.config.get("intake", "ticket_step")
        costs = []
        for _ in range(2 * step):
            limited = await node.submit(ReportDraft(type="raid", area="Vista"), onion)
            assert isinstance(limited, RateLimited) and limited.ticket
            costs.append((limited.bits, limited.wait_s))
            proof = solve(limited.ticket, limited.bits)
            assert isinstance(
                await node.submit(ReportDraft(type="raid", area="Vista"), onion, proof), Accepted
            )
        assert costs[0][0] < costs[-1][0] and costs[0][1] < costs[-1][1]
    finally:
        await node.close()


# -- 5. file metadata at the hour ------------------------------------------------------------


def tree(root: Path) -> list[Path]:
    """Every path under `root`, listed without touching a directory's access time."""
    found = [root]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOATIME)
    try:
        with os.scandir(fd) as entries:
            names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    finally:
        os.close(fd)
    for name, is_dir in names:
        found += tree(root / name) if is_dir else [root / name]
    return found


def times_finer_than_the_hour(root: Path) -> list[str]:
    """Files and directories whose modification or access time is finer than the hour."""
    found = []
    for path in tree(root):
        st = os.stat(path, follow_symlinks=False)
        for name in ("st_mtime", "st_atime"):
            value = getattr(st, name)
            if value != int(value) or int(value) % 3600:
                found.append(f"{path.relative_to(root)} {name}")
    return found


async def test_day_keys_are_made_ahead_and_files_keep_only_the_hour(
    chapter_dir: Path, clock, storage: str
) -> None:
    node = await open_node(chapter_dir, clock=clock)
    keys = chapter_dir / KEYS_DIR / DESCRIPTION_KEYS_DIR
    try:
        made = {p.name: p.stat().st_ino for p in keys.iterdir()}
        assert len(made) == 6  # transient, verified, archived: today and tomorrow
        # A scripted day: reports, a confirm, an archive, a follow-up; none makes a key.
        ids = []
        for n in range(1, 5):
            outcome = await node.submit(
                ReportDraft(type="raid", area="Chula Vista", description=f"dato {n}"), web(n)
            )
            assert isinstance(outcome, Accepted)
            ids.append(outcome.report.id)
            clock.advance(minutes=7, seconds=11)
        await node.moderate(ids[0], ModeratorAction.CONFIRM)
        await node.moderate(ids[1], ModeratorAction.ARCHIVE)
        await node.follow_up(ids[2], FollowUpKind.STILL_THERE, web(20))
        assert {p.name: p.stat().st_ino for p in keys.iterdir()} == made
        # Between ticks, the database's files were set back after every write.
        if not storage:
            for name in (DB_NAME, DB_NAME + "-wal"):
                st = (chapter_dir / name).stat()
                assert st.st_mtime % 3600 == 0, name
        clock.advance(hours=1, minutes=3)
        await node.tick()  # the scheduler's tick: tomorrow's keys, every file to the hour
        clock.advance(days=1)
        await node.tick()
        assert len(list(keys.iterdir())) == 9
        await node.purge()
    finally:
        await node.close()
    assert times_finer_than_the_hour(chapter_dir) == []
