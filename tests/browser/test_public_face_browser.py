"""In real Chromium: the public face and the moderators' pages at 390x844 and 1280x800.

- axe-core (pinned, installed by scripts/axe.sh) on every public and moderator page at both
  sizes: no serious or critical violation, and no horizontal overflow; the moderation page
  with open verification requests (one claimed with an ETA, others not), as the verifier
  dispatch opens them for anonymous-only raids and checkpoints;
- /map with 55 active reports: what a phone downloads, in bytes on the wire (no tiles
  configured: no Leaflet), and what one refresh of its area map and list costs;
- with JavaScript off: the list's filters, an incident's page, its "still there" / "gone"
  forms, and a moderator's batch debunk undone.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import Session

from node.moderators import add_moderator
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node, open_node
from scoring.model import Channel
from tests.browser.conftest import DESKTOP, MODERATOR, PHONE, Served, serve
from tests.conftest import Clock
from tests.support import neighbour_alert, set_config
from web.app import make_app
from web.messages import translate

AXE_DIR = Path(__file__).resolve().parent / ".axe"
MAP_BUDGET = 60_000  # bytes on the wire for /map on a phone, with 55 active reports
TYPES = ("raid", "checkpoint", "vehicle", "patrol")


def axe_source() -> str:
    found = sorted(AXE_DIR.glob("axe-*.min.js"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: scripts/axe.sh should have installed it")
        pytest.skip("no axe-core (scripts/axe.sh installs it from npm)")
    return found[-1].read_text()


async def submit(node: Node, n: int, **fields: object) -> str:
    source = SourceRef(Channel.WEB, f"10.2.{n // 200}.{n % 200}".encode())
    outcome = await node.submit(ReportDraft(**fields), source)  # type: ignore[arg-type]
    await node.publish()  # the scheduler's publication tick: public pages change only then
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


async def seed(node: Node, count: int = 55) -> list[str]:
    """`count` active reports across the chapter's areas and types; one confirmed."""
    areas = [a.name for a in node.areas()]
    ids = []
    for n in range(count):
        area = areas[(n * 7) % len(areas)]
        ids.append(await submit(node, n, type=TYPES[n % 4], area=area, still_active=True))
    await node.moderate(ids[0], ModeratorAction.CONFIRM)
    await node.receive_alert(neighbour_alert(node.clock()))
    return ids


@pytest.fixture
async def dispatching(chapter_dir: Path, clock: Clock) -> AsyncIterator[Served]:
    """A node with a responders room configured, so that anonymous-only raids and checkpoints
    open verification requests (node.verification), served on loopback with a moderator."""
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')  # never reached
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "responders", "hold_minutes", "0")
    node = await open_node(chapter_dir, clock=clock)
    with Session(node.engine) as session:
        add_moderator(session, *MODERATOR)
        session.commit()
    try:
        async with serve(node) as site:
            yield site
    finally:
        await node.close()


async def open_verifications(node: Node, clock: Clock) -> None:
    """Two open verification requests, as the dispatch opens them (three anonymous reports of a
    raid, then of a checkpoint, minutes apart); a verifier claims the raid's with an ETA."""
    for kind, area in (("raid", "Chula Vista"), ("checkpoint", "San Ysidro")):
        for n in range(3):
            draft = ReportDraft(type=kind, area=area, still_active=True)
            outcome = await node.submit(draft, SourceRef(Channel.WEB, f"{area}-{n}".encode()))
            assert isinstance(outcome, Accepted), outcome
            clock.advance(minutes=4)
    requests = {r.type: r.notice_id for r in await node.verification_requests()}
    assert {"raid", "checkpoint"} <= set(requests), requests
    claimed = await node.claim_verification(requests["raid"], "@vera:example.org", 20)
    assert claimed is not None
    await node.publish()


async def axe(page: Any, source: str) -> list[dict[str, Any]]:
    """Serious and critical violations of WCAG 2.x A/AA rules on the page as it is."""
    await page.evaluate(source)
    result = await page.evaluate(
        """async () => {
          const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
          return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
            target: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


async def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: none)."""
    return await page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )


