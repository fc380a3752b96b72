"""SMS (Twilio), Signal (signal-cli-rest-api) and Telegram (Bot API) senders.

The real services cannot be reached from here: each test runs a local HTTP
server on 127.0.0.1 that checks the exact request the real API expects
(method, path, auth, content type, body) and answers as it would. Then
the dispatcher, on a real node: a likely raid reaches every channel as a
short text with no description, a failing service is retried without
holding up the others, and a refusing one is counted and skipped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import Session, select

from node.channels import build_channels, consumers
from node.channels.base import ChannelError
from node.channels.dispatch import ChannelDispatch
from node.channels.signal import SignalChannel
from node.channels.telegram import TelegramChannel
from node.channels.twilio import TwilioChannel
from node.config import ConfigError, load_config
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node, open_node
from node.store import Incident
from scoring.model import Channel
from tests.support import set_config

WAIT = 10.0
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "123456:ABC-secret-token"


TWILIO_TOKEN = "auth-secret"
TWILIO_AUTH = "Basic " + base64.b64encode(f"{SID}:{TWILIO_TOKEN}".encode()).decode()
TWILIO_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"
TELEGRAM_PATH = f"/bot{TOKEN}/sendMessage"
TELEGRAM_FIELDS = {"chat_id", "text", "link_preview_options"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _json(seen: Seen) -> dict | None:
    if seen.headers.get("Content-Type") != "application/json":
        return None
    try:
        body = json.loads(seen.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def signal_problems(seen: Seen) -> list[str]:
    """signal-cli-rest-api POST /v2/send: JSON message, number, recipients (doc/EXAMPLES.md)."""
    body = _json(seen)
    if body is None:
        return ["signal: not a JSON object"]
    problems = []
    if set(body) != {"message", "number", "recipients"}:
        problems.append(f"signal: fields {sorted(body)}")
    if not isinstance(body.get("message"), str) or not body["message"]:
        problems.append("signal: message")
    if not isinstance(body.get("number"), str) or not body["number"].startswith("+"):
        problems.append("signal: number")
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not all(isinstance(r, str) and r for r in recipients):
        problems.append("signal: recipients")
    elif not recipients:
        problems.append("signal: no recipients")
    return problems


def telegram_problems(seen: Seen) -> list[str]:
    """Bot API sendMessage: chat_id (integer or string) and text (1-4096 characters)."""
    body = _json(seen)
    if body is None:
        return ["telegram: not a JSON object"]
    problems = []
    if not set(body) <= TELEGRAM_FIELDS:
        problems.append(f"telegram: fields {sorted(body)}")
    if not isinstance(body.get("chat_id"), int | str) or body.get("chat_id") == "":
        problems.append("telegram: chat_id")
    text = body.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= 4096:
        problems.append("telegram: text")
    if body.get("link_preview_options", {"is_disabled": True}) != {"is_disabled": True}:
        problems.append("telegram: link_preview_options")
    return problems


def twilio_problems(seen: Seen) -> list[str]:
    """Messages.json: Basic auth, a form with To, From xor MessagingServiceSid, and Body."""
    if seen.headers.get("Authorization") != TWILIO_AUTH:
        return ["twilio: Authorization"]
    if seen.headers.get("Content-Type") != "application/x-www-form-urlencoded":
        return ["twilio: Content-Type"]
    try:
        form = parse_qs(seen.body.decode(), strict_parsing=True)
    except ValueError:
        return ["twilio: not a form"]
    problems = []
    if any(len(values) != 1 for values in form.values()):
        problems.append("twilio: a repeated field")
    if not set(form) <= {"To", "From", "MessagingServiceSid", "Body"}:
        problems.append(f"twilio: fields {sorted(form)}")
    if not form.get("To", [""])[0].startswith("+"):
        problems.append("twilio: To")
    if ("From" in form) == ("MessagingServiceSid" in form):
        problems.append("twilio: From or MessagingServiceSid")
    if not form.get("Body", [""])[0]:
        problems.append("twilio: Body")
    return problems


# path -> (what it checks, its success status and body, as the real service answers)
APIS = {
    "/v2/send": (signal_problems, 201, {"timestamp": "1700000000000"}),
    TELEGRAM_PATH: (telegram_problems, 200, {"ok": True, "result": {"message_id": 1}}),
    TWILIO_PATH: (twilio_problems, 201, {"sid": "SM0123", "status": "queued"}),
}


@dataclass
class FakeService:
    """A local HTTP server for the three APIs: each request is checked as the real API
    checks it (method, path, auth, content type, body); a wrong one is answered 400/404
    and kept in `problems`, which the fixture requires empty at the end. `replies`
    (then `default`) override the answer to a right request, to play failures."""

    url: str = ""
    requests: asyncio.Queue[Seen] = field(default_factory=asyncio.Queue)
    replies: list[tuple[int, dict]] = field(default_factory=list)
    default: tuple[int, dict] | None = None
    problems: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        seen = Seen(request.method, request.path, dict(request.headers), await request.read())
        self.requests.put_nowait(seen)
        check, status, body = APIS.get(seen.path, (None, 404, {"error": "not found"}))
        found = [f"{seen.method} {seen.path}"] if check is None or seen.method != "POST" else []
        found = found or check(seen)  # type: ignore[misc]
        if found:
            self.problems.extend(found)
            return web.json_response(
                {"error": "; ".join(found)}, status=status if not check else 400
            )
        status, body = self.replies.pop(0) if self.replies else (self.default or (status, body))
        return web.json_response(body, status=status)

    async def next(self) -> Seen:
        return await asyncio.wait_for(self.requests.get(), WAIT)


@pytest.fixture
async def service() -> AsyncIterator[FakeService]:
    fake = FakeService()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
    assert fake.problems == []  # every request was one the real API accepts


async def send(channel, text: str = "raid (likely) at Chula Vista, 3 reports, just reported."):
    async with aiohttp.ClientSession() as http:
        await channel.send(http, text, "n1.1")


async def test_signal_posts_the_v2_send_request(service: FakeService) -> None:
    await send(SignalChannel(service.url + "/", "+15550100", ["+15550111", "group.abc="]))
    seen = await service.next()
    assert (seen.method, seen.path) == ("POST", "/v2/send")
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {
        "message": "raid (likely) at Chula Vista, 3 reports, just reported.",
        "number": "+15550100",
        "recipients": ["+15550111", "group.abc="],
    }


async def test_telegram_posts_send_message_with_the_token_in_the_path(
    service: FakeService,
) -> None:
    channel = TelegramChannel(TOKEN, "-100123", service.url)
    assert TOKEN not in repr(channel)
    await send(channel)
    seen = await service.next()
    assert (seen.method, seen.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert seen.headers["Content-Type"] == "application/json"
    body = json.loads(seen.body)
    assert body["chat_id"] == "-100123"
    assert body["text"] == "raid (likely) at Chula Vista, 3 reports, just reported."
    assert set(body) <= {"chat_id", "text", "link_preview_options"}


async def test_twilio_posts_one_form_per_number_with_basic_auth(service: FakeService) -> None:
    channel = TwilioChannel(
        SID, "auth-secret", ["+15550111", "+15550112"], from_number="+15550100",
        api_url=service.url,
    )  # fmt: skip
    assert "auth-secret" not in repr(channel)
    await send(channel)
    expected_auth = "Basic " + base64.b64encode(f"{SID}:auth-secret".encode()).decode()
    for number in ("+15550111", "+15550112"):
        seen = await service.next()
        assert (seen.method, seen.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
        assert seen.headers["Authorization"] == expected_auth
        assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert parse_qs(seen.body.decode(), strict_parsing=True) == {
            "To": [number],
            "From": ["+15550100"],
            "Body": ["raid (likely) at Chula Vista, 3 reports, just reported."],
        }


async def test_twilio_messaging_service_and_a_retry_skips_who_has_it(
    service: FakeService,
) -> None:
    channel = TwilioChannel(
        SID,
        TWILIO_TOKEN,
        ["+15550111", "+15550112"],
        messaging_service_sid="MG01",
        api_url=service.url,
    )
    service.replies = [(201, {}), (503, {"code": 20500})]
    with pytest.raises(ChannelError) as failed:
        await send(channel)
    assert failed.value.retry
    first, second = await service.next(), await service.next()
    assert parse_qs(first.body.decode())["MessagingServiceSid"] == ["MG01"]
    assert "From" not in parse_qs(first.body.decode())
    await send(channel)  # the retry: only the number that did not get it
    again = await service.next()
    assert parse_qs(again.body.decode())["To"] == parse_qs(second.body.decode())["To"]
    assert service.requests.empty()


async def test_a_number_twilio_refuses_does_not_keep_the_text_from_the_others(
    service: FakeService,
) -> None:
    numbers = ["+15550111", "+15550112", "+15550113"]
    channel = TwilioChannel(
        SID, TWILIO_TOKEN, numbers, from_number="+15550100", api_url=service.url
    )
    service.replies = [(400, {"code": 21610, "message": "unsubscribed recipient", "status": 400})]
    with pytest.raises(ChannelError) as failed:
        await send(channel)
    assert not failed.value.retry  # counted as refused by the dispatcher...
    seen = [parse_qs((await service.next()).body.decode())["To"][0] for _ in numbers]
    assert seen == numbers  # ...after everyone else had their text
    assert service.requests.empty()


async def test_the_fake_services_refuse_what_the_real_apis_refuse(service: FakeService) -> None:
    """The checks are not vacuous: requests the real APIs refuse are refused here."""
    wrong = [
        SignalChannel(service.url, "15550100", ["+15550111"]),  # number without +
        SignalChannel(service.url, "+15550100", []),  # no recipients
        TelegramChannel(TOKEN, "", service.url),  # no chat
        TelegramChannel("654321:other-token", "-100123", service.url),  # another bot's path
        TwilioChannel(SID, "wrong", ["+15550111"], from_number="+1", api_url=service.url),
        TwilioChannel(SID, TWILIO_TOKEN, ["15550111"], from_number="+1", api_url=service.url),
    ]
    for channel in wrong:
        with pytest.raises(ChannelError):
            await send(channel)
    assert len(service.problems) == len(wrong)
    service.problems.clear()


@pytest.mark.parametrize(
    ("status", "retry"), [(400, False), (401, False), (429, True), (500, True)]
)
async def test_statuses_say_whether_to_retry(
    service: FakeService, status: int, retry: bool
) -> None:
    service.default = (status, {"ok": False})
    with pytest.raises(ChannelError) as failed:
        await send(TelegramChannel(TOKEN, "1", service.url))
    assert failed.value.retry is retry and TOKEN not in str(failed.value)


async def test_a_service_that_is_down_is_a_retry() -> None:
    with pytest.raises(ChannelError) as failed:
        await send(SignalChannel("http://127.0.0.1:9", "+1", ["+2"]))
    assert failed.value.retry


# -- configuration ----------------------------------------------------------------------


def incident_of(node: Node) -> str:
    """The open raid incident's id (node.incident_store): what the notices link to."""
    with Session(node.engine) as session:
        [incident] = session.exec(
            select(Incident).where(Incident.type == "raid", Incident.closed == False)  # noqa: E712
        ).all()
        return incident.id


