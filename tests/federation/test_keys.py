"""The bot's cross-signing identity and its keys that cannot run out, on a real Synapse.

`vecinos matrix setup`'s code and ChapterFederation on real chapters; the
homeserver's /keys/query (as any member's client reads it) is the judge of
what is published. The pure parts (federation.cross_signing) are checked
against hostile answers with no server. Element's own view of the same
identity is tested in tests/element.
"""

from __future__ import annotations

import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from federation_harness import PASSWORD, make_chapter
from network import WAIT, make_site
from nio import RoomMessageNotice
from otk_drain import drain_one_time_keys

from federation.bot import CREDENTIALS_FILE, STORE_DIR
from federation.chapter import ChapterFederation
from federation.cross_signing import (
    IDENTITY_FILE,
    CrossSigningError,
    CrossSigningKeys,
    IdentityStatus,
    PasswordNeeded,
    ensure_identity,
    fingerprint,
    identity_status,
)
from federation.homeserver import Homeserver
from federation.setup import SetupError, setup_matrix
from federation.state import MATRIX_DIR, load_rooms
from federation.status import status_lines
from node.service import open_node
from node.setup import init_chapter

pytestmark = pytest.mark.synapse


async def published(hs: Homeserver, user_id: str) -> dict[str, Any]:
    """What any member's client reads about `user_id` (/keys/query, as another account)."""
    reader = await hs.register(f"reader-{uuid.uuid4().hex[:8]}", PASSWORD)
    headers = {"Authorization": f"Bearer {reader.access_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(
            f"{hs.base_url}/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


async def chapter(hs: Homeserver, base: Path, *, password: bool = False) -> tuple[Path, str]:
    """A chapter set up by `vecinos matrix setup`'s code (registered, or with a password)."""
    data = base / f"c-{uuid.uuid4().hex[:6]}"
    init_chapter(data, "Chapter K")
    local = f"bot-{data.name}"
    user = hs.user_id(local)
    if password:
        await hs.register(local, PASSWORD)
        lines = await setup_matrix(data, hs.base_url, user, password=PASSWORD)
    else:
        lines = await setup_matrix(
            data, hs.base_url, user, registration_secret=hs.registration_secret
        )
    assert any("identity" in line for line in lines), lines
    return data, user


def saved(data: Path, user: str) -> CrossSigningKeys:
    keys = CrossSigningKeys.load(data / MATRIX_DIR, user)
    assert keys is not None
    return keys


def device_of(data: Path) -> str:
    import json

    return json.loads((data / MATRIX_DIR / CREDENTIALS_FILE).read_text())["device_id"]


async def test_setup_gives_the_bot_a_cross_signed_device_and_status_shows_it(
    homeserver: Homeserver, tmp_path: Path
) -> None:
    data, user = await chapter(homeserver, tmp_path)
    path = data / MATRIX_DIR / IDENTITY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = saved(data, user)
    device = device_of(data)
    state = identity_status(await published(homeserver, user), user, device, keys)
    assert state.ours and state.device_signed and state.master == keys.master_public
    assert keys.master_seed not in repr(keys) and keys.master_seed not in str(keys)

    text = "\n".join(await status_lines(data))
    assert f"identity: master key {fingerprint(keys.master_public)}" in text
    assert f"published: yes; device {device} signed by it: yes" in text
    assert "one-time keys on the homeserver: 50" in text
    assert state.device_key and f"session key: {fingerprint(state.device_key)}" in text
    for seed in (keys.master_seed, keys.self_signing_seed):
        assert seed not in text


async def test_a_new_device_after_a_store_loss_is_signed_by_the_same_identity(
    homeserver: Homeserver, tmp_path: Path
) -> None:
    data, user = await chapter(homeserver, tmp_path, password=True)
    first = device_of(data)
    keys = saved(data, user)
    # The crypto store and the login are lost; the cross-signing seeds come back from a backup.
    shutil.rmtree(data / MATRIX_DIR / STORE_DIR)
    (data / MATRIX_DIR / CREDENTIALS_FILE).unlink()
    await setup_matrix(data, homeserver.base_url, user, password=PASSWORD)
    second = device_of(data)
    assert second != first
    query = await published(homeserver, user)
    state = identity_status(query, user, second, keys)
    assert state.ours and state.device_signed  # members see the same identity, no warning


async def test_lost_seeds_stop_nothing_and_only_the_password_makes_a_new_identity(
    homeserver: Homeserver, tmp_path: Path, clock
) -> None:
    data, user = await chapter(homeserver, tmp_path, password=True)
    old = saved(data, user)
    (data / MATRIX_DIR / IDENTITY_FILE).unlink()
    node = await open_node(data, clock=clock)
    fed = ChapterFederation(node)
    try:
        await fed.start()  # the bot runs (legacy clients still reach it), and says what to do
        assert fed.connected.is_set() and fed.bot.identity is None
        assert "--password-stdin" in (fed.bot.identity_error or "")
        assert not (data / MATRIX_DIR / IDENTITY_FILE).exists()  # nothing made behind its back
    finally:
        await fed.stop()
        await node.close()
    with pytest.raises(SetupError, match="password"):
        await setup_matrix(
            data, homeserver.base_url, user, registration_secret=homeserver.registration_secret
        )
    lines = await setup_matrix(data, homeserver.base_url, user, password=PASSWORD)
    new = saved(data, user)
    assert new.master_public != old.master_public
    assert any(fingerprint(new.master_public) in line for line in lines)
    state = identity_status(await published(homeserver, user), user, device_of(data), new)
    assert state.ok


async def as_before(*args: Any, **kw: Any) -> IdentityStatus:
    """What a bot without cross-signing did: nothing (its device signed only by itself)."""
    return IdentityStatus(master=None, ours=False, device_signed=False, device_published=True)


async def test_an_older_chapter_is_upgraded_at_its_next_start(
    homeserver: Homeserver, tmp_path: Path, clock, monkeypatch
) -> None:
    monkeypatch.setattr("federation.bot.ensure_identity", as_before)
    data, user = await chapter(homeserver, tmp_path)
    assert "identity: none saved" in "\n".join(await status_lines(data))
    monkeypatch.undo()
    node = await open_node(data, clock=clock)
    fed = ChapterFederation(node)
    try:
        await fed.start()
        assert fed.bot.identity is not None and fed.bot.identity.ok
    finally:
        await fed.stop()
        await node.close()
    keys = saved(data, user)
    state = identity_status(await published(homeserver, user), user, device_of(data), keys)
    assert state.ok
    assert "signed by it: yes" in "\n".join(await status_lines(data))


async def test_a_nio_member_is_answered_after_the_one_time_keys_are_drained(
    homeserver: Homeserver, tmp_path: Path, clock
) -> None:
    """While the bot runs: a new device gets the fallback key, the bot refills its pool."""
    site = await make_site(homeserver, tmp_path, "k", clock)
    member = None
    try:
        room = load_rooms(site.data).member_room
        bot = site.fed.bot
        before = await bot.one_time_key_count()
        device = bot.device_id
        assert device is not None
        drained = await drain_one_time_keys(homeserver, site.user_id, device)
        assert drained.one_time == before == 50 and drained.fallback
        assert await bot.one_time_key_count() == 0

        member = await make_chapter(homeserver, tmp_path / "m", "eva")  # a new nio device
        answers: list[Any] = []
        member.bot.add_room_handler(lambda r, e: answers.append(e), (RoomMessageNotice,))
        await bot.invite(room, member.bot.user_id)
        assert member.bot.client is not None
        client = member.bot.client
        await member.bot.wait_until(lambda: room in client.invited_rooms, WAIT)
        await member.bot.join(room)
        await bot.wait_for_member(room, member.bot.user_id, WAIT)
        sent = await member.bot.send_alert(
            room, {"msgtype": "m.text", "body": "raid in Chula Vista"}, "m.room.message"
        )

        def answered() -> bool:
            return any(
                e.source["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
                .get("event_id") == sent
                for e in answers
            )  # fmt: skip

        await member.bot.wait_until(answered, WAIT)
        await bot.wait_until(lambda: bot.stats.one_time_key_refills >= 1, WAIT)
        assert await bot.one_time_key_count() == before
        assert bot.stats.undecryptable == 0 and member.bot.stats.undecryptable == 0
    finally:
        if member is not None:
            await member.bot.close()
        await site.close()


# -- the pure parts, against hostile or broken answers -------------------------------


def test_a_corrupt_seed_file_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / IDENTITY_FILE).write_text("{not json")
    with pytest.raises(CrossSigningError, match="restore it from the backup"):
        CrossSigningKeys.load(tmp_path, "@bot:example.org")
    CrossSigningKeys.generate("@other:example.org").save(tmp_path)
    with pytest.raises(CrossSigningError, match="belongs to"):
        CrossSigningKeys.load(tmp_path, "@bot:example.org")


class FakeHomeserver:
    """Answers the three endpoints as a homeserver that lies about the bot's device keys."""

    def __init__(self, user: str, device: str, keys: dict[str, str]) -> None:
        self.user, self.device = user, device
        self.device_keys = {
            "user_id": user,
            "device_id": device,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{device}": keys["ed25519"], f"curve25519:{device}": keys["curve"]},
        }
        self.cross: dict[str, Any] = {}
        self.signed: list[Any] = []
        self.demand_password: str | None = None  # user-interactive auth, as before MSC3967

    async def request(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path.endswith("/keys/query"):
            return 200, {
                "device_keys": {self.user: {self.device: self.device_keys}},
                "master_keys": {self.user: self.cross.get("master_key")} if self.cross else {},
                "self_signing_keys": (
                    {self.user: self.cross.get("self_signing_key")} if self.cross else {}
                ),
            }
        if path.endswith("/device_signing/upload"):
            auth = body.pop("auth", None)
            if self.demand_password is not None and (
                auth is None
                or auth.get("password") != self.demand_password
                or auth.get("session") != "S1"
            ):
                return 401, {"flows": [{"stages": ["m.login.password"]}], "session": "S1"}
            self.cross = body
            return 200, {}
        self.signed.append(body)
        device = body[self.user][self.device]
        sigs = self.device_keys.setdefault("signatures", {}).setdefault(self.user, {})
        sigs.update(device["signatures"][self.user])
        return 200, {"failures": {}}


async def test_a_device_whose_published_keys_are_not_ours_is_never_signed(tmp_path: Path) -> None:
    user, device = "@bot:example.org", "DEVICE"
    ours = {"ed25519": "A" * 43, "curve25519": "B" * 43}
    hs = FakeHomeserver(user, device, {"ed25519": "E" * 43, "curve": "B" * 43})  # a swapped key
    with pytest.raises(CrossSigningError, match="not this device's"):
        await ensure_identity(hs.request, tmp_path, user, device, ours)
    assert hs.signed == []
    assert (tmp_path / IDENTITY_FILE).exists()  # the identity itself was made and kept


async def test_the_identity_is_made_once_and_the_password_answers_when_asked(
    tmp_path: Path,
) -> None:
    user, device = "@bot:example.org", "DEVICE"
    ours = {"ed25519": "A" * 43, "curve25519": "B" * 43}
    hs = FakeHomeserver(user, device, {"ed25519": ours["ed25519"], "curve": ours["curve25519"]})
    hs.demand_password = "the bot's password"
    with pytest.raises(PasswordNeeded, match="publish its cross-signing keys"):
        await ensure_identity(hs.request, tmp_path, user, device, ours)
    keys = CrossSigningKeys.load(tmp_path, user)
    assert keys is not None and hs.cross == {}  # saved before any upload, nothing published
    state = await ensure_identity(
        hs.request, tmp_path, user, device, ours, password="the bot's password"
    )
    assert state.ok and state.master == keys.master_public  # the same keys, not new ones
    assert state.device_key == ours["ed25519"] and len(hs.signed) == 1
    again = await ensure_identity(hs.request, tmp_path, user, device, ours)
    assert again.ok and len(hs.signed) == 1  # nothing to do at the next start
