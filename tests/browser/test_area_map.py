"""In real Chromium with JavaScript off: the node's own area map (web/areamap.py) at phone and
desktop size. Areas are coloured by their most serious active incident, named without
overlapping, zoomed views are plain links, and every shape says what it shows in words.

Screenshots go to test-artifacts/ (area-map-*.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction
from scoring.model import Channel
from tests.browser.conftest import DESKTOP, PHONE, Served


async def _report(served: Served, n: int, kind: str, area: str) -> str:
    source = SourceRef(Channel.WEB, f"10.0.0.{n}".encode())
    outcome = await served.node.submit(ReportDraft(type=kind, area=area), source)
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


def _overlap(a: dict, b: dict, slack: float = 1.0) -> bool:
    """Whether two boxes overlap by more than `slack` px (a rounding pixel is no collision)."""
    return (
        a["x"] + slack < b["x"] + b["width"]
        and b["x"] + slack < a["x"] + a["width"]
        and a["y"] + slack < b["y"] + b["height"]
        and b["y"] + slack < a["y"] + a["height"]
    )


async def _check_view(page: Any, viewport: dict) -> None:
    svg = page.locator("svg.area-map-svg")
    assert await svg.is_visible()
    box = await svg.bounding_box()
    assert box["width"] <= viewport["width"]  # no horizontal overflow
    # Every shape says in words what it shows (a <title>), coloured or not.
    cells = page.locator("svg.area-map-svg path.am-cell")
    count = await cells.count()
    assert count > 5
    titles = page.locator("svg.area-map-svg path.am-cell > title")
    assert await titles.count() == count
    # Names never overlap, and are at least 9 px tall on screen.
    labels = page.locator("svg.area-map-svg text.am-label")
    boxes = [await labels.nth(i).bounding_box() for i in range(await labels.count())]
    assert boxes
    for i, a in enumerate(boxes):
        assert a["height"] >= 9, a
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), (a, b)


async def test_area_map_without_javascript(browser: Any, served: Served, artifacts: Path) -> None:
    raid = await _report(served, 1, "raid", "Chula Vista")
    await served.node.moderate(raid, ModeratorAction.CONFIRM)
    await _report(served, 2, "checkpoint", "San Ysidro")
    await _report(served, 3, "vehicle", "Sherman Heights")
    await _report(served, 4, "patrol", "El Centro")
    for n in (5, 6, 7):
        await _report(served, n, "raid", "City Heights")
    await served.node.publish()  # the scheduler's publication tick: the public map changes then

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(
            java_script_enabled=False, viewport=viewport, locale="es-MX"
        )
        context.on("request", lambda request: served.requests.append(request.url))
        page = await context.new_page()
        await page.goto(served.url("/map"))
        await _check_view(page, viewport)
        # The whole region: zoomed views are links; Chula Vista's raid colours a shape red.
        await page.locator("#area-map").screenshot(path=artifacts / f"area-map-{name}.png")
        zooms = page.locator("ul.area-map-zooms a")
        assert await zooms.count() >= 1
        # Follow the zoom links (plain links: no script) to the view that names Chula Vista.
        seen, queue = set(), ["/map?lang=es&view=all"]
        while queue and not await page.locator("text.am-label.am-l-confirmed").count():
            href = queue.pop(0)
            seen.add(href)
            await page.goto(served.url(href))
            await _check_view(page, viewport)
            links = page.locator("ul.area-map-zooms a")
            for i in range(await links.count()):
                found = (await links.nth(i).get_attribute("href")).split("#")[0]
                if found not in seen:
                    queue.append(found)
        label = page.locator("text.am-label.am-l-confirmed")
        assert "Chula Vista (1)" in await label.first.text_content()
        confirmed = page.locator('path.am-confirmed[data-area="chula-vista"] > title')
        assert "redada: confirmado" in await confirmed.text_content()
        assert await page.locator('path.am-pattern[fill="url(#am-p-confirmed)"]').count() >= 1
        await page.locator("#area-map").screenshot(path=artifacts / f"area-map-{name}-zoom.png")
        await context.close()
    assert served.foreign_requests() == []
