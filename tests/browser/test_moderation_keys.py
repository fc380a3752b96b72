"""In real Chromium: the review queue's keyboard shortcuts (web/static/moderation.js), and the
trends page's charts drawn without a script. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from node.outcome import Accepted, ReportDraft, SourceRef
from node.store import Report
from scoring.model import Channel
from tests.browser.conftest import DESKTOP, Served


async def queued(served: Served, n: int, report_type: str) -> str:
    draft = ReportDraft(type=report_type, area=f"the big swap meet {n}", description=f"note {n}")
    outcome = await served.node.submit(draft, SourceRef(Channel.WEB, f"127.0.0.{n}".encode()))
    assert isinstance(outcome, Accepted)
    return outcome.report.id


def status(served: Served, report_id: str) -> str:
    with Session(served.node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        return row.status


async def current(page: Any) -> str | None:
    return await page.evaluate(
        "() => { const r = document.querySelector('.queue-item.current');"
        " return r && r === document.activeElement ? r.dataset.reportId : null; }"
    )


async def test_keyboard_shortcuts_move_select_and_decide(
    browser: Any, served: Served, moderator: tuple[str, str], artifacts: Path
) -> None:
    raid = await queued(served, 1, "raid")
    checkpoint = await queued(served, 2, "checkpoint")
    vehicle = await queued(served, 3, "vehicle")
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(served.url("/login"))
    await page.fill("#f-name", moderator[0])
    await page.fill("#f-password", moderator[1])
    async with page.expect_navigation():
        await page.click("form.login button[type=submit]")
    # The most important report is the current one from the start.
    assert await current(page) == raid
    await page.keyboard.press("j")
    assert await current(page) == checkpoint
    await page.keyboard.press("j")
    await page.keyboard.press("j")  # stays on the last one
    assert await current(page) == vehicle
    await page.keyboard.press("k")
    assert await current(page) == checkpoint
    await page.keyboard.press("x")
    assert await page.is_checked(f'[data-report-id="{checkpoint}"] input[name="ids"]')
    assert not await page.get_attribute("#shortcuts", "open")
    await page.keyboard.press("?")
    assert await page.get_attribute("#shortcuts", "open") is not None
    await page.screenshot(path=artifacts / "moderation-desktop.png", full_page=True)

    # Typing in a field is typing, not a shortcut.
    await page.click(f'[data-report-id="{checkpoint}"] details.correct summary')
    await page.fill(f'[data-report-id="{checkpoint}"] input[name="area"]', "dd")
    assert status(served, checkpoint) == "unverified"

    # "d" debunks the current report (held for its undo window: out of the queue, not yet
    # applied); the queue comes back, starting at the top again; "u" undoes it.
    await page.click(f'[data-report-id="{checkpoint}"] h2')
    async with page.expect_navigation():
        await page.keyboard.press("d")
    assert "done=debunk" in page.url and "undo=" in page.url
    assert status(served, checkpoint) == "unverified"
    assert await page.locator(f'[data-report-id="{checkpoint}"]').count() == 0
    assert await current(page) == raid
    await page.screenshot(path=artifacts / "moderation-undo-desktop.png", full_page=True)
    async with page.expect_navigation():
        await page.keyboard.press("u")
    assert "done=undone" in page.url
    assert await page.locator(f'[data-report-id="{checkpoint}"]').count() == 1
    async with page.expect_navigation():
        await page.keyboard.press("c")
    assert status(served, raid) == "confirmed"
    assert await current(page) == checkpoint
    assert errors == []
    await context.close()


async def test_trends_page_draws_without_a_script(
    browser: Any, served: Served, artifacts: Path
) -> None:
    for n, kind in enumerate(("raid", "raid", "patrol", "vehicle"), 1):
        await queued(served, n, kind)
    served.node.clock.advance(days=2)  # type: ignore[attr-defined]
    await served.node.purge()
    context = await browser.new_context(viewport=DESKTOP, java_script_enabled=False, locale="es")
    page = await context.new_page()
    await page.goto(served.url("/trends"))
    bars = await page.query_selector_all("svg.bars rect[data-count]")
    assert len(bars) == 3 and all([(await b.bounding_box())["height"] > 0 for b in bars])
    assert len(await page.query_selector_all("svg.heat rect[data-count]")) == 7 * 24
    await page.screenshot(path=artifacts / "trends-desktop.png", full_page=True)
    await context.close()
