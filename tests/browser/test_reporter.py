"""In real Chromium: a Spanish reporter submits with JavaScript on and off, sees it on the map,
a moderator confirms it and the map's colour changes; no page asks any host but the node.

Screenshots of the form and the map, at phone (390x844) and desktop (1280x800) size, go to
test-artifacts/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import DESKTOP, PHONE, Served
from tests.support import neighbour_alert
from web.messages import translate

# The area map's palette (web/static/areamap.css): unverified gray, possible yellow, likely
# orange, confirmed red.
FILL = {
    "unverified": "rgb(158, 158, 158)",
    "possible": "rgb(255, 212, 0)",
    "likely": "rgb(255, 140, 0)",
    "confirmed": "rgb(224, 0, 0)",
}
AREA_ID = "chula-vista"
# Over 280 characters (the review threshold for a low-confidence report), nothing personal.
DESCRIPTION = (
    "Vimos varias camionetas blancas estacionadas junto a la gasolinera grande, con agentes "
    "revisando a quienes pasaban a pie. La fila de carros llegaba hasta el semáforo y mucha "
    "gente se regresaba a sus casas. Seguían ahí cuando nos fuimos, hace unos minutos, y había "
    "más agentes llegando en otra camioneta."
)


class Watched:
    """A browser context whose requests are logged and whose pages' errors are kept."""

    def __init__(self, context: Any, served: Served) -> None:
        self.context = context
        self.errors: list[str] = []
        self.failed: list[tuple[int, str]] = []  # (status, path) of every 4xx/5xx answer
        context.on("request", lambda request: served.requests.append(request.url))
        context.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append((response.status, urlsplit(response.url).path))

    async def page(self) -> Any:
        page = await self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        # A CSP violation, a script error: kept. A 4xx answer is checked by the test itself.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)


async def context(browser: Any, served: Served, *, js: bool = True, viewport: dict | None = None):
    made = await browser.new_context(
        java_script_enabled=js,
        locale="es-MX",  # Accept-Language: es-MX: the pages answer in Spanish
        viewport=viewport or PHONE,
        service_workers="block",
    )
    return Watched(made, served)


async def fill_form(page: Any, *, area: str, description: str, highway: str = "I-5") -> None:
    await page.check('input[name="type"][value="checkpoint"]')
    await page.fill("#f-area", area)
    await page.select_option("#f-highway", highway)
    await page.fill("#f-description", description)
    await page.check('input[name="still_active"]')


async def cell(page: Any, area_id: str, status: str) -> Any:
    """The area map's shape of an area, once it shows an incident at `status` (no tiles are
    configured: the node's SVG is the map, and map.js puts a fresh copy in place)."""
    selector = f'svg.area-map-svg path.am-cell.am-{status}[data-area="{area_id}"]'
    return await page.wait_for_selector(selector, state="attached")


async def fill(element: Any) -> str:
    return await element.evaluate("e => getComputedStyle(e).fill")


