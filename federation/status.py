"""`vecinos status`: the chapter's node and federation health in a few lines, for its operator.

The node's part (running or not, web address, queues, last purge) is
node.status's, with or without Matrix. Then, when Matrix is set up:
read-only, and safe while the node runs, it asks the homeserver (versions,
whoami, the published device keys and cross-signing keys, the count of
one-time keys) with the bot's stored access token, reads device trust from
the bot's crypto store, and takes every count from the node's counters (kept
by the running node: sent, received, relayed, undecryptable, rejected by
reason). It never prints an alert or a private key: of the bot's identity,
only the master key's public fingerprint, the one members check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from federation.bot import CREDENTIALS_FILE, STORE_DIR
from federation.cross_signing import (
    IDENTITY_FILE,
    CrossSigningError,
    CrossSigningKeys,
    fingerprint,
    identity_status,
)
from federation.device_keys import KEY_ALGORITHM, KEYS_UPLOAD
from federation.state import MATRIX_DIR, load_rooms
from node.outcome import Neighbour
from node.service import open_node
from node.status import node_lines

TIMEOUT = aiohttp.ClientTimeout(total=5)


async def _get(http: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def _post(http: aiohttp.ClientSession, url: str, token: str, body: Any) -> Any:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        data = await resp.json(content_type=None)
        return data if resp.status == 200 and isinstance(data, dict) else {}


async def _keys(http: aiohttp.ClientSession, url: str, token: str, users: list[str]) -> Any:
    body = {"device_keys": {u: [] for u in users}}
    return await _post(http, f"{url}/_matrix/client/v3/keys/query", token, body)


def _identity_lines(
    mdir: Path, user: str, device: str, query: dict[str, Any] | None, otks: int | None
) -> list[str]:
    """The bot's cross-signing identity: saved, published, and its device signed by it."""
    try:
        keys = CrossSigningKeys.load(mdir, user)
    except CrossSigningError as exc:
        return [f"identity: {exc}"]
    if keys is None:
        return [f"identity: none saved in {mdir / IDENTITY_FILE} (the node makes one at start)"]
    lines = [f"identity: master key {fingerprint(keys.master_public)} (members check this)"]
    if query is None:
        lines.append("  published: unknown (homeserver unreachable)")
        return lines
    state = identity_status(query, user, device, keys)
    if state.ours:
        published = "yes"
    elif state.master is None:
        published = "NO (the node publishes it at its next start)"
    else:
        published = (
            f"NO: the homeserver holds ANOTHER identity ({fingerprint(state.master)}); "
            "see docs/federation.md"
        )
    signed = "yes" if state.ours and state.device_signed else "NO"
    lines.append(f"  published: {published}; device {device} signed by it: {signed}")
    if state.device_key:
        lines.append(f"  device {device} session key: {fingerprint(state.device_key)}")
    if otks is not None:
        lines.append(f"  one-time keys on the homeserver: {otks} (refilled when they run out)")
    return lines


def _trust(creds: dict[str, Any], store_dir: Path, neighbours: list[Neighbour]) -> list[str]:
    """Per neighbour bot: its devices we know and how many we trust (on first use)."""
    from nio.crypto import TrustState
    from nio.store import DefaultStore

    store = DefaultStore(
        creds["user_id"], creds["device_id"], str(store_dir), creds.get("pickle_key", "")
    )
    try:
        devices = store.load_device_keys()
    finally:
        store.database.close()
    lines = []
    for n in neighbours:
        known = list(devices.active_user_devices(n.bot_user_id))
        trusted = sum(d.trust_state == TrustState.verified for d in known)
        blocked = sum(d.trust_state == TrustState.blacklisted for d in known)
        extra = f", {blocked} blacklisted" if blocked else ""
        lines.append(
            f"    {n.chapter_id}: {trusted} of {len(known)} device(s) trusted on first use{extra}"
        )
    return lines


async def _matrix_lines(data_dir: Path, homeserver: str, neighbours: list[Neighbour]) -> list[str]:
    lines: list[str] = []
    mdir = data_dir / MATRIX_DIR
    try:
        creds = json.loads((mdir / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        creds = None
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        try:
            status, data = await _get(http, f"{homeserver}/_matrix/client/versions")
            versions = data.get("versions", []) if isinstance(data, dict) else []
            ok = status == 200 and versions
            reach = f"reachable ({versions[-1]})" if ok else f"HTTP {status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reach = f"UNREACHABLE ({type(exc).__name__})"
        lines.append(f"homeserver: {homeserver} {reach}")
        if creds is None:
            lines.append("bot: no login yet: run `vecinos matrix setup`")
            return lines
        user, device, token = creds["user_id"], creds["device_id"], creds["access_token"]
        login = "unknown (homeserver unreachable)"
        published = "unknown"
        query: dict[str, Any] | None = None
        otks: int | None = None
        if reach.startswith("reachable"):
            try:
                status, data = await _get(
                    http, f"{homeserver}/_matrix/client/v3/account/whoami", token
                )
                login = "valid" if status == 200 else f"REFUSED (HTTP {status})"
                query = await _keys(http, homeserver, token, [user])
                published = "yes" if device in query.get("device_keys", {}).get(user, {}) else "NO"
                counts = await _post(http, f"{homeserver}{KEYS_UPLOAD}", token, {})
                if "one_time_key_counts" in counts:
                    otks = int(counts["one_time_key_counts"].get(KEY_ALGORITHM, 0))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                login = f"unknown ({type(exc).__name__})"
    lines.append(f"bot: {user}, device {device}, login {login}, device keys published: {published}")
    lines += _identity_lines(mdir, user, device, query, otks)
    if neighbours:
        lines.append("  trust in neighbours' bots:")
        try:
            lines += _trust(creds, mdir / STORE_DIR, neighbours)
        except Exception as exc:
            lines.append(f"    unknown (crypto store unreadable: {type(exc).__name__})")
    return lines


async def status_lines(data_dir: Path) -> list[str]:
    node = await open_node(data_dir)
    try:
        lines = await node_lines(node)
        counters = await node.counters()
        neighbours = await node.neighbours()
    finally:
        await node.close()
    settings = node.matrix_settings()
    if not settings.homeserver:  # Matrix off (NodeConfig.matrix_enabled)
        lines.append("Matrix: off (run `vecinos matrix setup`; see docs/federation.md)")
        return lines
    lines += await _matrix_lines(data_dir, settings.homeserver, neighbours)
    rooms = load_rooms(data_dir)
    lines.append(
        f"rooms: member {rooms.member_room or '-'}, responders {rooms.responders_room or '-'}"
    )
    waiting = sum(1 for n in neighbours if not n.room_id)
    relay = "on" if settings.relay else "off"
    lines.append(
        f"neighbours: {len(neighbours)}"
        + (f" ({waiting} waiting for a room)" if waiting else "")
        + f"; relay {relay}"
    )
    c = counters.get
    lines.append(
        f"alerts: sent {c('alerts_sent', 0)}, received {c('alerts_received', 0)}, "
        f"relays received {c('relays_received', 0)}, relayed {c('alerts_relayed', 0)}"
    )
    lines.append(
        f"undecryptable events: {c('undecryptable', 0)}; send failures: {c('send_failures', 0)}"
        f"; room memberships read again and corrected: {c('membership_corrections', 0)}"
    )
    rejected = sorted(
        (k.removeprefix("rejected_"), v)
        for k, v in counters.items()
        if k.startswith("rejected_") and v
    )
    lines.append(
        "rejected: " + (", ".join(f"{k} {v}" for k, v in rejected) if rejected else "none")
    )
    return lines
