"""Retention on a real store: what goes when, the aggregates left behind, and
crypto-shredding (a copy of the database taken before a purge stays
unreadable after it)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.keys import KeyId, KeyRing
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import Aggregate, Report
from scoring.model import Channel


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


async def submit(node: Node, n: int, area: str = "El Cajon", text: str = "una patrulla") -> str:
    outcome = await node.submit(ReportDraft(type="patrol", area=area, description=text), web(n))
    assert isinstance(outcome, Accepted)
    return outcome.report.id


def stored_ids(node: Node) -> set[str]:
    with Session(node.engine) as session:
        return {r.id for r in session.exec(select(Report)).all()}


async def test_unverified_go_after_24h_verified_after_7_days(node: Node, clock) -> None:
    plain = await submit(node, 1)
    kept = await submit(node, 2, area="Vista")
    await node.moderate(kept, ModeratorAction.CONFIRM)
    clock.advance(hours=23)
    assert (await node.purge()).reports == 0
    clock.advance(hours=2)
    counts = await node.purge()
    assert counts.reports == 1 and stored_ids(node) == {kept}
    clock.advance(days=7)
    assert (await node.purge()).reports == 1 and stored_ids(node) == set()
    assert plain not in stored_ids(node)


async def test_archived_stay_30_days(node: Node, clock) -> None:
    archived = await submit(node, 1)
    await node.moderate(archived, ModeratorAction.ARCHIVE)
    clock.advance(days=29)
    await node.purge()
    assert stored_ids(node) == {archived}
    clock.advance(days=2)
    await node.purge()
    assert stored_ids(node) == set()


async def test_purged_reports_are_counted_into_aggregates(node: Node, clock) -> None:
    for n in range(1, 4):
        await submit(node, n)
    confirmed = await submit(node, 4, area="Santee")
    await node.moderate(confirmed, ModeratorAction.CONFIRM)
    clock.advance(days=9)
    await node.purge()
    with Session(node.engine) as session:
        found = {
            (a.area_id, a.type, a.hour_of_day): (a.reports, a.confirmed)
            for a in session.exec(select(Aggregate)).all()
        }
    assert found == {("el-cajon", "patrol", 14): (3, 0), ("santee", "patrol", 14): (1, 1)}


async def test_copy_of_the_database_is_unreadable_after_the_purge(
    node: Node, clock, chapter_dir: Path, storage: str, tmp_path: Path
) -> None:
    if storage:
        pytest.skip("SQLite only: a copy of the database file")
    report_id = await submit(node, 1, text="secreto del reportero")
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        blob, label = row.description_ct, row.description_key
    assert blob is not None and label is not None
    copy = tmp_path / "seized"
    shutil.copytree(chapter_dir / "keys" / "desc", copy / "desc")  # even the keys of that day
    clock.advance(days=3)
    counts = await node.purge()
    # today's transient key, and tomorrow's (made ahead, node.keys.KeyRing.prepare)
    assert counts.reports == 1 and counts.keys_shredded == 2
    assert (
        KeyRing(chapter_dir / "keys" / "desc").decrypt(KeyId.parse(label), blob, report_id) is None
    )
    assert not list((chapter_dir / "keys" / "desc").glob("desc-transient-*.key"))
    # the pre-purge copy of the keys still reads it: keys must live apart from copies
    assert KeyRing(copy / "desc").decrypt(KeyId.parse(label), blob, report_id) == (
        "secreto del reportero"
    )


async def test_descriptions_never_reach_the_database_file_in_clear(
    node: Node, clock, chapter_dir: Path, storage: str
) -> None:
    if storage:
        pytest.skip("SQLite only: the database file itself")
    marker = "zanahoria-violeta-8812"
    report_id = await submit(node, 1, text=f"vimos {marker} cerca")
    await node.moderate(report_id, ModeratorAction.CONFIRM)
    clock.advance(days=8)
    await node.purge()
    await node.close()
    for path in chapter_dir.rglob("*"):
        if path.is_file():
            assert marker.encode() not in path.read_bytes(), path


async def test_confirm_re_encrypts_under_the_verified_key(node: Node, chapter_dir: Path) -> None:
    report_id = await submit(node, 1, text="texto")
    await node.moderate(report_id, ModeratorAction.CONFIRM)
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None and row.description_key is not None
        assert row.description_key.startswith("verified:")
    names = sorted(p.name for p in (chapter_dir / "keys" / "desc").glob("desc-*.key"))
    # every class's keys of today and tomorrow, made ahead (node.keys.KeyRing.prepare)
    assert [n.split("-")[1] for n in names] == ["archived"] * 2 + ["transient"] * 2 + [
        "verified"
    ] * 2


async def test_a_purged_report_leaves_no_trace_in_any_file_while_running(
    node: Node, clock, chapter_dir: Path, storage: str
) -> None:
    if storage:
        pytest.skip("SQLite only: about SQLite's own files (the WAL)")
    report_id = await submit(node, 1, area="the swap meet lot")
    clock.advance(days=2)
    assert (await node.purge()).reports == 1
    for path in chapter_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert report_id.encode() not in content, path.name
            assert b"swap meet" not in content, path.name


@pytest.mark.parametrize("every", range(1, 11))
def test_retention_runs_just_after_each_whole_hour_whatever_its_interval(every: int) -> None:
    """Reports' active times end on whole hours: the run after HH:59:59 is at HH+1:00, so an
    expired incident's end, all-clear and withdrawal are not held back by the interval."""
    from datetime import UTC, datetime, timedelta

    from node.cli import RETENTION_SECOND, retention_trigger

    trigger = retention_trigger(every)
    for start in (
        datetime(2026, 3, 1, 9, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
    ):
        fire = trigger.get_next_fire_time(None, start)
        assert fire == start + timedelta(seconds=1 + RETENTION_SECOND)
    # and it still runs every `every` minutes within the hour
    fires, at = [], datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    while at < datetime(2026, 3, 1, 11, 0, tzinfo=UTC):
        at = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
        fires.append(at)
    gaps = {(b - a) for a, b in itertools.pairwise(fires)}
    assert max(gaps) <= timedelta(minutes=every)
