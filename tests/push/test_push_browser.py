"""/alerts in real Chromium at phone size: pick an area, subscribe, get a decrypted push.

A headless Chromium has no push service to reach (FCM is not on loopback), so
the page's PushManager.subscribe() is replaced, before any page script runs,
by one that hands back a subscription to the local stand-in with real keys;
everything else is real: the page's script, the service worker, the node's
API, the fan-out, the payload encryption and its decryption.
Screenshots (390x844, JS on and off) go to test-artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer

from node.outcome import Accepted, ReportDraft, SourceRef
from node.push.sender import PushSender
from node.service import ModeratorAction, Node
from scoring.model import Channel
from tests.browser.conftest import PHONE, artifacts, browser  # noqa: F401 (fixtures)
from tests.push.standin import PushServiceStandIn
from web.app import make_app
from web.messages import translate

FAKE_PUSH_MANAGER = """
(() => {
  const given = %s;
  let current = null;
  const make = () => ({
    endpoint: given.endpoint,
    toJSON: () => given,
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    window.__applicationServerKey = Array.from(new Uint8Array(options.applicationServerKey));
    current = make();
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@pytest.fixture
async def site(push_node: Node) -> AsyncIterator[str]:
    server = TestServer(make_app(push_node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_a_person_subscribes_on_a_phone_and_gets_the_verified_raid(
    browser: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
    site: str,
    push_node: Node,
    push_service: PushServiceStandIn,
) -> None:
    phone = push_service.subscriber()
    context = await browser.new_context(locale="es-MX", viewport=PHONE)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    await context.grant_permissions(["notifications"], origin=site)
    await context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(phone.subscription()))
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{site}/alerts?lang=es")
    await page.locator("#push-subscribe").wait_for(state="visible")
    assert await page.locator(".push-nojs").is_hidden()
    await page.get_by_label("Chula Vista").check()
    await page.locator("#push-subscribe").click()
    subscribed = translate("push_status_subscribed", "es")
    await page.locator("#push-status", has_text=subscribed).wait_for()
    await page.screenshot(path=str(artifacts / "push-subscribed-390.png"), full_page=False)
    assert await page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    key = bytes(await page.evaluate("window.__applicationServerKey"))
    assert len(key) == 65 and key[0] == 4
    assert await push_node.push_subscription_count() == 1

    outcome = await push_node.submit(
        ReportDraft(type="raid", area="Chula Vista", description="camionetas en la esquina"),
        SourceRef(Channel.WEB, b"198.51.100.4"),
    )
    assert isinstance(outcome, Accepted)
    await push_node.moderate(outcome.report.id, ModeratorAction.CONFIRM)
    assert push_node.push_keys is not None
    sender = PushSender(push_node, push_node.push_keys, push_node.push_hosts, retry_delay=0)
    try:
        await sender.drain()
    finally:
        await sender.close()
    [shown] = phone.received
    assert shown["title"] == "Confirmado: redada en Chula Vista" and shown["lang"] == "es"

    await page.locator("#push-unsubscribe").click()
    unsubscribed = translate("push_status_unsubscribed", "es")
    await page.locator("#push-status", has_text=unsubscribed).wait_for()
    assert await push_node.push_subscription_count() == 0
    assert errors == []
    own = urlsplit(site).netloc
    assert [u for u in requests if urlsplit(u).netloc != own] == []
    await context.close()


async def test_without_javascript_the_page_offers_the_feeds(
    browser: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
    site: str,
    push_node: Node,
) -> None:
    context = await browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{site}/alerts?lang=en")
    assert await page.locator(".push-nojs").is_visible()
    assert await page.locator("#push-subscribe").is_hidden()
    feed = page.get_by_role("link", name=translate("feeds_chapter", "en"))
    assert await feed.get_attribute("href") == "/feeds/alerts.atom?lang=en"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await page.screenshot(path=str(artifacts / "push-nojs-390.png"), full_page=False)
    await context.close()
