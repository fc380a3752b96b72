"""`vecinos status`, the node's part: running or not, where it serves, what waits, last purge.

Read-only and safe while the node runs (another process): "running" is the
flock `vecinos run` holds (node.running), the queues are counts from the
database, the last purge is an hour on the chapter's clock. The Matrix part
is federation.status's.
"""

from __future__ import annotations

from pathlib import Path

from node.running import running_node
from node.service import Node, open_node


async def node_lines(node: Node) -> list[str]:
    config = node.config
    lines = [f"chapter: {config.chapter_name} ({config.chapter_id})"]
    found = running_node(node.data_dir)
    if found is None:
        address = f"http://{config.get('web', 'host')}:{config.get('web', 'port')}/"
        lines.append(f"node: not running (`vecinos run` would serve {address})")
    else:
        pid = f" (pid {found.pid})" if found.pid else ""
        lines.append(f"node: running{pid}, serving {found.web or '(starting)'}")
    lines.append(f"time zone: {node.timezone}")
    sizes = await node.queue_sizes()
    lines.append(f"review queue: {sizes.pop('review')} report(s)")
    lines.append(f"outbox backlog: {sizes.pop('outbox')} (alert changes for the neighbours)")
    notices = {k.removeprefix("notices_"): v for k, v in sizes.items() if k.startswith("notices_")}
    detail = ", ".join(f"{name} {n}" for name, n in sorted(notices.items()))
    lines.append(
        f"responder notices waiting: {sum(notices.values())}" + (f" ({detail})" if detail else "")
    )
    if "push" in sizes:
        lines.append(f"Web Push queue: {sizes['push']}")
    last = await node.last_purge()
    lines.append(
        "last purge: " + (node.hour_text(last) if last else "never (`vecinos run` purges)")
    )
    return lines


async def status_lines(data_dir: Path) -> list[str]:
    """The whole status of a chapter without Matrix (federation.status's with it)."""
    node = await open_node(data_dir)
    try:
        lines = await node_lines(node)
    finally:
        await node.close()
    return [*lines, "Matrix: off (run `vecinos matrix setup`; see docs/federation.md)"]
