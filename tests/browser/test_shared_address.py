"""In real Chromium: a reporter behind an address whose rate limit others used up (a Tor
onion service, a big NAT) still gets through, with JavaScript (the form solves the 429's
proof of work and sends again) and without it (the form comes back, text kept, with a
ticket to send again after a wait). Issue 11, part 4."""

from __future__ import annotations

from typing import Any

from node.outcome import Accepted, ReportDraft, SourceRef
from node.sources import TicketRules
from scoring.model import Channel
from tests.browser.conftest import Served
from tests.browser.test_reporter import context
from web.messages import translate

LOOPBACK = SourceRef(Channel.WEB, bytes([127, 0, 0, 1]))  # the browser's address, as web.source
TEXT = "Dos camionetas blancas frente al mercado."


async def use_up_the_bucket(served: Served) -> None:
    node = served.node
    node.limiter.rules = TicketRules(bits=12, wait_s=45)  # a quick proof for the test
    for _ in range(node.config.get("intake", "rate_limit_reports")):
        done = await node.submit(ReportDraft(type="raid", area="Vista"), LOOPBACK)
        assert isinstance(done, Accepted)


async def test_with_javascript_the_form_proves_work_and_sends(browser: Any, served: Served) -> None:
    await use_up_the_bucket(served)
    reporter = await context(browser, served)
    page = await reporter.page()
    await page.goto(served.url("/"))
    await page.check('input[name="type"][value="checkpoint"]')
    await page.fill("#f-area", "San Ysidro")
    await page.fill("#f-description", TEXT)
    bodies: list[str] = []
    page.on("request", lambda r: bodies.append(r.post_data or "") if r.method == "POST" else None)
    async with page.expect_response(lambda r: r.status == 201) as sent:
        await page.click("button[type=submit]")
    report = await (await sent.value).json()
    await page.wait_for_selector("#sent")
    assert report["area"] == "San Ysidro"
    assert [status for status, _ in reporter.failed] == [429]
    assert len(bodies) == 2 and '"proof":null' in bodies[0] and '"proof":"' in bodies[1]
    proof = bodies[1].split('"proof":"')[1].split('"')[0]
    assert ":" in proof  # a nonce: the proof of work, not the wait
    assert reporter.errors == []
    await reporter.context.close()


async def test_without_javascript_the_ticket_is_waited_out(browser: Any, served: Served) -> None:
    await use_up_the_bucket(served)
    reporter = await context(browser, served, js=False)
    page = await reporter.page()
    await page.goto(served.url("/"))
    await page.check('input[name="type"][value="checkpoint"]')
    await page.fill("#f-area", "San Ysidro")
    await page.fill("#f-description", TEXT)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    # The form again, the text kept, and why, in Spanish.
    alert = await page.text_content("#form-alert")
    assert translate("rate_limited_ticket", "es", seconds="45") in (alert or "")
    assert await page.input_value("#f-description") == TEXT
    assert await page.get_attribute('input[name="proof"]', "value")
    served.node.clock.advance(seconds=45)  # type: ignore[attr-defined]
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert await page.text_content("#sent") == translate("web_sent_title", "es")
    assert [status for status, _ in reporter.failed] == [429]
    await reporter.context.close()
