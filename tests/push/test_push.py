"""Web Push end to end on a real node: subscribe, an alert, what the push service gets.

The push service is a stand-in on loopback (tests/push/standin.py) that
checks the headers a real one requires and decrypts each payload with the
subscriber's own keys, so these tests read what a phone would show.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
from pathlib import Path

import pytest

from node.outcome import Accepted, FieldError, RateLimited, ReportDraft, SourceRef
from node.push.sender import PushSender
from node.push.subscriptions import Subscription
from node.service import ModeratorAction, Node
from scoring.model import Channel
from tests.conftest import Clock
from tests.push.standin import PushServiceStandIn

SECRET_TEXT = "tres camionetas blancas frente a la fabrica de tortillas"


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"203.0.113.{n}".encode())


def area_id(node: Node, name: str) -> str:
    return next(a.id for a in node.areas() if a.name == name)


def body_for(sub: dict, areas: list[str], **extra: object) -> dict:
    return {"subscription": sub, "areas": areas, **extra}


async def subscribe(node: Node, sub: dict, areas: list[str], n: int = 1, **extra) -> Subscription:
    found = await node.subscribe_push(body_for(sub, areas, **extra), web(n))
    assert isinstance(found, Subscription), found
    return found


async def report(node: Node, area: str, kind: str = "raid", n: int = 50) -> str:
    outcome = await node.submit(ReportDraft(type=kind, area=area, description=SECRET_TEXT), web(n))
    assert isinstance(outcome, Accepted)
    return outcome.report.id


def sender(node: Node, **options: object) -> PushSender:
    assert node.push_keys is not None
    return PushSender(node, node.push_keys, node.push_hosts, retry_delay=0, **options)


async def test_a_verified_raid_reaches_the_subscriber_encrypted_and_nothing_else(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    here, elsewhere = push_service.subscriber(), push_service.subscriber()
    await subscribe(push_node, here.subscription(), [area_id(push_node, "Chula Vista")], lang="es")
    await subscribe(push_node, elsewhere.subscription(), [area_id(push_node, "Oceanside")], n=2)

    report_id = await report(push_node, "Chula Vista")
    await push_node.moderate(report_id, ModeratorAction.CONFIRM)
    pushes = sender(push_node)
    try:
        assert await pushes.drain() >= 1
    finally:
        await pushes.close()

    assert push_service.refused == []
    assert elsewhere.received == []
    [shown] = here.received
    assert shown["kind"] == "verified" and shown["lang"] == "es"
    assert shown["title"] == "Confirmado: redada en Chula Vista"
    assert shown["url"].startswith("/")
    assert SECRET_TEXT not in str(shown) and "camionetas" not in str(shown)
    [delivery] = push_service.deliveries
    assert delivery.headers["Urgency"] == "high"  # a raid
    assert 300 <= int(delivery.headers["TTL"]) <= 24 * 3600
    assert delivery.headers["Content-Encoding"] == "aes128gcm"


async def test_the_all_clear_goes_to_those_who_got_the_alert(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    phone = push_service.subscriber()
    await subscribe(push_node, phone.subscription(), [area_id(push_node, "Chula Vista")])
    report_id = await report(push_node, "Chula Vista", "checkpoint")
    await push_node.moderate(report_id, ModeratorAction.CONFIRM)
    pushes = sender(push_node)
    try:
        await pushes.drain()
        await push_node.moderate(report_id, ModeratorAction.DEBUNK)
        await pushes.drain()
    finally:
        await pushes.close()
    kinds = [p["kind"] for p in phone.received]
    assert kinds == ["verified", "all_clear"]
    assert phone.received[1]["title"] == "All clear: checkpoint in Chula Vista"
    assert push_service.deliveries[1].headers["Urgency"] == "normal"


async def test_types_filter_and_unsubscribe(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    raids_only, gone_away = push_service.subscriber(), push_service.subscriber()
    chula = area_id(push_node, "Chula Vista")
    await subscribe(push_node, raids_only.subscription(), [chula], types=["raid"])
    await subscribe(push_node, gone_away.subscription(), [chula], n=2)
    assert await push_node.unsubscribe_push(gone_away.endpoint) is True
    assert await push_node.unsubscribe_push(gone_away.endpoint) is False

    report_id = await report(push_node, "Chula Vista", "vehicle")
    await push_node.moderate(report_id, ModeratorAction.CONFIRM)
    pushes = sender(push_node)
    try:
        await pushes.drain()
    finally:
        await pushes.close()
    assert raids_only.received == [] and gone_away.received == []
    assert push_service.requests == 0


async def test_a_gone_subscription_is_deleted(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    gone = push_service.subscriber(answer=410)
    await subscribe(push_node, gone.subscription(), [area_id(push_node, "Chula Vista")])
    assert await push_node.push_subscription_count() == 1
    report_id = await report(push_node, "Chula Vista")
    await push_node.moderate(report_id, ModeratorAction.CONFIRM)
    pushes = sender(push_node)
    try:
        await pushes.drain()
    finally:
        await pushes.close()
    assert push_service.requests == 1
    assert await push_node.push_subscription_count() == 0


async def test_pushes_per_subscriber_are_rate_limited(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    phone = push_service.subscriber()
    await subscribe(push_node, phone.subscription(), [area_id(push_node, "Chula Vista")])
    pushes = sender(push_node, max_per_hour=1)
    try:
        for kind in ("raid", "checkpoint"):
            report_id = await report(push_node, "Chula Vista", kind)
            await push_node.moderate(report_id, ModeratorAction.CONFIRM)
            await pushes.drain()
    finally:
        await pushes.close()
    assert [p["title"] for p in phone.received] == ["Confirmed: raid in Chula Vista"]


async def test_subscriptions_expire_unless_renewed(
    push_node: Node, push_service: PushServiceStandIn, clock: Clock
) -> None:
    phone = push_service.subscriber()
    chula = area_id(push_node, "Chula Vista")
    await subscribe(push_node, phone.subscription(), [chula])
    clock.advance(days=29)
    await subscribe(push_node, phone.subscription(), [chula])  # the page renews on a visit
    clock.advance(days=29)
    await push_node.purge()
    assert await push_node.push_subscription_count() == 1
    clock.advance(days=2)
    await push_node.purge()
    assert await push_node.push_subscription_count() == 0


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example/push/1",
        "https://fcm.googleapis.com.evil.example/x",
        "https://fcm.googleapis.com:8443/x",
        "http://fcm.googleapis.com/x",
        "https://10.0.0.1/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://user@fcm.googleapis.com/x",
        "ftp://fcm.googleapis.com/x",
        "javascript:alert(1)",
        "http://127.0.0.1:1/x",  # loopback, but not the allowed port
        "https://fcm.googleapis.com/" + "a" * 1100,
    ],
)
async def test_endpoints_outside_the_push_services_are_refused(
    push_node: Node, push_service: PushServiceStandIn, endpoint: str
) -> None:
    sub = push_service.subscriber().subscription()
    sub["endpoint"] = endpoint
    body = body_for(sub, [area_id(push_node, "Chula Vista")])
    found = await push_node.subscribe_push(body, web(1))
    assert isinstance(found, tuple)
    assert {e.field for e in found} == {"endpoint"}


async def test_known_push_services_are_accepted(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    keys = push_service.subscriber().subscription()["keys"]
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=AQE",
    ):
        sub = {"endpoint": endpoint, "keys": keys}
        found = await push_node.subscribe_push(
            body_for(sub, [area_id(push_node, "Chula Vista")]), web(3)
        )
        assert isinstance(found, Subscription), (endpoint, found)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"areas": []}, "areas"),
        ({"areas": ["no-such-area"]}, "areas"),
        ({"types": ["picnic"]}, "types"),
        ({"lang": "fr"}, "lang"),
        ({"subscription": {"endpoint": "x"}}, "keys"),
        ({"subscription": "nope"}, "subscription"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_subscriptions_get_a_reason_per_field(
    push_node: Node, push_service: PushServiceStandIn, change: dict, field: str
) -> None:
    body = body_for(push_service.subscriber().subscription(), [area_id(push_node, "Chula Vista")])
    body.update(change)
    found = await push_node.subscribe_push(body, web(1))
    assert isinstance(found, tuple) and all(isinstance(e, FieldError) for e in found)
    assert field in {e.field for e in found}


async def test_bad_keys_are_refused(push_node: Node, push_service: PushServiceStandIn) -> None:
    sub = push_service.subscriber().subscription()
    for keys in ({"p256dh": "AAAA", "auth": sub["keys"]["auth"]}, {**sub["keys"], "auth": "AA"}):
        found = await push_node.subscribe_push(
            body_for({**sub, "keys": keys}, [area_id(push_node, "Chula Vista")]), web(1)
        )
        assert isinstance(found, tuple) and {e.field for e in found} == {"keys"}


async def test_only_accepted_subscriptions_count_against_the_limit(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    chula = area_id(push_node, "Chula Vista")
    for _ in range(30):  # refused ones cost nothing
        assert isinstance(await push_node.subscribe_push({"areas": []}, web(9)), tuple)
    outcomes = [
        await push_node.subscribe_push(
            body_for(push_service.subscriber().subscription(), [chula]), web(9)
        )
        for _ in range(11)
    ]
    assert all(isinstance(o, Subscription) for o in outcomes[:10])
    assert isinstance(outcomes[10], RateLimited)


async def test_nothing_of_a_subscription_is_stored_in_clear(
    push_node: Node, push_service: PushServiceStandIn, push_chapter: Path
) -> None:
    phone = push_service.subscriber()
    sub = phone.subscription()
    await subscribe(push_node, sub, [area_id(push_node, "Chula Vista")])
    await push_node.purge()  # folds the WAL into the database file
    blob = b"".join(p.read_bytes() for p in push_chapter.glob("vecinos.db*"))
    for secret in (phone.token, sub["keys"]["p256dh"], sub["keys"]["auth"], "Chula"):
        assert secret.encode() not in blob
    keys = push_chapter / "keys"
    for name in ("vapid.pem", "push.key"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600


async def test_the_running_fan_out_wakes_on_the_alert_itself(
    push_node: Node, push_service: PushServiceStandIn
) -> None:
    """What `vecinos run` starts: no poll, the commit that queues the change wakes it."""
    phone = push_service.subscriber()
    await subscribe(push_node, phone.subscription(), [area_id(push_node, "Chula Vista")])
    pushes = sender(push_node)
    task = asyncio.create_task(pushes.run())
    try:
        report_id = await report(push_node, "Chula Vista")
        await push_node.moderate(report_id, ModeratorAction.CONFIRM)
        await push_service.wait_requests(1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [p["kind"] for p in phone.received] == ["verified"]