def configure(data: Path, url: str, *, telegram_file: bool = False) -> None:
    set_config(data, "sms", "account_sid", f'"{SID}"')
    set_config(data, "sms", "auth_token", '"auth-secret"')
    set_config(data, "sms", "to", '"+15550111"')
    set_config(data, "sms", "from_number", '"+15550100"')
    set_config(data, "sms", "api_url", f'"{url}"')
    set_config(data, "signal", "url", f'"{url}"')
    set_config(data, "signal", "number", '"+15550100"')
    set_config(data, "signal", "recipients", '"+15550111"')
    set_config(data, "signal", "types", '"raid,checkpoint"')
    set_config(data, "telegram", "chat_id", '"-100123"')
    set_config(data, "telegram", "api_url", f'"{url}"')
    if telegram_file:
        set_config(data, "telegram", "token_file", '"telegram.token"')
    else:
        set_config(data, "telegram", "token", f'"{TOKEN}"')


def test_channels_are_off_unless_configured_and_half_a_config_is_an_error(
    chapter_dir: Path,
) -> None:
    config = load_config(chapter_dir / "vecinos.toml")
    assert consumers(config) == () and build_channels(config, chapter_dir) == []
    set_config(chapter_dir, "sms", "account_sid", f'"{SID}"')
    with pytest.raises(ConfigError, match=r"\[sms\] auth_token or auth_token_file"):
        consumers(load_config(chapter_dir / "vecinos.toml"))
    set_config(chapter_dir, "sms", "auth_token", '"x"')
    set_config(chapter_dir, "sms", "to", '"+15550111"')
    with pytest.raises(ConfigError, match="from_number or messaging_service_sid"):
        consumers(load_config(chapter_dir / "vecinos.toml"))
    set_config(chapter_dir, "sms", "from_number", '"+15550100"')
    set_config(chapter_dir, "sms", "types", '"raid,parade"')
    with pytest.raises(ConfigError, match="parade"):
        consumers(load_config(chapter_dir / "vecinos.toml"))


