"""Keys that cannot run out: one-time keys refilled at zero, a fallback key published and rotated.

A new device starts an Olm session with the bot by claiming one of its
one-time keys. Anyone on the homeserver can claim all of them; matrix-nio
0.26 then never refills (it only takes the server's count when it is
truthy, so a count of 0 is never seen) and uploads no fallback key, so the
bot was cut off from every new device. Here, after each sync:

- the server's one-time-key count is taken as it is, 0 included, so nio's
  own upload refills the pool to its maximum;
- a fallback key (vodozemac's) is published at start, and a new one after
  every sync that finds the pool empty: the homeserver hands the fallback
  key out only when no one-time key is left, and only the bot can add keys,
  so every use of it is followed by a sync that sees 0. vodozemac keeps the
  previous fallback key, so sessions begun with it still open.

It reaches into nio's Olm machine (the vodozemac account and the key
count): matrix-nio is pinned below 0.27 for that, and tests/element and
tests/federation/test_keys.py fail if nio changes underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("vecinos.federation.keys")

KEYS_UPLOAD = "/_matrix/client/v3/keys/upload"
KEY_ALGORITHM = "signed_curve25519"

Request = Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


class KeyUpkeep:
    """One bot's one-time and fallback keys. Call `after_sync` after each sync."""

    def __init__(self, olm: Any, user_id: str, device_id: str) -> None:
        self.olm = olm  # nio's Olm machine
        self.user_id = user_id
        self.device_id = device_id
        self.fallback_due = True  # publish one at start
        self.fallback_published = 0
        self.server_count: int | None = None

    @property
    def _account(self) -> Any:
        return self.olm.account._account  # the vodozemac Account under nio's wrapper

    def take_count(self, count: int | None) -> None:
        """The server's count of our one-time keys from a sync (None: not told)."""
        if count is None:
            return
        self.server_count = count
        if not self.olm.account.shared:
            return  # nio uploads the device keys and a full pool first
        self.olm.uploaded_key_count = count
        if count == 0:
            self.fallback_due = True  # the fallback key may have been handed out

    async def publish_fallback(self, request: Request) -> bool:
        """Upload a new fallback key if one is due; True if one was published."""
        if not self.fallback_due or not self.olm.account.shared:
            return False
        account = self._account
        account.generate_fallback_key()
        body: dict[str, Any] = {
            "fallback_keys": self._signed(account.fallback_key, fallback=True),
            # Marking the fallback key published marks these too: send them along.
            "one_time_keys": self._signed(account.one_time_keys),
        }
        status, _ = await request(KEYS_UPLOAD, body)
        if status != 200:
            # The unpublished key stays unused; the next attempt makes another.
            log.warning("fallback key upload refused (HTTP %s)", status)
            return False
        account.mark_keys_as_published()
        self.olm.save_account()
        self.fallback_due = False
        self.fallback_published += 1
        log.info("published a fallback key")
        return True

    def _signed(self, keys: dict[str, Any], *, fallback: bool = False) -> dict[str, Any]:
        signed = {}
        for key_id, key in keys.items():
            obj: dict[str, Any] = {"key": key.to_base64()}
            if fallback:
                obj["fallback"] = True
            signature = self.olm.sign_json(obj)
            obj["signatures"] = {self.user_id: {f"ed25519:{self.device_id}": signature}}
            signed[f"{KEY_ALGORITHM}:{key_id}"] = obj
        return signed
