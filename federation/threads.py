"""Matrix relations of room messages: reading a message's thread or edit, building threaded replies.

The member room and the responders room answer in threads (m.thread, with
the reply fallback for clients without threads) and ignore edits
(m.replace): an edit is a second copy of a message already handled.
"""

from __future__ import annotations

from typing import Any


def _relation(event: Any) -> dict[str, Any]:
    content = getattr(event, "source", {}).get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    return relates if isinstance(relates, dict) else {}


def thread_root(event: Any) -> str | None:
    """The event id of the thread `event` is in (None: not in a thread)."""
    relates = _relation(event)
    root = relates.get("event_id")
    return root if relates.get("rel_type") == "m.thread" and isinstance(root, str) else None


def is_edit(event: Any) -> bool:
    """Whether `event` edits an earlier message (m.replace)."""
    return _relation(event).get("rel_type") == "m.replace"


def in_thread(content: dict[str, Any], root: str, in_reply_to: str | None = None) -> dict[str, Any]:
    """`content` placed in the thread of `root`, replying to `in_reply_to` (default: the root)."""
    return {
        **content,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": in_reply_to or root},
        },
    }
