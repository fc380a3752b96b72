"""Debunk and archive, held back for a short window so that a moderator can undo them.

A debunk or archive from the moderators' pages (one report, a batch, or a
report and its near-copies) is not applied at once: it waits here, in memory,
for UNDO_WINDOW_S, and the queue says "Debunked: 5 — Undo". Undo drops it;
otherwise it is applied through the node (Node.moderate_many) when the window
ends. Why held back rather than applied and reverted: a verdict has effects
outside the node the moment it commits (an all-clear to responders, an alert
withdrawn at neighbouring chapters), which no undo could call back.

Rules kept here: nothing is written to disk (a node that stops applies what
is held, see flush(); one that crashes forgets it, and the reports are simply
still in the queue); the token names a held action, never a moderator; a
later decision on the same report replaces the held one (forget()).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Long enough to read "Debunked: 5 — Undo" and press it; short enough that the public map
# is wrong for at most one of its polls (30 s).
UNDO_WINDOW_S = 30.0

Apply = Callable[[list[str], str], Awaitable[object]]


@dataclass
class Held:
    action: str  # "debunk" or "archive"
    ids: list[str]
    handle: asyncio.TimerHandle | None = None
    applied: asyncio.Event = field(default_factory=asyncio.Event)


class HeldVerdicts:
    """Debunks and archives waiting for their undo window to end."""

    def __init__(self, apply: Apply, window_s: float = UNDO_WINDOW_S) -> None:
        self._apply = apply
        self.window_s = window_s
        self._held: dict[str, Held] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def hold(self, ids: Sequence[str], action: str) -> str:
        """Hold `action` on these reports; the token that undoes it."""
        self.forget(ids)
        token = secrets.token_urlsafe(16)
        held = Held(action, list(dict.fromkeys(ids)))
        self._held[token] = held
        loop = asyncio.get_running_loop()
        held.handle = loop.call_later(self.window_s, self._due, token)
        return token

    def _due(self, token: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, token: str) -> None:
        held = self._held.pop(token, None)
        if held is None:
            return
        try:
            await self._apply(held.ids, held.action)
        except Exception as exc:  # the reports stay in the queue; nothing else is lost
            log.error("held %s not applied: %s", held.action, type(exc).__name__)
        finally:
            held.applied.set()

    def undo(self, token: str) -> tuple[str, int] | None:
        """Drop a held action: (its action, how many reports), None when it is no longer held."""
        held = self._held.pop(token, None)
        if held is None:
            return None
        if held.handle is not None:
            held.handle.cancel()
        return held.action, len(held.ids)

    def forget(self, ids: Sequence[str]) -> None:
        """A new decision on these reports replaces what was held for them."""
        wanted = set(ids)
        for token, held in list(self._held.items()):
            held.ids = [i for i in held.ids if i not in wanted]
            if not held.ids:
                self.undo(token)

    def is_held(self, token: str) -> bool:
        return token in self._held

    def held_ids(self) -> set[str]:
        """Reports with a held verdict (the queue does not show them)."""
        return {i for held in self._held.values() for i in held.ids}

    async def wait_applied(self, token: str) -> None:
        """Until the action held under `token` was applied (tests; returns if it is not held)."""
        held = self._held.get(token)
        if held is not None:
            await held.applied.wait()

    async def flush(self) -> None:
        """Apply everything held now (the node is stopping)."""
        for token in list(self._held):
            held = self._held[token]
            if held.handle is not None:
                held.handle.cancel()
            await self._run(token)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