async def test_spanish_report_with_javascript_then_a_moderator_confirms_it(
    browser: Any, served: Served, moderator: tuple[str, str], artifacts: Path
) -> None:
    await served.node.receive_alert(neighbour_alert(served.node.clock()))
    reporter = await context(browser, served)
    page = await reporter.page()
    await page.goto(served.url("/"))
    assert await page.get_attribute("html", "lang") == "es"
    assert await page.text_content("button[type=submit]") == translate("web_submit", "es")
    # With JavaScript the area field suggests the gazetteer's places.
    await page.wait_for_selector("#area-suggestions option", state="attached")
    assert await page.get_attribute("#f-area", "list") == "area-suggestions"
    await page.screenshot(path=artifacts / "form-phone.png", full_page=True)

    # A refusal first: the reason next to its field, in Spanish, the text kept, no page load.
    await fill_form(page, area="Chula Vista", description="llamen al 619-555-0142")
    await page.click("button[type=submit]")
    error = await page.wait_for_selector('[data-field="description"] .error')
    assert translate("refused_phone", "es") in await error.text_content()
    assert await page.input_value("#f-description") == "llamen al 619-555-0142"
    assert await page.input_value("#f-area") == "Chula Vista"

    await page.fill("#f-description", DESCRIPTION)
    async with page.expect_response("**/api/v1/reports?lang=es") as sent:
        await page.click("button[type=submit]")
    report = await (await sent.value).json()
    await page.wait_for_selector("#sent")
    assert await page.text_content("#sent") == translate("web_sent_title", "es")
    assert report["area"] == "Chula Vista" and report["highway"] == "I-5"
    assert "low_confidence_long_text" in report["review"]  # so it is in the moderators' queue
    await served.node.publish()  # the scheduler's publication tick (node.publication)
    [incident] = await served.node.public_incidents(area=AREA_ID)  # its id is the incident's
    item = f'#map-list li[data-incident-id="{incident.id}"]'

    # On the map, in the colour of its level; the neighbour's alert in its own style.
    await page.click(f'a[href="/map?lang=es"] >> text={translate("web_see_map", "es")}')
    await page.wait_for_selector("body[data-map-live=true]", state="attached")
    before = await cell(page, AREA_ID, report["status"])
    assert await fill(before) == FILL[report["status"]]
    assert await page.is_visible(item)
    assert await page.is_visible("#map-list li.alert-item")  # the neighbour's alert, listed
    assert not [u for u in served.requests if "leaflet" in u]  # no tiles: no Leaflet
    await page.screenshot(path=artifacts / "map-phone.png", full_page=True)

    # A moderator logs in (another browser, its own cookie) and confirms it.
    mod = await context(browser, served, viewport=DESKTOP)
    mod_page = await mod.page()
    await mod_page.goto(served.url("/login?lang=es"))
    await mod_page.fill("#f-name", moderator[0])
    await mod_page.fill("#f-password", moderator[1])
    async with mod_page.expect_navigation():
        await mod_page.click("form.login button[type=submit]")
    assert "/moderation" in mod_page.url
    confirm = f'[data-report-id="{report["id"]}"] button[name="action"][value="confirm"]'
    async with mod_page.expect_navigation():
        await mod_page.click(confirm)
    assert "/moderation" in mod_page.url
    await served.node.publish()

    # The reporter's map refreshes by itself: its area turns red; the list follows.
    after = await cell(page, AREA_ID, "confirmed")
    assert await fill(after) == FILL["confirmed"]
    await page.wait_for_selector(f'{item}[data-level="confirmed"]')

    desktop = await reporter.page()
    await desktop.set_viewport_size(DESKTOP)
    await desktop.goto(served.url("/"))
    await desktop.screenshot(path=artifacts / "form-desktop.png", full_page=True)
    await desktop.goto(served.url("/map"))
    await cell(desktop, AREA_ID, "confirmed")
    await desktop.screenshot(path=artifacts / "map-desktop.png", full_page=True)

    reporter_cookies = await reporter.context.cookies()
    assert reporter_cookies == []  # only the moderator got one
    assert await mod.context.cookies() != []
    assert served.foreign_requests() == []
    assert served.requests, "no request was recorded"
    assert reporter.errors == [] and mod.errors == []
    assert reporter.failed == [(422, "/api/v1/reports")] and mod.failed == []
    await reporter.context.close()
    await mod.context.close()


async def test_spanish_report_without_javascript(
    browser: Any, served: Served, artifacts: Path
) -> None:
    reporter = await context(browser, served, js=False)
    page = await reporter.page()
    await page.goto(served.url("/"))
    assert await page.get_attribute("html", "lang") == "es"
    await page.screenshot(path=artifacts / "form-phone-nojs.png", full_page=True)

    # A plain POST; a missing area comes back next to its field, the text kept.
    # (A highway alone would say where: none is chosen.)
    await fill_form(
        page, area="", description="Tres patrullas en la entrada del mercado.", highway=""
    )
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    error = await page.wait_for_selector('[data-field="area"] .error')
    assert translate("missing_area", "es") in await error.text_content()
    assert await page.input_value("#f-description") == "Tres patrullas en la entrada del mercado."
    assert await page.is_checked('input[name="type"][value="checkpoint"]')

    await page.fill("#f-area", "San Ysidro")
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert await page.text_content("#sent") == translate("web_sent_title", "es")
    assert "San Ysidro" in await page.text_content("main")  # the reporter's own, read back
    await served.node.publish()  # the scheduler's publication tick (node.publication)
    [incident] = await served.node.public_incidents(type="checkpoint")
    report_id, status = incident.id, incident.level

    # Without JavaScript the map page is whole: the node's area map and the list.
    async with page.expect_navigation():
        await page.click(f'a[href="/map?lang=es"] >> text={translate("web_see_map", "es")}')
    assert await page.is_visible('svg.area-map-svg path.am-cell[data-area="san-ysidro"]')
    assert not await page.is_visible("#map")
    item = f'#map-list li[data-incident-id="{report_id}"][data-level="{status}"]'
    assert await page.is_visible(item)
    assert await page.is_visible(f".legend .swatch-{status}")
    await page.screenshot(path=artifacts / "map-phone-nojs.png", full_page=True)

    assert await reporter.context.cookies() == []
    assert served.foreign_requests() == []
    assert reporter.errors == []
    assert reporter.failed == [(422, "/report")]
    await reporter.context.close()


async def test_every_page_states_the_hotline_and_the_language_switch_works(
    browser: Any, served: Served
) -> None:
    reporter = await context(browser, served)
    page = await reporter.page()
    for path in ("/", "/map", "/about"):
        await page.goto(served.url(path))
        assert await page.text_content(".hotline-number") == "1-844-363-1423"
        assert await page.get_attribute("html", "lang") == "es"
        async with page.expect_navigation():
            await page.click('.lang-switch a[hreflang="en"]')
        assert await page.get_attribute("html", "lang") == "en"
        assert page.url.endswith(f"{path}?lang=en")
    assert await reporter.context.cookies() == []
    assert served.foreign_requests() == []
    assert reporter.errors == [] and reporter.failed == []
    await reporter.context.close()