async def log_in(page: Any, served: Served, moderator: tuple[str, str]) -> None:
    await page.goto(served.url("/login?lang=en"))
    await page.fill("#f-name", moderator[0])
    await page.fill("#f-password", moderator[1])
    async with page.expect_navigation():
        await page.click("form.login button[type=submit]")
    assert "/moderation" in page.url


async def test_axe_and_no_overflow_on_every_page(
    browser: Any, dispatching: Served, clock: Clock, artifacts: Path
) -> None:
    source = axe_source()
    served, moderator = dispatching, MODERATOR
    node = served.node
    await open_verifications(node, clock)
    ids = await seed(node, 12)
    await submit(node, 900, type="raid", area="the big swap meet", description="una camioneta")
    long = "agentes revisando carros en la entrada del estacionamiento, " * 6  # to review
    await submit(node, 901, type="checkpoint", area="Chula Vista", description=long)
    incident = (await node.public_incidents())[0]
    public = ["/", "/map", "/about", "/trends", f"/incident/{incident.id}", "/login", "/nowhere"]
    # The harness can fail: a page with a known serious violation is reported.
    probe = await browser.new_context(viewport=PHONE, bypass_csp=True)
    page = await probe.new_page()
    await page.goto(served.url("/about"))
    await page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert [v["id"] for v in await axe(page, source)] == ["image-alt"]
    await probe.close()
    report: dict[str, list[str]] = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for js in (True, False):
            context = await browser.new_context(
                viewport=viewport, locale="es-MX", bypass_csp=True, java_script_enabled=True
            )
            if not js:  # the page as it is without its own scripts: block them
                await context.route("**/static/*.js", lambda route: route.abort())
            page = await context.new_page()
            pages = list(public)
            if js:
                await log_in(page, served, moderator)
                pages += ["/moderation", "/moderation?all=1"]
            for path in pages:
                key = f"{path} {name} {'js' if js else 'nojs'}"
                await page.goto(served.url(path))
                if path == "/map" and js:  # no tiles: map.js refreshes the SVG map and list
                    await page.wait_for_selector("body[data-map-live=true]", state="attached")
                if path == "/moderation":  # open verification requests, one claimed
                    assert await page.locator("li.verify-item").count() >= 2, key
                    assert await page.locator("li.verify-item.claimed").count() >= 1
                    # a queued report in a listed area names its incident (stage and link)
                    assert await page.locator("p.incident-of a").count() >= 1, key
                found = await axe(page, source)
                report[key] = [
                    f"{v['id']} ({v['impact']}, {v['nodes']}): {v['target']}" for v in found
                ]
                assert await overflow(page) == 0, key
                if js and path in ("/map", "/trends", "/moderation"):
                    shot = path.strip("/").split("?")[0] or "form"
                    await page.screenshot(path=artifacts / f"axe-{shot}-{name}.png", full_page=True)
            await context.close()
    failing = {k: v for k, v in report.items() if v}
    (artifacts / "axe-report.txt").write_text(
        "\n".join(f"{k}: {v or 'no serious violations'}" for k, v in report.items()) + "\n"
    )
    assert failing == {}
    assert ids


async def wire_sizes(requests: list[Any]) -> tuple[int, list[str]]:
    """(bytes on the wire: bodies as sent plus headers, a line per request)."""
    total, lines = 0, []
    for request in requests:
        sizes = await request.sizes()
        wire = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        total += wire
        response = await request.response()
        encoding = (await response.all_headers()).get("content-encoding", "-")
        lines.append(f"{wire:>8} {encoding:>7} /{request.url.split('/', 3)[3]}")
    return total, lines


