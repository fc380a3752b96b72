"""Trends: the charts and the CSV show exactly the aggregates that retention left."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import aiohttp
from sqlmodel import Session, select

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import Aggregate
from scoring.model import Channel

BAR = re.compile(r'data-day="([\d-]+)" data-type="(\w+)" data-count="(\d+)"')
CELL = re.compile(r'data-weekday="(\d)" data-hour="(\d+)" data-count="(\d+)"')


async def submit(node: Node, n: int, **fields: object) -> str:
    source = SourceRef(Channel.WEB, f"127.0.0.{n}".encode())
    outcome = await node.submit(ReportDraft(**fields), source)  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted)
    return outcome.report.id


async def seed(node: Node, clock) -> None:
    """Reports on two days, then a purge eight days later: only aggregates are left."""
    await submit(node, 1, type="raid", area="Downtown")
    await submit(node, 2, type="raid", area="Downtown")
    await submit(node, 3, type="patrol", area="the big swap meet")
    clock.advance(days=1, hours=3)
    confirmed = await submit(node, 4, type="checkpoint", area="San Ysidro")
    await node.moderate(confirmed, ModeratorAction.CONFIRM)
    debunked = await submit(node, 5, type="vehicle", area="San Ysidro")
    await node.moderate(debunked, ModeratorAction.DEBUNK)
    clock.advance(days=8)
    assert (await node.purge()).reports == 5


def aggregates(node: Node) -> list[Aggregate]:
    with Session(node.engine) as session:
        return list(session.exec(select(Aggregate)).all())


async def text(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_charts_show_the_aggregates_after_a_purge(
    client: aiohttp.ClientSession, node: Node, clock
) -> None:
    await seed(node, clock)
    rows = aggregates(node)
    assert sum(r.reports for r in rows) == 5
    html = await text(client, "/trends")
    assert '<html lang="en">' in html and "<svg" in html and "<script" not in html
    assert " style=" not in html  # the CSP forbids inline style: presentation attributes only

    # Stored hours are UTC; the page shows them on the chapter's clock (America/Los_Angeles).
    def local(row: Aggregate) -> datetime:
        return node.local_time(
            datetime.fromisoformat(row.day).replace(hour=row.hour_of_day, tzinfo=UTC)
        )

    bars: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (local(row).date().isoformat(), row.type)
        bars[key] = bars.get(key, 0) + row.reports
    assert {(d, t): int(c) for d, t, c in BAR.findall(html)} == bars
    cells = {(int(w), int(h)): int(c) for w, h, c in CELL.findall(html)}
    assert len(cells) == 7 * 24
    expected: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (local(row).weekday(), local(row).hour)
        expected[key] = expected.get(key, 0) + row.reports
    assert str(node.timezone) == "America/Los_Angeles"
    assert all(local(row).hour != row.hour_of_day for row in rows)  # not the UTC hours
    assert {k: v for k, v in cells.items() if v} == expected
    # The totals table, per type: reports, confirmed, debunked.
    assert re.search(r'data-type="checkpoint">.*?<td>1</td><td>1</td><td>0</td>', html)
    assert re.search(r'data-type="vehicle">.*?<td>1</td><td>0</td><td>1</td>', html)
    assert re.search(r'data-type="raid">.*?<td>2</td><td>0</td><td>0</td>', html)


async def test_heat_map_of_one_area_and_the_period(
    client: aiohttp.ClientSession, node: Node, clock
) -> None:
    await seed(node, clock)
    html = await text(client, "/trends?area=downtown")
    assert sum(int(c) for _, _, c in CELL.findall(html)) == 2
    assert "— Downtown</h2>" in html
    html = await text(client, "/trends?area=unknown&lang=es")
    assert sum(int(c) for _, _, c in CELL.findall(html)) == 1
    assert "lugares fuera de la lista" in html
    # The last seven days hold none of it (the reports were 8 and 9 days ago).
    html = await text(client, "/trends?days=7")
    assert BAR.findall(html) == [] and "No counts yet for this period." in html
    # Nonsense parameters fall back to the defaults.
    html = await text(client, "/trends?days=-4&area=%3Cscript%3E")
    assert len(BAR.findall(html)) == 5 - 1  # checkpoint, vehicle, raid and patrol bars
    assert "<script>" not in html


async def test_csv_download_has_every_aggregates_row(
    client: aiohttp.ClientSession, node: Node, clock
) -> None:
    await seed(node, clock)
    async with client.get("/trends.csv") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/csv" and resp.charset == "utf-8"
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        body = await resp.text()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0] == [
        "day",
        "hour_of_day_utc",
        "area_id",
        "area",
        "type",
        "reports",
        "confirmed",
        "debunked",
    ]
    got = {
        (day, int(hour), area_id, area, kind, int(n), int(c), int(d))
        for day, hour, area_id, area, kind, n, c, d in lines[1:]
    }
    names = {"downtown": "Downtown", "san-ysidro": "San Ysidro", "unknown": "unknown"}
    expected = {
        (
            r.day,
            r.hour_of_day,
            r.area_id,
            names[r.area_id],
            r.type,
            r.reports,
            r.confirmed,
            r.debunked,
        )
        for r in aggregates(node)
    }
    assert got == expected and len(lines) == 1 + len(expected)
    async with client.get("/trends.csv?days=7") as resp:
        assert (await resp.text()).count("\n") == 1  # the header only


async def test_trends_in_spanish_and_empty(client: aiohttp.ClientSession) -> None:
    html = await text(client, "/trends?lang=es")
    assert '<html lang="es">' in html and "Tendencias" in html
    assert "Reportes por hora de la semana" in html and ">lun<" in html
    assert "Todavía no hay cuentas para este periodo." in html
