"""`vecinos matrix setup`: log the chapter's bot in once and create the chapter's rooms.

Logs in with a password (a new device, once) or registers the account with
the homeserver's registration shared secret; the login is kept in
DATA/matrix/matrix-credentials.json (0600) and every later start restores
it. Creates the member room and the responders room, encrypted and
invite-only, with an m.room.retention policy equal to [retention]
unverified_hours, and neutral names ("room-7f3a9c") and no topic: the
homeserver stores names and topics in clear. Their ids go to
DATA/matrix/rooms.json; [matrix] homeserver and user_id go to vecinos.toml.
Re-running it is safe: it reuses the login and the rooms it finds.

It also gives the bot its cross-signing identity (federation.cross_signing):
master and self-signing keys kept in DATA/matrix/cross-signing.json (0600),
the bot's device signed by them; the password (the one given, or the one
just registered with) answers the homeserver if it asks. It prints the
master key's fingerprint, which the chapter publishes to its members.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import aiohttp

from federation.bot import BotError, ChapterBot
from federation.chapter import neutral_room_name
from federation.cross_signing import fingerprint
from federation.homeserver import HomeserverError, register_account
from federation.state import BotLock, ChapterRooms, load_rooms, matrix_dir, save_rooms
from node.running import running_node
from node.service import read_matrix_settings, record_matrix_bot

_USER_RE = re.compile(r"@([a-z0-9._=/+-]+):([A-Za-z0-9.:\[\]-]+)")


class SetupError(RuntimeError):
    """Set-up cannot go on (worded for the operator)."""


async def _check_homeserver(url: str) -> None:
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{url}/_matrix/client/versions") as resp,
        ):
            if resp.status != 200:
                raise SetupError(f"{url} answers HTTP {resp.status}: is it a Matrix homeserver?")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SetupError(f"cannot reach the homeserver at {url} ({type(exc).__name__})") from None


async def _log_in(
    bot: ChapterBot, localpart: str, password: str | None, registration_secret: str | None
) -> tuple[str, str | None]:
    """(device id, the password to answer the homeserver with while setting up, if known)."""
    if bot.credentials_path.exists():
        return await bot.login(), password  # restored: no second device
    if registration_secret:
        # The account's password is used once more below (cross-signing, if the
        # homeserver asks) and never kept: the login is restored from the
        # credentials file; the homeserver admin can reset it.
        made = secrets.token_urlsafe(24)
        try:
            reg = await register_account(bot.homeserver_url, registration_secret, localpart, made)
        except HomeserverError as exc:
            raise SetupError(
                f"registration failed ({exc}); if the account exists, use --password-stdin"
            ) from None
        if reg.user_id != bot.user_id:
            raise SetupError(f"the homeserver registered {reg.user_id}, not {bot.user_id}")
        return await bot.login(access_token=reg.access_token, device_id=reg.device_id), made
    if password:
        return await bot.login(password), password
    raise SetupError("give the bot's password (--password-stdin) or --registration-secret-file")


async def _ensure_room(bot: ChapterBot, room_id: str, retention_ms: int) -> str:
    assert bot.client is not None
    if room_id and room_id in bot.client.rooms:
        return room_id
    return await bot.create_room(name=neutral_room_name(), topic="", retention_ms=retention_ms)


async def setup_matrix(
    data_dir: Path,
    homeserver: str,
    user_id: str,
    *,
    password: str | None = None,
    registration_secret: str | None = None,
) -> list[str]:
    """Do the set-up; returns the lines to print (what the homeserver admin must do)."""
    settings = read_matrix_settings(data_dir)
    homeserver = homeserver.rstrip("/")
    if not homeserver.startswith(("http://", "https://")):
        raise SetupError("--homeserver must be a URL, e.g. https://matrix.example.org")
    match = _USER_RE.fullmatch(user_id)
    if match is None:
        raise SetupError("--user must be a Matrix ID such as @vecinos-bot:example.org")
    await _check_homeserver(homeserver)
    retention = settings.retention_ms
    with BotLock(data_dir):
        bot = ChapterBot(homeserver, user_id, matrix_dir(data_dir))
        try:
            device, auth = await _log_in(bot, match.group(1), password, registration_secret)
            await bot.start(password=auth)
            if bot.identity is None:
                raise SetupError(f"cross-signing: {bot.identity_error}")
            master = bot.identity.master or ""
            session_key = bot.identity.device_key or ""
            old = load_rooms(data_dir)
            rooms = ChapterRooms(
                member_room=await _ensure_room(bot, old.member_room, retention),
                responders_room=await _ensure_room(bot, old.responders_room, retention),
                to_leave=old.to_leave,
            )
            save_rooms(data_dir, rooms)
        except BotError as exc:
            raise SetupError(str(exc)) from None
        finally:
            await bot.close()
    config_path = record_matrix_bot(data_dir, homeserver, user_id)
    admin_api = f"{homeserver}/_synapse/admin/v1/users/{user_id}/override_ratelimit"
    running = running_node(data_dir)  # a node without Matrix holds no bot lock: it may run
    lines = [
        f"bot {user_id} ready, device {device}",
        f"  login, crypto store and cross-signing keys: {matrix_dir(data_dir)}",
        "    (back it up with the data dir: losing it changes the bot's identity)",
        "  the bot's identity: publish these to members (docs/members.md):",
        f"    master key:  {fingerprint(master)}",
        f"    device {device}, signed by it; session key: {fingerprint(session_key)}",
        f"  member room:     {rooms.member_room}",
        f"  responders room: {rooms.responders_room}",
        f"  config: [matrix] homeserver and user_id set in {config_path}",
        "",
        "Ask the homeserver's admin to do two things (Synapse):",
        "  1. exempt the bot from rate limits (else alerts crawl at ~0.2 per second):",
        "       curl -X POST -H 'Authorization: Bearer ADMIN_TOKEN' -d '{}' \\",
        f"         '{admin_api}'",
        "     ADMIN_TOKEN is the access token of a homeserver admin account: in Element,",
        "     Settings > Help & About > Access Token; or log an admin in with curl, or",
        "     make one with register_new_matrix_user --admin (see docs/federation.md, 2.)",
        "  2. enable retention, so the homeserver purges the rooms as the node does;",
        "     in homeserver.yaml:  retention: {enabled: true}",
        "",
        "next: vecinos neighbors invite --data DIR  (see docs/federation.md), then vecinos run",
    ]
    if running is not None:
        lines += [
            "",
            f"The node is running (pid {running.pid}) without Matrix: restart it (stop "
            "`vecinos run`, start it again) to start the bot.",
        ]
    return lines
