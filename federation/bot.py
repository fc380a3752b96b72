"""The chapter's Matrix bot: one account, end-to-end encrypted, on matrix-nio.

It logs in once with a password (or adopts a token from shared-secret
registration) and from then on restores that login from a 0600 JSON file in
its data directory, so it stays the same device with the same keys. Its
crypto store and its cross-signing seeds live next to that file (back them
up together: a wiped store is a new device that cannot read earlier
messages; lost seeds are a new identity that members see change).

What it does:
- creates encrypted, invite-only rooms (megolm, history visible to joined
  members only, no guests, optional m.room.retention), invites and joins;
- trusts on first use every device of every member of its rooms;
- sends alerts as timeline events (never state: state is not encrypted),
  bounded by a timeout so a down homeserver raises `SendFailed`;
- hands decrypted room events of registered types (member messages,
  reactions, commands) to their handlers (`add_room_handler`), including
  those a "limited" sync left out;
- hands decrypted custom events of the alert types to `on_alert`, tells
  `on_undecryptable` of what it cannot decrypt, counts that and what it
  refuses (each count also goes to `on_count`, so the node can keep it),
  and never logs event content;
- answers invites by `accept_invites_from`, or lets `on_invite` decide;
- keeps syncing through homeserver restarts (reconnects with backoff);
- keeps a cross-signing identity (federation.cross_signing: its device
  signed by its self-signing key, checked at every start, so a new device
  after a store loss is signed again and an older chapter is upgraded), and
  keys that cannot run out (federation.device_keys: one-time keys refilled
  at zero, a fallback key published and rotated). Without the first,
  Element's "exclude insecure devices" mode neither reads nor answers it.

Signature checks are not done here: the caller runs federation.wire on the
content it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomCreateError,
    RoomGetStateResponse,
    RoomInviteError,
    RoomKickResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomSendError,
    RoomVisibility,
    SyncResponse,
    UnknownEvent,
)
from nio.exceptions import OlmUnverifiedDeviceError

from federation.cross_signing import (
    CrossSigningError,
    IdentityStatus,
    PasswordNeeded,
    ensure_identity,
)
from federation.device_keys import KEY_ALGORITHM, KEYS_UPLOAD, KeyUpkeep
from federation.wire import ALERT_EVENT_TYPE, CATCH_UP_EVENT_TYPE, RELAY_EVENT_TYPE

__all__ = [
    "AlertHandler",
    "BotError",
    "BotStats",
    "ChapterBot",
    "CountHandler",
    "InviteHandler",
    "SendFailed",
]

log = logging.getLogger("vecinos.federation.bot")

# A sync hands over at most this many events per room; more (a busy spell, a
# restart) makes its timeline "limited", and the gap is fetched page by page.
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}
GAP_PAGE = 100
GAP_PAGES = 50

CREDENTIALS_FILE = "matrix-credentials.json"
STORE_DIR = "crypto-store"
# A cross-signing attempt that failed (homeserver away) is tried again after
# a successful sync, at most this often.
IDENTITY_RETRY_S = 60.0

AlertHandler = Callable[[str, str, str, dict[str, Any]], Awaitable[None] | None]
"""on_alert(room_id, sender, event_type, content)."""

InviteHandler = Callable[[str, str], Awaitable[None] | None]
"""on_invite(room_id, inviter): decides about an invite instead of accept_invites_from."""

CountHandler = Callable[[str, int], None]
"""on_count(name, n): told of every BotStats increment (to persist the counters)."""

RoomHandler = Callable[[str, Any], Awaitable[None] | None]
"""handler(room_id, event): a room event of a type it registered (add_room_handler)."""


class BotError(RuntimeError):
    """Login, room or membership operation failed."""


class SendFailed(BotError):
    """An alert was not sent (homeserver down, timeout, refused). Retry later."""


@dataclass
class BotStats:
    """Counters only: nothing here identifies an event's content."""

    received: int = 0  # decrypted alert-type events handed to on_alert
    undecryptable: int = 0  # MegolmEvents we could not decrypt
    unencrypted_dropped: int = 0  # alert-type events that were not encrypted
    ignored: int = 0  # other custom event types
    handler_errors: int = 0  # exceptions raised by on_alert
    sent: int = 0
    send_failures: int = 0
    sync_errors: int = 0
    devices_trusted: int = 0
    fallback_keys_published: int = 0
    one_time_key_refills: int = 0  # uploads after the server's count fell to 0
    membership_corrections: int = 0  # members the syncs showed otherwise (refresh_members)


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class ChapterBot:
    """One chapter's bot account. Call `login()`, then `start()`; `close()` at the end."""

    def __init__(
        self,
        homeserver_url: str,
        user_id: str,
        data_dir: Path,
        *,
        on_alert: AlertHandler | None = None,
        on_invite: InviteHandler | None = None,
        on_count: CountHandler | None = None,
        event_types: Collection[str] = (ALERT_EVENT_TYPE, RELAY_EVENT_TYPE, CATCH_UP_EVENT_TYPE),
        accept_invites_from: Collection[str] = (),
        send_timeout: float = 10.0,
        sync_timeout_ms: int = 30_000,
        device_name: str = "vecinos-node",
    ) -> None:
        self.homeserver_url = homeserver_url
        self.user_id = user_id
        self.data_dir = Path(data_dir)
        self.on_alert = on_alert
        self.on_invite = on_invite
        self.on_count = on_count
        # on_undecryptable(room_id, sender): told of every event it could not decrypt
        self.on_undecryptable: Callable[[str, str], Awaitable[None] | None] | None = None
        self.event_types = frozenset(event_types)
        self.accept_invites_from = frozenset(accept_invites_from)
        self.send_timeout = send_timeout
        self.sync_timeout_ms = sync_timeout_ms
        self.device_name = device_name
        self.stats = BotStats()
        self.client: AsyncClient | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._send_locks: dict[str, asyncio.Lock] = {}  # room id -> one send at a time there
        self._synced = asyncio.Condition()
        self._sync_count = 0
        self._batch: list[tuple[str, Any]] = []  # (room id, event) of the sync in progress
        self._room_handlers: list[tuple[tuple[type, ...], RoomHandler]] = []
        self._keys: KeyUpkeep | None = None
        self.identity: IdentityStatus | None = None  # None until checked
        self.identity_error: str | None = None
        self._identity_retry_at: float | None = None  # monotonic; None: no retry

    def _count(self, name: str, n: int = 1) -> None:
        setattr(self.stats, name, getattr(self.stats, name) + n)
        if self.on_count is not None:
            try:
                self.on_count(name, n)
            except Exception as e:  # counting must never break the bot
                log.error("on_count failed: %s", type(e).__name__)

    # -- paths --------------------------------------------------------------

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / CREDENTIALS_FILE

    @property
    def store_path(self) -> Path:
        return self.data_dir / STORE_DIR

    @property
    def device_id(self) -> str | None:
        return self.client.device_id if self.client else None

    def _load_credentials(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.credentials_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise BotError(f"cannot read {self.credentials_path}: {type(e).__name__}") from None
        if not isinstance(data, dict) or data.get("user_id") != self.user_id:
            raise BotError(f"{self.credentials_path} belongs to another account")
        return data

    def _make_client(self, pickle_key: str) -> AsyncClient:
        for d in (self.data_dir, self.store_path):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=True,
            pickle_key=pickle_key,
            # Raise on connection errors instead of retrying forever: the sync
            # loop has its own backoff, and a send must fail so that the
            # outbox can retry it later.
            max_timeouts=0,
            max_limit_exceeded=5,
            request_timeout=30,
        )
        client = AsyncClient(
            self.homeserver_url,
            self.user_id,
            store_path=str(self.store_path),
            config=config,
        )
        client.add_event_callback(self._on_event, (UnknownEvent, MegolmEvent))
        extra = self._handled_types()
        if extra:
            client.add_event_callback(self._on_event, extra)
        client.add_event_callback(self._on_invite, InviteMemberEvent)
        return client

    def _handled_types(self) -> tuple[type, ...]:
        return tuple(dict.fromkeys(t for types, _ in self._room_handlers for t in types))

    def add_room_handler(self, handler: RoomHandler, types: tuple[type, ...]) -> None:
        """Hand decrypted room events of these nio types (others' only) to `handler`.

        They come in timeline order with the alerts, the events a "limited"
        sync left out (fetched by the gap filler) first, after each sync:
        never inside it. A handler should be quick (queue the work).
        """
        new = tuple(t for t in types if t not in self._handled_types())
        self._room_handlers.append((types, handler))
        if self.client is not None and new:
            self.client.add_event_callback(self._on_event, new)

    # -- login --------------------------------------------------------------

    async def login(
        self,
        password: str | None = None,
        *,
        access_token: str | None = None,
        device_id: str | None = None,
    ) -> str:
        """Restore the saved login, or log in once and save it. Returns the device id.

        With no saved login: a password logs in (a new device); an
        access_token with its device_id (from shared-secret registration) is
        adopted as is, so no second device is made.
        """
        if self.client is not None:
            raise BotError("already logged in")
        saved = self._load_credentials()
        if saved is not None:
            client = self._make_client(saved["pickle_key"])
            client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
            self.client = client
            log.info("restored login, device %s", saved["device_id"])
            return saved["device_id"]

        pickle_key = secrets.token_urlsafe(32)
        client = self._make_client(pickle_key)
        if access_token and device_id:
            client.restore_login(self.user_id, device_id, access_token)
        elif password:
            resp = await client.login(password=password, device_name=self.device_name)
            if not isinstance(resp, LoginResponse):
                await client.close()
                raise BotError(f"login failed: {getattr(resp, 'status_code', '?')}")
        else:
            await client.close()
            raise BotError("no saved login: a password or an access token is needed")
        assert client.device_id and client.access_token
        _write_private_json(
            self.credentials_path,
            {
                "homeserver": self.homeserver_url,
                "user_id": self.user_id,
                "device_id": client.device_id,
                "access_token": client.access_token,
                "pickle_key": pickle_key,
            },
        )
        self.client = client
        log.info("logged in, new device %s", client.device_id)
        return client.device_id

    # -- lifecycle ----------------------------------------------------------

    async def start(self, *, password: str | None = None) -> None:
        """First sync with full state (nio does not persist room state), then sync forever.

        In between, the bot's cross-signing identity is checked (made, or its
        device signed, as needed; `password` answers the homeserver if it asks
        for it). A failure there does not stop the bot: see `identity_error`.
        """
        client = self._need_client()
        if self._sync_task is not None:
            return
        since = client.next_batch or client.loaded_sync_token
        self._batch.clear()
        resp = await client.sync(timeout=0, full_state=True, sync_filter=SYNC_FILTER)
        if not isinstance(resp, SyncResponse):
            raise BotError(f"first sync failed: {getattr(resp, 'status_code', '?')}")
        await self._after_sync(resp, since)
        await self._try_identity(password)
        self._sync_task = asyncio.create_task(self._sync_loop(), name=f"sync {self.user_id}")

    async def close(self) -> None:
        """Stop syncing and close the HTTP session. The store and login stay on disk."""
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.client is not None:
            await self.client.close()
            self.client = None
            self._keys = None

    async def __aenter__(self) -> ChapterBot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _need_client(self) -> AsyncClient:
        if self.client is None:
            raise BotError("not logged in")
        return self.client

    async def _sync_loop(self) -> None:
        client = self._need_client()
        delay = 0.2
        failing = False
        while True:
            try:
                since = client.next_batch
                self._batch.clear()
                resp = await client.sync(timeout=self.sync_timeout_ms, sync_filter=SYNC_FILTER)
                if isinstance(resp, SyncResponse):
                    await self._after_sync(resp, since)
                    if failing:
                        log.warning("sync recovered")
                    delay, failing = 0.2, False
                    continue
                cause = f"HTTP {getattr(resp, 'status_code', '?')}"
            except asyncio.CancelledError:
                raise
            except Exception as e:  # connection refused, reset, timeout, ...
                cause = type(e).__name__
            self._count("sync_errors")
            # Warn once per outage; the retries stay quiet.
            log.log(logging.DEBUG if failing else logging.WARNING, "sync failed: %s", cause)
            failing = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)

    async def _after_sync(self, resp: SyncResponse, since: str | None) -> None:
        """Hand over the sync's events (gaps filled first), then what nio's
        sync_forever does between syncs, then trust on first use."""
        client = self._need_client()
        gaps = await self._fill_gaps(resp, since)
        batch, self._batch = self._batch, []
        for room_id, event in [*gaps, *batch]:
            await self._dispatch(room_id, event)
        for room_id in resp.rooms.leave:
            # nio keeps a room this bot left or was removed from as if it were still in it
            # (a restart forgets it): forget it now, so nothing is sent or waited for there.
            if room_id not in resp.rooms.join:
                client.rooms.pop(room_id, None)
                if room_id not in resp.rooms.invite:  # invited again in the same sync: keep it
                    client.invited_rooms.pop(room_id, None)
        await client.send_to_device_messages()
        keys = self._key_upkeep()
        keys.take_count(resp.device_key_count.signed_curve25519)
        if client.should_upload_keys:
            refill = keys.server_count == 0 and client.olm is not None and client.olm.account.shared
            await client.keys_upload()
            if refill:
                self._count("one_time_key_refills")
                log.info("one-time keys ran out: refilled")
        if await keys.publish_fallback(self._request):
            self._count("fallback_keys_published")
        due = self._identity_retry_at
        if due is not None and time.monotonic() >= due:
            await self._try_identity()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        self._trust_on_first_use()
        async with self._synced:
            self._sync_count += 1
            self._synced.notify_all()

    async def _fill_gaps(self, resp: SyncResponse, since: str | None) -> list[tuple[str, Any]]:
        """The events a "limited" sync left out, oldest first (none on the very first sync).

        When more events arrived in a room than the sync's timeline limit,
        Synapse sends only the latest ones; nio does not fetch the rest. They
        are fetched here, back from the timeline's prev_batch to the previous
        sync's token, so no alert is skipped after a busy spell or a restart.
        """
        client = self._need_client()
        found: list[tuple[str, Any]] = []
        if since is None:
            return found
        for room_id, info in resp.rooms.join.items():
            if not info.timeline.limited or not info.timeline.prev_batch:
                continue
            events: list[Any] = []
            start: str | None = info.timeline.prev_batch
            for _ in range(GAP_PAGES):
                try:
                    page = await client.room_messages(
                        room_id, start, end=since, direction=MessageDirection.back, limit=GAP_PAGE
                    )
                except Exception as e:  # nio fails on some error answers (AttributeError)
                    page = e
                if not isinstance(page, RoomMessagesResponse):
                    self._count("gap_fill_errors")
                    log.warning("could not fetch missed events in %s", room_id)
                    break
                events.extend(page.chunk)
                if not page.chunk or not page.end or page.end == start:
                    break
                start = page.end
            else:
                self._count("gap_fill_errors")
                log.warning("too many missed events in %s: the oldest are skipped", room_id)
            found.extend((room_id, e) for e in reversed(events))
        return found

    # -- keys and identity -----------------------------------------------------

    def _key_upkeep(self) -> KeyUpkeep:
        client = self._need_client()
        if self._keys is None:
            assert client.olm is not None and client.device_id
            self._keys = KeyUpkeep(client.olm, self.user_id, client.device_id)
        return self._keys

    async def _request(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST a JSON body to the client API with the bot's token: (status, JSON answer)."""
        client = self._need_client()
        headers = {
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        }
        resp = await client.send("POST", path, json.dumps(body), headers, timeout=30)
        try:
            data = await resp.json(content_type=None)
        except ValueError:
            data = None
        finally:
            resp.release()
        return resp.status, data if isinstance(data, dict) else {}

    async def one_time_key_count(self) -> int:
        """How many of this device's one-time keys the homeserver holds now."""
        status, data = await self._request(KEYS_UPLOAD, {})
        if status != 200:
            raise BotError(f"cannot read the one-time key count: HTTP {status}")
        return int((data.get("one_time_key_counts") or {}).get(KEY_ALGORITHM, 0))

    async def ensure_identity(self, password: str | None = None) -> IdentityStatus:
        """Set up or check the bot's cross-signing identity and sign this device.

        Raises CrossSigningError (PasswordNeeded: the homeserver holds another
        identity; only the bot's password can replace it).
        """
        client = self._need_client()
        if client.olm is None or client.device_id is None:
            raise CrossSigningError("the bot has no encryption keys")
        state = await ensure_identity(
            self._request,
            self.data_dir,
            self.user_id,
            client.device_id,
            dict(client.olm.account.identity_keys),
            password=password,
        )
        self.identity, self.identity_error, self._identity_retry_at = state, None, None
        return state

    async def _try_identity(self, password: str | None = None) -> None:
        """ensure_identity at start; a failure is logged and (unless only a password
        can fix it) tried again after a later sync. The bot runs meanwhile."""
        try:
            await self.ensure_identity(password)
        except PasswordNeeded as e:
            self.identity_error, self._identity_retry_at = str(e), None
            log.error("cross-signing: %s", e)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError, OSError) as e:
            cause = str(e) if isinstance(e, CrossSigningError) else type(e).__name__
            self.identity_error = cause
            self._identity_retry_at = time.monotonic() + IDENTITY_RETRY_S
            log.warning("cross-signing not done yet: %s", cause)

    @property
    def sync_count(self) -> int:
        """Successful syncs so far (wait for a higher one to know the homeserver answers)."""
        return self._sync_count

    def _trust_on_first_use(self, room_ids: Collection[str] | None = None) -> int:
        client = self._need_client()
        if client.olm is None:
            return 0
        trusted = 0
        rooms = client.rooms.values() if room_ids is None else [client.rooms[r] for r in room_ids]
        for room in rooms:
            for user_id in room.users:
                for device in client.device_store.active_user_devices(user_id):
                    if device.device_id == client.device_id and user_id == client.user_id:
                        continue
                    if not device.verified and not device.blacklisted:
                        client.verify_device(device)
                        trusted += 1
        if trusted:
            self._count("devices_trusted", trusted)
            log.info("trusted %d new device(s) on first use", trusted)
        return trusted

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (bounded) until `predicate()` holds after some sync; TimeoutError if not."""

        async def _wait() -> None:
            async with self._synced:
                await self._synced.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)

    # -- rooms --------------------------------------------------------------

    async def create_room(
        self,
        *,
        name: str | None = None,
        topic: str | None = None,
        invite: Sequence[str] = (),
        retention_ms: int | None = None,
        timeout: float = 15.0,
    ) -> str:
        """An encrypted, invite-only room; returns its id once the bot has synced it.

        Name and topic are stored in clear by every homeserver in the room:
        callers pass neutral ones.
        """
        client = self._need_client()
        if self._sync_task is None:
            raise BotError("start() the bot first")
        state: list[dict[str, Any]] = [
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            },
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": "joined"},
            },
            {
                "type": "m.room.guest_access",
                "state_key": "",
                "content": {"guest_access": "forbidden"},
            },
        ]
        if retention_ms is not None:
            state.append(
                {
                    "type": "m.room.retention",
                    "state_key": "",
                    "content": {"max_lifetime": int(retention_ms)},
                }
            )
        resp = await asyncio.wait_for(
            client.room_create(
                visibility=RoomVisibility.private,
                name=name,
                topic=topic,
                preset=RoomPreset.private_chat,
                invite=list(invite),
                initial_state=state,
            ),
            timeout,
        )
        if isinstance(resp, RoomCreateError):
            raise BotError(f"room creation failed: {resp.status_code}")
        room_id: str = resp.room_id
        await self.wait_until(lambda: self._room_ready(room_id), timeout)
        log.info("created room %s", room_id)
        return room_id

    def _room_ready(self, room_id: str) -> bool:
        assert self.client is not None
        room = self.client.rooms.get(room_id)
        return room is not None and room.encrypted

    async def invite(self, room_id: str, user_id: str, timeout: float = 15.0) -> None:
        client = self._need_client()
        resp = await asyncio.wait_for(client.room_invite(room_id, user_id), timeout)
        if isinstance(resp, RoomInviteError):
            raise BotError(f"invite failed: {resp.status_code}")

    async def join(self, room_id: str, timeout: float = 30.0) -> None:
        """Join a room we were invited to; returns once it is synced and encrypted."""
        client = self._need_client()
        resp = await asyncio.wait_for(client.join(room_id), timeout)
        if isinstance(resp, JoinError):
            raise BotError(f"join failed: {resp.status_code}")
        await self.wait_until(lambda: self._room_ready(room_id), timeout)
        log.info("joined room %s", room_id)

    async def wait_for_member(self, room_id: str, user_id: str, timeout: float = 15.0) -> None:
        """Wait until `user_id` is a joined member of the room (as this bot sees it)."""
        self._need_client()
        await self.wait_until(lambda: self.is_joined(room_id, user_id), timeout)

    async def refresh_members(
        self,
        room_id: str,
        timeout: float = 15.0,
        left_on_their_own: Callable[[str], Awaitable[None]] | None = None,
    ) -> int:
        """Take a room's membership as the homeserver has it now; returns how many members
        this bot saw otherwise (0 when its view was right).

        `left_on_their_own` is awaited, before any waiter wakes, for each member this
        corrects to a leave the member sent itself (not a kick): the sync that brings
        that leave may come later, and its room handlers with it.

        Over federation a bot's syncs can leave a member's join out of its view
        for good: seen once in the bench (issue 16, a region room that "did not
        form"), one bot held a member of the other homeserver as invited while
        the room's state, that member and every other bot had it joined; how
        the sync missed it is not established (the first member of a server
        joins with partial state: the likely place). Read again here from the
        room's current state (retried if a sync lands meanwhile, as that sync
        may be newer); waiters (wait_until) re-check after a correction. A
        correction may also be a membership the syncs have not brought yet.
        """
        client = self._need_client()
        for _ in range(3):
            if room_id not in client.rooms:
                return 0
            before = client.next_batch  # changes as nio takes in a sync
            resp = await asyncio.wait_for(client.room_get_state(room_id), timeout)
            if not isinstance(resp, RoomGetStateResponse):
                raise BotError(f"cannot read the room's state: {getattr(resp, 'status_code', '?')}")
            if client.next_batch == before:
                break
        room = client.rooms.get(room_id)
        if room is None:
            return 0
        server: dict[str, tuple[str, dict[str, Any]]] = {}
        self_left: set[str] = set()
        for event in resp.events:
            content = event.get("content") if isinstance(event, dict) else None
            if event.get("type") == "m.room.member" and isinstance(content, dict):
                user_id = str(event.get("state_key"))
                server[user_id] = (str(content.get("membership")), content)
                if content.get("membership") == "leave" and event.get("sender") == user_id:
                    self_left.add(user_id)
        fixed = 0
        corrected_leaves: list[str] = []
        for user_id in set(room.users) | set(server):
            membership, content = server.get(user_id, ("leave", {}))
            member = room.users.get(user_id)
            if membership in ("join", "invite"):
                invited = membership == "invite"
                if member is None:
                    room.add_member(
                        user_id, content.get("displayname"), content.get("avatar_url"), invited
                    )
                elif member.invited != invited:
                    member.invited = invited
                    if invited:
                        room.invited_users[user_id] = member
                    else:
                        room.invited_users.pop(user_id, None)
                else:
                    continue
            elif member is not None or user_id in room.invited_users:
                room.remove_member(user_id)
                if user_id in self_left:
                    corrected_leaves.append(user_id)
            else:
                continue
            fixed += 1
        if fixed:
            self._count("membership_corrections", fixed)
            log.info("a room's membership read from the homeserver: %d member(s) corrected", fixed)
            if room.encrypted and client.olm is not None:
                client.olm.update_tracked_users(room)
            if left_on_their_own is not None:
                for user_id in sorted(corrected_leaves):
                    await left_on_their_own(user_id)
            async with self._synced:
                self._synced.notify_all()
        return fixed

    def is_joined(self, room_id: str, user_id: str) -> bool:
        """Whether `user_id` is a joined (not merely invited) member, as this bot sees it."""
        room = self.client.rooms.get(room_id) if self.client else None
        member = room.users.get(user_id) if room is not None else None
        return member is not None and not member.invited

    def joined_members(self, room_id: str) -> set[str]:
        """Every joined (not merely invited) member of a room, as this bot sees it."""
        room = self.client.rooms.get(room_id) if self.client else None
        if room is None:
            return set()
        return {user for user, member in room.users.items() if not member.invited}

    def readers(self, room_id: str) -> set[str]:
        """Every member a message sent there is encrypted for: joined and invited (nio
        shares a room's keys with invited members too), as this bot sees it."""
        room = self.client.rooms.get(room_id) if self.client else None
        return set() if room is None else set(room.users)

    def invited_by(self, room_id: str) -> str | None:
        """Who invited this bot to `room_id` (a pending invite), or None."""
        room = self._need_client().invited_rooms.get(room_id)
        return None if room is None else room.inviter

    def invite_name(self, room_id: str) -> str | None:
        """The name of a room this bot is invited to (from the invite's state), or None."""
        room = self._need_client().invited_rooms.get(room_id)
        return None if room is None else room.name

    def pending_invites(self) -> dict[str, str | None]:
        """room id -> inviter of every invite this bot has not answered."""
        return {r.room_id: r.inviter for r in self._need_client().invited_rooms.values()}

    def power_level(self, room_id: str, user_id: str) -> int:
        """`user_id`'s power level in a room, as this bot last synced it (0 if unknown).

        Not for deciding what someone may do: nio merges each new power-levels
        event into the old users map, so a user taken off it keeps the old
        level here until a restart. Use current_power_level().
        """
        room = self.client.rooms.get(room_id) if self.client else None
        return room.power_levels.get_user_level(user_id) if room is not None else 0

    async def _power_levels(self, room_id: str, timeout: float) -> dict[str, Any]:
        client = self._need_client()
        resp = await asyncio.wait_for(
            client.room_get_state_event(room_id, "m.room.power_levels"), timeout
        )
        content = getattr(resp, "content", None)
        if not isinstance(content, dict):
            raise BotError(f"cannot read power levels: {getattr(resp, 'status_code', '?')}")
        return content

    async def current_power_level(self, room_id: str, user_id: str, timeout: float = 10.0) -> int:
        """`user_id`'s power level as the homeserver has it now (BotError if it cannot say)."""
        content = await self._power_levels(room_id, timeout)
        users = content.get("users")
        level = users.get(user_id) if isinstance(users, dict) else None
        if level is None:
            level = content.get("users_default", 0)
        try:
            return int(level)
        except (TypeError, ValueError):
            return 0

    async def set_power_levels(
        self,
        room_id: str,
        users: dict[str, int],
        timeout: float = 15.0,
        *,
        only_these_from: int | None = None,
    ) -> bool:
        """Raise (never lower) these users' power levels in a room; True if it changed.

        With only_these_from=N, anyone else at level N or above (except this
        bot) goes back to the room's default: `users` are then the only ones there.
        """
        client = self._need_client()
        content = await self._power_levels(room_id, timeout)
        levels = dict(content.get("users") or {})
        changed = {u: n for u, n in users.items() if int(levels.get(u, 0)) < n}
        demoted = set()
        if only_these_from is not None:
            demoted = {
                u
                for u, n in levels.items()
                if int(n) >= only_these_from and u not in users and u != self.user_id
            }
        if not changed and not demoted:
            return False
        kept = {u: n for u, n in levels.items() if u not in demoted}
        content = {**content, "users": {**kept, **changed}}
        put = await asyncio.wait_for(
            client.room_put_state(room_id, "m.room.power_levels", content), timeout
        )
        if not isinstance(put, RoomPutStateResponse):
            raise BotError(f"cannot set power levels: {getattr(put, 'status_code', '?')}")
        return True

    async def redact(self, room_id: str, event_id: str, timeout: float = 15.0) -> None:
        """Redact an event (the bot needs the room's redact power: it has it in rooms it made)."""
        client = self._need_client()
        resp = await asyncio.wait_for(client.room_redact(room_id, event_id), timeout)
        if not isinstance(resp, RoomRedactResponse):
            raise BotError(f"redaction failed: {getattr(resp, 'status_code', '?')}")

    async def kick(self, room_id: str, user_id: str, timeout: float = 15.0) -> None:
        """Remove a member (or withdraw an invite); the bot needs the room's kick power."""
        client = self._need_client()
        resp = await asyncio.wait_for(client.room_kick(room_id, user_id), timeout)
        if not isinstance(resp, RoomKickResponse):
            raise BotError(f"removal failed: {getattr(resp, 'status_code', '?')}")

    async def leave(self, room_id: str, timeout: float = 15.0) -> None:
        client = self._need_client()
        resp = await asyncio.wait_for(client.room_leave(room_id), timeout)
        if not isinstance(resp, RoomLeaveResponse):
            raise BotError(f"leave failed: {getattr(resp, 'status_code', '?')}")
        log.info("left room %s", room_id)

    # -- sending ------------------------------------------------------------

    async def send_alert(
        self,
        room_id: str,
        content: dict[str, Any],
        event_type: str = ALERT_EVENT_TYPE,
        *,
        txn_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Send one encrypted timeline event; returns its event id.

        Raises SendFailed when the room is unknown or not encrypted, the
        homeserver refuses, cannot be reached, or does not answer within
        `timeout` (default: send_timeout). Pass a stable `txn_id` (e.g.
        alert id and seq) so a retry after an unclear failure is not stored twice.
        """
        client = self._need_client()
        room = client.rooms.get(room_id)
        if room is None:
            raise SendFailed("unknown room")
        if not room.encrypted:
            raise SendFailed("room is not encrypted: refusing to send")
        # One send at a time per room (its events keep their order); rooms run concurrently.
        async with self._send_locks.setdefault(room_id, asyncio.Lock()):
            try:
                event_id = await asyncio.wait_for(
                    self._send(room_id, event_type, content, txn_id),
                    self.send_timeout if timeout is None else timeout,
                )
            except (SendFailed, asyncio.CancelledError):
                self._after_failed_send(room_id)
                raise
            except Exception as e:  # TimeoutError, connection errors, nio errors
                self._after_failed_send(room_id)
                raise SendFailed(f"send failed: {type(e).__name__}") from e
        self._count("sent")
        log.info("sent %s event %s", event_type, event_id)
        return event_id

    async def new_session(self, room_id: str) -> None:
        """Start a new megolm session in a room at its next send (between two sends there).

        nio does not always share its current session with a member who joins
        while it is in use; a new one is shared with every member's device.
        """
        client = self._need_client()
        async with self._send_locks.setdefault(room_id, asyncio.Lock()):
            if client.olm is not None:
                client.olm.outbound_group_sessions.pop(room_id, None)

    async def _send(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str | None
    ) -> str:
        client = self._need_client()
        room = client.rooms.get(room_id)
        if room is None:  # left (or removed) while this send waited for the room's lock
            raise SendFailed("unknown room")
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        self._trust_on_first_use([room_id])
        for attempt in range(2):
            try:
                resp = await client.room_send(room_id, event_type, dict(content), tx_id=txn_id)
                break
            except OlmUnverifiedDeviceError:
                # A device appeared between our trust pass and the key share.
                if attempt:
                    raise
                if client.should_query_keys:
                    await client.keys_query()
                self._trust_on_first_use([room_id])
        if isinstance(resp, RoomSendError):
            raise SendFailed(f"homeserver refused: {resp.status_code}")
        return resp.event_id

    def _after_failed_send(self, room_id: str) -> None:
        """Leave nio in a state where the next send works and is decryptable.

        nio marks a megolm session as shared even when sending its keys
        failed, and leaves a "sharing" marker behind if cancelled midway, so
        a later send could wait forever or reach members who cannot decrypt
        it. Dropping the outbound session makes the next send share a fresh one.
        """
        self._count("send_failures")
        client = self.client
        if client is None:
            return
        marker = client.sharing_session.pop(room_id, None)
        if marker is not None:
            marker.set()
        if client.olm is not None:
            client.olm.outbound_group_sessions.pop(room_id, None)

    # -- receiving ----------------------------------------------------------

    async def _on_event(self, room: MatrixRoom, event: Any) -> None:
        # Runs inside nio's sync: kept, and handed over once the sync's gaps are filled.
        self._batch.append((room.room_id, event))

    async def _dispatch(self, room_id: str, event: Any) -> None:
        client = self.client
        if client is None or getattr(event, "sender", None) == client.user_id:
            return
        if isinstance(event, MegolmEvent):
            self._count("undecryptable")
            log.warning("undecryptable event %s in %s", event.event_id, room_id)
            if self.on_undecryptable is not None:
                try:
                    result = self.on_undecryptable(room_id, event.sender)
                    if inspect.isawaitable(result):
                        await result
                except Exception as e:
                    self._count("handler_errors")
                    log.error("on_undecryptable failed: %s", type(e).__name__)
            return
        handlers = [h for types, h in self._room_handlers if isinstance(event, types)]
        for handler in handlers:
            try:
                result = handler(room_id, event)
                if inspect.isawaitable(result):
                    await result
            except Exception as e:
                self._count("handler_errors")
                log.error("room handler failed: %s", type(e).__name__)
        if handlers:
            return
        if not isinstance(event, UnknownEvent):
            return  # membership, messages, ... (gap fills return every kind)
        event_type = getattr(event, "type", None)
        if event_type not in self.event_types:
            self._count("ignored")
            return
        if not event.decrypted:
            # A plain event in an encrypted room: anyone the homeserver lets in
            # could have written it. Alerts only ever travel encrypted.
            self._count("unencrypted_dropped")
            log.warning("dropped unencrypted %s event %s", event_type, event.event_id)
            return
        content = event.source.get("content")
        if not isinstance(content, dict):
            self._count("unencrypted_dropped")
            return
        self._count("received")
        log.debug("received %s event %s", event_type, event.event_id)
        if self.on_alert is None:
            return
        try:
            result = self.on_alert(room_id, event.sender, event_type, content)
            if inspect.isawaitable(result):
                await result
        except Exception as e:
            self._count("handler_errors")
            log.error("on_alert failed for event %s: %s", event.event_id, type(e).__name__)

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        client = self.client
        if client is None or event.state_key != client.user_id or event.membership != "invite":
            return
        if self.on_invite is not None:
            # The handler must not wait for a sync: it runs inside one.
            try:
                result = self.on_invite(room.room_id, event.sender)
                if inspect.isawaitable(result):
                    await result
            except Exception as e:
                self._count("handler_errors")
                log.error("on_invite failed: %s", type(e).__name__)
            return
        if event.sender not in self.accept_invites_from:
            return
        log.info("accepting invite to %s", room.room_id)
        resp = await client.join(room.room_id)
        if isinstance(resp, JoinError):
            log.warning("auto-join of %s failed: %s", room.room_id, resp.status_code)