def test_a_secret_in_the_config_needs_a_private_config_file(chapter_dir: Path) -> None:
    configure(chapter_dir, "http://127.0.0.1:9")  # the tokens inline in vecinos.toml
    (chapter_dir / "vecinos.toml").chmod(0o644)
    config = load_config(chapter_dir / "vecinos.toml")
    with pytest.raises(ConfigError, match=r"\[telegram\] .*vecinos.toml .*chmod 600") as refused:
        build_channels(config, chapter_dir)
    assert TOKEN not in str(refused.value)
    (chapter_dir / "vecinos.toml").chmod(0o600)
    assert [c.name for c in build_channels(config, chapter_dir)] == ["signal", "telegram", "sms"]


def test_a_token_file_must_be_private(chapter_dir: Path) -> None:
    configure(chapter_dir, "http://127.0.0.1:9", telegram_file=True)
    token = chapter_dir / "telegram.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    config = load_config(chapter_dir / "vecinos.toml")
    with pytest.raises(ConfigError, match="chmod 600"):
        build_channels(config, chapter_dir)
    token.chmod(0o600)
    names = [c.name for c in build_channels(config, chapter_dir)]
    assert names == ["signal", "telegram", "sms"]


# -- the dispatcher on a real node ---------------------------------------------------------


async def corroborate(node, clock, kind: str, area: str, n: int = 3) -> list[str]:
    texts = ["tres camionetas blancas", "agentes en la plaza", "vans at the market", "otra vez"]
    ids = []
    for i in range(n):
        outcome = await node.submit(
            ReportDraft(type=kind, area=area, description=texts[i], still_active=True),
            SourceRef(Channel.WEB, f"{kind}-{i}".encode()),
        )
        assert isinstance(outcome, Accepted)
        ids.append(outcome.report.id)
        clock.advance(minutes=4)
    clock.advance(minutes=1)  # the level has held [responders] hold_minutes (3):
    await node.check_responders()  # the scheduled check pages
    return ids