async def test_map_on_a_phone_with_55_reports_is_light(
    browser: Any, served: Served, artifacts: Path
) -> None:
    await seed(served.node, 55)
    context = await browser.new_context(viewport=PHONE, locale="es-MX", service_workers="block")
    page = await context.new_page()
    requests: list[Any] = []
    page.on("requestfinished", lambda request: requests.append(request))
    await page.goto(served.url("/map"), wait_until="networkidle")
    assert await page.locator("li.incident").count() >= 30
    first, lines = await wire_sizes(requests)
    html = next(r for r in requests if r.url.split("?")[0].endswith("/map"))
    assert (await (await html.response()).all_headers()).get("content-encoding") == "gzip"
    await page.screenshot(path=artifacts / "map-55-phone.png", full_page=True)
    assert not [r.url for r in requests if "leaflet" in r.url.lower()]  # no tiles: no Leaflet
    # One refresh: a new incident at the next tick; the page asks for its area map and list.
    await page.wait_for_selector("body[data-map-live=true]", state="attached")
    requests.clear()
    await submit(served.node, 990, type="raid", area="Oceanside", still_active=True)
    await page.wait_for_selector('path.am-cell.am-possible[data-area="oceanside"]')
    await page.wait_for_selector('#map-list li.incident:has-text("Oceanside")', state="attached")
    refresh, more = await wire_sizes(requests)
    (artifacts / "map-phone-55-sizes.txt").write_text(
        "\n".join([*lines, f"{first:>8} total on opening /map", *more, f"{refresh:>8} one refresh"])
        + "\n"
    )
    assert first <= MAP_BUDGET, "\n".join(lines)
    assert served.foreign_requests() == []
    await context.close()


async def test_without_javascript_filters_incident_page_and_follow_ups(
    browser: Any, served: Served, artifacts: Path
) -> None:
    node = served.node
    await seed(node, 8)
    context = await browser.new_context(viewport=PHONE, locale="es-MX", java_script_enabled=False)
    page = await context.new_page()
    await page.goto(served.url("/map"))
    before = await page.locator("li.incident").count()
    await page.select_option("#filter-type", "raid")
    async with page.expect_navigation():
        await page.click("form.filters button[type=submit]")
    assert "type=raid" in page.url
    shown = await page.locator("li.incident").count()
    assert 0 < shown < before
    assert (
        await page.locator("li.incident .what strong").all_text_contents()
        == [translate("raid", "es")] * shown
    )
    await page.screenshot(path=artifacts / "map-filtered-phone-nojs.png", full_page=True)

    async with page.expect_navigation():
        await page.click("li.incident a.what >> nth=0")
    assert "/incident/" in page.url
    await page.screenshot(path=artifacts / "incident-phone-nojs.png", full_page=True)
    async with page.expect_navigation():
        await page.click("button.still-there")
    assert await page.text_content("#noted") == translate("web_followup_still_there", "es")
    async with page.expect_navigation():
        await page.click("button.gone")
    assert await page.text_content("#noted") == translate("web_followup_gone", "es")
    await page.screenshot(path=artifacts / "incident-noted-phone-nojs.png", full_page=True)
    desktop = await context.new_page()
    await desktop.set_viewport_size(DESKTOP)
    await desktop.goto(page.url.split("/followup")[0])
    await desktop.screenshot(path=artifacts / "incident-desktop-nojs.png", full_page=True)
    assert await context.cookies() == []
    assert served.foreign_requests() == []
    await context.close()


async def test_without_javascript_a_moderator_undoes_a_batch_debunk(
    browser: Any, node: Node, moderator: tuple[str, str], artifacts: Path
) -> None:
    server = TestServer(make_app(node, undo_window_s=600), host="127.0.0.1", port=0)
    await server.start_server()
    served = Served(str(server.make_url("")).rstrip("/"), node)
    try:
        ids = [
            await submit(node, n, type="raid", area=f"the big swap meet {n}") for n in range(1, 6)
        ]
        context = await browser.new_context(viewport=PHONE, locale="en", java_script_enabled=False)
        page = await context.new_page()
        await log_in(page, served, moderator)
        async with page.expect_navigation():
            await page.click("a.select-all")
        async with page.expect_navigation():
            await page.click('form.batch button[value="debunk"]')
        assert await page.locator("li.queue-item").count() == 0
        notice = await page.text_content(".notice.done p")
        assert notice == "Debunked: 5."
        await page.screenshot(path=artifacts / "moderation-undo-phone-nojs.png", full_page=True)
        async with page.expect_navigation():
            await page.click("form.undo button")
        assert "5 reports are back in the queue" in (await page.text_content(".notice.done"))
        assert await page.locator("li.queue-item").count() == len(ids)
        await page.set_viewport_size(DESKTOP)
        await page.screenshot(path=artifacts / "moderation-desktop-nojs.png", full_page=True)
        await context.close()
    finally:
        await server.close()
