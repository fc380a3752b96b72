"""The node's facade: what every channel (web, Matrix bot, CLI) may call.

Rule: channels talk to the node only through Node; they never touch the
store, the keys or the scorer directly. Built by node.service.open_node().
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from node.outcome import AreaView, Outcome, PublicReport, QueueItem, RateLimited, ReportDraft, SourceRef
from scoring.model import FollowUpKind


class ModeratorAction(StrEnum):
    CONFIRM = "confirm"
    DEBUNK = "debunk"
    ARCHIVE = "archive"
    STILL_THERE = "still_there"
    GONE = "gone"


class Node:
    """One chapter's node. All methods are safe to call from the event loop."""

    async def submit(self, draft: ReportDraft, source: SourceRef) -> Outcome:
        """The one intake path: validate, moderate, score, store, flag, maybe alert."""
        raise NotImplementedError

    async def follow_up(
        self, report_id: str, kind: FollowUpKind, source: SourceRef
    ) -> PublicReport | RateLimited | None:
        """A "still there" / "gone" from a reporter; None when no such report."""
        raise NotImplementedError

    async def active_reports(self) -> list[PublicReport]:
        """Reports to show now: active ones, and debunks still visible as debunks."""
        raise NotImplementedError

    async def get_report(self, report_id: str) -> PublicReport | None:
        raise NotImplementedError

    def areas(self) -> list[AreaView]:
        raise NotImplementedError

    def highways(self) -> list[str]:
        raise NotImplementedError

    async def review_queue(self, limit: int = 200) -> list[QueueItem]:
        raise NotImplementedError

    async def moderate(self, report_id: str, action: ModeratorAction) -> PublicReport | None:
        """A moderator's decision; None when no such report."""
        raise NotImplementedError

    async def verify_moderator(self, name: str, password: str) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


async def open_node(data_dir: Path) -> Node:
    """Open an initialised data dir (see node.setup.init_chapter)."""
    raise NotImplementedError