def by_path(seen: list[Seen]) -> dict[str, list[Seen]]:
    found: dict[str, list[Seen]] = {}
    for s in seen:
        key = "sms" if "Messages.json" in s.path else "telegram" if "/bot" in s.path else "signal"
        found.setdefault(key, []).append(s)
    return found


def text_of(seen: Seen) -> str:
    if "Messages.json" in seen.path:
        return parse_qs(seen.body.decode())["Body"][0]
    body = json.loads(seen.body)
    return body.get("text") or body["message"]


@contextlib.asynccontextmanager
async def running(dispatch: ChannelDispatch) -> AsyncIterator[None]:
    """The dispatcher's loop as a task, cancelled (and awaited) on the way out."""
    task = asyncio.create_task(dispatch.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_raids_reach_every_channel_short_and_without_description(
    chapter_dir: Path, clock, service: FakeService
) -> None:
    configure(chapter_dir, service.url)
    set_config(chapter_dir, "web", "public_url", '"https://vecinos.example.org"')
    node = await open_node(chapter_dir, clock=clock)
    try:
        dispatch = ChannelDispatch(node, build_channels(node.config, chapter_dir))
        # two independent reports make 'likely' (the notice), three do not change its level
        ids = await corroborate(node, clock, "raid", "Chula Vista", n=2)
        await corroborate(node, clock, "vehicle", "Encanto")  # no channel wants vehicles
        async with running(dispatch):
            seen = by_path([await service.next() for _ in range(3)])
            assert sorted(seen) == ["signal", "sms", "telegram"]
            for [one] in seen.values():
                text = text_of(one)
                assert text.startswith("redada (probable) en Chula Vista, 2 reportes desde 6:00.")
                assert text.endswith(f" https://vecinos.example.org/map#i-{incident_of(node)}")
                assert len(text) < 160
                assert "camionetas" not in text and "plaza" not in text
            for report_id in ids:
                await node.moderate(report_id, ModeratorAction.DEBUNK)
            # The level falls first: every channel is told each downgrade, then the all-clear.
            later: list[Seen] = []
            while sum(text_of(one).startswith("Despejado") for one in later) < 3:
                later.append(await service.next())
            for texts in by_path(later).values():
                *downs, end = [text_of(one) for one in texts]
                assert downs and all(t.startswith("Baja a ") for t in downs)
                assert end.startswith("Despejado: redada en Chula Vista. https:")
            await dispatch.wait_handled(3 + len(later), WAIT)
        assert service.requests.empty()
        counters = await node.counters()
        sent = {counters.get(f"{c}_sent") for c in ("sms", "signal", "telegram")}
        assert sent == {1 + len(later) // 3}
        for consumer in ("sms", "signal", "telegram"):
            assert await node.pending_notices(consumer) == []
    finally:
        await node.close()


async def test_a_failing_service_is_retried_and_a_refusing_one_skipped(
    chapter_dir: Path, clock, service: FakeService
) -> None:
    set_config(chapter_dir, "sms", "account_sid", f'"{SID}"')
    set_config(chapter_dir, "sms", "auth_token", f'"{TWILIO_TOKEN}"')
    set_config(chapter_dir, "sms", "to", '"+15550111"')
    set_config(chapter_dir, "sms", "from_number", '"+15550100"')
    set_config(chapter_dir, "sms", "api_url", f'"{service.url}"')
    node = await open_node(chapter_dir, clock=clock)
    try:
        dispatch = ChannelDispatch(
            node, build_channels(node.config, chapter_dir), first_backoff=0.01, max_backoff=0.05
        )
        service.replies = [(503, {}), (503, {})]
        await corroborate(node, clock, "raid", "Chula Vista")
        async with running(dispatch):
            attempts = [await service.next() for _ in range(3)]  # two 503s, then 201
            assert len({a.body for a in attempts}) == 1  # the same text each time
            # Intake is not held up by the channel: a report is accepted meanwhile.
            service.default = (400, {"code": 21211, "message": "invalid To"})
            await corroborate(node, clock, "raid", "National City")
            await service.next()  # refused: dropped and counted, not retried
            await dispatch.wait_handled(2, WAIT)
            service.default = None  # Twilio's own answer again
            await corroborate(node, clock, "raid", "San Ysidro")
            third = await service.next()
            assert "San Ysidro" in parse_qs(third.body.decode())["Body"][0]
            await dispatch.wait_handled(3, WAIT)
        counters = await node.counters()
        assert counters["sms_sent"] == 2 and counters["sms_refused"] == 1
    finally:
        await node.close()


async def test_an_alert_that_expired_unsent_takes_its_all_clear_with_it(
    chapter_dir: Path, clock, service: FakeService
) -> None:
    """The service was away for the whole raid: no "all clear" for a raid never announced."""
    configure(chapter_dir, service.url)
    node = await open_node(chapter_dir, clock=clock)
    try:
        await corroborate(node, clock, "raid", "Chula Vista")
        clock.advance(hours=12)
        await node.purge()  # the cluster is past its time: its all-clear is queued
        assert [n.kind for n in await node.pending_notices("sms")] == ["new", "all_clear"]
        dispatch = ChannelDispatch(node, build_channels(node.config, chapter_dir))
        async with running(dispatch):
            await dispatch.wait_handled(6, WAIT)  # 2 notices x 3 channels
        assert service.requests.empty()
        counters = await node.counters()
        assert {counters.get(f"{c}_expired_unsent") for c in ("sms", "signal", "telegram")} == {2}
        assert not any(name.endswith("_sent") for name in counters)
    finally:
        await node.close()
