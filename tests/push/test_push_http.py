"""The Web Push API, the subscribe page, the web app files and the Atom feeds, over HTTP."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from scoring.model import Channel
from tests.push.standin import PushServiceStandIn
from web.app import make_app

ATOM = "{http://www.w3.org/2005/Atom}"
SUBSCRIPTIONS = "/api/v1/push/subscriptions"


@pytest.fixture
async def client(push_node: Node) -> AsyncIterator[aiohttp.ClientSession]:
    server = TestServer(make_app(push_node), host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession(
        base_url=str(server.make_url("/")), headers={"Accept-Language": "en"}
    )
    try:
        yield session
    finally:
        await session.close()
        await server.close()


def chula(node: Node) -> str:
    return next(a.id for a in node.areas() if a.name == "Chula Vista")


async def test_the_key_is_the_nodes_p256_application_server_key(
    client: aiohttp.ClientSession, push_node: Node
) -> None:
    async with client.get("/api/v1/push/key") as resp:
        assert resp.status == 200
        key = (await resp.json())["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    assert key == push_node.push_public_key()


async def test_subscribe_and_unsubscribe(
    client: aiohttp.ClientSession, push_node: Node, push_service: PushServiceStandIn
) -> None:
    sub = push_service.subscriber().subscription()
    body = {"subscription": sub, "areas": [chula(push_node)], "lang": "es"}
    async with client.post(SUBSCRIPTIONS, json=body) as resp:
        assert resp.status == 201
        assert (await resp.json())["areas"] == [chula(push_node)]
    assert await push_node.push_subscription_count() == 1
    for _ in range(2):  # the same answer whether it was there or not
        async with client.delete(SUBSCRIPTIONS, json={"endpoint": sub["endpoint"]}) as resp:
            assert resp.status == 204
    assert await push_node.push_subscription_count() == 0


async def test_refusals_have_a_translated_reason_per_field(
    client: aiohttp.ClientSession, push_node: Node, push_service: PushServiceStandIn
) -> None:
    sub = push_service.subscriber().subscription()
    sub["endpoint"] = "https://169.254.169.254/latest"
    body = {"subscription": sub, "areas": ["nowhere"]}
    async with client.post(SUBSCRIPTIONS + "?lang=es", json=body) as resp:
        assert resp.status == 422
        answer = await resp.json()
    assert set(answer["codes"]) == {"endpoint", "areas"}
    assert answer["codes"]["endpoint"] == ["push_endpoint_not_allowed"]
    assert "navegadores" in answer["errors"]["endpoint"][0]
    async with client.post(
        SUBSCRIPTIONS, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
    async with client.post(SUBSCRIPTIONS, data=b"x" * 5000) as resp:
        assert resp.status == 413


async def test_the_subscribe_page_works_in_both_languages_and_offers_feeds(
    client: aiohttp.ClientSession, push_node: Node
) -> None:
    for lang, words in (("en", "Alerts for my area"), ("es", "Alertas de mi zona")):
        async with client.get(f"/alerts?lang={lang}") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert words in page
        assert 'src="/static/push.js"' in page and "<script>" not in page
        assert f'value="{chula(push_node)}"' in page
        assert f"/feeds/areas/{chula(push_node)}.atom" in page
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page


async def test_manifest_icons_and_service_worker_are_served_by_the_node(
    client: aiohttp.ClientSession,
) -> None:
    async with client.get("/manifest.webmanifest") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/manifest+json"
        manifest = await resp.json(content_type=None)
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/map")
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/")
        async with client.get(icon["src"]) as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
    async with client.get("/sw.js") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/javascript"
        assert resp.headers["Service-Worker-Allowed"] == "/"
        assert "showNotification" in await resp.text()


async def test_feeds_carry_the_alert_and_its_all_clear_but_no_free_text(
    client: aiohttp.ClientSession, push_node: Node
) -> None:
    outcome = await push_node.submit(
        ReportDraft(type="raid", area="Chula Vista", description="un texto muy privado aqui"),
        SourceRef(Channel.WEB, b"203.0.113.7"),
    )
    assert isinstance(outcome, Accepted)
    await push_node.moderate(outcome.report.id, ModeratorAction.CONFIRM)

    async with client.get("/feeds/alerts.atom?lang=es") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/atom+xml"
        text = await resp.text()
    assert "privado" not in text
    feed = ET.fromstring(text)
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Confirmado: redada en Chula Vista"
    assert entry.findtext(f"{ATOM}updated").endswith(":00:00Z")
    async with client.get(f"/feeds/areas/{chula(push_node)}.atom") as resp:
        assert resp.status == 200
        assert len(ET.fromstring(await resp.text()).findall(f"{ATOM}entry")) == 1
    oceanside = next(a.id for a in push_node.areas() if a.name == "Oceanside")
    async with client.get(f"/feeds/areas/{oceanside}.atom") as resp:
        assert ET.fromstring(await resp.text()).findall(f"{ATOM}entry") == []
    async with client.get("/feeds/areas/nowhere.atom") as resp:
        assert resp.status == 404

    await push_node.moderate(outcome.report.id, ModeratorAction.DEBUNK)
    async with client.get("/feeds/alerts.atom") as resp:
        feed = ET.fromstring(await resp.text())
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "All clear: raid in Chula Vista"
    assert entry.findtext(f"{ATOM}id").endswith("/ended")


async def test_the_map_announces_the_feed(client: aiohttp.ClientSession) -> None:
    async with client.get("/map") as resp:
        page = await resp.text()
    assert 'type="application/atom+xml" href="/feeds/alerts.atom?lang=en"' in page


async def test_push_off_answers_404_and_the_page_says_so(push_chapter, clock) -> None:
    from node.service import open_node
    from tests.support import set_config

    set_config(push_chapter, "push", "enabled", "false")
    node = await open_node(push_chapter, clock=clock)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
            async with session.get("/api/v1/push/key") as resp:
                assert resp.status == 404
            async with session.get("/alerts?lang=en") as resp:
                assert "does not send browser alerts" in await resp.text()
        assert not (push_chapter / "keys" / "vapid.pem").exists()
    finally:
        await server.close()
        await node.close()
